"""The reportable-incident API: the ruleset (administrators change it, with validation and
an audit row), the incidents with their timers, recording a report, and the 情况报告书
downloads; refusals in the project's JSON error shape."""

from __future__ import annotations

import io
from typing import Any

import pytest

from branchops.core.choices import Role
from branchops.core.models import AuditEvent
from branchops.core.testing import ApiClient, make_site, make_user
from branchops.servicedesk.models import IncidentReport, RegulatoryRule, ReportableIncident
from branchops.servicedesk.tests.reportable_support import outage

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shipped_rules")]

RULES = "/api/v1/reportable-rules/"
INCIDENTS = "/api/v1/reportable-incidents/"

A_RULE = {
    "name": "Market data down 15 min",
    "system_codes": ["market-data"],
    "min_outage_minutes": 15,
    "grade": "general",
}


def fields_of(response: Any) -> dict[str, Any]:
    return response.json()["error"].get("fields", {})


def test_everyone_reads_the_rules_with_the_codes_the_cmdb_does_not_know() -> None:
    listed = ApiClient(make_user(Role.AUDITOR)).get(RULES)
    assert listed.status_code == 200
    names = [r["name"] for r in listed.json()]
    assert "Central or online trading down 5 min" in names
    first = listed.json()[0]
    assert first["unknown_systems"] == ["central-trading", "online-trading"]  # none imported


def test_an_administrator_adds_a_rule_and_the_change_is_audited() -> None:
    created = ApiClient(make_user(Role.ADMIN)).post(RULES, A_RULE)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["grade"], body["immediate_after_minutes"], body["shipped"]) == (
        "general",
        30,
        False,
    )
    assert AuditEvent.objects.filter(
        object_repr="Market data down 15 min", action="create"
    ).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"grade": "catastrophic"}, "grade"),
        ({"min_outage_minutes": 0}, "min_outage_minutes"),
        ({"min_active_clients": -5}, "min_active_clients"),
        ({"system_codes": []}, "system_codes"),  # and no category either
        ({"system_category": "sometimes"}, "system_category"),
        ({"name": "Central or online trading down 5 min"}, "name"),  # taken
        ({"investigation_within_workdays": 0}, "investigation_within_workdays"),
    ],
)
def test_bad_rule_data_is_refused_with_the_field_named(change: dict[str, Any], field: str) -> None:
    refused = ApiClient(make_user(Role.ADMIN)).post(RULES, {**A_RULE, **change})
    assert refused.status_code == 400, refused.json()
    assert field in fields_of(refused)
    assert not RegulatoryRule.objects.filter(name=A_RULE["name"]).exists()


def test_an_administrator_edits_a_shipped_rule() -> None:
    rule = RegulatoryRule.objects.get(name="Depository or margin trading down 30 min")
    api = ApiClient(make_user(Role.ADMIN))
    changed = api.patch(f"{RULES}{rule.pk}/", {"min_outage_minutes": 20})
    assert changed.status_code == 200, changed.json()
    assert RegulatoryRule.objects.get(pk=rule.pk).min_outage_minutes == 20
    refused = api.patch(f"{RULES}{rule.pk}/", {"system_codes": [], "system_category": None})
    assert refused.status_code == 400
    assert "system_codes" in fields_of(refused)


@pytest.mark.parametrize(
    "role", [Role.BRANCH_LIAISON, Role.AUDITOR, Role.NOC_OPERATOR, Role.OPS_ENGINEER]
)
def test_only_administrators_change_the_rules(role: Role) -> None:
    rule = RegulatoryRule.objects.first()
    assert rule is not None
    api = ApiClient(make_user(role))
    assert api.post(RULES, A_RULE).status_code == 403
    assert api.patch(f"{RULES}{rule.pk}/", {"active": False}).status_code == 403
    assert api.delete(f"{RULES}{rule.pk}/").status_code == 403
    assert RegulatoryRule.objects.get(pk=rule.pk).active


