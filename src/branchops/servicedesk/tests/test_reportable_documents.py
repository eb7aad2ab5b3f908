"""The 情况报告书 drafted from a ticket: time, place, scope, impact, cause, measures, the
timeline and the reports sent, as DOCX (read back with python-docx) and as PDF (read back
with pypdf; the Chinese font is embedded, so any viewer shows it)."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from django.utils import timezone, translation

from branchops.core.choices import Role
from branchops.core.testing import make_site, make_user
from branchops.servicedesk import report_document, reportable, services
from branchops.servicedesk.models import ReportableIncident
from branchops.servicedesk.tests.reportable_support import outage, resolve

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("shipped_rules")]

MIN = dt.timedelta(minutes=1)


@pytest.fixture
def incident() -> ReportableIncident:
    """Central trading down 50 minutes at the HQ data centre, worked, resolved, reported."""
    site = make_site(code="HQ-SH", name="上海总部数据中心", address="上海市浦东新区")
    ticket = outage(
        "central-trading",
        minutes_ago=120,
        site=site,
        title="Central trading unreachable",
        description="Orders rejected at every branch.",
    )
    engineer = make_user(Role.OPS_ENGINEER, username="zhang.wei")
    start = ticket.created_at
    services.worklog(
        ticket, by=engineer, note="Failed over to the standby database", at=start + 20 * MIN
    )
    resolve(ticket, start + 50 * MIN, note="Storage controller firmware fault")
    found = ReportableIncident.objects.select_related("rule", "ticket").get(ticket=ticket)
    reportable.record_report(found, kind="immediate", by=engineer, sent_at=start + 31 * MIN)
    return found


def docx_text(data: bytes) -> str:
    from docx import Document

    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    return "\n".join(parts)


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def squeezed(text: str) -> str:
    """pypdf reads fpdf2's two-byte glyph codes with a NUL before each character (poppler's
    pdftotext does not); compare without NULs and whitespace."""
    return re.sub(r"[\s\x00]+", "", text)


def test_the_docx_says_what_when_where_why_and_what_was_done(incident: ReportableIncident) -> None:
    text = docx_text(report_document.as_docx(report_document.draft(incident, timezone.now())))
    ticket = incident.ticket
    for expected in (
        ticket.number,
        "Central trading unreachable",
        "Large",  # the grade
        "Central or online trading down 5 min",  # the rule
        timezone.localtime(ticket.created_at).strftime("%Y-%m-%d %H:%M"),  # outage start
        "50 min",  # duration
        "上海总部数据中心 (HQ-SH), 上海市浦东新区",  # place
        "Central trading system (central-trading)",  # scope
        "Orders rejected at every branch.",  # impact
        "Storage controller firmware fault",  # cause: the resolution note
        "Failed over to the standby database",  # measures: the work log
        "Immediate report",  # reports sent
        "zhang.wei",
    ):
        assert expected in text, expected
    measures = text.split("6. Measures taken")[1].split("7. Timeline")[0]
    assert "sent to the regulator" not in measures


def test_the_docx_uses_a_chinese_font_for_chinese_text(incident: ReportableIncident) -> None:
    from docx import Document
    from docx.oxml.ns import qn

    doc = Document(
        io.BytesIO(report_document.as_docx(report_document.draft(incident, timezone.now())))
    )
    fonts = doc.styles["Normal"].element.rPr.rFonts
    assert fonts.get(qn("w:eastAsia")) == "SimSun"


def test_the_pdf_holds_the_ticket_number_and_the_chinese_names(
    incident: ReportableIncident, settings: Any
) -> None:
    data = report_document.as_pdf(report_document.draft(incident, timezone.now()))
    assert data.startswith(b"%PDF")
    text = squeezed(pdf_text(data))
    assert incident.ticket.number in text
    assert "上海总部数据中心" in text
    assert b"/FontFile" in data  # the font travels with the document


def test_in_chinese_the_pdf_names_the_system_in_chinese(
    incident: ReportableIncident, settings: Any
) -> None:
    settings.LANGUAGE_CODE = "zh-hans"
    with translation.override("zh-hans"):
        data = report_document.as_pdf(report_document.draft(incident, timezone.now()))
    assert "集中交易系统(central-trading)" in squeezed(pdf_text(data))


def test_an_open_outage_is_drafted_as_not_yet_recovered() -> None:
    ticket = outage("online-trading", minutes_ago=45)
    found = ReportableIncident.objects.select_related("rule", "ticket").get(ticket=ticket)
    text = docx_text(report_document.as_docx(report_document.draft(found, timezone.now())))
    assert "not yet recovered" in text
    assert "45 min so far" in text
