"""Builders shared by the lab's tests: a small estate in the database, a lab on free ports,
an ICMP probe, an SNTP query, net-snmp runs, and the clean-up of nftables tables."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from branchops.lab.estate import build, load
from branchops.lab.sim import inventory as inventory_module
from branchops.lab.sim.config import LabConfig
from branchops.lab.sim.inventory import Inventory
from branchops.lab.sim.lab import Lab
from branchops.lab.sim.model import SimDevice
from branchops.monitoring.models import SnmpCredential
from branchops.snmp import Community, SnmpClient, Target

T = TypeVar("T")

TODAY = dt.date(2026, 11, 22)
SEED = 7
COMMUNITY = "lab-secret"
NFT_TABLE = f"branchops_lab_test_{os.getpid()}"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
IF_OPER = "1.3.6.1.2.1.2.2.1.8"
IF_IN_OCTETS = "1.3.6.1.2.1.2.2.1.10"
IF_HC_IN_OCTETS = "1.3.6.1.2.1.31.1.1.1.6"
IF_ALIAS = "1.3.6.1.2.1.31.1.1.1.18"
HR_PROCESSOR_LOAD = "1.3.6.1.2.1.25.3.3.1.2"


class FakeClock:
    """Wall-clock seconds the test moves by hand."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def load_estate(*, branches: int = 3, port: int | None = None, v3: bool = False) -> Inventory:
    """Build and load a small estate, point the "default" credential at a free port, and
    read it back as the lab does."""
    load(build(branches, seed=SEED, today=TODAY))
    credential, _ = SnmpCredential.objects.get_or_create(name="default")
    credential.port = port or free_udp_port()
    if v3:
        credential.version = "3"
        credential.username = "labops"
        credential.auth_protocol = "sha"
        credential.priv_protocol = "aes"
        credential.set_secrets(auth_password="authpass123", priv_password="privpass123")
    else:
        credential.version = "2c"
        credential.set_secrets(community=COMMUNITY)
    credential.save()
    return inventory_module.from_database()


def config(**changes: Any) -> LabConfig:
    """Every service on a free port, a table of our own, no control file unless asked."""
    values: dict[str, Any] = {
        "node_exporter_port": 0,
        "tls_port": 0,
        "https_port": 0,
        "ntp_port": 0,
        "control_port": None,
        "nft_table": NFT_TABLE,
    }
    values.update(changes)
    return LabConfig(**values)


def target(lab: Lab, device: SimDevice, community: str = COMMUNITY) -> Target:
    return Target(device.address, lab.snmp_port, Community(community), timeout=1.0, retries=0)


def client() -> SnmpClient:
    return SnmpClient(timeout=1.0, retries=0)


def pick(lab: Lab, role: str, *, platform: str | None = None, site: str = "") -> SimDevice:
    """The first simulated device of a role (and platform, at a site whose code starts so)."""
    for device in lab.estate.live():
        spec = device.spec
        wanted = spec.role == role and (platform is None or spec.platform == platform)
        if wanted and spec.site.startswith(site):
            return device
    raise LookupError(f"no live {role} {platform or ''} at {site or 'any site'}")


def profile_cpu(device: SimDevice) -> str:
    """The OID of the device profile's CPU scalar (profiles change; tests read them)."""
    assert device.profile is not None
    return next(s.oid for s in device.profile.scalars if "cpu" in s.metric)


def tunnel_columns(device: SimDevice) -> tuple[str, str]:
    """The (name, state) column OIDs of the device profile's VPN tunnel table."""
    assert device.profile is not None
    table = device.profile.table_for("vpn_tunnels")
    assert table is not None
    name = next(c.oid for c in table.columns if c.label)
    state = next(c.oid for c in table.columns if c.simulate == "tunnel-state")
    return name, state


# ---- ICMP ------------------------------------------------------------------------------------


def can_ping() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def nft_works() -> bool:
    return can_ping() and shutil.which("nft") is not None


def remove_test_table() -> None:
    if shutil.which("nft"):
        subprocess.run(  # noqa: S603
            ["nft", "delete", "table", "inet", NFT_TABLE],  # noqa: S607
            capture_output=True,
            check=False,
        )


def table_exists() -> bool:
    done = subprocess.run(  # noqa: S603
        ["nft", "list", "table", "inet", NFT_TABLE],  # noqa: S607
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _checksum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ping(address: str, timeout: float = 1.0) -> float | None:
    """One echo request on a raw socket (root); the round trip in ms, or None."""
    ident, payload = os.getpid() & 0xFFFF, b"branchops-lab-test"
    header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, 1) + payload
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        sock.settimeout(0.1)
        started = time.monotonic()
        sock.sendto(packet, (address, 0))
        while time.monotonic() - started < timeout:
            try:
                data, source = sock.recvfrom(2048)
            except TimeoutError:
                continue
            offset = (data[0] & 0x0F) * 4
            kind, _, _, who, _ = struct.unpack("!BBHHH", data[offset : offset + 8])
            if source[0] == address and kind == 0 and who == ident:
                return (time.monotonic() - started) * 1000
    return None


async def ping_async(address: str, timeout: float = 1.0) -> float | None:
    return await asyncio.to_thread(ping, address, timeout)


# ---- SNTP and net-snmp -----------------------------------------------------------------------

NTP_EPOCH = 2_208_988_800  # seconds from 1900 to 1970


def sntp_offset(address: str, port: int, now: float) -> float | None:
    """The server's clock minus ``now`` (one SNTP request), or None without an answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.0)
        sock.sendto(b"\x23" + bytes(47), (address, port))
        try:
            data, _ = sock.recvfrom(512)
        except TimeoutError:
            return None
    seconds, fraction = struct.unpack("!II", data[40:48])
    return seconds - NTP_EPOCH + fraction / 2**32 - now


def netsnmp_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "SNMPCONFPATH": str(home),
        "SNMP_PERSISTENT_DIR": str(home / "persist"),
        "MIBS": "",
        "MIBDIRS": str(home),
    }


async def netsnmp(home: Path, tool: str, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        tool, "-On", "-t", "1", "-r", "0", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env=netsnmp_env(home),
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    return process.returncode or 0, out.decode(errors="replace")
