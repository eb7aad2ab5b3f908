"""BER encoding and decoding of exactly what SNMP carries (X.690 subset, RFC 3416/3417).

Speed: a poll cycle decodes hundreds of thousands of variable bindings, so the hot loops
index ``bytes`` directly, convert numbers with ``int.from_bytes``, keep encoded and decoded
OIDs in bounded caches, and build results with ``tuple.__new__`` instead of a NamedTuple's
Python-level constructor.

Safety: every public ``decode_*`` function raises only :class:`SnmpDecodeError`. Lengths
are checked against the enclosing element before anything is sliced; indefinite lengths,
lengths of more than four octets, constructed strings and OID arcs above 2**32-1 are refused.
Nothing recurses (SNMP values are never nested), so hostile nesting cannot exhaust the stack,
and nothing allocates more than the packet's own size.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from functools import cache
from typing import Final, NamedTuple

from branchops.snmp.errors import SnmpDecodeError
from branchops.snmp.types import (
    MAX_OID_ARCS,
    MAX_SUBID,
    Oid,
    PduType,
    SnmpType,
    Value,
    VarBind,
    check_oid,
    parse_oid,
)

SEQUENCE: Final = 0x30
INTEGER: Final = 0x02
OCTET_STRING: Final = 0x04
NULL: Final = 0x05
OID: Final = 0x06

MAX_INT32: Final = 2**31 - 1
MIN_INT32: Final = -(2**31)
MAX_UINT32: Final = 2**32 - 1
MAX_UINT64: Final = 2**64 - 1

# Exceptions a broken packet can raise inside the decoders before a check catches it; the
# public entry points turn these into SnmpDecodeError.
DECODE_FAILURES: Final = (IndexError, KeyError, ValueError, OverflowError, TypeError)

_new_tuple = tuple.__new__
_TYPE_OF: Final[dict[int, SnmpType]] = {t.value: t for t in SnmpType}
_PDU_OF: Final[dict[int, PduType]] = {t.value: t for t in PduType}
_UNSIGNED32: Final = frozenset((0x41, 0x42, 0x43))
_EXCEPTIONS: Final = frozenset((0x80, 0x81, 0x82))
_MAX_OID_OCTETS: Final = MAX_OID_ARCS * 5
_CACHE_LIMIT: Final = 100_000  # entries per cache: at most ~20 MB, cleared when full


class Pdu(NamedTuple):
    """A decoded PDU. In a GetBulkRequest ``error_status`` holds non-repeaters and
    ``error_index`` max-repetitions, as on the wire (RFC 3416 section 3)."""

    type: PduType
    request_id: int
    error_status: int
    error_index: int
    varbinds: list[VarBind]


class TrapV1(NamedTuple):
    """An SNMPv1 Trap-PDU (RFC 1157 section 4.1.6)."""

    enterprise: Oid
    agent_address: str
    generic_trap: int
    specific_trap: int
    timestamp: int
    varbinds: list[VarBind]


class CommunityMessage(NamedTuple):
    """An SNMPv1 (version 0) or SNMPv2c (version 1) message."""

    version: int
    community: bytes
    pdu: Pdu | TrapV1


# ---- encoding --------------------------------------------------------------------------------

_SHORT_LENGTH: Final = [bytes((n,)) for n in range(0x80)]


def encode_length(n: int) -> bytes:
    """The definite-form length octets for ``n`` content octets."""
    if n < 0x80:
        return _SHORT_LENGTH[n]
    if n < 0x100:
        return bytes((0x81, n))
    if n < 0x10000:
        return bytes((0x82, n >> 8, n & 0xFF))
    if n < 0x1000000:
        return b"\x83" + n.to_bytes(3, "big")
    return b"\x84" + n.to_bytes(4, "big")


def tlv(tag: int, content: bytes) -> bytes:
    """Tag, length and content: one BER element."""
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    return bytes((tag,)) + encode_length(n) + content


def encode_integer(tag: int, n: int) -> bytes:
    """A two's-complement INTEGER (or an application type built on it) in minimal form."""
    if 0 <= n < 0x80:
        return bytes((tag, 1, n))
    content = n.to_bytes((n if n >= 0 else ~n).bit_length() // 8 + 1, "big", signed=True)
    return bytes((tag, len(content))) + content


def _base128(subid: int, out: bytearray) -> None:
    groups = [subid & 0x7F]
    subid >>= 7
    while subid:
        groups.append(0x80 | (subid & 0x7F))
        subid >>= 7
    out.extend(reversed(groups))


_OID_CONTENT: dict[Oid, bytes] = {}


def oid_content(oid: Oid) -> bytes:
    """The content octets of an OID (checked, cached: a poller sends the same OIDs forever)."""
    content = _OID_CONTENT.get(oid)
    if content is None:
        content = encode_oid_content(oid)
        if len(_OID_CONTENT) >= _CACHE_LIMIT:
            _OID_CONTENT.clear()
        _OID_CONTENT[oid] = content
    return content


def encode_oid_content(oid: Oid) -> bytes:
    """The content octets of an OID, checked, without caching (for one-off OIDs)."""
    check_oid(oid)
    subids = (oid[0] * 40 + oid[1], *oid[2:])
    if max(subids) < 0x80:
        return bytes(subids)
    out = bytearray()
    for subid in subids:
        _base128(subid, out)
    return bytes(out)


def encode_oid(oid: Oid) -> bytes:
    """An OBJECT IDENTIFIER element."""
    return tlv(OID, oid_content(oid))


def encode_value(kind: SnmpType | int, value: Value) -> bytes:
    """One value element of the given SNMP type; ValueError when it does not fit the type."""
    if kind in _EXCEPTIONS or kind == NULL:
        return bytes((kind, 0))
    if kind in (OCTET_STRING, SnmpType.OPAQUE):
        if isinstance(value, str):
            value = value.encode()
        if not isinstance(value, bytes | bytearray):
            raise ValueError(f"{SnmpType(kind).name} needs bytes, got {type(value).__name__}")
        return tlv(kind, bytes(value))
    if kind == OID:
        if not isinstance(value, str | tuple):
            raise ValueError("OBJECT IDENTIFIER needs a tuple or dotted text")
        return encode_oid(parse_oid(value))
    if kind == SnmpType.IP_ADDRESS:
        if not isinstance(value, str):
            raise ValueError("IpAddress needs dotted text")
        return b"\x40\x04" + socket.inet_aton(value)
    return _encode_number(kind, value)


_RANGES: Final = {
    INTEGER: (MIN_INT32, MAX_INT32),
    SnmpType.COUNTER32: (0, MAX_UINT32),
    SnmpType.GAUGE32: (0, MAX_UINT32),
    SnmpType.TIMETICKS: (0, MAX_UINT32),
    SnmpType.COUNTER64: (0, MAX_UINT64),
}


def _encode_number(kind: int, value: Value) -> bytes:
    bounds = _RANGES.get(kind)
    if bounds is None:
        raise ValueError(f"cannot encode SNMP type {kind:#x}")
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{SnmpType(kind).name} needs an int, got {type(value).__name__}")
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{value} is out of range for {SnmpType(kind).name}")
    return encode_integer(kind, value)


@cache
def value_encoder(kind: SnmpType) -> Callable[[Value], bytes]:
    """A function encoding values of one type, for sources asked again and again (the lab's
    moving counters): the numeric types skip :func:`encode_value`'s dispatch. One function
    per type, shared by every object of that type."""
    bounds = _RANGES.get(kind)
    if bounds is None:
        return lambda value: encode_value(kind, value)
    low, high = bounds

    def encode_number(value: Value) -> bytes:
        if type(value) is not int or not low <= value <= high:
            return _encode_number(kind, value)  # raises the precise ValueError
        return encode_integer(kind, value)

    return encode_number


def encode_varbind(oid: Oid, kind: SnmpType | int, value: Value) -> bytes:
    """One VarBind SEQUENCE."""
    return tlv(SEQUENCE, encode_oid(oid) + encode_value(kind, value))


_NULL_VARBIND: dict[Oid, bytes] = {}


def encode_walk_varbind(oid: Oid) -> bytes:
    """A request VarBind for an OID met once (a walk's cursor), kept out of the caches so
    that walking big tables does not evict the OIDs a poller sends every cycle."""
    return tlv(SEQUENCE, tlv(OID, encode_oid_content(oid)) + b"\x05\x00")


def encode_request_varbind(oid: Oid) -> bytes:
    """A VarBind with a NULL value, as requests carry; cached per OID."""
    encoded = _NULL_VARBIND.get(oid)
    if encoded is None:
        encoded = tlv(SEQUENCE, encode_oid(oid) + b"\x05\x00")
        if len(_NULL_VARBIND) >= _CACHE_LIMIT:
            _NULL_VARBIND.clear()
        _NULL_VARBIND[oid] = encoded
    return encoded


def encode_pdu(pdu_type: int, request_id: int, field1: int, field2: int, varbinds: bytes) -> bytes:
    """A PDU around already-encoded, concatenated VarBind elements.

    ``field1``/``field2`` are error-status/error-index, or non-repeaters/max-repetitions for
    GetBulkRequest.
    """
    body = (
        encode_integer(INTEGER, request_id)
        + encode_integer(INTEGER, field1)
        + encode_integer(INTEGER, field2)
        + tlv(SEQUENCE, varbinds)
    )
    return tlv(pdu_type, body)


def encode_community_message(version: int, community: bytes, pdu: bytes) -> bytes:
    """An SNMPv1/v2c message: version 0 is v1, 1 is v2c."""
    return tlv(SEQUENCE, bytes((INTEGER, 1, version)) + tlv(OCTET_STRING, community) + pdu)


# ---- decoding primitives ---------------------------------------------------------------------


def _long_length(data: bytes, pos: int, first: int) -> tuple[int, int]:
    """Content start and stop of an element at ``pos`` whose first length octet is ``first``."""
    count = first & 0x7F
    if count == 0:
        raise SnmpDecodeError("indefinite length is not allowed in SNMP")
    if count > 4:
        raise SnmpDecodeError("length field longer than 4 octets")
    start = pos + 2 + count
    return start, start + int.from_bytes(data[pos + 2 : start], "big")


def expect(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    """Content start and stop of the element at ``pos``, which must have ``tag`` and fit
    before ``end``."""
    if data[pos] != tag:
        raise SnmpDecodeError(f"expected tag {tag:#04x} at offset {pos}, found {data[pos]:#04x}")
    n = data[pos + 1]
    if n < 0x80:
        start = pos + 2
        stop = start + n
    else:
        start, stop = _long_length(data, pos, n)
    if stop > end:
        raise SnmpDecodeError(f"element at offset {pos} runs past its container")
    return start, stop


def element(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Tag, content start and stop of whatever element is at ``pos``."""
    n = data[pos + 1]
    if n < 0x80:
        start = pos + 2
        stop = start + n
    else:
        start, stop = _long_length(data, pos, n)
    if stop > end:
        raise SnmpDecodeError(f"element at offset {pos} runs past its container")
    return data[pos], start, stop


def read_integer(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """An INTEGER at ``pos`` (at most 64 bits) and the offset after it."""
    start, stop = expect(data, pos, end, INTEGER)
    if not 0 < stop - start <= 9:
        raise SnmpDecodeError("INTEGER of bad length")
    return int.from_bytes(data[start:stop], "big", signed=True), stop


def read_octets(data: bytes, pos: int, end: int) -> tuple[bytes, int]:
    """An OCTET STRING at ``pos`` and the offset after it."""
    start, stop = expect(data, pos, end, OCTET_STRING)
    return data[start:stop], stop


_OID_DECODED: dict[bytes, Oid] = {}


def decode_oid_content(raw: bytes) -> Oid:
    """The OID whose content octets are ``raw`` (cached)."""
    oid = _OID_DECODED.get(raw)
    if oid is None:
        oid = _decode_oid(raw)
        if len(_OID_DECODED) >= _CACHE_LIMIT:
            _OID_DECODED.clear()
        _OID_DECODED[raw] = oid
    return oid


def _decode_oid(raw: bytes) -> Oid:
    if not 0 < len(raw) <= _MAX_OID_OCTETS:
        raise SnmpDecodeError("OBJECT IDENTIFIER of bad length")
    # When every sub-identifier fits one octet (the common case) the conversion runs in C.
    subids = tuple(raw) if raw.isascii() else _multi_octet_subids(raw)
    if len(subids) >= MAX_OID_ARCS:
        raise SnmpDecodeError("OBJECT IDENTIFIER with too many arcs")
    first = subids[0]
    head = (first // 40, first % 40) if first < 80 else (2, first - 80)
    return head + tuple(subids[1:])


def _multi_octet_subids(raw: bytes) -> tuple[int, ...]:
    if raw[-1] & 0x80:
        raise SnmpDecodeError("OBJECT IDENTIFIER ends inside a sub-identifier")
    subids: list[int] = []
    acc = 0
    fresh = True
    for octet in raw:
        if fresh and octet == 0x80:
            raise SnmpDecodeError("OBJECT IDENTIFIER sub-identifier not in minimal form")
        acc = (acc << 7) | (octet & 0x7F)
        if acc > MAX_SUBID:
            raise SnmpDecodeError("OBJECT IDENTIFIER arc above 2**32-1")
        fresh = octet < 0x80
        if fresh:
            subids.append(acc)
            acc = 0
    return tuple(subids)


def _decode_value(tag: int, content: bytes) -> Value:
    """The rarer value types; the varbind loop handles the frequent ones inline."""
    size = len(content)
    if tag == OID:
        return decode_oid_content(content)
    if tag == SnmpType.IP_ADDRESS:
        if size != 4:
            raise SnmpDecodeError("IpAddress must be 4 octets")
        return socket.inet_ntoa(content)
    if tag == SnmpType.COUNTER64:
        if not 0 < size <= 9:
            raise SnmpDecodeError("Counter64 of bad length")
        value = int.from_bytes(content, "big")
        if value > MAX_UINT64:
            raise SnmpDecodeError("Counter64 above 2**64-1")
        return value
    if tag == SnmpType.OPAQUE:
        return content
    if tag == NULL or tag in _EXCEPTIONS:
        if size:
            raise SnmpDecodeError("NULL with content")
        return None
    raise SnmpDecodeError(f"unknown value tag {tag:#04x}")


def decode_varbinds(data: bytes, pos: int, end: int) -> list[VarBind]:  # noqa: PLR0912, PLR0915
    """The VarBind elements between ``pos`` and ``end`` (the content of the list SEQUENCE).

    Deliberately one long loop: it runs per polled value, and each helper call it avoids
    is a measurable share of the client's CPU (docs/snmp.md).
    """
    out: list[VarBind] = []
    append = out.append
    oid_cache = _OID_DECODED
    while pos < end:
        # expect() inlined twice: this loop runs once per variable binding polled.
        if data[pos] != SEQUENCE:
            raise SnmpDecodeError(f"VarBind at offset {pos} is not a SEQUENCE")
        n = data[pos + 1]
        if n < 0x80:
            start = pos + 2
            stop = start + n
        else:
            start, stop = _long_length(data, pos, n)
        if stop > end or data[start] != OID:
            raise SnmpDecodeError(f"VarBind at offset {pos} is malformed")
        n = data[start + 1]
        if n < 0x80:
            name_start = start + 2
            name_stop = name_start + n
        else:
            name_start, name_stop = _long_length(data, start, n)
        if name_stop > stop:
            raise SnmpDecodeError(f"VarBind name at offset {start} runs past the VarBind")
        raw = data[name_start:name_stop]
        oid = oid_cache.get(raw) or decode_oid_content(raw)
        tag = data[name_stop]
        n = data[name_stop + 1]
        if n < 0x80:
            v_start = name_stop + 2
            v_stop = v_start + n
        else:
            v_start, v_stop = _long_length(data, name_stop, n)
        if v_stop != stop:
            raise SnmpDecodeError(f"VarBind at offset {pos} is not exactly a name and a value")
        value: Value
        size = v_stop - v_start
        if tag in _UNSIGNED32:
            if not 0 < size <= 5:
                raise SnmpDecodeError("32-bit unsigned value of bad length")
            value = int.from_bytes(data[v_start:v_stop], "big")
            if value > MAX_UINT32:
                raise SnmpDecodeError("32-bit unsigned value above 2**32-1")
        elif tag == INTEGER:
            if not 0 < size <= 9:
                raise SnmpDecodeError("INTEGER of bad length")
            value = int.from_bytes(data[v_start:v_stop], "big", signed=True)
        elif tag == OCTET_STRING:
            value = data[v_start:v_stop]
        else:
            value = _decode_value(tag, data[v_start:v_stop])
        append(_new_tuple(VarBind, (oid, _TYPE_OF[tag], value)))
        pos = stop
    return out


def decode_request_oids(data: bytes, pos: int, end: int) -> list[bytes]:
    """Only the raw OID content octets of each VarBind: what an agent needs to answer a
    request. Values are skipped but still checked to be well-formed elements."""
    out: list[bytes] = []
    append = out.append
    while pos < end:
        start, stop = expect(data, pos, end, SEQUENCE)
        if data[start] != OID:
            raise SnmpDecodeError(f"VarBind at offset {pos} does not start with a name")
        n = data[start + 1]
        if n < 0x80:  # the usual short name, read inline: an agent does this per OID asked
            name_start = start + 2
            name_stop = name_start + n
        else:
            name_start, name_stop = _long_length(data, start, n)
        n = data[name_stop + 1]
        value_stop = name_stop + 2 + n if n < 0x80 else _long_length(data, name_stop, n)[1]
        if value_stop != stop:
            raise SnmpDecodeError(f"VarBind at offset {pos} is not exactly a name and a value")
        append(data[name_start:name_stop])
        pos = stop
    return out


# ---- PDUs and messages -----------------------------------------------------------------------


def pdu_header(data: bytes, pos: int, end: int) -> tuple[PduType, int, int, int, int, int]:
    """Type, request-id, the two integer fields, and the bounds of the VarBind list content
    of the (non-v1-trap) PDU at ``pos``."""
    tag, start, stop = element(data, pos, end)
    pdu_type = _PDU_OF.get(tag)
    if pdu_type is None or pdu_type is PduType.TRAP_V1:
        raise SnmpDecodeError(f"not a PDU tag: {tag:#04x}")
    request_id, p = read_integer(data, start, stop)
    field1, p = read_integer(data, p, stop)
    field2, p = read_integer(data, p, stop)
    vb_start, vb_stop = expect(data, p, stop, SEQUENCE)
    if vb_stop != stop:
        raise SnmpDecodeError("trailing octets after the VarBind list")
    return pdu_type, request_id, field1, field2, vb_start, vb_stop


def decode_pdu_at(data: bytes, pos: int, end: int) -> Pdu | TrapV1:
    """The PDU at ``pos``, whichever kind it is (raises IndexError and friends; callers guard)."""
    if data[pos] == PduType.TRAP_V1:
        return _decode_trap_v1(data, pos, end)
    pdu_type, request_id, field1, field2, vb_start, vb_stop = pdu_header(data, pos, end)
    varbinds = decode_varbinds(data, vb_start, vb_stop)
    return _new_tuple(Pdu, (pdu_type, request_id, field1, field2, varbinds))


def _decode_trap_v1(data: bytes, pos: int, end: int) -> TrapV1:
    start, stop = expect(data, pos, end, PduType.TRAP_V1)
    e_start, p = expect(data, start, stop, OID)
    enterprise = decode_oid_content(data[e_start:p])
    a_start, p = expect(data, p, stop, SnmpType.IP_ADDRESS)
    if p - a_start != 4:
        raise SnmpDecodeError("agent-addr must be 4 octets")
    address = socket.inet_ntoa(data[a_start:p])
    generic, p = read_integer(data, p, stop)
    specific, p = read_integer(data, p, stop)
    t_start, p = expect(data, p, stop, SnmpType.TIMETICKS)
    if not 0 < p - t_start <= 5:
        raise SnmpDecodeError("time-stamp of bad length")
    timestamp = int.from_bytes(data[t_start:p], "big")
    vb_start, vb_stop = expect(data, p, stop, SEQUENCE)
    varbinds = decode_varbinds(data, vb_start, vb_stop)
    return TrapV1(enterprise, address, generic, specific, timestamp, varbinds)


def message_version(data: bytes) -> tuple[int, int, int]:
    """The msgVersion of a datagram (0 = v1, 1 = v2c, 3 = v3), the offset after it and the end
    of the message. Raises SnmpDecodeError."""
    try:
        start, stop = expect(data, 0, len(data), SEQUENCE)
        version, p = read_integer(data, start, stop)
    except DECODE_FAILURES as exc:
        raise SnmpDecodeError(f"not an SNMP message: {exc}") from None
    return version, p, stop


def decode_community_message(data: bytes) -> CommunityMessage:
    """A whole SNMPv1/v2c datagram. Raises SnmpDecodeError only."""
    version, p, stop = message_version(data)
    if version not in (0, 1):
        raise SnmpDecodeError(f"not a community-based message: version {version}")
    try:
        community, p = read_octets(data, p, stop)
        pdu = decode_pdu_at(data, p, stop)
    except DECODE_FAILURES as exc:
        raise SnmpDecodeError(f"malformed message: {exc}") from None
    return CommunityMessage(version, community, pdu)


def decode_pdu(data: bytes) -> Pdu | TrapV1:
    """A PDU that is the whole of ``data`` (as inside a decrypted v3 ScopedPDU)."""
    try:
        return decode_pdu_at(data, 0, len(data))
    except DECODE_FAILURES as exc:
        raise SnmpDecodeError(f"malformed PDU: {exc}") from None
