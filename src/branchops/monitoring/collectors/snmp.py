"""The SNMP collectors: system, interfaces, vendor profile and VPN tunnel checks.

All four share the engine's one :class:`~branchops.snmp.SnmpClient` (one UDP socket for
every device) through ``context.shared_object``. Each keeps in memory what it needs from the
previous poll of a check (uptime, counters, watched interfaces), so rates and reboots need
no database. What each reads and emits is in docs/collectors-snmp.md.

Errors: a silent device is ``down`` ("no answer"); refused credentials, agent errors and
protocol violations are ``unknown`` with the reason; nothing a device sends raises anything
but :class:`CollectorError` out of ``collect``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any, ClassVar, Final, Generic, TypeVar

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
from branchops.monitoring.collectors.snmp_parts import interfaces as ifs
from branchops.monitoring.collectors.snmp_parts.access import (
    SHARED_KEY,
    SharedSnmpClient,
    target_of,
    translate,
)
from branchops.monitoring.collectors.snmp_parts.memory import CheckMemory, Uptime, rebooted
from branchops.monitoring.collectors.snmp_parts.profile import (
    DIRECTORY_MAX_AGE_S,
    DIRECTORY_RETRY_AGE_S,
    TUNNEL_UP,
    TunnelColumns,
    TunnelDirectory,
    TunnelReading,
    find_tunnel,
    read_directory,
    read_profile,
    read_tunnel,
)
from branchops.monitoring.collectors.snmp_parts.system import (
    CPU,
    MEMORY,
    MEMORY_TOTAL,
    MEMORY_USED,
    SystemReading,
    read_system,
)
from branchops.monitoring.params import SnmpInterfaceParams, SnmpParams, VpnTunnelParams
from branchops.monitoring.snmp_profiles import DeviceProfile
from branchops.snmp import Oid, SnmpClient, SnmpError, Target

P = TypeVar("P", bound=SnmpParams)
Outcome = tuple[State, list[Sample], str, str]  # state, samples, summary, error

UPTIME_METRIC: Final = "branchops_snmp_uptime_seconds"
REBOOTED_METRIC: Final = "branchops_snmp_rebooted"


class _LiveProfiles(Mapping[str, DeviceProfile]):
    """``context.profiles`` as it is at each use: the engine replaces the dict when it
    (re)loads profiles, possibly after the collectors were built."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def __getitem__(self, name: str) -> DeviceProfile:
        profile: DeviceProfile = self._context.profiles[name]
        return profile

    def __iter__(self) -> Iterator[str]:
        return iter(self._context.profiles)

    def __len__(self) -> int:
        return len(self._context.profiles)


class _SnmpCollector(Generic[P]):
    """What the four SNMP collectors share: params, profile choice, target, error mapping."""

    kind: ClassVar[str]
    params_model: ClassVar[type[SnmpParams]]

    def __init__(
        self,
        snmp: SharedSnmpClient,
        profiles: Mapping[str, DeviceProfile],
        clock: Callable[[], float],
        monotonic: Callable[[], float],
    ) -> None:
        self._snmp = snmp
        self._profiles = profiles
        self._clock = clock
        self._monotonic = monotonic

    @classmethod
    def from_context(cls, context: Context) -> Any:
        snmp = context.shared_object(SHARED_KEY, lambda: SharedSnmpClient(context.options))
        return cls(snmp, _LiveProfiles(context), context.clock, context.monotonic)

    async def aclose(self) -> None:
        """Nothing of its own: the shared client is closed with the engine's shared objects."""

    async def collect(self, spec: CheckSpec) -> Result:
        started, began = self._clock(), self._monotonic()
        params = self._params(spec)
        if params.profile and params.profile not in self._profiles:
            raise ConfigError(f"no SNMP device profile named {params.profile!r}")
        target = target_of(spec)
        client = await self._snmp.ready()
        try:
            state, samples, summary, error = await self._poll(client, target, spec, params)
        except SnmpError as exc:
            raise translate(exc, target) from exc
        return Result(
            check_id=spec.check_id,
            state=state,
            started_at=started,
            duration_s=self._monotonic() - began,
            samples=tuple(samples),
            error=error,
            summary=summary,
        )

    async def _poll(
        self, client: SnmpClient, target: Target, spec: CheckSpec, params: P
    ) -> Outcome:
        raise NotImplementedError

    def _params(self, spec: CheckSpec) -> P:
        params: P = typed_params(spec, self.params_model)  # type: ignore[assignment]
        return params

    def _profile(
        self, spec: CheckSpec, params: SnmpParams, *, required: bool
    ) -> DeviceProfile | None:
        if params.profile:
            profile = self._profiles.get(params.profile)
            if profile is None:
                raise ConfigError(f"no SNMP device profile named {params.profile!r}")
            return profile
        found = next(
            (
                p
                for p in self._profiles.values()
                if spec.platform and spec.platform in p.match.platforms
            ),
            None,
        )
        if found is None and required:
            raise ConfigError(
                f"no SNMP device profile for platform {spec.platform or '(none)'!r}: "
                "set the check's 'profile' parameter or add a profile for the platform"
            )
        return found


