"""A simulated agent's MIB view: sorted objects with pre-encoded answers.

Static objects keep their whole encoded VarBind, so answering a GET is a dict lookup by the
request's raw OID octets and a ``b"".join``; objects whose value moves (counters, uptime)
hold a callable that is asked at every request. GETNEXT and GETBULK find their place with
``bisect`` in the sorted OID list and then step through it.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from branchops.snmp.ber import (
    SEQUENCE,
    decode_oid_content,
    encode_oid,
    encode_value,
    oid_content,
    tlv,
    value_encoder,
)
from branchops.snmp.types import Oid, SnmpType, Value, parse_oid

LiveValue = Callable[[], Value]
MibValue = Value | LiveValue
MibObject = tuple[SnmpType, MibValue]

_NO_SUCH_OBJECT: Final = b"\x80\x00"
_NO_SUCH_INSTANCE: Final = b"\x81\x00"
_END_OF_MIB_VIEW: Final = b"\x82\x00"


class MibEntry:
    """One object: its OID, type, value (or value source) and encoded forms."""

    __slots__ = ("encode", "encoded", "kind", "oid", "oid_element", "raw_oid", "value")

    def __init__(self, oid: Oid, kind: SnmpType, value: MibValue) -> None:
        self.oid = oid
        self.raw_oid = oid_content(oid)
        self.oid_element = encode_oid(oid)
        self.kind = kind
        self.value = value
        # The whole VarBind for static values; None means "ask the callable each time".
        self.encoded: bytes | None = None
        self.encode = value_encoder(kind)
        if not callable(value):
            self.encoded = tlv(SEQUENCE, self.oid_element + encode_value(kind, value))

    def varbind(self) -> bytes:
        """The encoded VarBind with the current value."""
        encoded = self.encoded
        if encoded is not None:
            return encoded
        assert callable(self.value)
        return tlv(SEQUENCE, self.oid_element + self.encode(self.value()))

    def current(self) -> Value:
        value = self.value
        return value() if callable(value) else value


class MibView:
    """The objects one simulated agent (or a group of identical ones) exposes."""

    def __init__(
        self, objects: Mapping[str, MibObject] | Mapping[Oid, MibObject] | None = None
    ) -> None:
        entries = [
            MibEntry(parse_oid(oid), kind, value) for oid, (kind, value) in (objects or {}).items()
        ]
        entries.sort(key=lambda entry: entry.oid)
        self._entries = entries
        self._oids = [entry.oid for entry in entries]
        self._by_raw = {entry.raw_oid: entry for entry in entries}
        if len(self._by_raw) != len(entries):
            raise ValueError("duplicate OIDs in MIB view")

    def __len__(self) -> int:
        return len(self._entries)

    def set(self, oid: str | Oid, kind: SnmpType, value: MibValue) -> None:
        """Add an object or replace its type and value."""
        entry = MibEntry(parse_oid(oid), kind, value)
        raw = entry.raw_oid
        if raw in self._by_raw:
            index = bisect.bisect_left(self._oids, entry.oid)
            self._entries[index] = entry
        else:
            index = bisect.bisect_left(self._oids, entry.oid)
            self._oids.insert(index, entry.oid)
            self._entries.insert(index, entry)
        self._by_raw[raw] = entry

    def update(self, objects: Iterable[tuple[str | Oid, SnmpType, MibValue]]) -> None:
        for oid, kind, value in objects:
            self.set(oid, kind, value)

    def remove(self, oid: str | Oid) -> None:
        """Remove an object; missing objects are ignored."""
        key = parse_oid(oid)
        index = bisect.bisect_left(self._oids, key)
        if index < len(self._oids) and self._oids[index] == key:
            entry = self._entries.pop(index)
            del self._oids[index]
            del self._by_raw[entry.raw_oid]

    def value(self, oid: str | Oid) -> Value:
        """The current value of an object (KeyError when absent)."""
        key = parse_oid(oid)
        index = bisect.bisect_left(self._oids, key)
        if index == len(self._oids) or self._oids[index] != key:
            raise KeyError(oid)
        return self._entries[index].current()

    # ---- answering ---------------------------------------------------------------------------

    def get(self, raw_oid: bytes) -> bytes:
        """The VarBind answering GET for the OID with content octets ``raw_oid``."""
        entry = self._by_raw.get(raw_oid)
        if entry is not None:
            return entry.encoded or entry.varbind()
        return tlv(SEQUENCE, tlv(0x06, raw_oid) + self._missing(decode_oid_content(raw_oid)))

    def _missing(self, oid: Oid) -> bytes:
        # noSuchInstance when the object type exists (something lives under the parent),
        # noSuchObject when nothing does: how agents tell "no such row" from "no such column".
        parent = oid[:-1]
        index = bisect.bisect_right(self._oids, parent)
        if index < len(self._oids) and self._oids[index][: len(parent)] == parent:
            return _NO_SUCH_INSTANCE
        return _NO_SUCH_OBJECT

    def next_index(self, raw_oid: bytes) -> int:
        """Index of the first object after the OID with content octets ``raw_oid``."""
        return bisect.bisect_right(self._oids, decode_oid_content(raw_oid))

    def at(self, index: int) -> MibEntry | None:
        """The object at ``index`` in MIB order, or None past the end."""
        return self._entries[index] if index < len(self._entries) else None

    @staticmethod
    def end_of_view(raw_oid: bytes) -> bytes:
        """The VarBind saying there is nothing after the requested OID."""
        return tlv(SEQUENCE, tlv(0x06, raw_oid) + _END_OF_MIB_VIEW)
