"""What people do to tickets: open, assign, move, log work, record visits, attach files.

Each function checks everything first, then changes the ticket compare-and-set inside one
transaction and writes exactly one event per change; a refusal (:class:`Refused`) leaves
nothing behind. The allowed status moves are the data in :data:`TRANSITIONS`.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from branchops.alerts.models import Alert
from branchops.cmdb.models import Device, InformationSystem, Site
from branchops.core.models import User
from branchops.servicedesk.choices import (
    DONE_STATUSES,
    NUMBER_PREFIX,
    PAUSE_STATUSES,
    ClockKind,
    ClockState,
    EventKind,
    RequestType,
    TicketKind,
    TicketSource,
    TicketStatus,
)
from branchops.servicedesk.models import (
    AssignmentGroup,
    Attachment,
    Category,
    PriorityMatrix,
    SlaPolicy,
    Ticket,
    TicketEvent,
    TicketSequence,
)

S = TicketStatus
_PENDING = (S.PENDING_CUSTOMER, S.PENDING_VENDOR, S.PENDING_SPARE_PART)

_ANY_PENDING_OR_RESOLVED = frozenset({*_PENDING, S.RESOLVED})

TRANSITIONS: Mapping[TicketStatus, frozenset[TicketStatus]] = {
    S.NEW: frozenset({S.ASSIGNED, S.IN_PROGRESS, S.PENDING_CUSTOMER, S.RESOLVED}),
    S.ASSIGNED: _ANY_PENDING_OR_RESOLVED | {S.IN_PROGRESS},
    S.IN_PROGRESS: _ANY_PENDING_OR_RESOLVED,
    S.PENDING_CUSTOMER: _ANY_PENDING_OR_RESOLVED - {S.PENDING_CUSTOMER} | {S.IN_PROGRESS},
    S.PENDING_VENDOR: _ANY_PENDING_OR_RESOLVED - {S.PENDING_VENDOR} | {S.IN_PROGRESS},
    S.PENDING_SPARE_PART: _ANY_PENDING_OR_RESOLVED - {S.PENDING_SPARE_PART} | {S.IN_PROGRESS},
    S.RESOLVED: frozenset({S.CLOSED, S.REOPENED}),
    S.CLOSED: frozenset(),
    S.REOPENED: _ANY_PENDING_OR_RESOLVED | {S.ASSIGNED, S.IN_PROGRESS},
}
"""Every allowed status move; anything else is refused. Reassignment is not a move."""

NOTE_REQUIRED = frozenset({*_PENDING, S.RESOLVED, S.REOPENED})
"""Moves that stop or restart a clock must say why."""

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
ATTACHMENT_TYPES = frozenset(
    {
        "application/pdf",
        "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "image/png",
        "image/jpeg",
        "image/gif",
        "text/plain",
        "text/csv",
    }
)


class Refused(ValueError):
    """The change is not possible; the message says why (shown to the user).

    ``status`` is the HTTP status the API answers with: 409 when the ticket's state forbids
    it, 400 when a value is wrong (then ``field`` names it).
    """

    def __init__(self, message: str, *, status: int = 409, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


def _invalid(message: str, field: str) -> Refused:
    return Refused(message, status=400, field=field)


def status_label(value: str) -> str:
    return str(TicketStatus(value).label)


# --- times -------------------------------------------------------------------------------


def _checked_time(ticket: Ticket, at: dt.datetime | None, field: str = "at") -> dt.datetime:
    """``at`` (default now), refused when naive, in the future or before the ticket began."""
    now = timezone.now()
    if at is None:
        return now
    if timezone.is_naive(at):
        raise _invalid(_("Give the time with its time zone."), field)
    if at > now:
        raise _invalid(_("%(time)s is in the future.") % {"time": _show(at)}, field)
    if at < ticket.created_at:
        raise _invalid(
            _("%(time)s is before the ticket was opened (%(opened)s).")
            % {"time": _show(at), "opened": _show(ticket.created_at)},
            field,
        )
    return at


def _show(at: dt.datetime) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M:%S")


def _last_status_change(ticket: Ticket) -> dt.datetime:
    last = (
        TicketEvent.objects.filter(ticket=ticket)
        .exclude(to_status="")
        .order_by("-at", "-id")
        .values_list("at", flat=True)
        .first()
    )
    return last or ticket.created_at


# --- opening -----------------------------------------------------------------------------


def priority_of(impact: int, urgency: int) -> int:
    cell = PriorityMatrix.objects.filter(impact=impact, urgency=urgency).first()
    if cell is None:
        raise _invalid(
            _("The priority matrix has no cell for impact %(i)s and urgency %(u)s.")
            % {"i": impact, "u": urgency},
            "impact",
        )
    return cell.priority


def policy_for(priority: int, category: Category | None, site: Site | None) -> SlaPolicy | None:
    """The most specific active policy: own category before parents before none, then a
    matching site kind before any site kind."""
    lineage = category.lineage() if category else []
    rank = {c.pk: i for i, c in enumerate(lineage)}
    kind = site.kind if site else ""
    candidates = SlaPolicy.objects.filter(
        Q(category__isnull=True) | Q(category__in=list(rank)),
        active=True,
        priority=priority,
        site_kind__in={kind, ""},
    )

    def specificity(policy: SlaPolicy) -> tuple[int, int]:
        depth = len(lineage) if policy.category_id is None else rank[policy.category_id]
        return (depth, 0 if policy.site_kind else 1)

    return min(candidates, key=specificity, default=None)


def next_number(kind: str, at: dt.datetime) -> str:
    """INC-2026-000123: per prefix and (local) year, without gaps or duplicates."""
    prefix = NUMBER_PREFIX[TicketKind(kind)]
    year = timezone.localtime(at).year
    TicketSequence.objects.get_or_create(prefix=prefix, year=year)
    # The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) until commit,
    # so two tickets opened at once never read the same number.
    TicketSequence.objects.filter(prefix=prefix, year=year).update(last=F("last") + 1)
    last = TicketSequence.objects.get(prefix=prefix, year=year).last
    return f"{prefix}-{year}-{last:06d}"


def _check_request_type(kind: str, request_type: str) -> None:
    if kind == TicketKind.REQUEST and not request_type:
        raise _invalid(_("Say what the service request is for."), "request_type")
    if kind != TicketKind.REQUEST and request_type:
        raise _invalid(_("Only service requests have a request type."), "request_type")
    if request_type and request_type not in RequestType.values:
        raise _invalid(_("Unknown request type."), "request_type")


def open_ticket(
    *,
    kind: str,
    title: str,
    source: str,
    impact: int,
    urgency: int,
    by: User | None,
    site: Site | None = None,
    description: str = "",
    request_type: str = "",
    category: Category | None = None,
    devices: Iterable[Device] = (),
    systems: Iterable[InformationSystem] = (),
    group: AssignmentGroup | None = None,
    assignee: User | None = None,
    reporter_name: str = "",
    reporter_contact: str = "",
    alerts: Iterable[Alert] = (),
    created_at: dt.datetime | None = None,
) -> Ticket:
    """Log a ticket (its ``created`` event, then its assignment when one is given).

    ``created_at`` may lie in the past (a call logged after it came in) but not ahead.
    """
    if kind not in TicketKind.values:
        raise _invalid(_("Unknown kind of ticket."), "kind")
    if source not in TicketSource.values:
        raise _invalid(_("Unknown source."), "source")
    if not title.strip():
        raise _invalid(_("Give the ticket a title."), "title")
    _check_request_type(kind, request_type)
    now = timezone.now()
    created = created_at or now
    if timezone.is_naive(created):
        raise _invalid(_("Give the time with its time zone."), "created_at")
    if created > now:
        raise _invalid(_("%(time)s is in the future.") % {"time": _show(created)}, "created_at")
    priority = priority_of(impact, urgency)
    with transaction.atomic():
        ticket = Ticket.objects.create(
            number=next_number(kind, created),
            kind=kind,
            request_type=request_type,
            source=source,
            title=title.strip()[:200],
            description=description,
            site=site,
            category=category,
            impact=impact,
            urgency=urgency,
            priority=priority,
            sla_policy=policy_for(priority, category, site),
            reporter_name=reporter_name,
            reporter_contact=reporter_contact,
            opened_by=by,
            created_at=created,
            updated_at=created,
        )
        ticket.devices.set(list(devices))
        ticket.systems.set(list(systems))
        TicketEvent.objects.create(
            ticket=ticket,
            at=created,
            kind=EventKind.CREATED,
            actor=by,
            to_status=S.NEW,
            detail=_("Opened from %(source)s.") % {"source": TicketSource(source).label},
        )
        for alert in alerts:
            link_alert(ticket, alert, by=by, at=created)
        if group is not None or assignee is not None:
            assign(ticket, group=group, assignee=assignee, by=by, at=created)
    ticket.refresh_from_db()
    return ticket


def link_alert(
    ticket: Ticket, alert: Alert, *, by: User | None, at: dt.datetime | None = None
) -> bool:
    """Link an alert to the ticket (both ways: ``alert.tickets``); False if it already was."""
    if ticket.alerts.filter(pk=alert.pk).exists():
        return False
    when = _checked_time(ticket, at)
    with transaction.atomic():
        ticket.alerts.add(alert)
        TicketEvent.objects.create(
            ticket=ticket,
            at=when,
            kind=EventKind.ALERT_LINKED,
            actor=by,
            detail=f"#{alert.pk} {alert.title}"[:500],
        )
    return True


# --- assignment and moves ----------------------------------------------------------------


def assign(
    ticket: Ticket,
    *,
    group: AssignmentGroup | None,
    assignee: User | None,
    by: User | None,
    note: str = "",
    at: dt.datetime | None = None,
) -> Ticket:
    """Give the ticket to a group and/or a person; a new or reopened ticket becomes assigned.

    Reassigning does not touch the SLA clocks: they are computed from the whole log.
    """
    if group is None and assignee is None:
        raise _invalid(_("Name a group or a person."), "assignee")
    if assignee is not None and not assignee.is_active:
        raise _invalid(
            _("%(name)s is not an active user.") % {"name": assignee.get_username()}, "assignee"
        )
    if (
        group is not None
        and assignee is not None
        and not group.members.filter(pk=assignee.pk).exists()
    ):
        raise _invalid(
            _("%(name)s is not a member of %(group)s.")
            % {"name": assignee.get_username(), "group": group.name},
            "assignee",
        )  # fmt: skip
    when = _checked_time(ticket, at)
    with transaction.atomic():
        current = Ticket.objects.get(pk=ticket.pk)
        if current.status in DONE_STATUSES:
            raise Refused(
                _("The ticket is %(status)s; reopen it first.")
                % {"status": status_label(current.status)}
            )
        new_group = group if group is not None else current.group
        if (new_group, assignee) == (current.group, current.assignee):
            return current
        to = S.ASSIGNED if current.status in (S.NEW, S.REOPENED) else current.status
        changed = Ticket.objects.filter(
            pk=current.pk,
            status=current.status,
            group_id=current.group_id,
            assignee_id=current.assignee_id,
        ).update(group=new_group, assignee=assignee, status=to, updated_at=when)
        if not changed:
            raise Refused(_("The ticket changed meanwhile; look again and retry."))
        who = " / ".join(x for x in (new_group.name if new_group else "", _username(assignee)) if x)
        TicketEvent.objects.create(
            ticket=current,
            at=when,
            kind=EventKind.ASSIGNED,
            actor=by,
            from_status=current.status if to != current.status else "",
            to_status=to if to != current.status else "",
            group=new_group,
            assignee=assignee,
            detail=f"{who}: {note}" if note else who,
        )
    ticket.refresh_from_db()
    return ticket


def _username(user: User | None) -> str:
    return user.get_username() if user is not None else ""


def allowed_moves(status: str) -> list[str]:
    return sorted(TRANSITIONS[TicketStatus(status)])


def check_move(ticket: Ticket, to_status: str, note: str) -> None:
    """Raise :class:`Refused` unless ``ticket`` may move to ``to_status`` now."""
    if to_status not in TicketStatus.values:
        raise _invalid(_("Unknown status %(to)s.") % {"to": to_status}, "to")
    current = TicketStatus(ticket.status)
    target = TicketStatus(to_status)
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(str(s.label) for s in sorted(TRANSITIONS[current])) or _("nowhere")
        raise Refused(
            _(
                "A ticket cannot go from %(from)s to %(to)s. "
                "From %(from)s it can go to: %(allowed)s."
            )
            % {"from": current.label, "to": target.label, "allowed": allowed}
        )
    if target == S.ASSIGNED and ticket.group_id is None and ticket.assignee_id is None:
        raise Refused(_("Assign the ticket to a group or a person first."))
    if target == S.IN_PROGRESS and ticket.assignee_id is None:
        raise Refused(_("Assign the ticket to a person before work starts."))
    if target in NOTE_REQUIRED and not note.strip():
        raise _invalid(_("Say why the ticket goes to %(to)s.") % {"to": target.label}, "note")


def move(
    ticket: Ticket,
    to_status: str,
    *,
    by: User | None,
    note: str = "",
    at: dt.datetime | None = None,
) -> Ticket:
    """Move the ticket to another status, if :data:`TRANSITIONS` allows it (compare-and-set).

    ``at`` defaults to now; it may not be in the future, before the ticket was opened, or
    before its last status change.
    """
    when = _checked_time(ticket, at)
    with transaction.atomic():
        current = Ticket.objects.get(pk=ticket.pk)
        check_move(current, to_status, note)
        if when < _last_status_change(current):
            raise _invalid(
                _("%(time)s is before the ticket's last status change.") % {"time": _show(when)},
                "at",
            )
        values: dict[str, Any] = {"status": to_status, "updated_at": when}
        if to_status == S.RESOLVED:
            values["resolved_at"] = when
        elif to_status == S.CLOSED:
            values["closed_at"] = when
        elif to_status == S.REOPENED:
            values["resolved_at"] = None
        changed = Ticket.objects.filter(pk=current.pk, status=current.status).update(**values)
        if not changed:
            raise Refused(_("The ticket changed meanwhile; look again and retry."))
        TicketEvent.objects.create(
            ticket=current,
            at=when,
            kind=EventKind.REOPENED if to_status == S.REOPENED else EventKind.STATUS,
            actor=by,
            from_status=current.status,
            to_status=to_status,
            detail=note.strip(),
        )
    ticket.refresh_from_db()
    return ticket


def reopen(ticket: Ticket, *, by: User | None, note: str, at: dt.datetime | None = None) -> Ticket:
    """A resolved ticket that is not fixed after all: the resolution clock runs on."""
    return move(ticket, S.REOPENED, by=by, note=note, at=at)


def pause(ticket: Ticket, waiting_for: str, *, by: User | None, note: str) -> Ticket:
    """Move to a pending status (the clocks stop); ``waiting_for`` is one of them."""
    if waiting_for not in PAUSE_STATUSES:
        raise _invalid(_("Not a pending status."), "to")
    return move(ticket, waiting_for, by=by, note=note)


# --- work, visits, files -----------------------------------------------------------------


def _require_not_closed(ticket: Ticket) -> None:
    if Ticket.objects.filter(pk=ticket.pk, status=S.CLOSED).exists():
        raise Refused(_("The ticket is closed."))


def worklog(
    ticket: Ticket, *, by: User | None, note: str, at: dt.datetime | None = None
) -> TicketEvent:
    """A line of work done (or tried): what the next person needs to know."""
    if not note.strip():
        raise _invalid(_("Write what was done."), "note")
    when = _checked_time(ticket, at)
    with transaction.atomic():
        _require_not_closed(ticket)
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=timezone.now())
        return TicketEvent.objects.create(
            ticket=ticket, at=when, kind=EventKind.WORKLOG, actor=by, detail=note.strip()
        )


def record_visit(
    ticket: Ticket,
    *,
    by: User | None,
    departed_at: dt.datetime | None = None,
    arrived_at: dt.datetime | None = None,
    finished_at: dt.datetime | None = None,
    note: str = "",
) -> list[TicketEvent]:
    """An on-site visit: left for the site, arrived (stops the arrival clock), finished.

    Any of the three may be given, in order; a finish needs an arrival before it (given
    now or recorded earlier).
    """
    given = [
        (EventKind.DEPARTED, departed_at, "departed_at"),
        (EventKind.ARRIVED, arrived_at, "arrived_at"),
        (EventKind.FINISHED, finished_at, "finished_at"),
    ]
    times = [(kind, _checked_time(ticket, at, field), field) for kind, at, field in given if at]
    if not times:
        raise _invalid(_("Give a departure, arrival or finish time."), "arrived_at")
    for (_k1, a, _f1), (_k2, b, field) in itertools.pairwise(times):
        if b < a:
            raise _invalid(_("The visit's times are out of order."), field)
    with transaction.atomic():
        _require_not_closed(ticket)
        if finished_at is not None and arrived_at is None:
            last_arrival = (
                TicketEvent.objects.filter(
                    ticket=ticket, kind=EventKind.ARRIVED, at__lte=finished_at
                )
                .values_list("at", flat=True)
                .last()
            )
            if last_arrival is None:
                raise _invalid(_("Record the arrival before the finish."), "finished_at")
        events = [
            TicketEvent.objects.create(
                ticket=ticket, at=at, kind=kind, actor=by, detail=note.strip()
            )
            for kind, at, _field in times
        ]
        Ticket.objects.filter(pk=ticket.pk).update(updated_at=timezone.now())
    return events


def attach(
    ticket: Ticket, *, by: User | None, name: str, content: bytes, content_type: str
) -> Attachment:
    """Store a file under BRANCHOPS_HOME/attachments/<ticket>/ and note it on the ticket."""
    limit = int(getattr(settings, "SERVICEDESK_MAX_ATTACHMENT_BYTES", MAX_ATTACHMENT_BYTES))
    clean_name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()[:200]
    if not clean_name or clean_name.startswith("."):
        raise _invalid(_("Give the file a name."), "file")
    if len(content) > limit:
        raise _invalid(
            _("The file is larger than %(mb)d MB.") % {"mb": limit // (1024 * 1024)}, "file"
        )
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind not in ATTACHMENT_TYPES:
        raise _invalid(_("Files of type %(type)s are not accepted.") % {"type": kind}, "file")
    with transaction.atomic():
        _require_not_closed(ticket)
        attachment = Attachment(
            ticket=ticket, name=clean_name, content_type=kind, size=len(content), uploaded_by=by
        )
        attachment.file.save(clean_name, ContentFile(content), save=False)
        attachment.save()
        TicketEvent.objects.create(
            ticket=ticket, kind=EventKind.ATTACHMENT, actor=by, detail=clean_name
        )
    return attachment


# --- editing -----------------------------------------------------------------------------

EDITABLE = (
    "title",
    "description",
    "request_type",
    "site",
    "category",
    "impact",
    "urgency",
    "reporter_name",
    "reporter_contact",
)


def update_ticket(
    ticket: Ticket,
    *,
    by: User | None,
    changes: Mapping[str, Any],
    devices: Sequence[Device] | None = None,
    systems: Sequence[InformationSystem] | None = None,
) -> Ticket:
    """Change editable fields; a new impact, urgency, category or site re-derives the
    priority and the SLA policy (the clocks then measure the whole log against it)."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise _invalid(_("These fields cannot be changed here."), sorted(unknown)[0])
    if "title" in changes and not str(changes["title"]).strip():
        raise _invalid(_("Give the ticket a title."), "title")
    with transaction.atomic():
        current = Ticket.objects.get(pk=ticket.pk)
        if current.status == S.CLOSED:
            raise Refused(_("The ticket is closed."))
        said: list[str] = []
        for field, value in changes.items():
            if getattr(current, field) != value:
                said.append(f"{field}: {_plain(getattr(current, field))} → {_plain(value)}")
                setattr(current, field, value)
        _check_request_type(current.kind, current.request_type)
        if devices is not None and set(devices) != set(current.devices.all()):
            current.devices.set(devices)
            said.append(f"devices: {', '.join(d.name for d in devices) or '-'}")
        if systems is not None and set(systems) != set(current.systems.all()):
            current.systems.set(systems)
            said.append(f"systems: {', '.join(s.code for s in systems) or '-'}")
        if not said:
            return current
        priority = priority_of(current.impact, current.urgency)
        if priority != current.priority:
            said.append(f"priority: P{current.priority} → P{priority}")
        current.priority = priority
        current.sla_policy = policy_for(priority, current.category, current.site)
        now = timezone.now()
        values = {f: getattr(current, f) for f in EDITABLE}
        changed = Ticket.objects.filter(pk=current.pk, status=current.status).update(
            **values, priority=priority, sla_policy=current.sla_policy, updated_at=now
        )
        if not changed:
            raise Refused(_("The ticket changed meanwhile; look again and retry."))
        TicketEvent.objects.create(
            ticket=current, at=now, kind=EventKind.UPDATED, actor=by, detail="\n".join(said)
        )
    ticket.refresh_from_db()
    return ticket


