"""Health roll-ups: one state for a device, a link and a site, from the states of its checks.

The rules (docs/monitoring-ui.md says the same in words):

- Only enabled checks count. A check that has not run for two intervals ("late") counts as
  unknown: its last answer is stale, whatever it said.
- "Worst" orders the states down > degraded > unknown > up. "Not run yet" (pending) counts
  only when nothing else is known, so a new check never hides a real answer.
- A device's (or link's) health is the worst of its checks; one without checks is "not
  monitored" (None).
- A site's health is the worst of its critical devices (criticality critical or high) and
  of its links; any other device that is down or degraded makes the site at least degraded
  (an access point down is not a branch down). A site with no critical device or link
  known falls back to the worst of all its devices.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import BooleanField, Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from branchops.cmdb.choices import Criticality
from branchops.monitoring.choices import CheckState

# Sorting order of the check list (problems first); "worst" uses the same order but treats
# pending as the least informative answer.
SEVERITY: dict[str, int] = {
    CheckState.DOWN: 0,
    CheckState.DEGRADED: 1,
    CheckState.UNKNOWN: 2,
    CheckState.PENDING: 3,
    CheckState.UP: 4,
}
_WORST_ORDER: dict[str, int] = {
    CheckState.DOWN: 0,
    CheckState.DEGRADED: 1,
    CheckState.UNKNOWN: 2,
    CheckState.UP: 3,
    CheckState.PENDING: 4,
}
# States counted on the summaries, in the order they are shown.
SHOWN_STATES: tuple[str, ...] = (
    CheckState.DOWN,
    CheckState.DEGRADED,
    CheckState.UNKNOWN,
    CheckState.PENDING,
    CheckState.UP,
)
CRITICAL = frozenset({Criticality.CRITICAL, Criticality.HIGH})
FAILING = (CheckState.DOWN, CheckState.DEGRADED, CheckState.UNKNOWN)


def worst(states: Iterable[str | None]) -> str | None:
    """The worst of the given states (None and unknown words are skipped); None if none."""
    known = [s for s in states if s in _WORST_ORDER]
    return min(known, key=_WORST_ORDER.__getitem__) if known else None


def severity_order() -> Case:
    """An ORM expression ordering checks by their state: down first, up last."""
    return Case(
        *(When(status__state=state, then=Value(rank)) for state, rank in SEVERITY.items()),
        default=Value(len(SEVERITY)),
        output_field=IntegerField(),
    )


def late_condition(now: dt.datetime | None = None) -> Q:
    """Enabled checks that have not run for two intervals (as the API's ``late`` filter)."""
    return Q(enabled=True, status__overdue_at__lt=now or timezone.now())


def effective_state(state: str | None, late: bool) -> str | None:
    """The state a roll-up counts: a late answer is stale, so unknown (pending stays)."""
    if late and state not in (None, CheckState.PENDING):
        return CheckState.UNKNOWN
    return state


@dataclass
class Health:
    """One device or link: its worst state and its checks' states."""

    obj: Any
    states: list[str] = field(default_factory=list)

    @property
    def state(self) -> str | None:
        return worst(self.states)

    @property
    def critical(self) -> bool:
        return getattr(self.obj, "criticality", None) in CRITICAL


@dataclass
class SiteHealth:
    devices: list[Health]
    links: list[Health]

    @property
    def state(self) -> str | None:
        return site_state(
            [(d.state, d.critical) for d in self.devices], [lk.state for lk in self.links]
        )

    def counts(self, rows: list[Health]) -> list[tuple[str, int]]:
        return state_counts(h.state for h in rows)

    @property
    def device_counts(self) -> list[tuple[str, int]]:
        return self.counts(self.devices)

    @property
    def link_counts(self) -> list[tuple[str, int]]:
        return self.counts(self.links)

    @property
    def unmonitored_devices(self) -> int:
        return sum(1 for d in self.devices if d.state is None)


def site_state(
    devices: Iterable[tuple[str | None, bool]], links: Iterable[str | None]
) -> str | None:
    """A site's health from (state, critical) of its devices and the states of its links."""
    devices = list(devices)
    key = worst([s for s, critical in devices if critical] + list(links))
    others = worst(s for s, critical in devices if not critical)
    if key is None:
        return others
    if others in (CheckState.DOWN, CheckState.DEGRADED):
        return worst([key, CheckState.DEGRADED])
    return key


def state_counts(states: Iterable[str | None]) -> list[tuple[str, int]]:
    found: dict[str, int] = {}
    for state in states:
        if state is not None:
            found[state] = found.get(state, 0) + 1
    return [(s, found.get(s, 0)) for s in SHOWN_STATES]


def _effective_rows(checks: QuerySet[Any], *fields: str) -> list[dict[str, Any]]:
    """Enabled checks grouped by ``fields``, their state and lateness, in one query."""
    now = timezone.now()
    late = Case(
        When(late_condition(now), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )
    return list(
        checks.filter(enabled=True)
        .annotate(is_late=late)
        .values(*fields, "status__state", "is_late")
        .annotate(n=Count("pk"))
        .order_by()
    )


def site_health(checks: QuerySet[Any], devices: Iterable[Any], links: Iterable[Any]) -> SiteHealth:
    """The roll-up of one site: ``checks`` are the site's checks the user may see."""
    by_device: dict[int, Health] = {d.pk: Health(d) for d in devices}
    by_link: dict[int, Health] = {lk.pk: Health(lk) for lk in links}
    for row in _effective_rows(checks, "device_id", "link_id"):
        state = effective_state(row["status__state"], row["is_late"])
        if state is None:
            continue
        target = (
            by_device.get(row["device_id"])
            if row["device_id"] is not None
            else by_link.get(row["link_id"])
        )
        if target is not None:
            target.states.append(state)
    return SiteHealth(list(by_device.values()), list(by_link.values()))


def sites_health(checks: QuerySet[Any]) -> dict[int, dict[str, Any]]:
    """Health of many sites at once, in one aggregated query over their checks.

    Returns, per site id: ``state`` (the site's health), ``devices`` (counts of devices by
    their worst state) and ``checks`` (counts of checks by effective state).
    """
    devices: dict[int, dict[int, tuple[list[str], bool]]] = {}
    links: dict[int, dict[int, list[str]]] = {}
    check_counts: dict[int, dict[str, int]] = {}
    for row in _effective_rows(checks, "site_id", "device_id", "device__criticality", "link_id"):
        state = effective_state(row["status__state"], row["is_late"])
        if state is None:
            continue
        site = row["site_id"]
        by_state = check_counts.setdefault(site, {})
        by_state[state] = by_state.get(state, 0) + row["n"]
        if row["device_id"] is not None:
            states, _ = devices.setdefault(site, {}).setdefault(
                row["device_id"], ([], row["device__criticality"] in CRITICAL)
            )
            states.append(state)
        elif row["link_id"] is not None:
            links.setdefault(site, {}).setdefault(row["link_id"], []).append(state)
    result: dict[int, dict[str, Any]] = {}
    for site, counts in check_counts.items():
        device_rows = [(worst(s), c) for s, c in devices.get(site, {}).values()]
        link_rows = [worst(s) for s in links.get(site, {}).values()]
        result[site] = {
            "state": site_state(device_rows, link_rows),
            "devices": dict(state_counts(s for s, _ in device_rows)),
            "checks": counts,
        }
    return result
