"""Template helpers of the ticket pages: priority and status badges, the SLA timers (badge
and progress bar), the timeline's icons, and the sidebar's "Service desk" section with its
count of open tickets past an SLA target."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from branchops.core.models import User
from branchops.core.permissions import Action, Area, can, is_site_scoped
from branchops.monitoring.templatetags.checks import duration
from branchops.servicedesk.badges import choice_badge
from branchops.servicedesk.choices import ClockKind, ClockState, EventKind, Priority, TicketStatus
from branchops.servicedesk.sla import Clock

register = template.Library()

# Solid for P1 and P2, so the urgent ones stand out in a long list (as alert severities do).
PRIORITY_CSS = {1: "bg-red text-red-fg", 2: "bg-orange text-orange-fg", 3: "bg-yellow-lt", 4: ""}
STATUS_CSS = {
    TicketStatus.NEW: "bg-blue-lt",
    TicketStatus.ASSIGNED: "bg-azure-lt",
    TicketStatus.IN_PROGRESS: "bg-indigo-lt",
    TicketStatus.PENDING_CUSTOMER: "bg-secondary-lt",
    TicketStatus.PENDING_VENDOR: "bg-secondary-lt",
    TicketStatus.PENDING_SPARE_PART: "bg-secondary-lt",
    TicketStatus.RESOLVED: "bg-green-lt",
    TicketStatus.CLOSED: "bg-green-lt",
    TicketStatus.REOPENED: "bg-orange-lt",
}
# What a timer looks like: green running, amber from 75 %, red breached, grey paused.
CLOCK_COLOUR = {
    "running": "green",
    "warning": "yellow",
    "breached": "red",
    "paused": "secondary",
    "met": "green",
}
CLOCK_ICON = {
    ClockKind.RESPONSE: "message-circle",
    ClockKind.ARRIVAL: "map-pin",
    ClockKind.RESOLUTION: "tool",
}
EVENT_ICON = {
    EventKind.CREATED: "file-plus",
    EventKind.STATUS: "arrows-exchange",
    EventKind.ASSIGNED: "user-check",
    EventKind.UPDATED: "pencil",
    EventKind.WORKLOG: "notes",
    EventKind.DEPARTED: "car",
    EventKind.ARRIVED: "map-pin",
    EventKind.FINISHED: "flag-check",
    EventKind.ATTACHMENT: "paperclip",
    EventKind.ALERT_LINKED: "alarm",
    EventKind.SLA_WARNING: "alert-triangle",
    EventKind.SLA_BREACH: "alert-octagon",
    EventKind.REOPENED: "rotate",
}


@register.simple_tag
def priority_badge(priority: int | None) -> SafeString:
    if priority is None:
        return format_html('<span class="badge bg-secondary-lt">{}</span>', "—")
    return format_html(
        '<span class="badge {} bo-priority" title="{}" data-bo-priority="{}">P{}</span>',
        PRIORITY_CSS.get(priority, "bg-secondary-lt") or "bg-secondary-lt",
        Priority(priority).label,
        priority,
        priority,
    )


@register.simple_tag
def ticket_status_badge(status: str) -> SafeString:
    return choice_badge(TicketStatus, status, STATUS_CSS, "status")


def clock_look(clock: Clock) -> str:
    """running, warning (75 % or more used), breached, paused or met."""
    if clock.state == ClockState.BREACHED:
        return "breached"
    if clock.state == ClockState.PAUSED:
        return "paused"
    if clock.state == ClockState.MET:
        return "met"
    return "warning" if clock.warning else "running"


@register.filter
def clock_colour(clock: Clock) -> str:
    return CLOCK_COLOUR[clock_look(clock)]


@register.filter
def clock_time(clock: Clock) -> str:
    """What is left of the target, or how far past it; "met" once stopped in time."""
    look = clock_look(clock)
    if look == "met":
        return _("met")
    if look == "breached":
        return _("%(time)s overdue") % {"time": duration(-clock.remaining_seconds)}
    left = _("%(time)s left") % {"time": duration(clock.remaining_seconds)}
    if look == "paused":
        return _("paused, %(left)s") % {"left": left}
    return left


@register.filter
def clock_width(clock: Clock) -> str:
    """The progress bar's width in percent (0-100, dot decimal whatever the language)."""
    return f"{max(0.0, min(100.0, clock.percent)):.0f}"


