"""An asyncio SNMP manager: thousands of targets over one UDP socket.

Every request gets a fresh request-id (and, in v3, the same msgID) from one counter; answers
are matched through a dict of pending requests, so one socket serves all targets and the cost
per request is a dict entry, a future and a timer. A datagram that does not match a pending
request from the address it was sent to, with the right community or keys, is dropped and
counted in :attr:`SnmpClient.stats`, never raised.

Targets are IPv4 literals: the library never resolves names, so the caller decides which
addresses may be polled (the lab keeps to 127.0.0.0/8). Retries re-send with a new id, and
an answer to any earlier attempt of the same request still counts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from branchops.snmp.ber import (
    Pdu,
    TrapV1,
    decode_community_message,
    encode_community_message,
    encode_pdu,
    encode_request_varbind,
    encode_walk_varbind,
    message_version,
)
from branchops.snmp.errors import (
    ErrorStatus,
    SnmpAuthError,
    SnmpDecodeError,
    SnmpError,
    SnmpErrorStatus,
    SnmpProtocolError,
    SnmpReportError,
    SnmpTimeout,
)
from branchops.snmp.types import Oid, PduType, SnmpType, VarBind, format_oid, parse_oid
from branchops.snmp.usm import (
    EngineTime,
    LocalizedUser,
    PrivProtocol,
    UsmUser,
    localized,
    seal,
    unseal,
)
from branchops.snmp.v3 import (
    FLAG_AUTH,
    FLAG_REPORTABLE,
    UsmSecurityParameters,
    V3Message,
    decode_scoped_pdu,
    decode_v3_message,
    encode_scoped_pdu,
)

Address = tuple[str, int]
TransportFactory = Callable[[asyncio.DatagramProtocol], Awaitable[asyncio.DatagramTransport]]

MAX_MESSAGE_SIZE: Final = 65507  # the largest UDP payload over IPv4
_MAX_REQUEST_ID: Final = 2**31 - 1
_RECEIVE_BUFFER: Final = 4 * 1024 * 1024  # a burst of answers from thousands of agents

_USM_STATS: Final = (1, 3, 6, 1, 6, 3, 15, 1, 1)
NOT_IN_TIME_WINDOWS: Final = (*_USM_STATS, 2, 0)
UNKNOWN_ENGINE_IDS: Final = (*_USM_STATS, 4, 0)
_AUTH_REPORTS: Final[dict[Oid, str]] = {
    (*_USM_STATS, 1, 0): "unsupportedSecLevels",
    NOT_IN_TIME_WINDOWS: "notInTimeWindows",
    (*_USM_STATS, 3, 0): "unknownUserNames",
    UNKNOWN_ENGINE_IDS: "unknownEngineIDs",
    (*_USM_STATS, 5, 0): "wrongDigests",
    (*_USM_STATS, 6, 0): "decryptionErrors",
}


@dataclass(frozen=True, slots=True)
class Community:
    """SNMPv2c credentials."""

    community: bytes = field(repr=False)

    def __init__(self, community: str | bytes) -> None:
        value = community.encode() if isinstance(community, str) else bytes(community)
        object.__setattr__(self, "community", value)


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send requests and with which credentials.

    ``host`` must be an IPv4 literal; names are refused, as the caller (CMDB, lab) owns the
    decision of which addresses may be polled. ``timeout`` and ``retries`` override the
    client's defaults for this target.
    """

    host: str
    port: int = 161
    credentials: Community | UsmUser = field(default_factory=lambda: Community(b"public"))
    context_name: bytes = b""
    timeout: float | None = None
    retries: int | None = None

    def __post_init__(self) -> None:
        try:
            host = str(ipaddress.IPv4Address(self.host))
        except ValueError:
            raise ValueError(f"SNMP target host must be an IPv4 literal: {self.host!r}") from None
        object.__setattr__(self, "host", host)
        if not 0 < self.port < 65536:
            raise ValueError(f"bad UDP port {self.port}")

    @property
    def address(self) -> Address:
        return (self.host, self.port)


@dataclass(slots=True)
class ClientStats:
    """Counters of what the client sent, received and dropped."""

    sent: int = 0
    received: int = 0
    retries: int = 0
    timeouts: int = 0
    malformed: int = 0
    unknown_request_id: int = 0
    wrong_source: int = 0
    rejected: int = 0  # wrong version, community, PDU type, keys or time window


