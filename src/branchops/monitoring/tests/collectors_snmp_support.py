"""Simulated devices for the SNMP collector tests: values the test sets, served live by the
lab's agent engine on 127.0.0.0/8, and the collectors built the way the engine builds them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from branchops.monitoring import snmp_profiles
from branchops.monitoring.collectors import Context, build
from branchops.monitoring.collectors.base import CheckSpec, Collector, Result, SnmpAccess
from branchops.monitoring.collectors.snmp_parts.access import SHARED_KEY
from branchops.monitoring.snmp_hints import parse
from branchops.monitoring.snmp_profiles import DeviceProfile
from branchops.snmp import (
    AgentServer,
    AuthProtocol,
    MibView,
    PrivProtocol,
    SimulatedAgent,
    SnmpType,
    UsmUser,
)

T = TypeVar("T")
LiveObjects = dict[str, tuple[SnmpType, Any]]

LAB_USER = UsmUser("labops", AuthProtocol.SHA, "authpass123", PrivProtocol.AES, "privpass123")
V3 = SnmpAccess(
    "3",
    username="labops",
    auth_protocol="sha",
    auth_password="authpass123",
    priv_protocol="aes",
    priv_password="privpass123",
    timeout_s=0.5,
    retries=0,
)
V2C = SnmpAccess("2c", community="public", timeout_s=0.5, retries=0)
IF = "1.3.6.1.2.1.2.2.1"
IFX = "1.3.6.1.2.1.31.1.1.1"
HR_TYPES = "1.3.6.1.2.1.25.2.1"


def shipped_profiles() -> dict[str, DeviceProfile]:
    return snmp_profiles.load_all(Path("/nonexistent"))  # the shipped ones only


class Clock:
    """Monotonic seconds that only the test moves (agents' uptime reads it too)."""

    def __init__(self, now: float = 5000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Port:
    index: int
    name: str
    alias: str = ""
    type: int = 6  # ethernetCsmacd
    speed_mbps: int = 1000
    admin: int = 1
    oper: int = 1
    hc: bool = True  # has ifHCInOctets/ifHCOutOctets
    in_octets: int = 0
    out_octets: int = 0
    in_errors: int = 0
    out_errors: int = 0
    in_discards: int = 0
    out_discards: int = 0
    discontinuity: int = 0  # TimeTicks


@dataclass
class Storage:
    index: int
    type: str  # the last arc under hrStorageTypes: 2 RAM, 1 other, 4 fixed disk
    descr: str
    units: int
    size: int
    used: int


@dataclass
class Device:
    """A device whose values the test sets; the agent reads them at every request."""

    clock: Clock
    ports: list[Port] = field(default_factory=list)
    cpu_loads: list[int] = field(default_factory=list)  # HOST-RESOURCES hrProcessorLoad
    storage: list[Storage] = field(default_factory=list)
    extra: LiveObjects = field(default_factory=dict)
    booted_at: float = 0.0

    def __post_init__(self) -> None:
        self.booted_at = self.clock() - 1000.0  # up for 1,000 s when the test starts

    def uptime_ticks(self) -> int:
        return int((self.clock() - self.booted_at) * 100) & 0xFFFFFFFF

    def reboot(self) -> None:
        self.booted_at = self.clock() - 5.0
        for port in self.ports:
            port.in_octets = port.out_octets = port.in_errors = port.out_errors = 0

    def port(self, index: int) -> Port:
        return next(p for p in self.ports if p.index == index)

    def view(self) -> MibView:
        objects: LiveObjects = {"1.3.6.1.2.1.1.3.0": (SnmpType.TIMETICKS, self.uptime_ticks)}
        for port in self.ports:
            objects.update(_port_objects(port))
        for number, load in enumerate(self.cpu_loads, start=1):
            objects[f"1.3.6.1.2.1.25.3.3.1.2.{number}"] = (SnmpType.INTEGER, load)
        for disk in self.storage:
            objects.update(_storage_objects(disk))
        objects.update(self.extra)
        return MibView(objects)


def _port_objects(port: Port) -> LiveObjects:
    def live(attribute: str, mask: int = 0xFFFFFFFF) -> Callable[[], int]:
        return lambda: int(getattr(port, attribute)) & mask

    i = port.index
    objects: LiveObjects = {
        f"{IF}.2.{i}": (SnmpType.OCTET_STRING, port.name.encode()),
        f"{IF}.3.{i}": (SnmpType.INTEGER, port.type),
        f"{IF}.5.{i}": (SnmpType.GAUGE32, min(port.speed_mbps * 1_000_000, 0xFFFFFFFF)),
        f"{IF}.7.{i}": (SnmpType.INTEGER, live("admin")),
        f"{IF}.8.{i}": (SnmpType.INTEGER, live("oper")),
        f"{IF}.10.{i}": (SnmpType.COUNTER32, live("in_octets")),
        f"{IF}.13.{i}": (SnmpType.COUNTER32, live("in_discards")),
        f"{IF}.14.{i}": (SnmpType.COUNTER32, live("in_errors")),
        f"{IF}.16.{i}": (SnmpType.COUNTER32, live("out_octets")),
        f"{IF}.19.{i}": (SnmpType.COUNTER32, live("out_discards")),
        f"{IF}.20.{i}": (SnmpType.COUNTER32, live("out_errors")),
        f"{IFX}.1.{i}": (SnmpType.OCTET_STRING, port.name.encode()),
        f"{IFX}.15.{i}": (SnmpType.GAUGE32, port.speed_mbps),
        f"{IFX}.18.{i}": (SnmpType.OCTET_STRING, port.alias.encode()),
        f"{IFX}.19.{i}": (SnmpType.TIMETICKS, live("discontinuity")),
    }
    if port.hc:
        wide = 2**64 - 1
        objects[f"{IFX}.6.{i}"] = (SnmpType.COUNTER64, live("in_octets", wide))
        objects[f"{IFX}.10.{i}"] = (SnmpType.COUNTER64, live("out_octets", wide))
    return objects


def _storage_objects(disk: Storage) -> LiveObjects:
    base, i = "1.3.6.1.2.1.25.2.3.1", disk.index
    return {
        f"{base}.1.{i}": (SnmpType.INTEGER, i),
        f"{base}.2.{i}": (
            SnmpType.OBJECT_IDENTIFIER,
            tuple(map(int, f"{HR_TYPES}.{disk.type}".split("."))),
        ),
        f"{base}.3.{i}": (SnmpType.OCTET_STRING, disk.descr.encode()),
        f"{base}.4.{i}": (SnmpType.INTEGER, disk.units),
        f"{base}.5.{i}": (SnmpType.INTEGER, disk.size),
        f"{base}.6.{i}": (SnmpType.INTEGER, disk.used),
    }


# ---- serving a device profile (what the lab does from the simulate hints) -------------------


@dataclass
class ProfileValues:
    """What a simulated device answers for a profile: scalars by metric (else the hint's
    middle), and tunnels by name, up or down."""

    metrics: dict[str, int] = field(default_factory=dict)
    tunnels: dict[str, bool] = field(default_factory=dict)


def profile_objects(profile: DeviceProfile, values: ProfileValues) -> LiveObjects:
    objects: LiveObjects = {}
    for scalar in profile.scalars:
        kind, value = _hinted(scalar.simulate, scalar.metric, values)
        objects[scalar.oid] = (kind, value)
    for table in profile.tables:
        label = next(c for c in table.columns if c.label)
        hint = parse(label.simulate, profile="test", oid=label.oid)
        names = list(values.tunnels) if hint.kind == "tunnel-names" else list(hint.names)
        for row, name in enumerate(names, start=1):
            objects[f"{label.oid}.{row}"] = (SnmpType.OCTET_STRING, name.encode())
            for column in table.columns:
                if column.metric is None:
                    continue
                if column.simulate == "tunnel-state":
                    objects[f"{column.oid}.{row}"] = (
                        SnmpType.INTEGER,
                        _state(column.states, values, name),
                    )
                else:
                    objects[f"{column.oid}.{row}"] = _hinted(column.simulate, column.metric, values)
    return objects


def _hinted(text: str, metric: str, values: ProfileValues) -> tuple[SnmpType, Any]:
    hint = parse(text, profile="test", oid="1.3.6")
    if hint.kind == "counter":
        return SnmpType.COUNTER64, int(hint.rate * 1000)
    value = values.metrics.get(metric)
    if value is None:
        value = int((hint.low + hint.high) / 2) if hint.kind in ("percent", "gauge") else hint.const
    return SnmpType.GAUGE32, value


def _state(
    states: Mapping[int, float] | None, values: ProfileValues, name: str
) -> Callable[[], int]:
    assert states is not None
    up = next(k for k, v in states.items() if v == 1)
    down = next(k for k, v in states.items() if v == 0)
    return lambda: up if values.tunnels.get(name) else down


# ---- running collectors ------------------------------------------------------------------------


@asynccontextmanager
async def lab(
    devices: Mapping[str, Device | LiveObjects], **options: Any
) -> AsyncIterator[AgentServer]:
    """Agents at the given 127.x addresses, on one shared-socket server."""
    async with AgentServer(0) as server:
        for address, device in devices.items():
            view = device.view() if isinstance(device, Device) else MibView(device)
            await server.add(SimulatedAgent(address, view, users=[LAB_USER], **options))
        yield server


@dataclass
class Engine:
    """The collectors of one engine, sharing one context (and so one SNMP client)."""

    clock: Clock
    context: Context
    collectors: dict[str, Collector] = field(default_factory=dict)

    def collector(self, kind: str) -> Collector:
        if kind not in self.collectors:
            self.collectors[kind] = build(kind, self.context)
        return self.collectors[kind]

    async def collect(self, spec: CheckSpec) -> Result:
        return await self.collector(spec.kind).collect(spec)

    def close(self) -> None:
        shared = self.context.shared.get(SHARED_KEY)
        if shared is not None:
            shared.close()


def run(
    scenario: Callable[[Engine], Coroutine[Any, Any, T]],
    clock: Clock | None = None,
    profiles: Mapping[str, DeviceProfile] | None = None,
) -> T:
    clock = clock or Clock()

    async def main() -> T:
        context = Context(
            clock=lambda: 1_700_000_000.0 + clock.now,
            monotonic=clock,
            profiles=shipped_profiles() if profiles is None else profiles,
        )
        engine = Engine(clock, context)
        try:
            return await scenario(engine)
        finally:
            engine.close()

    return asyncio.run(main())


def snmp_spec(
    kind: str,
    address: str,
    port: int,
    *,
    access: SnmpAccess = V2C,
    check_id: int = 1,
    platform: str = "",
    link: str = "",
    timeout_s: float = 5.0,
    **params: Any,
) -> CheckSpec:
    access = SnmpAccess(**{**_fields(access), "port": port})
    return CheckSpec(
        check_id=check_id,
        kind=kind,
        target=address,
        timeout_s=timeout_s,
        params={"credential": "lab", **params},
        labels={"device": f"dev-{address}", "site": "BR-0001"},
        snmp=access,
        platform=platform,
        link=link,
    )


def _fields(access: SnmpAccess) -> dict[str, Any]:
    return {name: getattr(access, name) for name in SnmpAccess.__slots__}


def by_name(result: Result, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels``, or None."""
    for sample in result.samples:
        if sample.name == name and set(labels.items()) <= set(sample.labels):
            return sample.value
    return None
