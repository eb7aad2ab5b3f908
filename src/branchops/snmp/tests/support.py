"""Builders shared by the SNMP tests: a small device MIB, users, ports, net-snmp tool runs."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from branchops.snmp import AuthProtocol, MibView, PrivProtocol, SnmpType, UsmUser

T = TypeVar("T")

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
IF_TABLE = "1.3.6.1.2.1.2.2"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_IN_OCTETS = "1.3.6.1.2.1.2.2.1.10"

LAB_USER = UsmUser("labops", AuthProtocol.SHA, "authpass123", PrivProtocol.AES, "privpass123")
LAB_USER_256 = UsmUser(
    "labops256", AuthProtocol.SHA256, "authpass256", PrivProtocol.AES256, "privpass256"
)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Drive one scenario on a fresh event loop (no pytest-asyncio needed)."""
    return asyncio.run(coroutine)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def device_view(
    name: str = "fw01", interfaces: int = 4, clock: Callable[[], float] | None = None
) -> MibView:
    """sysDescr, sysUpTime (moving), sysName and an ifTable with moving octet counters."""
    ticks = clock or (lambda: 0.0)
    objects: dict[str, tuple[SnmpType, Any]] = {
        SYS_DESCR: (SnmpType.OCTET_STRING, b"BranchOps lab firewall"),
        SYS_UPTIME: (SnmpType.TIMETICKS, lambda: int(ticks() * 100) & 0xFFFFFFFF),
        SYS_NAME: (SnmpType.OCTET_STRING, name.encode()),
    }
    for index in range(1, interfaces + 1):
        objects[f"1.3.6.1.2.1.2.2.1.1.{index}"] = (SnmpType.INTEGER, index)
        objects[f"{IF_DESCR}.{index}"] = (SnmpType.OCTET_STRING, f"eth{index}".encode())
        objects[f"1.3.6.1.2.1.2.2.1.8.{index}"] = (SnmpType.INTEGER, 1)
        objects[f"{IF_IN_OCTETS}.{index}"] = (
            SnmpType.COUNTER32,
            lambda i=index: int(ticks() * 1000 * i) & 0xFFFFFFFF,
        )
        objects[f"1.3.6.1.2.1.31.1.1.1.6.{index}"] = (SnmpType.COUNTER64, 2**40 + index)
    return MibView(objects)


def netsnmp_available() -> bool:
    return shutil.which("snmpget") is not None


def netsnmp_env(home: Path) -> dict[str, str]:
    """net-snmp tools without system configuration, MIB files or a shared state folder."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "SNMPCONFPATH": str(home),
        "SNMP_PERSISTENT_DIR": str(home / "persist"),
        "MIBS": "",
        "MIBDIRS": str(home),
    }


async def netsnmp(home: Path, tool: str, *args: str) -> tuple[int, str, str]:
    """Run a net-snmp command-line tool without blocking the event loop."""
    process = await asyncio.create_subprocess_exec(
        tool,
        "-On",
        "-t",
        "1",
        "-r",
        "1",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=netsnmp_env(home),
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    return process.returncode or 0, out.decode(), err.decode()


def v3_args(
    user: UsmUser, auth_password: str | None = None, priv_password: str | None = None
) -> list[str]:
    return [
        "-v3",
        "-l",
        "authPriv",
        "-u",
        user.name,
        "-a",
        user.auth.value,
        "-A",
        auth_password or user.auth_password,
        "-x",
        user.priv.value,
        "-X",
        priv_password or user.priv_password,
    ]
