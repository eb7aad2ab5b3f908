"""Postmortems (复盘) of an incident or a problem, and their timeline.

The timeline is never stored: :func:`timeline` merges, in time order, the events of the
incident(s) (the ticket, or every ticket linked to the problem), the events of the alerts
linked to those tickets, and the lines the author added (``PostmortemEntry``). Changes to a
postmortem write an audit row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from branchops.alerts.choices import EventKind as AlertEventKind
from branchops.alerts.models import Alert, AlertEvent
from branchops.core import audit, scoping
from branchops.core.choices import AuditAction, ChangeSource
from branchops.core.models import User
from branchops.servicedesk.choices import EventKind, TicketStatus
from branchops.servicedesk.models import (
    Postmortem,
    PostmortemEntry,
    Problem,
    Ticket,
    TicketEvent,
)
from branchops.servicedesk.services import Refused

EDITABLE = ("title", "impact_summary", "lessons")

# At the same second an alert fires before the ticket it opens, and the author's line
# (written later, about that moment) comes last.
SOURCE_ORDER = {"alert": 0, "ticket": 1, "note": 2}


def _invalid(message: str, field: str) -> Refused:
    return Refused(message, status=400, field=field)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of a postmortem's timeline."""

    at: dt.datetime
    source: str  # "alert", "ticket" or "note"
    reference: str  # INC-2026-000123, "#42 BR-0042 firewall down", or ""
    what: str  # the kind of event, in words
    detail: str
    actor: str
    url: str
    order: int  # the row's id, to keep rows of one source and moment in their order


# --- postmortems -------------------------------------------------------------------------


def open_postmortem(
    *,
    title: str,
    by: User,
    ticket: Ticket | None = None,
    problem: Problem | None = None,
    impact_summary: str = "",
    lessons: str = "",
    source: ChangeSource = ChangeSource.UI,
) -> Postmortem:
    """Start the postmortem of an incident or of a problem (one each at most)."""
    if (ticket is None) == (problem is None):
        raise _invalid(_("A postmortem is about one incident or one problem."), "ticket")
    if not title.strip():
        raise _invalid(_("Give the postmortem a title."), "title")
    if ticket is not None and Postmortem.objects.filter(ticket=ticket).exists():
        raise Refused(_("%(number)s already has a postmortem.") % {"number": ticket.number})
    if problem is not None and Postmortem.objects.filter(problem=problem).exists():
        raise Refused(_("%(number)s already has a postmortem.") % {"number": problem.number})
    with transaction.atomic():
        postmortem = Postmortem.objects.create(
            title=title.strip()[:200],
            ticket=ticket,
            problem=problem,
            impact_summary=impact_summary.strip(),
            lessons=lessons.strip(),
            author=by,
        )
        audit.record_saved(postmortem, actor=by, source=source)
    return postmortem


def update_postmortem(
    postmortem: Postmortem,
    *,
    by: User,
    changes: Mapping[str, Any],
    source: ChangeSource = ChangeSource.UI,
) -> Postmortem:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise _invalid(_("These fields cannot be changed here."), sorted(unknown)[0])
    values = {k: str(v or "").strip() for k, v in changes.items()}
    if "title" in values and not values["title"]:
        raise _invalid(_("Give the postmortem a title."), "title")
    with transaction.atomic():
        current = Postmortem.objects.select_for_update().get(pk=postmortem.pk)
        before = audit.snapshot(current)
        changed = [k for k, v in values.items() if getattr(current, k) != v]
        if not changed:
            return current
        for key in changed:
            setattr(current, key, values[key])
        current.updated_at = timezone.now()
        current.save(update_fields=[*changed, "updated_at"])
        audit.record_saved(current, actor=by, source=source, before=before)
    return current


def add_entry(
    postmortem: Postmortem,
    *,
    at: dt.datetime | None,
    what: str,
    by: User,
    source: ChangeSource = ChangeSource.UI,
) -> PostmortemEntry:
    """A line of the author's own on the timeline: when, and what happened."""
    if at is None:
        raise _invalid(_("Say when it happened."), "at")
    if timezone.is_naive(at):
        raise _invalid(_("Give the time with its time zone."), "at")
    if at > timezone.now():
        raise _invalid(_("That time is in the future."), "at")
    if not what.strip():
        raise _invalid(_("Write what happened."), "what")
    with transaction.atomic():
        entry = PostmortemEntry.objects.create(
            postmortem=postmortem, at=at, what=what.strip(), author=by
        )
        Postmortem.objects.filter(pk=postmortem.pk).update(updated_at=timezone.now())
        audit.record(
            actor=by,
            action=AuditAction.UPDATE,
            source=source,
            obj=postmortem,
            message=f"timeline entry {timezone.localtime(at):%Y-%m-%d %H:%M}: {entry.what}",
        )
    return entry


# --- the timeline ------------------------------------------------------------------------


def incidents_of(postmortem: Postmortem, user: User | None = None) -> list[Ticket]:
    """The tickets the postmortem is about (those ``user`` may see, when given)."""
    if postmortem.ticket_id is not None:
        qs = Ticket.objects.filter(pk=postmortem.ticket_id)
    else:
        qs = Ticket.objects.filter(problems=postmortem.problem_id)
    if user is not None:
        qs = scoping.visible(user, Ticket, qs)
    return list(qs.order_by("created_at", "id"))


def timeline(postmortem: Postmortem, user: User | None = None) -> list[TimelineEntry]:
    """The merged timeline: alert events, ticket events and the author's lines, in order."""
    tickets = incidents_of(postmortem, user)
    alerts = Alert.objects.filter(tickets__in=tickets).distinct()
    if user is not None:
        alerts = scoping.visible(user, Alert, alerts)
    rows = [*_ticket_lines(tickets), *_alert_lines(alerts), *_note_lines(postmortem)]
    return sorted(rows, key=lambda e: (e.at, SOURCE_ORDER[e.source], e.order))


def _ticket_lines(tickets: list[Ticket]) -> list[TimelineEntry]:
    events = TicketEvent.objects.filter(ticket__in=tickets).select_related("ticket", "actor")
    lines = []
    for event in events:
        what = str(EventKind(event.kind).label) if event.kind in EventKind.values else event.kind
        if event.to_status:
            what = f"{what}: {TicketStatus(event.to_status).label}"
        lines.append(
            TimelineEntry(
                at=event.at,
                source="ticket",
                reference=event.ticket.number,
                what=what,
                detail=event.detail,
                actor=event.actor.get_username() if event.actor else "",
                url=reverse("servicedesk:ticket_detail", args=[event.ticket_id]),
                order=event.pk,
            )
        )
    return lines


def _alert_lines(alerts: Any) -> list[TimelineEntry]:
    events = AlertEvent.objects.filter(alert__in=alerts).select_related("alert", "actor")
    lines = []
    for event in events:
        kind = event.kind
        lines.append(
            TimelineEntry(
                at=event.at,
                source="alert",
                reference=f"#{event.alert_id} {event.alert.title}",
                what=str(AlertEventKind(kind).label) if kind in AlertEventKind.values else kind,
                detail=event.detail,
                actor=event.actor.get_username() if event.actor else "",
                url=reverse("alerts:alert_detail", args=[event.alert_id]),
                order=event.pk,
            )
        )
    return lines


def _note_lines(postmortem: Postmortem) -> list[TimelineEntry]:
    return [
        TimelineEntry(
            at=entry.at,
            source="note",
            reference="",
            what=_("Note"),
            detail=entry.what,
            actor=entry.author.get_username(),
            url="",
            order=entry.pk,
        )
        for entry in postmortem.entries.select_related("author")
    ]
