"""Template helpers of the BranchOps pages: coloured badges and sortable column headers."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import QueryDict
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

# One colour per state word, the same on every page (Tabler's "-lt" light badges).
BADGE_COLOURS = {
    # sites, devices, links
    "active": "green",
    "planned": "azure",
    "maintenance": "yellow",
    "suspended": "orange",
    "failed": "red",
    "closed": "secondary",
    "decommissioned": "secondary",
    # contracts
    "future": "azure",
    "expiring": "orange",
    "expired": "red",
    # tokens and accounts
    "usable": "green",
    "revoked": "red",
    "disabled": "secondary",
    "locked": "red",
    # audit actions
    "create": "green",
    "update": "azure",
    "delete": "red",
    "login": "secondary",
    "login_failed": "orange",
    "locked_out": "red",
    "token_created": "purple",
    "token_revoked": "purple",
    "import": "cyan",
    # link roles, system categories
    "primary": "blue",
    "backup": "purple",
    "real_time": "red",
    "non_real_time": "azure",
}
CRITICALITY_COLOURS = {1: "red", 2: "orange", 3: "azure", 4: "secondary"}


@register.simple_tag
def badge(value: Any, label: Any = None) -> SafeString:
    """``<span class="badge">`` coloured by the state word, showing ``label`` (escaped)."""
    colour = BADGE_COLOURS.get(str(value), "secondary")
    return format_html(
        '<span class="badge bg-{}-lt">{}</span>', colour, value if label is None else label
    )


@register.simple_tag
def criticality_badge(value: int, label: Any) -> SafeString:
    return format_html(
        '<span class="badge bg-{}-lt">{}</span>', CRITICALITY_COLOURS.get(value, "secondary"), label
    )


@register.simple_tag(takes_context=True)
def sort_url(context: dict[str, Any], key: str) -> str:
    """The current address with the ordering on ``key`` (toggled) and the page reset."""
    request = context["request"]
    params: QueryDict = request.GET.copy()
    current = params.get("ordering", "")
    params["ordering"] = f"-{key}" if current == key else key
    params.pop("page", None)
    return f"{request.path}?{params.urlencode()}"


@register.filter
def sort_state(ordering: str, key: str) -> str:
    """``asc``, ``desc`` or ``""``: how the list is sorted on ``key``."""
    if ordering == key:
        return "asc"
    if ordering == f"-{key}":
        return "desc"
    return ""


@register.simple_tag(takes_context=True)
def page_url(context: dict[str, Any], number: int) -> str:
    request = context["request"]
    params: QueryDict = request.GET.copy()
    params["page"] = str(number)
    return f"{request.path}?{params.urlencode()}"