@register.simple_tag
def sla_badge(clock: Clock, compact: bool = False) -> SafeString:
    """A timer: icon, time left (or overdue), colour by state.

    ``compact`` (the list, three timers a row): the time alone while running or paused,
    a tick once met; the whole sentence and the due time are in the tooltip.
    """
    look = clock_look(clock)
    colour = CLOCK_COLOUR[look]
    css = f"bg-{colour}-lt" if look == "met" else f"bg-{colour} text-{colour}-fg"
    label = ClockKind(clock.kind).label
    due = timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M") if clock.due_at else ""
    title = f"{label}: {clock_time(clock)} ({clock.percent:.0f} %)" + (f" · {due}" if due else "")
    icon = CLOCK_ICON[ClockKind(clock.kind)]
    text = clock_time(clock)
    if compact and look in ("running", "warning", "paused"):
        text = duration(clock.remaining_seconds)
    if compact and look == "paused":
        icon = "player-pause"
    elif compact and look == "met":
        icon, text = "check", ""
    return format_html(
        '<span class="badge {} bo-clock" data-bo-clock="{}" data-bo-clock-state="{}" title="{}"'
        ' aria-label="{}"><i class="ti ti-{}"></i> {}</span>',
        css,
        clock.kind,
        look,
        title,
        title,
        icon,
        text,
    )


@register.filter
def event_icon(kind: str) -> str:
    return EVENT_ICON.get(EventKind(kind), "point") if kind in EventKind.values else "point"


@register.filter
def status_label(value: str) -> str:
    return str(TicketStatus(value).label) if value in TicketStatus.values else value


@register.filter
def clock_label(value: str) -> str:
    return str(ClockKind(value).label) if value in ClockKind.values else value


# ---- the sidebar -----------------------------------------------------------------------------

NAV_ITEMS = (
    ("servicedesk:ticket_list", gettext_lazy("Tickets"), Action.VIEW, "ticket"),
    ("servicedesk:ticket_add", gettext_lazy("Log a ticket"), Action.ADD, "phone-plus"),
    ("servicedesk:kpis", gettext_lazy("KPIs"), Action.VIEW, "chart-bar"),
    ("servicedesk:problem_list", gettext_lazy("Problems"), Action.VIEW, "bug"),
    ("servicedesk:kb_list", gettext_lazy("Knowledge base"), Action.VIEW, "book"),
    (
        "servicedesk:reportable_list",
        gettext_lazy("Reportable incidents"),
        Action.VIEW,
        "building-bank",
    ),
)
_ACTIVE = {
    "servicedesk:ticket_list": ("ticket_list", "ticket_detail"),
    "servicedesk:ticket_add": ("ticket_add",),
    "servicedesk:kpis": ("kpis",),
    "servicedesk:problem_list": (
        *("problem_list", "problem_add", "problem_detail", "problem_edit", "action_list"),
        *("postmortem_add", "postmortem_detail", "postmortem_edit"),
    ),
    "servicedesk:kb_list": ("kb_list", "kb_add", "kb_detail", "kb_edit"),
    "servicedesk:reportable_list": ("reportable_list",),
}
# On call, duty and dual-person operations (the last three list the whole estate, so
# not for site-scoped roles, as their pages and API refuse them).
DUTY_NAV_ITEMS = (
    ("servicedesk:oncall", gettext_lazy("On call"), Action.VIEW, "phone-call"),
    ("servicedesk:shift_list", gettext_lazy("Duty shifts"), Action.VIEW, "calendar-time"),
    ("servicedesk:handover_list", gettext_lazy("Handovers"), Action.VIEW, "clipboard-check"),
    ("servicedesk:dual_control", gettext_lazy("Dual control"), Action.VIEW, "users"),
)
_ACTIVE.update(
    {
        "servicedesk:oncall": ("oncall", "oncall_group"),
        "servicedesk:shift_list": ("shift_list", "handover_write", "handover_start"),
        "servicedesk:handover_list": ("handover_list", "handover_detail"),
        "servicedesk:dual_control": ("dual_control",),
    }
)
WHOLE_DESK = frozenset(
    {"servicedesk:shift_list", "servicedesk:handover_list", "servicedesk:dual_control"}
)


@register.simple_tag(takes_context=True)
def servicedesk_navigation(context: dict[str, Any]) -> list[dict[str, Any]]:
    """The Service desk items this user may open; the list with its count of open tickets
    past an SLA target (computed from the open tickets' event logs, one batch per page)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_active:
        return []
    match = getattr(request, "resolver_match", None)
    here = match.url_name if match is not None and match.namespace == "servicedesk" else ""
    items = []
    for url_name, label, action, icon in (*NAV_ITEMS, *DUTY_NAV_ITEMS):
        if not can(user, action, Area.SERVICE_DESK):
            continue
        if url_name in WHOLE_DESK and is_site_scoped(user, Area.SERVICE_DESK):
            continue
        items.append(
            {
                "url": reverse(url_name),
                "label": label,
                "icon": icon,
                "active": (here or "") in _ACTIVE[url_name],
                "badge": _breached(user) if url_name == "servicedesk:ticket_list" else None,
            }
        )
    return items


def _breached(user: User) -> int:
    from branchops.servicedesk.views import breached_open_count

    return breached_open_count(user)
