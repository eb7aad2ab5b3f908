"""Template helpers of the on-call, duty and spare-part pages: how a person is named, how
far off a moment is, and the badge of a spare-part request's status."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from branchops.core.models import User
from branchops.monitoring.templatetags.checks import duration
from branchops.servicedesk.badges import choice_badge
from branchops.servicedesk.choices import SparePartStatus, SparePartUrgency

register = template.Library()

PART_CSS = {
    SparePartStatus.REQUESTED: "bg-blue-lt",
    SparePartStatus.APPROVED: "bg-azure-lt",
    SparePartStatus.SHIPPED: "bg-indigo-lt",
    SparePartStatus.RECEIVED: "bg-green-lt",
    SparePartStatus.CANCELLED: "bg-secondary-lt",
}
URGENCY_CSS = {
    SparePartUrgency.NORMAL: "bg-secondary-lt",
    SparePartUrgency.URGENT: "bg-orange-lt",
    SparePartUrgency.CRITICAL: "bg-red text-red-fg",
}


@register.filter
def person_name(user: User | None) -> str:
    """Full name, or the user name when there is none."""
    if user is None:
        return ""
    return user.get_full_name().strip() or user.get_username()


@register.filter
def from_now(when: dt.datetime | None) -> str:
    """``in 3 h 20 min`` (or ``now`` when it has come)."""
    if when is None:
        return ""
    seconds = (when - timezone.now()).total_seconds()
    if seconds <= 0:
        return _("now")
    return _("in %(time)s") % {"time": duration(seconds)}


@register.filter
def from_iso(value: str | None) -> dt.datetime | None:
    """A time a handover snapshot stored as ISO text, as a time the ``date`` filter shows."""
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


@register.simple_tag
def part_status_badge(status: str) -> SafeString:
    return choice_badge(SparePartStatus, status, PART_CSS, "part-status")


@register.simple_tag
def part_urgency_badge(urgency: str) -> SafeString:
    label = SparePartUrgency(urgency).label if urgency in SparePartUrgency.values else urgency
    return format_html(
        '<span class="badge {}">{}</span>',
        URGENCY_CSS.get(urgency, "bg-secondary-lt"),  # type: ignore[call-overload]
        label,
    )


@register.inclusion_tag("servicedesk/spare_parts/panel.html", takes_context=True)
def spare_part_panel(context: template.Context) -> dict[str, Any]:
    """The spare parts of the ticket on the page (``object``), with the form to ask for one
    when the user may change the ticket; a refused form or move comes back on the request
    (``views_spare_parts``)."""
    from branchops.servicedesk import spare_parts
    from branchops.servicedesk.forms_duty import SparePartForm
    from branchops.servicedesk.views_spare_parts import REFUSED_FORM, REFUSED_MOVE

    ticket = context["object"]
    request = context.get("request")
    parts = list(ticket.spare_parts.select_related("requested_by").order_by("requested_at", "id"))
    for part in parts:
        part.moves = spare_parts.allowed_moves(part.status)
    form = getattr(request, REFUSED_FORM, None)
    return {
        "object": ticket,
        "parts": parts,
        "can_change": context.get("can_change", False),
        "is_done": context.get("is_done", False),
        "may_pause": spare_parts.may_pause(ticket),
        "form": form or SparePartForm(),
        "form_refused": form is not None,
        "move_refusal": getattr(request, REFUSED_MOVE, None),
        "csrf_token": context.get("csrf_token"),
    }