class _Request(NamedTuple):
    """What to ask, independent of attempts and credentials."""

    pdu_type: int
    field1: int  # error-status, or non-repeaters in GetBulk
    field2: int  # error-index, or max-repetitions in GetBulk
    varbinds: bytes  # encoded, concatenated VarBinds


class _V3Answer(NamedTuple):
    pdu: Pdu
    security: UsmSecurityParameters
    authenticated: bool


class _Pending:
    """One request in flight, across all its attempts."""

    __slots__ = (
        "address",
        "attempts_left",
        "community",
        "discovery",
        "encode",
        "engine",
        "future",
        "ids",
        "keys",
        "last_error",
        "timeout",
        "timer",
    )

    def __init__(
        self,
        future: asyncio.Future[Any],
        target: Target,
        encode: Callable[[int], bytes],
        timeout: float,
        retries: int,
    ) -> None:
        self.future = future
        self.address = target.address
        self.encode = encode
        self.timeout = timeout
        self.attempts_left = retries
        self.ids: list[int] = []
        self.timer: asyncio.TimerHandle | None = None
        self.last_error: SnmpError | None = None
        credentials = target.credentials
        self.community = credentials.community if isinstance(credentials, Community) else None
        self.keys: LocalizedUser | None = None
        self.engine: EngineTime | None = None
        self.discovery = False


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, client: SnmpClient) -> None:
        self.client = client

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.client._on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        # An ICMP error does not say which request it belongs to; that request's timeout
        # reports the failure.
        return


_TEXT_OIDS: dict[str, Oid] = {}


def _as_oid(oid: str | Oid) -> Oid:
    """A tuple as is (checked when first encoded), dotted text parsed once and cached."""
    if isinstance(oid, tuple):
        return oid
    parsed = _TEXT_OIDS.get(oid)
    if parsed is None:
        parsed = parse_oid(oid)
        if len(_TEXT_OIDS) >= 100_000:
            _TEXT_OIDS.clear()
        _TEXT_OIDS[oid] = parsed
    return parsed


_VARBIND_LISTS: dict[tuple[str | Oid, ...], bytes] = {}


def _request_varbinds(oids: Sequence[str | Oid]) -> bytes:
    """The encoded VarBinds of a request; cached per OID list, as a poller repeats its lists."""
    key = tuple(oids)
    encoded = _VARBIND_LISTS.get(key)
    if encoded is None:
        encoded = b"".join([encode_request_varbind(_as_oid(oid)) for oid in oids])
        if len(_VARBIND_LISTS) >= 50_000:
            _VARBIND_LISTS.clear()
        _VARBIND_LISTS[key] = encoded
    return encoded


