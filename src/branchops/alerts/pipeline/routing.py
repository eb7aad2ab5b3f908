"""Routes and escalation policies, detached: which channels hear of an alert, and when."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from branchops.alerts.choices import CalendarCondition
from branchops.alerts.matching import matches
from branchops.alerts.pipeline.signal import Signal


@dataclass(frozen=True, slots=True)
class Step:
    level: int
    delay_s: float
    channels: tuple[int, ...]
    oncall_group: str = ""


@dataclass(frozen=True, slots=True)
class RouteSpec:
    id: int
    max_severity: int
    policy_id: int
    regions: frozenset[int] = frozenset()
    sites: frozenset[int] = frozenset()
    systems: frozenset[int] = frozenset()
    matchers: Mapping[str, str] = field(default_factory=dict)
    when: str = CalendarCondition.ALWAYS
    continue_matching: bool = False


@dataclass
class Routing:
    routes: list[RouteSpec] = field(default_factory=list)
    steps: dict[int, list[Step]] = field(default_factory=dict)  # policy -> steps by level
    notify_resolved: dict[int, bool] = field(default_factory=dict)
    # (condition, moment) -> holds; the calendars live in core (shared with the desk).
    calendar: Callable[[str, dt.datetime], bool] = lambda when, at: True

    def policies_for(
        self, signal: Signal, severity: int, region_id: int | None, at: dt.datetime
    ) -> list[int]:
        chosen: list[int] = []
        for route in self.routes:
            if severity > route.max_severity:
                continue
            if route.regions and region_id not in route.regions:
                continue
            if route.sites and signal.site_id not in route.sites:
                continue
            if route.systems and signal.system_id not in route.systems:
                continue
            if not matches(route.matchers, signal.labels):
                continue
            if route.when != CalendarCondition.ALWAYS and not self.calendar(route.when, at):
                continue
            if route.policy_id not in chosen:
                chosen.append(route.policy_id)
            if not route.continue_matching:
                break
        return chosen


def calendar_holds(when: str, at: dt.datetime) -> bool:
    """Whether a calendar condition holds at a moment (trading sessions, working hours)."""
    from branchops.core import calendars

    if when == CalendarCondition.ALWAYS:
        return True
    if when in (CalendarCondition.TRADING_SESSION, CalendarCondition.OUTSIDE_TRADING):
        inside = calendars.in_trading_session(at)
        return inside if when == CalendarCondition.TRADING_SESSION else not inside
    inside = calendars.is_open_at(calendars.load("cn-workdays"), at)
    return inside if when == CalendarCondition.WORKING_HOURS else not inside


def load_routing() -> Routing:
    from branchops.alerts.models import EscalationPolicy, Route

    routing = Routing(calendar=calendar_holds)
    for r in Route.objects.filter(enabled=True).prefetch_related("regions", "sites", "systems"):
        routing.routes.append(
            RouteSpec(
                id=r.pk,
                max_severity=r.max_severity,
                policy_id=r.policy_id,
                regions=frozenset(x.pk for x in r.regions.all()),
                sites=frozenset(x.pk for x in r.sites.all()),
                systems=frozenset(x.pk for x in r.systems.all()),
                matchers=dict(r.matchers or {}),
                when=r.when,
                continue_matching=r.continue_matching,
            )
        )
    for policy in EscalationPolicy.objects.prefetch_related("steps__channels"):
        routing.notify_resolved[policy.pk] = policy.notify_resolved
        routing.steps[policy.pk] = [
            Step(
                level=s.level,
                delay_s=s.delay_minutes * 60.0,
                channels=tuple(c.pk for c in s.channels.all() if c.enabled),
                oncall_group=s.oncall_group,
            )
            for s in sorted(policy.steps.all(), key=lambda s: s.level)
        ]
    return routing
