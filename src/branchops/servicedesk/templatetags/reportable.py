"""The ticket page's "reportable incident" panel and the look of grades and report timers."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from branchops.core.models import User
from branchops.servicedesk import reportable
from branchops.servicedesk.badges import choice_badge
from branchops.servicedesk.models import ReportableIncident, Ticket
from branchops.servicedesk.reportable import Timer
from branchops.servicedesk.reportable_choices import IncidentGrade, TimerState

register = template.Library()

# Amber while a report is due, red once overdue, green when sent, grey when not (yet) owed.
TIMER_COLOUR = {
    TimerState.DUE: "orange",
    TimerState.OVERDUE: "red",
    TimerState.DONE: "green",
    TimerState.WAITING: "secondary",
    TimerState.NOT_NEEDED: "secondary",
}
GRADE_CSS = {
    IncidentGrade.GENERAL: "bg-secondary-lt",
    IncidentGrade.LARGE: "bg-orange text-orange-fg",
    IncidentGrade.MAJOR: "bg-red text-red-fg",
    IncidentGrade.ESPECIALLY_MAJOR: "bg-dark text-dark-fg",
}


@register.simple_tag
def grade_badge(grade: str) -> SafeString:
    return choice_badge(IncidentGrade, grade, GRADE_CSS, "grade")


@register.simple_tag
def timer_badge(timer: Timer) -> SafeString:
    colour = TIMER_COLOUR[TimerState(timer.state)]
    css = (
        f"bg-{colour}-lt"
        if timer.state in (TimerState.DONE, TimerState.WAITING)
        else (f"bg-{colour} text-{colour}-fg" if colour != "secondary" else "bg-secondary-lt")
    )
    return format_html(
        '<span class="badge {}" data-bo-timer="{}" data-bo-timer-state="{}">{}</span>',
        css,
        timer.kind,
        timer.state,
        TimerState(timer.state).label,
    )


@register.inclusion_tag("servicedesk/reportable/panel.html", takes_context=True)
def reportable_panel(context: dict[str, Any]) -> dict[str, Any]:
    """Nothing for a ticket that is not a reportable incident."""
    ticket: Ticket = context["object"]
    incident = (
        ReportableIncident.objects.filter(ticket=ticket)
        .select_related("rule", "ticket")
        .prefetch_related(reportable.incidents_with_reports())
        .first()
    )
    if incident is None:
        return {"incident": None}
    from branchops.servicedesk.reportable_views import ReportForm

    request = context.get("request")
    user = getattr(request, "user", None)
    now = timezone.now()
    reports = list(incident.reports.all())
    return {
        "incident": incident,
        "object": ticket,
        "timers": reportable.timers(incident, now, reports),
        "reports": reports,
        "recovered_at": reportable.recovered_at(ticket),
        "outage": (reportable.recovered_at(ticket) or now) - incident.outage_started_at,
        "can_record": bool(context.get("can_change")) and isinstance(user, User),
        "form": ReportForm(),
        "csrf_token": context.get("csrf_token"),
        "request": request,
    }
