"""Interfaces of each simulated device: the ports its model has, and what each is wired to.

A :class:`Layout` (names, types, speeds) depends only on the model, platform and number of
VPN tunnels, so devices of one model share it. The wiring is per device: which port is the
WAN, which ones are uplinks, which user ports are in use, and each port's ifAlias.

ifAlias is how the engine (and an operator reading the device) tells ports apart:

- ``uplink to <device>``: towards the device this one hangs off (its ``depends_on``), or on
  a data-centre core switch towards the far core of an inter-centre leased line; switches
  with 48 user ports have two uplinks (a LACP pair) to the same device;
- ``downlink to <device>``: towards a device that hangs off this one;
- ``WAN <carrier> (<internet link name>)``, ``leased line to <device> (<link name>)``,
  ``LAN to <device>`` on firewalls; ``VPN to <far device> (<link name>)`` on a firewall's
  tunnel interfaces;
- empty on user access ports; unused ports are administratively down (a common security
  baseline in brokers' branches).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from branchops.lab.sim.inventory import DATA_CENTRE_KINDS, DeviceSpec, LinkSpec
from branchops.lab.sim.model import PortKind

ETHERNET, SOFTWARE_LOOPBACK, TUNNEL = 6, 24, 131  # IANAifType
SWITCH_ROLES = frozenset({"core-switch", "access-switch", "router"})
FIREWALL_ROLES = frozenset({"firewall", "vpn-concentrator"})

# model: (1G ports, 10G ports, 40G/100G ports)
SWITCH_PORTS: dict[str, tuple[int, int, int]] = {
    "S5735-S24T4X": (24, 4, 0),
    "S5735-L24T4S-A": (24, 4, 0),
    "S5735-L48T4S-A": (48, 4, 0),
    "S5720-28X-LI-AC": (24, 4, 0),
    "S5560X-30C-EI": (24, 4, 0),
    "S5130S-28S-EI": (24, 4, 0),
    "S5130S-52S-EI": (48, 4, 0),
    "RG-S5310-24GT4XS-E": (24, 4, 0),
    "RG-S2910-24GT4XS-E": (24, 4, 0),
    "RG-S2910-48GT4XS-E": (48, 4, 0),
    "CE12804": (0, 48, 8),
    "CE6881-48S6CQ": (0, 48, 6),
    "C9300-48T": (48, 4, 0),
}
# platform: (1G name, 10G name, fast name, management port)
SWITCH_NAMES: dict[str, tuple[str, str, str, str]] = {
    "vrp": ("GigabitEthernet0/0/{n}", "XGigabitEthernet0/0/{n}", "40GE1/0/{n}", "MEth0/0/1"),
    "comware": (
        "GigabitEthernet1/0/{n}",
        "Ten-GigabitEthernet1/0/{n}",
        "FortyGigE1/0/{n}",
        "M-GigabitEthernet0/0/0",
    ),
    "rgos": (
        "GigabitEthernet 0/{n}",
        "TenGigabitEthernet 0/{n}",
        "FortyGigabitEthernet 0/{n}",
        "Mgmt 0",
    ),
    "ios-xe": (
        "GigabitEthernet1/0/{n}",
        "TenGigabitEthernet1/1/{n}",
        "FortyGigabitEthernet1/1/{n}",
        "GigabitEthernet0/0",
    ),
}
DC_SWITCH_NAMES = ("GE1/0/{n}", "10GE1/0/{n}", "100GE1/0/{n}", "MEth0/0/0")


@dataclass(frozen=True, slots=True)
class Port:
    index: int  # ifIndex
    name: str
    if_type: int = ETHERNET
    speed_mbps: int = 1000
    mtu: int = 1500
    tunnel: int | None = None  # position in the device's tunnel list


@dataclass(frozen=True, eq=False)
class Layout:
    key: tuple[object, ...]
    ports: tuple[Port, ...]
    _positions: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._positions.update({port.index: n for n, port in enumerate(self.ports)})

    def position(self, if_index: int) -> int:
        """The position of the port with ``if_index`` (KeyError when there is none)."""
        return self._positions[if_index]

    def find(self, name: str) -> Port | None:
        lowered = name.lower()
        return next((p for p in self.ports if p.name.lower() == lowered), None)


_LAYOUTS: dict[tuple[object, ...], Layout] = {}


def layout_for(spec: DeviceSpec, tunnels: int) -> Layout:
    """The (shared) port list of a device of this model with ``tunnels`` VPN tunnels."""
    key = (spec.role, spec.model, spec.platform, tunnels, spec.site_kind in DATA_CENTRE_KINDS)
    layout = _LAYOUTS.get(key)
    if layout is None:
        layout = Layout(key, tuple(_ports(spec, tunnels)))
        _LAYOUTS[key] = layout
    return layout


def _numbered(names: Sequence[tuple[str, int]]) -> list[Port]:
    return [Port(n, name, speed_mbps=speed) for n, (name, speed) in enumerate(names, start=1)]


def _ports(spec: DeviceSpec, tunnels: int) -> list[Port]:
    role, platform = spec.role, spec.platform or ""
    if role in SWITCH_ROLES and spec.model in SWITCH_PORTS:
        return _switch_ports(spec)
    if role in FIREWALL_ROLES:
        return _firewall_ports(spec, tunnels)
    if role in ("server", "hypervisor"):
        return _server_ports(platform)
    names: list[tuple[str, int]]
    if role == "wifi-ap":
        first, _, _, _ = SWITCH_NAMES.get(platform, SWITCH_NAMES["vrp"])
        names = [(first.format(n=n), 1000) for n in (1, 2)]
    elif role == "wifi-controller":
        first, _, _, _ = SWITCH_NAMES.get(platform, SWITCH_NAMES["vrp"])
        names = [(first.format(n=n), 1000) for n in range(1, 9)]
    elif role == "load-balancer":
        names = [(f"1.{n}", 10_000) for n in range(1, 5)] + [("mgmt", 1000)]
    elif role == "storage":
        names = [(f"CTE0.{c}.IOM0.P{p}", 10_000) for c in "AB" for p in (0, 1)]
        names.append(("CTE0.A.MGMT", 1000))
    else:  # behaviour gateways and anything unknown: numbered Ethernet ports
        names = [(f"eth{n}", 1000) for n in range(6)]
    return _numbered(names)


def _switch_ports(spec: DeviceSpec) -> list[Port]:
    gig, ten, fast = SWITCH_PORTS[spec.model]
    is_dc = spec.model.startswith("CE")
    g_name, t_name, f_name, mgmt = (
        DC_SWITCH_NAMES if is_dc else SWITCH_NAMES.get(spec.platform or "", SWITCH_NAMES["vrp"])
    )
    # Ruijie numbers every port of a slot in one series; the others count each type from 1.
    ten_start = gig + 1 if spec.platform == "rgos" else 1
    names = [(g_name.format(n=n), 1000) for n in range(1, gig + 1)]
    names += [(t_name.format(n=n), 10_000) for n in range(ten_start, ten_start + ten)]
    names += [
        (f_name.format(n=n), 40_000 if "40" in f_name else 100_000) for n in range(1, fast + 1)
    ]
    names.append((mgmt, 1000))
    return _numbered(names)


def _firewall_ports(spec: DeviceSpec, tunnels: int) -> list[Port]:
    platform = spec.platform or ""
    big = spec.role == "vpn-concentrator" or spec.site_kind in DATA_CENTRE_KINDS
    count = 8 if big else 6
    if platform == "fortios":
        names = [("wan1", 1000), ("wan2", 1000)] + [(f"port{n}", 1000) for n in range(1, count - 1)]
        names.append(("mgmt", 1000))
        tunnel_name = "vpn-{n}"
    elif platform == "stoneos":
        slot = 1 if big else 0
        speed = 10_000 if big else 1000
        names = [(f"ethernet{slot}/{n}", speed) for n in range(count)] + [("mgt0", 1000)]
        tunnel_name = "tunnel{n}"
    else:
        names = [(f"eth{n}", 1000) for n in range(count)] + [("MANAGE", 1000)]
        tunnel_name = "vpntun{n}"
    ports = _numbered(names)
    first = len(ports) + 1
    if spec.role == "vpn-concentrator":
        # One route-based hub interface carries every branch's tunnel.
        ports.append(Port(first, tunnel_name.format(n=1), TUNNEL, 10_000, 1400))
    else:
        for n in range(tunnels):
            ports.append(Port(first + n, tunnel_name.format(n=n + 1), TUNNEL, 1000, 1400, n))
    return ports


def _server_ports(platform: str) -> list[Port]:
    if platform == "esxi":
        return _numbered([(f"vmnic{n}", 10_000) for n in range(4)])
    if platform == "windows-server":
        ports = _numbered([(f"Ethernet{n}", 10_000) for n in range(4)])
        return [
            *ports,
            Port(len(ports) + 1, "Loopback Pseudo-Interface 1", SOFTWARE_LOOPBACK, 1073),
        ]
    ports = [Port(1, "lo", SOFTWARE_LOOPBACK, 10_000, 65536)]
    return ports + [Port(n + 2, f"eno{n + 1}", speed_mbps=10_000) for n in range(4)]


# ---- wiring ----------------------------------------------------------------------------------


@dataclass
class Neighbours:
    """Who a device is connected to, from the CMDB's topology and links."""

    upstream: str | None = None
    dependants: list[DeviceSpec] = field(default_factory=list)
    internet: list[LinkSpec] = field(default_factory=list)
    leased: list[tuple[str, LinkSpec]] = field(default_factory=list)  # (far device, link)
    tunnels: list[LinkSpec] = field(default_factory=list)  # VPN links this device starts


