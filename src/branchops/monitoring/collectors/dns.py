"""DNS resolution: ask one server for one name and record type, judge the answer.

A small client written from RFC 1035 (with RFC 6891's OPT record to allow 1232-byte UDP
answers), not dnspython: the check needs one question, eight record types and a strict,
bounded decoder, and the engine gains no dependency. Each query uses its own UDP socket
(a fresh source port, "connected" so the kernel drops datagrams from other addresses) and a
random ID; an answer must repeat our ID and question, anything else is ignored until the
deadline. A truncated answer is asked again over TCP (RFC 7766). Decoding never trusts a
length or a pointer: compression pointers must point backwards (so they cannot loop), names
stay within 255 octets, and every read is bounds-checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
from branchops.monitoring.params import DnsParams

TYPES: Final = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}
TYPE_NAMES: Final = {code: name for name, code in TYPES.items()}
RCODES: Final = {1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
CLASS_IN: Final = 1
OPT: Final = 41
UDP_PAYLOAD: Final = 1232  # the EDNS buffer size DNS Flag Day 2020 settled on
_HEADER: Final = struct.Struct("!HHHHHH")
_RR: Final = struct.Struct("!HHIH")
_FLAG_QR: Final = 0x8000
_FLAG_TC: Final = 0x0200
_FLAG_RD: Final = 0x0100
_MAX_NAME: Final = 255


class DnsFormatError(ValueError):
    """An answer that does not decode."""


@dataclass(frozen=True, slots=True)
class Record:
    rtype: int
    text: str  # presentation form: "127.0.0.5", "mail.lab.", "10 mail.lab.", "v=spf1 -all"


@dataclass(slots=True)
class Response:
    rcode: int
    truncated: bool
    answers: list[Record] = field(default_factory=list)


# ---- encoding ---------------------------------------------------------------------------------


def query_name(name: str, record: str) -> str:
    """The name to ask for: an IP address given for a PTR check becomes its reverse name."""
    if record == "PTR":
        try:
            return ipaddress.ip_address(name).reverse_pointer
        except ValueError:
            pass
    return name


def encode_name(name: str) -> bytes:
    labels = name.rstrip(".").split(".") if name not in ("", ".") else []
    out = bytearray()
    for label in labels:
        try:
            raw = label.encode("idna") if not label.isascii() else label.encode()
        except UnicodeError as exc:
            raise ConfigError(f"name {name!r}: label {label!r} cannot be encoded: {exc}") from None
        if not 0 < len(raw) < 64:
            raise ConfigError(f"name {name!r}: each label needs 1 to 63 octets")
        out += bytes((len(raw),)) + raw
    out += b"\0"
    if len(out) > _MAX_NAME:
        raise ConfigError(f"name {name!r} is longer than 255 octets")
    return bytes(out)


def encode_query(qid: int, qname: bytes, qtype: int) -> bytes:
    header = _HEADER.pack(qid, _FLAG_RD, 1, 0, 0, 1)
    question = qname + struct.pack("!HH", qtype, CLASS_IN)
    opt = b"\0" + _RR.pack(OPT, UDP_PAYLOAD, 0, 0)  # root owner, no options, DO bit clear
    return header + question + opt


# ---- decoding ---------------------------------------------------------------------------------


def read_name(data: bytes, pos: int) -> tuple[str, int]:
    """The name at ``pos`` (lower case, with a trailing dot) and the offset after it."""
    labels: list[str] = []
    length = 0
    end = -1  # where the name ends in the record, before the first pointer was followed
    while True:
        if pos >= len(data):
            raise DnsFormatError("name runs past the end of the message")
        size = data[pos]
        if size & 0xC0 == 0xC0:
            if pos + 1 >= len(data):
                raise DnsFormatError("truncated compression pointer")
            target = ((size & 0x3F) << 8) | data[pos + 1]
            if target >= pos:  # only backwards: a pointer can never start a loop
                raise DnsFormatError("compression pointer does not point backwards")
            if end < 0:
                end = pos + 2
            pos = target
            continue
        if size & 0xC0:
            raise DnsFormatError(f"unknown label type 0x{size:02x}")
        pos += 1
        if size == 0:
            break
        length += size + 1
        if length > _MAX_NAME or pos + size > len(data):
            raise DnsFormatError("name too long or past the end of the message")
        labels.append(data[pos : pos + size].decode("ascii", "backslashreplace").lower())
        pos += size
    return ".".join(labels) + ".", (end if end >= 0 else pos)


def decode_response(data: bytes, qid: int, qname: bytes, qtype: int) -> Response | None:
    """The response to our query, None for a datagram that is not (a stray or a spoof);
    DnsFormatError when it claims to be ours but does not decode."""
    if len(data) < _HEADER.size:
        return None
    rid, flags, qdcount, ancount, _, _ = _HEADER.unpack_from(data)
    if rid != qid or not flags & _FLAG_QR:
        return None
    # Our question comes back first and uncompressed (nothing precedes it to point at);
    # label lengths are below 64, so lower() changes only the letters.
    pos = _HEADER.size + len(qname)
    question = qname + struct.pack("!HH", qtype, CLASS_IN)
    if qdcount != 1 or data[_HEADER.size : pos + 4].lower() != question.lower():
        return None  # an answer to some other question
    pos += 4
    try:
        response = Response(rcode=flags & 0x000F, truncated=bool(flags & _FLAG_TC))
        for _ in range(ancount):
            record, pos = _read_record(data, pos)
            if record is not None:
                response.answers.append(record)
    except (IndexError, struct.error, UnicodeError) as exc:
        raise DnsFormatError(f"malformed answer: {exc}") from exc
    return response


def _read_record(data: bytes, pos: int) -> tuple[Record | None, int]:
    _, pos = read_name(data, pos)
    if pos + _RR.size > len(data):
        raise DnsFormatError("resource record header past the end")
    rtype, rclass, _ttl, rdlength = _RR.unpack_from(data, pos)
    start = pos + _RR.size
    end = start + rdlength
    if end > len(data):
        raise DnsFormatError("resource record data past the end")
    if rclass != CLASS_IN or rtype not in TYPE_NAMES:
        return None, end
    return Record(rtype, _rdata_text(data, rtype, start, end)), end


def _rdata_text(data: bytes, rtype: int, start: int, end: int) -> str:
    rdata = data[start:end]
    if rtype == TYPES["A"]:
        return str(ipaddress.IPv4Address(_exact(rdata, 4)))
    if rtype == TYPES["AAAA"]:
        return str(ipaddress.IPv6Address(_exact(rdata, 16)))
    if rtype in (TYPES["CNAME"], TYPES["NS"], TYPES["PTR"]):
        return _name_within(data, start, end)[0]
    if rtype == TYPES["MX"]:
        (preference,) = struct.unpack_from("!H", _exact(rdata[:2], 2))
        return f"{preference} {_name_within(data, start + 2, end)[0]}"
    if rtype == TYPES["TXT"]:
        return _txt(rdata)
    mname, pos = _name_within(data, start, end)
    rname, pos = _name_within(data, pos, end)
    numbers = struct.unpack("!IIIII", _exact(data[pos:end], 20))
    return " ".join([mname, rname, *map(str, numbers)])


def _exact(raw: bytes, size: int) -> bytes:
    if len(raw) != size:
        raise DnsFormatError(f"record data of {len(raw)} octets where {size} belong")
    return raw


def _name_within(data: bytes, start: int, end: int) -> tuple[str, int]:
    name, pos = read_name(data, start)
    if pos > end:
        raise DnsFormatError("name runs past its record")
    return name, pos


def _txt(rdata: bytes) -> str:
    parts, pos = [], 0
    while pos < len(rdata):
        size = rdata[pos]
        if pos + 1 + size > len(rdata):
            raise DnsFormatError("TXT string past the end of its record")
        parts.append(rdata[pos + 1 : pos + 1 + size].decode("utf-8", "replace"))
        pos += 1 + size
    return "".join(parts)


# ---- transport --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Exchange:
    """One question to one server."""

    server: tuple[str, int]
    family: socket.AddressFamily
    qname: bytes
    qtype: int
    qid: int = field(default_factory=lambda: secrets.randbelow(0x10000))
    malformed: str = ""  # the last undecodable answer that carried our ID

    @property
    def query(self) -> bytes:
        return encode_query(self.qid, self.qname, self.qtype)

    async def over_udp(self) -> Response:
        loop = asyncio.get_running_loop()
        with _new_socket(self.family, socket.SOCK_DGRAM) as sock:
            await loop.sock_connect(sock, self.server)  # the kernel drops other sources
            await loop.sock_sendall(sock, self.query)
            while True:
                data = await loop.sock_recv(sock, 65535)
                response = self._decode(data)
                if response is not None:
                    return response

    async def over_tcp(self) -> Response:
        reader, writer = await asyncio.open_connection(*self.server)
        try:
            query = self.query
            writer.write(struct.pack("!H", len(query)) + query)
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            data = await reader.readexactly(size)
        finally:
            writer.transport.abort()
        response = decode_response(data, self.qid, self.qname, self.qtype)
        if response is None:
            raise DnsFormatError("the answer over TCP is not for our question")
        return response

    def _decode(self, data: bytes) -> Response | None:
        try:
            return decode_response(data, self.qid, self.qname, self.qtype)
        except DnsFormatError as exc:
            self.malformed = str(exc)  # keep listening: a good answer may still come
            return None


# ---- the collector ----------------------------------------------------------------------------


class DnsCollector:
    """Looks ``params.name`` up at ``spec.target``:``params.server_port``."""

    kind = "dns"

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._monotonic = monotonic

    @classmethod
    def from_context(cls, context: Context) -> DnsCollector:
        return cls(context.clock, context.monotonic)

    async def aclose(self) -> None:
        """Nothing to close: each query has its own socket."""

    async def collect(self, spec: CheckSpec) -> Result:
        params = typed_params(spec, DnsParams)
        server = _server_address(spec.target)
        exchange = _Exchange(
            server=(str(server), params.server_port),
            family=socket.AF_INET6 if server.version == 6 else socket.AF_INET,
            qname=encode_name(query_name(params.name, params.record)),
            qtype=TYPES[params.record],
        )
        started, begin = self._clock(), self._monotonic()
        where = f"{spec.target}:{params.server_port}"
        try:
            async with asyncio.timeout(spec.timeout_s):
                response = await exchange.over_udp()
                if response.truncated:
                    response = await exchange.over_tcp()
        except TimeoutError:
            if exchange.malformed:
                raise CollectorError(f"{where}: malformed answer: {exchange.malformed}") from None
            return _down(spec, started, self._monotonic() - begin, f"{where}: no answer")
        except (DnsFormatError, asyncio.IncompleteReadError) as exc:
            raise CollectorError(f"{where}: malformed answer: {exc}") from None
        except OSError as exc:
            reason = "port unreachable" if isinstance(exc, ConnectionRefusedError) else exc
            return _down(spec, started, self._monotonic() - begin, f"{where}: {reason}")
        return _judge(spec, params, response, started, self._monotonic() - begin)


def _server_address(target: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(target)
    except ValueError:
        raise ConfigError(f"DNS server must be an IP address, not {target!r}") from None


def _down(spec: CheckSpec, started: float, elapsed: float, error: str) -> Result:
    return Result(spec.check_id, State.DOWN, started, elapsed, (), error)


def _normal(text: str) -> str:
    return text.strip().lower().rstrip(".")


def _judge(
    spec: CheckSpec, params: DnsParams, response: Response, started: float, elapsed: float
) -> Result:
    labels = labels_of(spec)
    if response.rcode:
        rcode = RCODES.get(response.rcode, f"RCODE {response.rcode}")
        error = f"{rcode} for {params.name} {params.record}"
        lookup = Sample("branchops_dns_lookup_seconds", elapsed, labels)
        return Result(spec.check_id, State.DOWN, started, elapsed, (lookup,), error)
    qtype = TYPES[params.record]
    texts = [r.text for r in response.answers if r.rtype == qtype]
    found = {_normal(t) for t in texts}
    if params.record == "MX":  # "mail.lab" names the exchange whatever its preference
        found |= {_normal(t.split(" ", 1)[-1]) for t in texts}
    missing = [e for e in params.expect if _normal(e) not in found]
    samples = (
        Sample("branchops_dns_lookup_seconds", elapsed, labels),
        Sample("branchops_dns_answers", len(texts), labels),
    )
    shown = ", ".join(texts[:3]) + (", ..." if len(texts) > 3 else "")
    summary = f"{params.record} {shown or '(none)'}, {elapsed * 1000:.2f} ms"
    state, error = State.UP, ""
    if missing:
        state, error = State.DEGRADED, f"expected answer missing: {', '.join(missing)}"
    elif not texts:
        state, error = State.DEGRADED, f"no {params.record} record for {params.name}"
    return Result(spec.check_id, state, started, elapsed, samples, error, summary)


def _new_socket(family: socket.AddressFamily, kind: socket.SocketKind) -> socket.socket:
    """A non-blocking socket; running out of them is our trouble, not the target's."""
    try:
        sock = socket.socket(family, kind)
    except OSError as exc:
        raise CollectorError(f"cannot open a socket: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock
