"""snmp_profile and vpn_tunnel: a device profile's vendor scalars and tables.

A table's columns are walked together (one GETBULK per round for all of them), rows are
joined by index, named by the label column and their values scaled or mapped through
``states``. Rows that share a label are combined: the lowest state (a tunnel is up only when
all its phase-2 selectors are, as with FortiGate's one row per selector), the sum of
counters and the highest gauge.

vpn_tunnel checks do not walk the tunnel table at every run: a :class:`TunnelDirectory`
remembers which row index holds which tunnel name, per device, and one GET reads that row.
A concentrator with 600 tunnels polled by 600 link checks thus costs one walk per ten
minutes (shared by every check that needs it at once) plus one small GET per check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Final

from branchops.monitoring.collectors.snmp_parts.reading import (
    Column,
    get_objects,
    index_text,
    integer,
    number,
    text,
    walk_columns,
)
from branchops.monitoring.collectors.snmp_parts.system import SYSTEM_METRICS, oid_of
from branchops.monitoring.snmp_profiles import Column as ProfileColumn
from branchops.monitoring.snmp_profiles import DeviceProfile, Scalar, Table
from branchops.snmp import Oid, SnmpClient, Target, VarBind

TUNNEL_UP: Final = "branchops_vpn_tunnel_up"
DIRECTORY_MAX_AGE_S: Final = 600.0
DIRECTORY_RETRY_AGE_S: Final = 30.0  # re-read sooner when a tunnel is not found


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    values: dict[str, float]  # metric name -> value


@dataclass(frozen=True, slots=True)
class TableReading:
    table: Table
    label_name: str
    rows: list[Row]


@dataclass(frozen=True, slots=True)
class ProfileReading:
    scalars: list[tuple[Scalar, float]]
    tables: list[TableReading]
    missing: list[str]  # scalars the device does not have


def split_table(table: Table) -> tuple[ProfileColumn, list[ProfileColumn]]:
    """The label column and the value columns snmp_profile reads (system metrics aside)."""
    label = next(c for c in table.columns if c.label)
    return label, [c for c in table.columns if c.metric and c.metric not in SYSTEM_METRICS]


async def read_profile(
    client: SnmpClient, target: Target, profile: DeviceProfile
) -> ProfileReading:
    scalars = [s for s in profile.scalars if s.metric not in SYSTEM_METRICS]
    tables = [(t, *split_table(t)) for t in profile.tables]
    tables = [entry for entry in tables if entry[2]]
    got = await get_objects(client, target, [oid_of(s.oid) for s in scalars])
    columns = [oid_of(c.oid) for _, label, metrics in tables for c in (label, *metrics)]
    walked = await walk_columns(client, target, columns) if columns else []
    values: list[tuple[Scalar, float]] = []
    missing: list[str] = []
    for scalar in scalars:
        value = number(got.get(oid_of(scalar.oid)))
        if value is None:
            missing.append(scalar.metric)
        else:
            values.append((scalar, value * scalar.scale))
    readings: list[TableReading] = []
    position = 0
    for table, label, metrics in tables:
        width = 1 + len(metrics)
        label_rows, *metric_rows = walked[position : position + width]
        position += width
        rows = build_rows(metrics, label_rows, metric_rows)
        readings.append(TableReading(table, label.label or "row", rows))
    return ProfileReading(values, readings, missing)


def column_value(column: ProfileColumn, varbind: VarBind | None) -> float | None:
    """A cell's value: mapped through ``states`` when the column has them, else scaled."""
    if column.states is not None:
        raw = integer(varbind)
        return None if raw is None else column.states.get(raw)
    value = number(varbind)
    return None if value is None else value * column.scale


def build_rows(
    metrics: Sequence[ProfileColumn], labels: Column, values: Sequence[Column]
) -> list[Row]:
    """Rows joined by index, named by the label column, rows sharing a name combined."""
    indexes = sorted({index for column in values for index in column})
    cells: dict[str, dict[str, list[float]]] = {}
    for index in indexes:
        name = text(labels.get(index)) or index_text(index)
        row = cells.setdefault(name, {})
        for column, column_values in zip(metrics, values, strict=True):
            value = column_value(column, column_values.get(index))
            if value is not None and column.metric is not None:
                row.setdefault(column.metric, []).append(value)
    kinds = {c.metric: c for c in metrics}
    return [
        Row(name, {metric: _combine(kinds[metric], found) for metric, found in row.items()})
        for name, row in cells.items()
    ]