@dataclass
class Wiring:
    kinds: bytearray
    aliases: dict[int, bytes] = field(default_factory=dict)
    wan_ports: dict[str, int] = field(default_factory=dict)  # internet link -> ifIndex

    def take(self, layout: Layout, position: int, kind: PortKind, alias: str = "") -> int:
        self.kinds[position] = kind
        port = layout.ports[position]
        if alias:
            self.aliases[port.index] = alias.encode()
        return port.index


def wire(spec: DeviceSpec, layout: Layout, near: Neighbours) -> Wiring:
    wiring = Wiring(bytearray(len(layout.ports)))
    if spec.role in FIREWALL_ROLES:
        _wire_firewall(spec, layout, near, wiring)
    elif spec.role in SWITCH_ROLES and spec.model in SWITCH_PORTS:
        _wire_switch(spec, layout, near, wiring)
    else:
        _wire_endpoint(spec, layout, near, wiring)
    return wiring


def _physical(layout: Layout) -> list[int]:
    """Positions of the Ethernet ports (not tunnels, loopbacks or management)."""
    return [
        n
        for n, p in enumerate(layout.ports)
        if p.if_type == ETHERNET and p.name.lower() not in _MGMT_NAMES
    ]


_MGMT_NAMES = frozenset(
    {
        "mgt0",
        "mgmt",
        "manage",
        "meth0/0/1",
        "meth0/0/0",
        "m-gigabitethernet0/0/0",
        "mgmt 0",
        "gigabitethernet0/0",
        "cte0.a.mgmt",
    }
)


