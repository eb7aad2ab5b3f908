"""The alert pipeline: one pass takes every signal that arrived, then

1. dedups by fingerprint (one firing alert per problem; a repeat only counts),
2. holds a flapping alert open instead of resolving and re-firing it,
3. silences what a maintenance window covers,
4. correlates by topology (symptoms point at their root; a child waits for its parent's
   judgement and the engine is asked to run the parent's check at once),
5. writes alerts and their timelines in one transaction,
6. queues notifications in the outbox for roots that routes send somewhere, and escalates
   what nobody acknowledged.

It runs in its own thread in the engine; ``process`` is also what tests and the benchmark
call directly, with their own clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.apps import apps
from django.db import close_old_connections, connections, transaction
from django.utils.translation import gettext as _

from branchops.alerts import inbound
from branchops.alerts.choices import AlertStatus, EventKind, NotificationKind
from branchops.alerts.matching import matches
from branchops.alerts.models import Alert, Notification
from branchops.alerts.pipeline import store
from branchops.alerts.pipeline.correlate import Judge
from branchops.alerts.pipeline.routing import Routing, load_routing
from branchops.alerts.pipeline.rules import RuleEngine, RuleSpec, load_rules
from branchops.alerts.pipeline.signal import Signal
from branchops.alerts.pipeline.state import OpenAlert, World
from branchops.alerts.silencing import SilenceRule, silencing, snapshot
from branchops.alerts.topology import Topology
from branchops.alerts.topology import load as load_topology
from branchops.cmdb.choices import DeviceStatus
from branchops.monitoring.collectors.base import Result

log = logging.getLogger(__name__)
QUIET_DEVICE_STATUSES = frozenset({"failed", "maintenance"})


@dataclass
class PipelineOptions:
    hold_s: float = 30.0  # longest a child waits for its upstream's judgement
    flap_window_s: float = 600.0
    flap_changes: int = 6  # firings and resolutions within the window that mean flapping
    flap_quiet_s: float = 300.0  # a flapping alert resolves after this long without firing
    reload_s: float = 30.0  # topology, rules, routes and silences
    tick_s: float = 5.0  # escalation, acknowledgements, no-data
    batch_s: float = 0.5


@dataclass
class PipelineStats:
    signals: int = 0
    created: int = 0
    resolved: int = 0
    deduplicated: int = 0
    symptoms: int = 0
    held: int = 0
    silenced: int = 0
    flapping: int = 0
    notifications: int = 0
    escalations: int = 0
    batches: int = 0
    errors: int = 0
    last_batch_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Inhibition:
    source: dict[str, str]
    target: dict[str, str]
    equal: tuple[str, ...]


def load_inhibitions() -> list[Inhibition]:
    from branchops.alerts.models import InhibitRule

    return [
        Inhibition(dict(r.source_matchers), dict(r.target_matchers), tuple(r.equal or ()))
        for r in InhibitRule.objects.filter(enabled=True)
    ]


@dataclass
class _Notified:
    at: float
    policies: list[int]
    levels: set[int] = field(default_factory=set)


class AlertPipeline:
    def __init__(
        self,
        options: PipelineOptions | None = None,
        *,
        clock: Callable[[], float] = time.time,
        expedite: Callable[[Iterable[int]], None] | None = None,
    ) -> None:
        self.options = options or PipelineOptions()
        self.clock = clock
        self.expedite = expedite  # run these checks now (a parent's reachability)
        self.on_notifications: Callable[[], None] | None = None  # wakes the outbox
        self.stats = PipelineStats()
        self.world = World()
        self.topo = Topology()
        self.rules = RuleEngine(self.topo, [])
        self.rule_by_id: dict[int, RuleSpec] = {}
        self.routing = Routing()
        self.silences: list[SilenceRule] = []
        self.inhibitions: list[Inhibition] = []
        self.notified: dict[int, _Notified] = {}
        self.flaps: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=64))
        self.quiet_since: dict[int, float] = {}
        self.new_roots: list[int] = []  # judged roots routed this pass, for ticket policies
        self._results: queue.SimpleQueue[tuple[Result, bool]] = queue.SimpleQueue()
        self._signals: queue.SimpleQueue[Signal] = queue.SimpleQueue()
        self._last_reload = self._last_tick = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- feeding ---------------------------------------------------------------------------

    def put_results(self, results: Iterable[tuple[Result, bool]]) -> None:
        """(result, its check changed state) pairs from ingest; thread-safe, never blocks."""
        for item in results:
            self._results.put(item)

    def put_signals(self, signals: Iterable[Signal]) -> None:
        for signal in signals:
            self._signals.put(signal)

    # ---- loading ---------------------------------------------------------------------------

    def load(self) -> None:
        """Everything from the database: configuration, then the alerts still firing."""
        self.reload()
        self.world = World()
        self.notified.clear()
        for row in Alert.objects.filter(status=AlertStatus.FIRING):
            alert = _open_from_row(row)
            self.world.add(alert)
        notified = Notification.objects.filter(alert__status=AlertStatus.FIRING).values_list(
            "alert_id", "created_at"
        )
        for alert_id, created in notified:
            self.notified.setdefault(alert_id, _Notified(created.timestamp(), []))
        for alert in self.world.open.values():
            alert.notified = alert.id in self.notified
            if alert.acknowledged:
                self.notified.pop(alert.id, None)

    def reload(self) -> None:
        self.topo = load_topology()
        rules = load_rules()
        self.rule_by_id = {r.id: r for r in rules}
        self.rules.topo = self.topo
        self.rules.set_rules(rules)
        self.routing = load_routing()
        self.silences = snapshot()
        self.inhibitions = load_inhibitions()
        from branchops.alerts.baseline import load_all as load_baselines

        self.rules.baselines = load_baselines()
        self._last_reload = self.clock()

    def resync(self, states: Iterable[tuple[int, str, float]]) -> None:
        """After a restart: checks that are down with no firing alert, and firing check
        alerts whose check is fine again, become signals (nothing lost in a crash)."""
        firing = {a.signal.check_id for a in self.world.open.values() if a.signal.source == "check"}
        for check_id, state, since in states:
            self.world.check_state[check_id] = (state, since)
            bad = state in ("down", "unknown")
            if bad != (check_id in firing):
                from branchops.monitoring.collectors.base import State

                self._results.put((Result(check_id, State(state), since, 0.0), True))

    def resync_from_database(self) -> None:
        from branchops.monitoring.models import CheckStatus

        self.resync(
            (check_id, state, since.timestamp())
            for check_id, state, since in CheckStatus.objects.values_list(
                "for_check_id", "state", "since"
            )
            if state != "pending"
        )

    # ---- the thread ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="alerts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            self.process()
        finally:
            connections.close_all()

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.options.batch_s):
                try:
                    self.process()
                except Exception:
                    self.stats.errors += 1
                    log.exception("alert pipeline pass failed; reloading its state")
                    self._recover()
                finally:
                    close_old_connections()
        finally:
            connections.close_all()

    def _recover(self) -> None:
        try:
            self.load()
            self.resync_from_database()
        except Exception:
            log.exception("alert pipeline could not reload")

    # ---- one pass --------------------------------------------------------------------------

    def process(self, now: float | None = None) -> int:
        now = self.clock() if now is None else now
        began = time.perf_counter()
        if now - self._last_reload >= self.options.reload_s:
            self.reload()
        batch = store.Batch()
        with transaction.atomic():  # inbound rows taken and alerts written together
            signals = self._collect(now)
            fresh = self._apply_all(signals, batch, now)
            self._judge(batch, now, fresh)
            self._route(batch, now)
            if now - self._last_tick >= self.options.tick_s:
                self._tick(batch, now)
            store.write(batch)
            _ticket_policies(self.new_roots, batch, now)
        if batch.notifications and self.on_notifications is not None:
            self.on_notifications()
        self.stats.signals += len(signals)
        self.stats.batches += 1
        self.stats.last_batch_ms = (time.perf_counter() - began) * 1000
        return len(signals)

    def _collect(self, now: float) -> list[Signal]:
        signals: list[Signal] = []
        while True:
            try:
                result, changed = self._results.get_nowait()
            except queue.Empty:
                break
            target = self.topo.checks.get(result.check_id)
            if target is not None:
                self.world.check_state[result.check_id] = (result.state.value, result.started_at)
            signals.extend(self.rules.evaluate(result, changed))
        while True:
            try:
                signals.append(self._signals.get_nowait())
            except queue.Empty:
                break
        signals.extend(inbound.take())
        return signals

    # ---- dedup, flapping, silences ---------------------------------------------------------

    def _apply_all(self, signals: list[Signal], batch: store.Batch, now: float) -> bool:
        pending: dict[str, Alert] = {}
        for signal in signals:
            if signal.firing:
                self._fire(signal, batch, pending)
            else:
                self._resolve_signal(signal, batch, pending, now)
        store.write_changes(batch)
        store.insert_new(batch)
        for row, signal in batch.created:
            alert = _open_from_row(row)
            alert.signal, alert.judged, alert.last_seen = signal, False, signal.at
            self.stats.created += 1
            if row.status == AlertStatus.RESOLVED:
                batch.event(row.pk, EventKind.FIRED, signal.at)
                batch.event(row.pk, EventKind.RESOLVED, signal.at)
                continue
            self.world.add(alert)
            batch.event(row.pk, EventKind.FIRED, signal.at, signal.summary)
            self._silence(alert, batch, now)
        return bool(batch.created)

    def _fire(self, signal: Signal, batch: store.Batch, pending: dict[str, Alert]) -> None:
        alert = self.world.open.get(signal.fingerprint)
        if alert is None:
            row = pending.get(signal.fingerprint)
            if row is None:
                row = store.new_row(signal, self._severity(signal))
                self._decorate(row, signal)
                pending[signal.fingerprint] = row
                batch.created.append((row, signal))
                self.flaps[signal.fingerprint].append(signal.at)
            elif row.status == AlertStatus.RESOLVED:  # fired, resolved, fired in one batch
                row.status, row.resolved_at = AlertStatus.FIRING, None
            return
        self.stats.deduplicated += 1
        alert.last_seen = max(alert.last_seen, signal.at)
        self.quiet_since.pop(alert.id, None)
        severity = self._severity(signal)
        values: dict[str, object] = {"last_seen_at": store.aware(signal.at)}
        if severity != alert.severity:
            batch.event(alert.id, EventKind.SEVERITY, signal.at, f"{alert.severity} → {severity}")
            alert.severity = severity
            values["severity"] = severity
        batch.change(alert.id, **values)

    def _resolve_signal(
        self, signal: Signal, batch: store.Batch, pending: dict[str, Alert], now: float
    ) -> None:
        row = pending.get(signal.fingerprint)
        if row is not None:
            row.status, row.resolved_at = AlertStatus.RESOLVED, store.aware(signal.at)
            return
        alert = self.world.open.get(signal.fingerprint)
        if alert is None:
            return
        changes = self.flaps[signal.fingerprint]
        changes.append(signal.at)
        recent = sum(1 for t in changes if t >= signal.at - self.options.flap_window_s)
        if alert.flapping or recent >= self.options.flap_changes:
            if not alert.flapping:
                alert.flapping = True
                self.stats.flapping += 1
                batch.change(alert.id, flapping=True)
                batch.event(alert.id, EventKind.FLAPPING, signal.at, f"{recent} changes")
            self.quiet_since[alert.id] = signal.at
            return
        self._resolve(alert, batch, signal.at, now)

    def _resolve(self, alert: OpenAlert, batch: store.Batch, at: float, now: float) -> None:
        self.world.remove(alert)
        self.stats.resolved += 1
        batch.change(alert.id, status=AlertStatus.RESOLVED, resolved_at=store.aware(at))
        batch.event(alert.id, EventKind.RESOLVED, at)
        told = self.notified.pop(alert.id, None)
        if told is not None:
            for policy in told.policies:
                if self.routing.notify_resolved.get(policy, True):
                    for step in self.routing.steps.get(policy, [])[:1]:
                        for channel in step.channels:
                            batch.notify(alert.id, channel, NotificationKind.RESOLVED, 1, now)
        for other in self.world.open.values():
            if other.root_id == alert.id:  # its symptoms wait: they may clear at their next run
                other.judged, other.grace_until = False, now + self._grace(other)

    def _grace(self, symptom: OpenAlert) -> float:
        """How long a symptom may outlive its root before it counts as its own problem: its
        check must have had the chance to run again (one and a half intervals)."""
        target = self.topo.checks.get(symptom.signal.check_id or -1)
        return max(self.options.hold_s, 1.5 * target.interval_s if target else 0.0)

    def _severity(self, signal: Signal) -> int:
        rule = self.rule_by_id.get(signal.rule_id or -1)
        if rule is None or rule.raised_severity is None or rule.raise_when == "always":
            return signal.severity
        at = dt.datetime.fromtimestamp(signal.at, tz=dt.UTC)
        if self.routing.calendar(rule.raise_when, at):
            return min(signal.severity, rule.raised_severity)
        return signal.severity

    def _decorate(self, row: Alert, signal: Signal) -> None:
        """A dead concentrator is named for what it does to the branches behind it; a lost
        tunnel whose sibling is up says the branch is degraded, not down."""
        if signal.name == "vpn-down" and signal.link_id is not None:
            self._degraded(row, signal.link_id)
        if signal.name != "device-down" or signal.device_id is None:
            return
        behind = self.topo.sites_behind(signal.device_id)
        if behind:
            node = self.topo.nodes[signal.device_id]
            row.affected_sites = len(behind)
            row.title = _("%(device)s unreachable — %(count)d branches affected") % {
                "device": node.name,
                "count": len(behind),
            }

    def _degraded(self, row: Alert, link_id: int) -> None:
        tunnel = self.topo.tunnels.get(link_id)
        if tunnel is None:
            return
        for sibling in self.topo.tunnels_of_edge.get(tunnel.edge_id, ()):
            check = self.topo.tunnel_check.get(sibling)
            seen = self.world.check_state.get(check) if check is not None else None
            if sibling != link_id and seen is not None and seen[0] in ("up", "degraded"):
                row.severity = max(row.severity, 3)
                row.title = _("%(title)s (backup up: branch degraded, not down)") % {
                    "title": row.title
                }
                return

    def _silence(self, alert: OpenAlert, batch: store.Batch, now: float) -> None:
        s = alert.signal
        silence = silencing(
            self.silences,
            dt.datetime.fromtimestamp(now, tz=dt.UTC),
            site_id=s.site_id,
            device_id=s.device_id,
            system_id=s.system_id,
            labels=s.labels,
        )
        if silence is not None and silence != alert.silenced_by:
            alert.silenced_by = silence
            self.stats.silenced += 1
            batch.change(alert.id, silenced_by_id=silence)
            batch.event(alert.id, EventKind.SILENCED, now, f"silence {silence}")

    # ---- correlation -----------------------------------------------------------------------

    def _judge(self, batch: store.Batch, now: float, fresh: bool) -> None:
        judge = Judge(self.world, self.topo)
        todo = [
            a
            for a in self.world.open.values()
            if not a.judged or (fresh and a.root_id is None and a.signal.source == "check")
        ]
        todo.sort(key=lambda a: (a.signal.name != "device-down", a.started_at))
        waiting: set[int] = set()
        for alert in todo:
            verdict = judge.judge(alert)
            if verdict.root is not None and verdict.root is not alert:
                if verdict.root.id != alert.root_id:
                    self._link(alert, verdict.root, verdict.unreachable, batch, now)
                alert.judged, alert.held_until, alert.grace_until = True, None, None
                continue
            if alert.grace_until is not None and now < alert.grace_until:
                continue
            if verdict.wait_for and (alert.held_until is None or now < alert.held_until):
                if alert.held_until is None:
                    alert.held_until = now + self.options.hold_s
                    self.stats.held += 1
                    waiting.update(verdict.wait_for)
                continue
            alert.judged, alert.held_until, alert.grace_until = True, None, None
            if alert.root_id is not None:  # it outlived its root: its own problem now
                alert.root_id, alert.unreachable = None, False
                batch.change(alert.id, root_id=None, unreachable=False)
        if waiting and self.expedite is not None:
            checks = [self.topo.reach_check[d] for d in waiting if d in self.topo.reach_check]
            self.expedite(checks)

    def _link(
        self,
        alert: OpenAlert,
        root: OpenAlert,
        unreachable: bool,
        batch: store.Batch,
        now: float,
    ) -> None:
        alert.root_id, alert.unreachable = root.id, unreachable
        self.stats.symptoms += 1
        batch.change(alert.id, root_id=root.id, unreachable=unreachable)
        batch.event(alert.id, EventKind.SYMPTOM, now, f"#{root.id} {root.signal.title}")
        if alert.notified:
            return
        site = alert.signal.site_id
        if site is not None and root.affected_sites == 0 and site != root.signal.site_id:
            root.affected_sites = 1
        if root.signal.device_id is not None and self.topo.sites_behind(root.signal.device_id):
            return  # its count is the branches behind it, set when it fired
        sites = {a.signal.site_id for a in self.world.open.values() if a.root_id == root.id}
        sites.discard(None)
        if len(sites) != root.affected_sites:
            root.affected_sites = len(sites)
            batch.change(root.id, affected_sites=len(sites))

    # ---- notifications ---------------------------------------------------------------------

    def _route(self, batch: store.Batch, now: float) -> None:
        at = dt.datetime.fromtimestamp(now, tz=dt.UTC)
        for alert in self.world.open.values():
            if alert.notified or not alert.judged or alert.root_id is not None:
                continue
            if alert.silenced_by is not None or alert.acknowledged:
                continue
            if self._inhibited(alert):
                continue
            alert.notified = True
            if self._known_broken(alert, batch, now):
                continue
            self.new_roots.append(alert.id)
            s = alert.signal
            region = self.topo.region_of_site.get(s.site_id) if s.site_id else None
            policies = self.routing.policies_for(s, alert.severity, region, at)
            if not policies:
                continue
            self.notified[alert.id] = _Notified(now, policies, {1})
            for policy in policies:
                for step in self.routing.steps.get(policy, [])[:1]:
                    for channel in step.channels:
                        batch.notify(alert.id, channel, NotificationKind.FIRING, step.level, now)
                        self.stats.notifications += 1

    def _known_broken(self, alert: OpenAlert, batch: store.Batch, now: float) -> bool:
        """A device the CMDB already calls failed or in maintenance: shown, not notified."""
        node = self.topo.nodes.get(alert.signal.device_id or -1)
        if node is None or node.status not in QUIET_DEVICE_STATUSES:
            return False
        status = DeviceStatus(node.status).label
        note = _("Not notified: the device is marked %(status)s in the CMDB.") % {"status": status}
        batch.event(alert.id, EventKind.NOTE, now, note)
        return True

    def _inhibited(self, alert: OpenAlert) -> bool:
        """An inhibition rule's source fires with the same values of its ``equal`` labels."""
        labels = alert.signal.labels
        for rule in self.inhibitions:
            if not matches(rule.target, labels):
                continue
            for other in self.world.open.values():
                if other is alert or not matches(rule.source, other.signal.labels):
                    continue
                if all(other.signal.labels.get(k) == labels.get(k) for k in rule.equal):
                    return True
        return False

    def _tick(self, batch: store.Batch, now: float) -> None:
        self._last_tick = now
        batch_signals = list(self.rules.silent_series(now))
        if batch_signals:
            self.put_signals(batch_signals)
        self._refresh_acknowledged()
        for alert_id, alert in list(self.quiet_since.items()):
            open_alert = self.world.by_id.get(alert_id)
            if open_alert is None:
                del self.quiet_since[alert_id]
            elif now - alert >= self.options.flap_quiet_s:
                del self.quiet_since[alert_id]
                self._resolve(open_alert, batch, alert, now)
        for open_alert in list(self.world.open.values()):
            after = open_alert.signal.resolve_after_s
            if (
                after is not None
                and now - max(open_alert.last_seen, open_alert.started_at) >= after
            ):
                self._resolve(open_alert, batch, now, now)
        for alert_id, told in self.notified.items():
            for policy in told.policies:
                for step in self.routing.steps.get(policy, [])[1:]:
                    if step.level in told.levels or now - told.at < step.delay_s:
                        continue
                    told.levels.add(step.level)
                    self.stats.escalations += 1
                    batch.event(alert_id, EventKind.ESCALATED, now, f"level {step.level}")
                    for channel in step.channels:
                        batch.notify(
                            alert_id, channel, NotificationKind.ESCALATION, step.level, now
                        )

    def _refresh_acknowledged(self) -> None:
        if not self.notified:
            return
        acked = Alert.objects.filter(
            pk__in=list(self.notified), acknowledged_at__isnull=False
        ).values_list("pk", flat=True)
        for alert_id in acked:
            self.notified.pop(alert_id, None)
            alert = self.world.by_id.get(alert_id)
            if alert is not None:
                alert.acknowledged = True


