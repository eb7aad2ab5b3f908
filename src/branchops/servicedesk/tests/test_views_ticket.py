"""Logging a ticket and working it through its page: the form for a phone call (with the
derived priority, and each refusal on its field), the ticket's page (clocks, linked alerts,
timeline, escaped text), and the actions: allowed moves only, notes where the service needs
them, assignment, work log, on-site visits; who may do what."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from branchops.alerts.models import Alert
from branchops.core.choices import Role
from branchops.core.testing import make_user
from branchops.servicedesk import services
from branchops.servicedesk.choices import EventKind
from branchops.servicedesk.models import AssignmentGroup, Ticket, TicketEvent
from branchops.servicedesk.tests.test_views_support import (
    XSS,
    XSS_ESCAPED,
    build_desk,
    client_for,
    csrf_post,
    open_ticket,
)

pytestmark = pytest.mark.django_db

ADD = reverse("servicedesk:ticket_add")
LOCAL = "%Y-%m-%dT%H:%M"


@pytest.fixture
def desk() -> dict[str, Any]:
    return build_desk()


def url(name: str, ticket: Ticket) -> str:
    return reverse(f"servicedesk:{name}", args=[ticket.pk])


def phone_call(desk: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {
        "kind": "incident",
        "site": desk["own"].pk,
        "title": "Trading terminals frozen",
        "description": "All six terminals on the second floor",
        "impact": 2,
        "urgency": 1,
        "source": "phone",
        "reporter_name": "Wang Fang",
        "reporter_contact": "0571-8888 0000",
        **kw,
    }


def field_errors(response: Any, form: str = "form") -> dict[str, list[str]]:
    return {k: list(v) for k, v in response.context[form].errors.items()}


def local(at: dt.datetime) -> str:
    return timezone.localtime(at).strftime(LOCAL)


# ---- logging a ticket ----------------------------------------------------------------------


def test_the_form_offers_phone_and_a_derived_priority(desk: dict[str, Any]) -> None:
    response = client_for(desk["noc"]).get(ADD)
    assert response.status_code == 200
    form = response.context["form"]
    assert form["source"].initial == "phone"
    assert response.context["priority"] == 3  # medium x medium
    page = response.content.decode()
    assert "data-bo-searchable" in page
    assert reverse("servicedesk:priority_preview") in page
    preview = client_for(desk["noc"]).get(
        reverse("servicedesk:priority_preview"), {"impact": 1, "urgency": 1}
    )
    assert 'data-bo-priority="1"' in preview.content.decode()
    nonsense = client_for(desk["noc"]).get(
        reverse("servicedesk:priority_preview"), {"impact": 9, "urgency": "x"}
    )
    assert "Choose impact and urgency." in nonsense.content.decode()


def test_choosing_the_site_brings_its_devices(desk: dict[str, Any]) -> None:
    response = client_for(desk["noc"]).get(
        ADD, {"site": desk["own"].pk}, headers={"hx-request": "true", "hx-target": "field-devices"}
    )
    page = response.content.decode()
    assert page.startswith('<div class="mb-2" id="field-devices">')
    assert "own-fw" in page
    assert "other-fw" not in page


def test_a_noc_operator_logs_a_phone_call(desk: dict[str, Any]) -> None:
    client = client_for(desk["noc"])
    data = phone_call(
        desk, devices=[desk["own_fw"].pk], group=desk["network"].pk, assignee=desk["engineer"].pk
    )
    response = csrf_post(client, ADD, data)
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response.url == url("ticket_detail", ticket)
    assert ticket.number.startswith("INC-")
    assert (ticket.priority, ticket.source, ticket.status) == (2, "phone", "assigned")
    assert ticket.opened_by == desk["noc"]
    assert list(ticket.devices.all()) == [desk["own_fw"]]
    page = client.get(response.url).content.decode()
    assert f"Logged {ticket.number}: Trading terminals frozen" in page
    assert "Wang Fang" in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"kind": "request"}, "request_type", "Say what the service request is for."),
        ({"request_type": "consultation"}, "request_type", "Only service requests have a"),
        ({"title": "   "}, "title", "This field is required."),
        ({"created_at": "2999-01-01T10:00"}, "created_at", "is in the future."),
        ({"assignee": "engineer", "group": "other"}, "assignee", "is not a member of"),
    ],
)
def test_refusals_land_on_their_fields(
    desk: dict[str, Any], changes: dict[str, Any], field: str, message: str
) -> None:
    if changes.get("assignee") == "engineer":
        other = AssignmentGroup.objects.create(name="Desktop")
        changes = {"assignee": desk["engineer"].pk, "group": other.pk}
    response = csrf_post(client_for(desk["noc"]), ADD, phone_call(desk, **changes))
    assert response.status_code == 200
    errors = field_errors(response)
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert not Ticket.objects.exists()
    assert "is-invalid" in response.content.decode()


def test_a_liaison_logs_for_their_own_sites_only(desk: dict[str, Any]) -> None:
    liaison = make_user(Role.BRANCH_LIAISON, sites=(desk["own"],))
    client = client_for(liaison)
    sites = list(client.get(ADD).context["form"].fields["site"].queryset)
    assert sites == [desk["own"]]
    refused = csrf_post(client, ADD, phone_call(desk, site=desk["other"].pk))
    assert "site" in field_errors(refused)
    without = csrf_post(client, ADD, phone_call(desk, site=""))
    assert "site" in field_errors(without)
    assert not Ticket.objects.exists()
    done = csrf_post(client, ADD, phone_call(desk))
    assert done.status_code == 302
    assert Ticket.objects.get().site == desk["own"]


# ---- the ticket's page ---------------------------------------------------------------------


def test_the_page_shows_clocks_alerts_and_the_timeline(desk: dict[str, Any]) -> None:
    started = timezone.now() - dt.timedelta(minutes=5)
    alert = Alert.objects.create(
        fingerprint="fw-down",
        source="check",
        name="DeviceDown",
        severity=1,
        title="BR-OWN-FW01 down",
        site=desk["own"],
        started_at=started,
        last_seen_at=started,
    )
    ticket = open_ticket(desk, impact=1, urgency=1, alerts=[alert], minutes_ago=3)
    services.assign(ticket, group=desk["network"], assignee=desk["engineer"], by=desk["noc"])
    services.worklog(ticket, by=desk["engineer"], note="Rebooted the switch")
    page = client_for(desk["noc"]).get(url("ticket_detail", ticket)).content.decode()
    assert ticket.number in page
    assert reverse("alerts:alert_detail", args=[alert.pk]) in page
    assert "BR-OWN-FW01 down" in page
    for kind in ("created", "alert_linked", "assigned", "worklog"):
        assert f'data-bo-event="{kind}"' in page
    assert "Rebooted the switch" in page
    assert 'data-bo-clock-row="response"' in page
    assert 'data-bo-clock-row="arrival"' in page
    assert "Network / li.eng" in page
    # Allowed moves from "assigned" only, in the order of the statuses.
    assert [m["value"] for m in _moves(page)] == [
        "in_progress",
        "pending_customer",
        "pending_vendor",
        "pending_spare_part",
        "resolved",
    ]


def _moves(page: str) -> list[dict[str, str]]:
    return [{"value": v} for v in re.findall(r'data-bo-move="(\w+)"', page)]


def test_hostile_text_is_escaped(desk: dict[str, Any]) -> None:
    ticket = open_ticket(desk, title=XSS, description=XSS, reporter_name=XSS)
    services.worklog(ticket, by=desk["noc"], note=XSS)
    client = client_for(desk["noc"])
    for page_url in (url("ticket_detail", ticket), reverse("servicedesk:ticket_list")):
        page = client.get(page_url).content.decode()
        assert XSS not in page
        assert XSS_ESCAPED in page


def test_readers_see_no_actions_and_are_refused(desk: dict[str, Any]) -> None:
    ticket = open_ticket(desk)
    for user in (
        make_user(Role.AUDITOR),
        make_user(Role.BRANCH_LIAISON, sites=(desk["own"],)),
    ):
        client = client_for(user)
        page = client.get(url("ticket_detail", ticket)).content.decode()
        assert "data-bo-move" not in page
        assert 'data-bo-action="worklog"' not in page
        for name, data in (
            ("ticket_move", {"move-to": "resolved", "move-note": "x"}),
            ("ticket_assign", {"assign-assignee": desk["engineer"].pk}),
            ("ticket_worklog", {"worklog-note": "x"}),
            ("ticket_visit", {"visit-departed_at": local(timezone.now())}),
        ):
            assert csrf_post(client, url(name, ticket), data).status_code == 403, name
    assert TicketEvent.objects.filter(ticket=ticket).count() == 1


# ---- moves, assignment, work, visits -------------------------------------------------------


def test_moves_allowed_and_refused(desk: dict[str, Any]) -> None:
    ticket = open_ticket(desk)
    client = client_for(desk["noc"])
    move = url("ticket_move", ticket)

    needs_person = csrf_post(client, move, {"move-to": "in_progress"})
    assert "Assign the ticket to a person before work starts." in needs_person.content.decode()
    illegal = csrf_post(client, move, {"move-to": "closed"})
    assert "A ticket cannot go from New to Closed." in illegal.content.decode()
    no_note = csrf_post(client, move, {"move-to": "pending_customer"})
    assert field_errors(no_note, "move_form") == {
        "note": ["Say why the ticket goes to Pending customer."]
    }
    ticket.refresh_from_db()
    assert ticket.status == "new"

    done = csrf_post(client, move, {"move-to": "pending_customer", "move-note": "Call back at 3"})
    assert done.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "pending_customer"
    event = ticket.events.last()
    assert event is not None
    assert (event.from_status, event.to_status, event.detail) == (
        "new",
        "pending_customer",
        "Call back at 3",
    )
    page = client.get(url("ticket_detail", ticket)).content.decode()
    assert "is now Pending customer." in page
    assert "Call back at 3" in page


def test_assign_and_its_refusals(desk: dict[str, Any]) -> None:
    ticket = open_ticket(desk)
    client = client_for(desk["noc"])
    assign = url("ticket_assign", ticket)
    nobody = csrf_post(client, assign, {})
    assert field_errors(nobody, "assign_form") == {"assignee": ["Name a group or a person."]}
    stranger = make_user(Role.NOC_OPERATOR, username="not.in.network")
    outsider = csrf_post(
        client, assign, {"assign-group": desk["network"].pk, "assign-assignee": stranger.pk}
    )
    assert (
        "not.in.network is not a member of Network."
        in field_errors(outsider, "assign_form")["assignee"]
    )
    done = csrf_post(
        client,
        assign,
        {"assign-group": desk["network"].pk, "assign-assignee": desk["engineer"].pk},
    )
    assert done.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.group, ticket.assignee, ticket.status) == (
        desk["network"],
        desk["engineer"],
        "assigned",
    )


def test_work_log(desk: dict[str, Any]) -> None:
    ticket = open_ticket(desk, minutes_ago=30)
    client = client_for(desk["noc"])
    worklog = url("ticket_worklog", ticket)
    empty = csrf_post(client, worklog, {"worklog-note": "  "})
    assert field_errors(empty, "worklog_form") == {"note": ["Write what was done."]}
    early = csrf_post(
        client,
        worklog,
        {"worklog-note": "x", "worklog-at": local(ticket.created_at - dt.timedelta(hours=1))},
    )
    assert "before the ticket was opened" in field_errors(early, "worklog_form")["at"][0]
    done = csrf_post(client, worklog, {"worklog-note": "Swapped the patch cable"})
    assert done.status_code == 302
    assert ticket.events.filter(kind=EventKind.WORKLOG).get().detail == "Swapped the patch cable"


def test_on_site_visit(desk: dict[str, Any]) -> None:
    ticket = open_ticket(desk, impact=1, urgency=1, minutes_ago=90)
    client = client_for(desk["noc"])
    visit = url("ticket_visit", ticket)
    now = timezone.now()
    nothing = csrf_post(client, visit, {"visit-note": "on my way"})
    assert "Give a departure, arrival or finish time." in str(field_errors(nothing, "visit_form"))
    backwards = csrf_post(
        client,
        visit,
        {
            "visit-departed_at": local(now - dt.timedelta(minutes=10)),
            "visit-arrived_at": local(now - dt.timedelta(minutes=40)),
        },
    )
    assert field_errors(backwards, "visit_form") == {
        "arrived_at": ["The visit's times are out of order."]
    }
    done = csrf_post(
        client,
        visit,
        {
            "visit-departed_at": local(now - dt.timedelta(minutes=60)),
            "visit-arrived_at": local(now - dt.timedelta(minutes=20)),
            "visit-note": "Spare PSU with me",
        },
    )
    assert done.status_code == 302
    kinds = list(ticket.events.order_by("at", "id").values_list("kind", flat=True))
    assert kinds[-2:] == ["departed", "arrived"]
    page = client.get(url("ticket_detail", ticket)).content.decode()
    assert 'data-bo-event="arrived"' in page
    assert "Spare PSU with me" in page


def test_a_closed_ticket_offers_nothing_but_its_history(desk: dict[str, Any]) -> None:
    ticket = open_ticket(desk)
    services.move(ticket, "resolved", by=desk["noc"], note="fixed")
    services.move(ticket, "closed", by=desk["noc"])
    page = client_for(desk["noc"]).get(url("ticket_detail", ticket)).content.decode()
    assert "data-bo-move" not in page
    assert 'id="assign"' not in page
    assert 'id="worklog"' not in page
    assert "A closed ticket does not move any more" in page
