"""Build the simulated estate from an inventory: devices, their wiring, and VPN tunnels."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from branchops.lab.sim import noise
from branchops.lab.sim.hardware import description, hardware_for
from branchops.lab.sim.interfaces import SWITCH_ROLES, Neighbours, layout_for, wire
from branchops.lab.sim.inventory import (
    DATA_CENTRE_KINDS,
    LIVE_STATUSES,
    DeviceSpec,
    Inventory,
    LinkSpec,
    ServiceSpec,
)
from branchops.lab.sim.model import SimDevice, Tunnel
from branchops.monitoring.snmp_profiles import for_platform

DAY = 86_400.0
ACTIVE_LINK = "active"


@dataclass
class SimulatedEstate:
    seed: int
    devices: dict[str, SimDevice] = field(default_factory=dict)  # by name
    by_address: dict[str, SimDevice] = field(default_factory=dict)
    sites: dict[str, list[SimDevice]] = field(default_factory=lambda: defaultdict(list))
    links: dict[str, LinkSpec] = field(default_factory=dict)
    tunnels: dict[str, Tunnel] = field(default_factory=dict)  # by VPN link name
    services: list[ServiceSpec] = field(default_factory=list)

    def live(self) -> list[SimDevice]:
        return [d for d in self.devices.values() if not d.absent]

    def ntp_servers(self) -> list[SimDevice]:
        """Servers in the data centres: the estate's time sources."""
        return [
            d
            for d in self.live()
            if d.spec.role == "server" and d.spec.site_kind in DATA_CENTRE_KINDS
        ]


def uptime_days(spec: DeviceSpec, key: int) -> float:
    """How long the device has been up when the lab starts: Windows servers are patched
    monthly, network kit runs for months."""
    if spec.platform == "windows-server":
        low, high = 1.0, 35.0
    elif spec.role in ("server", "hypervisor"):
        low, high = 5.0, 200.0
    else:
        low, high = 20.0, 420.0
    return low + (high - low) * noise.unit(key, 11)


def build(inventory: Inventory, seed: int, now: float) -> SimulatedEstate:
    estate = SimulatedEstate(seed)
    specs = {d.name: d for d in inventory.devices}
    estate.links = {link.name: link for link in inventory.links}
    near = _neighbours(inventory, specs)
    for spec in inventory.devices:
        device = _device(spec, inventory, near[spec.name], seed, now)
        estate.devices[spec.name] = device
        estate.by_address[spec.address] = device
        estate.sites[spec.site].append(device)
    for link in near_links(inventory.links, specs):
        near_end = estate.devices[link.a_device or ""]
        far = estate.devices.get(link.b_device or "")
        wan = near_end.wan_ports.get(link.underlay or "")
        tunnel = Tunnel(
            link.name, link.name.encode(), noise.text_key(seed, link.name), near_end, far, wan
        )
        near_end.tunnels.append(tunnel)  # same order as the tunnel interfaces (see wire)
        if far is not None:
            far.tunnels.append(tunnel)
        estate.tunnels[link.name] = tunnel
    estate.services = list(inventory.services)
    return estate


def near_links(links: tuple[LinkSpec, ...], specs: dict[str, DeviceSpec]) -> list[LinkSpec]:
    """Active VPN links whose A end (the firewall that starts the tunnel) is simulated."""
    return [
        link
        for link in links
        if link.kind == "vpn" and link.status == ACTIVE_LINK and link.a_device in specs
    ]


def _device(
    spec: DeviceSpec, inventory: Inventory, near: Neighbours, seed: int, now: float
) -> SimDevice:
    key = noise.text_key(seed, spec.name)
    layout = layout_for(spec, len(near.tunnels))
    wiring = wire(spec, layout, near)
    device = SimDevice(
        spec=spec,
        key=key,
        boot=now - uptime_days(spec, key) * DAY,
        layout=layout,
        hardware=hardware_for(spec),
        profile=for_platform(inventory.profiles, spec.platform),
        descr=description(spec).encode(),
        kinds=bytes(wiring.kinds),
        aliases=wiring.aliases,
        wan_ports=wiring.wan_ports,
        absent=spec.status not in LIVE_STATUSES,
    )
    return device


def _neighbours(inventory: Inventory, specs: dict[str, DeviceSpec]) -> dict[str, Neighbours]:
    near: dict[str, Neighbours] = {
        name: Neighbours(upstream=s.depends_on) for name, s in specs.items()
    }
    for spec in inventory.devices:
        upstream = near.get(spec.depends_on or "")
        # Access points reach their controller over the switches (CAPWAP), not on a port of it.
        if upstream is not None and spec.role != "wifi-ap":
            upstream.dependants.append(spec)
    for link in inventory.links:
        if link.status != ACTIVE_LINK:
            continue
        a_end = near.get(link.a_device or "")
        b_end = near.get(link.b_device or "")
        if link.kind == "internet" and a_end is not None:
            a_end.internet.append(link)
        elif link.kind == "leased_line":
            if a_end is not None:
                a_end.leased.append((link.b_device or link.b_site or "?", link))
            # Branch leased lines end on an aggregation router at HQ, not the concentrator;
            # between data-centre core switches both ends show the line.
            if b_end is not None and specs[link.b_device or ""].role in SWITCH_ROLES:
                b_end.leased.append((link.a_device or link.a_site, link))
        elif link.kind == "vpn" and a_end is not None and link.a_device in specs:
            a_end.tunnels.append(link)
    return near