def _mark_rest(layout: Layout, wiring: Wiring, default: PortKind) -> None:
    for n, port in enumerate(layout.ports):
        if wiring.kinds[n] != PortKind.SPARE:
            continue
        if port.name.lower() in _MGMT_NAMES:
            wiring.kinds[n] = PortKind.MGMT
        elif port.if_type == SOFTWARE_LOOPBACK:
            wiring.kinds[n] = PortKind.LOOPBACK
        elif port.if_type == ETHERNET:
            wiring.kinds[n] = default


def _wire_firewall(spec: DeviceSpec, layout: Layout, near: Neighbours, wiring: Wiring) -> None:
    free = iter(_physical(layout))
    for link in near.internet:
        position = next(free, None)
        if position is not None:
            carrier = f"{link.carrier} " if link.carrier else ""
            index = wiring.take(layout, position, PortKind.WAN, f"WAN {carrier}({link.name})")
            wiring.wan_ports[link.name] = index
    in_dc = spec.site_kind in DATA_CENTRE_KINDS
    if near.upstream and (in_dc or spec.role == "vpn-concentrator"):
        position = next(free, None)
        if position is not None:
            wiring.take(layout, position, PortKind.CORE, f"uplink to {near.upstream}")
    for dependant in near.dependants:
        position = next(free, None)
        if position is not None:
            kind = PortKind.CORE if in_dc else PortKind.LAN
            wiring.take(layout, position, kind, f"LAN to {dependant.name}")
    for far, link in near.leased:
        position = next(free, None)
        if position is not None:
            wiring.take(layout, position, PortKind.LEASED, f"leased line to {far} ({link.name})")
    for n, port in enumerate(layout.ports):
        if port.tunnel is not None and port.tunnel < len(near.tunnels):
            link = near.tunnels[port.tunnel]
            wiring.take(layout, n, PortKind.TUNNEL, f"VPN to {link.b_device} ({link.name})")
        elif port.if_type == TUNNEL and spec.role == "vpn-concentrator":
            wiring.take(layout, n, PortKind.HUB, "VPN hub for branch tunnels")
    _mark_rest(layout, wiring, PortKind.SPARE)