# ---- snmp_system ---------------------------------------------------------------------------


class SnmpSystemCollector(_SnmpCollector[SnmpParams]):
    """Uptime (and reboots), CPU, memory and storage of a device."""

    kind = "snmp_system"
    params_model = SnmpParams

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._uptimes: CheckMemory[Uptime] = CheckMemory(self._monotonic)

    async def _poll(
        self, client: SnmpClient, target: Target, spec: CheckSpec, params: SnmpParams
    ) -> Outcome:
        profile = self._profile(spec, params, required=False)
        reading = await read_system(client, target, profile)
        samples: list[Sample] = []
        notes: list[str] = []
        if reading.uptime_ticks is not None:
            now = Uptime(reading.uptime_ticks, self._monotonic())
            before = self._uptimes.get(spec.check_id)
            self._uptimes.put(spec.check_id, now)
            restarted = before is not None and rebooted(before, now)
            uptime_s = reading.uptime_ticks / 100
            samples.append(Sample(UPTIME_METRIC, uptime_s, labels_of(spec)))
            samples.append(Sample(REBOOTED_METRIC, float(restarted), labels_of(spec)))
            notes.append(
                f"REBOOTED, up {_duration(uptime_s)}" if restarted else f"up {_duration(uptime_s)}"
            )
        samples += _system_samples(spec, reading)
        notes += _system_notes(reading)
        if not samples:
            return State.UNKNOWN, [], "", "the device answered, but with none of the system objects"
        return State.UP, samples, "; ".join(notes), ""


def _system_samples(spec: CheckSpec, reading: SystemReading) -> list[Sample]:
    labels = labels_of(spec)
    samples = [
        Sample(name, value, labels)
        for name, value in (
            (CPU, reading.cpu),
            (MEMORY, reading.memory),
            (MEMORY_USED, reading.memory_used_bytes),
            (MEMORY_TOTAL, reading.memory_total_bytes),
        )
        if value is not None
    ]
    for disk in reading.storage:
        disk_labels = labels_of(spec, storage=disk.name)
        samples.append(Sample("branchops_storage_used_ratio", disk.used_ratio, disk_labels))
        samples.append(Sample("branchops_storage_size_bytes", disk.size_bytes, disk_labels))
    return samples


def _system_notes(reading: SystemReading) -> list[str]:
    notes = []
    if reading.cpu is not None:
        notes.append(f"cpu {reading.cpu:.0%}")
    if reading.memory is not None:
        notes.append(f"memory {reading.memory:.0%}")
    if reading.storage:
        fullest = max(reading.storage, key=lambda s: s.used_ratio)
        notes.append(
            f"{len(reading.storage)} disks, fullest {fullest.name} {fullest.used_ratio:.0%}"
        )
    return notes


