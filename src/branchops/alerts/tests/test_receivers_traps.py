"""The trap receiver against net-snmp's snmptrap and snmpinform on loopback."""

from __future__ import annotations

import asyncio
import shlex
import shutil
import socket
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from branchops.alerts.receivers.testing import EventSink, ManualClock, run_tool, until
from branchops.alerts.receivers.trap_receiver import TrapReceiver, TrapUser
from branchops.snmp import AuthProtocol, PrivProtocol, UsmUser
from branchops.snmp.ber import encode_community_message, encode_pdu, encode_varbind
from branchops.snmp.types import PduType, SnmpType

T = TypeVar("T")
pytestmark = pytest.mark.skipif(
    shutil.which("snmptrap") is None, reason="net-snmp tools (Debian package snmp) missing"
)

TRAPPER = UsmUser("trapper", AuthProtocol.SHA, "authpass123", PrivProtocol.AES, "privpass123")
BRANCH_ENGINE = "0x80001f8880b1a2c3d4e5f60001"
OTHER_ENGINE = "0x80001f8880b1a2c3d4e5f60002"
IF_INDEX = "1.3.6.1.2.1.2.2.1.1"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
LINK_UP = "1.3.6.1.6.3.1.1.5.4"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def v3(user: UsmUser = TRAPPER, **override: str) -> list[str]:
    return [
        "-v3", "-l", "authPriv", "-u", user.name,
        "-a", user.auth.value, "-A", override.get("auth", user.auth_password),
        "-x", user.priv.value, "-X", override.get("priv", user.priv_password),
    ]  # fmt: skip


async def send(
    server: TrapReceiver, home: Path, tool: str, *args: str, expect: int = 1
) -> tuple[int, str]:
    """Run snmptrap/snmpinform against the receiver; wait until it took ``expect`` more
    datagrams (an inform's discovery exchange counts too). The last argument holds the
    uptime, trap OID and bindings, split like a shell would."""
    before = server.stats.received
    target = f"udp:127.0.0.1:{server.port}"
    options = ["-t", "1", "-r", "1"] if tool == "snmpinform" else []
    code, output = await run_tool(
        [tool, *options, *args[:-1], target, *shlex.split(args[-1])], home
    )
    await until(lambda: server.stats.received >= before + expect, what="the datagrams")
    return code, output


def trap_receiver(sink: EventSink, **options: Any) -> TrapReceiver:
    options.setdefault("communities", ["public"])
    return TrapReceiver(sink, host="127.0.0.1", port=0, clock=ManualClock(), **options)


def test_v1_link_down_and_v2c_link_up_pair_by_interface(tmp_path: Path) -> None:
    async def scenario() -> EventSink:
        sink = EventSink()
        async with trap_receiver(sink) as server:
            v1_varbinds = (
                f"1.3.6.1.4.1.2011 127.0.0.9 2 0 '' {IF_INDEX}.3 i 3 {IF_DESCR}.3 s GE0/0/3"
            )
            await send(server, tmp_path, "snmptrap", "-v1", "-c", "public", v1_varbinds)
            v2_varbinds = f"'' {LINK_UP} {IF_INDEX}.3 i 3 {IF_NAME}.3 s GE0/3"
            await send(server, tmp_path, "snmptrap", "-v2c", "-c", "public", v2_varbinds)
            await sink.wait_for(2)
        return sink

    down, up = run(scenario()).events
    assert (down.source, down.name, down.status, down.severity) == (
        "snmp-trap", "link-down", "firing", 2,
    )  # fmt: skip
    assert down.labels["agent_address"] == "127.0.0.9"
    assert (down.labels["interface"], down.labels["snmp_version"]) == ("GE0/0/3", "v1")
    assert (up.name, up.status, up.labels["interface"]) == ("link-up", "resolved", "GE0/3")
    assert down.key == up.key == "if:3"
    assert down.title == "Interface down: GE0/0/3"


def test_v2c_inform_is_answered(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, TrapReceiver, EventSink]:
        sink = EventSink()
        async with trap_receiver(sink) as server:
            code, output = await send(
                server,
                tmp_path,
                "snmpinform",
                "-v2c",
                "-c",
                "public",
                f"'' {LINK_DOWN} {IF_INDEX}.8 i 8",
            )
            assert code == 0, output  # snmpinform fails unless it got our Response
            await sink.wait_for(1)
        return code, server, sink

    _, server, sink = run(scenario())
    assert server.stats.informs_answered == 1
    assert sink.events[0].key == "if:8"


def test_v3_authpriv_trap_from_a_configured_sender_engine(tmp_path: Path) -> None:
    engine = bytes.fromhex(BRANCH_ENGINE[2:])

    async def scenario() -> tuple[TrapReceiver, EventSink]:
        sink = EventSink()
        users = [TrapUser(TRAPPER, frozenset({engine}))]
        async with trap_receiver(sink, users=users) as server:
            await send(
                server,
                tmp_path,
                "snmptrap",
                "-e",
                BRANCH_ENGINE,
                *v3(),
                f"'' {LINK_DOWN} {IF_INDEX}.2 i 2",
            )
            # the same user from an engine it is not configured for is refused
            await send(
                server,
                tmp_path,
                "snmptrap",
                "-e",
                OTHER_ENGINE,
                *v3(),
                f"'' {LINK_DOWN} {IF_INDEX}.2 i 2",
            )
            await send(
                server,
                tmp_path,
                "snmptrap",
                "-e",
                BRANCH_ENGINE,
                *v3(auth="wrongpass99"),
                f"'' {LINK_DOWN}",
            )
            await send(
                server,
                tmp_path,
                "snmptrap",
                "-e",
                BRANCH_ENGINE,
                *v3(priv="wrongpass99"),
                f"'' {LINK_DOWN}",
            )
        return server, sink

    server, sink = run(scenario())
    [event] = sink.events
    assert (event.name, event.labels["snmp_version"], event.labels["snmp_user"]) == (
        "link-down", "v3", "trapper",
    )  # fmt: skip
    assert server.stats.rejected == {
        "unknownUserNames": 1, "wrongDigests": 1, "decryptionErrors": 1,
    }  # fmt: skip
    assert server.stats.reports_sent == 0  # traps are not reportable, and not ours to answer


