"""The client: matching, strays, retries, errors, SNMPv3 discovery and time windows."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from branchops.snmp import (
    AgentServer,
    AuthProtocol,
    Community,
    ErrorStatus,
    PrivProtocol,
    SimulatedAgent,
    SnmpAuthError,
    SnmpClient,
    SnmpError,
    SnmpErrorStatus,
    SnmpProtocolError,
    SnmpTimeout,
    SnmpType,
    Target,
    UsmUser,
    parse_oid,
)
from branchops.snmp.ber import (
    Pdu,
    decode_community_message,
    encode_community_message,
    encode_pdu,
    encode_varbind,
)
from branchops.snmp.types import PduType

from .support import LAB_USER, SYS_NAME, SYS_UPTIME, device_view, run

NAME = parse_oid(SYS_NAME)


def reply(
    request_id: int,
    *names: tuple[int, ...],
    value: bytes = b"fw01",
    status: int = 0,
    community: bytes = b"public",
) -> bytes:
    varbinds = b"".join(encode_varbind(n, SnmpType.OCTET_STRING, value) for n in names or (NAME,))
    pdu = encode_pdu(PduType.RESPONSE, request_id, status, 1 if status else 0, varbinds)
    return encode_community_message(1, community, pdu)


@asynccontextmanager
async def fake_agent() -> AsyncIterator[tuple[socket.socket, int]]:
    """A bare UDP socket on loopback that the test answers by hand."""
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.setblocking(False)
    peer.bind(("127.0.0.1", 0))
    try:
        yield peer, peer.getsockname()[1]
    finally:
        peer.close()


async def next_request(peer: socket.socket) -> tuple[Pdu, tuple[str, int]]:
    data, source = await asyncio.wait_for(asyncio.get_running_loop().sock_recvfrom(peer, 65535), 5)
    pdu = decode_community_message(data).pdu
    assert isinstance(pdu, Pdu)
    return pdu, source


def test_strays_are_dropped_and_counted_and_the_real_answer_wins() -> None:
    made: list[asyncio.DatagramTransport] = []

    async def loopback_only(protocol: asyncio.DatagramProtocol) -> asyncio.DatagramTransport:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: protocol, local_addr=("127.0.0.1", 0)
        )
        made.append(transport)
        return transport

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        async with (
            fake_agent() as (peer, port),
            fake_agent() as (impostor, _),
            SnmpClient(timeout=3, retries=0, transport_factory=loopback_only) as client,
        ):
            asking = asyncio.create_task(client.get(Target("127.0.0.1", port), [SYS_NAME]))
            request, source = await next_request(peer)
            rid = request.request_id
            await loop.sock_sendto(peer, b"\x30\x03garbage", source)
            await loop.sock_sendto(peer, reply(rid + 1), source)
            await loop.sock_sendto(impostor, reply(rid, value=b"spoofed"), source)
            await loop.sock_sendto(
                peer, reply(rid, value=b"wrong community", community=b"x"), source
            )
            await loop.sock_sendto(peer, reply(rid, value=b"real"), source)
            [varbind] = await asking
            assert varbind.value == b"real"
            stats = client.stats
            assert (
                stats.malformed,
                stats.unknown_request_id,
                stats.wrong_source,
                stats.rejected,
            ) == (
                1,
                1,
                1,
                1,
            )
            assert client.local_address[0] == "127.0.0.1"
        assert len(made) == 1

    run(scenario())


def test_timeouts_retry_with_fresh_ids_then_fail() -> None:
    async def scenario() -> None:
        async with fake_agent() as (peer, port), SnmpClient(timeout=0.05, retries=2) as client:
            with pytest.raises(SnmpTimeout) as caught:
                await client.get(Target("127.0.0.1", port), [SYS_NAME])
            assert caught.value.retryable
            ids = {(await next_request(peer))[0].request_id for _ in range(3)}
            assert len(ids) == 3
            assert (client.stats.sent, client.stats.retries, client.stats.timeouts) == (3, 2, 1)

    run(scenario())


def test_a_late_answer_to_an_earlier_attempt_still_counts() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        async with fake_agent() as (peer, port), SnmpClient(timeout=0.1, retries=3) as client:
            target = Target("127.0.0.1", port, timeout=0.1, retries=3)
            asking = asyncio.create_task(client.get(target, [SYS_NAME]))
            first, source = await next_request(peer)
            await next_request(peer)  # the retry
            await loop.sock_sendto(peer, reply(first.request_id, value=b"slow"), source)
            assert (await asking)[0].value == b"slow"

    run(scenario())


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(ErrorStatus.TOO_BIG, False), (ErrorStatus.NO_SUCH_NAME, False), (ErrorStatus.GEN_ERR, True)],
)
def test_error_status_is_raised_with_its_name(status: ErrorStatus, retryable: bool) -> None:
    async def scenario() -> SnmpErrorStatus:
        loop = asyncio.get_running_loop()
        async with fake_agent() as (peer, port), SnmpClient(timeout=2) as client:
            asking = asyncio.create_task(client.get(Target("127.0.0.1", port), [SYS_NAME]))
            request, source = await next_request(peer)
            await loop.sock_sendto(peer, reply(request.request_id, status=status), source)
            with pytest.raises(SnmpErrorStatus) as caught:
                await asking
            return caught.value

    error = run(scenario())
    assert (error.status, error.index, error.retryable) == (status, 1, retryable)
    assert status.name.lower() in str(error)


def test_walk_refuses_an_agent_that_goes_backwards() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        async with fake_agent() as (peer, port), SnmpClient(timeout=2) as client:
            walking = asyncio.create_task(client.walk(Target("127.0.0.1", port), "1.3.6.1.2.1.1"))
            request, source = await next_request(peer)
            assert request.type is PduType.GET_BULK_REQUEST
            looping = reply(
                request.request_id, (1, 3, 6, 1, 2, 1, 1, 5, 0), (1, 3, 6, 1, 2, 1, 1, 1, 0)
            )
            await loop.sock_sendto(peer, looping, source)
            with pytest.raises(SnmpProtocolError, match="backwards"):
                await walking

    run(scenario())


def test_closing_fails_requests_in_flight() -> None:
    async def scenario() -> None:
        async with fake_agent() as (_, port):
            client = SnmpClient(timeout=5)
            await client.open()
            asking = asyncio.create_task(client.get(Target("127.0.0.1", port), [SYS_NAME]))
            await asyncio.sleep(0.01)
            client.close()
            with pytest.raises(SnmpError, match="closed"):
                await asking

    run(scenario())


def test_one_socket_serves_hundreds_of_targets_at_once() -> None:
    async def scenario() -> None:
        async with AgentServer(0) as server, SnmpClient(timeout=2) as client:
            addresses = [f"127.0.10.{n}" for n in range(1, 201)]
            for n, address in enumerate(addresses):
                await server.add(SimulatedAgent(address, device_view(f"dev{n}")))
            targets = [Target(a, server.port, Community("public")) for a in addresses]
            answers = await asyncio.gather(
                *(client.get(t, [SYS_NAME, SYS_UPTIME]) for t in targets)
            )
            assert [a[0].value for a in answers] == [f"dev{n}".encode() for n in range(200)]
            assert client.stats.sent == 200
            assert client.stats.retries == 0

    run(scenario())


# ---- SNMPv3 -----------------------------------------------------------------------------------


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_v3_resynchronises_after_reboots_clock_jumps_and_replacement() -> None:
    agent_clock, client_clock = Clock(), Clock()

    async def scenario() -> None:
        async with AgentServer(0) as server, SnmpClient(timeout=1, clock=client_clock) as client:
            agent = SimulatedAgent("127.0.20.1", device_view(), users=[LAB_USER], clock=agent_clock)
            await server.add(agent)
            target = Target("127.0.20.1", server.port, LAB_USER)
            assert (await client.get(target, [SYS_NAME]))[0].value == b"fw01"
            assert agent.stats.reports["unknownEngineIDs"] == 1  # the discovery

            agent_clock.now += 500  # time passes on both sides: no Report needed
            client_clock.now += 500
            await client.get(target, [SYS_NAME])
            assert agent.stats.reports["notInTimeWindows"] == 0

            agent.restart()  # the device reboots: boots + 1, time from 0
            await client.get(target, [SYS_NAME])
            assert agent.stats.reports["notInTimeWindows"] == 1

            client_clock.now += 3600  # our host was suspended for an hour
            await client.get(target, [SYS_NAME])
            assert agent.stats.reports["notInTimeWindows"] == 2

            replacement = SimulatedAgent(
                "127.0.20.1",
                device_view("fw01-new"),
                users=[LAB_USER],
                clock=agent_clock,
                engine_id=b"\x80\x00\x00\x00\x04replacement",
            )
            await server.add(replacement)  # a new box with a new engine ID
            assert (await client.get(target, [SYS_NAME]))[0].value == b"fw01-new"
            assert replacement.stats.reports["unknownEngineIDs"] == 2  # stale ID, then discovery

    run(scenario())


@pytest.mark.parametrize(
    ("user", "reason"),
    [
        (
            UsmUser("stranger", AuthProtocol.SHA, "authpass123", PrivProtocol.AES, "privpass123"),
            "unknownUserNames",
        ),
        (
            UsmUser("labops", AuthProtocol.SHA, "wrongpass1", PrivProtocol.AES, "privpass123"),
            "wrongDigests",
        ),
        (
            UsmUser("labops", AuthProtocol.SHA, "authpass123", PrivProtocol.AES, "wrongpass1"),
            "decryptionErrors",
        ),
        (UsmUser("labops", AuthProtocol.SHA, "authpass123"), "unsupportedSecLevels"),
        (
            UsmUser("labops", AuthProtocol.MD5, "authpass123", PrivProtocol.AES, "privpass123"),
            "wrongDigests",
        ),
    ],
)
def test_v3_refusals_are_auth_errors_that_do_not_retry(user: UsmUser, reason: str) -> None:
    async def scenario() -> SnmpAuthError:
        async with AgentServer(0) as server, SnmpClient(timeout=1) as client:
            await server.add(SimulatedAgent("127.0.21.1", device_view(), users=[LAB_USER]))
            with pytest.raises(SnmpAuthError) as caught:
                await client.get(Target("127.0.21.1", server.port, user), [SYS_NAME])
            assert client.stats.timeouts == 0
            return caught.value

    error = run(scenario())
    assert error.reason == reason
    assert not error.retryable


def test_v3_no_auth_user() -> None:
    guest = UsmUser("guest")

    async def scenario() -> None:
        async with AgentServer(0) as server, SnmpClient(timeout=1) as client:
            await server.add(SimulatedAgent("127.0.22.1", device_view(), users=[guest]))
            target = Target("127.0.22.1", server.port, guest)
            assert (await client.get(target, [SYS_NAME]))[0].value == b"fw01"

    run(scenario())


def test_walk_stops_an_endless_table() -> None:
    async def scenario() -> None:
        async with AgentServer(0) as server, SnmpClient(timeout=1) as client:
            await server.add(SimulatedAgent("127.0.23.1", device_view(interfaces=40)))
            target = Target("127.0.23.1", server.port, Community("public"))
            assert len(await client.walk(target, "1.3.6.1.2.1.2.2")) == 160
            with pytest.raises(SnmpProtocolError, match="exceeded 50"):
                await client.walk(target, "1.3.6.1.2.1.2.2", max_varbinds=50)

    run(scenario())
