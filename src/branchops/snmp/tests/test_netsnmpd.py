"""Our client against a real net-snmp agent (snmpd) on loopback, v2c and v3."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from branchops.snmp import (
    AuthProtocol,
    Community,
    PrivProtocol,
    SnmpAuthError,
    SnmpClient,
    SnmpTimeout,
    SnmpType,
    Target,
    UsmUser,
    VarBind,
    parse_oid,
)

from .support import (
    IF_DESCR,
    IF_IN_OCTETS,
    IF_TABLE,
    SYS_DESCR,
    SYS_NAME,
    SYS_UPTIME,
    free_udp_port,
    netsnmp_env,
    run,
)

SNMPD = shutil.which("snmpd") or ("/usr/sbin/snmpd" if Path("/usr/sbin/snmpd").exists() else None)
pytestmark = pytest.mark.skipif(
    SNMPD is None, reason="net-snmp agent (Debian package snmpd) is not installed"
)

SHA_AES = UsmUser("labops", AuthProtocol.SHA, "authpass123", PrivProtocol.AES, "privpass123")
SHA256_AES256 = UsmUser(
    "labops256", AuthProtocol.SHA256, "authpass256", PrivProtocol.AES256, "privpass256"
)
SHA512_AES192 = UsmUser(
    "labops512", AuthProtocol.SHA512, "authpass512", PrivProtocol.AES192, "privpass512"
)
USERS = (SHA_AES, SHA256_AES256, SHA512_AES192)


def snmpd_config(port: int) -> str:
    lines = [
        f"agentAddress udp:127.0.0.1:{port}",
        "rocommunity public 127.0.0.1",
        "sysDescr BranchOps test snmpd",
        "sysName snmpd-under-test",
    ]
    for user in USERS:
        lines.append(
            f'createUser {user.name} {user.auth.value} "{user.auth_password}" '
            f'{user.priv.value} "{user.priv_password}"'
        )
        lines.append(f"rouser {user.name} priv")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """snmpd in the foreground with only our configuration, on a free unprivileged port."""
    home = tmp_path_factory.mktemp("snmpd")
    port = free_udp_port()
    config = home / "snmpd.conf"
    config.write_text(snmpd_config(port), encoding="utf-8")
    assert SNMPD is not None
    process = subprocess.Popen(  # noqa: S603 - the agent binary, our own arguments
        [SNMPD, "-f", "-Lf", str(home / "snmpd.log"), "-C", "-c", str(config)],
        env=netsnmp_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_agent(port, process, home)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_for_agent(port: int, process: subprocess.Popen[bytes], home: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (home / "snmpd.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"snmpd exited with {process.returncode}: {log}")
        try:
            run(get(Target("127.0.0.1", port, Community("public")), [SYS_NAME], timeout=0.3))
            return
        except SnmpTimeout:
            continue
    pytest.fail("snmpd did not answer within 20 s")


async def get(target: Target, oids: list[str], timeout: float = 1.0) -> list[VarBind]:
    async with SnmpClient(timeout=timeout, retries=1) as client:
        return await client.get(target, oids)


def test_v2c_get_system_objects(snmpd: int) -> None:
    descr, uptime = run(
        get(Target("127.0.0.1", snmpd, Community("public")), [SYS_DESCR, SYS_UPTIME])
    )
    assert descr.value == b"BranchOps test snmpd"
    assert uptime.type is SnmpType.TIMETICKS
    assert isinstance(uptime.value, int)


def test_v2c_getbulk_of_the_interface_table(snmpd: int) -> None:
    async def scenario() -> tuple[list[VarBind], list[VarBind]]:
        async with SnmpClient(timeout=1) as client:
            target = Target("127.0.0.1", snmpd, Community("public"))
            bulk = await client.get_bulk(target, 1, 2, [SYS_UPTIME[:-2], IF_DESCR, IF_IN_OCTETS])
            return bulk, await client.walk(target, IF_TABLE)

    bulk, table = run(scenario())
    assert [row.oid[:-1] for row in bulk[:3]] == [
        parse_oid(SYS_UPTIME)[:-1],
        parse_oid(IF_DESCR),
        parse_oid(IF_IN_OCTETS),
    ]
    assert bulk[1] == VarBind((*parse_oid(IF_DESCR), 1), SnmpType.OCTET_STRING, b"lo")
    assert bulk[2].type is SnmpType.COUNTER32
    assert len(bulk) == 5  # one non-repeater, two repetitions of two repeaters
    interfaces = [row for row in table if row.oid[:10] == parse_oid(IF_DESCR)]
    assert interfaces[0].value == b"lo"
    assert len(table) >= 20 * len(interfaces)  # ifIndex .. ifSpecific for each interface


def test_v2c_walk_of_the_system_group(snmpd: int) -> None:
    async def scenario() -> list[VarBind]:
        async with SnmpClient(timeout=1) as client:
            return await client.walk(
                Target("127.0.0.1", snmpd, Community("public")), "1.3.6.1.2.1.1", max_repetitions=5
            )

    rows = run(scenario())
    names = [row.oid for row in rows]
    assert names == sorted(set(names))
    assert all(name[:7] == (1, 3, 6, 1, 2, 1, 1) for name in names)
    values = {row.oid: row.value for row in rows}
    assert values[parse_oid(SYS_DESCR)] == b"BranchOps test snmpd"
    assert values[parse_oid(SYS_NAME)] == b"snmpd-under-test"
    assert len(rows) > 8  # sysORTable rows too


@pytest.mark.parametrize("user", USERS, ids=lambda u: f"{u.auth.value}+{u.priv.value}")
def test_v3_authpriv_get(snmpd: int, user: UsmUser) -> None:
    [name] = run(get(Target("127.0.0.1", snmpd, user), [SYS_NAME]))
    assert name.value == b"snmpd-under-test"


def test_wrong_community_times_out_quickly(snmpd: int) -> None:
    started = time.monotonic()
    with pytest.raises(SnmpTimeout):
        run(
            get(
                Target("127.0.0.1", snmpd, Community("private"), retries=0), [SYS_NAME], timeout=0.3
            )
        )
    assert time.monotonic() - started < 1.5


def test_wrong_auth_password_is_an_auth_error(snmpd: int) -> None:
    wrong = UsmUser("labops", AuthProtocol.SHA, "wrongpass1", PrivProtocol.AES, "privpass123")
    with pytest.raises(SnmpAuthError) as caught:
        run(get(Target("127.0.0.1", snmpd, wrong), [SYS_NAME]))
    assert caught.value.reason == "wrongDigests"
    assert not caught.value.retryable


def test_wrong_privacy_password_is_an_error(snmpd: int) -> None:
    # net-snmp drops what it cannot decrypt without a Report: the error is a timeout whose
    # message names the likely cause.
    wrong = UsmUser("labops", AuthProtocol.SHA, "authpass123", PrivProtocol.AES, "wrongpass1")
    with pytest.raises(SnmpTimeout, match="privacy password"):
        run(get(Target("127.0.0.1", snmpd, wrong, retries=0), [SYS_NAME], timeout=0.3))


def test_unknown_user_is_an_auth_error(snmpd: int) -> None:
    stranger = UsmUser("stranger", AuthProtocol.SHA, "authpass123", PrivProtocol.AES, "privpass123")
    with pytest.raises(SnmpAuthError) as caught:
        run(get(Target("127.0.0.1", snmpd, stranger), [SYS_NAME]))
    assert caught.value.reason == "unknownUserNames"


def test_lower_security_level_is_an_auth_error(snmpd: int) -> None:
    # labops is configured "rouser labops priv"; asking at authNoPriv passes USM but not
    # snmpd's access control, which answers error-status authorizationError.
    weaker = UsmUser("labops", AuthProtocol.SHA, "authpass123")
    with pytest.raises(SnmpAuthError) as caught:
        run(get(Target("127.0.0.1", snmpd, weaker), [SYS_NAME]))
    assert caught.value.reason == "authorizationError"
