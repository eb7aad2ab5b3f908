"""Reportable incidents (网络安全事件): which incidents the regulator must hear of, with
which grade, and when each report is due.

An incident becomes reportable when one of its information systems is named by an active
:class:`RegulatoryRule` and its outage (from the ticket's ``created_at``, the moment it was
reported or the alert started, to its resolution, or now) has lasted the rule's minimum,
at a broker with enough active clients where the rule asks. The best matching rule gives
the grade; the grade only rises. :func:`evaluate` runs whenever a ticket event is written
(the hook below) and :func:`check_reportable` every minute for open incidents, since an
outage grows while nobody writes anything.

The reporting timers are computed from the outage start, the ticket's resolution, the
rule's periods and the reports recorded (:func:`timers`), like the SLA clocks: nothing
stored is a deadline.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from branchops.cmdb.models import InformationSystem
from branchops.core import calendars
from branchops.core.choices import Role
from branchops.core.models import BusinessCalendar, User
from branchops.servicedesk.choices import DONE_STATUSES, EventKind, TicketKind
from branchops.servicedesk.models import (
    IncidentReport,
    RegulatoryRule,
    ReportableIncident,
    Ticket,
    TicketEvent,
)
from branchops.servicedesk.reportable_choices import (
    GRADE_RANK,
    IncidentGrade,
    ReportKind,
    TimerState,
)
from branchops.servicedesk.services import Refused

log = logging.getLogger(__name__)

WORKDAYS_CALENDAR = "cn-workdays"
_evaluating: contextvars.ContextVar[bool] = contextvars.ContextVar("evaluating", default=False)
END_OF_DAY = dt.time(23, 59, 59)


def active_clients() -> int:
    """The broker's active clients (setting ``SERVICEDESK_ACTIVE_CLIENTS``; 0: not set)."""
    return int(getattr(settings, "SERVICEDESK_ACTIVE_CLIENTS", 0) or 0)


def may_edit_rules(user: User) -> bool:
    """The ruleset decides what the firm tells its regulator: administrators only."""
    return user.is_active and (user.is_superuser or user.role == Role.ADMIN)


def unknown_system_codes(rule: RegulatoryRule) -> list[str]:
    """Codes of the rule that name no information system (yet): a typo, or not imported."""
    known = set(
        InformationSystem.objects.filter(code__in=rule.system_codes).values_list("code", flat=True)
    )
    return [code for code in rule.system_codes if code not in known]


# ---- matching -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outage:
    """What a ticket says about an outage: which systems, since when, until when."""

    system_codes: frozenset[str]
    system_categories: frozenset[str]
    started_at: dt.datetime
    recovered_at: dt.datetime | None

    def duration(self, now: dt.datetime) -> dt.timedelta:
        return (self.recovered_at or now) - self.started_at


def recovered_at(ticket: Ticket) -> dt.datetime | None:
    """When service came back: the (last) resolution; none while the ticket is open."""
    return ticket.resolved_at if ticket.status in DONE_STATUSES else None


def outage_of(ticket: Ticket, started_at: dt.datetime | None = None) -> Outage:
    systems = list(ticket.systems.all())
    return Outage(
        system_codes=frozenset(s.code for s in systems),
        system_categories=frozenset(s.category for s in systems),
        started_at=started_at or ticket.created_at,
        recovered_at=recovered_at(ticket),
    )


def rule_matches(
    rule: RegulatoryRule, outage: Outage, now: dt.datetime, clients: int | None = None
) -> bool:
    """Whether ``rule`` grades this outage now (an exact minimum counts: >=)."""
    concerned = bool(set(rule.system_codes) & outage.system_codes) or (
        bool(rule.system_category) and rule.system_category in outage.system_categories
    )
    if not concerned or not rule.active:
        return False
    if outage.duration(now) < dt.timedelta(minutes=rule.min_outage_minutes):
        return False
    if rule.min_active_clients is not None:
        return (active_clients() if clients is None else clients) >= rule.min_active_clients
    return True


def best_rule(
    rules: Iterable[RegulatoryRule], outage: Outage, now: dt.datetime, clients: int | None = None
) -> RegulatoryRule | None:
    """Of the matching rules, the gravest grade; between equals, the first by order."""
    matching = [r for r in rules if rule_matches(r, outage, now, clients)]
    return min(
        matching,
        key=lambda r: (-GRADE_RANK[IncidentGrade(r.grade)], r.order, r.pk),
        default=None,
    )