def _ticket_policies(new_roots: list[int], batch: store.Batch, now: float) -> None:
    """The service desk opens (and resolves) tickets by its policies; in a savepoint, so a
    failure there costs a ticket and a log line, never the pass."""
    roots, new_roots[:] = list(new_roots), []
    resolved = [e.alert_id for e in batch.events if e.kind == EventKind.RESOLVED]
    if not (roots or resolved) or not apps.is_installed("branchops.servicedesk"):
        return
    from branchops.servicedesk.alert_tickets import on_alert_pass

    try:
        with transaction.atomic():
            on_alert_pass(roots, resolved, store.aware(now))
    except Exception:
        log.exception("ticket policies failed for alerts %s", roots[:20])


def _open_from_row(row: Alert) -> OpenAlert:
    signal = Signal(
        fingerprint=row.fingerprint,
        source=row.source,
        name=row.name,
        firing=True,
        severity=row.severity,
        title=row.title,
        at=row.started_at.timestamp(),
        summary=row.summary,
        labels=dict(row.labels or {}),
        site_id=row.site_id,
        device_id=row.device_id,
        system_id=row.system_id,
        link_id=row.link_id,
        check_id=row.for_check_id,
        rule_id=row.rule_id,
    )
    return OpenAlert(
        id=row.pk,
        fingerprint=row.fingerprint,
        signal=signal,
        severity=row.severity,
        started_at=signal.at,
        root_id=row.root_id,
        unreachable=row.unreachable,
        silenced_by=row.silenced_by_id,
        flapping=row.flapping,
        judged=True,
        acknowledged=row.acknowledged_at is not None,
        affected_sites=row.affected_sites,
    )
