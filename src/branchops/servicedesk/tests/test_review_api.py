"""The review and knowledge API as scripts use it: problems and their moves, actions,
postmortems with their timeline, knowledge articles with search and suggestions; refusals
in the project's JSON error shape with the field named; who may read and write what.

Scoping (defined here): a branch liaison sees a problem when one of its incidents or
affected devices is at one of their sites, a postmortem when its incident (or problem) is
theirs, and published articles only; they never write any of these.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from branchops.core.choices import Role
from branchops.core.testing import ApiClient, make_device, make_site, make_user
from branchops.servicedesk import knowledge, review
from branchops.servicedesk.models import CorrectiveAction, KnowledgeArticle, Problem
from branchops.servicedesk.tests.support import make_ticket

pytestmark = pytest.mark.django_db

TOMORROW = (timezone.localdate() + dt.timedelta(days=1)).isoformat()


def error_of(response: Any) -> tuple[int, str, dict[str, Any]]:
    body = response.json()["error"]
    return response.status_code, body["code"], body.get("fields") or {}


@pytest.fixture
def engineer() -> ApiClient:
    return ApiClient(make_user(Role.OPS_ENGINEER, username="li.eng"))


def test_an_engineer_records_a_problem_with_its_incidents_and_whys(engineer: ApiClient) -> None:
    ticket = make_ticket()
    fw = make_device(name="BR-0042-fw1")
    created = engineer.post(
        "/api/v1/problems/",
        {
            "title": "Branch VPN drops every morning",
            "tickets": [ticket.number],
            "devices": ["BR-0042-fw1"],
            "owner": "li.eng",
            "whys": [{"why": "Why did the tunnel drop?", "answer": "DPD declared the peer dead"}],
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "open"
    assert body["tickets"] == [ticket.number]
    assert body["devices"] == [fw.name]
    assert body["allowed_moves"] == ["investigating", "known_error", "resolved"]
    listed = engineer.get("/api/v1/problems/", q="VPN").json()
    assert [p["number"] for p in listed["items"]] == [body["number"]]


def test_bad_problem_input_is_400_with_the_field(engineer: ApiClient) -> None:
    cases = [
        ({"title": "x", "tickets": ["INC-1999-000001"]}, "tickets"),
        ({"title": "x", "owner": "nobody"}, "owner"),
        ({"title": "x", "whys": [{"why": "", "answer": "because"}]}, "whys"),
        ({"title": "x", "whys": [{"why": "w", "answer": "a"}] * 6}, "whys"),
        ({"title": ""}, "title"),
    ]
    for body, field in cases:
        status, code, fields = error_of(engineer.post("/api/v1/problems/", body))
        assert (status, code) == (400, "invalid"), body
        assert field in fields, (body, fields)
    assert not Problem.objects.exists()


def test_moves_the_machine_refuses_are_409_and_closing_waits_for_the_actions(
    engineer: ApiClient,
) -> None:
    p = review.open_problem(title="VPN drops", by=None, root_cause="DPD timeout too short")
    move = f"/api/v1/problems/{p.pk}/move/"
    status, code, _f = error_of(engineer.post(move, {"to": "closed"}))
    assert (status, code) == (409, "refused")
    assert error_of(engineer.post(move, {"to": "someday"}))[2].keys() == {"to"}
    action = engineer.post(
        "/api/v1/actions/",
        {"problem": p.number, "kind": "preventive", "title": "Alert on tunnel flaps",
         "owner": "li.eng", "due_date": TOMORROW},
    )  # fmt: skip
    assert action.status_code == 201, action.content
    assert engineer.post(move, {"to": "resolved"}).status_code == 200
    refused = engineer.post(move, {"to": "closed"})
    assert refused.status_code == 409
    assert "Alert on tunnel flaps" in refused.json()["error"]["message"]
    done = engineer.patch(
        f"/api/v1/actions/{action.json()['id']}/", {"status": "done", "evidence": "Rule 12 live"}
    )
    assert done.json()["status"] == "done"
    assert engineer.post(move, {"to": "closed"}).json()["status"] == "closed"


def test_an_action_done_without_evidence_is_400_on_evidence(engineer: ApiClient) -> None:
    p = review.open_problem(title="VPN drops", by=None)
    a = review.add_action(
        problem=p, kind="corrective", title="t", owner=engineer.user, due_date=timezone.localdate(),
        by=None,
    )  # fmt: skip
    status, _c, fields = error_of(engineer.patch(f"/api/v1/actions/{a.pk}/", {"status": "done"}))
    assert (status, list(fields)) == (400, ["evidence"])
    status, _c, fields = error_of(
        engineer.post(
            "/api/v1/actions/",
            {
                "problem": p.number,
                "kind": "corrective",
                "title": "t",
                "owner": "li.eng",
                "due_date": "2001-01-01",
            },
        )
    )
    assert (status, list(fields)) == (400, ["due_date"])


def test_overdue_actions_are_listed_as_such(engineer: ApiClient) -> None:
    p = review.open_problem(title="VPN drops", by=None)
    late = review.add_action(
        problem=p, kind="corrective", title="late", owner=engineer.user,
        due_date=timezone.localdate(), by=None,
    )  # fmt: skip
    CorrectiveAction.objects.filter(pk=late.pk).update(due_date=dt.date(2020, 1, 1))
    found = engineer.get("/api/v1/actions/", overdue="true").json()
    assert [(a["title"], a["overdue"]) for a in found] == [("late", True)]
    assert engineer.get("/api/v1/actions/", overdue="false").json() == []


def test_a_postmortem_of_an_incident_has_the_merged_timeline(engineer: ApiClient) -> None:
    ticket = make_ticket(created_at=timezone.now() - dt.timedelta(minutes=10))
    created = engineer.post(
        "/api/v1/postmortems/", {"title": "fw1 outage", "ticket": ticket.number}
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    at = (timezone.now() - dt.timedelta(seconds=1)).isoformat()
    entry = engineer.post(f"/api/v1/postmortems/{pk}/entries/", {"at": at, "what": "Vendor called"})
    assert entry.status_code == 201
    timeline = engineer.get(f"/api/v1/postmortems/{pk}/").json()["timeline"]
    assert [(t["source"], t["reference"]) for t in timeline] == [
        ("ticket", ticket.number),
        ("note", ""),
    ]
    again = engineer.post("/api/v1/postmortems/", {"title": "again", "ticket": ticket.number})
    assert again.status_code == 409
    neither = engineer.post("/api/v1/postmortems/", {"title": "neither"})
    assert error_of(neither)[2].keys() == {"ticket"}


def test_a_liaison_sees_only_problems_about_their_sites_and_writes_none() -> None:
    own, other = make_site(), make_site()
    liaison = ApiClient(make_user(Role.BRANCH_LIAISON, sites=(own,)))
    mine = review.open_problem(title="Ours", by=None, tickets=[make_ticket(site=own)])
    by_device = review.open_problem(title="Our device", by=None, devices=[make_device(own)])
    theirs = review.open_problem(title="Theirs", by=None, tickets=[make_ticket(site=other)])
    review.open_problem(title="Nobody's", by=None)
    listed = liaison.get("/api/v1/problems/").json()
    assert {p["title"] for p in listed["items"]} == {"Ours", "Our device"}
    assert liaison.get(f"/api/v1/problems/{mine.pk}/").status_code == 200
    assert liaison.get(f"/api/v1/problems/{by_device.pk}/").status_code == 200
    assert liaison.get(f"/api/v1/problems/{theirs.pk}/").status_code == 404
    assert liaison.post("/api/v1/problems/", {"title": "x"}).status_code == 403
    assert (
        liaison.post(f"/api/v1/problems/{mine.pk}/move/", {"to": "investigating"}).status_code
        == 403
    )
    assert Problem.objects.get(pk=mine.pk).status == "open"


def test_an_auditor_reads_but_does_not_write() -> None:
    auditor = ApiClient(make_user(Role.AUDITOR))
    review.open_problem(title="VPN drops", by=None)
    assert auditor.get("/api/v1/problems/").json()["count"] == 1
    assert auditor.post("/api/v1/problems/", {"title": "x"}).status_code == 403
    body = {"title": "t", "symptom": "s", "solution": "x"}
    assert auditor.post("/api/v1/kb-articles/", body).status_code == 403


# --- knowledge articles ------------------------------------------------------------------


def test_articles_are_written_searched_suggested_and_published(engineer: ApiClient) -> None:
    created = engineer.post(
        "/api/v1/kb-articles/",
        {"title": "营业部VPN隧道频繁断开", "symptom": "防火墙VPN隧道每天早上断开",
         "cause": "DPD超时过短", "solution": "DPD改为30秒", "tags": ["VPN", "防火墙"]},
    )  # fmt: skip
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["status"] == "draft"
    assert engineer.get("/api/v1/kb-articles/suggest/", text="VPN断开").json() == []
    published = engineer.patch(f"/api/v1/kb-articles/{pk}/", {"status": "published"})
    assert published.json()["published_at"] is not None
    ticket = make_ticket(title="杭州营业部VPN断开", description="隧道断了")
    found = engineer.get("/api/v1/kb-articles/suggest/", ticket=ticket.pk).json()
    assert [f["id"] for f in found] == [pk]
    assert engineer.get("/api/v1/kb-articles/", q="DPD").json()["count"] == 1
    assert engineer.get("/api/v1/kb-articles/", tag="vpn").json()["count"] == 1
    assert engineer.get("/api/v1/kb-articles/", q="打印机").json()["count"] == 0


def test_bad_article_input_is_400_with_the_field(engineer: ApiClient) -> None:
    for body, field in (
        ({"title": "t", "symptom": " ", "solution": "x"}, "symptom"),
        ({"title": "t", "symptom": "s", "solution": "x", "category": "nope"}, "category"),
        ({"title": "t", "symptom": "s", "solution": "x", "problem": "PRB-1"}, "problem"),
        ({"title": "t", "symptom": "s", "solution": "x", "status": "gone"}, "status"),
    ):
        status, _code, fields = error_of(engineer.post("/api/v1/kb-articles/", body))
        assert status == 400
        assert field in fields, (body, fields)
    assert not KnowledgeArticle.objects.exists()


def test_a_liaison_reads_published_articles_only() -> None:
    knowledge.write_article(by=None, title="Draft", symptom="s", solution="x")
    published = knowledge.write_article(
        by=None, title="Published", symptom="s", solution="x", status="published"
    )
    liaison = ApiClient(make_user(Role.BRANCH_LIAISON, sites=(make_site(),)))
    listed = liaison.get("/api/v1/kb-articles/").json()
    assert [a["title"] for a in listed["items"]] == ["Published"]
    assert liaison.get(f"/api/v1/kb-articles/{published.pk}/").status_code == 200
    body = {"title": "t", "symptom": "s", "solution": "x"}
    assert liaison.post("/api/v1/kb-articles/", body).status_code == 403
