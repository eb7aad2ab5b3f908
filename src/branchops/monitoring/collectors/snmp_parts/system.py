"""snmp_system: uptime, CPU, memory and storage of one device.

Two requests for a device without HOST-RESOURCES-MIB (a GET, then one GETBULK in which every
walked column ends at once), a few more with it. Where the numbers come from:

- CPU: the profile's ``branchops_cpu_utilisation_ratio`` (a scalar, or the busiest row of a
  table column such as Huawei's per-board hwEntityCpuUsage), else the average of
  HOST-RESOURCES hrProcessorLoad.
- Memory: the profile's ``branchops_memory_utilisation_ratio`` (scalar, or busiest row),
  else the profile's used/total or used/free byte counts (summed over rows), else
  HOST-RESOURCES RAM. Profile values win because vendors fill hrStorage inconsistently.
- Storage: HOST-RESOURCES fixed disks and flash.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Final

from branchops.monitoring.collectors.snmp_parts.reading import (
    Column,
    get_objects,
    integer,
    number,
    text,
    walk_columns,
)
from branchops.monitoring.snmp_profiles import Column as ProfileColumn
from branchops.monitoring.snmp_profiles import DeviceProfile, Scalar
from branchops.snmp import Oid, SnmpClient, Target, VarBind, parse_oid

SYS_UPTIME: Final = (1, 3, 6, 1, 2, 1, 1, 3, 0)
HR_PROCESSOR_LOAD: Final = (1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2)
_HR_STORAGE: Final = (1, 3, 6, 1, 2, 1, 25, 2, 3, 1)
HR_STORAGE_COLUMNS: Final = tuple((*_HR_STORAGE, n) for n in (2, 3, 4, 5, 6))
_HR_TYPES: Final = (1, 3, 6, 1, 2, 1, 25, 2, 1)
HR_RAM: Final = (*_HR_TYPES, 2)
HR_OTHER: Final = (*_HR_TYPES, 1)
HR_DISKS: Final = frozenset({(*_HR_TYPES, 4), (*_HR_TYPES, 9)})  # fixed disk, flash memory
# Linux pseudo file systems net-snmp lists as fixed disks; their fill level means nothing.
_PSEUDO_MOUNTS: Final = ("/run", "/dev", "/sys", "/proc")

CPU: Final = "branchops_cpu_utilisation_ratio"
MEMORY: Final = "branchops_memory_utilisation_ratio"
MEMORY_USED: Final = "branchops_memory_used_bytes"
MEMORY_FREE: Final = "branchops_memory_free_bytes"
MEMORY_TOTAL: Final = "branchops_memory_total_bytes"
# Profile metrics that snmp_system reads (as device-level values) and snmp_profile leaves
# out, so that two checks on one device never write the same series.
SYSTEM_METRICS: Final = frozenset({CPU, MEMORY, MEMORY_USED, MEMORY_FREE, MEMORY_TOTAL})


@functools.lru_cache(maxsize=4096)
def oid_of(dotted: str) -> Oid:
    return parse_oid(dotted)


@dataclass(slots=True)
class Storage:
    name: str
    used_ratio: float
    size_bytes: float


@dataclass(slots=True)
class SystemReading:
    uptime_ticks: int | None = None
    cpu: float | None = None
    cpu_source: str = ""
    memory: float | None = None
    memory_used_bytes: float | None = None
    memory_total_bytes: float | None = None
    memory_source: str = ""
    storage: list[Storage] = field(default_factory=list)


async def read_system(
    client: SnmpClient, target: Target, profile: DeviceProfile | None
) -> SystemReading:
    scalars = [s for s in profile.scalars if s.metric in SYSTEM_METRICS] if profile else []
    columns = [
        c for t in (profile.tables if profile else []) for c in t.columns
        if c.metric in SYSTEM_METRICS
    ]  # fmt: skip
    got = await get_objects(client, target, [SYS_UPTIME, *(oid_of(s.oid) for s in scalars)])
    walked = await walk_columns(
        client,
        target,
        [HR_PROCESSOR_LOAD, *HR_STORAGE_COLUMNS, *(oid_of(c.oid) for c in columns)],
    )
    reading = SystemReading(uptime_ticks=integer(got.get(SYS_UPTIME)))
    vendor = _vendor_values(scalars, got, columns, walked[1 + len(HR_STORAGE_COLUMNS) :])
    _set_cpu(reading, vendor, walked[0])
    _set_memory(reading, vendor, walked[1 : 1 + len(HR_STORAGE_COLUMNS)])
    return reading


def _vendor_values(
    scalars: list[Scalar],
    got: dict[Oid, VarBind],
    columns: list[ProfileColumn],
    walked: list[Column],
) -> dict[str, list[float]]:
    """Profile values by metric name: a scalar gives one value, a column one per row."""
    values: dict[str, list[float]] = {}
    for scalar in scalars:
        value = number(got.get(oid_of(scalar.oid)))
        if value is not None:
            values.setdefault(scalar.metric, []).append(value * scalar.scale)
    for column, rows in zip(columns, walked, strict=True):
        assert column.metric is not None
        for varbind in rows.values():
            value = number(varbind)
            if value is not None:
                values.setdefault(column.metric, []).append(value * column.scale)
    return values


def _set_cpu(reading: SystemReading, vendor: dict[str, list[float]], loads: Column) -> None:
    if vendor.get(CPU):
        # A table (one row per board or CPU) gives the busiest; alarms care about the worst.
        reading.cpu, reading.cpu_source = max(vendor[CPU]), "profile"
        return
    values = [v for v in (number(vb) for vb in loads.values()) if v is not None]
    if values:
        reading.cpu, reading.cpu_source = sum(values) / len(values) / 100, "host-resources"


def _set_memory(
    reading: SystemReading, vendor: dict[str, list[float]], storage: list[Column]
) -> None:
    used, free, total = (sum(vendor[m]) if vendor.get(m) else None
                         for m in (MEMORY_USED, MEMORY_FREE, MEMORY_TOTAL))  # fmt: skip
    if total is None and used is not None and free is not None:
        total = used + free
    if vendor.get(MEMORY):
        reading.memory, reading.memory_source = max(vendor[MEMORY]), "profile"
    elif used is not None and total:
        reading.memory, reading.memory_source = used / total, "profile"
    reading.memory_used_bytes, reading.memory_total_bytes = used, total
    ram, reading.storage = _host_storage(storage)
    if reading.memory is None and ram is not None:
        reading.memory_used_bytes, reading.memory_total_bytes = ram
        reading.memory, reading.memory_source = ram[0] / ram[1], "host-resources"


def _host_storage(columns: list[Column]) -> tuple[tuple[float, float] | None, list[Storage]]:
    """RAM (used, total bytes) and the disks, from hrStorageTable."""
    types, descrs, units, sizes, useds = columns
    ram: tuple[float, float] | None = None
    cache = 0.0
    disks: list[Storage] = []
    for index, type_vb in types.items():
        kind = type_vb.value
        name = text(descrs.get(index)) or f"storage {index[-1]}"
        unit = number(units.get(index)) or 1.0
        size, used = _unsigned(sizes.get(index)), _unsigned(useds.get(index))
        if size is None or used is None or size <= 0:
            continue
        if kind == HR_RAM:
            ram = (used * unit, size * unit)
        elif kind == HR_OTHER and name in ("Memory buffers", "Cached memory"):
            # net-snmp on Linux counts buffers and page cache as used RAM and lists them
            # apart; without subtracting them every Linux host looks nearly full.
            cache += used * unit
        elif kind in HR_DISKS and not name.startswith(_PSEUDO_MOUNTS):
            disks.append(Storage(name, used / size, size * unit))
    if ram is not None and cache and ram[0] > cache:
        ram = (ram[0] - cache, ram[1])
    return ram, disks


def _unsigned(varbind: VarBind | None) -> float | None:
    """hrStorageSize/Used are Integer32; agents with large disks overflow them negative."""
    value = integer(varbind)
    if value is None:
        return None
    return float(value + 2**32 if value < 0 else value)
