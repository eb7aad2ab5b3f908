"""Duty shifts and their handover (交接班), and dual-person operation records (双人作业).

The outgoing shift writes a :class:`HandoverLog`; what was open at that moment (tickets not
resolved or closed, root alerts still firing) is copied into it, so it reads the same
years later. Someone of the incoming shift signs it, once, and from then on it never
changes. Handovers of a group are signed in order: while one is unsigned, the next can be
neither written nor signed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from branchops.alerts.choices import AlertStatus
from branchops.alerts.models import Alert
from branchops.core.models import User
from branchops.servicedesk.choices import DONE_STATUSES, DualControlOutcome
from branchops.servicedesk.models import (
    AssignmentGroup,
    DualControlRecord,
    HandoverLog,
    Shift,
    Ticket,
)
from branchops.servicedesk.services import Refused


def _invalid(message: str, field: str) -> Refused:
    return Refused(message, status=400, field=field)


def _show(at: dt.datetime) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M")


def create_shift(
    *,
    group: AssignmentGroup,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    people: Sequence[User],
    note: str = "",
) -> Shift:
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise _invalid(_("Give the time with its time zone."), "starts_at")
    if ends_at <= starts_at:
        raise _invalid(_("The shift must end after it starts."), "ends_at")
    if not people:
        raise _invalid(_("Name the people on duty."), "people")
    with transaction.atomic():
        shift = Shift.objects.create(
            group=group, starts_at=starts_at, ends_at=ends_at, note=note.strip()[:300]
        )
        shift.people.set(people)
    return shift


# --- what is open --------------------------------------------------------------------------


def open_tickets_now() -> list[dict[str, Any]]:
    """Every ticket not resolved or closed, most urgent first, as plain values."""
    rows = (
        Ticket.objects.exclude(status__in=DONE_STATUSES)
        .select_related("site", "group", "assignee")
        .order_by("priority", "created_at", "id")
    )
    return [
        {
            "id": t.pk,
            "number": t.number,
            "title": t.title,
            "status": t.status,
            "priority": t.priority,
            "site": t.site.code if t.site else None,
            "group": t.group.name if t.group else None,
            "assignee": t.assignee.get_username() if t.assignee else None,
            "created_at": t.created_at.isoformat(),
        }
        for t in rows
    ]


def firing_root_alerts_now() -> list[dict[str, Any]]:
    """Every root alert still firing (symptoms are counted on their root), worst first."""
    rows = (
        Alert.objects.filter(status=AlertStatus.FIRING, root__isnull=True)
        .select_related("site")
        .order_by("severity", "started_at", "id")
    )
    return [
        {
            "id": a.pk,
            "title": a.title,
            "severity": a.severity,
            "site": a.site.code if a.site else None,
            "affected_sites": a.affected_sites,
            "acknowledged": a.acknowledged_at is not None,
            "started_at": a.started_at.isoformat(),
        }
        for a in rows
    ]


# --- handover ------------------------------------------------------------------------------


def _unsigned_before(group_id: int, exclude: int | None = None) -> HandoverLog | None:
    qs = HandoverLog.objects.filter(outgoing__group_id=group_id, signed_at__isnull=True)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return qs.select_related("outgoing", "incoming").order_by("created_at", "id").first()


def _refuse_unsigned(previous: HandoverLog) -> Refused:
    return Refused(
        _(
            "The handover from %(outgoing)s to %(incoming)s is not signed yet; "
            "the incoming shift signs it first."
        )
        % {"outgoing": previous.outgoing, "incoming": previous.incoming}
    )


def create_handover(
    *,
    outgoing: Shift,
    incoming: Shift,
    summary: str,
    by: User,
    now: dt.datetime | None = None,
) -> HandoverLog:
    """The outgoing shift hands over: ``by`` must be on it; what is open is listed."""
    if not summary.strip():
        raise _invalid(_("Write what the incoming shift needs to know."), "summary")
    if outgoing.pk == incoming.pk:
        raise _invalid(_("A shift cannot hand over to itself."), "incoming")
    if outgoing.group_id != incoming.group_id:
        raise _invalid(_("Both shifts must belong to the same group."), "incoming")
    if incoming.starts_at < outgoing.starts_at:
        raise _invalid(_("The incoming shift starts before the outgoing one."), "incoming")
    if not outgoing.people.filter(pk=by.pk).exists():
        raise Refused(_("%(name)s is not on the outgoing shift.") % {"name": by.get_username()})
    with transaction.atomic():
        previous = _unsigned_before(outgoing.group_id)
        if previous is not None:
            raise _refuse_unsigned(previous)
        if HandoverLog.objects.filter(outgoing=outgoing).exists():
            raise Refused(_("This shift has already handed over."))
        try:
            with transaction.atomic():
                return HandoverLog.objects.create(
                    outgoing=outgoing,
                    incoming=incoming,
                    summary=summary.strip(),
                    written_by=by,
                    created_at=now or timezone.now(),
                    open_tickets=open_tickets_now(),
                    firing_alerts=firing_root_alerts_now(),
                )
        except IntegrityError as exc:  # the same shift handed over at the same moment
            raise Refused(_("This shift has already handed over.")) from exc


def sign_handover(log: HandoverLog, *, by: User, now: dt.datetime | None = None) -> HandoverLog:
    """Someone of the incoming shift takes over; compare-and-set, so only once."""
    when = now or timezone.now()
    current = HandoverLog.objects.select_related("outgoing", "incoming").get(pk=log.pk)
    if current.signed_at is not None:
        raise Refused(
            _("The handover was already signed by %(name)s at %(time)s.")
            % {"name": _username(current.signed_by_id), "time": _show(current.signed_at)}
        )
    if not current.incoming.people.filter(pk=by.pk).exists():
        raise Refused(
            _("%(name)s is not on the incoming shift and cannot sign.")
            % {"name": by.get_username()}
        )
    with transaction.atomic():
        previous = _unsigned_before(current.outgoing.group_id, exclude=current.pk)
        if previous is not None and (previous.created_at, previous.pk) < (
            current.created_at,
            current.pk,
        ):
            raise _refuse_unsigned(previous)
        changed = HandoverLog.objects.filter(pk=current.pk, signed_at__isnull=True).update(
            signed_by=by, signed_at=when
        )
        if not changed:
            raise Refused(_("The handover was signed meanwhile; look again."))
    current.refresh_from_db()
    return current


def _username(user_id: int | None) -> str:
    user = User.objects.filter(pk=user_id).first() if user_id else None
    return user.get_username() if user else "-"


# --- dual control --------------------------------------------------------------------------


def record_dual_control(
    *,
    what: str,
    performed_at: dt.datetime,
    operator: User,
    reviewer: User,
    outcome: str,
    by: User,
    note: str = "",
    ticket: Ticket | None = None,
) -> DualControlRecord:
    """Sensitive work done by ``operator`` while ``reviewer`` checked each step."""
    if not what.strip():
        raise _invalid(_("Say what was done."), "what")
    if timezone.is_naive(performed_at):
        raise _invalid(_("Give the time with its time zone."), "performed_at")
    if performed_at > timezone.now():
        raise _invalid(
            _("%(time)s is in the future.") % {"time": _show(performed_at)}, "performed_at"
        )
    if operator.pk == reviewer.pk:
        raise _invalid(_("The reviewer must be someone other than the operator."), "reviewer")
    if outcome not in DualControlOutcome.values:
        raise _invalid(_("Unknown outcome."), "outcome")
    for person, field in ((operator, "operator"), (reviewer, "reviewer")):
        if not person.is_active:
            raise _invalid(
                _("%(name)s is not an active user.") % {"name": person.get_username()}, field
            )
    return DualControlRecord.objects.create(
        what=what.strip()[:300],
        performed_at=performed_at,
        operator=operator,
        reviewer=reviewer,
        outcome=outcome,
        note=note.strip(),
        ticket=ticket,
        recorded_by=by,
    )
