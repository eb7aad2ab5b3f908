"""What the pipeline keeps in memory between batches: open alerts and the latest judgement
of every check, so that correlation never has to ask the database."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from branchops.alerts.pipeline.signal import Signal

REACH_KINDS = frozenset({"icmp"})  # a device is "down" when its reachability check is
TUNNEL_KINDS = frozenset({"vpn_tunnel"})


@dataclass
class OpenAlert:
    id: int
    fingerprint: str
    signal: Signal
    severity: int
    started_at: float
    root_id: int | None = None
    unreachable: bool = False
    silenced_by: int | None = None
    flapping: bool = False
    held_until: float | None = None  # waiting for an upstream's judgement
    grace_until: float | None = None  # its root resolved: it may clear too, give it a moment
    judged: bool = False  # correlation has decided; notifications may go
    notified: bool = False
    acknowledged: bool = False
    affected_sites: int = 0
    last_seen: float = 0.0
    changes: deque[float] = field(default_factory=lambda: deque(maxlen=32))


@dataclass
class World:
    open: dict[str, OpenAlert] = field(default_factory=dict)
    by_id: dict[int, OpenAlert] = field(default_factory=dict)
    check_state: dict[int, tuple[str, float]] = field(default_factory=dict)  # id -> state, at
    reach_down: dict[int, str] = field(default_factory=dict)  # device -> open alert fp
    tunnel_down: dict[int, str] = field(default_factory=dict)  # link -> open alert fp

    def add(self, alert: OpenAlert) -> None:
        self.open[alert.fingerprint] = alert
        self.by_id[alert.id] = alert
        s = alert.signal
        if s.device_id is not None and s.name == "device-down":
            self.reach_down[s.device_id] = alert.fingerprint
        if s.link_id is not None and s.name in ("vpn-down", "vpn-degraded"):
            self.tunnel_down[s.link_id] = alert.fingerprint

    def remove(self, alert: OpenAlert) -> None:
        self.open.pop(alert.fingerprint, None)
        self.by_id.pop(alert.id, None)
        s = alert.signal
        if s.device_id is not None and self.reach_down.get(s.device_id) == alert.fingerprint:
            del self.reach_down[s.device_id]
        if s.link_id is not None and self.tunnel_down.get(s.link_id) == alert.fingerprint:
            del self.tunnel_down[s.link_id]

    def down_alert(self, device_id: int) -> OpenAlert | None:
        fp = self.reach_down.get(device_id)
        return self.open.get(fp) if fp else None

    def tunnel_alert(self, link_id: int) -> OpenAlert | None:
        fp = self.tunnel_down.get(link_id)
        return self.open.get(fp) if fp else None
