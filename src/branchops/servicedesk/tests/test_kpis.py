"""KPIs on hand-built tickets with known answers, grouping, liaison scoping, and the API's
refusals of bad ranges.

Three P3 tickets in October 2026 on a round-number 7x24 policy (respond in 60 min, resolve
in 240 min), worked through the services with back-dated times:

* A: assigned after 20 min, resolved after 90 min: met, fixed first time;
* B: assigned after 90 min (response breached), waits 2 h for the vendor, resolved after
  300 min wall (180 min business): breached, fixed first time;
* C: assigned after 10 min, resolved after 60 min, reopened an hour later, given to another
  person, resolved again after 180 min wall (120 min business): met, not fixed first time.

So MTTA = (20 + 90 + 10) / 3 = 40 min; MTTR wall = (90 + 300 + 180) / 3 = 190 min, business
(90 + 180 + 120) / 3 = 130 min; attainment 2/3; first-time fix 2/3.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import path
from ninja import NinjaAPI

from branchops.core.api import BearerOrSession, BearerToken
from branchops.core.api import api as product_api
from branchops.core.choices import Role
from branchops.core.models import User
from branchops.core.testing import ApiClient, make_site, make_user
from branchops.servicedesk import api as servicedesk_api
from branchops.servicedesk import kpis, services
from branchops.servicedesk.models import AssignmentGroup, Ticket
from branchops.servicedesk.tests.support import engineer, local, make_group, make_ticket, policy

test_api = NinjaAPI(
    auth=[BearerToken(), BearerOrSession()],
    urls_namespace="servicedesk-kpi-tests",
    docs_url=None,
    openapi_url="/openapi.json",
)
test_api._exception_handlers = product_api._exception_handlers
test_api.add_router("/", servicedesk_api.router())
urlpatterns = [path("api/v1/", test_api.urls)]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

NOW = local(2026, 11, 20, 12, 0)


def minutes(start: dt.datetime, n: float) -> dt.datetime:
    return start + dt.timedelta(minutes=n)


def work(ticket: Ticket, group: AssignmentGroup, person: User, at: dt.datetime, done: float,
         *, respond: float, by: User) -> None:  # fmt: skip
    services.assign(ticket, group=group, assignee=person, by=by, at=minutes(at, respond))
    services.move(ticket, "in_progress", by=by, at=minutes(at, respond + 1))
    services.move(ticket, "resolved", by=by, note="fixed", at=minutes(at, done))


@pytest.fixture
def october() -> dict[str, Any]:
    policy(3, "24x7", response=60, resolution=240)
    group = make_group(name="Network")
    one, two = engineer(group), engineer(group)
    noc = make_user(Role.NOC_OPERATOR)
    north, south = make_site(code="BR-N"), make_site(code="BR-S")

    a_at = local(2026, 10, 5, 10, 0)
    a = make_ticket(by=noc, site=north, created_at=a_at)
    work(a, group, one, a_at, 90, respond=20, by=noc)
    services.move(a, "closed", by=noc, at=minutes(a_at, 120))

    b_at = local(2026, 10, 6, 10, 0)
    b = make_ticket(by=noc, site=north, created_at=b_at)
    services.assign(b, group=group, assignee=one, by=noc, at=minutes(b_at, 90))
    services.move(b, "in_progress", by=noc, at=minutes(b_at, 100))
    services.move(b, "pending_vendor", by=noc, note="carrier", at=minutes(b_at, 120))
    services.move(b, "in_progress", by=noc, at=minutes(b_at, 240))
    services.move(b, "resolved", by=noc, note="line back", at=minutes(b_at, 300))

    c_at = local(2026, 10, 7, 10, 0)
    c = make_ticket(by=noc, site=south, created_at=c_at)
    work(c, group, one, c_at, 60, respond=10, by=noc)
    services.reopen(c, by=noc, note="again", at=minutes(c_at, 120))
    services.assign(c, group=group, assignee=two, by=noc, at=minutes(c_at, 125))
    services.move(c, "in_progress", by=noc, at=minutes(c_at, 130))
    services.move(c, "resolved", by=noc, note="for good", at=minutes(c_at, 180))

    # Open since 2 November, P4 (shipped 5x8 policy): the backlog, 18 days old on NOW.
    make_ticket(by=noc, site=south, impact=3, urgency=3, created_at=local(2026, 11, 2, 10))
    return {"north": north, "south": south, "admin": make_user(Role.ADMIN)}


def report(user: User, by: str = "month", start: str = "2026-10", end: str = "2026-11") -> Any:
    return kpis.report(user, kpis.parse_period(start, end, NOW.date()), by, now=NOW)


def test_known_answers(october: dict[str, Any]) -> None:
    found = report(october["admin"], start="2026-10", end="2026-10")
    total = found.total
    assert total["tickets"] == 3
    assert total["mtta"] == {"tickets": 3, "wall_minutes": 40.0, "business_minutes": 40.0}
    assert total["mttr"] == {"tickets": 3, "wall_minutes": 190.0, "business_minutes": 130.0}
    sla = total["sla"]
    assert (sla["decided"], sla["met"], sla["breached"], sla["attainment"]) == (3, 2, 1, 0.6667)
    # Per clock: B's response came after 90 of 60 minutes; every resolution within 240
    # business minutes (B: 180); the P3 policy here has no arrival target.
    assert sla["response"] == {"decided": 3, "met": 2, "breached": 1, "attainment": 0.6667}
    assert sla["resolution"] == {"decided": 3, "met": 3, "breached": 0, "attainment": 1.0}
    assert sla["arrival"] == {"decided": 0, "met": 0, "breached": 0, "attainment": None}
    assert total["first_time_fix"] == {"resolved": 3, "fixed_first_time": 2, "rate": 0.6667}
    assert total["major_incidents"] == 0
    assert total["reportable_incidents"] == 0
    assert total["satisfaction"] == {
        "asked": 3, "answered": 0, "response_rate": 0.0, "average_score": None,
        "scores": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    }  # fmt: skip
    assert total["backlog"]["open"] == 0


def test_grouping_by_month_priority_and_site(october: dict[str, Any]) -> None:
    admin = october["admin"]
    by_month = {g["key"]: g for g in report(admin).groups}
    assert list(by_month) == ["2026-10", "2026-11"]
    assert by_month["2026-11"]["tickets"] == 1
    assert by_month["2026-11"]["backlog"] == {
        "open": 1, "under_1d": 0, "1d_3d": 0, "3d_7d": 0, "7d_30d": 1, "over_30d": 0,
    }  # fmt: skip
    assert by_month["2026-11"]["mtta"]["tickets"] == 0
    assert by_month["2026-11"]["mtta"]["wall_minutes"] is None
    by_priority = {g["key"]: g["tickets"] for g in report(admin, "priority").groups}
    assert by_priority == {"P3": 3, "P4": 1}
    by_site = {g["key"]: g for g in report(admin, "site").groups}
    assert {k: g["tickets"] for k, g in by_site.items()} == {"BR-N": 2, "BR-S": 2}
    assert by_site["BR-N"]["sla"]["attainment"] == 0.5
    assert by_site["BR-S"]["first_time_fix"]["rate"] == 0.0
    months = report(admin).per_month
    assert [(m["month"], m["tickets"]) for m in months] == [("2026-10", 3), ("2026-11", 1)]
    assert months[0]["by_priority"] == {"P1": 0, "P2": 0, "P3": 3, "P4": 0}
    assert months[1]["by_priority"] == {"P1": 0, "P2": 0, "P3": 0, "P4": 1}
    assert months[0]["by_category"] == {"": 3}  # the hand-built tickets have no category


def test_a_quiet_month_is_listed_with_empty_figures(october: dict[str, Any]) -> None:
    groups = report(october["admin"], start="2026-09", end="2026-10").groups
    assert [(g["key"], g["tickets"]) for g in groups] == [("2026-09", 0), ("2026-10", 3)]
    assert groups[0]["sla"]["attainment"] is None


def test_a_liaison_counts_only_their_sites(october: dict[str, Any]) -> None:
    liaison = make_user(Role.BRANCH_LIAISON, sites=(october["north"],))
    total = report(liaison).total
    assert total["tickets"] == 2
    assert total["sla"]["breached"] == 1
    body = ApiClient(liaison).get("/api/v1/kpis/?from=2026-10&to=2026-11&by=site").json()
    assert [g["key"] for g in body["groups"]] == ["BR-N"]


def test_the_api_answers_with_the_figures(october: dict[str, Any]) -> None:
    answer = ApiClient(october["admin"]).get("/api/v1/kpis/?from=2026-10&to=2026-10&by=priority")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["from"], body["to"], body["by"]) == ("2026-10", "2026-10", "priority")
    assert body["total"]["mttr"]["business_minutes"] == 130.0
    assert body["groups"][0]["key"] == "P3"
    assert body["per_year"] == [{"year": 2026, "major_incidents": 0, "reportable_incidents": 0}]


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ("from=2026-13", "from", "not a month"),
        ("from=26-1", "from", "not a month"),
        ("to=2999-01", "to", "has not begun yet"),
        ("from=2026-06&to=2026-01", "from", "starts (2026-06) after it ends (2026-01)"),
        ("from=2020-01&to=2026-01", "from", "covers 73 months"),
        ("by=week", "by", "Group by one of"),
        ("region=atlantis", "region", "There is no region atlantis"),
        ("category=nope", "category", "There is no category nope"),
        ("priority=7", "priority", "1 to 4"),
    ],
)
def test_bad_ranges_are_refused_with_reasons(query: str, field: str, says: str) -> None:
    answer = ApiClient(make_user(Role.AUDITOR)).get(f"/api/v1/kpis/?{query}")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    assert says in error["message"]
    assert list(error["fields"]) == [field]