def _combine(column: ProfileColumn, values: list[float]) -> float:
    if len(values) == 1:
        return values[0]
    if column.states is not None:
        return min(values)
    return sum(values) if column.kind == "counter" else max(values)


# ---- vpn_tunnel ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TunnelColumns:
    table: Table
    label: ProfileColumn
    up: ProfileColumn
    others: list[ProfileColumn]

    @classmethod
    def of(cls, profile: DeviceProfile) -> TunnelColumns | None:
        table = profile.table_for("vpn_tunnels")
        if table is None:
            return None
        label, metrics = split_table(table)
        up = next((c for c in metrics if c.metric == TUNNEL_UP), None)
        if up is None:
            return None
        return cls(table, label, up, [c for c in metrics if c is not up])


Directory = dict[str, list[Oid]]  # tunnel name -> row indexes


class TunnelDirectory:
    """Tunnel name -> row indexes, per device and table, read once and shared.

    One read per key is in flight at a time; callers arriving meanwhile wait for it. The
    read runs as its own task, so a caller that times out does not cancel it for the others.
    """

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._entries: dict[Hashable, tuple[float, Directory]] = {}
        self._reads: dict[Hashable, asyncio.Task[Directory]] = {}

    async def get(
        self, key: Hashable, read: Callable[[], Awaitable[Directory]], *, max_age_s: float
    ) -> Directory:
        entry = self._entries.get(key)
        if entry is not None and self._monotonic() - entry[0] < max_age_s:
            return entry[1]
        task = self._reads.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._read(key, read))
            self._reads[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    async def _read(self, key: Hashable, read: Callable[[], Awaitable[Directory]]) -> Directory:
        directory = await read()
        self._entries[key] = (self._monotonic(), directory)
        return directory

    def _finished(self, key: Hashable, task: asyncio.Task[Directory]) -> None:
        self._reads.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here: every waiter may have given up already

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)


async def read_directory(client: SnmpClient, target: Target, label: ProfileColumn) -> Directory:
    (rows,) = await walk_columns(client, target, [oid_of(label.oid)])
    directory: Directory = {}
    for index, varbind in rows.items():
        directory.setdefault(text(varbind) or index_text(index), []).append(index)
    return directory


def find_tunnel(directory: Directory, name: str) -> list[Oid]:
    exact = directory.get(name)
    if exact:
        return exact
    folded = name.casefold()
    return [i for key, found in directory.items() if key.casefold() == folded for i in found]


@dataclass(frozen=True, slots=True)
class TunnelReading:
    up: float | None  # 1 up, 0 down, None: a state value the profile does not map
    raw_states: list[int]
    values: dict[str, float]  # the other metric columns (rtt, octets), rows combined
    renamed: bool  # a row no longer carries the name: the directory is stale


async def read_tunnel(
    client: SnmpClient, target: Target, columns: TunnelColumns, name: str, rows: list[Oid]
) -> TunnelReading:
    wanted = [columns.label, columns.up, *columns.others]
    oids = [(*oid_of(c.oid), *index) for index in rows for c in wanted]
    got = await get_objects(client, target, oids)

    def cell(column: ProfileColumn, index: Oid) -> VarBind | None:
        return got.get((*oid_of(column.oid), *index))

    renamed = any((text(cell(columns.label, i)) or "").casefold() != name.casefold() for i in rows)
    states = [integer(cell(columns.up, i)) for i in rows]
    ups = [column_value(columns.up, cell(columns.up, i)) for i in rows]
    values: dict[str, float] = {}
    for column in columns.others:
        found = [v for v in (column_value(column, cell(column, i)) for i in rows) if v is not None]
        if found and column.metric:
            values[column.metric] = _combine(column, found)
    up = None if any(u is None for u in ups) else min(u for u in ups if u is not None)
    return TunnelReading(up, [s for s in states if s is not None], values, renamed)
