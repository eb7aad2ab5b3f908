"""The review and knowledge pages: they render (in English and Chinese), the "5 whys" editor
saves in order, refusals land on the page, overdue actions are red, the postmortem page
shows the merged timeline, the ticket page and the new-ticket form suggest articles, and a
branch liaison reads only what is about their sites and writes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from branchops.core.choices import Role
from branchops.core.testing import make_user
from branchops.servicedesk import knowledge, review, review_postmortem
from branchops.servicedesk.models import CorrectiveAction, Problem
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


def url(name: str, *args: Any) -> str:
    return reverse(f"servicedesk:{name}", args=args)


def vpn_article(**kw: Any) -> Any:
    values = {
        "title": "营业部VPN隧道频繁断开",
        "symptom": "防火墙VPN隧道每天早上断开",
        "solution": "DPD改为30秒",
        "status": "published",
        **kw,
    }
    return knowledge.write_article(by=None, **values)


def test_the_problem_pages_render_in_both_languages(desk: dict[str, Any]) -> None:
    ticket = open_ticket(desk)
    p = review.open_problem(title="VPN drops", by=None, tickets=[ticket])
    for language, word in (("en", "Problems"), ("zh-hans", '<html lang="zh-hans">')):
        client = client_for(desk["engineer"], language)
        for page in (
            url("problem_list"),
            url("problem_detail", p.pk),
            url("problem_edit", p.pk),
            url("problem_add"),
            url("action_list"),
            url("kb_list"),
            url("kb_add"),
        ):
            response = client.get(page)
            assert response.status_code == 200, page
            assert word in response.content.decode()


def test_the_whys_editor_saves_the_pairs_in_order(desk: dict[str, Any]) -> None:
    ticket = open_ticket(desk)
    client = client_for(desk["engineer"])
    response = csrf_post(
        client,
        url("problem_add"),
        {
            "title": "VPN drops",
            "tickets": ticket.number,
            "devices": "own-fw",
            "why_1": "Why did the tunnel drop?",
            "answer_1": "DPD declared the peer dead",
            "why_2": "Why dead?",
            "answer_2": "10 s timeout, 12 s gaps",
            "root_cause": "DPD timeout too short",
        },
    )
    p = Problem.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("problem_detail", p.pk)
    assert [w["why"] for w in p.whys] == ["Why did the tunnel drop?", "Why dead?"]
    assert list(p.tickets.all()) == [ticket]
    assert [d.name for d in p.devices.all()] == ["own-fw"]
    page = client.get(url("problem_detail", p.pk)).content.decode()
    assert page.index("Why did the tunnel drop?") < page.index("Why dead?")


def test_a_broken_chain_of_whys_is_shown_and_nothing_saved(desk: dict[str, Any]) -> None:
    client = client_for(desk["engineer"])
    response = csrf_post(
        client, url("problem_add"), {"title": "VPN drops", "answer_1": "because", "tickets": ""}
    )
    assert response.status_code == 200
    assert "Why 1 has an answer but no question." in response.content.decode()
    unknown = csrf_post(client, url("problem_add"), {"title": "x", "tickets": "INC-1999-000009"})
    assert "Unknown: INC-1999-000009" in unknown.content.decode()
    assert not Problem.objects.exists()


def test_closing_with_an_open_action_is_refused_on_the_page(desk: dict[str, Any]) -> None:
    p = review.open_problem(title="VPN drops", by=None, root_cause="DPD")
    review.add_action(
        problem=p,
        kind="preventive",
        title="Alert on flaps",
        owner=desk["engineer"],
        due_date=timezone.localdate(),
        by=None,
    )
    review.move_problem(p, "resolved", by=None)
    client = client_for(desk["engineer"])
    response = csrf_post(client, url("problem_move", p.pk), {"move-to": "closed"})
    assert response.status_code == 400
    assert "cannot be closed while actions are open: Alert on flaps" in response.content.decode()
    assert Problem.objects.get(pk=p.pk).status == "resolved"


def test_an_action_is_added_and_done_from_the_page_and_overdue_ones_are_red(
    desk: dict[str, Any],
) -> None:
    p = review.open_problem(title="VPN drops", by=None)
    client = client_for(desk["engineer"])
    due = (timezone.localdate() + dt.timedelta(days=7)).isoformat()
    csrf_post(
        client,
        url("problem_action_add", p.pk),
        {
            "action-kind": "corrective",
            "action-title": "Raise DPD",
            "action-owner": desk["engineer"].pk,
            "action-due_date": due,
        },
    )
    late = CorrectiveAction.objects.get()
    CorrectiveAction.objects.filter(pk=late.pk).update(due_date=dt.date(2020, 1, 1))
    page = client.get(url("action_list")).content.decode()
    assert f'<tr data-action="{late.pk}" class="table-danger" data-bo-overdue>' in page
    assert "1 overdue" in page
    refused = csrf_post(client, url("action_update", late.pk), {"update-status": "done"})
    assert refused.status_code == 302
    told = client.get(url("problem_detail", p.pk)).content.decode()
    assert "Raise DPD: Say how the action was done (the evidence)." in told
    csrf_post(
        client,
        url("action_update", late.pk),
        {"update-status": "done", "update-evidence": "CHG-88"},
    )
    assert CorrectiveAction.objects.get().status == "done"
    assert "data-bo-overdue" not in client.get(url("action_list")).content.decode()


def test_the_postmortem_page_shows_the_merged_timeline_and_takes_entries(
    desk: dict[str, Any],
) -> None:
    ticket = open_ticket(desk, minutes_ago=30)
    client = client_for(desk["engineer"])
    response = csrf_post(
        client,
        url("postmortem_add"),
        {"ticket": ticket.pk, "title": "fw1 outage", "impact_summary": XSS},
    )
    pm = ticket.postmortem
    assert response["Location"] == url("postmortem_detail", pm.pk)
    at = timezone.localtime() - dt.timedelta(minutes=10)
    csrf_post(
        client,
        url("postmortem_entry_add", pm.pk),
        {"entry-at": at.strftime("%Y-%m-%dT%H:%M"), "entry-what": "Vendor on site"},
    )
    page = client.get(url("postmortem_detail", pm.pk)).content.decode()
    assert page.index('data-bo-line="ticket"') < page.index('data-bo-line="note"')
    assert "Vendor on site" in page
    assert XSS_ESCAPED in page
    assert XSS not in page
    future = timezone.localtime() + dt.timedelta(hours=2)
    refused = csrf_post(
        client,
        url("postmortem_entry_add", pm.pk),
        {"entry-at": future.strftime("%Y-%m-%dT%H:%M"), "entry-what": "x"},
    )
    assert refused.status_code == 400
    assert "That time is in the future." in refused.content.decode()


def test_the_ticket_page_suggests_the_right_article_first(desk: dict[str, Any]) -> None:
    right = vpn_article()
    knowledge.write_article(
        by=None,
        title="打印机无法打印",
        symptom="柜台打印机卡纸",
        solution="换纸",
        status="published",
    )
    ticket = open_ticket(desk, title="杭州营业部VPN断开", description="隧道早上断了")
    page = client_for(desk["engineer"]).get(url("ticket_detail", ticket.pk)).content.decode()
    panel = page[page.index('id="ticket-review"') :]
    assert panel.index(f'data-bo-suggestion="{right.pk}"') > 0
    assert "打印机无法打印" not in panel
    assert url("postmortem_add") + f"?ticket={ticket.pk}" in panel


def test_the_new_ticket_form_asks_for_suggestions_as_the_title_is_typed(
    desk: dict[str, Any],
) -> None:
    right = vpn_article()
    client = client_for(desk["noc"])
    form = client.get(url("ticket_add")).content.decode()
    assert f'hx-get="{url("kb_suggest")}"' in form
    assert "from:#id_title" in form
    fragment = client.get(url("kb_suggest"), {"title": "营业部VPN断开了"}).content.decode()
    assert f'data-bo-suggestion="{right.pk}"' in fragment
    nothing = client.get(url("kb_suggest"), {"title": "今天天气很好"}).content.decode()
    assert "No similar knowledge article." in nothing


def test_articles_are_written_searched_and_drafts_kept_from_liaisons(desk: dict[str, Any]) -> None:
    client = client_for(desk["engineer"])
    response = csrf_post(
        client,
        url("kb_add"),
        {
            "title": "UPS告警",
            "symptom": "电池电压低",
            "solution": "更换电池",
            "tags": "UPS, 机房",
            "status": "draft",
        },
    )
    assert response.status_code == 302
    page = client.get(url("kb_list"), {"q": "电池"}).content.decode()
    assert "UPS告警" in page
    liaison = client_for(make_user(Role.BRANCH_LIAISON, sites=(desk["own"],)))
    assert "UPS告警" not in liaison.get(url("kb_list")).content.decode()
    assert liaison.get(url("kb_add")).status_code == 403


def test_a_liaison_reads_the_problems_of_their_sites_only_and_changes_none(
    desk: dict[str, Any],
) -> None:
    ours = review.open_problem(title="Ours", by=None, tickets=[open_ticket(desk)])
    theirs = review.open_problem(title="Theirs", by=None, tickets=[open_ticket(desk, site="other")])
    liaison = client_for(make_user(Role.BRANCH_LIAISON, sites=(desk["own"],)))
    listing = liaison.get(url("problem_list")).content.decode()
    assert "Ours" in listing
    assert "Theirs" not in listing
    assert liaison.get(url("problem_detail", ours.pk)).status_code == 200
    assert liaison.get(url("problem_detail", theirs.pk)).status_code == 404
    assert liaison.get(url("problem_edit", ours.pk)).status_code == 403
    moved = csrf_post(liaison, url("problem_move", ours.pk), {"move-to": "investigating"})
    assert moved.status_code == 403
    assert Problem.objects.get(pk=ours.pk).status == "open"


def test_the_sidebar_lists_problems_and_the_knowledge_base(desk: dict[str, Any]) -> None:
    page = client_for(desk["noc"]).get(url("kb_list")).content.decode()
    assert f'href="{url("problem_list")}"' in page
    assert f'<a class="nav-link" href="{url("kb_list")}" aria-current="page">' in page


def test_a_problem_postmortem_lists_every_incident(desk: dict[str, Any]) -> None:
    first, second = open_ticket(desk, minutes_ago=60), open_ticket(desk, minutes_ago=30)
    p = review.open_problem(title="VPN drops", by=None, tickets=[first, second])
    pm = review_postmortem.open_postmortem(title="Drops", by=desk["engineer"], problem=p)
    page = client_for(desk["engineer"]).get(url("postmortem_detail", pm.pk)).content.decode()
    assert page.index(first.number) < page.index(second.number)
