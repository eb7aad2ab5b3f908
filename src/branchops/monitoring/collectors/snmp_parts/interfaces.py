"""snmp_interfaces: which interfaces to watch, their status, and traffic as rates.

A poll has two steps. First one multi-column GETBULK walk of the columns that identify and
qualify interfaces (names, alias, type, speed, admin and oper status); then one GET, in
batches, of sysUpTime and the counters of the selected interfaces only. An access switch
polled for its two uplinks thus reads two interfaces' counters, not fifty-two.

Rates come from the previous poll of the same check: 64-bit counters (ifHC*) when the
device has them, else the 32-bit ones with wrap handling; an interval is discarded when the
device restarted, the interface's ifCounterDiscontinuityTime moved, a Counter64 went back
(reset), or a Counter32 "wrap" would mean more traffic than the line can carry.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from branchops.monitoring.collectors.snmp_parts.memory import Uptime, counter_rate
from branchops.monitoring.collectors.snmp_parts.reading import (
    get_objects,
    integer,
    number,
    text,
    walk_columns,
)
from branchops.monitoring.collectors.snmp_parts.system import SYS_UPTIME
from branchops.snmp import Oid, SnmpClient, SnmpType, Target, VarBind

_IF: Final = (1, 3, 6, 1, 2, 1, 2, 2, 1)
_IFX: Final = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
IDENTITY: Final[dict[str, Oid]] = {
    "descr": (*_IF, 2),
    "type": (*_IF, 3),
    "speed": (*_IF, 5),
    "admin": (*_IF, 7),
    "oper": (*_IF, 8),
    "name": (*_IFX, 1),
    "high_speed": (*_IFX, 15),
    "alias": (*_IFX, 18),
}
COUNTERS: Final[dict[str, Oid]] = {
    "in_octets": (*_IF, 10),
    "in_discards": (*_IF, 13),
    "in_errors": (*_IF, 14),
    "out_octets": (*_IF, 16),
    "out_discards": (*_IF, 19),
    "out_errors": (*_IF, 20),
    "hc_in_octets": (*_IFX, 6),
    "hc_out_octets": (*_IFX, 10),
    "discontinuity": (*_IFX, 19),
}
RATE_METRICS: Final = {
    "in_octets": "branchops_if_in_bits_per_second",
    "out_octets": "branchops_if_out_bits_per_second",
    "in_errors": "branchops_if_in_errors_per_second",
    "out_errors": "branchops_if_out_errors_per_second",
    "in_discards": "branchops_if_in_discards_per_second",
    "out_discards": "branchops_if_out_discards_per_second",
}
OPER_UP: Final = 1
OPER_DORMANT: Final = 5  # waiting for traffic (dial backup): not a fault
SOFTWARE_LOOPBACK: Final = 24
PHYSICAL_TYPES: Final = frozenset({6, 62, 69, 117, 161})  # Ethernet kinds and 802.3ad LAGs
# Operators mark uplinks in descriptions; "to-core", "TO_HQ" count, "to-AP" does not.
UPLINK_WORDS: Final = re.compile(
    r"up-?link|(?<![a-z])(?:wan|isp|internet)(?![a-z])|上联|上行|出口"
    r"|(?<![a-z])to[-_ ](?:core|hq|dc|agg|dist|fw|firewall|router|isp|wan|核心|总部)",
    re.IGNORECASE,
)

Selection = Literal["all", "up", "uplinks"] | list[str]


@dataclass(frozen=True, slots=True)
class Interface:
    index: int
    name: str  # ifName, else ifDescr: what the operator calls it
    descr: str
    alias: str
    type: int
    admin_up: bool
    oper: int
    speed_bps: float  # 0 when unknown

    @property
    def oper_up(self) -> bool:
        return self.oper == OPER_UP

    @property
    def faulty(self) -> bool:
        return self.oper not in (OPER_UP, OPER_DORMANT)


@dataclass(frozen=True, slots=True)
class CounterReading:
    at: float  # local monotonic seconds
    values: dict[str, tuple[int, int]]  # counter -> (width in bits, value)
    discontinuity: int | None


@dataclass(slots=True)
class InterfaceMemory:
    uptime: Uptime | None = None
    counters: dict[int, CounterReading] = field(default_factory=dict)
    selected: frozenset[int] = frozenset()


async def read_interfaces(client: SnmpClient, target: Target) -> list[Interface]:
    columns = await walk_columns(client, target, list(IDENTITY.values()))
    rows = dict(zip(IDENTITY, columns, strict=True))
    indexes = sorted({index for column in columns for index in column if len(index) == 1})
    found = [_interface(index[0], {key: rows[key].get(index) for key in rows}) for index in indexes]
    return _unique_names(found)


def _interface(index: int, row: dict[str, VarBind | None]) -> Interface:
    descr = text(row["descr"]) or ""
    high = number(row["high_speed"]) or 0.0
    speed = high * 1e6 if high else (number(row["speed"]) or 0.0)
    return Interface(
        index=index,
        name=text(row["name"]) or descr or f"ifIndex {index}",
        descr=descr,
        alias=text(row["alias"]) or "",
        type=integer(row["type"]) or 0,
        admin_up=integer(row["admin"]) in (None, 1),
        oper=integer(row["oper"]) or 0,
        speed_bps=speed,
    )


def _unique_names(interfaces: list[Interface]) -> list[Interface]:
    """Series are labelled by name, so a name two interfaces share gets its ifIndex."""
    counts = Counter(i.name for i in interfaces)
    return [
        i if counts[i.name] == 1 else replace(i, name=f"{i.name} (ifIndex {i.index})")
        for i in interfaces
    ]


def select(
    interfaces: Sequence[Interface], mode: Selection, remembered: frozenset[int]
) -> tuple[list[Interface], list[str]]:
    """The interfaces to watch and, for an explicit list, the names that were not found."""
    if isinstance(mode, list):
        return _explicit(interfaces, mode)
    if mode == "all":
        return list(interfaces), []
    if mode == "up":
        chosen = {i.index for i in interfaces if i.oper_up and i.type != SOFTWARE_LOOPBACK}
    else:
        chosen = uplinks(interfaces)
    # Once watched, an interface stays watched while it is administratively up; otherwise
    # the one that fails would leave the selection and the check would never see it down.
    chosen |= {i.index for i in interfaces if i.index in remembered and i.admin_up}
    return [i for i in interfaces if i.index in chosen], []


def uplinks(interfaces: Iterable[Interface]) -> set[int]:
    """Uplinks: interfaces whose description or name says so (UPLINK_WORDS); failing that,
    the fastest up Ethernet ports or LAGs, when that speed is rarer and higher than the
    usual one (an access switch's 10G ports among its 1G ones). Else none."""
    candidates = [i for i in interfaces if i.admin_up and i.type != SOFTWARE_LOOPBACK]
    named = {
        i.index
        for i in candidates
        if UPLINK_WORDS.search(i.alias) or UPLINK_WORDS.search(i.name)
        or UPLINK_WORDS.search(i.descr)
    }  # fmt: skip
    if named:
        return named
    physical = [i for i in candidates if i.type in PHYSICAL_TYPES and i.oper_up and i.speed_bps]
    speeds = Counter(i.speed_bps for i in physical)
    if len(speeds) < 2:
        return set()
    top = max(speeds)
    if speeds[top] >= max(speeds.values()):
        return set()  # as many fast ports as slow ones: nothing tells which go up
    return {i.index for i in physical if i.speed_bps == top}


def _explicit(
    interfaces: Sequence[Interface], wanted: list[str]
) -> tuple[list[Interface], list[str]]:
    """Interfaces named by ifName, then ifDescr, then ifAlias, then ifIndex (any case)."""
    keys: list[dict[str, Interface]] = [{}, {}, {}, {}]
    for interface in reversed(interfaces):  # the lowest ifIndex wins a shared name
        fields = (interface.name, interface.descr, interface.alias, str(interface.index))
        for mapping, value in zip(keys, fields, strict=True):
            if value:
                mapping[value.casefold()] = interface
    chosen: list[Interface] = []
    missing: list[str] = []
    for name in wanted:
        key = name.strip().casefold()
        match = next((mapping[key] for mapping in keys if key in mapping), None)
        if match is None:
            missing.append(name)
        elif match not in chosen:
            chosen.append(match)
    return chosen, missing


async def read_counters(
    client: SnmpClient, target: Target, selected: Sequence[Interface], at: float
) -> tuple[int | None, dict[int, CounterReading]]:
    """sysUpTime and the counters of the selected interfaces, read in one batched GET."""
    oids = [SYS_UPTIME, *((*oid, i.index) for i in selected for oid in COUNTERS.values())]
    got = await get_objects(client, target, oids)
    return integer(got.get(SYS_UPTIME)), {
        i.index: _counter_reading(got, i.index, at) for i in selected
    }


def _counter_reading(got: dict[Oid, VarBind], index: int, at: float) -> CounterReading:
    values: dict[str, tuple[int, int]] = {}
    for key, column in COUNTERS.items():
        varbind = got.get((*column, index))
        if varbind is None or not isinstance(varbind.value, int):
            continue
        if varbind.type is SnmpType.COUNTER64:
            values[key] = (64, varbind.value)
        elif varbind.type is SnmpType.COUNTER32:
            values[key] = (32, varbind.value)
    for direction in ("in", "out"):  # 64-bit octets replace the 32-bit ones when present
        wide = values.pop(f"hc_{direction}_octets", None)
        if wide is not None:
            values[f"{direction}_octets"] = wide
    return CounterReading(at, values, integer(got.get((*COUNTERS["discontinuity"], index))))


def rates(before: CounterReading | None, now: CounterReading, speed_bps: float) -> dict[str, float]:
    """Per-second rates (octets as bits) between two readings of one interface."""
    if before is None:
        return {}
    if None not in (before.discontinuity, now.discontinuity) and (
        before.discontinuity != now.discontinuity
    ):
        return {}  # the agent says its counters restarted (RFC 2863 ifCounterDiscontinuityTime)
    elapsed = now.at - before.at
    found: dict[str, float] = {}
    for key, (width, value) in now.values.items():
        if key not in RATE_METRICS:
            continue  # a device that answers a non-counter column with a counter type
        old = before.values.get(key)
        if old is None or old[0] != width:
            continue  # 32-bit then 64-bit (or back): not the same counter
        octets = key.endswith("_octets")
        ceiling = speed_bps / 8 if octets and speed_bps else None
        rate = counter_rate(old[1], value, width, elapsed, ceiling)
        if rate is not None:
            found[key] = rate * 8 if octets else rate
    return found


def format_bps(bps: float) -> str:
    for unit, size in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bps >= size:
            return f"{bps / size:.1f} {unit}"
    return f"{bps:.0f} bit/s"
