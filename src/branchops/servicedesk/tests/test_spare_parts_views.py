"""The spare-parts panel on a ticket's page: asking for a part (and pausing the ticket when
asked), moving a request along, refusals shown on the ticket's page with nothing saved, and
who may do what."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from branchops.core.choices import Role
from branchops.core.testing import make_user
from branchops.servicedesk import services, spare_parts
from branchops.servicedesk.models import SparePartRequest, Ticket
from branchops.servicedesk.tests.test_views_support import (
    XSS,
    XSS_ESCAPED,
    build_desk,
    client_for,
    csrf_post,
    open_ticket,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk() -> dict[str, Any]:
    return build_desk()


def working(desk: dict[str, Any]) -> Ticket:
    ticket = open_ticket(desk, group=desk["network"], assignee=desk["engineer"])
    services.move(ticket, "in_progress", by=desk["engineer"])
    return ticket


def ask(desk: dict[str, Any], ticket: Ticket, user: Any = None, **kw: Any) -> Any:
    data = {
        "spare-part": "PSU 750 W",
        "spare-model_number": "DS-7200-PSU",
        "spare-quantity": 1,
        "spare-urgency": "urgent",
        "spare-note": "",
        **kw,
    }
    client = client_for(user or desk["engineer"])
    return csrf_post(client, reverse("servicedesk:spare_part_request", args=[ticket.pk]), data)


def detail(user: Any, ticket: Ticket) -> str:
    return str(
        client_for(user).get(reverse("servicedesk:ticket_detail", args=[ticket.pk])).content, "utf8"
    )


def test_asking_with_the_pause_box_pauses_the_ticket(desk: dict[str, Any]) -> None:
    ticket = working(desk)
    html = detail(desk["engineer"], ticket)
    assert 'id="spare-parts"' in html
    assert 'name="spare-pause"' in html
    answer = ask(desk, ticket, **{"spare-pause": "on", "spare-note": XSS})
    assert answer.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "pending_spare_part"
    part = SparePartRequest.objects.get()
    html = detail(desk["engineer"], ticket)
    assert f'data-bo-part="{part.pk}"' in html
    assert "DS-7200-PSU" in html
    assert XSS_ESCAPED in html
    assert XSS not in html
    assert "Spare part requested: 1 x PSU 750 W (DS-7200-PSU), Urgent: today." in html
    # Already waiting for a part: no box to pause it again.
    assert 'name="spare-pause"' not in html


def test_asking_without_the_box_leaves_the_ticket_in_progress(desk: dict[str, Any]) -> None:
    ticket = working(desk)
    assert ask(desk, ticket).status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).status == "in_progress"
    assert SparePartRequest.objects.count() == 1


def test_a_refused_request_comes_back_on_the_ticket_page(desk: dict[str, Any]) -> None:
    ticket = working(desk)
    answer = ask(desk, ticket, **{"spare-part": " "})
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "Say which part is needed." in html.split('id="field-spare-part"')[1][:600]
    assert 'id="timeline"' in html  # the whole ticket page, the form open with the error
    assert not SparePartRequest.objects.exists()


def test_a_new_ticket_offers_no_pause_and_refuses_one(desk: dict[str, Any]) -> None:
    ticket = open_ticket(desk)
    assert 'name="spare-pause"' not in detail(desk["noc"], ticket)
    answer = ask(desk, ticket, desk["noc"], **{"spare-pause": "on"})
    assert answer.status_code == 200
    assert "cannot go from New to Pending spare part" in answer.content.decode()
    assert not SparePartRequest.objects.exists()
    assert Ticket.objects.get(pk=ticket.pk).status == "new"


def test_moving_a_request_along_and_a_refused_move(desk: dict[str, Any]) -> None:
    ticket = working(desk)
    part = spare_parts.request_part(ticket, part="PSU", by=desk["engineer"])
    url = reverse("servicedesk:spare_part_move", args=[ticket.pk, part.pk])
    client = client_for(desk["engineer"])
    html = detail(desk["engineer"], ticket)
    assert 'data-bo-part-move="approved"' in html
    assert 'data-bo-part-move="received"' not in html
    moved = csrf_post(client, url, {"spare-move-to": "approved", "spare-move-note": "budget ok"})
    assert moved.status_code == 302
    assert SparePartRequest.objects.get().status == "approved"
    refused = csrf_post(client, url, {"spare-move-to": "received"})
    assert refused.status_code == 200
    assert "cannot go from Approved to Received" in refused.content.decode()
    assert SparePartRequest.objects.get().status == "approved"


def test_readers_see_the_parts_but_no_form_and_cannot_post(desk: dict[str, Any]) -> None:
    ticket = working(desk)
    part = spare_parts.request_part(ticket, part="PSU", by=desk["engineer"])
    auditor = make_user(Role.AUDITOR)
    liaison = make_user(Role.BRANCH_LIAISON, sites=(desk["own"],))
    for reader in (auditor, liaison):
        html = detail(reader, ticket)
        assert f'data-bo-part="{part.pk}"' in html
        assert 'id="spare-part-form"' not in html
        assert "data-bo-part-move" not in html
        assert ask(desk, ticket, reader).status_code == 403
        move = reverse("servicedesk:spare_part_move", args=[ticket.pk, part.pk])
        assert csrf_post(client_for(reader), move, {"spare-move-to": "approved"}).status_code == 403
    other = open_ticket(desk, site="other")
    assert ask(desk, other, liaison).status_code == 404
    assert SparePartRequest.objects.count() == 1
    assert SparePartRequest.objects.get().status == "requested"
