"""NTP clock offset: one SNTP exchange (RFC 4330, client mode of RFC 5905) with a server.

The four timestamps give the offset of the server's clock from ours and the round-trip
delay: offset = ((T2 - T1) + (T3 - T4)) / 2, delay = (T4 - T1) - (T3 - T2), where T1 and T4
are our send and receive times (from the injected clock) and T2, T3 the server's. Our
transmit timestamp field carries a random 64-bit nonce instead of T1 (as RFC 9109 and
modern clients do); a reply counts only if it echoes it as its origin timestamp, so strays
and spoofs are ignored. Kiss-o'-death (stratum 0) and an unsynchronised server (leap
indicator 3, or stratum 16) are ``down``; the offset thresholds come from the check
(DOMAIN.md: within 100 ms, alarm when off).

The packet layout and timestamp conversions here are shared with the lab's responder.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from branchops.monitoring.collectors import Context
from branchops.monitoring.collectors.base import (
    CheckSpec,
    CollectorError,
    ConfigError,
    Result,
    Sample,
    State,
    labels_of,
    typed_params,
)
from branchops.monitoring.params import NtpParams

NTP_UNIX_DELTA: Final = 2_208_988_800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01
ERA: Final = 2**32  # seconds in one NTP era
PACKET: Final = struct.Struct("!BBbbIII4Q")  # RFC 5905 figure 8, without extensions or MAC
MODE_CLIENT: Final = 3
MODE_SERVER: Final = 4
LEAP_UNSYNCHRONISED: Final = 3
STRATUM_UNSYNCHRONISED: Final = 16


@dataclass(frozen=True, slots=True)
class NtpPacket:
    leap: int
    version: int
    mode: int
    stratum: int
    poll: int
    precision: int
    root_delay: int  # 16.16 fixed point seconds
    root_dispersion: int
    reference_id: bytes
    reference: int  # 64-bit NTP timestamps (32.32 fixed point)
    origin: int
    receive: int
    transmit: int

    def encode(self) -> bytes:
        first = (self.leap << 6) | (self.version << 3) | self.mode
        return PACKET.pack(
            first,
            self.stratum,
            self.poll,
            self.precision,
            self.root_delay,
            self.root_dispersion,
            int.from_bytes(self.reference_id[:4].ljust(4, b"\0"), "big"),
            self.reference,
            self.origin,
            self.receive,
            self.transmit,
        )

    @classmethod
    def decode(cls, data: bytes) -> NtpPacket:
        """The packet in ``data`` (extension fields and MAC ignored); ValueError if short."""
        if len(data) < PACKET.size:
            raise ValueError(f"{len(data)} octets, an NTP packet has at least {PACKET.size}")
        first, stratum, poll, precision, delay, dispersion, refid, *stamps = PACKET.unpack_from(
            data
        )
        return cls(
            first >> 6,
            (first >> 3) & 0x7,
            first & 0x7,
            stratum,
            poll,
            precision,
            delay,
            dispersion,
            refid.to_bytes(4, "big"),
            *stamps,
        )


def to_ntp(unix: float) -> int:
    """A Unix time as a 64-bit NTP timestamp (wrapping into era 1 after 2036)."""
    seconds = unix + NTP_UNIX_DELTA
    whole = int(seconds // 1)
    fraction = int((seconds - whole) * ERA)
    return ((whole % ERA) << 32) | min(fraction, ERA - 1)


def from_ntp(stamp: int, near: float) -> float:
    """A 64-bit NTP timestamp as Unix time, in the era that puts it closest to ``near``
    (RFC 5905 section 6: the era is not on the wire)."""
    seconds = (stamp >> 32) + (stamp & 0xFFFFFFFF) / ERA - NTP_UNIX_DELTA
    return seconds + round((near - seconds) / ERA) * ERA


def kiss_code(packet: NtpPacket) -> str:
    return packet.reference_id.decode("ascii", "replace").strip("\0 ") or "?"


# ---- the collector ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Sample:
    packet: NtpPacket
    sent: float  # T1, our clock
    received: float  # T4, our clock


class NtpCollector:
    """The offset of ``spec.target``'s clock from ours."""

    kind = "ntp"

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._monotonic = monotonic

    @classmethod
    def from_context(cls, context: Context) -> NtpCollector:
        return cls(context.clock, context.monotonic)

    async def aclose(self) -> None:
        """Nothing to close: each exchange has its own socket."""

    async def collect(self, spec: CheckSpec) -> Result:
        params = typed_params(spec, NtpParams)
        server = _server(spec.target, params.port)
        started, begin = self._clock(), self._monotonic()
        where = f"{spec.target}:{params.port}"
        rejected: list[str] = []
        try:
            async with asyncio.timeout(spec.timeout_s):
                exchange = await self._exchange(server, rejected)
        except TimeoutError:
            if rejected:
                raise CollectorError(f"{where}: malformed answer: {rejected[-1]}") from None
            return _down(spec, started, self._monotonic() - begin, f"{where}: no answer")
        except OSError as exc:
            reason = "port unreachable" if isinstance(exc, ConnectionRefusedError) else exc
            return _down(spec, started, self._monotonic() - begin, f"{where}: {reason}")
        return _judge(spec, params, exchange, started, self._monotonic() - begin)

    async def _exchange(self, server: tuple[str, int], rejected: list[str]) -> _Sample:
        loop = asyncio.get_running_loop()
        nonce = secrets.randbits(64)
        request = NtpPacket(0, 4, MODE_CLIENT, 0, 0, 0, 0, 0, b"", 0, 0, 0, nonce).encode()
        family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        with _new_socket(family, socket.SOCK_DGRAM) as sock:
            await loop.sock_connect(sock, server)  # the kernel drops other sources
            sent = self._clock()
            await loop.sock_sendall(sock, request)
            while True:
                data = await loop.sock_recv(sock, 1024)
                received = self._clock()
                packet = _our_reply(data, nonce, rejected)
                if packet is not None:
                    return _Sample(packet, sent, received)


