"""The reportable-incident pages: the panel on a ticket's page (grade, rule, timers in
colour, recording a report, downloads), the year's list under the service desk's
navigation, in English and Chinese."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from branchops.core.choices import Role
from branchops.core.testing import make_site, make_user
from branchops.servicedesk.models import IncidentReport, ReportableIncident
from branchops.servicedesk.tests.reportable_support import outage
from branchops.servicedesk.tests.test_views_support import client_for, csrf_post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shipped_rules")]

LIST = reverse("servicedesk:reportable_list")


def detail(ticket: Any) -> str:
    return reverse("servicedesk:ticket_detail", args=[ticket.pk])


def timer_states(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-bo-timer="(\w+)" data-bo-timer-state="(\w+)"', page))


def test_the_ticket_page_shows_the_grade_rule_and_timers() -> None:
    ticket = outage("central-trading", minutes_ago=40)
    page = client_for(make_user(Role.NOC_OPERATOR)).get(detail(ticket)).content.decode()
    assert 'id="reportable"' in page
    assert 'data-bo-grade="large"' in page
    assert "Central or online trading down 5 min" in page
    assert timer_states(page) == {
        "immediate": "overdue",  # 30 minutes passed, nothing sent
        "update": "due",  # an hour after the immediate report was due
        "written": "due",
        "investigation": "waiting",
    }
    assert "bg-red text-red-fg" in page  # overdue is red
    assert reverse("servicedesk:reportable_document", args=[ticket.pk, "pdf"]) in page
    assert 'data-bo-action="report"' in page


def test_a_ticket_that_is_not_reportable_has_no_panel() -> None:
    ticket = outage("market-data", minutes_ago=40)
    page = client_for(make_user(Role.NOC_OPERATOR)).get(detail(ticket)).content.decode()
    assert 'id="reportable"' not in page


def test_an_auditor_sees_the_panel_without_the_form() -> None:
    ticket = outage("central-trading", minutes_ago=40)
    page = client_for(make_user(Role.AUDITOR)).get(detail(ticket)).content.decode()
    assert 'id="reportable"' in page
    assert 'data-bo-action="report"' not in page


def test_recording_the_immediate_report_from_the_page() -> None:
    ticket = outage("central-trading", minutes_ago=40)
    client = client_for(make_user(Role.NOC_OPERATOR))
    url = reverse("servicedesk:reportable_record", args=[ticket.pk])
    done = csrf_post(client, url, {"report-kind": "immediate", "report-note": "called 021-xxx"})
    assert done.status_code == 302
    page = client.get(detail(ticket)).content.decode()
    assert timer_states(page)["immediate"] == "done"
    assert "Immediate report recorded for" in page
    report = IncidentReport.objects.get()
    assert report.note == "called 021-xxx"


def test_a_refused_report_says_why_and_writes_nothing() -> None:
    ticket = outage("central-trading", minutes_ago=40)
    client = client_for(make_user(Role.NOC_OPERATOR))
    url = reverse("servicedesk:reportable_record", args=[ticket.pk])
    csrf_post(client, url, {"report-kind": "immediate", "report-sent_at": "2099-01-01T10:00"})
    page = client.get(detail(ticket)).content.decode()
    assert "A report cannot be sent in the future." in page
    assert not IncidentReport.objects.exists()


def test_an_auditor_cannot_record_a_report() -> None:
    ticket = outage("central-trading", minutes_ago=40)
    url = reverse("servicedesk:reportable_record", args=[ticket.pk])
    refused = csrf_post(client_for(make_user(Role.AUDITOR)), url, {"report-kind": "immediate"})
    assert refused.status_code == 403
    assert not IncidentReport.objects.exists()


def test_the_page_downloads_the_report() -> None:
    ticket = outage("central-trading", minutes_ago=40)
    client = client_for(make_user(Role.NOC_OPERATOR))
    pdf = client.get(reverse("servicedesk:reportable_document", args=[ticket.pk, "pdf"]))
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    docx = client.get(reverse("servicedesk:reportable_document", args=[ticket.pk, "docx"]))
    assert docx.status_code == 200
    odd = client.get(reverse("servicedesk:reportable_document", args=[ticket.pk, "exe"]))
    assert odd.status_code == 404


def test_the_year_list_is_in_the_navigation_and_lists_the_years_incidents() -> None:
    ticket = outage("online-trading", minutes_ago=40)
    client = client_for(make_user(Role.NOC_OPERATOR))
    page = client.get(LIST, {"year": ticket.created_at.year}).content.decode()
    assert f'href="{LIST}"' in page  # the sidebar item
    assert f'data-bo-incident="{ticket.number}" data-bo-worst="overdue"' in page
    assert "Depository or margin trading down 30 min" in page  # the ruleset below
    empty = client.get(LIST, {"year": ticket.created_at.year - 1}).content.decode()
    assert ticket.number not in empty


def test_a_liaison_lists_only_their_branches() -> None:
    own, other = make_site(), make_site()
    mine = outage("central-trading", minutes_ago=10, site=own)
    theirs = outage("central-trading", minutes_ago=10, site=other)
    page = client_for(make_user(Role.BRANCH_LIAISON, sites=(own,))).get(LIST).content.decode()
    assert mine.number in page
    assert theirs.number not in page
    assert ReportableIncident.objects.count() == 2


def test_the_list_speaks_chinese() -> None:
    outage("central-trading", minutes_ago=10)
    page = client_for(make_user(Role.NOC_OPERATOR), "zh-hans").get(LIST).content.decode()
    assert '<html lang="zh-hans">' in page
