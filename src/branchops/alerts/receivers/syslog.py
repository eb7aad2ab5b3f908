"""The syslog receiver: UDP and TCP listeners that turn messages into events.

Each message goes through the same steps whatever carried it: count it for its sender,
check the sender's token bucket (a flood is dropped here, before any parsing), check the
size, parse, classify with the parse rules, hand the event to the callback. All of it is
synchronous and cheap, so one busy sender cannot hold the event loop, and the TCP side
never stops reading: over-budget messages are dropped and counted, not queued.

TCP connections are closed when idle for ``idle_timeout`` seconds (the event loop's timer,
not the injected clock: it guards sockets, not events), when a frame is longer than
``max_message``, and when more than ``max_connections`` are open (the newest is refused).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final, cast

from branchops.alerts.receivers.delivery import Delivery
from branchops.alerts.receivers.events import (
    INFO,
    SOURCE_SYSLOG,
    EventCallback,
    InboundEvent,
    bounded,
    clean_labels,
    title_for,
)
from branchops.alerts.receivers.framing import FrameDecoder, FrameError
from branchops.alerts.receivers.limits import (
    Clock,
    RateLimit,
    ReceiverStats,
    SenderLimiter,
    SystemClock,
)
from branchops.alerts.receivers.rules import (
    RuleBook,
    family_of,
    load_rules,
    render_key,
    subject_of,
)
from branchops.alerts.receivers.syslog_parser import SyslogMessage, SyslogParseError, parse

log = logging.getLogger(__name__)

MAX_MESSAGE: Final = 8192


def classify(message: SyslogMessage, sender: str, now: float, rules: RuleBook) -> InboundEvent:
    """The event for one parsed message: the first matching rule's, else a "message"."""
    labels = {
        "hostname": message.hostname,
        "app": message.app,
        "facility": str(message.facility),
        "syslog_severity": message.severity_name,
    }
    found = rules.match(message.line)
    text = bounded(message.line)
    if found is None:
        labels = clean_labels(labels)
        return InboundEvent(
            SOURCE_SYSLOG, sender, now, "message", INFO, None,
            title_for("message", message.app), text, f"message:{message.app}", labels,
        )  # fmt: skip
    outcome, extracted = found
    labels.update(extracted, vendor=outcome.vendor, rule=outcome.rule)
    labels = clean_labels(labels)
    return InboundEvent(
        source=SOURCE_SYSLOG,
        sender=sender,
        received_at=now,
        name=outcome.name,
        status=outcome.status,
        severity=outcome.severity,
        title=title_for(outcome.name, subject_of(labels)),
        message=text,
        key=render_key(outcome.key, labels, family_of(outcome.name)),
        labels=labels,
    )


class SyslogReceiver:
    """Listens for syslog on ``host`` over UDP and/or TCP (a port of None disables one,
    0 picks a free port; the bound ports are in :attr:`udp_port` and :attr:`tcp_port`)."""

    def __init__(
        self,
        callback: EventCallback,
        *,
        host: str = "127.0.0.1",
        udp_port: int | None = 514,
        tcp_port: int | None = 514,
        rules: RuleBook | None = None,
        rate_limit: RateLimit | None = None,
        max_message: int = MAX_MESSAGE,
        idle_timeout: float = 300.0,
        max_connections: int = 512,
        clock: Clock | None = None,
    ) -> None:
        self.host = host
        self.udp_port = udp_port
        self.tcp_port = tcp_port
        self.rules = rules if rules is not None else load_rules()
        self.max_message = max_message
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.stats = ReceiverStats()
        self._clock = clock or SystemClock()
        self._limiter = SenderLimiter(rate_limit or RateLimit(), self._clock)
        self._deliver = Delivery(callback, self.stats)
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[_TcpConnection] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.udp_port is not None:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(self.host, self.udp_port)
            )
            self._udp = transport
            self.udp_port = int(transport.get_extra_info("sockname")[1])
        if self.tcp_port is not None:
            self._server = await loop.create_server(
                lambda: _TcpConnection(self), self.host, self.tcp_port
            )
            self.tcp_port = int(self._server.sockets[0].getsockname()[1])

    async def aclose(self) -> None:
        """Stop listening, drop open connections, wait for pending callbacks."""
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._server is not None:
            self._server.close()
            for connection in list(self._connections):
                connection.close()
            await self._server.wait_closed()
            self._server = None
        await asyncio.sleep(0)  # let connection_lost callbacks run before the loop ends
        await self._deliver.aclose()

    async def __aenter__(self) -> SyslogReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def handle(self, raw: bytes, sender: str) -> InboundEvent | None:
        """Process one message from ``sender``; the event, or None when it was dropped."""
        counts = self.stats.count_received(sender)
        if not self._limiter.allow(sender):
            self.stats.dropped_rate_limited += 1
            counts.dropped += 1
            return None
        if len(raw) > self.max_message:
            self.stats.oversized += 1
            return None
        try:
            message = parse(raw)
        except SyslogParseError:
            self.stats.malformed += 1
            return None
        event = classify(message, sender, self._clock.wall(), self.rules)
        self.stats.parsed += 1
        if event.name != "message":
            self.stats.matched += 1
        self._deliver(event)
        return event


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, receiver: SyslogReceiver) -> None:
        self.receiver = receiver

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        # One datagram is one message (RFC 5426 3.1); a trailing LF is tolerated by parse.
        self.receiver.handle(data, str(addr[0]))

    def error_received(self, exc: Exception) -> None:
        log.debug("syslog UDP socket error: %s", exc)


class _TcpConnection(asyncio.Protocol):
    def __init__(self, receiver: SyslogReceiver) -> None:
        self.receiver = receiver
        self.decoder = FrameDecoder(receiver.max_message)
        self.sender = ""
        self.transport: asyncio.Transport | None = None
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        receiver = self.receiver
        if len(receiver._connections) >= receiver.max_connections:
            receiver.stats.connections_refused += 1
            self.transport.abort()
            return
        peer = transport.get_extra_info("peername")
        self.sender = str(peer[0]) if peer else "unknown"
        receiver._connections.add(self)
        receiver.stats.connections_opened += 1
        self._arm_idle_timer()

    def data_received(self, data: bytes) -> None:
        self._arm_idle_timer()
        for frame in self.decoder.feed(data):
            self.receiver.handle(frame, self.sender)
        if self.decoder.failure is not None:
            self._abusive(self.decoder.failure)

    def eof_received(self) -> bool:
        try:
            rest = self.decoder.finish()
        except FrameError:
            self.receiver.stats.malformed += 1  # half an octet-counted frame
            return False
        if rest is not None:
            self.receiver.handle(rest, self.sender)
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self.receiver._connections.discard(self)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _abusive(self, reason: str) -> None:
        stats = self.receiver.stats
        stats.connections_closed_abusive += 1
        if reason == "oversized":
            stats.oversized += 1
        else:
            stats.malformed += 1
        self.close()

    def _arm_idle_timer(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        loop = asyncio.get_running_loop()
        self._idle = loop.call_later(self.receiver.idle_timeout, self._close_idle)

    def _close_idle(self) -> None:
        self.receiver.stats.connections_closed_idle += 1
        self.close()
