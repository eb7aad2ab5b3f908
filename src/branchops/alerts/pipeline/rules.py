"""Rules, detached from the database, and what they make of results.

``check_state`` rules turn a check's state into device-down, vpn-down, ... signals.
Metric rules watch samples by metric name: threshold (with a duration and a separate
recovery threshold), rate of change, reboot (uptime went back), certificate expiry and clock
offset (thresholds on the probes' own metrics), no-data (a series stopped arriving) and
baseline (the value is far from what this series usually does at this hour of the week).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from branchops.alerts.choices import AlertSource, RuleKind
from branchops.alerts.matching import matches
from branchops.alerts.pipeline.signal import Signal, fingerprint_of
from branchops.alerts.topology import CheckTarget, Topology
from branchops.monitoring.collectors.base import Result

CRITICALITY_SEVERITY = {1: 1, 2: 1, 3: 2, 4: 3}  # device criticality -> alert severity
DEFAULTS: dict[str, dict[str, Any]] = {
    RuleKind.THRESHOLD: {"op": ">", "value": 0.9, "recovery": None, "for_s": 0},
    RuleKind.RATE: {"op": ">", "per_s": 1.0, "for_s": 0},
    RuleKind.REBOOT: {"hold_s": 900},
    RuleKind.CERT_EXPIRY: {"days": 30, "recovery_days": 31},
    RuleKind.CLOCK_OFFSET: {"max_s": 0.1, "recovery_s": 0.08, "for_s": 0},
    RuleKind.NO_DATA: {"for_s": 300},
    RuleKind.BASELINE: {"sigmas": 4.0, "min_samples": 20, "for_s": 300},
}
METRIC_OF: dict[str, str] = {
    RuleKind.REBOOT: "branchops_snmp_uptime_seconds",
    RuleKind.CERT_EXPIRY: "branchops_tls_cert_expiry_days",
    RuleKind.CLOCK_OFFSET: "branchops_ntp_offset_seconds",
}


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: int
    name: str
    kind: str
    severity: int
    metric: str = ""
    check_kinds: frozenset[str] = frozenset()
    matchers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    roles: frozenset[str] = frozenset()
    sites: frozenset[int] = frozenset()
    systems: frozenset[int] = frozenset()
    raised_severity: int | None = None
    raise_when: str = "always"
    device_params: Mapping[int, Mapping[str, Any] | None] = field(default_factory=dict)
    site_params: Mapping[int, Mapping[str, Any] | None] = field(default_factory=dict)

    def param(self, name: str) -> Any:
        return self.params.get(name, DEFAULTS.get(self.kind, {}).get(name))

    def for_target(self, target: CheckTarget) -> RuleSpec | None:
        """The rule as it applies to this check's object (override), or None when off."""
        override = self.device_params.get(
            target.device_id or -1, self.site_params.get(target.site_id, {})
        )
        if override is None:
            return None  # switched off for this object
        if not override:
            return self
        return RuleSpec(**{**_fields(self), "params": {**self.params, **override}})

    def binds(self, target: CheckTarget, role: str, labels: Mapping[str, str]) -> bool:
        return (
            (not self.check_kinds or target.kind in self.check_kinds)
            and (not self.roles or role in self.roles)
            and (not self.sites or target.site_id in self.sites)
            and (not self.systems or target.system_id in self.systems)
            and matches(self.matchers, labels)
        )


def _fields(rule: RuleSpec) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in RuleSpec.__dataclass_fields__}


def load_rules() -> list[RuleSpec]:
    from branchops.alerts.models import AlertRule

    rules = []
    query = AlertRule.objects.filter(enabled=True).prefetch_related(
        "roles", "sites", "systems", "overrides"
    )
    for r in query:
        device_params: dict[int, Mapping[str, Any] | None] = {}
        site_params: dict[int, Mapping[str, Any] | None] = {}
        for o in r.overrides.all():
            value = dict(o.params or {}) if o.enabled else None
            if o.device_id is not None:
                device_params[o.device_id] = value
            elif o.site_id is not None:
                site_params[o.site_id] = value
        rules.append(
            RuleSpec(
                id=r.pk,
                name=r.name,
                kind=r.kind,
                severity=r.severity,
                metric=r.metric or METRIC_OF.get(r.kind, ""),
                check_kinds=frozenset(r.check_kinds or ()),
                matchers=dict(r.matchers or {}),
                params=dict(r.params or {}),
                roles=frozenset(x.slug for x in r.roles.all()),
                sites=frozenset(x.pk for x in r.sites.all()),
                systems=frozenset(x.pk for x in r.systems.all()),
                raised_severity=r.raised_severity,
                raise_when=r.raise_when,
                device_params=device_params,
                site_params=site_params,
            )
        )
    return rules


@dataclass
class SeriesState:
    firing: bool = False
    breach_since: float | None = None
    last_value: float | None = None
    last_at: float | None = None
    fired_at: float | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    target: CheckTarget | None = None