def _duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86_400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {rest // 60}m" if hours else f"{rest // 60}m {rest % 60}s"


# ---- snmp_interfaces -----------------------------------------------------------------------


class SnmpInterfaceCollector(_SnmpCollector[SnmpInterfaceParams]):
    """Status and traffic of a device's interfaces (all, up, uplinks or a named list)."""

    kind = "snmp_interfaces"
    params_model = SnmpInterfaceParams

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._memory: CheckMemory[ifs.InterfaceMemory] = CheckMemory(self._monotonic)

    async def _poll(
        self, client: SnmpClient, target: Target, spec: CheckSpec, params: SnmpInterfaceParams
    ) -> Outcome:
        memory = self._memory.get(spec.check_id) or ifs.InterfaceMemory()
        found = await ifs.read_interfaces(client, target)
        selected, missing = ifs.select(found, params.interfaces, memory.selected)
        if not selected and not missing:
            raise _nothing_selected(params.interfaces, len(found))
        at = self._monotonic()
        ticks, counters = await ifs.read_counters(client, target, selected, at)
        uptime = Uptime(ticks, at) if ticks is not None else None
        restarted = bool(memory.uptime and uptime and rebooted(memory.uptime, uptime))
        samples, totals = self._interface_samples(spec, selected, counters, memory, restarted)
        self._memory.put(
            spec.check_id,
            ifs.InterfaceMemory(uptime, counters, frozenset(i.index for i in selected)),
        )
        # A port an operator shut is not a fault, unless the check names it explicitly.
        named = isinstance(params.interfaces, list)
        down = [i.name for i in selected if i.faulty and (i.admin_up or named)]
        state = State.DEGRADED if down or missing else State.UP
        error = "; ".join(
            part
            for part in (
                f"down: {', '.join(down)}" if down else "",
                f"not found: {', '.join(missing)}" if missing else "",
            )
            if part
        )
        return state, samples, _interface_summary(selected, down, totals, restarted), error

    @staticmethod
    def _interface_samples(
        spec: CheckSpec,
        selected: list[ifs.Interface],
        counters: dict[int, ifs.CounterReading],
        memory: ifs.InterfaceMemory,
        restarted: bool,
    ) -> tuple[list[Sample], dict[str, float] | None]:
        samples: list[Sample] = []
        totals: dict[str, float] | None = None
        for interface in selected:
            labels = labels_of(spec, interface=interface.name)
            samples.append(Sample("branchops_if_oper_up", float(interface.oper_up), labels))
            if interface.speed_bps:
                samples.append(
                    Sample("branchops_if_speed_bits_per_second", interface.speed_bps, labels)
                )
            before = None if restarted else memory.counters.get(interface.index)
            rates = ifs.rates(before, counters[interface.index], interface.speed_bps)
            for key, value in rates.items():
                samples.append(Sample(ifs.RATE_METRICS[key], value, labels))
            if rates:
                totals = totals or {}
                for key in ("in_octets", "out_octets"):
                    totals[key] = totals.get(key, 0.0) + rates.get(key, 0.0)
        return samples, totals


def _nothing_selected(mode: ifs.Selection, seen: int) -> CollectorError:
    if mode == "uplinks":
        return ConfigError(
            f"no uplink recognised among {seen} interfaces: put 'uplink' (or WAN, to-core, "
            "上联) in the uplinks' descriptions, or list them in the 'interfaces' parameter"
        )
    return CollectorError(
        f"no interface matches '{mode}' among {seen} interfaces",
        retryable=False,
        state=State.UNKNOWN,
    )


def _interface_summary(
    selected: list[ifs.Interface], down: list[str], totals: dict[str, float] | None, restarted: bool
) -> str:
    parts = [f"{len(selected)} watched: {len(selected) - len(down)} up"]
    if down:
        parts[0] += f", {len(down)} down ({', '.join(down[:5])}{', ...' if len(down) > 5 else ''})"
    if totals is not None:
        parts.append(
            f"in {ifs.format_bps(totals['in_octets'])}, out {ifs.format_bps(totals['out_octets'])}"
        )
    elif restarted:
        parts.append("device restarted: rates from the next poll")
    else:
        parts.append("rates from the next poll")
    return "; ".join(parts)


# ---- snmp_profile --------------------------------------------------------------------------


class SnmpProfileCollector(_SnmpCollector[SnmpParams]):
    """A device profile's vendor scalars and tables (sessions, VPN tunnels, ...)."""

    kind = "snmp_profile"
    params_model = SnmpParams

    async def _poll(
        self, client: SnmpClient, target: Target, spec: CheckSpec, params: SnmpParams
    ) -> Outcome:
        profile = self._profile(spec, params, required=True)
        assert profile is not None
        reading = await read_profile(client, target, profile)
        labels = labels_of(spec)
        samples = [Sample(s.metric, value, labels) for s, value in reading.scalars]
        notes = [
            f"{s.metric.removeprefix('branchops_')} {value:,.0f}" for s, value in reading.scalars
        ]
        down: list[str] = []
        rows = 0
        for table in reading.tables:
            for row in table.rows:
                rows += 1
                row_labels = labels_of(spec, **{table.label_name: row.label})
                samples += [Sample(m, v, row_labels) for m, v in row.values.items()]
                if table.table.role == "vpn_tunnels" and row.values.get(TUNNEL_UP) == 0:
                    down.append(row.label)
            if table.table.role == "vpn_tunnels":
                ups = sum(1 for r in table.rows if r.values.get(TUNNEL_UP) == 1)
                notes.insert(
                    0,
                    f"{len(table.rows)} tunnels: {ups} up"
                    + (f", {len(down)} down ({', '.join(down[:5])})" if down else ""),
                )
        if not reading.scalars and not reading.tables and not reading.missing:
            summary = (
                f"nothing beyond CPU and memory in profile {profile.name} (snmp_system reads them)"
            )
            return State.UP, [], summary, ""
        if not samples:
            return (
                State.UNKNOWN,
                [],
                "",
                f"the device answered none of profile {profile.name!r}'s objects: wrong profile?",
            )
        if reading.missing:
            notes.append(f"not answered: {', '.join(reading.missing)}")
        state = State.DEGRADED if down else State.UP
        error = f"tunnels down: {', '.join(down)}" if down else ""
        return state, samples, "; ".join(notes) or f"{rows} rows", error


# ---- vpn_tunnel ----------------------------------------------------------------------------


class VpnTunnelCollector(_SnmpCollector[VpnTunnelParams]):
    """One VPN tunnel's state (and latency where the profile has it), on the link's A device."""

    kind = "vpn_tunnel"
    params_model = VpnTunnelParams

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._directory = TunnelDirectory(self._monotonic)

    async def _poll(
        self, client: SnmpClient, target: Target, spec: CheckSpec, params: VpnTunnelParams
    ) -> Outcome:
        name = params.tunnel or spec.link
        if not name:
            raise ConfigError("no tunnel name: set the 'tunnel' parameter (or run on a link)")
        profile = self._profile(spec, params, required=True)
        assert profile is not None
        columns = TunnelColumns.of(profile)
        seen_from = ""
        if columns is None:
            far = self._far_side(spec)
            if far is None:
                raise ConfigError(
                    f"profile {profile.name!r} has no vpn_tunnels table with a {TUNNEL_UP} "
                    "column, and the link's far end has none either"
                )
            target, profile, columns = far
            seen_from = f" (seen from {spec.far_device})"
        reading = await self._read(client, target, profile, columns, name)
        labels = labels_of(spec, tunnel=name)
        if reading.up is None:
            return (
                State.UNKNOWN,
                [],
                "",
                (
                    f"tunnel {name!r}: state {reading.raw_states} is not in profile "
                    f"{profile.name!r}'s states"
                ),
            )
        samples = [Sample(TUNNEL_UP, reading.up, labels)]
        samples += [Sample(metric, value, labels) for metric, value in reading.values.items()]
        summary = "up" if reading.up else f"down (state {', '.join(map(str, reading.raw_states))})"
        rtt = next((v for m, v in reading.values.items() if "rtt" in m), None)
        if rtt is not None:
            summary += f", rtt {rtt * 1000:.1f} ms" if rtt < 10 else f", rtt {rtt:g}"
        summary += seen_from
        state = State.UP if reading.up else State.DOWN
        return state, samples, summary, "" if reading.up else f"tunnel {name!r} is down"

    def _far_side(self, spec: CheckSpec) -> tuple[Target, DeviceProfile, TunnelColumns] | None:
        """The link's far end (a concentrator), when its profile has a tunnel table.

        Some branch firewalls publish no tunnel table over SNMP (Sangfor's MIB is not
        public); the concentrator's table has a row per branch tunnel, named after the link.
        """
        if not spec.far_target:
            return None
        far_spec = replace(spec, target=spec.far_target, platform=spec.far_platform)
        profile = self._profile(
            far_spec, VpnTunnelParams(credential="-", profile=None, tunnel=None), required=False
        )
        columns = TunnelColumns.of(profile) if profile is not None else None
        if profile is None or columns is None:
            return None
        return target_of(far_spec), profile, columns

    async def _read(
        self,
        client: SnmpClient,
        target: Target,
        profile: DeviceProfile,
        columns: TunnelColumns,
        name: str,
    ) -> TunnelReading:
        key = (target.host, target.port, profile.name, columns.table.name)

        async def read() -> dict[str, list[Oid]]:
            return await read_directory(client, target, columns.label)

        for max_age in (DIRECTORY_MAX_AGE_S, DIRECTORY_RETRY_AGE_S):
            directory = await self._directory.get(key, read, max_age_s=max_age)
            rows = find_tunnel(directory, name)
            if not rows:
                continue  # not there: read the table again (if that copy is old enough)
            reading = await read_tunnel(client, target, columns, name, rows)
            if not reading.renamed:
                return reading
            self._directory.forget(key)  # the rows moved: the next round re-reads them
        names = sorted(directory)
        raise CollectorError(
            f"tunnel {name!r} not found on {target.host} ({len(names)} tunnels: "
            f"{', '.join(names[:10])}{', ...' if len(names) > 10 else ''})",
            retryable=False,
            state=State.UNKNOWN,
        )
