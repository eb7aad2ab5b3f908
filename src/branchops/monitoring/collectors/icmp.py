"""ICMP echo: loss, round-trip times and jitter for thousands of targets over one socket.

One :class:`Pinger` per engine owns one ICMP socket per address family. It prefers a
datagram ICMP socket (``SOCK_DGRAM, IPPROTO_ICMP``: no privilege needed where the sysctl
``net.ipv4.ping_group_range`` admits our group; the kernel sets the identifier and hands us
only our own replies) and falls back to a raw socket (root or CAP_NET_RAW), on which a
kernel ICMP filter keeps everything but echo replies out of our receive queue.

Requests are matched to replies by (source address, identifier, sequence): the identifier is
the socket's, sequence numbers are counted per target, so two targets never compete for one
key and one target wraps only after 65,536 of its own requests. A reply must also carry our
random payload cookie. Anything else (other pingers' replies, replies after the check gave up,
forged packets) costs one dict miss.

Sending is paced: requests go through one queue that a token bucket drains in small batches,
and the receive queue is drained between batches, so a sweep of 10,000 targets neither
overflows the socket buffers nor bursts into a branch's VPN; the pacer yields to the event
loop between batches and sleeps only when the bucket is empty. Each check's result is built
as soon as its last reply comes (or it gives up), not all at the end of a sweep. Round-trip
times come from the kernel's receive timestamp (SO_TIMESTAMPNS), so a busy event loop does
not inflate them.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import heapq
import itertools
import os
import secrets
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final

from branchops.monitoring.collectors import Context
from branchops.monitoring.collectors.base import (
    CheckSpec,
    ConfigError,
    Result,
    Sample,
    State,
    typed_params,
)
from branchops.monitoring.params import IcmpParams

# Linux constants that Python 3.11's socket module does not export.
SO_TIMESTAMPNS: Final = getattr(socket, "SO_TIMESTAMPNS", 35)
SOL_RAW: Final = 255
ICMP_FILTER: Final = 1  # struct icmp_filter: a set bit drops that ICMP type
ICMP6_FILTER: Final = 1  # struct icmp6_filter: 256 bits, a set bit drops that type

ECHO_REQUEST: Final = {socket.AF_INET: 8, socket.AF_INET6: 128}
ECHO_REPLY: Final = {socket.AF_INET: 0, socket.AF_INET6: 129}
PROTOCOL: Final = {socket.AF_INET: socket.IPPROTO_ICMP, socket.AF_INET6: socket.IPPROTO_ICMPV6}

SHARED_KEY: Final = "icmp.pinger"
DEFAULT_MAX_PPS: Final = 100_000  # requests per second over all targets (context option)
_BURST: Final = 256  # requests sent per batch before the receive queue is drained again
_RECV_BATCH: Final = 1024  # replies read per wake-up before yielding to the event loop
_SOCKET_BUFFER: Final = 8 * 1024 * 1024  # the kernel caps it at net.core.rmem_max
_RECV_SIZE: Final = 2048  # IP header (60) + ICMP header (8) + the largest payload (1472)
_CMSG_SPACE: Final = socket.CMSG_SPACE(16)  # struct timespec
_HEADER: Final = struct.Struct("!BBHHH")
_TYPE_ID_SEQ: Final = struct.Struct("!BxxxHH")  # type, code, checksum, identifier, sequence
_TIMESPEC: Final = struct.Struct("=qq")
_COOKIE_SIZE: Final = 8
_RETRY_OPEN_S: Final = 60.0  # after a refused open: privileges change rarely
_TIMER_SLACK: Final = 0.001  # asyncio may run a timer up to its clock resolution early


def ones_complement_sum(data: bytes) -> int:
    """RFC 1071 sum of ``data`` as big-endian 16-bit words, folded to 16 bits."""
    if len(data) % 2:
        data += b"\0"
    # Summing the high and the low bytes apart runs at C speed (no per-word Python loop).
    total = (sum(data[0::2]) << 8) + sum(data[1::2])
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def checksum(data: bytes) -> int:
    """The Internet checksum of ``data`` (the checksum field itself must be zero)."""
    return ~ones_complement_sum(data) & 0xFFFF


class EchoTemplate:
    """Echo requests of one type, identifier and payload, differing only in sequence.

    The checksum is precomputed over everything but the sequence number and finished with
    one addition per packet, instead of summing the whole packet every time.
    """

    __slots__ = ("_base", "_ident", "_payload", "_type")

    def __init__(self, icmp_type: int, ident: int, payload: bytes) -> None:
        self._type = icmp_type
        self._ident = ident
        self._payload = payload
        self._base = ones_complement_sum(_HEADER.pack(icmp_type, 0, 0, ident, 0) + payload)

    def packet(self, seq: int) -> bytes:
        total = self._base + seq
        total = (total & 0xFFFF) + (total >> 16)
        total = (total & 0xFFFF) + (total >> 16)
        return _HEADER.pack(self._type, 0, ~total & 0xFFFF, self._ident, seq) + self._payload


class Waiter:
    """Wakes one coroutine when every probe it waits for has finished."""

    __slots__ = ("future", "remaining", "since", "started")

    def __init__(self, future: asyncio.Future[None], started: float, since: float) -> None:
        self.future = future
        self.remaining = 0
        self.started = started  # wall clock, for the results' started_at
        self.since = since  # monotonic (the loop's clock), for their durations

    def finished(self) -> None:
        self.remaining -= 1
        if self.remaining <= 0 and not self.future.done():
            self.future.set_result(None)


class EchoPlan:
    """What one check pings and how, worked out once per spec: specs are frozen and live as
    long as the engine, and a sweep of 10,000 targets would otherwise redo this every time."""

    __slots__ = ("address", "dest", "family", "losses", "params", "spec", "stat_labels")

    def __init__(
        self, spec: CheckSpec, params: IcmpParams, address: str, family: socket.AddressFamily
    ) -> None:
        self.spec = spec
        self.params = params
        self.address = address  # as the kernel reports a reply's source
        self.dest = (address, 0)
        self.family = family
        self.stat_labels = _stat_labels(spec.label_items)
        # Loss samples are the same few values every run: made once each, then shared
        # (samples are frozen).
        self.losses: dict[float, Sample] = {}

    def loss_sample(self, loss: float) -> Sample:
        sample = self.losses.get(loss)
        if sample is None:
            sample = self.losses[loss] = Sample(
                "branchops_icmp_loss_ratio", loss, self.spec.label_items
            )
        return sample


class Probe:
    """The echo requests of one check run to one target, and what came back."""

    __slots__ = (
        "address",
        "dest",
        "duration",
        "finished",
        "outstanding",
        "plan",
        "received",
        "result",
        "rtts",
        "send_errors",
        "seqs",
        "size",
        "template",
        "waiter",
    )

    def __init__(self, plan: EchoPlan, template: EchoTemplate, waiter: Waiter) -> None:
        count = plan.params.count
        self.plan = plan
        self.address = plan.address
        self.dest = plan.dest
        self.size = plan.params.size
        self.template = template
        self.rtts: list[float | None] = [None] * count
        self.seqs: list[int | None] = [None] * count
        self.outstanding = count
        self.received = 0
        self.send_errors: list[str] | None = None  # made on the first failure only
        self.finished = False
        self.duration = 0.0  # from the start of the sweep to the last reply or giving up
        self.result: Result | None = None
        self.waiter = waiter

    def answered(self, index: int, rtt: float) -> None:
        if self.rtts[index] is None:
            self.rtts[index] = rtt
            self.received += 1
            self.outstanding -= 1
            if not self.outstanding:
                self.finish()

    def failed(self, message: str) -> None:
        if self.send_errors is None:
            self.send_errors = []
        self.send_errors.append(message)
        self.outstanding -= 1
        if not self.outstanding:
            self.finish()

    def finish(self) -> None:
        """Done: the result is built now, while the sweep's other requests are still paced
        out (time the sweep would otherwise spend waiting for tokens), not all at the end."""
        if self.finished:
            return
        self.finished = True
        waiter = self.waiter
        self.duration = time.monotonic() - waiter.since
        try:
            self.result = _result(self, waiter.started, self.duration)
        except Exception:  # outcome() raises it again, to the check's caller, and not into
            self.result = None  # the reader callback that drains the socket for everyone
        waiter.finished()

    def outcome(self) -> Result:
        if self.result is None:  # only if building it in finish() failed
            self.result = _result(self, self.waiter.started, self.duration)
        return self.result


def _open(family: socket.AddressFamily, kind: str) -> socket.socket:
    sock_type = socket.SOCK_DGRAM if kind == "datagram" else socket.SOCK_RAW
    sock = socket.socket(family, sock_type, PROTOCOL[family])
    try:
        sock.setblocking(False)
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            sock.setsockopt(socket.SOL_SOCKET, option, _SOCKET_BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        if kind == "raw":
            _filter_echo_replies(sock, family)
        else:
            # Binding fixes the identifier (the kernel's "port") before the first send;
            # ICMP sockets accept no connections, so the wildcard exposes nothing.
            sock.bind(("0.0.0.0", 0) if family == socket.AF_INET else ("::", 0))  # noqa: S104
    except OSError:
        sock.close()
        raise
    return sock


def _filter_echo_replies(sock: socket.socket, family: socket.AddressFamily) -> None:
    """Let the kernel drop every ICMP type but echo reply before it reaches our queue (on
    loopback a raw socket would otherwise also receive each of our own requests)."""
    if family == socket.AF_INET:
        sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("=I", ~(1 << 0) & 0xFFFFFFFF))
    else:
        words = [0xFFFFFFFF] * 8
        words[129 >> 5] &= ~(1 << (129 & 31))
        sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("=8I", *words))


def open_icmp_socket(
    family: socket.AddressFamily, prefer: str = "auto"
) -> tuple[socket.socket, str]:
    """A non-blocking ICMP socket and its kind ("datagram" or "raw"), or ConfigError."""
    kinds = ("datagram", "raw") if prefer == "auto" else (prefer,)
    failures: dict[str, OSError] = {}
    for kind in kinds:
        try:
            return _open(family, kind), kind
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EPROTONOSUPPORT):
                raise ConfigError(f"cannot open a {kind} ICMP socket: {exc}") from exc
            failures[kind] = exc
    raise ConfigError(_privilege_message(failures))


def _privilege_message(failures: dict[str, OSError]) -> str:
    parts = []
    if "datagram" in failures:
        try:
            with open("/proc/sys/net/ipv4/ping_group_range") as handle:
                current = " ".join(handle.read().split())
        except OSError:
            current = "unknown"
        parts.append(
            f"a datagram ICMP socket needs sysctl net.ipv4.ping_group_range (now {current!r}) "
            f"to include group {os.getegid()}"
        )
    if "raw" in failures:
        parts.append("a raw ICMP socket needs root or the CAP_NET_RAW capability")
    return "ICMP echo is not permitted: " + "; ".join(parts)


class IcmpSocket:
    """One ICMP socket of one family, shared by every check of that family."""

    def __init__(self, family: socket.AddressFamily, prefer: str, max_pps: float) -> None:
        self.family = family
        self.sock, self.kind = open_icmp_socket(family, prefer)
        # The kernel sets a datagram socket's identifier to its local port.
        self.ident = self.sock.getsockname()[1] if self.kind == "datagram" else _random_ident()
        self.cookie = secrets.token_bytes(_COOKIE_SIZE)
        self._templates: dict[int, EchoTemplate] = {}
        self._header_in_data = self.kind == "raw" and family == socket.AF_INET
        self._reply_type = ECHO_REPLY[family]
        self.pending: dict[tuple[str, int], tuple[Probe, int, int]] = {}
        self._next_seq: dict[str, int] = {}
        self._seq_base = secrets.randbelow(0x10000)  # where each target's sequence starts
        # A heap of (deadline, tiebreak, waiter, probes); one timer for all of them.
        self._deadlines: list[tuple[float, int, Waiter, list[Probe]]] = []
        self._tiebreak = itertools.count()
        self._expiry: asyncio.TimerHandle | None = None
        self._queue: deque[tuple[Probe, int]] = deque()
        self._rate = max_pps
        self._tokens = float(_BURST)
        self._refilled = time.monotonic()
        self._flush_scheduled = False
        self._writable_wait = False
        self.stats = {"sent": 0, "received": 0, "strays": 0, "send_errors": 0}
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._on_readable)

    def close(self) -> None:
        """Close the socket; checks still waiting finish at once with what they have."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        for _, _, _, probes in self._deadlines:
            for probe in probes:
                if not probe.finished:
                    self.abandon(probe)
        self._deadlines.clear()
        self._queue.clear()
        if self.sock.fileno() >= 0:
            if not self._loop.is_closed():  # a loop that has ended has no readers left
                self._loop.remove_reader(self.sock.fileno())
                if self._writable_wait:
                    self._loop.remove_writer(self.sock.fileno())
            self.sock.close()

    # ---- sending ---------------------------------------------------------------------------

    def send(self, probe: Probe, index: int) -> None:
        """Queue request ``index`` of ``probe``; the pacer sends it soon."""
        self._queue.append((probe, index))
        if not self._flush_scheduled and not self._writable_wait:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def watch(self, waiter: Waiter, probes: list[Probe], deadline: float) -> None:
        """Give up on ``probes`` (all of ``waiter``) at ``deadline``. One timer serves every
        check: it fires at the earliest deadline, and a sweep costs one heap entry, not a
        timer per target."""
        heapq.heappush(self._deadlines, (deadline, next(self._tiebreak), waiter, probes))
        if self._expiry is None or deadline < self._expiry.when():
            if self._expiry is not None:
                self._expiry.cancel()
            self._expiry = self._loop.call_at(deadline, self._expire)

    def abandon(self, probe: Probe) -> None:
        """Stop waiting for ``probe``'s replies (late ones become strays) and finish it."""
        pending = self.pending
        for seq in probe.seqs:
            if seq is not None:
                pending.pop((probe.address, seq), None)
        probe.finish()

    def _expire(self) -> None:
        self._expiry = None
        horizon = self._loop.time() + _TIMER_SLACK
        heap = self._deadlines
        while heap and heap[0][0] <= horizon:
            _, _, waiter, probes = heapq.heappop(heap)
            if waiter.remaining <= 0:
                continue  # a sweep that has finished: no need to look at its 10,000 probes
            for probe in probes:
                if not probe.finished:
                    self.abandon(probe)
        if heap:
            self._expiry = self._loop.call_at(heap[0][0], self._expire)

    def _flush(self) -> None:
        self._flush_scheduled = False
        queue = self._queue
        batch = min(len(queue), int(self._refill()))
        self._tokens -= batch
        unsent = self._send(batch)
        if unsent:
            self._tokens += unsent  # not spent: the kernel took none of these
            self._wait_writable()
            return
        if batch:
            self._on_readable()  # drain replies before they pile up in the receive buffer
        if queue:
            self._flush_scheduled = True
            # Yield between batches, but sleep only when the bucket is really empty: the
            # event loop cannot sleep less than a millisecond (epoll's resolution), so a
            # timer for a token due in microseconds would idle the sweep for most of that.
            tokens = self._refill()
            if tokens >= 1:
                self._loop.call_soon(self._flush)
            else:
                self._loop.call_later((1 - tokens) / self._rate, self._flush)

    def _refill(self) -> float:
        """The token bucket's level now: ``max_pps`` a second, at most a burst."""
        now = time.monotonic()
        self._tokens = min(float(_BURST), self._tokens + (now - self._refilled) * self._rate)
        self._refilled = now
        return self._tokens

    def _send(self, count: int) -> int:
        """Send the next ``count`` queued requests. Returns how many of them are left when
        the send buffer fills up (they stay queued, to go when the socket is writable)."""
        # The hot loop of a sweep, with _on_readable: attributes are read once into locals.
        queue, pending, next_seq = self._queue, self.pending, self._next_seq
        sendto, time_ns, seq_base = self.sock.sendto, time.time_ns, self._seq_base
        sent = 0
        try:
            for done in range(count):
                probe, index = queue.popleft()
                if probe.finished:
                    continue  # the check has given up already
                address = probe.address
                seq = next_seq.get(address, seq_base)
                packet = probe.template.packet(seq)
                sent_ns = time_ns()  # before sendto: on loopback the reply arrives within it
                try:
                    sendto(packet, probe.dest)
                except (BlockingIOError, InterruptedError):
                    queue.appendleft((probe, index))
                    return count - done
                except OSError as exc:
                    self.stats["send_errors"] += 1
                    probe.failed(f"send to {address}: {exc.strerror or exc}")
                    continue
                next_seq[address] = (seq + 1) & 0xFFFF
                probe.seqs[index] = seq
                pending[address, seq] = (probe, index, sent_ns)
                sent += 1
            return 0
        finally:
            self.stats["sent"] += sent  # once per batch, like the receive counters

    def template(self, size: int) -> EchoTemplate:
        """The echo requests of one payload size, with our identifier and cookie."""
        template = self._templates.get(size)
        if template is None:
            payload = (self.cookie * (size // _COOKIE_SIZE + 1))[:size]
            template = EchoTemplate(ECHO_REQUEST[self.family], self.ident, payload)
            self._templates[size] = template
        return template

    def _wait_writable(self) -> None:
        self._writable_wait = True
        self._loop.add_writer(self.sock.fileno(), self._on_writable)

    def _on_writable(self) -> None:
        self._loop.remove_writer(self.sock.fileno())
        self._writable_wait = False
        self._flush()

    # ---- receiving -------------------------------------------------------------------------

    def _on_readable(self) -> None:
        # The hot loop of a sweep: attributes are read once into locals.
        recvmsg, pending, stats = self.sock.recvmsg, self.pending, self.stats
        reply_type, ident, cookie = self._reply_type, self.ident, self.cookie
        header_in_data = self._header_in_data
        received = strays = 0
        try:
            for _ in range(_RECV_BATCH):
                try:
                    data, ancillary, _flags, source = recvmsg(_RECV_SIZE, _CMSG_SPACE)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    continue  # a queued ICMP error on the socket; keep reading
                offset = (data[0] & 0x0F) * 4 if header_in_data and data else 0
                if len(data) < offset + 8:
                    strays += 1
                    continue
                their_type, their_ident, seq = _TYPE_ID_SEQ.unpack_from(data, offset)
                key = (source[0], seq)
                entry = (
                    pending.pop(key, None)
                    if their_type == reply_type and their_ident == ident
                    else None
                )
                if entry is None:
                    strays += 1
                    continue
                probe, index, sent_ns = entry
                size = probe.size
                expected = cookie if size >= _COOKIE_SIZE else cookie[:size]
                if not data.startswith(expected, offset + 8):  # compared in place, no copy
                    # Right address, identifier and sequence but not our payload: a forgery.
                    pending[key] = entry  # the true reply may still come
                    strays += 1
                    continue
                received += 1
                probe.answered(index, max(_received_ns(ancillary) - sent_ns, 0) / 1e9)
        finally:
            # Counted once per batch: a dict update per packet costs more than it seems.
            stats["received"] += received
            stats["strays"] += strays


def _received_ns(ancillary: list[tuple[int, int, bytes]]) -> int:
    """The kernel's receive time (SO_TIMESTAMPNS), else now."""
    for level, kind, payload in ancillary:  # usually only the timestamp came
        if kind == SO_TIMESTAMPNS and level == socket.SOL_SOCKET and len(payload) >= 16:
            seconds, nanoseconds = _TIMESPEC.unpack_from(payload)
            return int(seconds * 1_000_000_000 + nanoseconds)
    return time.time_ns()


def _random_ident() -> int:
    return secrets.randbelow(0xFFFF) + 1


class Pinger:
    """The engine's ICMP sockets (one per family, opened on first use in the running loop)."""

    def __init__(self, prefer: str = "auto", max_pps: float = DEFAULT_MAX_PPS) -> None:
        if prefer not in ("auto", "datagram", "raw"):
            raise ValueError(f"icmp socket kind must be auto, datagram or raw, not {prefer!r}")
        self.prefer = prefer
        self.max_pps = max_pps
        self._sockets: dict[socket.AddressFamily, IcmpSocket] = {}
        # A missing privilege is reported to every check without retrying the open each time.
        self._refused: dict[socket.AddressFamily, tuple[float, ConfigError]] = {}

    def socket_for(self, family: socket.AddressFamily) -> IcmpSocket:
        refused = self._refused.get(family)
        if refused is not None and time.monotonic() < refused[0]:
            raise refused[1]
        sock = self._sockets.get(family)
        if sock is not None and sock._loop is not asyncio.get_running_loop():
            sock.close()  # left over from an event loop that has ended
            sock = None
        if sock is None:
            try:
                sock = IcmpSocket(family, self.prefer, self.max_pps)
            except ConfigError as exc:
                self._refused[family] = (time.monotonic() + _RETRY_OPEN_S, exc)
                raise
            self._sockets[family] = sock
        return sock

    @property
    def sockets(self) -> dict[socket.AddressFamily, IcmpSocket]:
        """The sockets opened so far, by family (for the engine's health page and tests)."""
        return dict(self._sockets)

    def abandon(self, probe: Probe) -> None:
        for sock in self._sockets.values():
            sock.abandon(probe)  # a dict miss on the other family's socket

    async def aclose(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()


class IcmpCollector:
    """Echo requests to one target per check, over the engine's shared :class:`Pinger`."""

    kind = "icmp"

    def __init__(self, pinger: Pinger, clock: Callable[[], float] = time.time) -> None:
        self._pinger = pinger
        self._clock = clock  # wall clock for started_at; round trips use kernel timestamps

    @classmethod
    def from_context(cls, context: Context) -> IcmpCollector:
        options = context.options
        pinger = context.shared_object(
            SHARED_KEY,
            lambda: Pinger(
                str(options.get("icmp_socket", "auto")),
                float(options.get("icmp_max_pps", DEFAULT_MAX_PPS)),
            ),
        )
        return cls(pinger, context.clock)

    async def aclose(self) -> None:
        """Nothing of its own: the shared pinger is closed with the engine's shared objects."""

    async def collect(self, spec: CheckSpec) -> Result:
        (result,) = await self.collect_many([spec])
        if isinstance(result, ConfigError):
            raise result
        return result

    async def collect_many(self, specs: Sequence[CheckSpec]) -> list[Result | ConfigError]:
        """Run many checks as one sweep: one coroutine and one wake-up for all of them.

        Each check keeps its own count, spacing and timeout; a check whose parameters are
        wrong gets its ConfigError in its place and does not stop the others. This is what a
        scheduler can use when many ICMP checks fall due in the same tick (fping's model):
        it saves a task, a future and a wake-up per check.
        """
        loop = asyncio.get_running_loop()
        waiter = Waiter(loop.create_future(), self._clock(), loop.time())
        now = waiter.since
        runs: list[Probe | ConfigError] = []
        handles: list[asyncio.TimerHandle] = []
        watched: dict[tuple[IcmpSocket, float], list[Probe]] = {}  # by socket and timeout
        sockets: dict[socket.AddressFamily, IcmpSocket] = {}
        for spec in specs:
            try:
                plan = _plan(spec)
                family = plan.family
                sock = sockets.get(family) or sockets.setdefault(
                    family, self._pinger.socket_for(family)
                )
            except ConfigError as exc:
                runs.append(exc)
                continue
            params = plan.params
            probe = Probe(plan, sock.template(params.size), waiter)
            waiter.remaining += 1
            group = watched.get((sock, spec.timeout_s))
            if group is None:
                group = watched[sock, spec.timeout_s] = []
            group.append(probe)
            sock.send(probe, 0)
            if params.count > 1:
                spacing = params.spacing_ms / 1000
                for i in range(1, params.count):
                    handles.append(loop.call_at(now + i * spacing, sock.send, probe, i))
            runs.append(probe)
        for (sock, timeout), probes in watched.items():
            sock.watch(waiter, probes, now + timeout)
        try:
            if waiter.remaining:
                await waiter.future
        finally:
            for handle in handles:
                handle.cancel()
            for run in runs:
                if not isinstance(run, ConfigError) and not run.finished:
                    self._pinger.abandon(run)  # cancelled from outside
        return [run if isinstance(run, ConfigError) else run.outcome() for run in runs]


_PLANS: dict[int, EchoPlan] = {}


def _plan(spec: CheckSpec) -> EchoPlan:
    """The check's plan, made on its first run (a ConfigError if its parameters are wrong)."""
    known = _PLANS.get(spec.check_id)
    if known is not None and known.spec is spec:
        return known
    params = _cached_params(spec)
    address, family = _parse_target(spec.target)
    if (params.count - 1) * params.spacing_ms / 1000 >= spec.timeout_s:
        raise ConfigError(
            f"{params.count} requests {params.spacing_ms} ms apart do not fit in the "
            f"timeout of {spec.timeout_s:g} s"
        )
    if len(_PLANS) >= 200_000:
        _PLANS.clear()
    plan = _PLANS[spec.check_id] = EchoPlan(spec, params, address, family)
    return plan


@functools.lru_cache(maxsize=65536)  # the same targets come back every interval
def _parse_target(target: str) -> tuple[str, socket.AddressFamily]:
    """The address as the kernel will report a reply's source, and its family."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_ntop(family, socket.inet_pton(family, target)), family
        except OSError:
            continue
    raise ConfigError(f"ICMP target must be an IP address, not {target!r}")


def _result(probe: Probe, started: float, duration: float) -> Result:
    # Runs once per target per sweep (tens of thousands a second): the labels and the loss
    # sample come ready-made from the plan.
    plan = probe.plan
    params = plan.params
    spec = plan.spec
    received = probe.received
    loss = 1 - received / params.count
    if not received:
        samples: tuple[Sample, ...] = (plan.loss_sample(loss),)
        summary = "loss 100 %"
    else:
        low, middle, high = plan.stat_labels
        if params.count == 1:  # a sweep's single echo: min, average and max are the one rtt
            avg = smallest = largest = probe.rtts[0] or 0.0
            rtts = []
        else:
            rtts = [rtt for rtt in probe.rtts if rtt is not None]
            avg, smallest, largest = sum(rtts) / received, min(rtts), max(rtts)
        samples = (
            plan.loss_sample(loss),
            Sample("branchops_icmp_rtt_seconds", smallest, low),
            Sample("branchops_icmp_rtt_seconds", avg, middle),
            Sample("branchops_icmp_rtt_seconds", largest, high),
        )
        if received > 1:
            jitter = sum(abs(b - a) for a, b in itertools.pairwise(rtts)) / (received - 1)
            samples += (Sample("branchops_icmp_jitter_seconds", jitter, spec.label_items),)
        loss_text = "loss 0 %" if not loss else f"loss {loss * 100:.0f} %"
        summary = f"{loss_text}, avg {avg * 1000:.2f} ms"
    if not loss:
        return Result(spec.check_id, State.UP, started, duration, samples, "", summary)
    state, error = _judge(params, loss, received, probe.send_errors)
    return Result(spec.check_id, state, started, duration, samples, error, summary)


Labels = tuple[tuple[str, str], ...]


@functools.lru_cache(maxsize=65536)  # one entry per device label set, reused every interval
def _stat_labels(labels: Labels) -> tuple[Labels, Labels, Labels]:
    low, middle, high = (tuple(sorted((*labels, ("stat", s)))) for s in ("min", "avg", "max"))
    return low, middle, high


def _judge(
    params: IcmpParams, loss: float, received: int, send_errors: list[str] | None
) -> tuple[State, str]:
    sent = params.count
    if loss >= params.loss_down_ratio:
        reason = f"{send_errors[0]}" if send_errors else "no echo reply"
        return State.DOWN, f"{reason} ({received} of {sent} answered)"
    if loss > 0 and loss >= params.loss_degraded_ratio:
        return State.DEGRADED, f"loss {loss * 100:.0f} % ({received} of {sent} answered)"
    return State.UP, ""


_PARAMS_SEEN: dict[tuple[tuple[str, object], ...], IcmpParams] = {}


def _cached_params(spec: CheckSpec) -> IcmpParams:
    """Validated parameters; the few distinct parameter sets of an estate are validated once
    each (a sweep of 10,000 targets would otherwise validate the same dict 10,000 times)."""
    try:
        key = tuple(spec.params.items())
        params = _PARAMS_SEEN.get(key)
    except TypeError:  # an unhashable value: validation will say what is wrong with it
        return typed_params(spec, IcmpParams)
    if params is None:
        params = typed_params(spec, IcmpParams)
        if len(_PARAMS_SEEN) >= 1024:
            _PARAMS_SEEN.clear()
        _PARAMS_SEEN[key] = params
    return params
