"""The estate's dependencies, detached from the database, for correlation.

Two layers (decision 0004): inside a site each device hangs off one ``depends_on``; a
site's edge device reaches the data centres through VPN tunnels (``Link`` of kind vpn)
whose far end is a concentrator. Checks map to the device or link they watch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from branchops.cmdb.choices import LinkKind


@dataclass(frozen=True, slots=True)
class Node:
    id: int
    name: str
    site_id: int
    site_code: str
    role: str
    criticality: int
    parent_id: int | None
    status: str = "active"


@dataclass(frozen=True, slots=True)
class Tunnel:
    id: int
    name: str
    site_id: int  # the branch end
    edge_id: int  # the branch's device
    far_id: int  # the concentrator
    role: str  # primary / backup


@dataclass(frozen=True, slots=True)
class CheckTarget:
    id: int
    kind: str
    name: str
    site_id: int
    device_id: int | None
    link_id: int | None
    system_id: int | None
    interval_s: float = 60.0


@dataclass
class Topology:
    nodes: dict[int, Node] = field(default_factory=dict)
    tunnels: dict[int, Tunnel] = field(default_factory=dict)
    checks: dict[int, CheckTarget] = field(default_factory=dict)
    site_codes: dict[int, str] = field(default_factory=dict)
    region_of_site: dict[int, int | None] = field(default_factory=dict)
    tunnels_of_edge: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    tunnels_of_far: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    reach_check: dict[int, int] = field(default_factory=dict)  # device -> its ICMP check
    tunnel_check: dict[int, int] = field(default_factory=dict)  # VPN link -> its tunnel check

    def ancestors(self, device_id: int) -> Iterator[Node]:
        """The device's upstream chain inside its site, nearest first (loops cut)."""
        seen = {device_id}
        node = self.nodes.get(device_id)
        while node is not None and node.parent_id is not None and node.parent_id not in seen:
            seen.add(node.parent_id)
            parent = self.nodes.get(node.parent_id)
            if parent is None:
                return
            yield parent
            node = parent

    def edge_of(self, device_id: int) -> int | None:
        """The device at the top of the chain, if it has tunnels to the data centres."""
        top = device_id
        for node in self.ancestors(device_id):
            top = node.id
        return top if self.tunnels_of_edge.get(top) else None

    def sites_behind(self, far_id: int) -> set[int]:
        """Branch sites with a tunnel ending on this concentrator."""
        return {self.tunnels[t].site_id for t in self.tunnels_of_far.get(far_id, ())}


def load() -> Topology:
    from branchops.cmdb.models import Device, Link, Site
    from branchops.monitoring.models import Check

    topo = Topology()
    for site_id, code, region_id in Site.objects.values_list("id", "code", "region_id"):
        topo.site_codes[site_id] = code
        topo.region_of_site[site_id] = region_id
    for row in Device.objects.values_list(
        "id", "name", "site_id", "role__slug", "criticality", "depends_on_id", "status"
    ):
        did, name, site_id, role, criticality, parent, status = row
        code = topo.site_codes.get(site_id, "")
        topo.nodes[did] = Node(did, name, site_id, code, role or "", criticality, parent, status)
    links = Link.objects.filter(kind=LinkKind.VPN, a_device__isnull=False, b_device__isnull=False)
    for lid, name, site_id, edge, far, role in links.values_list(
        "id", "name", "a_site_id", "a_device_id", "b_device_id", "role"
    ):
        topo.tunnels[lid] = Tunnel(lid, name, site_id, edge, far, role)
        topo.tunnels_of_edge[edge].append(lid)
        topo.tunnels_of_far[far].append(lid)
    rows = Check.objects.filter(enabled=True).values_list(
        "id", "kind", "name", "site_id", "device_id", "link_id", "system_id", "interval_s"
    )
    for cid, kind, name, site_id, device_id, link_id, system_id, interval in rows:
        topo.checks[cid] = CheckTarget(
            cid, kind, name, site_id, device_id, link_id, system_id, float(interval)
        )
        if kind == "icmp" and device_id is not None:
            topo.reach_check.setdefault(device_id, cid)
        if kind == "vpn_tunnel" and link_id is not None:
            topo.tunnel_check.setdefault(link_id, cid)
    return topo