class RuleEngine:
    """Evaluates rules on results; remembers each series' state between results."""

    def __init__(self, topo: Topology, rules: Iterable[RuleSpec]) -> None:
        self.topo = topo
        self.baselines: dict[tuple[int, str, int], tuple[float, float, int]] = {}
        self.series: dict[tuple[int, tuple[tuple[str, str], ...]], SeriesState] = {}
        self.set_rules(rules)

    def set_rules(self, rules: Iterable[RuleSpec]) -> None:
        self.rules = list(rules)
        self.state_rules = [r for r in self.rules if r.kind == RuleKind.CHECK_STATE]
        self.by_metric: dict[str, list[RuleSpec]] = {}
        for rule in self.rules:
            if rule.kind != RuleKind.CHECK_STATE and rule.metric:
                self.by_metric.setdefault(rule.metric, []).append(rule)

    def evaluate(self, result: Result, state_changed: bool) -> Iterator[Signal]:
        target = self.topo.checks.get(result.check_id)
        if target is None:
            return
        node = self.topo.nodes.get(target.device_id) if target.device_id else None
        role = node.role if node else ""
        if state_changed:
            yield from self._check_state(result, target, role)
        for sample in result.samples:
            rules = self.by_metric.get(sample.name)
            if not rules:
                continue
            labels = dict(sample.labels)
            for rule in rules:
                if rule.binds(target, role, labels):
                    applied = rule.for_target(target)
                    if applied is not None:
                        yield from self._metric(applied, target, labels, sample.value, result)

    # ---- check state ---------------------------------------------------------------------

    def _check_state(self, result: Result, target: CheckTarget, role: str) -> Iterator[Signal]:
        for rule in self.state_rules:
            if not rule.binds(target, role, {}):
                continue
            applied = rule.for_target(target)
            if applied is None:
                continue
            yield check_signal(applied, target, self.topo, result)
            return  # the first rule that binds speaks for the check

    # ---- metric rules --------------------------------------------------------------------

    def _metric(
        self,
        rule: RuleSpec,
        target: CheckTarget,
        labels: dict[str, str],
        value: float,
        result: Result,
    ) -> Iterator[Signal]:
        key = (rule.id, tuple(sorted(labels.items())))
        state = self.series.get(key)
        if state is None:
            state = self.series[key] = SeriesState(labels=labels, target=target)
        at = result.started_at
        breach, recovered = self._test(rule, state, value, at, labels)
        state.last_value, state.last_at = value, at
        if breach and not state.firing:
            state.breach_since = state.breach_since or at
            if at - state.breach_since >= float(rule.param("for_s") or 0):
                state.firing, state.fired_at = True, at
                yield metric_signal(
                    rule, target, labels=labels, value=value, at=at, firing=True, topo=self.topo
                )
        elif not breach:
            state.breach_since = None
        if state.firing and recovered:
            state.firing = False
            yield metric_signal(
                rule, target, labels=labels, value=value, at=at, firing=False, topo=self.topo
            )

    def _test(
        self,
        rule: RuleSpec,
        state: SeriesState,
        value: float,
        at: float,
        labels: Mapping[str, str],
    ) -> tuple[bool, bool]:
        """(breaching now, recovered now) for this sample."""
        if rule.kind == RuleKind.BASELINE:
            return self._baseline(rule, value, at, labels)
        test = TESTS.get(rule.kind)
        return test(rule, state, value, at) if test else (False, False)

    def _baseline(
        self, rule: RuleSpec, value: float, at: float, labels: Mapping[str, str]
    ) -> tuple[bool, bool]:
        learned = self.baselines.get((rule.id, series_key(labels), hour_of_week(at)))
        if learned is None or learned[2] < int(rule.param("min_samples")):
            return False, False  # not learned yet: say nothing rather than guess
        mean, spread, _ = learned
        distance = abs(value - mean) / max(spread, abs(mean) * 0.01, 1e-9)
        sigmas = float(rule.param("sigmas"))
        return distance > sigmas, distance <= sigmas * 0.75

    def silent_series(self, now: float) -> Iterator[Signal]:
        """No-data rules: series of a rule's metric that stopped arriving."""
        for (rule_id, _), state in list(self.series.items()):
            rule = next((r for r in self.rules if r.id == rule_id), None)
            if rule is None or rule.kind != RuleKind.NO_DATA or state.target is None:
                continue
            quiet = state.last_at is not None and now - state.last_at >= float(rule.param("for_s"))
            if quiet and not state.firing:
                state.firing = True
                yield metric_signal(
                    rule,
                    state.target,
                    labels=state.labels,
                    value=0.0,
                    at=now,
                    firing=True,
                    topo=self.topo,
                )
            elif not quiet and state.firing:
                state.firing = False
                yield metric_signal(
                    rule,
                    state.target,
                    labels=state.labels,
                    value=0.0,
                    at=now,
                    firing=False,
                    topo=self.topo,
                )


def _threshold(rule: RuleSpec, state: SeriesState, value: float, at: float) -> tuple[bool, bool]:
    limit = float(rule.param("value"))
    recovery = rule.param("recovery")
    back = float(recovery) if recovery is not None else limit
    if rule.param("op") == "<":
        return value < limit, value >= back
    return value > limit, value <= back


