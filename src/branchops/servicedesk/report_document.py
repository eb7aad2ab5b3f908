"""The 情况报告书 of a reportable incident, drafted from its ticket, as DOCX and as PDF.

:func:`draft` gathers what the regulator asks for (time, place, scope, impact, cause,
measures, the timeline and the reports already sent) into plain :class:`Section` blocks;
:func:`as_docx` and :func:`as_pdf` lay the same blocks out. The document is worded in the
product's language (``LANGUAGE_CODE``, Chinese by default), whatever the reader's browser
says: it goes to the regulator. The PDF embeds a subset of Noto Sans SC (OFL, from the
``pylopdf-fonts-zh-cn`` package), so Chinese shows on any viewer, with no font installed.

It is a draft: the cause and the measures come from the resolution note and the work log,
and the person sending it reads and completes it.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from branchops.servicedesk.choices import EventKind, Impact, TicketStatus
from branchops.servicedesk.models import ReportableIncident, TicketEvent
from branchops.servicedesk.reportable import Timer, recovered_at, timers
from branchops.servicedesk.reportable_choices import IncidentGrade, ReportKind, TimerState

# fontTools logs each step of subsetting the font at INFO: a page of noise per PDF.
logging.getLogger("fontTools").setLevel(logging.WARNING)

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PDF_TYPE = "application/pdf"


@dataclass
class Section:
    """A heading with paragraphs, label-value rows, and/or a table with a header row."""

    heading: str
    paragraphs: list[str] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)


@dataclass
class Draft:
    title: str
    number: str
    sections: list[Section]
    footer: str


def _when(at: dt.datetime | None) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M") if at else "—"


def _minutes(delta: dt.timedelta) -> str:
    total = max(0, int(delta.total_seconds() // 60))
    hours, minutes = divmod(total, 60)
    if hours:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    return _("%(m)d min") % {"m": minutes}


def file_name(incident: ReportableIncident, extension: str) -> str:
    return f"{incident.ticket.number}-report.{extension}"


def draft(incident: ReportableIncident, now: dt.datetime, by_name: str = "") -> Draft:
    """Everything the document says, in the product's language."""
    with translation.override(settings.LANGUAGE_CODE):
        return _draft(incident, now, by_name)


def _draft(incident: ReportableIncident, now: dt.datetime, by_name: str) -> Draft:
    ticket = incident.ticket
    events = list(
        TicketEvent.objects.filter(ticket=ticket).select_related("actor").order_by("at", "id")
    )
    recovered = recovered_at(ticket)
    reports = list(incident.reports.select_related("sent_by").order_by("sent_at", "id"))
    systems = [f"{s.display_name} ({s.code})" for s in ticket.systems.order_by("code")]
    site = ticket.site
    place = f"{site.name} ({site.code})" if site else _("not recorded")
    if site and site.address:
        place += f", {site.address}"
    duration = (recovered or now) - incident.outage_started_at
    summary = Section(
        _("Summary"),
        facts=[
            (_("Ticket"), f"{ticket.number} {ticket.title}"),
            (_("Grade"), str(IncidentGrade(incident.grade).label)),
            (
                _("Rule"),
                incident.rule.name + (f" ({incident.rule.source})" if incident.rule.source else ""),
            ),
            (_("Reporting firm"), ""),
            (_("Contact person"), by_name),
        ],
    )
    time = Section(
        _("1. Time"),
        facts=[
            (_("Outage started"), _when(incident.outage_started_at)),
            (_("Service recovered"), _when(recovered) if recovered else _("not yet recovered")),
            (
                _("Duration"),
                _minutes(duration) if recovered else _("%(d)s so far") % {"d": _minutes(duration)},
            ),
            (_("Found reportable"), _when(incident.detected_at)),
        ],
    )
    where = Section(_("2. Place"), paragraphs=[place])
    scope = Section(
        _("3. Scope"),
        facts=[
            (_("Information systems"), "; ".join(systems) or "—"),
            (_("Devices"), "; ".join(d.name for d in ticket.devices.order_by("name")) or "—"),
        ],
    )
    impact = Section(
        _("4. Impact"),
        paragraphs=[str(Impact(ticket.impact).label), ticket.description.strip() or "—"],
    )
    cause = Section(_("5. Cause"), paragraphs=[_resolution_note(events) or _("To be completed.")])
    # Recording a report writes a work-log line too; that is no measure against the fault.
    report_lines = {(r.sent_at, r.sent_by_id) for r in reports}
    measures = Section(
        _("6. Measures taken"),
        paragraphs=[
            f"{_when(e.at)} {e.detail}"
            for e in events
            if e.kind == EventKind.WORKLOG and (e.at, e.actor_id) not in report_lines
        ]
        or [_("To be completed.")],
    )
    timeline = Section(
        _("7. Timeline"),
        table=[[_("Time"), _("What happened"), _("By"), _("Detail")]]
        + [_event_row(e) for e in events],
    )
    sent = Section(
        _("8. Reports to the regulator"),
        table=[[_("Report"), _("Due"), _("State"), _("Sent")]]
        + [_timer_row(t) for t in timers(incident, now, reports)],
        paragraphs=[
            _("%(kind)s sent %(at)s by %(by)s. %(note)s")
            % {
                "kind": ReportKind(r.kind).label,
                "at": _when(r.sent_at),
                "by": r.sent_by.get_username(),
                "note": r.note,
            }
            for r in reports
        ],
    )
    return Draft(
        title=_("Incident situation report"),
        number=ticket.number,
        sections=[summary, time, where, scope, impact, cause, measures, timeline, sent],
        footer=_("Draft from BranchOps, %(at)s. Check and complete before sending.")
        % {"at": _when(now)},
    )


