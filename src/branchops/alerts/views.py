"""Alert pages: the live console, an alert's page, what people do to alerts (acknowledge,
assign, silence), the notification log, and the signed acknowledgement link.

Views stay thin. Reads go through ``scoping.visible`` (a branch liaison sees the alerts of
their own sites only; anything else is a 404); changes go through ``alerts.services``. The
UI never creates alerts: the engine's pipeline does.

The acknowledgement link works without a login: its signature is the permission, it
expires, and only a POST (the button) acknowledges, so a chat app that previews links
cannot acknowledge by looking.

Rules, silences, channels and routes are in ``views_config``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import models
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from branchops.alerts import forms as f
from branchops.alerts import services
from branchops.alerts import tables as t
from branchops.alerts.choices import AlertStatus, Severity
from branchops.alerts.models import Alert, Channel, Notification
from branchops.alerts.notices import severity_label
from branchops.core import scoping
from branchops.core.models import User
from branchops.core.permissions import Action, Area, can, is_site_scoped, require
from branchops.core.views import current_user, paginate, render_listing, safe_next, wants_fragment

REFRESH_S = 5
MAX_BULK = 500
SYMPTOMS_PER_PAGE = 50
CHANGED_EVENT = "alerts-changed"  # tells the console to refresh now (see alerts.js)


# ---- the console ---------------------------------------------------------------------------


def summary(alerts: models.QuerySet[Alert]) -> dict[str, Any]:
    """Firing alerts by severity and unacknowledged roots, in one query."""
    firing = alerts.filter(status=AlertStatus.FIRING)
    counts = firing.aggregate(
        total=Count("pk"),
        unacknowledged=Count("pk", filter=Q(root__isnull=True, acknowledged_at__isnull=True)),
        **{f"s{s}": Count("pk", filter=Q(severity=s)) for s in Severity.values},
    )
    return {
        "by_severity": [(s, severity_label(s), counts[f"s{s}"]) for s in Severity.values],
        "firing": counts["total"],
        "unacknowledged": counts["unacknowledged"],
    }


@login_required
@require_GET
def console(request: HttpRequest) -> HttpResponse:
    """Firing alerts, roots first; the table refreshes itself every few seconds."""
    user = current_user(request)
    require(user, Action.VIEW, Area.ALERTS)
    form = f.AlertFilterForm(request.GET or None, user=user)
    table = t.AlertTable(request.GET.get("ordering", ""))
    visible = scoping.visible(user, Alert)
    context = {
        "form": form,
        "table": table,
        "page_obj": paginate(request, table.prepare(form.apply(visible))),
        "summary": summary(visible),
        "status": form.chosen_status,
        "refresh_s": REFRESH_S,
        "changed_event": CHANGED_EVENT,
        # The refreshed table brings the counters above it along (hx-swap-oob).
        "oob": wants_fragment(request),
        **_abilities(user),
    }
    return render_listing(
        request, "alerts/console.html", "alerts/includes/console_results.html", context
    )


def _abilities(user: User) -> dict[str, bool]:
    return {
        "can_change": can(user, Action.CHANGE, Area.ALERTS)
        and not is_site_scoped(user, Area.ALERTS),
        "can_silence": can(user, Action.ADD, Area.ALERTS) and not is_site_scoped(user, Area.ALERTS),
        "can_see_notifications": can(user, Action.VIEW, Area.NOTIFICATIONS),
    }


# ---- one alert -----------------------------------------------------------------------------


@login_required
@require_GET
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    require(user, Action.VIEW, Area.ALERTS)
    alert = get_object_or_404(
        scoping.visible(user, Alert).select_related(
            "site",
            "device",
            "system",
            "link",
            "root__site",
            "rule",
            "for_check",
            "silenced_by",
            "acknowledged_by",
            "assignee",
        ),
        pk=pk,
    )
    abilities = _abilities(user)
    symptoms = (
        scoping.visible(user, Alert)
        .filter(root=alert)
        .select_related("site", "device")
        .order_by("status", "severity", "site__code", "pk")
    )
    notifications: Any = []
    if abilities["can_see_notifications"]:
        notifications = (
            alert.notifications.select_related("channel")
            .prefetch_related("attempt_log")
            .order_by("created_at", "pk")
        )
    context = {
        "object": alert,
        "labels": sorted((alert.labels or {}).items()),
        "symptoms": paginate(request, symptoms, SYMPTOMS_PER_PAGE),
        "events": alert.events.select_related("actor"),
        "notifications": notifications,
        "assign_form": f.AssignForm(initial={"assignee": alert.assignee_id}),
        **abilities,
    }
    if wants_fragment(request, "symptoms"):
        return render(request, "alerts/includes/symptoms.html", context)
    return render(request, "alerts/alert_detail.html", context)


# ---- acknowledge, assign, silence ----------------------------------------------------------


def _changeable(request: HttpRequest, pk: int) -> tuple[User, Alert]:
    user = current_user(request)
    alert = get_object_or_404(scoping.visible(user, Alert), pk=pk)
    scoping.require_change(user, Action.CHANGE, alert)
    return user, alert


def _done(request: HttpRequest, text: str, *, ok: bool = True, fallback: str = "") -> HttpResponse:
    """Say what happened: a notice swapped in by htmx (and the console told to refresh), or
    a message on the page the form came from."""
    if request.headers.get("HX-Request") == "true":
        response = render(
            request, "alerts/includes/notice.html", {"text": text, "ok": ok}, status=200
        )
        response["HX-Trigger"] = CHANGED_EVENT
        return response
    (messages.success if ok else messages.error)(request, text)
    return redirect(safe_next(request, fallback or reverse("alerts:console")))


@login_required
@require_POST
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    user, alert = _changeable(request, pk)
    try:
        done = services.acknowledge(alert, user=user, via="web")
    except services.Refused as exc:
        return _done(request, str(exc), ok=False, fallback=alert.get_absolute_url())
    text = _("Acknowledged: %(title)s") if done else _("Already acknowledged: %(title)s")
    return _done(request, text % {"title": alert.title}, fallback=alert.get_absolute_url())


@login_required
@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    """``assignee=me`` takes the alert; otherwise the chosen user (empty: nobody)."""
    user, alert = _changeable(request, pk)
    if request.POST.get("assignee") == "me":
        assignee: User | None = user
    else:
        form = f.AssignForm(request.POST)
        if not form.is_valid():
            return _done(
                request,
                _("Choose someone who may act on alerts."),
                ok=False,
                fallback=alert.get_absolute_url(),
            )
        assignee = form.cleaned_data["assignee"]
    services.assign(alert, assignee=assignee, by=user)
    if assignee is None:
        text = _("Nobody is assigned to %(title)s now.") % {"title": alert.title}
    else:
        text = _("%(user)s is assigned to %(title)s.") % {
            "user": assignee.get_username(),
            "title": alert.title,
        }
    return _done(request, text, fallback=alert.get_absolute_url())


def silence_url(*, sites: Any = (), devices: Any = (), reason: str = "") -> str:
    """The silence form, prefilled (from a console row or a selection)."""
    params: list[tuple[str, Any]] = [("sites", pk) for pk in sorted(set(sites))]
    params += [("devices", pk) for pk in sorted(set(devices))]
    if reason:
        params.append(("reason", reason[:300]))
    return f"{reverse('alerts:silence_add')}?{urlencode(params)}"


@login_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """Acknowledge, take or silence the alerts ticked in the console."""
    user = current_user(request)
    require(user, Action.CHANGE, Area.ALERTS)
    ids = [int(v) for v in request.POST.getlist("alert") if v.isdigit()][:MAX_BULK]
    alerts = list(scoping.visible(user, Alert).filter(pk__in=ids).select_related("site"))
    action = request.POST.get("action", "")
    if not alerts:
        return _done(request, _("Tick the alerts to act on first."), ok=False)
    for alert in alerts:
        scoping.require_change(user, Action.CHANGE, alert)
    if action == "silence":
        require(user, Action.ADD, Area.ALERTS)
        sites = [a.site_id for a in alerts if a.site_id is not None]
        devices = [a.device_id for a in alerts if a.site_id is None and a.device_id is not None]
        target = silence_url(sites=sites, devices=devices)
        if request.headers.get("HX-Request") == "true":
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return redirect(target)
    if action == "acknowledge":
        count = sum(1 for a in alerts if a.is_firing and services.acknowledge(a, user=user))
        text = ngettext("Acknowledged %(n)d alert.", "Acknowledged %(n)d alerts.", count) % {
            "n": count
        }
        return _done(request, text)
    if action == "assign_me":
        for alert in alerts:
            services.assign(alert, assignee=user, by=user)
        text = ngettext(
            "You are assigned to %(n)d alert.", "You are assigned to %(n)d alerts.", len(alerts)
        ) % {"n": len(alerts)}
        return _done(request, text)
    return _done(request, _("Unknown action."), ok=False)


# ---- the notification log --------------------------------------------------------------


@login_required
@require_GET
def notification_log(request: HttpRequest) -> HttpResponse:
    """Every message queued for a channel, with each delivery attempt."""
    user = current_user(request)
    require(user, Action.VIEW, Area.NOTIFICATIONS)
    form = f.NotificationFilterForm(request.GET or None, user=user)
    table = t.NotificationTable(request.GET.get("ordering", ""))
    rows = table.prepare(form.apply(scoping.visible(user, Notification)))
    by_status = dict(
        scoping.visible(user, Notification).values_list("status").annotate(n=Count("pk")).order_by()
    )
    context = {
        "form": form,
        "table": table,
        "page_obj": paginate(request, rows),
        "failing_channels": Channel.objects.filter(failing_since__isnull=False),
        "by_status": by_status,
    }
    return render_listing(
        request,
        "alerts/notification_log.html",
        "includes/list_results.html",
        context,
    )


# ---- the signed acknowledgement link --------------------------------------------------------


@require_http_methods(["GET", "POST"])
def ack_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        alert_id, channel_id = services.read_ack_token(token)
    except services.Refused as exc:
        return render(request, "alerts/ack_link.html", {"problem": str(exc)}, status=400)
    alert = get_object_or_404(Alert.objects.select_related("site", "device"), pk=alert_id)
    channel = Channel.objects.filter(pk=channel_id).first()
    done = None
    problem = ""
    if request.method == "POST":
        user = request.user if request.user.is_authenticated else None
        via = f"link ({channel.name})" if channel else "link"
        try:
            done = services.acknowledge(alert, user=user, via=via)
        except services.Refused as exc:
            problem = str(exc)
    return render(
        request,
        "alerts/ack_link.html",
        {"alert": alert, "done": done, "problem": problem, "token": token},
    )
