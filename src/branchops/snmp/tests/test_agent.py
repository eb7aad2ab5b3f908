"""The lab agent engine, read by net-snmp's own tools and by our client, under faults and floods."""

from __future__ import annotations

import asyncio
import random
import socket
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from branchops.snmp import (
    AgentServer,
    Community,
    ErrorStatus,
    SimulatedAgent,
    SnmpClient,
    SnmpErrorStatus,
    SnmpTimeout,
    SnmpType,
    Target,
    parse_oid,
)
from branchops.snmp.ber import (
    Pdu,
    decode_community_message,
    encode_community_message,
    encode_pdu,
    encode_request_varbind,
    encode_varbind,
)
from branchops.snmp.types import PduType

from .support import (
    IF_DESCR,
    IF_IN_OCTETS,
    IF_TABLE,
    LAB_USER,
    LAB_USER_256,
    SYS_DESCR,
    SYS_NAME,
    SYS_UPTIME,
    device_view,
    netsnmp,
    netsnmp_available,
    run,
    v3_args,
)

needs_netsnmp = pytest.mark.skipif(
    not netsnmp_available(), reason="net-snmp tools (Debian package snmp) are not installed"
)


async def lab(*addresses: str, mode: str = "shared", **options: object) -> AgentServer:
    server = AgentServer(0 if mode == "shared" else _port(), mode=mode)  # type: ignore[arg-type]
    await server.start()
    for number, address in enumerate(addresses, start=1):
        agent = SimulatedAgent(
            address,
            device_view(f"dev{number}"),
            users=[LAB_USER, LAB_USER_256],
            **options,  # type: ignore[arg-type]
        )
        await server.add(agent)
    return server


def _port() -> int:
    from .support import free_udp_port

    return free_udp_port()


# ---- net-snmp's tools against our agents ----------------------------------------------------


@needs_netsnmp
def test_snmpget_and_snmpbulkwalk_read_our_agents_v2c(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = await lab("127.0.0.7", "127.0.0.8")
        try:
            first = f"127.0.0.7:{server.port}"
            second = f"127.0.0.8:{server.port}"
            code, out, _ = await netsnmp(
                tmp_path, "snmpget", "-v2c", "-c", "public", first, SYS_DESCR, SYS_NAME
            )
            assert code == 0
            assert out.splitlines() == [
                '.1.3.6.1.2.1.1.1.0 = STRING: "BranchOps lab firewall"',
                '.1.3.6.1.2.1.1.5.0 = STRING: "dev1"',
            ]
            # Same port, other address: the other agent answers.
            code, out, _ = await netsnmp(
                tmp_path, "snmpget", "-v2c", "-c", "public", second, SYS_NAME
            )
            assert out.strip() == '.1.3.6.1.2.1.1.5.0 = STRING: "dev2"'
            code, out, _ = await netsnmp(
                tmp_path, "snmpbulkwalk", "-v2c", "-c", "public", "-Cr10", first, IF_TABLE
            )
            assert code == 0
            lines = out.splitlines()
            assert '.1.3.6.1.2.1.2.2.1.2.3 = STRING: "eth3"' in lines
            assert sum("Counter32" in line for line in lines) == 4
            assert len(lines) == 16  # ifIndex, ifDescr, ifOperStatus, ifInOctets x 4
        finally:
            server.close()

    run(scenario())


@needs_netsnmp
def test_snmpget_and_snmpbulkwalk_read_our_agents_v3_authpriv(tmp_path: Path) -> None:
    async def scenario() -> None:
        server = await lab("127.0.0.9")
        try:
            where = f"127.0.0.9:{server.port}"
            code, out, err = await netsnmp(tmp_path, "snmpget", *v3_args(LAB_USER), where, SYS_NAME)
            assert code == 0, err
            assert out.strip() == '.1.3.6.1.2.1.1.5.0 = STRING: "dev1"'
            code, out, err = await netsnmp(
                tmp_path, "snmpbulkwalk", *v3_args(LAB_USER_256), where, "1.3.6.1.2.1.1"
            )
            assert code == 0
            assert out.splitlines()[0] == '.1.3.6.1.2.1.1.1.0 = STRING: "BranchOps lab firewall"'
            assert len(out.splitlines()) == 3
        finally:
            server.close()

    run(scenario())


@needs_netsnmp
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (v3_args(LAB_USER, auth_password="wrongpass1"), "Authentication failure"),
        (v3_args(LAB_USER, priv_password="wrongpass1"), "Decryption error"),
        (["-v3", "-l", "noAuthNoPriv", "-u", "stranger"], "Unknown user name"),
        (
            ["-v3", "-l", "authNoPriv", "-u", "labops", "-a", "SHA", "-A", "authpass123"],
            "Unsupported security level",
        ),
        (["-v2c", "-c", "private"], "Timeout"),
    ],
)
def test_net_snmp_tools_see_our_refusals(tmp_path: Path, args: list[str], message: str) -> None:
    async def scenario() -> str:
        server = await lab("127.0.0.10")
        try:
            code, _, err = await netsnmp(
                tmp_path, "snmpget", *args, f"127.0.0.10:{server.port}", SYS_NAME
            )
            assert code != 0
            return err
        finally:
            server.close()

    assert message in run(scenario())