def _our_reply(data: bytes, nonce: int, rejected: list[str]) -> NtpPacket | None:
    """The server's reply to our request; None (noting why) for anything else."""
    try:
        packet = NtpPacket.decode(data)
    except ValueError as exc:
        rejected.append(str(exc))
        return None
    if packet.origin != nonce:
        return None  # a stray, a late answer to someone else, or a spoof
    if packet.mode != MODE_SERVER or not 1 <= packet.version <= 4:
        rejected.append(f"mode {packet.mode}, version {packet.version}")
        return None
    if packet.stratum and (packet.transmit == 0 or packet.receive == 0):
        rejected.append("server timestamps missing")
        return None
    return packet


def _server(target: str, port: int) -> tuple[str, int]:
    try:
        return str(ipaddress.ip_address(target)), port
    except ValueError:
        raise ConfigError(f"NTP server must be an IP address, not {target!r}") from None


def _down(spec: CheckSpec, started: float, elapsed: float, error: str) -> Result:
    return Result(spec.check_id, State.DOWN, started, elapsed, (), error)


def _judge(
    spec: CheckSpec, params: NtpParams, exchange: _Sample, started: float, elapsed: float
) -> Result:
    packet = exchange.packet
    if packet.stratum == 0:
        error = f"kiss-o'-death {kiss_code(packet)}: the server refuses to serve us"
        return _down(spec, started, elapsed, error)
    if packet.leap == LEAP_UNSYNCHRONISED or packet.stratum >= STRATUM_UNSYNCHRONISED:
        error = f"the server is not synchronised (leap {packet.leap}, stratum {packet.stratum})"
        return _down(spec, started, elapsed, error)
    t1, t4 = exchange.sent, exchange.received
    t2, t3 = from_ntp(packet.receive, t1), from_ntp(packet.transmit, t4)
    offset = ((t2 - t1) + (t3 - t4)) / 2
    delay = max((t4 - t1) - (t3 - t2), 0.0)  # below zero only when a clock stepped
    labels = labels_of(spec)
    samples = (
        Sample("branchops_ntp_offset_seconds", offset, labels),
        Sample("branchops_ntp_delay_seconds", delay, labels),
        Sample("branchops_ntp_stratum", packet.stratum, labels),
    )
    offset_ms = offset * 1000
    summary = f"offset {offset_ms:+.1f} ms, delay {delay * 1000:.2f} ms, stratum {packet.stratum}"
    state, error = State.UP, ""
    if abs(offset_ms) > params.offset_down_ms:
        state, error = State.DOWN, f"clock off by {offset_ms:+.0f} ms"
    elif abs(offset_ms) > params.offset_degraded_ms:
        state, error = State.DEGRADED, f"clock off by {offset_ms:+.0f} ms"
    if state is not State.UP:
        error += f" (limit {params.offset_degraded_ms:g} ms, down above {params.offset_down_ms:g})"
    return Result(spec.check_id, state, started, elapsed, samples, error, summary)


def _new_socket(family: socket.AddressFamily, kind: socket.SocketKind) -> socket.socket:
    """A non-blocking socket; running out of them is our trouble, not the target's."""
    try:
        sock = socket.socket(family, kind)
    except OSError as exc:
        raise CollectorError(f"cannot open a socket: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock
