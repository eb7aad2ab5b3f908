"""Topology correlation: is this alert a symptom of something upstream?

Upstream of a VPN tunnel are its concentrator (the far end) and the branch's edge device;
upstream of a device are the devices it hangs off inside its site and, for the whole
branch, the tunnels to the data centres. The top-most failed upstream is the root.

No race: a child is judged only after each of its upstreams has been evaluated since the
child failed. Until then ``wait_for`` names the upstream devices, and the pipeline asks the
engine to run their reachability checks now.
"""

from __future__ import annotations

from dataclasses import dataclass

from branchops.alerts.pipeline.state import OpenAlert, World
from branchops.alerts.topology import Topology

# Only a parent's run that began when or after the child's failing run began can tell: an
# earlier "up" may predate the outage (the storm test caught exactly that race).
SAME_MOMENT_S = 0.0


@dataclass(frozen=True, slots=True)
class Verdict:
    root: OpenAlert | None = None
    unreachable: bool = False
    wait_for: tuple[int, ...] = ()


def top(alert: OpenAlert, world: World) -> OpenAlert:
    """Follow root links to the top (a root never has a root of its own)."""
    seen = {alert.id}
    while alert.root_id is not None and alert.root_id not in seen:
        parent = world.by_id.get(alert.root_id)
        if parent is None:
            break
        seen.add(parent.id)
        alert = parent
    return alert


class Judge:
    def __init__(self, world: World, topo: Topology) -> None:
        self.world = world
        self.topo = topo

    def evaluated_since(self, device_id: int, at: float) -> bool:
        check = self.topo.reach_check.get(device_id)
        if check is None:
            return True  # nothing to wait for: no reachability check on it
        seen = self.world.check_state.get(check)
        return seen is not None and seen[1] >= at - SAME_MOMENT_S

    def judge(self, alert: OpenAlert) -> Verdict:
        s = alert.signal
        waits: list[int] = []
        if s.link_id is not None and s.link_id in self.topo.tunnels:
            tunnel = self.topo.tunnels[s.link_id]
            return self._first_down(alert, (tunnel.far_id, tunnel.edge_id), waits, False)
        if s.device_id is None or s.device_id not in self.topo.nodes:
            return Verdict()
        device = s.device_id
        reach = s.name == "device-down"
        edge = self.topo.edge_of(device)
        if edge is not None:
            cut = self._cut_off(edge, alert)
            if cut is not None:
                return Verdict(top(cut, self.world), unreachable=True)
        chain = [n.id for n in reversed(list(self.topo.ancestors(device)))]
        verdict = self._first_down(alert, chain, waits, reach)
        if verdict.root is None and not reach:
            own = self.world.down_alert(device)
            if own is not None and own is not alert:
                return Verdict(top(own, self.world))
        return verdict

    def _first_down(
        self,
        alert: OpenAlert,
        devices: list[int] | tuple[int, ...],
        waits: list[int],
        unreachable: bool,
    ) -> Verdict:
        for device in devices:
            down = self.world.down_alert(device)
            if down is not None and down is not alert:
                return Verdict(top(down, self.world), unreachable=unreachable)
            if not self.evaluated_since(device, alert.signal.at):
                waits.append(device)
        return Verdict(wait_for=tuple(waits))

    def _cut_off(self, edge: int, alert: OpenAlert) -> OpenAlert | None:
        """When every tunnel of the branch is down, the collector cannot reach the branch:
        the root is a dead concentrator if there is one, else the primary tunnel."""
        tunnels = [self.topo.tunnels[t] for t in self.topo.tunnels_of_edge.get(edge, ())]
        if not tunnels:
            return None
        causes: list[OpenAlert] = []
        for tunnel in sorted(tunnels, key=lambda t: t.role != "primary"):
            cause = self.world.down_alert(tunnel.far_id) or self.world.tunnel_alert(tunnel.id)
            if cause is None or cause is alert:
                return None
            causes.append(cause)
        far_down = [c for c in causes if c.signal.name == "device-down"]
        return (far_down or causes)[0]
