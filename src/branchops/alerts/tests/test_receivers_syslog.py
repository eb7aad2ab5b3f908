"""The syslog receiver over real sockets: util-linux logger and raw UDP/TCP peers."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from branchops.alerts.receivers.limits import RateLimit
from branchops.alerts.receivers.syslog import SyslogReceiver
from branchops.alerts.receivers.testing import EventSink, ManualClock, run_tool, until

T = TypeVar("T")
LOGGER = shutil.which("logger")
needs_logger = pytest.mark.skipif(LOGGER is None, reason="util-linux logger is not installed")
VPN_DOWN = (
    '<185>date=2024-05-01 time=10:02:11 logid="0101037138" type="event" subtype="vpn" '
    'action="tunnel-down" remip=198.51.100.7 vpntunnel="BR-0001 VPN HQ"'
)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def receiver(sink: EventSink, **options: Any) -> SyslogReceiver:
    options.setdefault("clock", ManualClock())
    return SyslogReceiver(sink, host="127.0.0.1", udp_port=0, tcp_port=0, **options)


def udp_socket(source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    return sock


async def logger(server: SyslogReceiver, home: Path, *args: str) -> None:
    assert LOGGER is not None
    transport = "--tcp" if "--tcp" in args else "--udp"
    port = server.tcp_port if transport == "--tcp" else server.udp_port
    base = [LOGGER, "--server", "127.0.0.1", "--port", str(port)]
    code, output = await run_tool([*base, *args], home)
    assert code == 0, output


@needs_logger
def test_logger_rfc3164_over_udp_becomes_a_vpn_down_event(tmp_path: Path) -> None:
    async def scenario() -> EventSink:
        sink = EventSink()
        async with receiver(sink) as server:
            await logger(server, tmp_path, "--udp", "--rfc3164", "-t", "fw", "-p", "local0.err",
                         'logid="0101037138" action="tunnel-down" vpntunnel="HQ"')  # fmt: skip
            await sink.wait_for(1)
        return sink

    [event] = run(scenario()).events
    assert (event.source, event.sender, event.name, event.status) == (
        "syslog", "127.0.0.1", "vpn-down", "firing",
    )  # fmt: skip
    assert event.key == "vpn:HQ"
    assert event.labels["app"] == "fw"
    assert event.labels["facility"] == "16"  # local0
    assert event.received_at == ManualClock.WALL_OFFSET + 1000.0  # the injected clock


@needs_logger
@pytest.mark.parametrize("framing", [[], ["--octet-count"]], ids=["lf", "octet-count"])
def test_logger_rfc5424_over_tcp_in_both_framings(tmp_path: Path, framing: list[str]) -> None:
    async def scenario() -> tuple[EventSink, int]:
        sink = EventSink()
        async with receiver(sink) as server:
            await logger(server, tmp_path, "--tcp", "--rfc5424", *framing, "-t", "hq-fw",
                         "Admin user \"运维\" logged in through SSH from 192.0.2.44.")  # fmt: skip
            await logger(server, tmp_path, "--tcp", "--rfc5424", *framing, "second message")
            await sink.wait_for(2)
            return sink, server.stats.connections_opened

    sink, connections = run(scenario())
    login, other = sink.events
    assert (login.name, login.labels["user"]) == ("admin-login", "运维")
    assert login.labels["app"] == "hq-fw"
    assert (other.name, other.status) == ("message", "info")
    assert connections == 2


def test_raw_udp_gb18030_datagram_from_a_huawei_firewall() -> None:
    line = (
        "<188>2024-05-01 10:02:11 分支防火墙 %%01IPSEC-VPN/5/IPSEC_TUNNEL_TEARED_DOWN(l): An "
        "IPSec tunnel is teared down. (PolicyName=总部, SrcIP=203.0.113.10, DstIP=198.51.100.7, "
        "OfflineReason=dpd timeout)"
    )

    async def scenario() -> EventSink:
        sink = EventSink()
        async with receiver(sink) as server:
            with udp_socket() as sock:
                sock.sendto(line.encode("gb18030"), ("127.0.0.1", server.udp_port or 0))
            await sink.wait_for(1)
        return sink

    [event] = run(scenario()).events
    assert (event.name, event.key) == ("vpn-down", "vpn:198.51.100.7")
    assert event.labels["policy"] == "总部"
    assert event.labels["hostname"] == "分支防火墙"


def test_a_flood_is_dropped_and_counted_while_another_sender_gets_through() -> None:
    clock = ManualClock()

    async def scenario() -> tuple[SyslogReceiver, EventSink]:
        sink = EventSink()
        server = receiver(sink, clock=clock, rate_limit=RateLimit(rate=10, burst=20))
        async with server:
            address = ("127.0.0.1", server.udp_port or 0)
            with udp_socket("127.0.0.2") as flooder, udp_socket("127.0.0.3") as neighbour:
                for batch in range(5):  # in batches: the kernel must not drop any datagram
                    for _ in range(20):
                        flooder.sendto(VPN_DOWN.encode(), address)
                    await until(lambda b=batch: server.stats.received == 20 * (b + 1))
                for _ in range(3):
                    neighbour.sendto(b"<14>branch-2 app: still here", address)
                await until(lambda: server.stats.received == 103)
                clock.advance(1.0)  # ten more tokens for the flooder
                for _ in range(15):
                    flooder.sendto(VPN_DOWN.encode(), address)
                await until(lambda: server.stats.received == 118)
        return server, sink

    server, sink = run(scenario())
    stats = server.stats
    assert stats.dropped_rate_limited == 80 + 5
    assert stats.per_sender["127.0.0.2"].received == 115
    assert stats.per_sender["127.0.0.2"].dropped == 85
    assert stats.per_sender["127.0.0.3"].dropped == 0
    senders = [event.sender for event in sink.events]
    assert senders.count("127.0.0.2") == 20 + 10
    assert senders.count("127.0.0.3") == 3
    assert stats.parsed == len(sink.events) == 33


def test_garbage_and_oversized_datagrams_are_counted_not_raised() -> None:
    async def scenario() -> tuple[SyslogReceiver, EventSink]:
        sink = EventSink()
        server = receiver(sink, max_message=1024)
        async with server:
            address = ("127.0.0.1", server.udp_port or 0)
            with udp_socket() as sock:
                sock.sendto(bytes(range(32)) * 4, address)
                sock.sendto(b"<14>" + b"A" * 2000, address)
                sock.sendto(b"\r\n", address)
                sock.sendto(b"<14>app: fine", address)
                await until(lambda: server.stats.received == 4)
        return server, sink

    server, sink = run(scenario())
    assert (server.stats.malformed, server.stats.oversized) == (2, 1)
    assert [event.labels["app"] for event in sink.events] == ["app"]


async def tcp_exchange(server: SyslogReceiver, payload: bytes, *, half_close: bool) -> bytes:
    """Send ``payload``; what the server sends back before closing (always nothing)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.tcp_port)
    writer.write(payload)
    await writer.drain()
    if half_close:
        writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 10)  # EOF: the server closed on us
    writer.close()
    await writer.wait_closed()
    return data


