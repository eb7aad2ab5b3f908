"""The reportable-incident resources: the regulatory ruleset (``reportable-rules``), the
reportable incidents with their timers (``reportable-incidents``), recording a report sent,
and the 情况报告书 of a ticket as DOCX or PDF (``tickets/{id}/report.docx|.pdf``).

Added to the service desk's router by ``api.router()``. Everyone who may see reference data
reads the rules; only administrators change them (through ``core.changes``: validated and
audited). Incidents follow their ticket's site, like tickets; recording a report needs the
right to change the ticket.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from branchops.cmdb.choices import SystemCategory
from branchops.core import changes, scoping
from branchops.core.api import actor
from branchops.core.choices import ChangeSource
from branchops.core.models import User
from branchops.core.permissions import Action, Area, can
from branchops.servicedesk import report_document, reportable
from branchops.servicedesk.api import _answer
from branchops.servicedesk.models import (
    IncidentReport,
    RegulatoryRule,
    ReportableIncident,
    Ticket,
)
from branchops.servicedesk.reportable_choices import IncidentGrade, ReportKind, TimerState

# ---- shapes ---------------------------------------------------------------------------------


class RuleOut(Schema):
    id: int
    name: str
    order: int
    active: bool
    system_codes: list[str]
    system_category: str
    min_outage_minutes: int
    min_active_clients: int | None
    grade: IncidentGrade
    immediate_after_minutes: int
    update_every_minutes: int
    written_within_hours: int
    investigation_within_workdays: int
    source: str
    shipped: bool
    unknown_systems: list[str] = Field(
        description="Codes that name no information system in the CMDB (a typo, or not yet "
        "imported)."
    )

    @staticmethod
    def resolve_unknown_systems(obj: RegulatoryRule) -> list[str]:
        return reportable.unknown_system_codes(obj)


class RuleIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    order: int = Field(100, ge=0)
    active: bool = True
    system_codes: list[str] = Field(default_factory=list, description="System codes.")
    system_category: SystemCategory | None = Field(None, description="Or every system of it.")
    min_outage_minutes: int = Field(..., ge=1)
    min_active_clients: int | None = Field(None, ge=1)
    grade: IncidentGrade
    immediate_after_minutes: int = Field(30, ge=1)
    update_every_minutes: int = Field(60, ge=1)
    written_within_hours: int = Field(24, ge=1)
    investigation_within_workdays: int = Field(5, ge=1, le=60)
    source: str = Field("", max_length=300)


class RulePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    order: int | None = Field(None, ge=0)
    active: bool | None = None
    system_codes: list[str] | None = None
    system_category: SystemCategory | None = None
    min_outage_minutes: int | None = Field(None, ge=1)
    min_active_clients: int | None = Field(None, ge=1)
    grade: IncidentGrade | None = None
    immediate_after_minutes: int | None = Field(None, ge=1)
    update_every_minutes: int | None = Field(None, ge=1)
    written_within_hours: int | None = Field(None, ge=1)
    investigation_within_workdays: int | None = Field(None, ge=1, le=60)
    source: str | None = Field(None, max_length=300)


class TimerOut(Schema):
    kind: ReportKind
    label: str
    state: TimerState
    due_at: dt.datetime | None
    done_at: dt.datetime | None
    late: bool = Field(description="Sent after it was due (or an update gap was too long).")


class ReportOut(Schema):
    id: int
    kind: ReportKind
    sent_at: dt.datetime
    sent_by: str
    note: str
    recorded_at: dt.datetime

    @staticmethod
    def resolve_sent_by(obj: IncidentReport) -> str:
        return obj.sent_by.get_username()


class IncidentOut(Schema):
    id: int
    ticket_id: int
    ticket: str = Field(description="Ticket number.")
    title: str
    site: str | None
    systems: list[str]
    grade: IncidentGrade
    rule: str
    outage_started_at: dt.datetime
    recovered_at: dt.datetime | None
    outage_minutes: float
    detected_at: dt.datetime
    graded_at: dt.datetime
    timers: list[TimerOut]
    reports: list[ReportOut]
    docx: str = Field(description="The 情况报告书 as DOCX.")
    pdf: str = Field(description="The 情况报告书 as PDF.")


class IncidentPage(Schema):
    count: int
    items: list[IncidentOut]


class IncidentFilter(Schema):
    year: int | None = Field(None, ge=2000, le=2100, description="Outage start, local year.")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class ReportIn(Schema):
    kind: ReportKind
    sent_at: dt.datetime | None = Field(None, description="Default: now.")
    note: str = Field("", max_length=5000)


# ---- helpers --------------------------------------------------------------------------------


def _incidents(user: User) -> QuerySet[ReportableIncident]:
    return (
        scoping.visible(user, ReportableIncident)
        .select_related("ticket__site", "rule")
        .prefetch_related("ticket__systems", reportable.incidents_with_reports())
    )


def incident_out(incident: ReportableIncident, now: dt.datetime) -> dict[str, Any]:
    ticket = incident.ticket
    recovered = reportable.recovered_at(ticket)
    return {
        "id": incident.pk,
        "ticket_id": ticket.pk,
        "ticket": ticket.number,
        "title": ticket.title,
        "site": ticket.site.code if ticket.site else None,
        "systems": [s.code for s in ticket.systems.all()],
        "grade": incident.grade,
        "rule": incident.rule.name,
        "outage_started_at": incident.outage_started_at,
        "recovered_at": recovered,
        "outage_minutes": round(((recovered or now) - incident.outage_started_at) / _MINUTE, 1),
        "detected_at": incident.detected_at,
        "graded_at": incident.graded_at,
        "timers": reportable.timers(incident, now, list(incident.reports.all())),
        "reports": list(incident.reports.all()),
        "docx": reverse("api:tickets_report_docx", args=[ticket.pk]),
        "pdf": reverse("api:tickets_report_pdf", args=[ticket.pk]),
    }


_MINUTE = dt.timedelta(minutes=1)


def _require_rule_editor(user: User) -> None:
    if not reportable.may_edit_rules(user):
        raise PermissionDenied(_("Only administrators may change the regulatory rules."))


def _rule_data(given: dict[str, Any]) -> dict[str, Any]:
    if "system_category" in given:
        given["system_category"] = given["system_category"] or ""
    return given


# ---- routes ---------------------------------------------------------------------------------


def reportable_routes(r: Router) -> None:
    _rule_routes(r)
    _incident_routes(r)
    _document_routes(r)


def _rule_routes(r: Router) -> None:
    tags = ["reportable incidents"]

    @r.get(
        "/reportable-rules/",
        response=list[RuleOut],
        operation_id="reportable_rules_list",
        tags=tags,
    )
    def list_rules(request: HttpRequest) -> Any:
        return list(scoping.visible(actor(request), RegulatoryRule))

    @r.get(
        "/reportable-rules/{int:pk}/",
        response=RuleOut,
        operation_id="reportable_rules_read",
        tags=tags,
    )
    def read_rule(request: HttpRequest, pk: int) -> Any:
        return get_object_or_404(scoping.visible(actor(request), RegulatoryRule), pk=pk)

    @r.post(
        "/reportable-rules/",
        response={201: RuleOut},
        operation_id="reportable_rules_create",
        tags=tags,
    )
    def create_rule(request: HttpRequest, payload: RuleIn) -> Any:
        user = actor(request)
        _require_rule_editor(user)
        data = _rule_data(payload.dict())
        return Status(
            201, changes.create(RegulatoryRule, data, actor=user, source=ChangeSource.API)
        )

    @r.patch(
        "/reportable-rules/{int:pk}/",
        response=RuleOut,
        operation_id="reportable_rules_update",
        tags=tags,
    )
    def update_rule(request: HttpRequest, pk: int, payload: RulePatch) -> Any:
        user = actor(request)
        _require_rule_editor(user)
        rule = get_object_or_404(RegulatoryRule, pk=pk)
        data = _rule_data(payload.dict(exclude_unset=True))
        return changes.update(rule, data, actor=user, source=ChangeSource.API)

    @r.delete(
        "/reportable-rules/{int:pk}/",
        response={204: None},
        operation_id="reportable_rules_delete",
        tags=tags,
    )
    def delete_rule(request: HttpRequest, pk: int) -> Any:
        user = actor(request)
        _require_rule_editor(user)
        rule = get_object_or_404(RegulatoryRule, pk=pk)
        changes.delete(rule, actor=user, source=ChangeSource.API)  # in use: 409
        return Status(204, None)


def _incident_routes(r: Router) -> None:
    tags = ["reportable incidents"]

    @r.get(
        "/reportable-incidents/",
        response=IncidentPage,
        operation_id="reportable_incidents_list",
        tags=tags,
    )
    def list_incidents(request: HttpRequest, filters: Query[IncidentFilter]) -> Any:
        qs = _incidents(actor(request))
        if filters.year is not None:
            qs = qs.filter(outage_started_at__year=filters.year)
        now = timezone.now()
        page = qs[filters.offset : filters.offset + filters.limit]
        return {"count": qs.count(), "items": [incident_out(i, now) for i in page]}

    @r.get(
        "/reportable-incidents/{int:pk}/",
        response=IncidentOut,
        operation_id="reportable_incidents_read",
        tags=tags,
    )
    def read_incident(request: HttpRequest, pk: int) -> Any:
        return incident_out(get_object_or_404(_incidents(actor(request)), pk=pk), timezone.now())

    @r.post(
        "/reportable-incidents/{int:pk}/reports/",
        response={201: ReportOut},
        operation_id="reportable_incidents_report",
        summary="Record a report sent to the regulator",
        tags=tags,
    )
    def record(request: HttpRequest, pk: int, payload: ReportIn) -> Any:
        user = actor(request)
        incident = get_object_or_404(_incidents(user), pk=pk)
        if not can(user, Action.CHANGE, Area.SERVICE_DESK):
            raise PermissionDenied(_("Your role may not record reports to the regulator."))
        scoping.require_change(user, Action.CHANGE, incident.ticket)

        def call() -> IncidentReport:
            return reportable.record_report(
                incident, kind=payload.kind, by=user, sent_at=payload.sent_at, note=payload.note
            )

        done = _answer(request, call)
        return done if isinstance(done, HttpResponse) else Status(201, done)


def document_response(incident: ReportableIncident, extension: str, by_name: str) -> HttpResponse:
    """The 情况报告书 as a download (``docx`` or ``pdf``)."""
    draft = report_document.draft(incident, timezone.now(), by_name)
    if extension == "docx":
        body, kind = report_document.as_docx(draft), report_document.DOCX_TYPE
    else:
        body, kind = report_document.as_pdf(draft), report_document.PDF_TYPE
    response = HttpResponse(body, content_type=kind)
    name = report_document.file_name(incident, extension)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _document_routes(r: Router) -> None:
    for extension in ("docx", "pdf"):
        _document_route(r, extension)


def _document_route(r: Router, extension: str) -> None:
    @r.get(
        f"/tickets/{{int:pk}}/report.{extension}",
        operation_id=f"tickets_report_{extension}",
        summary=f"The 情况报告书 of a reportable incident ({extension.upper()})",
        tags=["reportable incidents"],
        url_name=f"tickets_report_{extension}",
    )
    def document(request: HttpRequest, pk: int) -> HttpResponse:
        user = actor(request)
        ticket = get_object_or_404(scoping.visible(user, Ticket), pk=pk)
        incident = get_object_or_404(_incidents(user), ticket=ticket)
        return document_response(incident, extension, user.get_full_name() or user.get_username())
