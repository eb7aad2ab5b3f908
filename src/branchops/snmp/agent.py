"""Simulated SNMP agents for the lab: thousands of agents on 127.0.0.0/8 in one process.

A :class:`SimulatedAgent` answers v2c and v3 (USM) GET, GETNEXT and GETBULK from its
:class:`~branchops.snmp.mib.MibView` the way a real agent does: a wrong community gets no
answer, wrong v3 credentials get the RFC 3414 Report, GETBULK is cut to the message size,
GET and GETNEXT that do not fit get tooBig. ``silent`` makes it stop answering (fault
injection). Malformed packets are counted and dropped.

An :class:`AgentServer` carries the packets. In ``shared`` mode (the default, Linux) ONE
socket bound to the port on 0.0.0.0 serves every agent: IP_PKTINFO tells which address each
datagram was sent to, and the reply goes out with ``sendmsg`` from that address, so
127.3.4.5:16100 answers as 127.3.4.5. The reader drains up to a batch of datagrams per
wake-up instead of one per event-loop turn, and the process needs one file descriptor, not
one per agent. Packets from or to addresses outside 127.0.0.0/8 are dropped unanswered.
``per-address`` mode binds one asyncio endpoint per agent instead (portable, slower; see
docs/snmp.md for the measurements).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal, cast

from branchops.snmp.ber import (
    DECODE_FAILURES,
    decode_request_oids,
    encode_community_message,
    encode_pdu,
    encode_varbind,
    message_version,
    pdu_header,
    read_octets,
)
from branchops.snmp.errors import ErrorStatus, SnmpDecodeError
from branchops.snmp.mib import MibView
from branchops.snmp.types import PduType, SnmpType
from branchops.snmp.usm import (
    TIME_WINDOW,
    LocalizedUser,
    UsmUser,
    localized,
    seal,
)
from branchops.snmp.v3 import (
    FLAG_AUTH,
    FLAG_PRIV,
    FLAG_REPORTABLE,
    V3Message,
    decode_v3_message,
    encode_scoped_pdu,
    scoped_pdu_bounds,
)

log = logging.getLogger(__name__)

IP_PKTINFO: Final = getattr(socket, "IP_PKTINFO", 8)  # Linux value; Python 3.11 lacks it
_CMSG_SPACE: Final = socket.CMSG_SPACE(12)  # struct in_pktinfo
_MAX_DATAGRAM: Final = 65535
_BATCH: Final = 256  # datagrams drained per wake-up before yielding to the event loop
_SOCKET_BUFFER: Final = 4 * 1024 * 1024
_V2C_OVERHEAD: Final = 40  # message, PDU and list headers around the VarBinds, community aside
_V3_OVERHEAD: Final = 240  # plus msgGlobalData, USM parameters, ScopedPDU headers and a MAC
_MAX_ENGINE_TIME: Final = 2**31 - 1

_USM_STATS: Final = (1, 3, 6, 1, 6, 3, 15, 1, 1)
_REPORT_OIDS: Final = {
    "unsupportedSecLevels": (*_USM_STATS, 1, 0),
    "notInTimeWindows": (*_USM_STATS, 2, 0),
    "unknownUserNames": (*_USM_STATS, 3, 0),
    "unknownEngineIDs": (*_USM_STATS, 4, 0),
    "wrongDigests": (*_USM_STATS, 5, 0),
    "decryptionErrors": (*_USM_STATS, 6, 0),
}


@dataclass(slots=True)
class AgentStats:
    """What one simulated agent received and how it answered."""

    requests: int = 0
    answered: int = 0
    malformed: int = 0
    bad_community: int = 0
    unsupported: int = 0  # SNMPv1, or a PDU an agent does not answer
    silent: int = 0  # dropped while ``silent``
    too_big: int = 0
    gen_errors: int = 0
    reports: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_REPORT_OIDS, 0))


def lab_engine_id(address: str) -> bytes:
    """A readable RFC 3411 engine ID (enterprise 0, text format) naming the agent address."""
    return b"\x80\x00\x00\x00\x04lab:" + address.encode()


class SimulatedAgent:
    """One simulated device's SNMP engine. ``address`` must be in 127.0.0.0/8."""

    def __init__(
        self,
        address: str,
        view: MibView,
        *,
        communities: Iterable[str | bytes] = ("public",),
        users: Iterable[UsmUser] = (),
        engine_id: bytes | None = None,
        boots: int = 1,
        max_message_size: int = 1472,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parsed = ipaddress.IPv4Address(address)
        if not parsed.is_loopback:
            raise ValueError(f"simulated agents live on 127.0.0.0/8, not {address}")
        self.address = str(parsed)
        self.packed = parsed.packed
        self.view = view
        self.communities = frozenset(c.encode() if isinstance(c, str) else c for c in communities)
        self.engine_id = engine_id or lab_engine_id(self.address)
        self.boots = boots
        self.max_message_size = max_message_size
        self.silent = False
        self.stats = AgentStats()
        self._clock = clock
        self._started = clock()
        self._users = {user.name.encode(): user for user in users}
        self._keys: dict[bytes, LocalizedUser | None] = {
            name: (localized(user, self.engine_id) if user.level else None)
            for name, user in self._users.items()
        }

    def engine_time(self) -> int:
        """Seconds since this engine (re)started, as USM counts them."""
        return min(max(int(self._clock() - self._started), 0), _MAX_ENGINE_TIME)

    def restart(self) -> None:
        """Simulate a reboot: snmpEngineBoots goes up, snmpEngineTime starts again at 0."""
        self.boots += 1
        self._started = self._clock()

    # ---- dispatch ----------------------------------------------------------------------------

    def handle(self, data: bytes) -> bytes | None:
        """The reply to one datagram, or None to stay silent. Never raises for bad input."""
        self.stats.requests += 1
        if self.silent:
            self.stats.silent += 1
            return None
        try:
            version, pos, stop = message_version(data)
            if version == 1:
                reply = self._handle_v2c(data, pos, stop)
            elif version == 3:
                reply = self._handle_v3(data)
            else:
                self.stats.unsupported += 1
                return None
        except SnmpDecodeError:
            self.stats.malformed += 1
            return None
        if reply is not None:
            self.stats.answered += 1
        return reply

    def _handle_v2c(self, data: bytes, pos: int, stop: int) -> bytes | None:
        try:
            community, p = read_octets(data, pos, stop)
            if community not in self.communities:
                self.stats.bad_community += 1  # real agents stay silent, so do we
                return None
            header = pdu_header(data, p, stop)
            raw_oids = decode_request_oids(data, header[4], header[5])
        except DECODE_FAILURES as exc:
            raise SnmpDecodeError(str(exc)) from None
        budget = self.max_message_size - _V2C_OVERHEAD - len(community)
        pdu = self._respond(data, header, raw_oids, budget)
        return None if pdu is None else encode_community_message(1, community, pdu)

    # ---- PDUs --------------------------------------------------------------------------------

    def _respond(
        self,
        data: bytes,
        header: tuple[PduType, int, int, int, int, int],
        raw_oids: list[bytes],
        budget: int,
    ) -> bytes | None:
        """The encoded Response PDU for a request PDU, or None for PDUs we do not answer."""
        pdu_type, request_id, field1, field2, vb_start, vb_stop = header
        try:
            if pdu_type is PduType.GET_REQUEST:
                parts = [self.view.get(raw) for raw in raw_oids]
            elif pdu_type is PduType.GET_NEXT_REQUEST:
                parts = [self._next(raw) for raw in raw_oids]
            elif pdu_type is PduType.GET_BULK_REQUEST:
                parts = self._bulk(raw_oids, field1, field2, budget)
            elif pdu_type is PduType.SET_REQUEST:
                # The lab is read-only; RFC 3416 4.2.5 echoes the request's bindings.
                varbinds = data[vb_start:vb_stop]
                return encode_pdu(
                    PduType.RESPONSE, request_id, ErrorStatus.NOT_WRITABLE, 1, varbinds
                )
            else:
                self.stats.unsupported += 1
                return None
        except SnmpDecodeError:
            raise  # a malformed OID in the request: dropped like any malformed packet
        except Exception:  # a live value's callable failed: the agent reports genErr
            log.debug("simulated agent %s: value source failed", self.address, exc_info=True)
            self.stats.gen_errors += 1
            return encode_pdu(PduType.RESPONSE, request_id, ErrorStatus.GEN_ERR, 0, b"")
        varbinds = b"".join(parts)
        if len(varbinds) > budget:
            self.stats.too_big += 1
            return encode_pdu(PduType.RESPONSE, request_id, ErrorStatus.TOO_BIG, 0, b"")
        return encode_pdu(PduType.RESPONSE, request_id, 0, 0, varbinds)

    def _next(self, raw_oid: bytes) -> bytes:
        entry = self.view.at(self.view.next_index(raw_oid))
        return self.view.end_of_view(raw_oid) if entry is None else entry.varbind()

    def _bulk(
        self, raw_oids: list[bytes], non_repeaters: int, max_repetitions: int, budget: int
    ) -> list[bytes]:
        """GETBULK (RFC 3416 4.2.3): stops at ``budget`` octets instead of answering tooBig,
        and after a repetition in which every repeater reached the end of the view."""
        n = min(max(non_repeaters, 0), len(raw_oids))
        parts = [self._next(raw) for raw in raw_oids[:n]]
        size = sum(map(len, parts))
        view = self.view
        repeaters = raw_oids[n:]
        cursors = [view.next_index(raw) for raw in repeaters]
        last = list(repeaters)
        for _ in range(max(max_repetitions, 0)):
            at_end = True
            for j, cursor in enumerate(cursors):
                entry = view.at(cursor)
                if entry is None:
                    varbind = view.end_of_view(last[j])
                else:
                    varbind = entry.varbind()
                    last[j] = entry.raw_oid
                    cursors[j] = cursor + 1
                    at_end = False
                size += len(varbind)
                if size > budget:
                    return parts
                parts.append(varbind)
            if at_end:
                break
        return parts

    # ---- SNMPv3 (we are the authoritative engine) --------------------------------------------

    def _handle_v3(self, data: bytes) -> bytes | None:
        message = decode_v3_message(data)
        reason, keys = self._authenticate(message, data)
        if reason is not None:
            return self._report(message, reason, keys if reason == "notInTimeWindows" else None)
        level = message.flags & (FLAG_AUTH | FLAG_PRIV)
        plaintext = self._plaintext(message, keys)
        try:
            if plaintext is None:
                raise SnmpDecodeError("cannot decrypt")
            _, context_name, pos, stop = scoped_pdu_bounds(plaintext)
            header = pdu_header(plaintext, pos, stop)
            raw_oids = decode_request_oids(plaintext, header[4], header[5])
        except (SnmpDecodeError, *DECODE_FAILURES):
            if level & FLAG_PRIV:  # authentic but undecryptable: the privacy key differs
                return self._report(message, "decryptionErrors")
            raise SnmpDecodeError("malformed ScopedPDU") from None
        budget = min(self.max_message_size, message.max_size) - _V3_OVERHEAD
        pdu = self._respond(plaintext, header, raw_oids, budget)
        if pdu is None:
            return None
        return seal(
            msg_id=message.msg_id,
            max_size=self.max_message_size,
            flags=level,
            user_name=message.security.user_name,
            keys=keys,
            engine_id=self.engine_id,
            boots=self.boots,
            engine_time=self.engine_time(),
            scoped_pdu=encode_scoped_pdu(self.engine_id, context_name, pdu),
        )

    def _authenticate(
        self, message: V3Message, data: bytes
    ) -> tuple[str | None, LocalizedUser | None]:
        """The usmStats reason to refuse the message (None to accept), and the user's keys.

        Simplification: a message whose security level differs from the user's in either
        direction is refused as unsupportedSecLevels (a real agent leaves the "lower" case
        to its access control, which the lab does not model).
        """
        security = message.security
        user = self._users.get(security.user_name)
        reason = None
        if security.engine_id != self.engine_id:
            reason = "unknownEngineIDs"
        elif user is None:
            reason = "unknownUserNames"
        elif message.flags & (FLAG_AUTH | FLAG_PRIV) != user.level:
            reason = "unsupportedSecLevels"
        if reason is not None:
            return reason, None
        keys = self._keys[security.user_name]
        if keys is None:
            return None, None
        if not keys.verify(data, message.auth_offset, security.auth_params):
            return "wrongDigests", None
        if security.boots != self.boots or abs(security.time - self.engine_time()) > TIME_WINDOW:
            return "notInTimeWindows", keys
        return None, keys

    @staticmethod
    def _plaintext(message: V3Message, keys: LocalizedUser | None) -> bytes | None:
        """The ScopedPDU octets, decrypted if need be; None when decryption fails."""
        if not message.flags & FLAG_PRIV:
            return message.scoped_data
        assert keys is not None
        security = message.security
        try:
            return keys.decrypt(
                message.scoped_data, security.priv_params, security.boots, security.time
            )
        except SnmpDecodeError:
            return None

    def _report(
        self, message: V3Message, reason: str, keys: LocalizedUser | None = None
    ) -> bytes | None:
        """A Report PDU with the incremented usmStats counter (RFC 3414 3.2), sent
        unauthenticated except for notInTimeWindows, which must carry our time securely."""
        counters = self.stats.reports
        counters[reason] += 1
        if not message.flags & FLAG_REPORTABLE:
            return None
        varbind = encode_varbind(
            _REPORT_OIDS[reason], SnmpType.COUNTER32, counters[reason] & 0xFFFFFFFF
        )
        pdu = encode_pdu(PduType.REPORT, _request_id(message), 0, 0, varbind)
        return seal(
            msg_id=message.msg_id,
            max_size=self.max_message_size,
            flags=FLAG_AUTH if keys is not None else 0,
            user_name=message.security.user_name,
            keys=keys,
            engine_id=self.engine_id,
            boots=self.boots,
            engine_time=self.engine_time(),
            scoped_pdu=encode_scoped_pdu(self.engine_id, b"", pdu),
        )


def _request_id(message: V3Message) -> int:
    """The request-id of a plaintext request, else 0 (the manager matches on msgID)."""
    if message.flags & FLAG_PRIV:
        return 0
    try:
        _, _, pos, stop = scoped_pdu_bounds(message.scoped_data)
        return pdu_header(message.scoped_data, pos, stop)[1]
    except (SnmpDecodeError, *DECODE_FAILURES):
        return 0


# ---- transport ---------------------------------------------------------------------------------


@dataclass(slots=True)
class ServerStats:
    """Datagrams the server could not hand to an agent, or could not send."""

    received: int = 0
    unknown_destination: int = 0
    foreign: int = 0  # from or to an address outside 127.0.0.0/8
    send_failures: int = 0


class _AgentProtocol(asyncio.DatagramProtocol):
    """per-address mode: one endpoint, one agent."""

    def __init__(self, server: AgentServer, agent: SimulatedAgent) -> None:
        self.server = server
        self.agent = agent
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's selector datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.server.stats.received += 1
        if not addr[0].startswith("127."):
            self.server.stats.foreign += 1
            return
        reply = self.agent.handle(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        self.server.stats.send_failures += 1


class AgentServer:
    """Serves simulated agents on one UDP port, in ``shared`` or ``per-address`` mode."""

    def __init__(
        self,
        port: int,
        *,
        mode: Literal["shared", "per-address"] = "shared",
        bind: str = "0.0.0.0",  # noqa: S104 - shared mode; non-loopback packets are dropped
    ) -> None:
        self.port = port
        self.mode = mode
        self.bind = bind
        self.stats = ServerStats()
        self._agents: dict[bytes, SimulatedAgent] = {}
        self._pktinfo: dict[bytes, bytes] = {}
        self._sock: socket.socket | None = None
        self._endpoints: dict[bytes, asyncio.DatagramTransport] = {}

    def agent(self, address: str) -> SimulatedAgent:
        """The agent at ``address`` (KeyError when there is none)."""
        return self._agents[socket.inet_aton(address)]

    def __len__(self) -> int:
        return len(self._agents)

    async def start(self) -> None:
        """Open the shared socket (per-address mode opens one per agent in :meth:`add`)."""
        if self.mode != "shared" or self._sock is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_BUFFER)
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        sock.setblocking(False)
        sock.bind((self.bind, self.port))
        if self.port == 0:
            self.port = sock.getsockname()[1]
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._on_readable)

    async def add(self, agent: SimulatedAgent) -> None:
        """Start answering as ``agent`` (replacing any agent at the same address)."""
        await self.remove(agent.address)
        self._agents[agent.packed] = agent
        # struct in_pktinfo for sendmsg: ifindex 0, source address = the agent's address.
        self._pktinfo[agent.packed] = bytes(4) + agent.packed + bytes(4)
        if self.mode == "per-address":
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _AgentProtocol(self, agent), local_addr=(agent.address, self.port)
            )
            self._endpoints[agent.packed] = transport

    async def add_all(self, agents: Iterable[SimulatedAgent]) -> None:
        for agent in agents:
            await self.add(agent)

    async def remove(self, address: str) -> None:
        packed = socket.inet_aton(address)
        self._agents.pop(packed, None)
        self._pktinfo.pop(packed, None)
        endpoint = self._endpoints.pop(packed, None)
        if endpoint is not None:
            endpoint.close()

    def close(self) -> None:
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        for endpoint in self._endpoints.values():
            endpoint.close()
        self._endpoints.clear()

    async def __aenter__(self) -> AgentServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(_BATCH):
            try:
                data, ancillary, _flags, source = sock.recvmsg(_MAX_DATAGRAM, _CMSG_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.stats.send_failures += 1  # e.g. a queued ICMP error; keep serving
                continue
            self.stats.received += 1
            destination = _destination(ancillary)
            agent = self._agents.get(destination)
            if agent is None:
                self.stats.unknown_destination += 1
                continue
            if not source[0].startswith("127."):
                self.stats.foreign += 1
                continue
            reply = agent.handle(data)
            if reply is not None:
                self._send(sock, reply, destination, source)

    def _send(self, sock: socket.socket, reply: bytes, source: bytes, to: tuple[str, int]) -> None:
        try:
            sock.sendmsg([reply], [(socket.IPPROTO_IP, IP_PKTINFO, self._pktinfo[source])], 0, to)
        except OSError:  # full send buffer or a vanished peer: UDP may drop, so do we
            self.stats.send_failures += 1


def _destination(ancillary: list[tuple[int, int, bytes]]) -> bytes:
    """The packed destination address from IP_PKTINFO (struct in_pktinfo.ipi_addr)."""
    for level, kind, payload in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(payload) >= 12:
            return payload[8:12]
    return b""