# ---- our client against our agents ----------------------------------------------------------


@pytest.mark.parametrize("mode", ["shared", "per-address"])
@pytest.mark.parametrize("credentials", [Community("public"), LAB_USER, LAB_USER_256])
def test_client_reads_agent(mode: str, credentials: Community) -> None:
    async def scenario() -> None:
        server = await lab("127.0.1.1", "127.0.1.2", mode=mode)
        try:
            async with SnmpClient(timeout=1.0) as client:
                target = Target("127.0.1.2", server.port, credentials)
                values = await client.get(
                    target, [SYS_NAME, SYS_UPTIME, "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.5"]
                )
                assert [v.type for v in values] == [
                    SnmpType.OCTET_STRING,
                    SnmpType.TIMETICKS,
                    SnmpType.NO_SUCH_OBJECT,  # sysObjectID: nothing under it
                    SnmpType.NO_SUCH_INSTANCE,  # sysName without .0: the object exists
                ]
                assert values[0].value == b"dev2"
                [after] = await client.get_next(target, [SYS_UPTIME])
                assert after.oid == parse_oid(SYS_NAME)
                [end] = await client.get_next(target, ["1.3.6.1.2.1.31.1.1.1.6.4"])
                assert (end.type, end.value) == (SnmpType.END_OF_MIB_VIEW, None)
                rows = await client.walk(target, IF_TABLE, max_repetitions=3)
                assert len(rows) == 16
                assert [row.oid for row in rows] == sorted(row.oid for row in rows)
                hc = await client.walk(target, "1.3.6.1.2.1.31")
                assert [(v.type, v.value) for v in hc][-1] == (SnmpType.COUNTER64, 2**40 + 4)
        finally:
            server.close()

    run(scenario())


def test_getbulk_honours_non_repeaters_and_max_repetitions() -> None:
    async def scenario() -> None:
        server = await lab("127.0.1.3")
        try:
            async with SnmpClient(timeout=1.0) as client:
                target = Target("127.0.1.3", server.port, Community("public"))
                got = await client.get_bulk(
                    target, 1, 3, ["1.3.6.1.2.1.1.3", IF_DESCR, IF_IN_OCTETS]
                )
                assert [v.oid[-2:] for v in got] == [
                    (3, 0),  # the non-repeater
                    (2, 1),
                    (10, 1),
                    (2, 2),
                    (10, 2),
                    (2, 3),
                    (10, 3),  # interleaved repeaters
                ]
                tail = await client.get_bulk(target, 0, 10, ["1.3.6.1.2.1.31.1.1.1.6.3"])
                assert [v.type for v in tail] == [SnmpType.COUNTER64, SnmpType.END_OF_MIB_VIEW]
        finally:
            server.close()

    run(scenario())


def test_message_size_cuts_getbulk_and_makes_get_too_big() -> None:
    async def scenario() -> None:
        server = await lab("127.0.1.4", max_message_size=484)
        try:
            async with SnmpClient(timeout=1.0) as client:
                target = Target("127.0.1.4", server.port, Community("public"))
                got = await client.get_bulk(target, 0, 200, ["1.3.6"])
                assert 5 < len(got) < 30  # cut to the message size, not an error
                with pytest.raises(SnmpErrorStatus) as caught:
                    await client.get(target, [SYS_DESCR] * 40)
                assert caught.value.status == ErrorStatus.TOO_BIG
                assert not caught.value.retryable
        finally:
            server.close()

    run(scenario())


