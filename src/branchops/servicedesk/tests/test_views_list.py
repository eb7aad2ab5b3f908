"""The ticket list: open tickets by default, most urgent first, with SLA timers coloured by
state; its filters and the htmx refresh; who sees what (liaisons their own sites only,
auditors everything but no "log a ticket"); the sidebar's section and its breach count."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from branchops.core.choices import Role
from branchops.core.testing import make_user
from branchops.servicedesk import services
from branchops.servicedesk.choices import ClockKind, ClockState
from branchops.servicedesk.sla import Clock
from branchops.servicedesk.templatetags.servicedesk import clock_time, sla_badge
from branchops.servicedesk.tests.test_views_support import (
    HTMX,
    build_desk,
    client_for,
    clock_states,
    open_ticket,
)

pytestmark = pytest.mark.django_db

LIST = reverse("servicedesk:ticket_list")


@pytest.fixture
def desk() -> dict[str, Any]:
    return build_desk()


def numbers(response: Any) -> list[str]:
    return [t.number for t in response.context["page_obj"]]


def test_every_page_needs_sign_in(desk: dict[str, Any]) -> None:
    ticket = open_ticket(desk)
    for url in (
        LIST,
        reverse("servicedesk:ticket_add"),
        reverse("servicedesk:ticket_detail", args=[ticket.pk]),
    ):
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("core:login"))


def test_open_tickets_most_urgent_first(desk: dict[str, Any]) -> None:
    p3 = open_ticket(desk, title="Printer jammed", minutes_ago=30)
    p1 = open_ticket(desk, title="Trading down", impact=1, urgency=1)
    p2 = open_ticket(desk, title="One counter down", impact=1, urgency=2, site="other")
    done = open_ticket(desk, title="Old trouble")
    services.move(done, "resolved", by=desk["noc"], note="rebooted")
    response = client_for(desk["noc"]).get(LIST)
    assert response.status_code == 200
    assert numbers(response) == [p1.number, p2.number, p3.number]
    page = response.content.decode()
    assert "Old trouble" not in page
    assert "30 min ago" in page
    assert 'data-bo-priority="1"' in page
    assert "BR-OTHER" in page
    assert "Nobody yet" in page
    assert "Log a ticket" in page


def test_the_list_speaks_chinese(desk: dict[str, Any]) -> None:
    open_ticket(desk)
    page = client_for(desk["noc"], "zh-hans").get(LIST).content.decode()
    assert '<html lang="zh-hans">' in page
    assert "站点" in page  # the Site column (new wording waits for the translators)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["p1 own", "p3 other assigned", "p3 own pending"]),
        ({"open": "no"}, ["p3 own resolved"]),
        ({"open": "all"}, ["p1 own", "p3 other assigned", "p3 own pending", "p3 own resolved"]),
        ({"status": "resolved"}, ["p3 own resolved"]),
        ({"status": "pending_spare_part"}, ["p3 own pending"]),
        ({"kind": "request"}, ["p3 other assigned"]),
        ({"priority": "1"}, ["p1 own"]),
        ({"q": "pending"}, ["p3 own pending"]),
        ({"q": "BR-OTHER"}, ["p3 other assigned"]),
        ({"breached": "yes"}, ["p1 own"]),
        ({"breached": "no"}, ["p3 other assigned", "p3 own pending"]),
    ],
)
def test_list_filters(desk: dict[str, Any], query: dict[str, str], expected: list[str]) -> None:
    _filter_fixture(desk)
    response = client_for(desk["noc"]).get(LIST, query)
    titles = sorted(t.title for t in response.context["page_obj"])
    assert titles == sorted(expected)


def _filter_fixture(desk: dict[str, Any]) -> None:
    open_ticket(desk, title="p1 own", impact=1, urgency=1, minutes_ago=20)  # response breached
    open_ticket(
        desk,
        title="p3 other assigned",
        site="other",
        kind="request",
        request_type="remote_support",
        impact=3,
        urgency=1,
        group=desk["network"],
        assignee=desk["engineer"],
    )
    pending = open_ticket(desk, title="p3 own pending", impact=3, urgency=1)
    services.assign(pending, group=None, assignee=desk["engineer"], by=desk["noc"])
    services.move(pending, "pending_spare_part", by=desk["noc"], note="PSU ordered")
    resolved = open_ticket(desk, title="p3 own resolved", impact=3, urgency=1)
    services.move(resolved, "resolved", by=desk["noc"], note="cable reseated")


def test_filters_by_site_region_group_and_assignee(desk: dict[str, Any]) -> None:
    _filter_fixture(desk)
    client = client_for(desk["noc"])

    def titles(query: dict[str, Any]) -> list[str]:
        return sorted(t.title for t in client.get(LIST, query).context["page_obj"])

    assert titles({"site": desk["other"].pk}) == ["p3 other assigned"]
    assert titles({"region": desk["other"].region_id}) == ["p3 other assigned"]
    assert titles({"group": desk["network"].pk}) == ["p3 other assigned"]
    assert titles({"assignee": desk["engineer"].pk}) == ["p3 other assigned", "p3 own pending"]


def test_the_htmx_refresh_answers_the_table_only_and_keeps_the_filters(
    desk: dict[str, Any],
) -> None:
    open_ticket(desk, title="p1 own", impact=1, urgency=1)
    response = client_for(desk["noc"]).get(LIST, {"priority": "1"}, headers=HTMX)
    page = response.content.decode()
    assert response.status_code == 200
    assert page.startswith('<div id="object-list"')
    assert "<html" not in page
    assert 'hx-get="/servicedesk/?priority=1"' in page
    assert 'hx-trigger="every 30s"' in page
    assert "p1 own" in page
    assert "HX-Request" in response["Vary"]


def test_sla_badges_are_coloured_by_state(desk: dict[str, Any]) -> None:
    """P1 (7x24): response 15 min, arrival 2 h, resolution 4 h."""
    fresh = open_ticket(desk, title="fresh", impact=1, urgency=1)
    warned = open_ticket(desk, title="warned", impact=1, urgency=1, minutes_ago=12)
    late = open_ticket(desk, title="late", impact=1, urgency=1, minutes_ago=20)
    waiting = open_ticket(desk, title="waiting", impact=1, urgency=1)
    services.assign(waiting, group=None, assignee=desk["engineer"], by=desk["noc"])
    services.move(waiting, "pending_spare_part", by=desk["noc"], note="PSU ordered")
    page = client_for(desk["noc"]).get(LIST).content.decode()
    assert clock_states(page, fresh) == {
        "response": "running",
        "arrival": "running",
        "resolution": "running",
    }
    assert clock_states(page, warned)["response"] == "warning"  # 12 of 15 min
    assert clock_states(page, late)["response"] == "breached"
    assert clock_states(page, waiting) == {
        "response": "met",
        "arrival": "paused",
        "resolution": "paused",
    }
    assert "bg-yellow text-yellow-fg" in page
    assert "bg-red text-red-fg" in page
    assert "overdue" in page


def _clock(state: ClockState, percent: float, *, warning: bool = False) -> Clock:
    target = 3600.0
    elapsed = target * percent / 100
    return Clock(
        kind=ClockKind.RESOLUTION,
        target_seconds=target,
        elapsed_seconds=elapsed,
        remaining_seconds=target - elapsed,
        percent=percent,
        state=state,
        warning=warning,
        due_at=timezone.now() + dt.timedelta(seconds=target - elapsed),
        stopped_at=None,
    )


@pytest.mark.parametrize(
    ("clock", "css", "text"),
    [
        (_clock(ClockState.RUNNING, 50), "bg-green text-green-fg", "30 min left"),
        (_clock(ClockState.RUNNING, 80, warning=True), "bg-yellow text-yellow-fg", "12 min left"),
        (_clock(ClockState.BREACHED, 150, warning=True), "bg-red text-red-fg", "30 min overdue"),
        (_clock(ClockState.PAUSED, 25), "bg-secondary text-secondary-fg", "paused, 45 min left"),
        (_clock(ClockState.MET, 40), "bg-green-lt", "met"),
    ],
)
def test_one_badge_per_clock_state(clock: Clock, css: str, text: str) -> None:
    html = str(sla_badge(clock))
    assert f'class="badge {css} bo-clock"' in html
    assert clock_time(clock) == text
    assert text in html


def test_an_auditor_reads_every_ticket_but_logs_none(desk: dict[str, Any]) -> None:
    open_ticket(desk, title="own one")
    open_ticket(desk, title="other one", site="other")
    auditor = make_user(Role.AUDITOR)
    client = client_for(auditor)
    response = client.get(LIST)
    assert sorted(t.title for t in response.context["page_obj"]) == ["other one", "own one"]
    page = response.content.decode()
    assert reverse("servicedesk:ticket_add") not in page  # neither button nor sidebar item
    assert client.get(reverse("servicedesk:ticket_add")).status_code == 403


def test_a_liaison_sees_only_the_tickets_of_their_own_sites(desk: dict[str, Any]) -> None:
    open_ticket(desk, title="own one")
    hidden = open_ticket(desk, title="other one", site="other")
    liaison = make_user(Role.BRANCH_LIAISON, sites=(desk["own"],))
    client = client_for(liaison)
    response = client.get(LIST, {"open": "all"})
    assert [t.title for t in response.context["page_obj"]] == ["own one"]
    assert "Log a ticket" in response.content.decode()
    assert client.get(LIST, {"q": "other"}).context["page_obj"].paginator.count == 0
    url = reverse("servicedesk:ticket_detail", args=[hidden.pk])
    assert client.get(url).status_code == 404


def test_the_sidebar_counts_open_tickets_past_a_target(desk: dict[str, Any]) -> None:
    open_ticket(desk, title="late", impact=1, urgency=1, minutes_ago=20)
    open_ticket(desk, title="late too", impact=1, urgency=1, minutes_ago=25, site="other")
    open_ticket(desk, title="fine", impact=1, urgency=1)
    done = open_ticket(desk, title="late but done", impact=1, urgency=1, minutes_ago=30)
    services.move(done, "resolved", by=desk["noc"], note="fixed")
    page = client_for(desk["noc"]).get(reverse("core:home")).content.decode()
    assert "Service desk" in page
    assert "data-bo-breached>2</span>" in page
    liaison = make_user(Role.BRANCH_LIAISON, sites=(desk["own"],))
    page = client_for(liaison).get(reverse("core:home")).content.decode()
    assert "data-bo-breached>1</span>" in page
    assert "Log a ticket" in page
