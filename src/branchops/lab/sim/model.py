"""The simulated estate at run time: devices, their ports and VPN tunnels, and fault state.

A :class:`SimDevice` holds only what differs between devices (names, addresses, which ports
are wired to what, fault flags); everything that moves is computed on demand from the
device's key and the time (see :mod:`.noise`). A :class:`Tunnel` is shared by both of its
ends, so a tunnel that goes down shows down on the branch firewall and on the concentrator
at once.

Counters must never go backwards, even when a fault changes their rate (an interface goes
down, a CPU spikes) or the device reboots (they restart at zero). A :class:`Pin` records,
for one counter, the value it had when its rate last changed; counters without a pin count
from the device's boot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

from branchops.lab.sim import noise
from branchops.lab.sim.inventory import DeviceSpec

if TYPE_CHECKING:
    from branchops.lab.sim.hardware import Hardware
    from branchops.lab.sim.interfaces import Layout
    from branchops.monitoring.snmp_profiles import DeviceProfile
    from branchops.snmp import SimulatedAgent

IN, OUT = 0, 1
CPU_COUNTER_BASE = 1 << 20  # counter ids above interface ids: per-CPU busy seconds
SPIKE_UTILISATION = 0.93
# CPU-seconds counters barely wander, so that even a spiking CPU (93 % +- 6 %) never counts
# more busy seconds than seconds; the CPU gauges are the lively ones.
CPU_SWING = 0.06


class PortKind(IntEnum):
    """What a port is wired to; decides its traffic, and whether it is in use at all."""

    SPARE = 0  # administratively shut down (unused ports are, by security baseline)
    ACCESS = 1  # a user port: in use on some devices, shut on others
    WAN = 2
    LEASED = 3
    LAN = 4
    UPLINK = 5
    DOWNLINK = 6
    MGMT = 7
    TUNNEL = 8  # one VPN tunnel's interface (branch firewalls)
    HUB = 9  # a concentrator's hub tunnel interface
    NIC = 10  # a server's network card
    CORE = 11  # data-centre fabric links
    LOOPBACK = 12


# Resting traffic per kind, bytes per second (low, high: a log-uniform level per port and
# direction), and the share of the opposite direction. Busy ports wrap Counter32 within
# tens of minutes, data-centre ones within a minute, as they do on real kit.
_RATES: dict[PortKind, tuple[float, float, float]] = {
    PortKind.ACCESS: (2e3, 4e5, 0.4),
    PortKind.WAN: (4e5, 6e6, 0.35),
    PortKind.LEASED: (1e5, 1.5e6, 0.5),
    PortKind.LAN: (4e5, 6e6, 2.5),
    PortKind.UPLINK: (6e5, 9e6, 0.5),
    PortKind.DOWNLINK: (2e5, 4e6, 2.0),
    PortKind.MGMT: (6e2, 1.2e4, 1.5),
    PortKind.TUNNEL: (6e4, 1.5e6, 0.4),
    PortKind.HUB: (1e7, 6e7, 0.8),
    PortKind.NIC: (1e5, 6e6, 1.2),
    PortKind.CORE: (2e7, 2.5e8, 0.9),
}
_USED_SHARE = 0.55  # of user access ports that have something plugged in


@dataclass(slots=True)
class Pin:
    """A counter's value ``value`` at ``since``; from then it grows at ``scale`` x its rate."""

    since: float
    value: float
    scale: float


@dataclass(slots=True, eq=False)
class Tunnel:
    """One VPN link as both ends' tunnel tables show it (the row label is the link name)."""

    name: str
    label: bytes
    key: int
    near: SimDevice = field(repr=False)  # the branch (or regional centre) firewall: A end
    far: SimDevice | None = field(repr=False)  # the concentrator, when the lab simulates it
    wan_port: int | None = None  # ifIndex of the near end's WAN port the tunnel rides on
    down: bool = False  # a vpn-down fault

    def up(self) -> bool:
        near, far = self.near, self.far
        if self.down or near.unreachable or (far is not None and far.unreachable):
            return False
        return self.wan_port is None or self.wan_port not in near.if_down


