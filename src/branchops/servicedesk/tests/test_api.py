"""The tickets API as scripts use it: create, list and filter, move, assign, log work,
record visits; refusals in the project's JSON error shape; a liaison sees only their
branches' tickets.

This module is also the URLconf of these tests (``pytest.mark.urls``): the router is served
at ``/api/v1/`` with the product's authentication and errors, independent of urls.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import path
from django.utils import timezone
from ninja import NinjaAPI

from branchops.core.api import BearerOrSession, BearerToken
from branchops.core.api import api as product_api
from branchops.core.choices import Role, TokenScope
from branchops.core.testing import ApiClient, make_device, make_site, make_user
from branchops.servicedesk import api as servicedesk_api
from branchops.servicedesk.models import Ticket, TicketEvent
from branchops.servicedesk.tests.support import engineer, make_group, make_ticket

test_api = NinjaAPI(
    auth=[BearerToken(), BearerOrSession()],
    urls_namespace="servicedesk-tests",
    docs_url=None,
    openapi_url="/openapi.json",
)
test_api._exception_handlers = product_api._exception_handlers  # the product's JSON errors
test_api.add_router("/", servicedesk_api.router())
urlpatterns = [path("api/v1/", test_api.urls)]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def phone_ticket(api: ApiClient, **kw: Any) -> Any:
    body = {"kind": "incident", "source": "phone", "title": "Trading terminals frozen",
            "impact": 2, "urgency": 1, **kw}  # fmt: skip
    return api.post("/api/v1/tickets/", body)


def test_a_noc_operator_logs_a_phone_call_and_sees_its_clocks() -> None:
    site = make_site(code="BR-0042")
    fw = make_device(site, name="BR-0042-fw1")
    api = ApiClient(make_user(Role.NOC_OPERATOR))
    created = phone_ticket(
        api, site="BR-0042", devices=["BR-0042-fw1"], reporter_name="王经理",
        reporter_contact="021-5555-0101",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["number"].startswith("INC-")
    assert (body["priority"], body["sla_policy"], body["status"]) == (2, "P2 7x24", "new")
    assert body["devices"] == [fw.name]
    assert [c["kind"] for c in body["clocks"]] == ["response", "arrival", "resolution"]
    assert {c["state"] for c in body["clocks"]} == {"running"}
    assert body["calendar"] == "24x7"
    assert [e["kind"] for e in body["events"]] == ["created"]
    assert "assigned" in body["allowed_moves"]
    assert Ticket.objects.get().opened_by == api.user


def test_work_a_ticket_through_the_api() -> None:
    group = make_group(name="Network")
    person = engineer(group)
    ticket = make_ticket(created_at=timezone.now() - dt.timedelta(minutes=30))
    api = ApiClient(make_user(Role.OPS_ENGINEER))
    base = f"/api/v1/tickets/{ticket.pk}"
    assigned = api.post(f"{base}/assign/", {"group": "Network", "assignee": person.username})
    assert assigned.status_code == 200, assigned.json()
    assert (assigned.json()["status"], assigned.json()["assignee"]) == ("assigned", person.username)
    assert api.post(f"{base}/move/", {"to": "in_progress"}).json()["status"] == "in_progress"
    paused = api.post(f"{base}/move/", {"to": "pending_spare_part", "note": "PSU on its way"})
    assert [c["state"] for c in paused.json()["clocks"]] == ["met", "paused", "paused"]
    arrived = timezone.now() - dt.timedelta(minutes=10)
    visit = api.post(f"{base}/visits/", {"arrived_at": arrived.isoformat(), "note": "on site"})
    assert visit.status_code == 201
    assert [e["kind"] for e in visit.json()] == ["arrived"]
    log = api.post(f"{base}/worklog/", {"note": "swapped the PSU"})
    assert log.status_code == 201
    api.post(f"{base}/move/", {"to": "in_progress"})
    done = api.post(f"{base}/move/", {"to": "resolved", "note": "PSU replaced"}).json()
    assert done["status"] == "resolved"
    assert done["resolved_at"] is not None
    assert {c["state"] for c in done["clocks"]} == {"met"}
    kinds = [e["kind"] for e in done["events"]]  # in the order they happened
    assert kinds == ["created", "arrived", "assigned", "status", "status", "worklog", "status",
                     "status"]  # fmt: skip


def test_refusals_are_json_4xx_and_change_nothing() -> None:
    ticket = make_ticket()
    api = ApiClient(make_user(Role.NOC_OPERATOR))
    base = f"/api/v1/tickets/{ticket.pk}"
    illegal = api.post(f"{base}/move/", {"to": "closed"})
    assert illegal.status_code == 409
    assert illegal.json()["error"]["code"] == "refused"
    assert "cannot go from" in illegal.json()["error"]["message"]
    unknown = api.post(f"{base}/move/", {"to": "teleported"})
    assert unknown.status_code == 400
    assert "to" in unknown.json()["error"]["fields"]
    nobody = api.post(f"{base}/assign/", {"assignee": "ghost"})
    assert nobody.status_code == 400
    assert nobody.json()["error"]["fields"]["assignee"]
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    visit = api.post(f"{base}/visits/", {"arrived_at": future})
    assert visit.status_code == 400
    assert "future" in visit.json()["error"]["fields"]["arrived_at"][0]
    assert api.post(f"{base}/visits/", {}).status_code == 400
    assert phone_ticket(api, site="nowhere").status_code == 400
    assert phone_ticket(api, kind="request").json()["error"]["fields"]["request_type"]
    assert phone_ticket(api, impact=9).status_code == 400
    assert api.post("/api/v1/tickets/999999/move/", {"to": "assigned"}).status_code == 404
    assert TicketEvent.objects.filter(ticket=ticket).count() == 1
    assert Ticket.objects.count() == 1


def test_patch_edits_fields_and_re_derives_the_priority() -> None:
    ticket = make_ticket(impact=3, urgency=3)
    api = ApiClient(make_user(Role.OPS_ENGINEER))
    changed = api.patch(
        f"/api/v1/tickets/{ticket.pk}/", {"impact": 1, "urgency": 1, "title": "All down"}
    )
    assert changed.status_code == 200, changed.json()
    body = changed.json()
    assert (body["title"], body["priority"], body["sla_policy"]) == ("All down", 1, "P1 7x24")
    assert body["events"][-1]["kind"] == "updated"
    assert api.patch(f"/api/v1/tickets/{ticket.pk}/", {"category": "nope"}).status_code == 400


def test_list_filters_and_paging() -> None:
    site = make_site(code="BR-0100")
    person = engineer()
    old = make_ticket(
        site=site, impact=1, urgency=1, created_at=timezone.now() - dt.timedelta(hours=6)
    )
    mine = make_ticket(assignee=person, title="Printer jam", impact=3, urgency=3)
    request = make_ticket(
        kind="request", request_type="account_permission", title="New teller login"
    )
    api = ApiClient(make_user(Role.AUDITOR))

    def numbers(**params: Any) -> list[str]:
        response = api.get("/api/v1/tickets/", **params)
        assert response.status_code == 200, response.json()
        return [t["number"] for t in response.json()["items"]]

    assert numbers() == [request.number, mine.number, old.number]
    assert numbers(site="BR-0100") == [old.number]
    assert numbers(assignee=person.username) == [mine.number]
    assert numbers(status="assigned") == [mine.number]
    assert numbers(kind="request") == [request.number]
    assert numbers(priority=1) == [old.number]
    assert numbers(breached="true") == [old.number]
    assert numbers(breached="false") == [request.number, mine.number]
    assert numbers(q="teller") == [request.number]
    assert numbers(q=old.number) == [old.number]
    assert numbers(open="false") == []
    assert numbers(limit=1, offset=1) == [mine.number]
    assert api.get("/api/v1/tickets/", limit=1).json()["count"] == 3
    assert api.get("/api/v1/tickets/", limit=0).status_code == 400


def test_a_liaison_sees_and_opens_tickets_only_for_their_branches() -> None:
    own, other = make_site(code="BR-OWN"), make_site(code="BR-OTHER")
    mine = make_ticket(site=own)
    theirs = make_ticket(site=other)
    api = ApiClient(make_user(Role.BRANCH_LIAISON, sites=(own,)))
    assert [t["number"] for t in api.get("/api/v1/tickets/").json()["items"]] == [mine.number]
    assert api.get(f"/api/v1/tickets/{theirs.pk}/").status_code == 404
    assert phone_ticket(api, site="BR-OWN").status_code == 201
    refused = phone_ticket(api, site="BR-OTHER")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert phone_ticket(api).status_code == 403  # a ticket without a site is nobody's branch
    assert api.post(f"/api/v1/tickets/{mine.pk}/move/", {"to": "assigned"}).status_code == 403


def test_roles_and_read_only_tokens() -> None:
    ticket = make_ticket()
    auditor = ApiClient(make_user(Role.AUDITOR))
    assert auditor.get(f"/api/v1/tickets/{ticket.pk}/").status_code == 200
    assert phone_ticket(auditor).status_code == 403
    expert = ApiClient(make_user(Role.TECHNICAL_EXPERT))
    assert phone_ticket(expert).status_code == 403  # experts work tickets, they do not log them
    assert (
        expert.post(f"/api/v1/tickets/{ticket.pk}/worklog/", {"note": "looked"}).status_code == 201
    )
    read_only = ApiClient(make_user(Role.ADMIN), scope=TokenScope.READ)
    assert phone_ticket(read_only).status_code == 403


def test_the_schema_lists_the_ticket_operations() -> None:
    from django.test import Client

    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/tickets/", "/api/v1/tickets/{pk}/", "/api/v1/tickets/{pk}/move/",
            "/api/v1/tickets/{pk}/assign/", "/api/v1/tickets/{pk}/worklog/",
            "/api/v1/tickets/{pk}/visits/"} <= set(paths)  # fmt: skip
