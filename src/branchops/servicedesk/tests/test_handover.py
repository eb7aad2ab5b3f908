"""Duty handover: the log lists exactly what is open when it is written, the incoming shift
signs it once, and from then on it never changes; refusals; dual-person operation records;
the API."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.urls import path
from django.utils import timezone
from ninja import NinjaAPI

from branchops.alerts.models import Alert
from branchops.core.api import BearerOrSession, BearerToken
from branchops.core.api import api as product_api
from branchops.core.choices import Role
from branchops.core.models import User
from branchops.core.testing import ApiClient, make_site, make_user
from branchops.servicedesk import api as servicedesk_api
from branchops.servicedesk import handover, services
from branchops.servicedesk.models import (
    AssignmentGroup,
    DualControlRecord,
    HandoverLog,
    Shift,
)
from branchops.servicedesk.services import Refused
from branchops.servicedesk.tests.support import engineer, make_group, make_ticket

test_api = NinjaAPI(
    auth=[BearerToken(), BearerOrSession()],
    urls_namespace="handover-tests",
    docs_url=None,
    openapi_url="/openapi.json",
)
test_api._exception_handlers = product_api._exception_handlers
test_api.add_router("/", servicedesk_api.router())
urlpatterns = [path("api/v1/", test_api.urls)]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

_fp = itertools.count()


def alert(status: str = "firing", root: Alert | None = None, severity: int = 1) -> Alert:
    now = timezone.now() - dt.timedelta(minutes=5)
    return Alert.objects.create(
        fingerprint=f"fp-{next(_fp)}", source="check", name="device-down", severity=severity,
        status=status, title=f"Alert {next(_fp)}", site=make_site(), started_at=now,
        last_seen_at=now, root=root, resolved_at=now if status == "resolved" else None,
    )  # fmt: skip


def shifts(group: AssignmentGroup) -> tuple[Shift, Shift, User, User]:
    """Day shift (08:00-20:00) then night shift, one person each, ending now-ish."""
    day_person, night_person = engineer(group), engineer(group)
    start = timezone.now() - dt.timedelta(hours=12)
    day = handover.create_shift(
        group=group, starts_at=start, ends_at=start + dt.timedelta(hours=12), people=[day_person]
    )
    night = handover.create_shift(
        group=group, starts_at=day.ends_at, ends_at=day.ends_at + dt.timedelta(hours=12),
        people=[night_person],
    )  # fmt: skip
    return day, night, day_person, night_person


def world() -> dict[str, Any]:
    """Two open tickets, one resolved; one firing root with a symptom, one resolved alert."""
    open_a = make_ticket(impact=1, urgency=1)
    open_b = make_ticket(title="Printer jam")
    done = make_ticket(title="Fixed already")
    services.move(done, "resolved", by=None, note="rebooted")
    root = alert()
    alert(root=root, severity=3)
    alert(status="resolved")
    return {"tickets": [open_a, open_b], "root": root}


def test_the_handover_lists_exactly_what_is_open_as_a_snapshot() -> None:
    g = make_group()
    day, night, day_person, _ = shifts(g)
    w = world()
    log = handover.create_handover(
        outgoing=day, incoming=night, summary="BR-0042 firewall PSU due at 10:00", by=day_person
    )
    assert [t["number"] for t in log.open_tickets] == [t.number for t in w["tickets"]]
    assert [t["priority"] for t in log.open_tickets] == [1, 3]  # most urgent first
    assert [a["id"] for a in log.firing_alerts] == [w["root"].pk]
    # Later work does not change what the log says was open.
    services.move(w["tickets"][0], "resolved", by=None, note="PSU replaced")
    make_ticket(title="New one after the handover")
    log.refresh_from_db()
    assert len(log.open_tickets) == 2
    assert log.written_by == day_person


def test_the_incoming_shift_signs_once_and_then_nothing_changes() -> None:
    day, night, day_person, night_person = shifts(make_group())
    log = handover.create_handover(outgoing=day, incoming=night, summary="quiet", by=day_person)
    with pytest.raises(Refused, match="not on the incoming shift"):
        handover.sign_handover(log, by=day_person)
    signed = handover.sign_handover(log, by=night_person)
    assert signed.signed_by == night_person
    assert signed.signed_at is not None
    with pytest.raises(Refused, match="already signed by"):
        handover.sign_handover(log, by=night_person)

    signed.summary = "rewritten"
    with pytest.raises(TypeError):
        signed.save()
    with pytest.raises(TypeError):
        signed.delete()
    with pytest.raises(TypeError):
        HandoverLog.objects.filter(pk=log.pk).delete()
    assert HandoverLog.objects.filter(pk=log.pk).update(summary="bulk rewrite") == 0
    assert HandoverLog.objects.get(pk=log.pk).summary == "quiet"


def test_an_unsigned_log_may_still_be_corrected_or_withdrawn() -> None:
    day, night, day_person, _ = shifts(make_group())
    log = handover.create_handover(outgoing=day, incoming=night, summary="quiet", by=day_person)
    assert HandoverLog.objects.filter(pk=log.pk).update(summary="quiet night") == 1
    log.delete()
    assert not HandoverLog.objects.exists()


def test_refusals_when_writing_a_handover() -> None:
    g = make_group()
    day, night, day_person, night_person = shifts(g)
    with pytest.raises(Refused, match="not on the outgoing shift"):
        handover.create_handover(outgoing=day, incoming=night, summary="x", by=night_person)
    with pytest.raises(Refused, match="Write what"):
        handover.create_handover(outgoing=day, incoming=night, summary="  ", by=day_person)
    with pytest.raises(Refused, match="to itself"):
        handover.create_handover(outgoing=day, incoming=day, summary="x", by=day_person)
    with pytest.raises(Refused, match="starts before"):
        handover.create_handover(outgoing=night, incoming=day, summary="x", by=night_person)
    other, *_ = shifts(make_group())
    with pytest.raises(Refused, match="same group"):
        handover.create_handover(outgoing=day, incoming=other, summary="x", by=day_person)
    handover.create_handover(outgoing=day, incoming=night, summary="x", by=day_person)
    assert HandoverLog.objects.count() == 1


def test_an_unsigned_previous_handover_blocks_the_next_one() -> None:
    g = make_group()
    day, night, day_person, night_person = shifts(g)
    morning = handover.create_shift(
        group=g, starts_at=night.ends_at, ends_at=night.ends_at + dt.timedelta(hours=12),
        people=[day_person],
    )  # fmt: skip
    first = handover.create_handover(outgoing=day, incoming=night, summary="a", by=day_person)
    with pytest.raises(Refused, match="is not signed yet"):
        handover.create_handover(outgoing=night, incoming=morning, summary="b", by=night_person)
    handover.sign_handover(first, by=night_person)
    second = handover.create_handover(
        outgoing=night, incoming=morning, summary="b", by=night_person
    )
    assert handover.sign_handover(second, by=day_person).signed_by == day_person
    with pytest.raises(Refused, match="already handed over"):
        handover.create_handover(outgoing=night, incoming=morning, summary="c", by=night_person)


def test_signing_out_of_order_is_refused() -> None:
    g = make_group()
    day, night, day_person, night_person = shifts(g)
    morning = handover.create_shift(
        group=g, starts_at=night.ends_at, ends_at=night.ends_at + dt.timedelta(hours=12),
        people=[day_person],
    )  # fmt: skip
    first = HandoverLog.objects.create(
        outgoing=day, incoming=night, summary="a", written_by=day_person
    )
    second = HandoverLog.objects.create(
        outgoing=night, incoming=morning, summary="b", written_by=night_person
    )  # e.g. imported from paper: the services would not let this happen
    with pytest.raises(Refused, match="is not signed yet"):
        handover.sign_handover(second, by=day_person)
    handover.sign_handover(first, by=night_person)
    handover.sign_handover(second, by=day_person)


# ---- dual control ---------------------------------------------------------------------------


def test_dual_control_needs_two_different_people_and_is_written_once() -> None:
    operator, reviewer, clerk = make_user(), make_user(), make_user()
    at = timezone.now() - dt.timedelta(hours=1)
    with pytest.raises(Refused, match="someone other than the operator"):
        handover.record_dual_control(
            what="Core switch firmware upgrade", performed_at=at, operator=operator,
            reviewer=operator, outcome="done", by=clerk,
        )  # fmt: skip
    with pytest.raises(Refused, match="in the future"):
        handover.record_dual_control(
            what="x", performed_at=timezone.now() + dt.timedelta(hours=1), operator=operator,
            reviewer=reviewer, outcome="done", by=clerk,
        )  # fmt: skip
    record = handover.record_dual_control(
        what="Core switch firmware upgrade", performed_at=at, operator=operator,
        reviewer=reviewer, outcome="rolled_back", by=clerk, note="CRC errors after reload",
    )  # fmt: skip
    assert (record.operator, record.reviewer, record.outcome) == (operator, reviewer, "rolled_back")
    with pytest.raises(TypeError):
        record.save()
    with pytest.raises(TypeError):
        DualControlRecord.objects.all().update(outcome="done")
    with pytest.raises(IntegrityError), transaction.atomic():
        DualControlRecord.objects.create(
            what="bypass", performed_at=at, operator=operator, reviewer=operator,
            outcome="done", recorded_by=clerk,
        )  # fmt: skip


# ---- API ------------------------------------------------------------------------------------


def test_hand_over_a_shift_through_the_api() -> None:
    g = make_group(name="Duty NOC")
    outgoing_person, incoming_person = engineer(g, Role.NOC_OPERATOR), engineer(g)
    out_api, in_api = ApiClient(outgoing_person), ApiClient(incoming_person)
    start = timezone.now() - dt.timedelta(hours=8)
    first = out_api.post("/api/v1/shifts/", {
        "group": "Duty NOC", "starts_at": start.isoformat(),
        "ends_at": (start + dt.timedelta(hours=8)).isoformat(),
        "people": [outgoing_person.username]})  # fmt: skip
    second = out_api.post("/api/v1/shifts/", {
        "group": "Duty NOC", "starts_at": (start + dt.timedelta(hours=8)).isoformat(),
        "ends_at": (start + dt.timedelta(hours=16)).isoformat(),
        "people": [incoming_person.username]})  # fmt: skip
    assert first.status_code == second.status_code == 201, first.json()
    ticket = make_ticket()
    made = out_api.post(
        "/api/v1/handovers/",
        {"outgoing": first.json()["id"], "incoming": second.json()["id"], "summary": "one open"},
    )
    assert made.status_code == 201, made.json()
    body = made.json()
    assert [t["number"] for t in body["open_tickets"]] == [ticket.number]
    assert body["signed_by"] is None
    refused = out_api.post(f"/api/v1/handovers/{body['id']}/sign/", {})
    assert refused.status_code == 409
    assert "not on the incoming shift" in refused.json()["error"]["message"]
    signed = in_api.post(f"/api/v1/handovers/{body['id']}/sign/", {})
    assert signed.status_code == 200, signed.json()
    assert signed.json()["signed_by"] == incoming_person.username
    again = in_api.post(f"/api/v1/handovers/{body['id']}/sign/", {})
    assert again.status_code == 409
    listed = in_api.get("/api/v1/handovers/", group="Duty NOC", signed="true").json()
    assert [h["id"] for h in listed["items"]] == [body["id"]]


def test_a_branch_liaison_sees_no_duty_records_and_an_auditor_changes_none() -> None:
    liaison = ApiClient(make_user(Role.BRANCH_LIAISON, sites=(make_site(),)))
    assert liaison.get("/api/v1/handovers/").status_code == 403
    assert liaison.get("/api/v1/dual-control/").status_code == 403
    assert liaison.get("/api/v1/oncall/").status_code == 200
    auditor = ApiClient(make_user(Role.AUDITOR))
    assert auditor.get("/api/v1/handovers/").status_code == 200
    assert auditor.post("/api/v1/handovers/1/sign/", {}).status_code == 403


def test_dual_control_through_the_api() -> None:
    operator, reviewer = make_user(Role.OPS_ENGINEER), make_user(Role.OPS_ENGINEER)
    api = ApiClient(make_user(Role.NOC_OPERATOR))
    at = (timezone.now() - dt.timedelta(minutes=30)).isoformat()
    body = {
        "what": "Firewall policy change at HQ",
        "performed_at": at,
        "operator": operator.username,
        "reviewer": operator.username,
        "outcome": "done",
    }
    same = api.post("/api/v1/dual-control/", body)
    assert same.status_code == 400
    assert "reviewer" in same.json()["error"]["fields"]
    made = api.post("/api/v1/dual-control/", {**body, "reviewer": reviewer.username})
    assert made.status_code == 201, made.json()
    assert api.get("/api/v1/dual-control/").json()[0]["reviewer"] == reviewer.username