def test_replies_leave_from_the_address_that_was_asked() -> None:
    async def scenario() -> None:
        server = await lab("127.0.2.1", "127.0.2.2")
        loop = asyncio.get_running_loop()
        request = encode_community_message(
            1,
            b"public",
            encode_pdu(PduType.GET_REQUEST, 5, 0, 0, encode_request_varbind(parse_oid(SYS_NAME))),
        )
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.setblocking(False)
                probe.bind(("127.0.0.1", 0))
                for address, name in (("127.0.2.2", b"dev2"), ("127.0.2.1", b"dev1")):
                    await loop.sock_sendto(probe, request, (address, server.port))
                    data, source = await asyncio.wait_for(loop.sock_recvfrom(probe, 2048), 2)
                    assert source == (address, server.port)
                    pdu = decode_community_message(data).pdu
                    assert isinstance(pdu, Pdu)
                    assert pdu.varbinds[0].value == name
        finally:
            server.close()

    run(scenario())


def test_wrong_community_and_silent_agents_do_not_answer() -> None:
    async def scenario() -> None:
        server = await lab("127.0.3.1")
        agent = server.agent("127.0.3.1")
        try:
            async with SnmpClient(timeout=0.1, retries=0) as client:
                wrong = Target("127.0.3.1", server.port, Community("private"))
                with pytest.raises(SnmpTimeout):
                    await client.get(wrong, [SYS_NAME])
                assert agent.stats.bad_community == 1
                right = Target("127.0.3.1", server.port, Community("public"))
                agent.silent = True
                with pytest.raises(SnmpTimeout) as caught:
                    await client.get(right, [SYS_NAME])
                assert caught.value.retryable
                agent.silent = False
                assert (await client.get(right, [SYS_NAME]))[0].value == b"dev1"
        finally:
            server.close()

    run(scenario())


def test_agent_survives_a_flood_of_garbage_and_keeps_answering() -> None:
    async def scenario() -> None:
        server = await lab("127.0.4.1")
        agent = server.agent("127.0.4.1")
        valid = encode_community_message(
            1,
            b"public",
            encode_pdu(PduType.GET_REQUEST, 9, 0, 0, encode_request_varbind(parse_oid(SYS_NAME))),
        )
        noise = random.Random(7)
        floods = [noise.randbytes(noise.randint(0, 1400)) for _ in range(2000)]
        floods += [valid[:cut] for cut in range(len(valid))]
        floods += [b"\x30\x84\xff\xff\xff\xff", b"\x30\x80" * 700, b"\x30\x03\x02\x01\x03"]
        mutated = [bytearray(valid) for _ in range(500)]
        for packet in mutated:
            packet[noise.randrange(len(packet))] = noise.randrange(256)
        floods += [bytes(packet) for packet in mutated]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as attacker:
                for index, packet in enumerate(floods):
                    attacker.sendto(packet, ("127.0.4.1", server.port))
                    if index % 200 == 0:
                        await asyncio.sleep(0)  # let the agent drain its socket
            async with SnmpClient(timeout=1.0) as client:
                target = Target("127.0.4.1", server.port, Community("public"))
                assert (await client.get(target, [SYS_NAME]))[0].value == b"dev1"
            assert agent.stats.malformed > 2000
        finally:
            server.close()

    run(scenario())


def test_set_is_refused_as_not_writable() -> None:
    async def scenario() -> Pdu:
        server = await lab("127.0.5.1")
        loop = asyncio.get_running_loop()
        varbind = encode_varbind(parse_oid(SYS_NAME), SnmpType.OCTET_STRING, b"hacked")
        request = encode_community_message(
            1, b"public", encode_pdu(PduType.SET_REQUEST, 3, 0, 0, varbind)
        )
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.setblocking(False)
                await loop.sock_sendto(probe, request, ("127.0.5.1", server.port))
                data, _ = await asyncio.wait_for(loop.sock_recvfrom(probe, 2048), 2)
            pdu = decode_community_message(data).pdu
            assert isinstance(pdu, Pdu)
            return pdu
        finally:
            server.close()

    pdu = run(scenario())
    assert (pdu.error_status, pdu.error_index) == (ErrorStatus.NOT_WRITABLE, 1)
    assert pdu.varbinds[0].value == b"hacked"  # the request's bindings, echoed


def test_failing_value_source_answers_gen_err() -> None:
    async def scenario() -> None:
        server = await lab("127.0.5.2")

        def broken() -> int:
            raise RuntimeError("sensor unplugged")

        server.agent("127.0.5.2").view.set("1.3.6.1.4.1.99.1.0", SnmpType.GAUGE32, broken)
        try:
            async with SnmpClient(timeout=1.0) as client:
                target = Target("127.0.5.2", server.port, Community("public"))
                with pytest.raises(SnmpErrorStatus) as caught:
                    await client.get(target, ["1.3.6.1.4.1.99.1.0"])
                assert caught.value.status == ErrorStatus.GEN_ERR
                assert caught.value.retryable
        finally:
            server.close()

    run(scenario())


