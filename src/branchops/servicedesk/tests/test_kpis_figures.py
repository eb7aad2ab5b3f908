"""KPIs on a second hand-built month, worked out by hand: an arrival clock, visits, a P1, a
group-only assignment, a ticket still waiting, satisfaction answers; filters; the cache of
done tickets' facts (TicketSummary) and its invalidation; the reportable-incident hook.

September 2026, P2 on a 7x24 policy replaced for round numbers (respond 30, arrive 120,
resolve 480 minutes); the P1 keeps the shipped 7x24 policy (15 / 120 / 240):

* D (P2, east, net-fw): person after 10 min, arrived after 100, resolved after 200, closed:
  every clock met, fixed first time; answered 4 of 5.
* E (P2, east, net): person after 40 (response breached), arrived after 90, a second visit
  arrives after 300, resolved after 400: arrival and resolution met, not fixed first time
  (two visits); answered 2 of 5.
* F (P1, west, desk): group only after 5 min (not a response), person after 20 (response
  breached), resolved after 60 without a visit (arrival stops there: met): fixed first time.
* G (P2, west, net-fw): person after 10 (response met), waiting for the vendor since 20:
  open, 77 days old on NOW, other clocks paused.

MTTA (10 + 40 + 20 + 10) / 4 = 20 min; MTTR (200 + 400 + 60) / 3 = 220 min (no pauses);
overall SLA: D met, E and F breached, G undecided: 1 / 3. Response 2 / 4, arrival 3 / 3,
resolution 3 / 3. First-time fix 2 / 3. Satisfaction: 2 answers of 3 asked, mean 3.0.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from branchops.cmdb.choices import RegionLevel
from branchops.core.choices import Role
from branchops.core.models import User
from branchops.core.testing import make_region, make_site, make_user
from branchops.servicedesk import kpis, satisfaction, services
from branchops.servicedesk.models import (
    Category,
    RegulatoryRule,
    ReportableIncident,
    SlaPolicy,
    TicketSummary,
)
from branchops.servicedesk.tests.support import engineer, local, make_group, make_ticket, policy

pytestmark = pytest.mark.django_db

NOW = local(2026, 11, 20, 12, 0)


def at(start: dt.datetime, n: float) -> dt.datetime:
    return start + dt.timedelta(minutes=n)


@pytest.fixture
def september() -> dict[str, Any]:
    policy(2, "24x7", response=30, resolution=480, arrival_minutes=120)
    net = Category.objects.create(code="net", name="Network")
    fw = Category.objects.create(code="net-fw", name="Firewall", parent=net)
    desk = Category.objects.create(code="desk", name="Desktops")
    east_top = make_region(RegionLevel.REGION, code="east", name="East")
    west_top = make_region(RegionLevel.REGION, code="west", name="West")
    east = make_site(code="BR-E", region=make_region(RegionLevel.PROVINCE, parent=east_top))
    west = make_site(code="BR-W", region=make_region(RegionLevel.PROVINCE, parent=west_top))
    group = make_group(name="Field")
    one, two = engineer(group), engineer(group)
    noc = make_user(Role.NOC_OPERATOR)
    p2 = {"impact": 2, "urgency": 1}

    d0 = local(2026, 9, 1, 10)
    d = make_ticket(by=noc, site=east, category=fw, created_at=d0, **p2)
    services.assign(d, group=group, assignee=one, by=noc, at=at(d0, 10))
    services.move(d, "in_progress", by=noc, at=at(d0, 11))
    services.record_visit(d, by=one, departed_at=at(d0, 60), arrived_at=at(d0, 100),
                          finished_at=at(d0, 150))  # fmt: skip
    services.move(d, "resolved", by=noc, note="fixed", at=at(d0, 200))
    services.move(d, "closed", by=noc, at=at(d0, 300))
    satisfaction.answer(d, score=4, comment="fine", at=at(d0, 320))

    e0 = local(2026, 9, 2, 10)
    e = make_ticket(by=noc, site=east, category=net, created_at=e0, **p2)
    services.assign(e, group=group, assignee=one, by=noc, at=at(e0, 40))
    services.move(e, "in_progress", by=noc, at=at(e0, 41))
    services.record_visit(e, by=one, arrived_at=at(e0, 90), finished_at=at(e0, 120))
    services.record_visit(e, by=one, departed_at=at(e0, 250), arrived_at=at(e0, 300))
    services.move(e, "resolved", by=noc, note="fixed", at=at(e0, 400))
    satisfaction.answer(e, score=2, at=at(e0, 500))

    f0 = local(2026, 9, 3, 10)
    f = make_ticket(by=noc, site=west, category=desk, created_at=f0, impact=1, urgency=1)
    services.assign(f, group=group, assignee=None, by=noc, at=at(f0, 5))
    services.assign(f, group=group, assignee=one, by=noc, at=at(f0, 20))
    services.move(f, "in_progress", by=noc, at=at(f0, 21))
    services.move(f, "resolved", by=noc, note="fixed", at=at(f0, 60))

    g0 = local(2026, 9, 4, 10)
    g = make_ticket(by=noc, site=west, category=fw, created_at=g0, **p2)
    services.assign(g, group=group, assignee=two, by=noc, at=at(g0, 10))
    services.move(g, "in_progress", by=noc, at=at(g0, 11))
    services.move(g, "pending_vendor", by=noc, note="carrier", at=at(g0, 20))
    return {"admin": make_user(Role.ADMIN), "east": east, "tickets": (d, e, f, g)}


def report(user: User, by: str = "month", **filters: Any) -> kpis.Report:
    period = kpis.parse_period("2026-09", "2026-09", NOW.date())
    return kpis.report(user, period, by, now=NOW, filters=kpis.Filters(**filters))


def test_known_answers(september: dict[str, Any]) -> None:
    total = report(september["admin"]).total
    assert (total["tickets"], total["incidents"], total["major_incidents"]) == (4, 4, 1)
    assert total["mtta"] == {"tickets": 4, "wall_minutes": 20.0, "business_minutes": 20.0}
    assert total["mttr"] == {"tickets": 3, "wall_minutes": 220.0, "business_minutes": 220.0}
    sla = total["sla"]
    assert (sla["decided"], sla["met"], sla["breached"], sla["attainment"]) == (3, 1, 2, 0.3333)
    assert sla["response"] == {"decided": 4, "met": 2, "breached": 2, "attainment": 0.5}
    assert sla["arrival"] == {"decided": 3, "met": 3, "breached": 0, "attainment": 1.0}
    assert sla["resolution"] == {"decided": 3, "met": 3, "breached": 0, "attainment": 1.0}
    assert total["first_time_fix"] == {"resolved": 3, "fixed_first_time": 2, "rate": 0.6667}
    assert total["backlog"] == {
        "open": 1, "under_1d": 0, "1d_3d": 0, "3d_7d": 0, "7d_30d": 0, "over_30d": 1,
    }  # fmt: skip
    assert total["satisfaction"] == {
        "asked": 3, "answered": 2, "response_rate": 0.6667, "average_score": 3.0,
        "scores": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0},
    }  # fmt: skip


def test_groups_months_and_years(september: dict[str, Any]) -> None:
    found = report(september["admin"], "region")
    by_region = {g["key"]: g for g in found.groups}
    assert {k: g["tickets"] for k, g in by_region.items()} == {"east": 2, "west": 2}
    assert by_region["east"]["label"] == "East"
    assert by_region["east"]["sla"]["attainment"] == 0.5
    assert by_region["west"]["sla"]["attainment"] == 0.0
    assert by_region["west"]["satisfaction"]["asked"] == 1
    by_category = {g["key"]: g["tickets"] for g in report(september["admin"], "category").groups}
    assert by_category == {"desk": 1, "net": 1, "net-fw": 2}  # not rolled up
    month = found.per_month[0]
    assert month["by_category"] == {"desk": 1, "net": 3}  # rolled up to the top
    assert month["by_priority"] == {"P1": 1, "P2": 3, "P3": 0, "P4": 0}
    assert found.categories == [{"key": "desk", "label": "Desktops"},
                                {"key": "net", "label": "Network"}]  # fmt: skip
    assert found.per_year == [{"year": 2026, "major_incidents": 1, "reportable_incidents": 0}]


def test_filters(september: dict[str, Any]) -> None:
    admin = september["admin"]
    assert report(admin, category="net").total["tickets"] == 3  # with net-fw below it
    assert report(admin, region="east").total["tickets"] == 2
    only_p1 = report(admin, priority=1).total
    assert (only_p1["tickets"], only_p1["major_incidents"]) == (1, 1)
    assert kpis.parse_filters("east", "", "P1") == kpis.Filters("east", "", 1)
    with pytest.raises(kpis.KpiRangeError) as refused:
        kpis.parse_filters("", "", "P9")
    assert refused.value.field == "priority"


def test_a_liaison_sees_their_sites_only(september: dict[str, Any]) -> None:
    liaison = make_user(Role.BRANCH_LIAISON, sites=(september["east"],))
    total = report(liaison).total
    assert (total["tickets"], total["major_incidents"]) == (2, 0)
    assert total["satisfaction"]["average_score"] == 3.0


def test_done_tickets_are_summarised_once_and_read_from_the_summary(
    september: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    admin = september["admin"]
    first = report(admin).total
    d, e, f, _g = september["tickets"]
    assert set(TicketSummary.objects.values_list("ticket_id", flat=True)) == {d.pk, e.pk, f.pk}
    with django_assert_max_num_queries(8):  # the same however many tickets
        assert report(admin).total == first
    # The summary is what is read: a forged row with the right key shows through...
    TicketSummary.objects.filter(ticket=f).update(first_time_fix=False)
    assert report(admin).total["first_time_fix"]["fixed_first_time"] == 1
    # ...until the policy's targets change, then the ticket is computed again.
    SlaPolicy.objects.filter(pk=f.sla_policy_id).update(resolution_minutes=241)
    assert report(admin).total == first


def test_a_new_event_makes_the_summary_stale(september: dict[str, Any]) -> None:
    admin = september["admin"]
    report(admin)
    f = september["tickets"][2]
    services.reopen(f, by=admin, note="back again", at=local(2026, 9, 5, 9))
    total = report(admin).total
    assert total["first_time_fix"] == {"resolved": 2, "fixed_first_time": 1, "rate": 0.5}
    assert total["backlog"]["open"] == 2
    services.move(f, "resolved", by=admin, note="now for good", at=local(2026, 9, 5, 10))
    total = report(admin).total
    assert total["first_time_fix"] == {"resolved": 3, "fixed_first_time": 1, "rate": 0.3333}
    assert TicketSummary.objects.get(ticket=f).first_time_fix is False
    TicketSummary.objects.all().delete()  # a cache: nothing is lost
    assert report(admin).total == total


def test_reportable_incidents_count_by_the_year_their_outage_began(
    september: dict[str, Any], shipped_rules: list[RegulatoryRule]
) -> None:
    d = september["tickets"][0]
    rule = shipped_rules[0]
    ReportableIncident.objects.create(
        ticket=d, rule=rule, grade=rule.grade, outage_started_at=d.created_at
    )
    found = report(september["admin"])
    assert found.total["reportable_incidents"] == 1
    assert found.per_year == [{"year": 2026, "major_incidents": 1, "reportable_incidents": 1}]