def test_v3_user_without_engine_list_is_localised_per_sender_engine(tmp_path: Path) -> None:
    async def scenario() -> EventSink:
        sink = EventSink()
        async with trap_receiver(sink, users=[TRAPPER]) as server:
            for engine in (BRANCH_ENGINE, OTHER_ENGINE):
                await send(
                    server, tmp_path, "snmptrap", "-e", engine, *v3(), "'' 1.3.6.1.6.3.1.1.5.1"
                )
            await sink.wait_for(2)
        return sink

    events = run(scenario()).events
    assert [(e.name, e.status) for e in events] == [("cold-start", "info")] * 2


def test_v3_authpriv_inform_discovers_our_engine_and_is_answered(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, TrapReceiver, EventSink]:
        sink = EventSink()
        async with trap_receiver(sink, users=[TRAPPER]) as server:
            code, output = await send(
                server, tmp_path, "snmpinform", *v3(), f"'' {LINK_UP} {IF_INDEX}.4 i 4", expect=2
            )
            assert code == 0, output
            await sink.wait_for(1)
        return code, server, sink

    _, server, sink = run(scenario())
    assert server.stats.informs_answered == 1
    assert server.stats.rejected.get("unknownEngineIDs", 0) >= 1  # the discovery
    assert server.stats.reports_sent >= 1
    assert (sink.events[0].name, sink.events[0].key) == ("link-up", "if:4")


def test_vendor_ipsec_trap_from_the_catalogue(tmp_path: Path) -> None:
    huawei_stop = (
        "'' 1.3.6.1.4.1.2011.6.122.26.6.2 "
        "1.3.6.1.4.1.2011.6.122.26.1.1.1.0 i 6 1.3.6.1.4.1.2011.6.122.26.1.1.2.0 i 1 "
        "1.3.6.1.4.1.2011.6.122.26.1.1.3.0 i 3 1.3.6.1.4.1.2011.6.122.26.1.1.4.0 i 5 "
        "1.3.6.1.4.1.2011.6.122.26.1.1.5.0 a 198.51.100.7"
    )

    async def scenario() -> EventSink:
        sink = EventSink()
        async with trap_receiver(sink) as server:
            await send(server, tmp_path, "snmptrap", "-v2c", "-c", "public", huawei_stop)
            await sink.wait_for(1)
        return sink

    [event] = run(scenario()).events
    assert (event.name, event.status, event.severity) == ("vpn-down", "firing", 2)
    assert (event.labels["vendor"], event.labels["peer"], event.labels["tunnel"]) == (
        "huawei-usg", "198.51.100.7", "3",
    )  # fmt: skip
    assert event.key == "vpn:198.51.100.7"


def test_unknown_trap_is_info_with_its_bindings_rendered(tmp_path: Path) -> None:
    async def scenario() -> EventSink:
        sink = EventSink()
        async with trap_receiver(sink) as server:
            varbinds = (
                "'' 1.3.6.1.4.1.99999.0.7 1.3.6.1.4.1.99999.1.1.0 s 机房温度过高 "
                "1.3.6.1.4.1.99999.1.2.0 x 00FF10"
            )
            await send(server, tmp_path, "snmptrap", "-v2c", "-c", "public", varbinds)
            await sink.wait_for(1)
        return sink

    [event] = run(scenario()).events
    assert (event.name, event.status, event.severity) == ("trap", "info", None)
    assert event.key == "trap:1.3.6.1.4.1.99999.0.7"
    assert event.message == (
        "1.3.6.1.4.1.99999.0.7: 1.3.6.1.4.1.99999.1.1.0 = 机房温度过高; "
        "1.3.6.1.4.1.99999.1.2.0 = 0x00ff10"
    )


def test_wrong_community_and_broken_packets_are_counted_never_raised(tmp_path: Path) -> None:
    uptime_only = encode_varbind((1, 3, 6, 1, 2, 1, 1, 3, 0), SnmpType.TIMETICKS, 5)
    no_trap_oid = encode_community_message(
        1, b"public", encode_pdu(PduType.SNMPV2_TRAP, 1, 0, 0, uptime_only)
    )
    get_request = encode_community_message(
        1, b"public", encode_pdu(PduType.GET_REQUEST, 2, 0, 0, b"")
    )
    packets = [b"garbage", no_trap_oid[:-3], no_trap_oid, get_request, b"\x30\x03\x02\x01\x07"]

    async def scenario() -> tuple[TrapReceiver, EventSink]:
        sink = EventSink()
        async with trap_receiver(sink) as server:
            await send(server, tmp_path, "snmptrap", "-v2c", "-c", "private", f"'' {LINK_DOWN}")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                for packet in packets:
                    sock.sendto(packet, ("127.0.0.1", server.port))
            await until(lambda: server.stats.received == 1 + len(packets))
            # still serving afterwards
            await send(server, tmp_path, "snmptrap", "-v2c", "-c", "public", f"'' {LINK_DOWN}")
        return server, sink

    server, sink = run(scenario())
    assert server.stats.malformed == 3
    assert server.stats.rejected == {
        "badCommunity": 1,
        "unsupportedPdu": 1,
        "unsupportedVersion": 1,
    }
    assert [event.name for event in sink.events] == ["link-down"]