def test_moving_values_and_view_edits() -> None:
    now = [100.0]
    view = device_view(clock=lambda: now[0])
    assert view.value(SYS_UPTIME) == 10_000
    now[0] = 101.5
    assert view.value(SYS_UPTIME) == 10_150
    assert view.value(f"{IF_IN_OCTETS}.2") == 203_000
    view.set("1.3.6.1.2.1.2.2.1.8.2", SnmpType.INTEGER, 2)  # interface down
    assert view.value("1.3.6.1.2.1.2.2.1.8.2") == 2
    size = len(view)
    view.remove(f"{IF_DESCR}.4")
    view.remove(f"{IF_DESCR}.99")
    assert len(view) == size - 1
    with pytest.raises(KeyError):
        view.value(f"{IF_DESCR}.4")


def test_simulated_agents_live_on_loopback_only() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.0/8"):
        SimulatedAgent("10.1.2.3", device_view())
    with pytest.raises(ValueError, match="IPv4"):
        Target("router.example.com")


# ---- fuzzing the handlers directly ----------------------------------------------------------

FUZZ_AGENT = SimulatedAgent("127.0.6.1", device_view(), users=[LAB_USER], engine_id=b"\x80fuzz")


def v3_request() -> bytes:
    from branchops.snmp.usm import localized, seal
    from branchops.snmp.v3 import FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE, encode_scoped_pdu

    pdu = encode_pdu(PduType.GET_BULK_REQUEST, 4, 0, 5, encode_request_varbind(parse_oid(SYS_NAME)))
    return seal(
        msg_id=4,
        max_size=1500,
        flags=FLAG_AUTH | FLAG_PRIV | FLAG_REPORTABLE,
        user_name=b"labops",
        keys=localized(LAB_USER, b"\x80fuzz"),
        engine_id=b"\x80fuzz",
        boots=1,
        engine_time=FUZZ_AGENT.engine_time(),
        scoped_pdu=encode_scoped_pdu(b"\x80fuzz", b"", pdu),
    )


V2C_REQUEST = encode_community_message(
    1,
    b"public",
    encode_pdu(PduType.GET_BULK_REQUEST, 4, 1, 5, encode_request_varbind(parse_oid(SYS_NAME)) * 2),
)
V3_REQUEST = v3_request()


def test_the_fuzz_seeds_are_answered() -> None:
    assert FUZZ_AGENT.handle(V2C_REQUEST) is not None
    assert FUZZ_AGENT.handle(V3_REQUEST) is not None


@settings(max_examples=800, deadline=None)
@given(st.data())
def test_agent_handler_never_raises_on_mutated_requests(data: st.DataObject) -> None:
    packet = bytearray(data.draw(st.sampled_from([V2C_REQUEST, V3_REQUEST])))
    for _ in range(data.draw(st.integers(1, 3))):
        packet[data.draw(st.integers(0, len(packet) - 1))] = data.draw(st.integers(0, 255))
    reply = FUZZ_AGENT.handle(bytes(packet[: data.draw(st.integers(0, len(packet)))]))
    assert reply is None or reply[0] == 0x30


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_client_receiver_never_raises_on_noise(noise: bytes) -> None:
    client = SnmpClient()
    client._on_datagram(noise, ("127.0.0.1", 161))
    client._on_datagram(V3_REQUEST[: len(noise)] + noise, ("127.0.0.1", 161))
    assert client.stats.received == 2


def test_a_malformed_oid_in_a_request_is_dropped_not_an_error_status() -> None:
    agent = SimulatedAgent("127.0.6.2", device_view())
    for raw_oid in (b"\x2b\x06\x80\x01", b"\x2b" + b"\xff" * 6 + b"\x01"):
        varbind = b"\x30" + bytes((len(raw_oid) + 4,)) + b"\x06" + bytes((len(raw_oid),)) + raw_oid
        for pdu_type in (PduType.GET_REQUEST, PduType.GET_NEXT_REQUEST, PduType.GET_BULK_REQUEST):
            pdu = encode_pdu(pdu_type, 1, 0, 3, varbind + b"\x05\x00")
            assert agent.handle(encode_community_message(1, b"public", pdu)) is None
    assert agent.stats.malformed == 6
    assert agent.stats.gen_errors == 0
