"""SNMP value types, PDU types, object identifiers and the variable binding.

An object identifier is a plain ``tuple[int, ...]``: tuples compare in MIB order, hash fast
and cost nothing to build from a cache, which matters when a poll cycle handles a hundred
thousand of them. :func:`parse_oid` and :func:`format_oid` convert from and to dotted text.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

Oid = tuple[int, ...]
# What a decoded value is, by type: INTEGER and the counters -> int; OCTET STRING and Opaque
# -> bytes; IpAddress -> dotted text; OBJECT IDENTIFIER -> Oid; NULL and the v2 exceptions
# (noSuchObject, noSuchInstance, endOfMibView) -> None.
Value = int | bytes | str | Oid | None

MAX_SUBID = 0xFFFFFFFF  # RFC 2578 section 3.5: sub-identifiers are unsigned 32-bit
MAX_OID_ARCS = 128  # RFC 2578 section 3.5: at most 128 sub-identifiers


class SnmpType(IntEnum):
    """The BER tag of each value type SNMP carries (RFC 2578, RFC 3416)."""

    INTEGER = 0x02
    OCTET_STRING = 0x04
    NULL = 0x05
    OBJECT_IDENTIFIER = 0x06
    IP_ADDRESS = 0x40
    COUNTER32 = 0x41
    GAUGE32 = 0x42
    TIMETICKS = 0x43
    OPAQUE = 0x44
    COUNTER64 = 0x46
    NO_SUCH_OBJECT = 0x80
    NO_SUCH_INSTANCE = 0x81
    END_OF_MIB_VIEW = 0x82


EXCEPTION_TYPES = frozenset(
    (SnmpType.NO_SUCH_OBJECT, SnmpType.NO_SUCH_INSTANCE, SnmpType.END_OF_MIB_VIEW)
)


class PduType(IntEnum):
    """The context-specific constructed tag of each PDU (RFC 3416 section 3, RFC 1157)."""

    GET_REQUEST = 0xA0
    GET_NEXT_REQUEST = 0xA1
    RESPONSE = 0xA2
    SET_REQUEST = 0xA3
    TRAP_V1 = 0xA4
    GET_BULK_REQUEST = 0xA5
    INFORM_REQUEST = 0xA6
    SNMPV2_TRAP = 0xA7
    REPORT = 0xA8


class VarBind(NamedTuple):
    """One variable binding: the object, the type of its value and the decoded value."""

    oid: Oid
    type: SnmpType
    value: Value

    @property
    def is_exception(self) -> bool:
        """True for noSuchObject, noSuchInstance and endOfMibView."""
        return self.type in EXCEPTION_TYPES


def parse_oid(text: str | Oid) -> Oid:
    """``"1.3.6.1.2.1.1.3.0"`` (a leading dot is allowed) or a tuple -> a checked Oid."""
    if isinstance(text, tuple):
        arcs = text
    else:
        body = text[1:] if text.startswith(".") else text
        try:
            arcs = tuple(int(part) for part in body.split("."))
        except ValueError:
            raise ValueError(f"not a numeric object identifier: {text!r}") from None
    check_oid(arcs)
    return arcs


def check_oid(arcs: Oid) -> None:
    """Raise ValueError unless ``arcs`` is an OID that BER can carry."""
    if not 2 <= len(arcs) <= MAX_OID_ARCS:
        raise ValueError(f"an OID has 2 to {MAX_OID_ARCS} arcs, got {len(arcs)}")
    first, second = arcs[0], arcs[1]
    if first not in (0, 1, 2) or second < 0 or (first < 2 and second >= 40):
        raise ValueError(f"invalid first arcs {first}.{second}")
    if first * 40 + second > MAX_SUBID:
        raise ValueError("second arc too large")
    for arc in arcs:
        if not 0 <= arc <= MAX_SUBID:
            raise ValueError(f"OID arc {arc} out of range 0..{MAX_SUBID}")


def format_oid(oid: Oid) -> str:
    """An Oid as dotted text, the way net-snmp prints it with -On minus the leading dot."""
    return ".".join(map(str, oid))