def test_tcp_frame_over_the_limit_closes_the_connection() -> None:
    async def scenario() -> SyslogReceiver:
        server = receiver(EventSink(), max_message=1024)
        async with server:
            payload = b"9 <14>a b c\n" + b"99999 <14>" + b"x" * 100
            assert await tcp_exchange(server, payload, half_close=False) == b""
            await until(lambda: server.stats.connections_closed_abusive == 1)
        return server

    stats = run(scenario()).stats
    assert (stats.parsed, stats.oversized) == (1, 1)


def test_half_an_octet_counted_frame_at_end_of_stream_is_malformed() -> None:
    async def scenario() -> SyslogReceiver:
        server = receiver(EventSink())
        async with server:
            await tcp_exchange(server, b"11 <14>app: ok40 <14>only part", half_close=True)
            await until(lambda: server.stats.malformed == 1)
        return server

    stats = run(scenario()).stats
    assert (stats.parsed, stats.malformed) == (1, 1)


def test_an_unterminated_last_line_at_end_of_stream_is_accepted() -> None:
    async def scenario() -> EventSink:
        sink = EventSink()
        async with receiver(sink) as server:
            await tcp_exchange(server, b"<14>a: one\n<14>b: two", half_close=True)
            await sink.wait_for(2)
        return sink

    assert [event.labels["app"] for event in run(scenario()).events] == ["a", "b"]


def test_idle_connections_are_closed() -> None:
    async def scenario() -> SyslogReceiver:
        server = receiver(EventSink(), idle_timeout=0.05)
        async with server:
            assert await tcp_exchange(server, b"<14>a: hello\n", half_close=False) == b""
        return server

    stats = run(scenario()).stats
    assert (stats.connections_closed_idle, stats.parsed) == (1, 1)


def test_connections_over_the_limit_are_refused() -> None:
    async def scenario() -> SyslogReceiver:
        server = receiver(EventSink(), max_connections=1)
        async with server:
            _, first = await asyncio.open_connection("127.0.0.1", server.tcp_port)
            await until(lambda: server.stats.connections_opened == 1)
            assert await tcp_exchange(server, b"<14>a: refused\n", half_close=False) == b""
            first.close()
            await first.wait_closed()
        return server

    stats = run(scenario()).stats
    assert (stats.connections_refused, stats.parsed) == (1, 0)


def test_a_failing_callback_is_counted_and_the_receiver_keeps_going() -> None:
    seen: list[str] = []

    def callback(event: Any) -> None:
        seen.append(event.name)
        raise RuntimeError("pipeline is down")

    async def scenario() -> SyslogReceiver:
        server = SyslogReceiver(callback, udp_port=0, tcp_port=None)
        async with server:
            with udp_socket() as sock:
                for _ in range(2):
                    sock.sendto(b"<14>h a: x", ("127.0.0.1", server.udp_port or 0))
                await until(lambda: server.stats.callback_errors == 2)
        return server

    run(scenario())
    assert seen == ["message", "message"]


def test_a_coroutine_callback_runs_and_is_awaited_on_close() -> None:
    received: list[str] = []

    async def callback(event: Any) -> None:
        await asyncio.sleep(0)
        received.append(event.key)

    async def scenario() -> SyslogReceiver:
        server = SyslogReceiver(callback, udp_port=0, tcp_port=None, clock=ManualClock())
        async with server:
            with udp_socket() as sock:
                sock.sendto(VPN_DOWN.encode(), ("127.0.0.1", server.udp_port or 0))
            await until(lambda: server.stats.parsed == 1)
        return server

    stats = run(scenario()).stats.snapshot()
    assert received == ["vpn:BR-0001 VPN HQ"]
    assert stats["matched"] == 1
    assert stats["per_sender"] == {"127.0.0.1": {"received": 1, "dropped_rate_limited": 0}}