@dataclass(slots=True, eq=False)
class SimDevice:
    spec: DeviceSpec
    key: int
    boot: float
    layout: Layout = field(repr=False)
    hardware: Hardware = field(repr=False)
    profile: DeviceProfile | None = field(default=None, repr=False)
    descr: bytes = b""  # sysDescr
    kinds: bytes = b""  # PortKind per port, in layout order
    aliases: dict[int, bytes] = field(default_factory=dict)  # ifIndex -> ifAlias
    wan_ports: dict[str, int] = field(default_factory=dict)  # internet link -> ifIndex
    tunnels: list[Tunnel] = field(default_factory=list, repr=False)  # its tunnel table's rows
    absent: bool = False  # planned, failed or decommissioned in the CMDB: never answers
    # fault state
    down: bool = False
    loss: int = 0  # percent of packets dropped
    latency_ms: int = 0
    cpu_spike: bool = False
    clock_offset: float = 0.0
    cert_days: int | None = None
    if_down: set[int] = field(default_factory=set)
    pins: dict[int, Pin] | None = None
    agent: SimulatedAgent | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def address(self) -> str:
        return self.spec.address

    @property
    def unreachable(self) -> bool:
        return self.down or self.absent

    # ---- counters --------------------------------------------------------------------------

    def counter(
        self, counter_id: int, rate: float, now: float, swing: float = noise.TRAFFIC_SWING
    ) -> float:
        """The counter ``counter_id`` whose resting rate is ``rate`` per second, at ``now``."""
        key = noise.derive(self.key, counter_id)
        pins = self.pins
        pin = pins.get(counter_id) if pins else None
        if pin is None:
            return noise.counter_delta(key, rate, self.boot, now, swing)
        return pin.value + pin.scale * noise.counter_delta(key, rate, pin.since, now, swing)

    def set_rate_scale(
        self,
        counter_id: int,
        rate: float,
        scale: float,
        now: float,
        swing: float = noise.TRAFFIC_SWING,
    ) -> None:
        """From ``now`` on, the counter grows at ``scale`` times its resting rate."""
        value = self.counter(counter_id, rate, now, swing)
        if self.pins is None:
            self.pins = {}
        self.pins[counter_id] = Pin(now, value, scale)

    def reboot(self, now: float) -> None:
        """Uptime and every counter start again from zero; standing faults stay."""
        self.boot = now
        self.pins = None
        for if_index in sorted(self.if_down):
            self.set_port_down(if_index, True, now)
        if self.cpu_spike:
            self.set_cpu_spike(True, now)
        if self.agent is not None:
            self.agent.restart()

    # ---- ports -----------------------------------------------------------------------------

    def port_kind(self, position: int) -> PortKind:
        return PortKind(self.kinds[position])

    def port_used(self, position: int) -> bool:
        kind = self.kinds[position]
        if kind == PortKind.SPARE:
            return False
        if kind == PortKind.ACCESS:
            return noise.unit(noise.derive(self.key, position), 5) < _USED_SHARE
        return True

    def port_rate(self, position: int, direction: int) -> float:
        """Resting bytes per second of a port in one direction (0 for unused ports)."""
        rates = _RATES.get(PortKind(self.kinds[position]))
        if rates is None or not self.port_used(position):
            return 0.0
        low, high, other = rates
        rate = noise.log_level(noise.derive(self.key, position, IN), low, high)
        return rate * other if direction == OUT else rate

    def port_oper_up(self, position: int, if_index: int) -> bool:
        if not self.port_used(position) or if_index in self.if_down:
            return False
        tunnel = self.layout.ports[position].tunnel
        if tunnel is not None and tunnel < len(self.tunnels):
            return self.tunnels[tunnel].up()
        return True

    def octets(self, position: int, direction: int, now: float) -> int:
        if_index = self.layout.ports[position].index
        rate = self.port_rate(position, direction)
        if rate == 0.0:
            return 0
        return int(self.counter(if_index * 2 + direction, rate, now))

    def set_port_down(self, if_index: int, down: bool, now: float) -> None:
        """Interface down: its counters stop (and resume from where they stopped)."""
        position = self.layout.position(if_index)
        for direction in (IN, OUT):
            rate = self.port_rate(position, direction)
            self.set_rate_scale(if_index * 2 + direction, rate, 0.0 if down else 1.0, now)
        if down:
            self.if_down.add(if_index)
        else:
            self.if_down.discard(if_index)

    # ---- CPU ---------------------------------------------------------------------------------

    def cpu_level(self) -> float:
        """The device's resting CPU utilisation, 0..1."""
        return noise.level_in(noise.derive(self.key, CPU_COUNTER_BASE), 0.04, 0.35)

    def cpu_busy_seconds(self, cpu: int, now: float) -> float:
        return self.counter(CPU_COUNTER_BASE + cpu, self.cpu_level(), now, CPU_SWING)

    def set_cpu_spike(self, spike: bool, now: float) -> None:
        level = self.cpu_level()
        scale = SPIKE_UTILISATION / level if spike else 1.0
        for cpu in range(self.hardware.cpus):
            self.set_rate_scale(CPU_COUNTER_BASE + cpu, level, scale, now, CPU_SWING)
        self.cpu_spike = spike

    def cpu_percent(
        self, metric_key: int, now: float, low: float = 2.0, high: float = 45.0
    ) -> float:
        """A CPU gauge in percent: walks inside [low, high], or near 95 % during a spike."""
        if self.cpu_spike:
            return noise.gauge(noise.derive(self.key, metric_key), now, 91.0, 99.0)
        return noise.gauge(noise.derive(self.key, metric_key), now, low, high)