def _plain(value: Any) -> str:
    if value is None or value == "":
        return "-"
    return str(value)


# --- SLA crossings -----------------------------------------------------------------------


def note_sla_crossings(now: dt.datetime, tickets: Iterable[Ticket] | None = None) -> int:
    """Write an SLA warning (75 %) and an SLA breach event once per clock and ticket.

    Called by the engine every minute; each breach also raises an alert
    (``sla_escalation``), which the alert routes escalate. Returns how many events it wrote.
    """
    from branchops.servicedesk import sla, sla_escalation

    rows = list(
        tickets
        if tickets is not None
        else Ticket.objects.exclude(status__in=DONE_STATUSES).filter(sla_policy__isnull=False)
    )
    clocks = sla.clocks_for(rows, now)
    noted = set(
        TicketEvent.objects.filter(
            ticket__in=rows, kind__in=[EventKind.SLA_WARNING, EventKind.SLA_BREACH]
        ).values_list("ticket_id", "kind", "clock")
    )
    new = []
    for ticket in rows:
        found = clocks.get(ticket.pk)
        for clock in found.all() if found else []:
            for kind, due in (
                (EventKind.SLA_WARNING, clock.warning),
                (EventKind.SLA_BREACH, clock.state == ClockState.BREACHED),
            ):
                if due and (ticket.pk, kind.value, clock.kind.value) not in noted:
                    new.append(
                        TicketEvent(
                            ticket=ticket,
                            at=now,
                            kind=kind,
                            clock=clock.kind,
                            detail=f"{ClockKind(clock.kind).label}: {clock.percent:.0f} %",
                        )
                    )
    TicketEvent.objects.bulk_create(new)
    sla_escalation.escalate(new)  # breaches go on through the alert routes
    return len(new)
