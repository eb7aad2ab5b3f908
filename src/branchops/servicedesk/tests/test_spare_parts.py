"""Spare-part requests: asking (and optionally pausing the ticket, all or nothing), the
enforced status machine, the notes on the ticket's timeline, and the API."""

from __future__ import annotations

from typing import Any

import pytest

from branchops.core.choices import Role
from branchops.core.models import User
from branchops.core.testing import ApiClient, make_site, make_user
from branchops.servicedesk import services, sla, spare_parts
from branchops.servicedesk.models import SparePartRequest, Ticket
from branchops.servicedesk.services import Refused
from branchops.servicedesk.tests.support import engineer, make_group, make_ticket

pytestmark = pytest.mark.django_db


def in_progress() -> tuple[Ticket, User]:
    person = engineer(make_group())
    ticket = make_ticket()
    services.assign(ticket, group=None, assignee=person, by=person)
    services.move(ticket, "in_progress", by=person)
    return ticket, person


def kinds(ticket: Ticket) -> list[tuple[str, str]]:
    return list(ticket.events.order_by("at", "id").values_list("kind", "to_status"))


# ---- the service ------------------------------------------------------------------------------


def test_asking_with_pause_stops_the_clocks_and_notes_it_on_the_timeline() -> None:
    ticket, person = in_progress()
    part = spare_parts.request_part(
        ticket, part="PSU", model_number="DS-7200", quantity=2, urgency="critical",
        note="the left one smokes", pause=True, by=person,
    )  # fmt: skip
    assert (part.status, part.quantity, part.requested_by) == ("requested", 2, person)
    assert ticket.status == "pending_spare_part"
    assert kinds(ticket)[-2:] == [("worklog", ""), ("status", "pending_spare_part")]
    line = ticket.events.filter(kind="worklog").get().detail
    assert line.startswith("Spare part requested: 2 x PSU (DS-7200), Critical")
    assert "the left one smokes" in line
    clocks = sla.clocks_of(ticket, ticket.updated_at)
    assert clocks is not None
    assert clocks.resolution.state == "paused"


def test_asking_without_pause_leaves_the_ticket_where_it_is() -> None:
    ticket, person = in_progress()
    spare_parts.request_part(ticket, part="Hard disk 2 TB", by=person)
    assert Ticket.objects.get(pk=ticket.pk).status == "in_progress"
    assert kinds(ticket)[-1] == ("worklog", "")


def test_a_second_part_while_waiting_does_not_move_the_ticket_again() -> None:
    ticket, person = in_progress()
    spare_parts.request_part(ticket, part="PSU", pause=True, by=person)
    before = ticket.events.count()
    spare_parts.request_part(ticket, part="Fan", pause=True, by=person)
    assert ticket.events.count() == before + 1  # the work-log line only
    assert Ticket.objects.get(pk=ticket.pk).status == "pending_spare_part"


def test_a_refused_pause_leaves_no_request_behind() -> None:
    ticket = make_ticket()  # new: it cannot wait for a part before anyone has it
    person = make_user(Role.OPS_ENGINEER)
    with pytest.raises(Refused, match="cannot go from New to Pending spare part"):
        spare_parts.request_part(ticket, part="PSU", pause=True, by=person)
    assert not SparePartRequest.objects.exists()
    assert kinds(ticket) == [("created", "new")]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"part": "  "}, "part"),
        ({"part": "PSU", "quantity": 0}, "quantity"),
        ({"part": "PSU", "quantity": 1000}, "quantity"),
        ({"part": "PSU", "urgency": "yesterday"}, "urgency"),
    ],
)
def test_bad_values_are_refused_on_their_field(values: dict[str, Any], field: str) -> None:
    ticket, person = in_progress()
    with pytest.raises(Refused) as caught:
        spare_parts.request_part(ticket, by=person, **values)
    assert (caught.value.status, caught.value.field) == (400, field)
    assert not SparePartRequest.objects.exists()


def test_a_resolved_ticket_asks_for_no_part() -> None:
    ticket, person = in_progress()
    services.move(ticket, "resolved", by=person, note="fixed with a cable")
    with pytest.raises(Refused, match="reopen it before asking"):
        spare_parts.request_part(ticket, part="PSU", by=person)


