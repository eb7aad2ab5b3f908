"""snmp_system and snmp_interfaces against a real net-snmp agent (snmpd) on loopback:
its own HOST-RESOURCES and interface tables, v2c and v3 authPriv, wrong credentials."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from branchops.monitoring.collectors.base import (
    CollectorError,
    ConfigError,
    Result,
    SnmpAccess,
    State,
)
from branchops.snmp import Community, SnmpClient, SnmpTimeout, Target
from branchops.snmp.tests.support import free_udp_port, netsnmp_env

from .collectors_snmp_support import Clock, Engine, by_name, run, snmp_spec

SNMPD = shutil.which("snmpd") or ("/usr/sbin/snmpd" if Path("/usr/sbin/snmpd").exists() else None)
pytestmark = pytest.mark.skipif(
    SNMPD is None, reason="net-snmp agent (Debian package snmpd) is not installed"
)
LOCAL = "127.0.0.1"
USER = "bops"
V3 = SnmpAccess(
    "3",
    username=USER,
    auth_protocol="sha",
    auth_password="authpass-bops",
    priv_protocol="aes",
    priv_password="privpass-bops",
    timeout_s=1.0,
    retries=0,
)
V2C = SnmpAccess("2c", community="bops-ro", timeout_s=1.0, retries=0)


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """snmpd in the foreground with only our configuration, on a free unprivileged port."""
    home = tmp_path_factory.mktemp("snmpd-collectors")
    port = free_udp_port()
    config = home / "snmpd.conf"
    config.write_text(
        "\n".join(
            [
                f"agentAddress udp:{LOCAL}:{port}",
                f"rocommunity bops-ro {LOCAL}",
                "sysName collectors-under-test",
                f'createUser {USER} SHA "authpass-bops" AES "privpass-bops"',
                f"rouser {USER} priv",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    assert SNMPD is not None
    process = subprocess.Popen(  # noqa: S603 - the agent binary, our own arguments
        [SNMPD, "-f", "-Lf", str(home / "snmpd.log"), "-C", "-c", str(config)],
        env=netsnmp_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(port, process, home)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait(port: int, process: subprocess.Popen[bytes], home: Path) -> None:
    async def probe() -> None:
        async with SnmpClient(timeout=0.3, retries=0) as client:
            await client.get(Target(LOCAL, port, Community("bops-ro")), ["1.3.6.1.2.1.1.5.0"])

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (home / "snmpd.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"snmpd exited with {process.returncode}: {log}")
        try:
            run(lambda engine: probe())
            return
        except SnmpTimeout:
            continue
    pytest.fail("snmpd did not answer within 20 s")


def spec(kind: str, port: int, access: SnmpAccess = V2C, **params: object) -> object:
    return snmp_spec(kind, LOCAL, port, access=access, **params)  # type: ignore[arg-type]


@pytest.mark.parametrize("access", [V2C, V3], ids=["v2c", "v3-authPriv-SHA-AES"])
def test_system_from_net_snmp(snmpd: int, access: SnmpAccess) -> None:
    clock = Clock()

    async def scenario(engine: Engine) -> list[Result]:
        first = await engine.collect(spec("snmp_system", snmpd, access))  # type: ignore[arg-type]
        clock.advance(1)
        return [first, await engine.collect(spec("snmp_system", snmpd, access))]  # type: ignore[arg-type]

    first, second = run(scenario, clock)
    assert first.state is State.UP
    uptime = by_name(first, "branchops_snmp_uptime_seconds")
    assert uptime is not None
    assert uptime >= 0
    assert by_name(second, "branchops_snmp_rebooted") == 0.0
    # net-snmp on Linux serves hrStorage: physical memory and the file systems.
    memory = by_name(first, "branchops_memory_utilisation_ratio")
    assert memory is not None
    assert 0 < memory < 1
    assert by_name(first, "branchops_memory_total_bytes") == pytest.approx(
        _meminfo_total(), rel=0.01
    )
    assert by_name(first, "branchops_storage_used_ratio", storage="/") is not None
    cpu = by_name(first, "branchops_cpu_utilisation_ratio")
    assert cpu is None or 0 <= cpu <= 1  # hrProcessorLoad needs a minute of history


def _meminfo_total() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return float(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def test_interfaces_from_net_snmp(snmpd: int) -> None:
    clock = Clock()

    async def scenario(engine: Engine) -> list[Result]:
        first = await engine.collect(spec("snmp_interfaces", snmpd, interfaces=["lo"]))  # type: ignore[arg-type]
        clock.advance(10)
        for _ in range(20):  # traffic on lo between the polls: our own requests
            await engine.collect(spec("snmp_system", snmpd, check_id=2))  # type: ignore[arg-type]
        second = await engine.collect(spec("snmp_interfaces", snmpd, interfaces=["lo"]))  # type: ignore[arg-type]
        every = await engine.collect(spec("snmp_interfaces", snmpd, check_id=3, interfaces="all"))  # type: ignore[arg-type]
        return [first, second, every]

    first, second, every = run(scenario, clock)
    assert first.state is State.UP
    assert by_name(first, "branchops_if_oper_up", interface="lo") == 1.0
    assert by_name(first, "branchops_if_in_bits_per_second") is None
    traffic = by_name(second, "branchops_if_in_bits_per_second", interface="lo")
    # A rate from the two polls; its size depends on net-snmp's counter cache (a few seconds
    # of real time), so only its presence and sign are certain here.
    assert traffic is not None
    assert traffic >= 0
    assert by_name(second, "branchops_if_in_errors_per_second", interface="lo") == 0.0
    assert "lo" in {dict(s.labels)["interface"] for s in every.samples}


def test_a_wrong_community_is_down(snmpd: int) -> None:
    wrong = SnmpAccess("2c", community="guess", timeout_s=0.3, retries=0)
    with pytest.raises(CollectorError) as caught:
        run(lambda engine: engine.collect(spec("snmp_system", snmpd, wrong)))  # type: ignore[arg-type]
    assert caught.value.state is State.DOWN
    assert "no answer (check credential/port/ACL)" in str(caught.value)


def test_a_wrong_auth_password_is_unknown(snmpd: int) -> None:
    wrong = SnmpAccess(
        **{**{k: getattr(V3, k) for k in V3.__slots__}, "auth_password": "nope-nope"}
    )
    with pytest.raises(ConfigError, match=r"refused \(wrongDigests\)"):
        run(lambda engine: engine.collect(spec("snmp_system", snmpd, wrong)))  # type: ignore[arg-type]


def test_a_wrong_privacy_password_is_unknown_not_down(snmpd: int) -> None:
    # net-snmp drops what it cannot decrypt without a word; it did answer discovery, so the
    # device is alive and the credential is what is wrong.
    wrong = SnmpAccess(
        **{**{k: getattr(V3, k) for k in V3.__slots__}, "priv_password": "nope-nope"}
    )
    with pytest.raises(ConfigError) as caught:
        run(lambda engine: engine.collect(spec("snmp_system", snmpd, wrong)))  # type: ignore[arg-type]
    assert caught.value.state is State.UNKNOWN
    assert "privacy password" in str(caught.value)
