"""A lab NTP server: answers SNTP clients as stratum 2, with a clock offset per address.

ONE UDP socket bound to the port on 0.0.0.0 serves every simulated device: IP_PKTINFO says
which 127.x address each request was sent to, and the reply leaves from that address with
``sendmsg`` (the technique of :mod:`branchops.snmp.agent`). Each address answers with the
lab clock plus its own offset, so the lab can inject "clock drift" on one device while the
others stay right. Faults per address: ``unsynchronised`` (leap indicator 3), ``kiss``
(a RATE kiss-o'-death) and ``silent`` (no answer). Requests from or to addresses outside
127.0.0.0/8 are dropped; malformed requests are counted and dropped.

    responder = NtpResponder(12300, {"127.1.0.1": 0.150})
    await responder.start()
    responder.set_offset("127.1.0.2", 2.0)
    responder.stop()
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from branchops.monitoring.collectors.ntp import (
    LEAP_UNSYNCHRONISED,
    MODE_CLIENT,
    MODE_SERVER,
    NtpPacket,
    to_ntp,
)

IP_PKTINFO: Final = getattr(socket, "IP_PKTINFO", 8)  # Linux value; Python 3.11 lacks it
_CMSG_SPACE: Final = socket.CMSG_SPACE(12)  # struct in_pktinfo
_BATCH: Final = 256  # requests answered per wake-up before yielding to the event loop
_STRATUM: Final = 2
_PRECISION: Final = -20  # about a microsecond, as log2 seconds
_ROOT_DELAY: Final = 0x0000_0148  # 5 ms in 16.16 fixed point: one hop to a stratum-1 server
_ROOT_DISPERSION: Final = 0x0000_0290  # 10 ms
_REFERENCE_AGE: Final = 16.0  # seconds since the lab "synchronised" to its upstream
_UPSTREAM: Final = socket.inet_aton("127.0.0.1")  # refid of a stratum-2 server: upstream IPv4

Fault = Literal["unsynchronised", "kiss", "silent"]


@dataclass(slots=True)
class ResponderStats:
    received: int = 0
    answered: int = 0
    malformed: int = 0  # too short, or not a client request
    foreign: int = 0  # from or to an address outside 127.0.0.0/8
    silent: int = 0
    send_failures: int = 0


class NtpResponder:
    """Serves SNTP on ``port`` for every 127.x address; ``offsets`` in seconds by address."""

    def __init__(
        self,
        port: int,
        offsets: dict[str, float] | None = None,
        *,
        bind: str = "0.0.0.0",  # noqa: S104 - one socket for all 127.x; others are dropped
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.port = port
        self.bind = bind
        self.stats = ResponderStats()
        self._clock = clock
        self._offsets: dict[bytes, float] = {}
        self._faults: dict[bytes, Fault] = {}
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        for address, seconds in (offsets or {}).items():
            self.set_offset(address, seconds)

    def set_offset(self, address: str, seconds: float) -> None:
        """From now on ``address`` answers with the lab clock plus ``seconds``."""
        self._offsets[_packed(address)] = float(seconds)

    def offset(self, address: str) -> float:
        return self._offsets.get(_packed(address), 0.0)

    def set_fault(self, address: str, fault: Fault | None) -> None:
        """Make ``address`` answer unsynchronised, with a kiss-o'-death, or not at all
        (None heals it)."""
        packed = _packed(address)
        if fault is None:
            self._faults.pop(packed, None)
        else:
            self._faults[packed] = fault

    async def start(self) -> None:
        if self._sock is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            sock.setblocking(False)
            sock.bind((self.bind, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._on_readable)

    def stop(self) -> None:
        if self._sock is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._sock = None

    async def __aenter__(self) -> NtpResponder:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(_BATCH):
            try:
                data, ancillary, _flags, source = sock.recvmsg(1024, _CMSG_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.stats.send_failures += 1  # a queued ICMP error; keep serving
                continue
            received = self._clock()
            self.stats.received += 1
            destination = _destination(ancillary)
            if not (destination[:1] == b"\x7f" and source[0].startswith("127.")):
                self.stats.foreign += 1
                continue
            reply = self._answer(data, destination, received)
            if reply is not None:
                self._send(sock, reply, destination, source)

    def _answer(self, data: bytes, destination: bytes, received: float) -> bytes | None:
        try:
            request = NtpPacket.decode(data)
        except ValueError:
            request = None
        if request is None or request.mode != MODE_CLIENT or not 1 <= request.version <= 4:
            self.stats.malformed += 1
            return None
        fault = self._faults.get(destination)
        if fault == "silent":
            self.stats.silent += 1
            return None
        offset = self._offsets.get(destination, 0.0)
        now = self._clock() + offset
        reply = NtpPacket(
            leap=LEAP_UNSYNCHRONISED if fault == "unsynchronised" else 0,
            version=request.version,
            mode=MODE_SERVER,
            stratum=0 if fault == "kiss" else _STRATUM,
            poll=request.poll,
            precision=_PRECISION,
            root_delay=_ROOT_DELAY,
            root_dispersion=_ROOT_DISPERSION,
            reference_id=b"RATE" if fault == "kiss" else _UPSTREAM,
            reference=to_ntp(now - _REFERENCE_AGE),
            origin=request.transmit,  # echoed untouched: the client's nonce
            receive=to_ntp(received + offset),
            transmit=to_ntp(now),
        )
        self.stats.answered += 1
        return reply.encode()

    def _send(self, sock: socket.socket, reply: bytes, source: bytes, to: tuple[str, int]) -> None:
        pktinfo = bytes(4) + source + bytes(4)  # struct in_pktinfo: reply from that address
        try:
            sock.sendmsg([reply], [(socket.IPPROTO_IP, IP_PKTINFO, pktinfo)], 0, to)
        except OSError:
            self.stats.send_failures += 1


def _packed(address: str) -> bytes:
    parsed = ipaddress.IPv4Address(address)
    if not parsed.is_loopback:
        raise ValueError(f"the lab NTP responder serves 127.0.0.0/8 only, not {address}")
    return parsed.packed


def _destination(ancillary: list[tuple[int, int, bytes]]) -> bytes:
    """The packed destination address from IP_PKTINFO (struct in_pktinfo.ipi_addr)."""
    for level, kind, payload in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(payload) >= 12:
            return payload[8:12]
    return b""