def test_the_status_machine_is_enforced_and_each_move_is_noted() -> None:
    ticket, person = in_progress()
    part = spare_parts.request_part(ticket, part="PSU", by=person)
    with pytest.raises(Refused, match="cannot go from Requested to Received"):
        spare_parts.move_part(part, "received", by=person)
    for step in ("approved", "shipped", "received"):
        spare_parts.move_part(part, step, by=person, note=f"note {step}")
    assert part.status == "received"
    with pytest.raises(Refused, match="From Received it can go to: nowhere"):
        spare_parts.move_part(part, "cancelled", by=person)
    lines = list(ticket.events.filter(kind="worklog").values_list("detail", flat=True))
    assert lines[1:] == [
        "Spare part 1 x PSU: Approved.\nnote approved",
        "Spare part 1 x PSU: Shipped.\nnote shipped",
        "Spare part 1 x PSU: Received.\nnote received",
    ]
    with pytest.raises(Refused) as caught:
        spare_parts.move_part(part, "lost", by=person)
    assert (caught.value.status, caught.value.field) == (400, "to")


def test_a_stale_move_is_refused() -> None:
    ticket, person = in_progress()
    part = spare_parts.request_part(ticket, part="PSU", by=person)
    stale = SparePartRequest.objects.get(pk=part.pk)
    spare_parts.move_part(part, "cancelled", by=person)
    with pytest.raises(Refused, match="cannot go from Cancelled"):
        spare_parts.move_part(stale, "approved", by=person)
    assert SparePartRequest.objects.get(pk=part.pk).status == "cancelled"


# ---- the API ----------------------------------------------------------------------------------


def test_the_api_asks_lists_and_moves() -> None:
    ticket, person = in_progress()
    api = ApiClient(person)
    url = f"/api/v1/tickets/{ticket.pk}/spare-parts/"
    made = api.post(url, {"part": "PSU", "model_number": "PN-1", "quantity": 2, "pause": True})
    assert made.status_code == 201, made.json()
    body = made.json()
    assert (body["ticket"], body["status"], body["requested_by"]) == (
        ticket.number,
        "requested",
        person.username,
    )
    assert body["allowed_moves"] == ["approved", "cancelled"]
    assert Ticket.objects.get(pk=ticket.pk).status == "pending_spare_part"

    listed = api.get(url)
    assert [p["part"] for p in listed.json()] == ["PSU"]
    moved = api.post(f"{url}{body['id']}/move/", {"to": "approved"})
    assert moved.status_code == 200, moved.json()
    assert moved.json()["status"] == "approved"
    refused = api.post(f"{url}{body['id']}/move/", {"to": "received"})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "refused"
    bad = api.post(url, {"part": "PSU", "urgency": "yesterday"})
    assert bad.status_code in (400, 422)


def test_the_api_refuses_a_pause_the_ticket_cannot_take() -> None:
    ticket = make_ticket()
    api = ApiClient(make_user(Role.NOC_OPERATOR))
    answer = api.post(f"/api/v1/tickets/{ticket.pk}/spare-parts/", {"part": "PSU", "pause": True})
    assert answer.status_code == 409
    assert "Pending spare part" in answer.json()["error"]["message"]
    assert not SparePartRequest.objects.exists()


def test_who_may_read_and_ask() -> None:
    own = make_site(code="BR-OWN")
    ticket = make_ticket(site=own)
    other = make_ticket(site=make_site(code="BR-OTHER"))
    url = f"/api/v1/tickets/{ticket.pk}/spare-parts/"
    auditor = ApiClient(make_user(Role.AUDITOR))
    assert auditor.get(url).status_code == 200
    assert auditor.post(url, {"part": "PSU"}).status_code == 403
    liaison = ApiClient(make_user(Role.BRANCH_LIAISON, sites=(own,)))
    assert liaison.get(url).status_code == 200
    assert liaison.get(f"/api/v1/tickets/{other.pk}/spare-parts/").status_code == 404
    assert liaison.post(url, {"part": "PSU"}).status_code == 403
    assert not SparePartRequest.objects.exists()