def _note(ticket: Ticket, now: dt.datetime, text: str) -> None:
    # An "updated" line on the ticket's timeline; the SLA clocks read status events only.
    TicketEvent.objects.create(ticket=ticket, at=now, kind=EventKind.UPDATED, detail=text)


def _grade_text(rule: RegulatoryRule, grade: str) -> str:
    return _("Reportable incident: %(grade)s (rule: %(rule)s)") % {
        "grade": IncidentGrade(grade).label,
        "rule": rule.name,
    }


def evaluate(
    ticket: Ticket,
    now: dt.datetime | None = None,
    rules: Sequence[RegulatoryRule] | None = None,
) -> ReportableIncident | None:
    """Make the ticket a reportable incident, raise its grade, or withdraw a false match.

    A match found earlier that no rule supports any more (its systems were corrected) is
    withdrawn, unless a report was already sent: then it stays, as the record of what the
    regulator was told.
    """
    if ticket.kind != TicketKind.INCIDENT:
        return None
    # The lines this writes on the ticket's timeline must not run the hook again.
    token = _evaluating.set(True)
    try:
        return _evaluate(ticket, now or timezone.now(), rules)
    finally:
        _evaluating.reset(token)


def _evaluate(
    ticket: Ticket, now: dt.datetime, rules: Sequence[RegulatoryRule] | None
) -> ReportableIncident | None:
    existing = ReportableIncident.objects.filter(ticket=ticket).select_related("rule").first()
    outage = outage_of(ticket, existing.outage_started_at if existing else None)
    if rules is None:
        rules = list(RegulatoryRule.objects.filter(active=True))
    rule = best_rule(rules, outage, now)
    if rule is None:
        if existing is not None and not existing.reports.exists():
            with transaction.atomic():
                existing.delete()
                _note(ticket, now, _("No longer a reportable incident: no rule matches."))
            return None
        return existing
    if existing is None:
        return _create(ticket, rule, outage, now)
    if GRADE_RANK[IncidentGrade(rule.grade)] > GRADE_RANK[IncidentGrade(existing.grade)]:
        with transaction.atomic():
            raised = ReportableIncident.objects.filter(pk=existing.pk, grade=existing.grade).update(
                grade=rule.grade, rule=rule, graded_at=now
            )
            if raised:  # compare-and-set: of two evaluations, one writes the line
                _note(ticket, now, _grade_text(rule, rule.grade))
        existing.refresh_from_db()
    return existing


def _create(
    ticket: Ticket, rule: RegulatoryRule, outage: Outage, now: dt.datetime
) -> ReportableIncident:
    try:
        with transaction.atomic():
            incident = ReportableIncident.objects.create(
                ticket=ticket,
                rule=rule,
                grade=rule.grade,
                outage_started_at=outage.started_at,
                detected_at=now,
                graded_at=now,
            )
            _note(ticket, now, _grade_text(rule, rule.grade))
    except IntegrityError:  # another process found it first (one per ticket)
        return ReportableIncident.objects.get(ticket=ticket)
    return incident


def check_reportable(now: dt.datetime, tickets: Iterable[Ticket] | None = None) -> int:
    """Evaluate every open incident with a system (for the engine, each minute).

    Returns how many became reportable or were graded higher.
    """
    rules = list(RegulatoryRule.objects.filter(active=True))
    if not rules:
        return 0
    rows = (
        list(tickets)
        if tickets is not None
        else list(
            Ticket.objects.filter(kind=TicketKind.INCIDENT, systems__isnull=False)
            .exclude(status__in=DONE_STATUSES)
            .distinct()
            .prefetch_related("systems")
        )
    )
    before = dict(
        ReportableIncident.objects.filter(ticket__in=rows).values_list("ticket_id", "grade")
    )
    changed = 0
    for ticket in rows:
        found = evaluate(ticket, now, rules)
        if found is not None and before.get(ticket.pk) != found.grade:
            changed += 1
    return changed


# ---- the hook: every ticket event ------------------------------------------------------------


