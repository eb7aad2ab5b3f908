"""The SNMP notification receiver: v1 and v2c traps, v2c and v3 informs, v3 traps.

Communities and SNMPv3 users come in the constructor. Two USM roles meet here (RFC 3414):

* a v3 **trap** is sent by an authoritative sender, so it carries the sender's engine ID
  and the user's keys are localised to that ID. A :class:`TrapUser` may list the engine IDs
  it is accepted from; with none listed, keys are localised per received engine ID (cached)
  and any sender knowing the passwords is accepted. Trap timeliness is not checked: a
  replayed trap only repeats an event, which the pipeline deduplicates by key.
* for a v3 **inform** we are the authoritative engine: a sender first discovers our engine
  ID (an empty engine ID gets an unknownEngineIDs Report) and our boots/time (a message
  outside the 150 s window gets an authenticated notInTimeWindows Report), then sends the
  inform, which is answered with a Response.

Every datagram is counted; malformed ones never raise into the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from branchops.alerts.receivers.delivery import Delivery
from branchops.alerts.receivers.events import EventCallback, InboundEvent
from branchops.alerts.receivers.limits import (
    Clock,
    RateLimit,
    ReceiverStats,
    SenderLimiter,
    SystemClock,
)
from branchops.alerts.receivers.rules import RuleBook, load_rules
from branchops.alerts.receivers.traps import Notification, from_pdu, from_trap_v1, to_event
from branchops.snmp import PduType, SnmpDecodeError, SnmpType, TrapV1, UsmUser
from branchops.snmp.ber import (
    Pdu,
    decode_community_message,
    encode_community_message,
    encode_pdu,
    encode_varbind,
    message_version,
)
from branchops.snmp.usm import TIME_WINDOW, LocalizedUser, localized, seal
from branchops.snmp.v3 import (
    FLAG_AUTH,
    FLAG_PRIV,
    FLAG_REPORTABLE,
    ScopedPdu,
    V3Message,
    decode_scoped_pdu,
    decode_v3_message,
    encode_scoped_pdu,
)

log = logging.getLogger(__name__)

_USM_STATS: Final = (1, 3, 6, 1, 6, 3, 15, 1, 1)
REPORT_OIDS: Final = {
    "unsupportedSecLevels": (*_USM_STATS, 1, 0),
    "notInTimeWindows": (*_USM_STATS, 2, 0),
    "unknownUserNames": (*_USM_STATS, 3, 0),
    "unknownEngineIDs": (*_USM_STATS, 4, 0),
    "wrongDigests": (*_USM_STATS, 5, 0),
    "decryptionErrors": (*_USM_STATS, 6, 0),
}
_MAX_ENGINE_VALUE: Final = 2**31 - 1
_MAX_SIZE: Final = 65507  # what we accept in one UDP datagram

Handled = tuple[Notification | None, bytes | None]  # (what arrived, what to answer)


class Refused(Exception):
    """A v3 message USM refuses; ``keys`` are set when the Report must be authenticated."""

    def __init__(self, reason: str, keys: LocalizedUser | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.keys = keys


@dataclass(frozen=True, slots=True)
class TrapUser:
    """An SNMPv3 user allowed to send notifications; ``engine_ids`` restricts which sender
    engines it may send traps from (empty: any)."""

    user: UsmUser
    engine_ids: frozenset[bytes] = frozenset()


def default_engine_id(host: str) -> bytes:
    """An RFC 3411 text-format engine ID (enterprise 0) naming this receiver."""
    return (b"\x80\x00\x00\x00\x04branchops-traps@" + host.encode())[:32]


class TrapReceiver:
    """Listens for notifications on ``host``:``port`` (UDP; 0 picks a free port)."""

    def __init__(
        self,
        callback: EventCallback,
        *,
        host: str = "127.0.0.1",
        port: int = 162,
        communities: Iterable[str | bytes] = (),
        users: Iterable[UsmUser | TrapUser] = (),
        engine_id: bytes | None = None,
        boots: int = 1,
        rules: RuleBook | None = None,
        rate_limit: RateLimit | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.communities = frozenset(c.encode() if isinstance(c, str) else c for c in communities)
        self.engine_id = engine_id or default_engine_id(host)
        self.boots = boots
        self.rules = rules if rules is not None else load_rules()
        self.stats = ReceiverStats()
        self._users: dict[bytes, list[TrapUser]] = {}
        for entry in users:
            trap_user = entry if isinstance(entry, TrapUser) else TrapUser(entry)
            self._users.setdefault(trap_user.user.name.encode(), []).append(trap_user)
        self._clock = clock or SystemClock()
        self._started = self._clock.monotonic()
        self._limiter = SenderLimiter(rate_limit or RateLimit(), self._clock)
        self._deliver = Delivery(callback, self.stats)
        self._usm_counters = dict.fromkeys(REPORT_OIDS, 0)
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _TrapProtocol(self), local_addr=(self.host, self.port)
        )
        self._transport = transport
        self.port = int(transport.get_extra_info("sockname")[1])

    async def aclose(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        await asyncio.sleep(0)
        await self._deliver.aclose()

    async def __aenter__(self) -> TrapReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def engine_time(self) -> int:
        return min(max(int(self._clock.monotonic() - self._started), 0), _MAX_ENGINE_VALUE)

    def handle(self, data: bytes, sender: str) -> bytes | None:
        """Process one datagram from ``sender``; the datagram to send back, if any."""
        counts = self.stats.count_received(sender)
        if not self._limiter.allow(sender):
            self.stats.dropped_rate_limited += 1
            counts.dropped += 1
            return None
        if len(data) > _MAX_SIZE:
            self.stats.oversized += 1
            return None
        try:
            notification, reply = self._dispatch(data)
        except SnmpDecodeError:
            self.stats.malformed += 1
            return None
        if notification is not None:
            self._emit(to_event(notification, sender, self._clock.wall(), self.rules))
        return reply

    def _emit(self, event: InboundEvent) -> None:
        self.stats.parsed += 1
        if event.name != "trap":
            self.stats.matched += 1
        self._deliver(event)

    def _dispatch(self, data: bytes) -> Handled:
        version = message_version(data)[0]
        if version in (0, 1):
            return self._community(data)
        if version == 3:
            return self._v3(data)
        self.stats.reject("unsupportedVersion")
        return None, None

    # ---- v1 and v2c ------------------------------------------------------------------------

    def _community(self, data: bytes) -> Handled:
        message = decode_community_message(data)
        if message.community not in self.communities:
            self.stats.reject("badCommunity")  # like an agent: silently
            return None, None
        pdu = message.pdu
        if isinstance(pdu, TrapV1):
            if message.version != 0:
                raise SnmpDecodeError("a v1 Trap-PDU in an SNMPv2c message")
            return from_trap_v1(pdu), None
        if message.version == 1 and pdu.type is PduType.SNMPV2_TRAP:
            return from_pdu(pdu, "v2c"), None
        if message.version == 1 and pdu.type is PduType.INFORM_REQUEST:
            notification = from_pdu(pdu, "v2c")
            self.stats.informs_answered += 1
            return notification, encode_community_message(1, message.community, _response(pdu))
        self.stats.reject("unsupportedPdu")
        return None, None

    # ---- v3 --------------------------------------------------------------------------------

    def _v3(self, data: bytes) -> Handled:
        message = decode_v3_message(data)
        try:
            return self._v3_checked(message, data)
        except Refused as refused:
            self.stats.reject(refused.reason)
            return None, self._report(message, refused.reason, refused.keys)

    def _v3_checked(self, message: V3Message, data: bytes) -> Handled:
        security = message.security
        if not security.engine_id:
            raise Refused("unknownEngineIDs")  # discovery: the Report tells our engine ID
        authoritative = security.engine_id == self.engine_id
        keys = self._authenticate(message, data, authoritative)
        scoped = self._scoped_pdu(message, keys)
        pdu = scoped.pdu
        if isinstance(pdu, TrapV1):
            raise SnmpDecodeError("a v1 Trap-PDU in an SNMPv3 message")
        user = security.user_name.decode(errors="replace")
        if pdu.type is PduType.SNMPV2_TRAP:
            return from_pdu(pdu, "v3", user), None
        if pdu.type is not PduType.INFORM_REQUEST:
            self.stats.reject("unsupportedPdu")
            return None, None
        if not authoritative:
            raise Refused("unknownEngineIDs")  # an inform must name us as its engine
        notification = from_pdu(pdu, "v3", user)
        reply = self._seal(message, keys, scoped.context_engine_id, scoped.context_name, pdu)
        self.stats.informs_answered += 1
        return notification, reply

    def _authenticate(
        self, message: V3Message, data: bytes, authoritative: bool
    ) -> LocalizedUser | None:
        """The user's keys for this message (None at noAuthNoPriv), or Refused."""
        security = message.security
        user = self._user(security.user_name, security.engine_id, authoritative)
        if user is None:
            raise Refused("unknownUserNames")
        if message.flags & (FLAG_AUTH | FLAG_PRIV) != user.level:
            raise Refused("unsupportedSecLevels")
        if not user.level:
            return None
        keys = localized(user, security.engine_id)
        if not keys.verify(data, message.auth_offset, security.auth_params):
            raise Refused("wrongDigests")
        if authoritative and not self._in_time_window(security.boots, security.time):
            raise Refused("notInTimeWindows", keys)
        return keys

    def _user(self, name: bytes, engine_id: bytes, authoritative: bool) -> UsmUser | None:
        for candidate in self._users.get(name, ()):
            if authoritative or not candidate.engine_ids or engine_id in candidate.engine_ids:
                return candidate.user
        return None

    def _in_time_window(self, boots: int, engine_time: int) -> bool:
        """RFC 3414 3.2 step 7a, as the authoritative engine."""
        if self.boots == _MAX_ENGINE_VALUE or boots != self.boots:
            return False
        return abs(engine_time - self.engine_time()) <= TIME_WINDOW

    def _scoped_pdu(self, message: V3Message, keys: LocalizedUser | None) -> ScopedPdu:
        if not message.flags & FLAG_PRIV:
            return decode_scoped_pdu(message.scoped_data)
        assert keys is not None
        security = message.security
        try:
            plaintext = keys.decrypt(
                message.scoped_data, security.priv_params, security.boots, security.time
            )
            return decode_scoped_pdu(plaintext)
        except SnmpDecodeError:
            # Authentic but unreadable: the privacy password differs.
            raise Refused("decryptionErrors") from None

    def _seal(
        self,
        message: V3Message,
        keys: LocalizedUser | None,
        context_engine_id: bytes,
        context_name: bytes,
        pdu: Pdu,
    ) -> bytes:
        return seal(
            msg_id=message.msg_id,
            max_size=_MAX_SIZE,
            flags=message.flags & (FLAG_AUTH | FLAG_PRIV),
            user_name=message.security.user_name,
            keys=keys,
            engine_id=self.engine_id,
            boots=self.boots,
            engine_time=self.engine_time(),
            scoped_pdu=encode_scoped_pdu(context_engine_id, context_name, _response(pdu)),
        )

    def _report(self, message: V3Message, reason: str, keys: LocalizedUser | None) -> bytes | None:
        """A Report PDU with the usmStats counter (RFC 3414 3.2), only to a sender that asked
        for reports and only as the authoritative engine (or to a discovery)."""
        self._usm_counters[reason] += 1
        ours = message.security.engine_id in (b"", self.engine_id)
        if not message.flags & FLAG_REPORTABLE or not ours:
            return None
        varbind = encode_varbind(
            REPORT_OIDS[reason], SnmpType.COUNTER32, self._usm_counters[reason] & 0xFFFFFFFF
        )
        self.stats.reports_sent += 1
        return seal(
            msg_id=message.msg_id,
            max_size=_MAX_SIZE,
            flags=FLAG_AUTH if keys is not None else 0,
            user_name=message.security.user_name,
            keys=keys,
            engine_id=self.engine_id,
            boots=self.boots,
            engine_time=self.engine_time(),
            scoped_pdu=encode_scoped_pdu(
                self.engine_id, b"", encode_pdu(PduType.REPORT, 0, 0, 0, varbind)
            ),
        )


def _response(pdu: Pdu) -> bytes:
    """The Response to an InformRequest: same request-id and bindings (RFC 3416 4.2.7)."""
    varbinds = b"".join(encode_varbind(vb.oid, vb.type, vb.value) for vb in pdu.varbinds)
    return encode_pdu(PduType.RESPONSE, pdu.request_id, 0, 0, varbinds)


class _TrapProtocol(asyncio.DatagramProtocol):
    def __init__(self, receiver: TrapReceiver) -> None:
        self.receiver = receiver
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        reply = self.receiver.handle(data, str(addr[0]))
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("trap receiver socket error: %s", exc)