def _wire_switch(spec: DeviceSpec, layout: Layout, near: Neighbours, wiring: Wiring) -> None:
    in_dc = spec.site_kind in DATA_CENTRE_KINDS
    link_kind = PortKind.CORE if in_dc else None
    fast = [n for n in _physical(layout) if layout.ports[n].speed_mbps >= 10_000]
    slow = [n for n in _physical(layout) if layout.ports[n].speed_mbps < 10_000]
    uplinks = [(near.upstream, "")] if near.upstream else []
    uplinks += [(far, f" ({link.name})") for far, link in near.leased]
    if near.upstream and spec.role == "access-switch" and len(slow) >= 48:
        uplinks.append((near.upstream, ""))  # 48-port access switches uplink in a LACP pair
    for target, note in uplinks:
        pool = fast or slow
        if pool:
            wiring.take(
                layout, pool.pop(0), link_kind or PortKind.UPLINK, f"uplink to {target}{note}"
            )
    for dependant in near.dependants:
        network = dependant.is_network
        pool = (fast or slow) if network or in_dc else (slow or fast)
        if pool:
            wiring.take(
                layout, pool.pop(0), link_kind or PortKind.DOWNLINK, f"downlink to {dependant.name}"
            )
    _mark_rest(layout, wiring, PortKind.SPARE if in_dc else PortKind.ACCESS)
    for n in fast:  # unused 10G ports at a branch are shut, not user ports
        if wiring.kinds[n] == PortKind.ACCESS:
            wiring.kinds[n] = PortKind.SPARE


def _wire_endpoint(spec: DeviceSpec, layout: Layout, near: Neighbours, wiring: Wiring) -> None:
    physical = _physical(layout)
    if not physical:
        _mark_rest(layout, wiring, PortKind.SPARE)
        return
    host = spec.role in ("server", "hypervisor", "storage")
    first_kind = PortKind.NIC if host else PortKind.UPLINK
    if spec.site_kind in DATA_CENTRE_KINDS and not host:
        first_kind = PortKind.CORE
    alias = f"uplink to {near.upstream}" if near.upstream and not host else ""
    wiring.take(layout, physical[0], first_kind, alias)
    if host and len(physical) > 1:
        wiring.take(layout, physical[1], PortKind.NIC)  # the bond's second member
    elif spec.role == "load-balancer" and len(physical) > 1:
        wiring.take(layout, physical[1], PortKind.CORE, "server pool")
    _mark_rest(layout, wiring, PortKind.SPARE)