def _on_ticket_event(sender: Any, instance: TicketEvent, created: bool, **kwargs: Any) -> None:
    """After any change to an incident, look at it again (our own lines excepted).

    Runs inside the change's transaction, in a savepoint: an error here is logged and
    costs the evaluation, never the change someone made to the ticket.
    """
    if not created or _evaluating.get() or kwargs.get("raw"):
        return
    ticket = instance.ticket
    if ticket.kind != TicketKind.INCIDENT:
        return
    try:
        with transaction.atomic():
            evaluate(Ticket.objects.get(pk=ticket.pk))
    except Exception:
        log.exception("reportable incident check failed for ticket %s", ticket.pk)


def connect() -> None:
    """Called once from the app's ready()."""
    post_save.connect(_on_ticket_event, sender=TicketEvent, dispatch_uid="reportable-incidents")


# ---- timers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timer:
    """One report the regulator expects: when, and whether it went."""

    kind: ReportKind
    state: TimerState
    due_at: dt.datetime | None
    done_at: dt.datetime | None = None
    late: bool = False

    @property
    def label(self) -> str:
        return str(ReportKind(self.kind).label)


def _open_timer(kind: ReportKind, due_at: dt.datetime, now: dt.datetime) -> Timer:
    state = TimerState.OVERDUE if now > due_at else TimerState.DUE
    return Timer(kind, state, due_at)


def _done_timer(kind: ReportKind, due_at: dt.datetime | None, sent: dt.datetime) -> Timer:
    return Timer(kind, TimerState.DONE, due_at, sent, due_at is not None and sent > due_at)


def workdays_calendar() -> calendars.Calendar:
    """The Chinese working-day calendar; the weekday rule if it was deleted."""
    if BusinessCalendar.objects.filter(code=WORKDAYS_CALENDAR).exists():
        return calendars.load(WORKDAYS_CALENDAR)
    return calendars.build(code=WORKDAYS_CALENDAR, kind="workdays")


def after_workdays(
    recovered: dt.datetime, workdays: int, cal: calendars.Calendar | None = None
) -> dt.datetime:
    """The end (23:59:59 local) of the ``workdays``-th working day after the recovery day.

    Holidays do not count and make-up workdays do (core.calendars).
    """
    cal = cal or workdays_calendar()
    day = timezone.localtime(recovered).date()
    counted = 0
    while counted < workdays:
        day += dt.timedelta(days=1)
        if calendars.is_working_day(cal, day):
            counted += 1
    return dt.datetime.combine(day, END_OF_DAY, tzinfo=timezone.get_current_timezone())


def timers(
    incident: ReportableIncident,
    now: dt.datetime,
    reports: Sequence[IncidentReport] | None = None,
    cal: calendars.Calendar | None = None,
) -> list[Timer]:
    """The immediate report, the updates, the written and the investigation report."""
    sent = sorted(reports if reports is not None else incident.reports.all(), key=_sent)
    by_kind = {k: [r.sent_at for r in sent if r.kind == k] for k in ReportKind}
    rule, start = incident.rule, incident.outage_started_at
    recovered = recovered_at(incident.ticket)
    immediate_due = start + dt.timedelta(minutes=rule.immediate_after_minutes)
    needed = recovered is None or recovered > immediate_due
    found: list[Timer] = []
    if by_kind[ReportKind.IMMEDIATE]:
        found.append(
            _done_timer(ReportKind.IMMEDIATE, immediate_due, by_kind[ReportKind.IMMEDIATE][0])
        )
    elif needed:
        found.append(_open_timer(ReportKind.IMMEDIATE, immediate_due, now))
    else:
        found.append(Timer(ReportKind.IMMEDIATE, TimerState.NOT_NEEDED, None))
    found.append(
        _update_timer(
            incident,
            by_kind,
            needed=needed,
            immediate_due=immediate_due,
            recovered=recovered,
            now=now,
        )
    )
    written_due = start + dt.timedelta(hours=rule.written_within_hours)
    if by_kind[ReportKind.WRITTEN]:
        found.append(_done_timer(ReportKind.WRITTEN, written_due, by_kind[ReportKind.WRITTEN][0]))
    else:
        found.append(_open_timer(ReportKind.WRITTEN, written_due, now))
    found.append(_investigation_timer(incident, by_kind, recovered, now, cal))
    return found