class SnmpClient:
    """SNMPv2c and SNMPv3 requests to many targets over one UDP socket.

    Use as ``async with SnmpClient() as client: await client.get(target, oids)``. ``clock``
    (monotonic seconds) drives the v3 engine-time estimate; ``transport_factory`` replaces
    the UDP socket in tests.
    """

    def __init__(
        self,
        *,
        timeout: float = 2.0,
        retries: int = 1,
        max_in_flight: int = 1000,
        local_address: Address = ("0.0.0.0", 0),  # noqa: S104 - a client's ephemeral port
        clock: Callable[[], float] = time.monotonic,
        transport_factory: TransportFactory | None = None,
    ) -> None:
        self.timeout = timeout
        self.retries = retries
        self.stats = ClientStats()
        self._clock = clock
        self._local_address = local_address
        self._factory = transport_factory
        self._slots = asyncio.Semaphore(max_in_flight)
        self._pending: dict[int, _Pending] = {}
        self._next_id = secrets.randbelow(2**24)
        self._engines: dict[Address, EngineTime] = {}
        self._discovery_locks: dict[Address, asyncio.Lock] = {}
        self._transport: asyncio.DatagramTransport | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Create the UDP socket (or the test transport)."""
        if self._transport is not None:
            return
        protocol = _Protocol(self)
        if self._factory is not None:
            self._transport = await self._factory(protocol)
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
        sock.setblocking(False)
        sock.bind(self._local_address)
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(lambda: protocol, sock=sock)

    def close(self) -> None:
        """Close the socket; requests still waiting fail with SnmpError."""
        for state in list(self._pending.values()):
            if not state.future.done():
                state.future.set_exception(SnmpError("SNMP client closed"))
        self._pending.clear()
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def __aenter__(self) -> SnmpClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    @property
    def local_address(self) -> Address:
        if self._transport is None:
            raise RuntimeError("SNMP client is not open")
        address: Address = self._transport.get_extra_info("sockname")[:2]
        return address

    # ---- operations --------------------------------------------------------------------------

    async def get(self, target: Target, oids: Sequence[str | Oid]) -> list[VarBind]:
        """GetRequest: one VarBind per OID; absent objects come back as noSuch* values."""
        return await self._request(target, PduType.GET_REQUEST, 0, 0, oids)

    async def get_next(self, target: Target, oids: Sequence[str | Oid]) -> list[VarBind]:
        """GetNextRequest: the successor of each OID (or endOfMibView)."""
        return await self._request(target, PduType.GET_NEXT_REQUEST, 0, 0, oids)

    async def get_bulk(
        self,
        target: Target,
        non_repeaters: int,
        max_repetitions: int,
        oids: Sequence[str | Oid],
    ) -> list[VarBind]:
        """GetBulkRequest (RFC 3416 4.2.3); the agent may return fewer repetitions."""
        return await self._request(
            target, PduType.GET_BULK_REQUEST, non_repeaters, max_repetitions, oids
        )

    async def walk(
        self,
        target: Target,
        root: str | Oid,
        *,
        max_repetitions: int = 25,
        max_varbinds: int = 100_000,
    ) -> list[VarBind]:
        """Every object under ``root``, by GETBULK, in order.

        Stops at the end of the subtree or endOfMibView; raises SnmpProtocolError when the
        agent returns an OID that does not increase (a loop) or more than ``max_varbinds``.
        """
        base = _as_oid(root)
        depth = len(base)
        current = base
        found: list[VarBind] = []
        while True:
            request = _Request(PduType.GET_BULK_REQUEST, 0, max_repetitions,
                               encode_walk_varbind(current))  # fmt: skip
            varbinds = await self._exchange(target, request)
            if not varbinds:
                return found
            for varbind in varbinds:
                if varbind.oid[:depth] != base or varbind.type in _WALK_ENDS:
                    return found
                if varbind.oid <= current:
                    raise SnmpProtocolError(
                        f"{target.host}: walk went backwards at {format_oid(varbind.oid)}"
                    )
                found.append(varbind)
                current = varbind.oid
            if len(found) > max_varbinds:
                raise SnmpProtocolError(f"{target.host}: walk exceeded {max_varbinds} objects")

    async def _request(
        self, target: Target, pdu_type: int, field1: int, field2: int, oids: Sequence[str | Oid]
    ) -> list[VarBind]:
        request = _Request(pdu_type, field1, field2, _request_varbinds(oids))
        return await self._exchange(target, request)

    async def _exchange(self, target: Target, request: _Request) -> list[VarBind]:
        if self._transport is None:
            raise RuntimeError("SNMP client is not open")
        async with self._slots:
            if isinstance(target.credentials, Community):
                pdu = await self._v2c_exchange(target, request)
            else:
                pdu = await self._v3_exchange(target, request)
        if pdu.error_status:
            if pdu.error_status == ErrorStatus.AUTHORIZATION_ERROR:
                # Access control refused these credentials: the same decision as a USM
                # refusal for whoever configures them.
                raise SnmpAuthError("authorizationError", f"{target.host}: access denied")
            raise SnmpErrorStatus(pdu.error_status, pdu.error_index)
        return pdu.varbinds

    # ---- exchanges ---------------------------------------------------------------------------

    async def _v2c_exchange(self, target: Target, request: _Request) -> Pdu:
        assert isinstance(target.credentials, Community)
        community = target.credentials.community

        def encode(request_id: int) -> bytes:
            pdu = encode_pdu(
                request.pdu_type, request_id, request.field1, request.field2, request.varbinds
            )
            return encode_community_message(1, community, pdu)

        result: Pdu = await self._roundtrip(self._new_pending(target, encode))
        return result

    async def _v3_exchange(self, target: Target, request: _Request) -> Pdu:
        user = target.credentials
        assert isinstance(user, UsmUser)
        for _ in range(3):  # at most a re-discovery and a time re-synchronisation
            engine = await self._engine_for(target)
            keys = localized(user, engine.engine_id) if user.level else None
            state = self._new_pending(target, self._v3_encoder(target, keys, engine, request))
            state.keys, state.engine = keys, engine
            answer: _V3Answer = await self._roundtrip(state)
            if answer.pdu.type is PduType.RESPONSE:
                return answer.pdu
            oid = answer.pdu.varbinds[0].oid if answer.pdu.varbinds else ()
            if oid == NOT_IN_TIME_WINDOWS and answer.authenticated:
                engine.resync(answer.security.boots, answer.security.time, self._clock())
            elif oid == UNKNOWN_ENGINE_IDS:
                self._engines.pop(target.address, None)
            else:
                raise _report_error(target, oid)
        raise SnmpAuthError("notInTimeWindows", f"{target.host}: cannot agree on engine time")

    def _v3_encoder(
        self, target: Target, keys: LocalizedUser | None, engine: EngineTime, request: _Request
    ) -> Callable[[int], bytes]:
        user = target.credentials
        assert isinstance(user, UsmUser)
        user_name = user.name.encode()
        flags = int(user.level) | FLAG_REPORTABLE

        def encode(request_id: int) -> bytes:
            boots, engine_time = engine.current(self._clock())
            pdu = encode_pdu(
                request.pdu_type, request_id, request.field1, request.field2, request.varbinds
            )
            return seal(
                msg_id=request_id,
                max_size=MAX_MESSAGE_SIZE,
                flags=flags,
                user_name=user_name,
                keys=keys,
                engine_id=engine.engine_id,
                boots=boots,
                engine_time=engine_time,
                scoped_pdu=encode_scoped_pdu(engine.engine_id, target.context_name, pdu),
            )

        return encode

    async def _engine_for(self, target: Target) -> EngineTime:
        """The agent's engine ID, boots and time, discovered once per address."""
        address = target.address
        engine = self._engines.get(address)
        if engine is not None:
            return engine
        lock = self._discovery_locks.setdefault(address, asyncio.Lock())
        async with lock:
            engine = self._engines.get(address)
            if engine is None:
                engine = await self._discover(target)
                self._engines[address] = engine
            return engine

    async def _discover(self, target: Target) -> EngineTime:
        # RFC 3414 section 4: an unauthenticated request with an empty engine ID and user
        # name draws a Report carrying the agent's snmpEngineID, boots and time.
        def encode(request_id: int) -> bytes:
            scoped = encode_scoped_pdu(
                b"", b"", encode_pdu(PduType.GET_REQUEST, request_id, 0, 0, b"")
            )
            return seal(
                msg_id=request_id,
                max_size=MAX_MESSAGE_SIZE,
                flags=FLAG_REPORTABLE,
                user_name=b"",
                keys=None,
                engine_id=b"",
                boots=0,
                engine_time=0,
                scoped_pdu=scoped,
            )

        state = self._new_pending(target, encode)
        state.discovery = True
        answer: _V3Answer = await self._roundtrip(state)
        security = answer.security
        if not security.engine_id:
            raise SnmpProtocolError(f"{target.host}: discovery Report without an engine ID")
        return EngineTime(security.engine_id, security.boots, security.time, self._clock())

    # ---- sending, timers, receiving ----------------------------------------------------------

    def _new_pending(self, target: Target, encode: Callable[[int], bytes]) -> _Pending:
        timeout = self.timeout if target.timeout is None else target.timeout
        retries = self.retries if target.retries is None else target.retries
        future = asyncio.get_running_loop().create_future()
        return _Pending(future, target, encode, timeout, retries)

    async def _roundtrip(self, state: _Pending) -> Any:
        self._send(state)
        try:
            return await state.future
        finally:
            if state.timer is not None:
                state.timer.cancel()
            for request_id in state.ids:
                self._pending.pop(request_id, None)

    def _send(self, state: _Pending) -> None:
        request_id = self._next_id
        while True:
            request_id = request_id + 1 if request_id < _MAX_REQUEST_ID else 1
            if request_id not in self._pending:
                break
        self._next_id = request_id
        state.ids.append(request_id)
        self._pending[request_id] = state
        assert self._transport is not None
        self._transport.sendto(state.encode(request_id), state.address)
        self.stats.sent += 1
        state.timer = asyncio.get_running_loop().call_later(state.timeout, self._expire, state)

    def _expire(self, state: _Pending) -> None:
        if state.future.done() or self._transport is None:
            return
        if state.attempts_left > 0:
            state.attempts_left -= 1
            self.stats.retries += 1
            self._send(state)
            return
        self.stats.timeouts += 1
        state.future.set_exception(state.last_error or SnmpTimeout(_silence(state)))

    def _on_datagram(self, data: bytes, addr: Address) -> None:
        self.stats.received += 1
        try:
            version = message_version(data)[0]
            if version == 3:
                self._on_v3(data, addr)
            elif version == 1:
                self._on_v2c(data, addr)
            else:
                self.stats.rejected += 1
        except SnmpDecodeError:
            self.stats.malformed += 1

    def _match(self, request_id: int, addr: Address) -> _Pending | None:
        state = self._pending.get(request_id)
        if state is None:
            self.stats.unknown_request_id += 1
            return None
        if addr[:2] != state.address:
            self.stats.wrong_source += 1
            return None
        return state

    def _on_v2c(self, data: bytes, addr: Address) -> None:
        message = decode_community_message(data)
        pdu = message.pdu
        if type(pdu) is TrapV1:
            self.stats.rejected += 1
            return
        assert isinstance(pdu, Pdu)
        state = self._match(pdu.request_id, addr)
        if state is None:
            return
        if message.community != state.community or pdu.type is not PduType.RESPONSE:
            self.stats.rejected += 1
            return
        if not state.future.done():
            state.future.set_result(pdu)

    def _on_v3(self, data: bytes, addr: Address) -> None:
        message = decode_v3_message(data)
        state = self._match(message.msg_id, addr)
        if state is None:
            return
        if state.community is not None:
            self.stats.rejected += 1
            return
        answer = self._open_v3(state, message, data)
        if answer is None:
            self.stats.rejected += 1
        elif not state.future.done():
            state.future.set_result(answer)

    def _open_v3(self, state: _Pending, message: V3Message, data: bytes) -> _V3Answer | None:
        """The answer in a v3 message if it is acceptable for ``state``, else None (and the
        reason kept in ``state.last_error`` for when the request finally times out)."""
        pdu = self._v3_pdu(state, message, data)
        if pdu is None:
            return None
        authenticated = bool(message.flags & FLAG_AUTH)
        answer = _V3Answer(pdu, message.security, authenticated)
        if pdu.type is PduType.REPORT:
            # A notInTimeWindows Report carries the agent's real time: it must get through
            # even when our notion is off, or we could never re-synchronise.
            if pdu.varbinds and pdu.varbinds[0].oid == NOT_IN_TIME_WINDOWS:
                return answer
        elif pdu.type is not PduType.RESPONSE or state.discovery:
            return None
        elif pdu.request_id != message.msg_id or (state.keys is not None and not authenticated):
            return None  # not ours, or an unauthenticated Response to an authenticated request
        if authenticated and not self._in_window(state, message.security):
            return None
        return answer

    def _v3_pdu(self, state: _Pending, message: V3Message, data: bytes) -> Pdu | None:
        """The PDU of a v3 answer, authenticated and decrypted with the request's keys."""
        try:
            if message.flags & FLAG_AUTH:
                keys, engine = state.keys, state.engine
                if keys is None or engine is None or message.security.engine_id != engine.engine_id:
                    return None
                scoped = decode_scoped_pdu(unseal(message, data, keys))
            else:
                scoped = decode_scoped_pdu(message.scoped_data)
        except SnmpAuthError as exc:
            state.last_error = SnmpAuthError("badResponseDigest", f"answer failed auth: {exc}")
            return None
        except SnmpDecodeError as exc:
            state.last_error = SnmpAuthError("decryptionErrors", f"cannot read answer: {exc}")
            return None
        pdu = scoped.pdu
        return pdu if isinstance(pdu, Pdu) else None

    def _in_window(self, state: _Pending, security: UsmSecurityParameters) -> bool:
        assert state.engine is not None
        if state.engine.accept(security.boots, security.time, self._clock()):
            return True
        state.last_error = SnmpAuthError("notInTimeWindows", "answer outside the time window")
        return False


_WALK_ENDS: Final = frozenset(
    (SnmpType.END_OF_MIB_VIEW, SnmpType.NO_SUCH_OBJECT, SnmpType.NO_SUCH_INSTANCE)
)


def _silence(state: _Pending) -> str:
    text = f"{state.address[0]}:{state.address[1]}: no answer after {len(state.ids)} tries"
    if state.keys is not None and state.keys.priv is not PrivProtocol.NONE:
        # net-snmp drops a request it cannot decrypt without a Report, so after a successful
        # discovery, silence is the only symptom of a wrong privacy password.
        text += " (the agent answered discovery: wrong privacy password or protocol?)"
    return text


def _report_error(target: Target, oid: Oid) -> SnmpError:
    reason = _AUTH_REPORTS.get(oid)
    text = format_oid(oid) if oid else "(empty)"
    if reason is None:
        return SnmpReportError(text, f"{target.host}: agent sent Report {text}")
    return SnmpAuthError(reason, f"{target.host}: agent reported usmStats {reason}")
