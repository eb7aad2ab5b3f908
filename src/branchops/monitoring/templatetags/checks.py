"""Template helpers of the monitoring pages: state badges and dots, "12 s ago", durations,
and parameters shown as readable JSON."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import template
from django.http import QueryDict
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from branchops.monitoring.choices import CheckState

register = template.Library()

# Solid badges for states, so a red "down" stands out in a dense list; pending is light.
STATE_CSS: dict[str, str] = {
    CheckState.UP: "bg-green text-green-fg",
    CheckState.DEGRADED: "bg-yellow text-yellow-fg",
    CheckState.DOWN: "bg-red text-red-fg",
    CheckState.UNKNOWN: "bg-secondary text-secondary-fg",
    CheckState.PENDING: "bg-secondary-lt",
}
STATE_LABELS: dict[str, Any] = dict(CheckState.choices)


def state_label(state: str | None) -> str:
    if state is None:
        return _("Not monitored")
    return str(STATE_LABELS.get(state, state))


@register.simple_tag
def state_badge(state: str | None, late: bool = False) -> SafeString:
    """The state as a coloured badge; a late check gets a clock and says so on hover."""
    css = STATE_CSS.get(state or "", "bg-secondary-lt")
    if late:
        return format_html(
            '<span class="badge {} bo-state" title="{}">{} <i class="ti ti-clock-exclamation">'
            "</i></span>",
            css,
            _("Late: not run for two intervals; this answer is stale."),
            state_label(state),
        )
    return format_html('<span class="badge {} bo-state">{}</span>', css, state_label(state))


@register.simple_tag
def state_dot(state: str | None, title: Any = "") -> SafeString:
    """A small round dot in the state's colour, with the name and state on hover."""
    label = state_label(state)
    text = f"{title}: {label}" if title else label
    return format_html(
        '<span class="bo-dot bo-dot-{}" title="{}" role="img" aria-label="{}"></span>',
        state or "none",
        text,
        text,
    )


@register.filter
def label_of(state: str | None) -> str:
    return state_label(state)


def _seconds_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return _("%(n)d s") % {"n": seconds}
    if seconds < 3600:
        return _("%(n)d min") % {"n": seconds // 60}
    if seconds < 86_400:
        hours, minutes = divmod(seconds // 60, 60)
        if minutes:
            return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
        return _("%(n)d h") % {"n": hours}
    days, hours = divmod(seconds // 3600, 24)
    if hours:
        return _("%(d)d d %(h)d h") % {"d": days, "h": hours}
    return _("%(n)d d") % {"n": days}


@register.filter
def ago(when: dt.datetime | None) -> str:
    """``12 s ago``, ``5 min ago``; empty for never."""
    if when is None:
        return ""
    return _("%(time)s ago") % {"time": _seconds_text((timezone.now() - when).total_seconds())}


@register.filter
def duration(value: dt.timedelta | float | None) -> str:
    """A length of time, short: ``45 s``, ``3 h 20 min``, ``2 d 4 h``."""
    if value is None:
        return ""
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    return _seconds_text(seconds)


@register.filter
def seconds(value: float | None) -> str:
    """An interval or timeout in seconds, without a pointless ``.0``."""
    if value is None:
        return ""
    return _("%(n)s s") % {"n": f"{value:g}"}


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON (escaped by the template like any other text)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


@register.simple_tag(takes_context=True)
def filter_url(context: dict[str, Any], **changes: str) -> str:
    """The current list address with these filters set (or cleared when already set), page 1."""
    request = context["request"]
    params: QueryDict = request.GET.copy()
    for name, value in changes.items():
        if params.get(name) == str(value):
            params.pop(name, None)
        else:
            params[name] = str(value)
    params.pop("page", None)
    query = params.urlencode()
    return f"{request.path}?{query}" if query else str(request.path)


@register.filter
def get(mapping: dict[str, Any] | None, key: Any) -> Any:
    """``mapping[key]``, or None: for counts looked up by name in a row template."""
    return (mapping or {}).get(str(key))


@register.filter
def short_name(name: str, owner: Any) -> str:
    """A generated check's name without its device's name in front, on that device's page."""
    prefix = f"{owner} · "
    return name[len(prefix) :] if name.startswith(prefix) else name
