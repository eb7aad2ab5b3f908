"""Metric rules, one series at a time: each kind fires when it should, waits its duration,
and recovers only past its recovery threshold. No database: rules and topology are built
by hand."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from branchops.alerts.choices import RuleKind
from branchops.alerts.pipeline.rules import RuleEngine, RuleSpec, hour_of_week, series_key
from branchops.alerts.pipeline.signal import Signal
from branchops.alerts.topology import CheckTarget, Node, Topology
from branchops.monitoring.collectors.base import Result, Sample, State

T0 = 1_795_000_000.0
LABELS = (("device", "BR-0001-FW01"), ("site", "BR-0001"))


def topology() -> Topology:
    topo = Topology()
    topo.nodes[1] = Node(1, "BR-0001-FW01", 10, "BR-0001", "firewall", 2, None)
    topo.checks[100] = CheckTarget(100, "snmp_profile", "FW01 · CPU", 10, 1, None, None)
    return topo


def engine(kind: RuleKind, metric: str, **params: Any) -> RuleEngine:
    rule = RuleSpec(id=7, name=f"{kind} rule", kind=kind, severity=2, metric=metric,
                    params=params)  # fmt: skip
    return RuleEngine(topology(), [rule])


def feed(rules: RuleEngine, metric: str, points: list[tuple[float, float]]) -> Iterator[Signal]:
    for at, value in points:
        result = Result(100, State.UP, T0 + at, 0.01, samples=(Sample(metric, value, LABELS),))
        yield from rules.evaluate(result, state_changed=False)


def transitions(signals: Iterator[Signal]) -> list[tuple[float, bool]]:
    return [(s.at - T0, s.firing) for s in signals]


CPU = "branchops_cpu_utilisation_ratio"


def test_threshold_waits_its_duration_and_recovers_only_below_the_recovery_line() -> None:
    rules = engine(RuleKind.THRESHOLD, CPU, op=">", value=0.9, recovery=0.8, for_s=120)
    points = [(0, 0.95), (60, 0.97), (120, 0.96), (180, 0.85), (240, 0.79)]
    assert transitions(feed(rules, CPU, points)) == [(120, True), (240, False)]


def test_a_dip_below_the_threshold_restarts_the_duration() -> None:
    rules = engine(RuleKind.THRESHOLD, CPU, op=">", value=0.9, for_s=120)
    points = [(0, 0.95), (60, 0.5), (120, 0.95), (180, 0.95), (240, 0.95)]
    assert transitions(feed(rules, CPU, points)) == [(240, True)]


def test_below_thresholds_fire_on_low_values() -> None:
    rules = engine(RuleKind.THRESHOLD, "branchops_tls_cert_expiry_days", op="<", value=30,
                   recovery=31)  # fmt: skip
    assert transitions(feed(rules, "branchops_tls_cert_expiry_days", [(0, 40), (60, 29),
                                                                      (120, 35)])) == [
        (60, True), (120, False)
    ]  # fmt: skip


def test_rate_of_change_per_second() -> None:
    metric = "branchops_if_in_errors_per_second"
    rules = engine(RuleKind.RATE, metric, op=">", per_s=1.0)
    points = [(0, 10.0), (60, 20.0), (120, 200.0), (180, 210.0)]
    assert transitions(feed(rules, metric, points)) == [(120, True), (180, False)]


def test_reboot_when_uptime_goes_back_and_quiet_after_the_hold() -> None:
    metric = "branchops_snmp_uptime_seconds"
    rules = engine(RuleKind.REBOOT, metric, hold_s=600)
    points = [(0, 5000.0), (60, 5060.0), (120, 30.0), (180, 90.0), (800, 710.0)]
    assert transitions(feed(rules, metric, points)) == [(120, True), (800, False)]


def test_clock_offset_either_way_past_100_ms() -> None:
    metric = "branchops_ntp_offset_seconds"
    rules = engine(RuleKind.CLOCK_OFFSET, metric, max_s=0.1, recovery_s=0.08)
    points = [(0, 0.02), (60, -0.15), (120, -0.09), (180, 0.05)]
    assert transitions(feed(rules, metric, points)) == [(60, True), (180, False)]


def test_certificate_expiry_with_defaults() -> None:
    metric = "branchops_tls_cert_expiry_days"
    rules = engine(RuleKind.CERT_EXPIRY, metric)
    assert transitions(feed(rules, metric, [(0, 45), (60, 12), (120, 365)])) == [
        (60, True), (120, False)
    ]  # fmt: skip


def test_no_data_fires_when_a_series_stops_and_resolves_when_it_is_back() -> None:
    rules = engine(RuleKind.NO_DATA, CPU, for_s=300)
    list(feed(rules, CPU, [(0, 0.3)]))
    assert list(rules.silent_series(T0 + 200)) == []
    assert [s.firing for s in rules.silent_series(T0 + 301)] == [True]
    list(feed(rules, CPU, [(400, 0.3)]))
    assert [s.firing for s in rules.silent_series(T0 + 410)] == [False]


def test_baseline_flags_a_value_far_from_this_hours_usual_and_is_silent_until_learned() -> None:
    rules = engine(RuleKind.BASELINE, CPU, sigmas=4.0, min_samples=20, for_s=0)
    assert transitions(feed(rules, CPU, [(0, 0.99)])) == []  # nothing learned: no opinion
    key = (7, series_key(dict(LABELS)), hour_of_week(T0 + 60))
    rules.baselines[key] = (0.30, 0.05, 28)
    assert transitions(feed(rules, CPU, [(60, 0.35), (120, 0.90), (180, 0.31)])) == [
        (120, True), (180, False)
    ]  # fmt: skip


def test_a_per_device_override_changes_the_threshold_or_switches_the_rule_off() -> None:
    rule = RuleSpec(id=7, name="cpu", kind=RuleKind.THRESHOLD, severity=2, metric=CPU,
                    params={"value": 0.9}, device_params={1: {"value": 0.99}})  # fmt: skip
    rules = RuleEngine(topology(), [rule])
    assert transitions(feed(rules, CPU, [(0, 0.95)])) == []
    off = RuleSpec(id=8, name="cpu off", kind=RuleKind.THRESHOLD, severity=2, metric=CPU,
                   params={"value": 0.9}, device_params={1: None})  # fmt: skip
    assert transitions(feed(RuleEngine(topology(), [off]), CPU, [(0, 0.95)])) == []


@pytest.mark.parametrize(
    ("roles", "kinds", "matchers", "fires"),
    [
        (frozenset({"firewall"}), frozenset(), {}, True),
        (frozenset({"core-switch"}), frozenset(), {}, False),
        (frozenset(), frozenset({"icmp"}), {}, False),
        (frozenset(), frozenset(), {"site": "~BR-.*"}, True),
        (frozenset(), frozenset(), {"site": "DC-SH-HQ"}, False),
    ],
)
def test_rules_bind_to_roles_check_kinds_and_label_matchers(
    roles: frozenset[str], kinds: frozenset[str], matchers: dict[str, str], fires: bool
) -> None:
    rule = RuleSpec(
        id=7, name="cpu", kind=RuleKind.THRESHOLD, severity=2, metric=CPU,
        params={"value": 0.9}, roles=roles, check_kinds=kinds, matchers=matchers,
    )  # fmt: skip
    fired = transitions(feed(RuleEngine(topology(), [rule]), CPU, [(0, 0.95)]))
    assert fired == ([(0, True)] if fires else [])
