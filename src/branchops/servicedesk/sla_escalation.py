"""SLA breaches escalate through the alert routes.

When a ticket's clock passes 100 %, :func:`escalate` raises an alert of source
``servicedesk``: "SLA breached: INC-2026-000123, resolution", at the ticket's site, with a
severity from its priority (P1 → 1, P2 → 2, the rest → 3). From there the alerts app's
routes, escalation levels, on-call lookup and acknowledgement apply as to any alert, so the
duty manager is told by the channel their route names, and told again one level up when
nobody acknowledges. When the ticket is resolved or closed, :func:`settle` resolves the
alert. Such alerts never open tickets of their own (``alert_tickets`` leaves the source out).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from branchops.alerts import inbound
from branchops.alerts.choices import AlertSource, AlertStatus
from branchops.alerts.models import Alert
from branchops.servicedesk.choices import DONE_STATUSES, ClockKind, EventKind
from branchops.servicedesk.models import Ticket, TicketEvent

NAME = "sla-breach"
PRIORITY_SEVERITY = {1: 1, 2: 2}


def escalate(events: Sequence[TicketEvent]) -> int:
    """Raise one alert per new breach event; returns how many."""
    breaches = [e for e in events if e.kind == EventKind.SLA_BREACH]
    signals = [_signal(e.ticket, e.clock, firing=True, at=e.at) for e in breaches]
    if signals:
        inbound.submit(AlertSource.SERVICE_DESK, signals)
    return len(signals)


def settle(now: dt.datetime) -> int:
    """Resolve the breach alerts of tickets that are now resolved or closed."""
    firing = Alert.objects.filter(
        source=AlertSource.SERVICE_DESK, status=AlertStatus.FIRING
    ).values_list("labels", flat=True)
    wanted = {(lab.get("ticket", ""), lab.get("clock", "")) for lab in firing}
    done = {
        t.number: t
        for t in Ticket.objects.filter(
            number__in={number for number, _clock in wanted}, status__in=DONE_STATUSES
        ).select_related("site")
    }
    signals = [
        _signal(done[number], clock, firing=False, at=now)
        for number, clock in sorted(wanted)
        if number in done
    ]
    if signals:
        inbound.submit(AlertSource.SERVICE_DESK, signals)
    return len(signals)


def _signal(ticket: Ticket, clock: str, *, firing: bool, at: dt.datetime) -> dict[str, Any]:
    labels = {"ticket": ticket.number, "clock": clock, "priority": f"P{ticket.priority}"}
    if ticket.site is not None:
        labels["site"] = ticket.site.code
    with translation.override(settings.LANGUAGE_CODE):
        clock_name = str(ClockKind(clock).label) if clock in ClockKind.values else clock
        title = _("SLA breached: %(number)s, %(clock)s") % {
            "number": ticket.number,
            "clock": clock_name,
        }
        page = reverse("servicedesk:ticket_detail", args=[ticket.pk])
        summary = f"{ticket.title}\n{settings.BASE_URL}{page}"
    return inbound.internal_signal(
        AlertSource.SERVICE_DESK,
        f"{ticket.number}:{clock}",
        name=NAME,
        firing=firing,
        severity=PRIORITY_SEVERITY.get(ticket.priority, 3),
        title=title,
        summary=summary,
        labels=labels,
        at=at,
    )