def _rate(rule: RuleSpec, state: SeriesState, value: float, at: float) -> tuple[bool, bool]:
    if state.last_value is None or state.last_at is None or at <= state.last_at:
        return False, False
    rate = (value - state.last_value) / (at - state.last_at)
    limit = float(rule.param("per_s"))
    over = rate < -limit if rule.param("op") == "<" else rate > limit
    return over, not over


def _reboot(rule: RuleSpec, state: SeriesState, value: float, at: float) -> tuple[bool, bool]:
    went_back = state.last_value is not None and value < state.last_value
    held = state.fired_at is not None and at - state.fired_at >= float(rule.param("hold_s"))
    return went_back, held and not went_back


def _cert(rule: RuleSpec, state: SeriesState, value: float, at: float) -> tuple[bool, bool]:
    return value < float(rule.param("days")), value >= float(rule.param("recovery_days"))


def _clock(rule: RuleSpec, state: SeriesState, value: float, at: float) -> tuple[bool, bool]:
    return abs(value) > float(rule.param("max_s")), abs(value) <= float(rule.param("recovery_s"))


TESTS: dict[str, Callable[[RuleSpec, SeriesState, float, float], tuple[bool, bool]]] = {
    RuleKind.THRESHOLD: _threshold,
    RuleKind.RATE: _rate,
    RuleKind.REBOOT: _reboot,
    RuleKind.CERT_EXPIRY: _cert,
    RuleKind.CLOCK_OFFSET: _clock,
}


def series_key(labels: Mapping[str, str]) -> str:
    return fingerprint_of("series", *(f"{k}={v}" for k, v in sorted(labels.items())))


def hour_of_week(at: float) -> int:
    local = timezone.localtime(dt.datetime.fromtimestamp(at, tz=dt.UTC))
    return local.weekday() * 24 + local.hour


def check_signal(rule: RuleSpec, target: CheckTarget, topo: Topology, result: Result) -> Signal:
    from django.utils.translation import gettext as _

    state = result.state.value
    firing = state in ("down", "unknown")
    node = topo.nodes.get(target.device_id) if target.device_id else None
    what = node.name if node else target.name
    severity = rule.severity
    if rule.param("by_criticality") and node is not None:
        severity = CRITICALITY_SEVERITY.get(node.criticality, rule.severity)
    if state == "unknown":
        name, severity = "check-unknown", 3
        title = _("%(what)s: %(check)s cannot tell (unknown)") % {
            "what": what,
            "check": target.name,
        }
    elif target.kind == "icmp" and target.device_id is not None:
        name, title = "device-down", _("%(device)s down") % {"device": what}
    elif target.kind == "vpn_tunnel" and target.link_id is not None:
        name = "vpn-down"
        tunnel = topo.tunnels.get(target.link_id)
        title = _("VPN tunnel %(link)s down") % {"link": tunnel.name if tunnel else target.name}
    else:
        name = f"{target.kind.replace('_', '-')}-down"
        title = _("%(what)s: %(check)s down") % {"what": what, "check": target.name}
    labels = {
        "check": target.name,
        "kind": target.kind,
        "site": topo.site_codes.get(target.site_id, ""),
    }
    if node:
        labels.update(device=node.name, role=node.role)
    return Signal(
        fingerprint=fingerprint_of("check", target.id, "unknown" if state == "unknown" else ""),
        source=AlertSource.CHECK,
        name=name,
        firing=firing,
        severity=severity,
        title=title[:300],
        at=result.started_at,
        summary=(result.error or result.summary)[:1000],
        labels=labels,
        site_id=target.site_id,
        device_id=target.device_id,
        system_id=target.system_id,
        link_id=target.link_id,
        check_id=target.id,
        rule_id=rule.id,
    )


def metric_signal(
    rule: RuleSpec,
    target: CheckTarget,
    *,
    labels: Mapping[str, str],
    value: float,
    at: float,
    firing: bool,
    topo: Topology,
) -> Signal:
    node = topo.nodes.get(target.device_id) if target.device_id else None
    what = node.name if node else target.name
    detail = ", ".join(
        f"{k}={v}"
        for k, v in sorted(labels.items())
        if k not in {"region", "site", "device", "role"}
    )
    title = f"{what}: {rule.name}" + (f" ({detail})" if detail else "")
    return Signal(
        fingerprint=fingerprint_of(
            "rule", rule.id, *(f"{k}={v}" for k, v in sorted(labels.items()))
        ),
        source=AlertSource.RULE,
        name=rule.kind.replace("_", "-"),
        firing=firing,
        severity=rule.severity,
        title=title[:300],
        at=at,
        summary=f"{rule.metric} = {value:.6g}",
        labels={**labels, "rule": rule.name},
        site_id=target.site_id,
        device_id=target.device_id,
        system_id=target.system_id,
        link_id=target.link_id,
        check_id=target.id,
        rule_id=rule.id,
    )
