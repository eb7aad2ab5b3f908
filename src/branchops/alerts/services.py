"""What people do to alerts: acknowledge, assign, silence. Each change is compare-and-set
and leaves a line on the alert's timeline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from branchops.alerts.choices import AlertStatus, EventKind
from branchops.alerts.matching import MatcherError
from branchops.alerts.matching import validate as validate_matchers
from branchops.alerts.models import Alert, AlertEvent, Silence
from branchops.core.models import User

ACK_SALT = "branchops.alerts.ack"


class Refused(ValueError):
    """The change is not possible now; the message says why (shown to the user)."""


def acknowledge(alert: Alert, *, user: User | None, via: str = "") -> bool:
    """Acknowledge a firing alert (and stop its escalation); False if it already was."""
    now = timezone.now()
    with transaction.atomic():
        changed = Alert.objects.filter(
            pk=alert.pk, status=AlertStatus.FIRING, acknowledged_at__isnull=True
        ).update(acknowledged_at=now, acknowledged_by=user)
        if changed:
            AlertEvent.objects.create(
                alert=alert, kind=EventKind.ACKNOWLEDGED, at=now, actor=user, detail=via[:500]
            )
    if not changed:
        alert.refresh_from_db()
        if alert.status != AlertStatus.FIRING:
            raise Refused(_("The alert is already resolved."))
        return False
    alert.refresh_from_db()
    return True


def assign(alert: Alert, *, assignee: User | None, by: User) -> None:
    with transaction.atomic():
        Alert.objects.filter(pk=alert.pk).update(assignee=assignee)
        AlertEvent.objects.create(
            alert=alert,
            kind=EventKind.ASSIGNED,
            actor=by,
            detail=assignee.get_username() if assignee else _("nobody"),
        )
    alert.refresh_from_db()


def ack_token(alert_id: int, channel_id: int) -> str:
    return signing.TimestampSigner(salt=ACK_SALT).sign(f"{alert_id}.{channel_id}")


def read_ack_token(token: str) -> tuple[int, int]:
    """(alert id, channel id) from a link's token; Refused when forged or expired."""
    max_age = dt.timedelta(hours=settings.ALERT_ACK_LINK_HOURS)
    try:
        value = signing.TimestampSigner(salt=ACK_SALT).unsign(token, max_age=max_age)
    except signing.SignatureExpired:
        raise Refused(_("This acknowledgement link has expired.")) from None
    except signing.BadSignature:
        raise Refused(_("This acknowledgement link is not valid.")) from None
    alert_id, _dot, channel_id = value.partition(".")
    return int(alert_id), int(channel_id)


# ---- silences ---------------------------------------------------------------------------


def create_silence(
    *,
    author: User,
    reason: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime | None,
    sites: Iterable[int] = (),
    devices: Iterable[int] = (),
    systems: Iterable[int] = (),
    matchers: Mapping[str, Any] | None = None,
    weekdays: Iterable[int] = (),
    daily_start: dt.time | None = None,
    duration_minutes: int | None = None,
) -> Silence:
    """A silence, checked: it must say what it covers and when, and why."""
    sites, devices, systems = list(sites), list(devices), list(systems)
    problems: dict[str, str] = {}
    if not reason.strip():
        problems["reason"] = _("Say why these alerts are to be silenced.")
    try:
        clean = validate_matchers(matchers or {})
    except MatcherError as exc:
        problems["matchers"] = str(exc)
        clean = {}
    if not (sites or devices or systems or clean):
        problems["sites"] = _("Name at least one site, device, system or label matcher.")
    if ends_at is not None and ends_at <= starts_at:
        problems["ends_at"] = _("The end must be after the start.")
    days = sorted(set(weekdays))
    if any(d not in range(7) for d in days):
        problems["weekdays"] = _("Weekdays are 0 (Monday) to 6 (Sunday).")
    recurring = (bool(days), daily_start is not None, duration_minutes is not None)
    if any(recurring) and not all(recurring):
        problems["weekdays"] = _("A weekly window needs weekdays, a start time and a duration.")
    if duration_minutes is not None and not 1 <= duration_minutes <= 7 * 24 * 60:
        problems["duration_minutes"] = _("The duration must be between 1 minute and 7 days.")
    if problems:
        raise SilenceInvalid(problems)
    with transaction.atomic():
        silence = Silence.objects.create(
            author=author,
            reason=reason.strip()[:300],
            starts_at=starts_at,
            ends_at=ends_at,
            weekdays=days,
            daily_start=daily_start,
            duration_minutes=duration_minutes,
            matchers=clean,
        )
        silence.sites.set(sites)
        silence.devices.set(devices)
        silence.systems.set(systems)
    return silence


class SilenceInvalid(ValueError):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def end_silence(silence: Silence, *, by: User) -> bool:
    """End a silence now; False when it had already ended."""
    now = timezone.now()
    changed = Silence.objects.filter(pk=silence.pk, ended_at__isnull=True).update(
        ended_at=now, ended_by=by
    )
    silence.refresh_from_db()
    return bool(changed)
