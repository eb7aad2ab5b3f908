"""Template helpers of the alert pages: severity and status badges, and the sidebar's
"Alerts" section with its count of unacknowledged firing roots."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from branchops.alerts.choices import AlertStatus, NotificationStatus
from branchops.alerts.notices import severity_label
from branchops.core.models import User
from branchops.core.permissions import Action, Area, can

register = template.Library()

# Solid for the two urgent levels, so a severity 1 stands out in a dense console.
SEVERITY_CSS = {1: "bg-red text-red-fg", 2: "bg-orange text-orange-fg", 3: "bg-yellow-lt"}
NOTIFICATION_CSS = {
    NotificationStatus.PENDING: "bg-azure-lt",
    NotificationStatus.SENDING: "bg-azure-lt",
    NotificationStatus.SENT: "bg-green-lt",
    NotificationStatus.RETRYING: "bg-orange-lt",
    NotificationStatus.DEAD: "bg-red text-red-fg",
    NotificationStatus.DIGESTED: "bg-green-lt",
    NotificationStatus.SKIPPED: "bg-secondary-lt",
}


@register.simple_tag
def severity_badge(severity: int) -> SafeString:
    return format_html(
        '<span class="badge {} bo-severity">{}</span>',
        SEVERITY_CSS.get(severity, "bg-secondary-lt"),
        severity_label(severity),
    )


@register.filter
def severity_name(severity: int) -> str:
    return severity_label(severity)


@register.simple_tag
def alert_status_badge(alert: Any) -> SafeString:
    if alert.status == AlertStatus.FIRING:
        return format_html('<span class="badge bg-red-lt">{}</span>', alert.get_status_display())
    return format_html('<span class="badge bg-green-lt">{}</span>', alert.get_status_display())


@register.simple_tag
def notification_badge(row: Any) -> SafeString:
    return format_html(
        '<span class="badge {}">{}</span>',
        NOTIFICATION_CSS.get(row.status, "bg-secondary-lt"),
        row.get_status_display(),
    )


@register.filter
def weekday_names(days: list[int] | None) -> str:
    names = [
        _("Mon"),
        _("Tue"),
        _("Wed"),
        _("Thu"),
        _("Fri"),
        _("Sat"),
        _("Sun"),
    ]
    return " ".join(names[d] for d in days or () if 0 <= d < len(names))


# ---- the sidebar ---------------------------------------------------------------------------

NAV_ITEMS = (
    ("alerts:console", gettext_lazy("Alert console"), Area.ALERTS, "alarm", ("console",)),
    ("alerts:silence_list", gettext_lazy("Silences"), Area.ALERTS, "bell-off", ("silence_",)),
    (
        "alerts:rule_list",
        gettext_lazy("Alert rules"),
        Area.ALERT_RULES,
        "adjustments-alt",
        ("rule_", "override_"),
    ),
    (
        "alerts:channel_list",
        gettext_lazy("Channels and routes"),
        Area.NOTIFICATIONS,
        "send",
        ("channel_", "policy_", "step_", "route_"),
    ),
    (
        "alerts:notification_log",
        gettext_lazy("Notification log"),
        Area.NOTIFICATIONS,
        "mail-forward",
        ("notification_log",),
    ),
)


@register.simple_tag(takes_context=True)
def alerts_navigation(context: dict[str, Any]) -> list[dict[str, Any]]:
    """The Alerts items this user may open, the console with its count of firing roots
    nobody has acknowledged (one indexed count per page)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_active:
        return []
    match = getattr(request, "resolver_match", None)
    here = match.url_name if match is not None and match.namespace == "alerts" else ""
    here = here or ""
    items = []
    for url_name, label, area, icon, prefixes in NAV_ITEMS:
        if not can(user, Action.VIEW, area):
            continue
        items.append(
            {
                "url": reverse(url_name),
                "label": label,
                "icon": icon,
                "active": any(here.startswith(p) for p in prefixes)
                or (url_name == "alerts:console" and here == "alert_detail"),
                "badge": _unacknowledged(user) if url_name == "alerts:console" else None,
            }
        )
    return items


def _unacknowledged(user: User) -> int:
    from branchops.alerts.models import Alert
    from branchops.core.scoping import visible

    return (
        visible(user, Alert)
        .filter(Q(root__isnull=True), status=AlertStatus.FIRING, acknowledged_at__isnull=True)
        .count()
    )