def _resolution_note(events: list[TicketEvent]) -> str:
    resolved = [e for e in events if e.to_status == TicketStatus.RESOLVED and e.detail]
    return resolved[-1].detail if resolved else ""


def _event_row(event: TicketEvent) -> list[str]:
    label = EventKind(event.kind).label if event.kind in EventKind.values else event.kind
    if event.to_status:
        label = f"{label}: {TicketStatus(event.to_status).label}"
    actor = event.actor.get_username() if event.actor else ""
    return [_when(event.at), str(label), actor, event.detail]


def _timer_row(timer: Timer) -> list[str]:
    state = str(TimerState(timer.state).label)
    if timer.late:
        state += " " + _("(late)")
    return [timer.label, _when(timer.due_at), state, _when(timer.done_at)]


# ---- DOCX -----------------------------------------------------------------------------------


def as_docx(document: Draft) -> bytes:
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = "SimSun"
    normal.font.size = Pt(11)
    # Word picks the East Asian font from its own attribute: 宋体 for the Chinese text.
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "SimSun")
    doc.add_heading(document.title, level=0)
    doc.add_paragraph(document.number)
    for section in document.sections:
        doc.add_heading(section.heading, level=1)
        if section.facts:
            table = doc.add_table(rows=0, cols=2)
            table.style = "Table Grid"
            for label, value in section.facts:
                cells = table.add_row().cells
                cells[0].text, cells[1].text = label, value
        if section.table:
            table = doc.add_table(rows=0, cols=len(section.table[0]))
            table.style = "Table Grid"
            for row in section.table:
                for cell, text in zip(table.add_row().cells, row, strict=True):
                    cell.text = text
        for text in section.paragraphs:
            doc.add_paragraph(text)
    doc.add_paragraph(document.footer)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# ---- PDF ------------------------------------------------------------------------------------


def _font_path() -> str:
    from pylopdf_fonts_zh_cn import sans_path

    return str(sans_path())


def as_pdf(document: Draft) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import WrapMode, XPos, YPos
    from fpdf.fonts import FontFace

    # One font file, no bold face: headings are shaded instead.
    heading = FontFace(emphasis=None, fill_color=(230, 230, 230))

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("cjk", fname=_font_path())
    pdf.set_title(f"{document.title} {document.number}")
    pdf.add_page()
    width = pdf.epw

    def line(text: str, size: float = 10, gap: float = 1.5) -> None:
        pdf.set_font("cjk", size=size)
        pdf.multi_cell(
            width, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, wrapmode=WrapMode.CHAR
        )
        pdf.ln(gap)

    line(document.title, 18, 2)
    line(document.number, 12, 4)
    for section in document.sections:
        line(section.heading, 13, 1)
        pdf.set_font("cjk", size=9)
        if section.facts:
            with pdf.table(
                col_widths=(1, 3), wrapmode=WrapMode.CHAR, first_row_as_headings=False
            ) as table:
                for label, value in section.facts:
                    table.row([label, value])
            pdf.ln(2)
        if section.table:
            widths = (3, 3, 2, 6) if len(section.table[0]) == 4 else None
            with pdf.table(
                col_widths=widths, wrapmode=WrapMode.CHAR, headings_style=heading
            ) as table:
                for row in section.table:
                    table.row(row)
            pdf.ln(2)
        for text in section.paragraphs:
            line(text, 10, 1)
        pdf.ln(2)
    line(document.footer, 8)
    return bytes(pdf.output())
