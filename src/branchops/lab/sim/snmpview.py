"""The MIB each simulated device answers with, shared between devices that look alike.

A :class:`~branchops.snmp.MibView` costs about 470 bytes per object, and a 48-port switch
has 2,000 objects: one view per device would need gigabytes for the demo estate. So devices
with the same layout (model, ports, CPUs, disks, profile, number of tunnels) share one view
whose moving and per-device values are callables reading :class:`Cursor`: before a device's
agent answers, :class:`~branchops.lab.sim.agents.LabAgent` points the cursor at the device
and the time of the request. Static values (ifDescr, ifType, ...) are encoded once per view.

What a view holds:

- system group (sysDescr with vendor, model and firmware; sysObjectID; sysUpTime; sysName;
  sysLocation is the site's name);
- IF-MIB ifTable and ifXTable, 32-bit and 64-bit counters from one moving value;
- HOST-RESOURCES-MIB (hrSystemUptime, hrMemorySize, hrStorage RAM and disks,
  hrProcessorLoad) where :data:`~branchops.lab.sim.hardware.HOST_RESOURCES_ROLES` says so;
- the device profile's scalars and tables, from their ``simulate`` hints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from branchops.lab.sim import noise
from branchops.lab.sim.hardware import object_id
from branchops.lab.sim.model import IN, OUT, SimDevice
from branchops.monitoring import snmp_hints as hints
from branchops.monitoring.snmp_profiles import Column, DeviceProfile
from branchops.snmp import MibView, Oid, SnmpType, Value, parse_oid

M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1
SYSTEM: Oid = (1, 3, 6, 1, 2, 1, 1)
IF_NUMBER: Oid = (1, 3, 6, 1, 2, 1, 2, 1, 0)
IF_ENTRY: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IFX_ENTRY: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
HR: Oid = (1, 3, 6, 1, 2, 1, 25)
HR_STORAGE_RAM: Oid = (*HR, 2, 1, 2)
HR_STORAGE_FIXED_DISK: Oid = (*HR, 2, 1, 4)
HR_PROCESSOR_BASE = 196608  # net-snmp numbers processors in hrDeviceTable from here
CONTACT = b"IT operations centre <noc@example-securities.example>"
# Packets and errors follow from octets (so they move together and never go backwards):
# an average packet of 620 octets, one multicast per 20 kB, and so on.
_UCAST, _MULTI, _BROAD = 620, 20_000, 45_000
_DISCARD, _ERROR, _UNKNOWN = 3_000_000_000, 7_000_000_000, 500_000_000

Objects = dict[Oid, tuple[SnmpType, Value | Callable[[], Value]]]


class Cursor:
    """The device being answered for and the time of the request (one per lab)."""

    __slots__ = ("device", "memo", "now")

    def __init__(self) -> None:
        self.device: SimDevice | None = None
        self.now = 0.0
        self.memo: dict[tuple[int, int], int] = {}

    def point(self, device: SimDevice, now: float) -> None:
        self.device = device
        self.now = now
        self.memo.clear()

    def current(self) -> SimDevice:
        device = self.device
        if device is None:
            raise RuntimeError("no device selected")  # answered as genErr, never raised out
        return device

    def octets(self, position: int, direction: int) -> int:
        """A port's octets at the request's time, computed once per request."""
        key = (position, direction)
        value = self.memo.get(key)
        if value is None:
            value = self.memo[key] = self.current().octets(position, direction, self.now)
        return value


@dataclass(frozen=True, slots=True)
class CompiledColumn:
    oid: Oid
    hint: hints.Hint
    column: Column


@dataclass(frozen=True, slots=True)
class CompiledTable:
    name: str
    tunnels: bool  # rows are the device's VPN tunnels (else the label hint's names)
    label: CompiledColumn
    values: tuple[CompiledColumn, ...]


@dataclass(frozen=True, slots=True)
class CompiledProfile:
    name: str
    scalars: tuple[tuple[Oid, hints.Hint, str], ...]  # (oid, hint, metric)
    tables: tuple[CompiledTable, ...]


def compile_profile(profile: DeviceProfile) -> CompiledProfile:
    """Parse every hint of a profile once; HintError (naming the profile) when one is wrong."""
    scalars = []
    for scalar in profile.scalars:
        hint = hints.parse(scalar.simulate, profile=profile.name, oid=scalar.oid)
        if hint.kind in ("tunnel-names", "tunnel-state", "names"):
            raise hints.HintError(
                f"profile {profile.name!r}, OID {scalar.oid}: {hint.kind!r} belongs in a table"
            )
        scalars.append((parse_oid(scalar.oid), hint, scalar.metric))
    tables = []
    for table in profile.tables:
        compiled = [
            CompiledColumn(
                parse_oid(c.oid), hints.parse(c.simulate, profile=profile.name, oid=c.oid), c
            )
            for c in table.columns
        ]
        label = next(c for c in compiled if c.column.label)
        tunnels = table.role == "vpn_tunnels"
        wanted = "tunnel-names" if tunnels else "names"
        bad = [c for c in compiled if c is not label and c.hint.is_label]
        if (
            label.hint.kind != wanted
            or bad
            or (not tunnels and any(c.hint.kind == "tunnel-state" for c in compiled))
        ):
            raise hints.HintError(
                f"profile {profile.name!r}, table {table.name}: the label column needs "
                f"'{wanted}' and only it; 'tunnel-state' only in vpn_tunnels tables"
            )
        values = tuple(c for c in compiled if c is not label)
        tables.append(CompiledTable(table.name, tunnels, label, values))
    return CompiledProfile(profile.name, tuple(scalars), tuple(tables))


class ShapeBook:
    """One MibView per distinct device shape, built on first use."""

    def __init__(self, cursor: Cursor, profiles: dict[str, CompiledProfile]) -> None:
        self.cursor = cursor
        self.profiles = profiles
        self._views: dict[tuple[object, ...], MibView] = {}

    def __len__(self) -> int:
        return len(self._views)

    def objects(self) -> int:
        return sum(len(view) for view in self._views.values())

    def view_for(self, device: SimDevice) -> MibView:
        profile = device.profile.name if device.profile else None
        key = (
            device.layout.key,
            device.hardware.shape,
            profile,
            len(device.tunnels),
            object_id(device.spec, device.profile),
            device.spec.is_network,
        )
        view = self._views.get(key)
        if view is None:
            view = MibView(self._build(device))
            self._views[key] = view
        return view

    def _build(self, device: SimDevice) -> Objects:
        cursor = self.cursor
        objects: Objects = {}
        objects.update(_system(cursor, device))
        objects.update(_interfaces(cursor, device))
        if device.hardware.host_resources:
            objects.update(_host_resources(cursor, device))
        if device.profile is not None:
            objects.update(_profile(cursor, device, self.profiles[device.profile.name]))
        return objects


# ---- system and interfaces ---------------------------------------------------------------------


def _system(cur: Cursor, device: SimDevice) -> Objects:
    def uptime() -> int:
        return int((cur.now - cur.current().boot) * 100) & M32

    def name() -> bytes:
        return cur.current().name.encode()

    def location() -> bytes:
        return cur.current().spec.site_name.encode()

    return {
        (*SYSTEM, 1, 0): (SnmpType.OCTET_STRING, lambda: cur.current().descr),
        (*SYSTEM, 2, 0): (SnmpType.OBJECT_IDENTIFIER, object_id(device.spec, device.profile)),
        (*SYSTEM, 3, 0): (SnmpType.TIMETICKS, uptime),
        (*SYSTEM, 4, 0): (SnmpType.OCTET_STRING, CONTACT),
        (*SYSTEM, 5, 0): (SnmpType.OCTET_STRING, name),
        (*SYSTEM, 6, 0): (SnmpType.OCTET_STRING, location),
        (*SYSTEM, 7, 0): (SnmpType.INTEGER, 6 if device.spec.is_network else 72),
    }


def _derived(
    cur: Cursor, position: int, direction: int, divisor: int, mask: int
) -> Callable[[], Value]:
    def value() -> int:
        return (cur.octets(position, direction) // divisor) & mask

    return value


def _interfaces(cur: Cursor, device: SimDevice) -> Objects:
    ports = device.layout.ports
    objects: Objects = {IF_NUMBER: (SnmpType.INTEGER, len(ports))}
    for position, port in enumerate(ports):
        objects.update(_if_row(cur, position, port.index))
        i = port.index
        objects[(*IF_ENTRY, 1, i)] = (SnmpType.INTEGER, i)
        objects[(*IF_ENTRY, 2, i)] = (SnmpType.OCTET_STRING, port.name.encode())
        objects[(*IF_ENTRY, 3, i)] = (SnmpType.INTEGER, port.if_type)
        objects[(*IF_ENTRY, 4, i)] = (SnmpType.INTEGER, port.mtu)
        objects[(*IF_ENTRY, 5, i)] = (SnmpType.GAUGE32, min(port.speed_mbps * 1_000_000, M32))
        objects[(*IFX_ENTRY, 1, i)] = (SnmpType.OCTET_STRING, port.name.encode())
        objects[(*IFX_ENTRY, 14, i)] = (SnmpType.INTEGER, 1)
        objects[(*IFX_ENTRY, 15, i)] = (SnmpType.GAUGE32, port.speed_mbps)
        objects[(*IFX_ENTRY, 16, i)] = (SnmpType.INTEGER, 2)
        objects[(*IFX_ENTRY, 17, i)] = (SnmpType.INTEGER, 1 if port.if_type == 6 else 2)
        objects[(*IFX_ENTRY, 19, i)] = (SnmpType.TIMETICKS, 0)
    return objects


def _if_row(cur: Cursor, p: int, i: int) -> Objects:
    """The moving and per-device columns of one interface."""

    def mac() -> bytes:
        return b"\x02" + noise.derive(cur.current().key, i).to_bytes(8, "big")[:5]

    def admin() -> int:
        return 1 if cur.current().port_used(p) else 2

    def oper() -> int:
        return 1 if cur.current().port_oper_up(p, i) else 2

    def last_change() -> int:
        device = cur.current()
        pin = device.pins.get(i * 2) if device.pins else None
        since = pin.since if pin is not None else device.boot + 31.0
        return int(max(since - device.boot, 0.0) * 100) & M32

    def alias() -> bytes:
        return cur.current().aliases.get(i, b"")

    objects: Objects = {
        (*IF_ENTRY, 6, i): (SnmpType.OCTET_STRING, mac),
        (*IF_ENTRY, 7, i): (SnmpType.INTEGER, admin),
        (*IF_ENTRY, 8, i): (SnmpType.INTEGER, oper),
        (*IF_ENTRY, 9, i): (SnmpType.TIMETICKS, last_change),
        (*IFX_ENTRY, 18, i): (SnmpType.OCTET_STRING, alias),
    }
    c32, c64 = SnmpType.COUNTER32, SnmpType.COUNTER64
    for direction, (octets, ucast, nucast, discards, errors, hc, mc, bc, hc_mc, hc_bc) in (
        (IN, (10, 11, 12, 13, 14, 6, 2, 3, 8, 9)),
        (OUT, (16, 17, 18, 19, 20, 10, 4, 5, 12, 13)),
    ):
        objects[(*IF_ENTRY, octets, i)] = (c32, _derived(cur, p, direction, 1, M32))
        objects[(*IF_ENTRY, ucast, i)] = (c32, _derived(cur, p, direction, _UCAST, M32))
        objects[(*IF_ENTRY, nucast, i)] = (c32, _derived(cur, p, direction, _MULTI // 2, M32))
        objects[(*IF_ENTRY, discards, i)] = (c32, _derived(cur, p, direction, _DISCARD, M32))
        objects[(*IF_ENTRY, errors, i)] = (c32, _derived(cur, p, direction, _ERROR, M32))
        objects[(*IFX_ENTRY, mc, i)] = (c32, _derived(cur, p, direction, _MULTI, M32))
        objects[(*IFX_ENTRY, bc, i)] = (c32, _derived(cur, p, direction, _BROAD, M32))
        objects[(*IFX_ENTRY, hc, i)] = (c64, _derived(cur, p, direction, 1, M64))
        objects[(*IFX_ENTRY, hc + 1, i)] = (c64, _derived(cur, p, direction, _UCAST, M64))
        objects[(*IFX_ENTRY, hc_mc, i)] = (c64, _derived(cur, p, direction, _MULTI, M64))
        objects[(*IFX_ENTRY, hc_bc, i)] = (c64, _derived(cur, p, direction, _BROAD, M64))
    objects[(*IF_ENTRY, 15, i)] = (c32, _derived(cur, p, IN, _UNKNOWN, M32))
    return objects


# ---- HOST-RESOURCES-MIB ------------------------------------------------------------------------


def _host_resources(cur: Cursor, device: SimDevice) -> Objects:
    def uptime() -> int:
        return int((cur.now - cur.current().boot) * 100) & M32

    def processes() -> int:
        d = cur.current()
        return int(noise.gauge(noise.derive(d.key, 25_1_6), cur.now, 90, 420))

    objects: Objects = {
        (*HR, 1, 1, 0): (SnmpType.TIMETICKS, uptime),
        (*HR, 1, 5, 0): (SnmpType.GAUGE32, 1),
        (*HR, 1, 6, 0): (SnmpType.GAUGE32, processes),
        (*HR, 2, 2, 0): (SnmpType.INTEGER, lambda: cur.current().hardware.memory // 1024),
    }
    for row in range(1 + len(device.hardware.disks)):
        objects.update(_storage_row(cur, row))
    for cpu in range(device.hardware.cpus):
        index = HR_PROCESSOR_BASE + cpu
        objects[(*HR, 3, 3, 1, 1, index)] = (SnmpType.OBJECT_IDENTIFIER, (0, 0))
        objects[(*HR, 3, 3, 1, 2, index)] = (SnmpType.INTEGER, _processor_load(cur, cpu))
    return objects


def _processor_load(cur: Cursor, cpu: int) -> Callable[[], Value]:
    def value() -> int:
        d = cur.current()
        level = d.cpu_level() * 100
        return round(d.cpu_percent(25_3_3 + cpu, cur.now, level * 0.5, level * 1.5 + 3))

    return value


def _storage_row(cur: Cursor, row: int) -> Objects:
    """Row 1 is physical memory; rows 31, 32, ... the disks (net-snmp's numbering)."""
    index = 1 if row == 0 else 30 + row
    unit = 1024 if row == 0 else 4096

    def descr() -> bytes:
        d = cur.current()
        return b"Physical memory" if row == 0 else d.hardware.disks[row - 1].mount.encode()

    def size() -> int:
        d = cur.current()
        total = d.hardware.memory if row == 0 else d.hardware.disks[row - 1].size
        return min(total // unit, 2**31 - 1)

    def used() -> int:
        low, high = (0.35, 0.8) if row == 0 else (0.15, 0.7)
        share = noise.gauge(noise.derive(cur.current().key, 25_2_3, row), cur.now, low, high)
        return int(size() * share)

    entry = (*HR, 2, 3, 1)
    return {
        (*entry, 1, index): (SnmpType.INTEGER, index),
        (*entry, 2, index): (
            SnmpType.OBJECT_IDENTIFIER,
            HR_STORAGE_RAM if row == 0 else HR_STORAGE_FIXED_DISK,
        ),
        (*entry, 3, index): (SnmpType.OCTET_STRING, descr),
        (*entry, 4, index): (SnmpType.INTEGER, unit),
        (*entry, 5, index): (SnmpType.INTEGER, size),
        (*entry, 6, index): (SnmpType.INTEGER, used),
        (*entry, 7, index): (SnmpType.COUNTER32, 0),
    }


# ---- device profiles ---------------------------------------------------------------------------


def _profile(cur: Cursor, device: SimDevice, profile: CompiledProfile) -> Objects:
    objects: Objects = {}
    for oid, hint, metric in profile.scalars:
        objects[oid] = _hinted(cur, Cell(hint, metric, oid))
    for table in profile.tables:
        rows = len(device.tunnels) if table.tunnels else len(table.label.hint.names)
        for row in range(rows):
            index = row + 1
            objects[(*table.label.oid, index)] = _label(cur, table, row)
            for column in table.values:
                cell = Cell(
                    column.hint,
                    column.column.metric or "",
                    column.oid,
                    row,
                    column.column.states,
                    table.tunnels,
                )
                objects[(*column.oid, index)] = _hinted(cur, cell)
    return objects


def _label(
    cur: Cursor, table: CompiledTable, row: int
) -> tuple[SnmpType, Value | Callable[[], Value]]:
    if not table.tunnels:
        return SnmpType.OCTET_STRING, table.label.hint.names[row].encode()
    return SnmpType.OCTET_STRING, lambda: cur.current().tunnels[row].label


@dataclass(frozen=True, slots=True)
class Cell:
    """One profile object: a scalar (``row`` None) or a column's cell in row ``row``."""

    hint: hints.Hint
    metric: str
    oid: Oid
    row: int | None = None
    states: dict[int, float] | None = None
    tunnels: bool = False  # a row of the VPN tunnel table


def _hinted(cur: Cursor, cell: Cell) -> tuple[SnmpType, Value | Callable[[], Value]]:
    """The type and value source of one profile object."""
    hint, row = cell.hint, cell.row
    oid_key = noise.text_key(0, ".".join(map(str, cell.oid)))
    if hint.kind == "const":
        return SnmpType.INTEGER, hint.const
    if hint.kind == "tunnel-state":
        up, down = _state_values(cell.states)
        assert row is not None
        return SnmpType.INTEGER, lambda: up if cur.current().tunnels[row].up() else down
    if hint.kind == "counter":
        counter_id = (1 << 40) + (oid_key % (1 << 32)) * 256 + (row or 0)
        return SnmpType.COUNTER64, lambda: int(
            cur.current().counter(counter_id, hint.rate, cur.now)
        )
    return SnmpType.GAUGE32, _gauge(cur, cell, oid_key)


def _gauge(cur: Cursor, cell: Cell, oid_key: int) -> Callable[[], Value]:
    hint, row, tunnels, metric = cell.hint, cell.row, cell.tunnels, cell.metric.lower()
    cpu = "cpu" in metric
    delay = tunnels and ("rtt" in metric or "latency" in metric)

    def value() -> int:
        d = cur.current()
        if row is not None and tunnels:
            tunnel = d.tunnels[row]
            key = noise.derive(tunnel.key, oid_key)
            result = noise.gauge(key, cur.now, hint.low, hint.high)
            if delay:
                far = tunnel.far.latency_ms if tunnel.far else 0
                result += tunnel.near.latency_ms + far
            return max(int(result), 0)
        key = noise.derive(oid_key, row or 0)
        if cpu:
            return round(d.cpu_percent(key, cur.now, hint.low, hint.high))
        return round(noise.gauge(noise.derive(d.key, key), cur.now, hint.low, hint.high))

    return value


def _state_values(states: dict[int, float] | None) -> tuple[int, int]:
    """The enumeration values meaning up (mapped to 1) and down (mapped to 0)."""
    if not states:
        return 1, 2
    up = next((raw for raw, mapped in states.items() if mapped == 1), 1)
    down = next((raw for raw, mapped in states.items() if mapped == 0), 2)
    return up, down
