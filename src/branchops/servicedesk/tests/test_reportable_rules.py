"""Which incidents the regulator must hear of (docs/servicedesk-reportable.md).

The shipped ruleset: central or online trading down 5 minutes is 较大 (large); 30 minutes at
a broker with 100,000 active clients is 重大 (major); the depository or margin trading
down 30 minutes is 较大. An incident is evaluated whenever it changes and every minute
while it is open; its grade only rises.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from branchops.core.choices import Role
from branchops.core.testing import make_user
from branchops.servicedesk import periodic, reportable, services
from branchops.servicedesk.choices import EventKind
from branchops.servicedesk.models import RegulatoryRule, ReportableIncident, TicketEvent
from branchops.servicedesk.tests.reportable_support import (
    outage,
    resolve,
    system,
)
from branchops.servicedesk.tests.support import make_ticket

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shipped_rules")]

MIN = dt.timedelta(minutes=1)


def grade_of(ticket: Any) -> str | None:
    found = ReportableIncident.objects.filter(ticket=ticket).first()
    return found.grade if found else None


def test_the_shipped_rules_are_the_2012_thresholds(shipped_rules: list[RegulatoryRule]) -> None:
    summary = sorted(
        (tuple(r.system_codes), r.min_outage_minutes, r.min_active_clients, r.grade)
        for r in shipped_rules
    )
    assert summary == [
        (("central-trading", "online-trading"), 5, None, "large"),
        (("central-trading", "online-trading"), 30, 100_000, "major"),
        (("margin-trading", "third-party-depository"), 30, None, "large"),
    ]


def test_central_trading_down_just_under_five_minutes_is_not_reportable() -> None:
    ticket = outage("central-trading", minutes_ago=4.9)
    assert grade_of(ticket) is None
    assert reportable.check_reportable(timezone.now()) == 0
    assert grade_of(ticket) is None


def test_central_trading_down_five_minutes_becomes_large_when_the_minute_check_runs() -> None:
    ticket = outage("central-trading", minutes_ago=4.5)
    assert grade_of(ticket) is None
    # Nobody touches the ticket; the engine's minute check sees the outage grow.
    assert reportable.check_reportable(timezone.now() + MIN) == 1
    assert grade_of(ticket) == "large"
    incident = ReportableIncident.objects.get(ticket=ticket)
    assert incident.outage_started_at == ticket.created_at
    line = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.UPDATED).last()
    assert line is not None
    assert "Reportable incident: Large" in line.detail


def test_logging_an_outage_that_began_ten_minutes_ago_is_reportable_at_once() -> None:
    ticket = outage("online-trading", minutes_ago=10)
    assert grade_of(ticket) == "large"  # the ticket's own change ran the check


def test_thirty_minutes_is_major_only_at_a_broker_with_100000_active_clients(
    settings: Any,
) -> None:
    settings.SERVICEDESK_ACTIVE_CLIENTS = 99_999
    small = outage("central-trading", minutes_ago=31)
    assert grade_of(small) == "large"
    settings.SERVICEDESK_ACTIVE_CLIENTS = 100_000
    big = outage("central-trading", minutes_ago=31)
    assert grade_of(big) == "major"


def test_the_grade_rises_as_the_outage_grows_and_never_falls(settings: Any) -> None:
    settings.SERVICEDESK_ACTIVE_CLIENTS = 250_000
    ticket = outage("central-trading", minutes_ago=20)
    assert grade_of(ticket) == "large"
    reportable.check_reportable(timezone.now() + 9 * MIN)
    assert grade_of(ticket) == "large"  # 29 minutes
    reportable.check_reportable(timezone.now() + 11 * MIN)
    assert grade_of(ticket) == "major"  # 31 minutes
    settings.SERVICEDESK_ACTIVE_CLIENTS = 0
    reportable.check_reportable(timezone.now() + 12 * MIN)
    assert grade_of(ticket) == "major"
    lines = TicketEvent.objects.filter(ticket=ticket, kind=EventKind.UPDATED)
    assert [e.detail.split(" (")[0] for e in lines] == [
        "Reportable incident: Large",
        "Reportable incident: Major",
    ]


def resolved_outage(code: str, lasted: dt.timedelta) -> Any:
    """An incident resolved ``lasted`` after it began an hour ago; its system named after."""
    ticket = make_ticket(created_at=timezone.now() - 60 * MIN, impact=1, urgency=1)
    resolve(ticket, ticket.created_at + lasted)
    return services.update_ticket(
        ticket, by=make_user(Role.OPS_ENGINEER), changes={}, systems=[system(code)]
    )


def test_margin_trading_down_29_minutes_is_not_reportable_however_long_ago() -> None:
    ticket = resolved_outage("margin-trading", 29 * MIN)
    assert grade_of(ticket) is None
    reportable.check_reportable(timezone.now() + 600 * MIN)
    assert grade_of(ticket) is None


def test_depository_down_exactly_thirty_minutes_is_large() -> None:
    assert grade_of(resolved_outage("third-party-depository", 30 * MIN)) == "large"


def test_other_systems_requests_and_complaints_are_never_reportable() -> None:
    assert grade_of(outage("market-data", minutes_ago=120)) is None
    complaint = make_ticket(
        kind="complaint",
        systems=[system("central-trading")],
        created_at=timezone.now() - 60 * MIN,
    )
    assert grade_of(complaint) is None


def test_a_rule_can_name_a_category_of_systems() -> None:
    RegulatoryRule.objects.create(
        name="Any real-time system down 2 h",
        system_category="real_time",
        min_outage_minutes=120,
        grade="general",
    )
    assert grade_of(outage("market-data", minutes_ago=121)) == "general"
    assert grade_of(outage("valuation", minutes_ago=500)) is None  # non-real-time


def test_an_inactive_rule_matches_nothing() -> None:
    RegulatoryRule.objects.update(active=False)
    assert grade_of(outage("central-trading", minutes_ago=60)) is None


def test_correcting_the_systems_withdraws_a_match_nothing_was_reported_for() -> None:
    ticket = outage("central-trading", minutes_ago=10)
    assert grade_of(ticket) == "large"
    services.update_ticket(
        ticket, by=make_user(Role.OPS_ENGINEER), changes={}, systems=[system("market-data")]
    )
    assert grade_of(ticket) is None
    assert TicketEvent.objects.filter(
        ticket=ticket, detail__startswith="No longer a reportable incident"
    ).exists()


def test_once_a_report_went_out_the_incident_stays() -> None:
    ticket = outage("central-trading", minutes_ago=10)
    incident = ReportableIncident.objects.get(ticket=ticket)
    reportable.record_report(incident, kind="immediate", by=make_user(Role.NOC_OPERATOR))
    services.update_ticket(
        ticket, by=make_user(Role.OPS_ENGINEER), changes={}, systems=[system("market-data")]
    )
    assert grade_of(ticket) == "large"


def test_a_failing_check_never_costs_the_change_to_the_ticket(monkeypatch: Any) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(reportable, "evaluate", broken)
    ticket = outage("central-trading", minutes_ago=10)
    assert ticket.pk is not None
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.CREATED).exists()
    assert grade_of(ticket) is None


def test_the_desk_minute_notes_sla_crossings_and_reportable_incidents() -> None:
    ticket = outage("online-trading", minutes_ago=4)
    noted, found = periodic.desk_minute(timezone.now() + 2 * MIN)
    assert found == 1
    assert grade_of(ticket) == "large"
    assert noted >= 0