def test_a_rule_that_graded_an_incident_cannot_be_deleted() -> None:
    ticket = outage("central-trading", minutes_ago=10)
    rule = ReportableIncident.objects.get(ticket=ticket).rule
    api = ApiClient(make_user(Role.ADMIN))
    assert api.delete(f"{RULES}{rule.pk}/").status_code == 409
    spare = api.post(RULES, A_RULE).json()
    assert api.delete(f"{RULES}{spare['id']}/").status_code == 204


def test_incidents_list_by_year_with_their_timers() -> None:
    ticket = outage("central-trading", minutes_ago=40)
    api = ApiClient(make_user(Role.NOC_OPERATOR))
    year = ticket.created_at.year
    page = api.get(INCIDENTS, year=year).json()
    assert page["count"] == 1
    item = page["items"][0]
    assert (item["ticket"], item["grade"]) == (ticket.number, "large")
    assert [t["kind"] for t in item["timers"]] == [
        "immediate",
        "update",
        "written",
        "investigation",
    ]
    assert item["timers"][0]["state"] == "overdue"  # 40 minutes, nothing sent
    assert item["docx"] == f"/api/v1/tickets/{ticket.pk}/report.docx"
    assert api.get(INCIDENTS, year=year - 1).json()["count"] == 0


def test_a_noc_operator_records_the_immediate_report() -> None:
    ticket = outage("central-trading", minutes_ago=40)
    incident = ReportableIncident.objects.get(ticket=ticket)
    api = ApiClient(make_user(Role.NOC_OPERATOR))
    sent = api.post(f"{INCIDENTS}{incident.pk}/reports/", {"kind": "immediate", "note": "phoned"})
    assert sent.status_code == 201, sent.json()
    timers = api.get(f"{INCIDENTS}{incident.pk}/").json()["timers"]
    assert (timers[0]["state"], timers[0]["late"]) == ("done", True)


def test_recording_a_report_is_refused_for_bad_data_and_for_readers() -> None:
    ticket = outage("central-trading", minutes_ago=40)
    incident = ReportableIncident.objects.get(ticket=ticket)
    path = f"{INCIDENTS}{incident.pk}/reports/"
    bad = ApiClient(make_user(Role.NOC_OPERATOR)).post(path, {"kind": "telegram"})
    assert bad.status_code == 400
    assert "kind" in fields_of(bad)
    future = ApiClient(make_user(Role.NOC_OPERATOR)).post(
        path, {"kind": "update", "sent_at": "2099-01-01T00:00:00+08:00"}
    )
    assert future.status_code == 400
    assert "sent_at" in fields_of(future)
    assert ApiClient(make_user(Role.AUDITOR)).post(path, {"kind": "update"}).status_code == 403
    assert not IncidentReport.objects.exists()


def test_a_liaison_sees_only_their_branches_incidents() -> None:
    own, other = make_site(), make_site()
    outage("central-trading", minutes_ago=10, site=own)
    hidden = outage("online-trading", minutes_ago=10, site=other)
    api = ApiClient(make_user(Role.BRANCH_LIAISON, sites=(own,)))
    assert api.get(INCIDENTS).json()["count"] == 1
    incident = ReportableIncident.objects.get(ticket=hidden)
    assert api.get(f"{INCIDENTS}{incident.pk}/").status_code == 404
    assert api.get(f"/api/v1/tickets/{hidden.pk}/report.pdf").status_code == 404


def test_the_report_downloads_as_docx_and_pdf() -> None:
    ticket = outage("central-trading", minutes_ago=40)
    api = ApiClient(make_user(Role.AUDITOR))
    docx = api.get(f"/api/v1/tickets/{ticket.pk}/report.docx")
    assert docx.status_code == 200
    assert docx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert f"{ticket.number}-report.docx" in docx["Content-Disposition"]
    from docx import Document

    assert Document(io.BytesIO(docx.content)).paragraphs[1].text == ticket.number
    pdf = api.get(f"/api/v1/tickets/{ticket.pk}/report.pdf")
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert pdf.content.startswith(b"%PDF")


def test_a_ticket_that_is_not_reportable_has_no_report() -> None:
    ticket = outage("market-data", minutes_ago=40)
    response = ApiClient(make_user(Role.ADMIN)).get(f"/api/v1/tickets/{ticket.pk}/report.docx")
    assert response.status_code == 404
