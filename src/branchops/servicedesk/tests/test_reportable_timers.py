"""The reporting timers of a reportable incident, computed, never stored.

Not recovered within 30 minutes of the start: report at once, then at least hourly until
service is back; a written report within 24 hours of the start; an investigation report
within 5 working days of recovery, counted in the Chinese working-day calendar (public
holidays do not count, make-up workdays do). Reports sent are rows written once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from branchops.core.choices import Role
from branchops.core.testing import make_user
from branchops.servicedesk import reportable
from branchops.servicedesk.models import IncidentReport, ReportableIncident
from branchops.servicedesk.reportable import Timer
from branchops.servicedesk.services import Refused
from branchops.servicedesk.tests.reportable_support import outage, resolve
from branchops.servicedesk.tests.support import local

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shipped_rules")]

MIN = dt.timedelta(minutes=1)


def incident_of(ticket: Any) -> ReportableIncident:
    return ReportableIncident.objects.select_related("rule", "ticket").get(ticket=ticket)


def by_kind(incident: ReportableIncident, now: dt.datetime) -> dict[str, Timer]:
    fresh = incident_of(incident.ticket)
    return {t.kind: t for t in reportable.timers(fresh, now)}


def send(incident: ReportableIncident, kind: str, at: dt.datetime) -> IncidentReport:
    return reportable.record_report(
        incident, kind=kind, by=make_user(Role.NOC_OPERATOR), sent_at=at, note="by phone"
    )


def long_outage(hours: float) -> tuple[ReportableIncident, dt.datetime]:
    """Central trading down since ``hours`` ago, still down; the incident and its start."""
    incident = incident_of(outage("central-trading", minutes_ago=hours * 60))
    return incident, incident.outage_started_at


def test_an_outage_over_within_30_minutes_needs_no_immediate_report_nor_updates() -> None:
    ticket = outage("central-trading", minutes_ago=600)
    resolve(ticket, ticket.created_at + 20 * MIN)
    timers = by_kind(incident_of(ticket), ticket.created_at + 60 * MIN)
    assert (timers["immediate"].state, timers["update"].state) == ("not_needed", "not_needed")
    assert timers["written"].state == "due"
    assert timers["written"].due_at == ticket.created_at + dt.timedelta(hours=24)
    assert timers["investigation"].state == "due"


def test_the_immediate_report_is_due_30_minutes_after_the_start_then_overdue() -> None:
    incident, start = long_outage(5)
    assert by_kind(incident, start + 29 * MIN)["immediate"].state == "due"
    assert by_kind(incident, start + 29 * MIN)["immediate"].due_at == start + 30 * MIN
    assert by_kind(incident, start + 31 * MIN)["immediate"].state == "overdue"
    send(incident, "immediate", start + 32 * MIN)
    done = by_kind(incident, start + 33 * MIN)["immediate"]
    assert (done.state, done.done_at, done.late) == ("done", start + 32 * MIN, True)


def test_updates_are_due_hourly_from_the_immediate_report_until_recovery() -> None:
    incident, start = long_outage(5)
    assert by_kind(incident, start + 10 * MIN)["update"].state == "waiting"
    send(incident, "immediate", start + 25 * MIN)
    first = by_kind(incident, start + 80 * MIN)["update"]
    assert (first.state, first.due_at) == ("due", start + 85 * MIN)
    assert by_kind(incident, start + 86 * MIN)["update"].state == "overdue"
    send(incident, "update", start + 84 * MIN)
    second = by_kind(incident, start + 90 * MIN)["update"]
    assert (second.state, second.due_at, second.late) == ("due", start + 144 * MIN, False)
    resolve(incident.ticket, start + 130 * MIN)
    after = by_kind(incident, start + 200 * MIN)["update"]
    assert (after.state, after.late) == ("done", False)


def test_an_update_sent_late_stays_marked_late_after_recovery() -> None:
    incident, start = long_outage(5)
    send(incident, "immediate", start + 30 * MIN)
    send(incident, "update", start + 100 * MIN)  # 70 minutes after the last report
    resolve(incident.ticket, start + 120 * MIN)
    after = by_kind(incident, start + 200 * MIN)["update"]
    assert (after.state, after.late) == ("done", True)


def test_the_written_report_is_due_24_hours_after_the_start() -> None:
    incident, start = long_outage(30)
    assert by_kind(incident, start + dt.timedelta(hours=23))["written"].state == "due"
    assert by_kind(incident, start + dt.timedelta(hours=25))["written"].state == "overdue"
    send(incident, "written", start + dt.timedelta(hours=20))
    written = by_kind(incident, start + dt.timedelta(hours=25))["written"]
    assert (written.state, written.late) == ("done", False)


def test_the_investigation_report_waits_for_recovery() -> None:
    incident, start = long_outage(3)
    waiting = by_kind(incident, start + 60 * MIN)["investigation"]
    assert (waiting.state, waiting.due_at) == ("waiting", None)


def test_five_working_days_after_a_thursday_end_on_the_next_thursday() -> None:
    # Recovered Thursday 20 November 2025: Fri 21, Mon 24, Tue 25, Wed 26, Thu 27.
    due = reportable.after_workdays(local(2025, 11, 20, 15, 0), 5)
    assert due == local(2025, 11, 27, 23, 59, 59)


def test_five_working_days_over_national_day_count_the_make_up_saturday() -> None:
    # Recovered Monday 29 September 2025: Tue 30 is the first; 1-8 October are holidays;
    # Thu 9, Fri 10, Saturday 11 October (a make-up workday) and Monday 13.
    due = reportable.after_workdays(local(2025, 9, 29, 10, 0), 5)
    assert due == local(2025, 10, 13, 23, 59, 59)


def test_an_investigation_report_after_the_holiday_deadline_is_late() -> None:
    ticket = outage("central-trading", minutes_ago=(timezone.now() - local(2025, 9, 29, 9)) / MIN)
    resolve(ticket, local(2025, 9, 29, 10, 0))
    incident = incident_of(ticket)
    timer = by_kind(incident, local(2025, 10, 12, 12))["investigation"]
    assert (timer.state, timer.due_at) == ("due", local(2025, 10, 13, 23, 59, 59))
    assert by_kind(incident, local(2025, 10, 14, 9))["investigation"].state == "overdue"
    send(incident, "investigation", local(2025, 10, 14, 10))
    done = by_kind(incident, local(2025, 10, 15))["investigation"]
    assert (done.state, done.late) == ("done", True)


def test_a_report_is_written_once_and_on_the_ticket_timeline() -> None:
    incident, _start = long_outage(1)
    report = send(incident, "immediate", timezone.now() - 20 * MIN)
    assert incident.ticket.events.filter(detail__startswith="Immediate report sent").exists()
    with pytest.raises(TypeError, match="never updated"):
        report.save()
    with pytest.raises(TypeError, match="never deleted"):
        IncidentReport.objects.filter(pk=report.pk).delete()


@pytest.mark.parametrize(
    ("kind", "at", "field"),
    [
        ("fax", None, "kind"),
        ("immediate", dt.timedelta(minutes=5), "sent_at"),  # in the future
        ("immediate", -dt.timedelta(hours=3), "sent_at"),  # before the outage began
    ],
)
def test_a_report_that_cannot_be_true_is_refused(
    kind: str, at: dt.timedelta | None, field: str
) -> None:
    incident, _start = long_outage(1)
    when = timezone.now() + at if at is not None else None
    with pytest.raises(Refused) as refused:
        reportable.record_report(incident, kind=kind, by=make_user(), sent_at=when)
    assert (refused.value.status, refused.value.field) == (400, field)
    assert not IncidentReport.objects.exists()
