"""Silences and maintenance windows: is this alert to be kept quiet right now?

The engine holds a detached snapshot of the silences (reloaded every few seconds); the
same window arithmetic serves the models and the UI.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.utils import timezone

from branchops.alerts.matching import matches


class Window(Protocol):
    @property
    def starts_at(self) -> dt.datetime: ...
    @property
    def ends_at(self) -> dt.datetime | None: ...
    @property
    def ended_at(self) -> dt.datetime | None: ...
    @property
    def weekdays(self) -> Any: ...
    @property
    def daily_start(self) -> dt.time | None: ...
    @property
    def duration_minutes(self) -> int | None: ...


def window_active(silence: Window, at: dt.datetime) -> bool:
    """Inside [starts_at, ends_at), not ended by hand, and, when recurring, inside one of
    the weekly windows (local time; a window may run past midnight)."""
    if silence.ended_at is not None and silence.ended_at <= at:
        return False
    if at < silence.starts_at or (silence.ends_at is not None and at >= silence.ends_at):
        return False
    if not (silence.weekdays and silence.daily_start and silence.duration_minutes):
        return True
    local = timezone.localtime(at)
    length = dt.timedelta(minutes=silence.duration_minutes)
    for days_back in range(length.days + 2):
        day = local.date() - dt.timedelta(days=days_back)
        if day.weekday() not in silence.weekdays:
            continue
        start = dt.datetime.combine(day, silence.daily_start, tzinfo=local.tzinfo)
        if start <= local < start + length:
            return True
    return False


@dataclass(frozen=True, slots=True)
class SilenceRule:
    """A silence detached from the database, for the engine."""

    id: int
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    ended_at: dt.datetime | None
    weekdays: tuple[int, ...]
    daily_start: dt.time | None
    duration_minutes: int | None
    sites: frozenset[int] = field(default_factory=frozenset)
    devices: frozenset[int] = field(default_factory=frozenset)
    systems: frozenset[int] = field(default_factory=frozenset)
    matchers: Mapping[str, str] = field(default_factory=dict)

    def covers(
        self,
        *,
        site_id: int | None,
        device_id: int | None,
        system_id: int | None,
        labels: Mapping[str, str],
    ) -> bool:
        if self.sites or self.devices or self.systems:
            listed = (
                (site_id is not None and site_id in self.sites)
                or (device_id is not None and device_id in self.devices)
                or (system_id is not None and system_id in self.systems)
            )
            return listed and matches(self.matchers, labels)
        return bool(self.matchers) and matches(self.matchers, labels)


def snapshot(now: dt.datetime | None = None) -> list[SilenceRule]:
    """Silences that are or will be active (not ended, not past)."""
    from django.db.models import Q

    from branchops.alerts.models import Silence

    now = now or timezone.now()
    rows = (
        Silence.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=now))
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .prefetch_related("sites", "devices", "systems")
    )
    return [_detach(s) for s in rows]


def _detach(s: Any) -> SilenceRule:
    return SilenceRule(
        id=s.pk,
        starts_at=s.starts_at,
        ends_at=s.ends_at,
        ended_at=s.ended_at,
        weekdays=tuple(s.weekdays or ()),
        daily_start=s.daily_start,
        duration_minutes=s.duration_minutes,
        sites=frozenset(x.pk for x in s.sites.all()),
        devices=frozenset(x.pk for x in s.devices.all()),
        systems=frozenset(x.pk for x in s.systems.all()),
        matchers=dict(s.matchers or {}),
    )


def silencing(
    rules: Iterable[SilenceRule],
    at: dt.datetime,
    *,
    site_id: int | None,
    device_id: int | None,
    system_id: int | None,
    labels: Mapping[str, str],
) -> int | None:
    """The id of the first active silence that covers the alert, or None."""
    for rule in rules:
        if window_active(rule, at) and rule.covers(
            site_id=site_id, device_id=device_id, system_id=system_id, labels=labels
        ):
            return rule.id
    return None
