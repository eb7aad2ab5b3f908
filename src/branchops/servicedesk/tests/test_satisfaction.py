"""满意度回访: the signed link (valid, tampered, expired), one answer per ticket, scores
out of range refused with nothing saved, the answer in the ticket's log, and the card on
the ticket's page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from branchops.core.choices import Role
from branchops.core.testing import make_user
from branchops.servicedesk import satisfaction, services
from branchops.servicedesk.models import SatisfactionAnswer, Ticket, TicketEvent
from branchops.servicedesk.services import Refused
from branchops.servicedesk.tests.support import engineer, make_group, make_ticket

pytestmark = pytest.mark.django_db


def resolved(ago: dt.timedelta = dt.timedelta(hours=1)) -> Ticket:
    noc = make_user(Role.NOC_OPERATOR)
    group = make_group()
    person = engineer(group)
    opened = timezone.now() - ago - dt.timedelta(hours=1)
    ticket = make_ticket(by=noc, created_at=opened)
    services.assign(ticket, group=group, assignee=person, by=noc, at=opened)
    return services.move(ticket, "resolved", by=noc, note="fixed", at=timezone.now() - ago)


def post(link: str, **data: Any) -> Any:
    return Client().post(link, data)


def test_the_link_answers_once_without_signing_in() -> None:
    ticket = resolved()
    link = satisfaction.satisfaction_link(ticket)
    assert link is not None
    assert link == satisfaction.satisfaction_link(ticket)  # the same link every time
    page = Client().get(link)
    assert page.status_code == 200
    assert ticket.number in page.content.decode()
    answered = post(link, score="5", comment="  快,谢谢  ")
    assert answered.status_code == 200
    assert "Your answer (5 of 5) has been recorded" in answered.content.decode()
    row = SatisfactionAnswer.objects.get(ticket=ticket)
    assert (row.score, row.comment) == (5, "快,谢谢")
    event = TicketEvent.objects.get(ticket=ticket, kind="satisfaction")
    assert event.detail == "5/5: 快,谢谢"
    again = post(link, score="1")
    assert again.status_code == 409
    assert "already rated" in again.content.decode()
    assert SatisfactionAnswer.objects.filter(ticket=ticket).count() == 1
    assert "already rated" in Client().get(link).content.decode()


@pytest.mark.parametrize("score", ["6", "0", "abc", ""])
def test_a_score_out_of_range_is_a_form_error(score: str) -> None:
    ticket = resolved()
    answer = post(satisfaction.satisfaction_link(ticket) or "", score=score)
    assert answer.status_code == 400
    assert 'class="invalid-feedback d-block"' in answer.content.decode()
    assert not SatisfactionAnswer.objects.exists()
    assert not TicketEvent.objects.filter(kind="satisfaction").exists()


def test_the_service_refuses_a_bad_score_with_its_field() -> None:
    ticket = resolved()
    with pytest.raises(Refused) as refused:
        satisfaction.answer(ticket, score=9)
    assert (refused.value.status, refused.value.field) == (400, "score")
    assert not SatisfactionAnswer.objects.exists()


def test_a_tampered_link_is_refused() -> None:
    link = satisfaction.satisfaction_link(resolved()) or ""
    token = link.rstrip("/").rsplit("/", 1)[1]
    pk, rest = token.split(".", 1)
    forged = reverse("servicedesk:satisfaction", args=[f"{int(pk) + 1}.{rest}"])
    answer = post(forged, score="1")
    assert answer.status_code == 400
    assert "not valid" in answer.content.decode()
    assert Client().get(link[:-3] + "xx/").status_code == 400
    assert not SatisfactionAnswer.objects.exists()


def test_an_expired_link_is_refused(settings: Any) -> None:
    settings.SERVICEDESK_SATISFACTION_LINK_DAYS = 2
    old = resolved(ago=dt.timedelta(days=3))
    answer = post(satisfaction.satisfaction_link(old) or "", score="5")
    assert answer.status_code == 410
    assert "expired" in answer.content.decode()
    assert not SatisfactionAnswer.objects.exists()
    fresh = resolved(ago=dt.timedelta(days=1))
    assert post(satisfaction.satisfaction_link(fresh) or "", score="5").status_code == 200


def test_only_resolved_tickets_are_asked() -> None:
    assert satisfaction.satisfaction_link(make_ticket()) is None
    ticket = resolved()
    link = satisfaction.satisfaction_link(ticket) or ""
    services.reopen(ticket, by=None, note="not fixed after all")
    answer = post(link, score="4")
    assert answer.status_code == 409
    assert "being worked on again" in answer.content.decode()
    assert not SatisfactionAnswer.objects.exists()


def test_the_ticket_page_shows_the_link_then_the_answer() -> None:
    ticket = resolved()
    staff = Client()
    staff.force_login(make_user(Role.ADMIN))
    page = staff.get(reverse("servicedesk:ticket_detail", args=[ticket.pk])).content.decode()
    link = satisfaction.satisfaction_link(ticket)
    assert f"http://testserver{link}" in page
    assert 'data-bo-copy="satisfaction-link"' in page
    satisfaction.answer(ticket, score=3, comment="ok")
    page = staff.get(reverse("servicedesk:ticket_detail", args=[ticket.pk])).content.decode()
    assert 'data-bo-satisfaction-score="3"' in page
    assert 'data-bo-copy="satisfaction-link"' not in page