def _sent(report: IncidentReport) -> tuple[dt.datetime, int]:
    return (report.sent_at, report.pk or 0)


def _update_timer(
    incident: ReportableIncident,
    by_kind: dict[ReportKind, list[dt.datetime]],
    *,
    needed: bool,
    immediate_due: dt.datetime,
    recovered: dt.datetime | None,
    now: dt.datetime,
) -> Timer:
    """At least every ``update_every_minutes`` from the immediate report until recovery.

    After recovery no update is owed: the timer is done, and ``late`` tells whether a gap
    between two reports was ever longer than the period.
    """
    kind, every = ReportKind.UPDATE, dt.timedelta(minutes=incident.rule.update_every_minutes)
    updates = by_kind[ReportKind.UPDATE]
    if not needed:
        if updates:
            return Timer(kind, TimerState.DONE, None, updates[-1])
        return Timer(kind, TimerState.NOT_NEEDED, None)
    immediate = by_kind[ReportKind.IMMEDIATE]
    last = immediate[0] if immediate else immediate_due
    if recovered is None and now < last:
        return Timer(kind, TimerState.WAITING, last + every)
    missed = False
    end = recovered or now
    for at in updates:
        if at <= last or at > end:
            continue
        missed = missed or at - last > every
        last = at
    if recovered is not None:
        missed = missed or recovered - last > every
        return Timer(kind, TimerState.DONE, None, updates[-1] if updates else None, missed)
    timer = _open_timer(kind, last + every, now)
    return Timer(timer.kind, timer.state, timer.due_at, updates[-1] if updates else None, missed)


def _investigation_timer(
    incident: ReportableIncident,
    by_kind: dict[ReportKind, list[dt.datetime]],
    recovered: dt.datetime | None,
    now: dt.datetime,
    cal: calendars.Calendar | None,
) -> Timer:
    kind = ReportKind.INVESTIGATION
    due = (
        after_workdays(recovered, incident.rule.investigation_within_workdays, cal)
        if recovered is not None
        else None
    )
    if by_kind[kind]:
        return _done_timer(kind, due, by_kind[kind][0])
    if due is None:
        return Timer(kind, TimerState.WAITING, None)
    return _open_timer(kind, due, now)


def worst_state(found: Iterable[Timer]) -> TimerState:
    """Overdue before due before anything else: the list page's one-word summary."""
    states = {t.state for t in found}
    for state in (TimerState.OVERDUE, TimerState.DUE, TimerState.WAITING):
        if state in states:
            return state
    return TimerState.DONE


# ---- recording a report -----------------------------------------------------------------------


def record_report(
    incident: ReportableIncident,
    *,
    kind: str,
    by: User,
    sent_at: dt.datetime | None = None,
    note: str = "",
) -> IncidentReport:
    """Write down that a report went to the regulator (a row written once)."""
    now = timezone.now()
    if kind not in ReportKind.values:
        raise Refused(_("Unknown kind of report."), status=400, field="kind")
    when = sent_at or now
    if timezone.is_naive(when):
        raise Refused(_("Give the time with its time zone."), status=400, field="sent_at")
    if when > now:
        raise Refused(_("A report cannot be sent in the future."), status=400, field="sent_at")
    if when < incident.outage_started_at:
        raise Refused(
            _("The report is dated before the outage started."), status=400, field="sent_at"
        )
    if len(note) > 5000:
        raise Refused(
            _("The note is too long (5,000 characters at most)."), status=400, field="note"
        )
    with transaction.atomic():
        report = IncidentReport.objects.create(
            incident=incident, kind=kind, sent_at=when, sent_by=by, note=note.strip()
        )
        TicketEvent.objects.create(
            ticket=incident.ticket,
            at=when,
            kind=EventKind.WORKLOG,
            actor=by,
            detail=_("%(kind)s sent to the regulator. %(note)s")
            % {"kind": ReportKind(kind).label, "note": note.strip()},
        )
    return report


def incidents_with_reports() -> Prefetch[Literal["reports"], QuerySet[IncidentReport], str]:
    """Prefetch a reportable incident's reports in sending order, with who sent them."""
    return Prefetch("reports", queryset=IncidentReport.objects.select_related("sent_by"))
