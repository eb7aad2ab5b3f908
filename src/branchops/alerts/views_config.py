"""Pages of what shapes alerting: rules and their overrides, silences, and where
notifications go (channels, escalation policies and their steps, routes).

Rules, channels, policies and routes are saved through ``core.changes`` (permission,
validation, audit row); silences through ``alerts.services``. Shipped rules may be edited
and disabled but not deleted: the next upgrade would bring them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import models
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from branchops.alerts import forms as f
from branchops.alerts import services
from branchops.alerts import tables as t
from branchops.alerts.choices import AlertStatus
from branchops.alerts.models import (
    Alert,
    AlertRule,
    Channel,
    EscalationPolicy,
    EscalationStep,
    Route,
    RuleOverride,
    Silence,
)
from branchops.alerts.silencing import window_active
from branchops.core import changes, scoping
from branchops.core import views_generic as generic
from branchops.core.errors import Conflict
from branchops.core.forms_generic import ObjectForm
from branchops.core.models import User
from branchops.core.permissions import Action, Area, can, is_site_scoped, require
from branchops.core.views import current_user, paginate, render_listing


class AlertsView(generic.ObjectView):
    namespace = "alerts"
    # Objects without a list of their own (overrides, steps) go back to their owner's page.
    list_name: ClassVar[str] = ""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        # A role without the area gets the 403 page, not an empty list.
        if request.user.is_authenticated:
            require(current_user(request), Action.VIEW, scoping.AREA[self.model])
        return super().dispatch(request, *args, **kwargs)

    def url(self, action: str, *args: Any) -> str:
        if action == "list" and self.list_name:
            return reverse(self.list_name)
        return super().url(action, *args)


class GuardedChanges:
    """``core.changes`` with the deletions this app refuses, said as a Conflict (HTTP 409)."""

    def create(self, model: type[Any], data: Mapping[str, Any], *, actor: User, source: Any) -> Any:
        return changes.create(model, data, actor=actor, source=source)

    def update(self, obj: Any, data: Mapping[str, Any], *, actor: User, source: Any) -> Any:
        return changes.update(obj, data, actor=actor, source=source)

    def delete(self, obj: Any, *, actor: User, source: Any) -> None:
        refusal = delete_refusal(obj)
        if refusal:
            raise Conflict(refusal)
        changes.delete(obj, actor=actor, source=source)


def delete_refusal(obj: models.Model) -> str:
    """Why this object may not be deleted ("" when it may)."""
    if isinstance(obj, AlertRule) and obj.shipped:
        return _("Rules shipped with BranchOps cannot be deleted; disable it instead.")
    if isinstance(obj, Channel) and obj.notifications.exists():
        return _(
            "The notification log refers to this channel; disable it instead so that the log "
            "keeps its history."
        )
    return ""


GUARDED = GuardedChanges()


class ConfirmDeleteView(AlertsView, generic.ObjectDeleteView):
    template_name = "alerts/confirm_delete.html"
    services: ClassVar[generic.ObjectServices] = GUARDED

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.get_object(pk)
        scoping.require_change(self.user, Action.DELETE, obj)
        # Said before anyone confirms; the service refuses it anyway.
        return self.show(obj, conflict=delete_refusal(obj))


# ---- rules -------------------------------------------------------------------------------


class RuleMixin(AlertsView):
    model = AlertRule
    url_prefix = "rule"
    title = gettext_lazy("Alert rules")
    services: ClassVar[generic.ObjectServices] = GUARDED


class RuleListView(RuleMixin, generic.ObjectListView):
    table = t.RuleTable
    filter_form = f.RuleFilterForm
    template_name = "alerts/rule_list.html"
    fragment_template = "includes/list_results.html"


class RuleDetailView(RuleMixin, generic.ObjectDetailView):
    template_name = "alerts/rule_detail.html"

    def extra_context(self, obj: Any) -> dict[str, Any]:
        firing = scoping.visible(self.user, Alert).filter(rule=obj, status=AlertStatus.FIRING)
        return {
            "overrides": obj.overrides.select_related("site", "device"),
            "firing_count": firing.count(),
            "can_delete": not obj.shipped and generic.may(self.user, Action.DELETE, obj),
            "can_add_override": generic.may_add(self.user, RuleOverride),
        }


class RuleEditView(RuleMixin, generic.ObjectEditView):
    form_class = f.RuleForm
    template_name = "alerts/rule_form.html"


class RuleDeleteView(RuleMixin, ConfirmDeleteView):
    pass


class OverrideMixin(AlertsView):
    model = RuleOverride
    url_prefix = "override"
    title = gettext_lazy("Alert rules")
    list_name = "alerts:rule_list"
    detail_related = ("rule", "site", "device")


class OverrideEditView(OverrideMixin, generic.ObjectEditView):
    form_class = f.RuleOverrideForm
    template_name = "alerts/override_form.html"

    def success_url(self, obj: Any) -> str:
        return str(obj.rule.get_absolute_url())

    def context(self, form: ObjectForm, obj: Any) -> dict[str, Any]:
        rule = obj.rule if obj is not None else None
        if rule is None:
            pk = form.raw_id("rule")
            rule = AlertRule.objects.filter(pk=pk).first() if pk else None
        return {**super().context(form, obj), "rule": rule}


class OverrideDeleteView(OverrideMixin, ConfirmDeleteView):
    def success_url(self, obj: Any) -> str:
        return str(obj.rule.get_absolute_url())


# ---- silences ----------------------------------------------------------------------------

SILENCE_STATES = ("active", "scheduled", "ended")


def _silence_state(qs: models.QuerySet[Silence], state: str) -> models.QuerySet[Silence]:
    now = timezone.now()
    ended = Q(ended_at__lte=now) | Q(ends_at__lte=now)
    if state == "ended":
        return qs.filter(ended).order_by("-ends_at", "-pk")
    if state == "scheduled":
        return qs.exclude(ended).filter(starts_at__gt=now).order_by("starts_at", "pk")
    return qs.exclude(ended).filter(starts_at__lte=now).order_by("-starts_at", "-pk")


@login_required
@require_GET
def silence_list(request: HttpRequest) -> HttpResponse:
    """Silences in effect now (or between their weekly windows), scheduled, and ended."""
    user = current_user(request)
    require(user, Action.VIEW, Area.ALERTS)
    state = request.GET.get("state", "active")
    state = state if state in SILENCE_STATES else "active"
    visible = scoping.visible(user, Silence)
    rows = (
        _silence_state(visible, state)
        .select_related("author", "ended_by")
        .prefetch_related("sites", "devices", "systems")
        .annotate(silencing=Count("alerts", filter=Q(alerts__status=AlertStatus.FIRING)))
    )
    page = paginate(request, rows)
    now = timezone.now()
    for silence in page:
        silence.in_window = window_active(silence, now)
    context = {
        "state": state,
        "states": [(s, _silence_state(visible, s).count()) for s in SILENCE_STATES],
        "page_obj": page,
        "can_add": can(user, Action.ADD, Area.ALERTS) and not is_site_scoped(user, Area.ALERTS),
        "can_end": can(user, Action.CHANGE, Area.ALERTS) and not is_site_scoped(user, Area.ALERTS),
    }
    return render_listing(
        request, "alerts/silence_list.html", "alerts/includes/silence_results.html", context
    )


def _require_silencer(user: User) -> None:
    require(user, Action.ADD, Area.ALERTS)
    if is_site_scoped(user, Area.ALERTS):
        # A silence is not bound to one branch (matchers reach every site).
        require(user, Action.ADD, Area.ALERT_RULES)


@login_required
@require_http_methods(["GET", "POST"])
def silence_add(request: HttpRequest) -> HttpResponse:
    """A new silence, prefilled from the console (``?sites=1&devices=2&reason=...``)."""
    user = current_user(request)
    _require_silencer(user)
    if request.method == "POST":
        form = f.SilenceForm(request.POST, user=user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                silence = services.create_silence(
                    author=user,
                    reason=data["reason"],
                    starts_at=data["starts_at"],
                    ends_at=data["ends_at"],
                    sites=[s.pk for s in data["sites"]],
                    devices=[d.pk for d in data["devices"]],
                    systems=[s.pk for s in data["systems"]],
                    matchers=data["matchers"],
                    weekdays=data["weekdays"],
                    daily_start=data["daily_start"],
                    duration_minutes=data["duration_minutes"],
                )
            except services.SilenceInvalid as exc:
                form.add_problems(exc.problems)
            else:
                messages.success(request, _("Silence created: %(reason)s") % {"reason": silence})
                return redirect(reverse("alerts:silence_list"))
    else:
        initial: dict[str, Any] = f.SilenceForm.defaults()
        for name in ("sites", "devices", "systems"):
            ids = [v for v in request.GET.getlist(name) if v.isdigit()]
            if ids:
                initial[name] = ids
        if request.GET.get("reason"):
            initial["reason"] = request.GET["reason"][:300]
        form = f.SilenceForm(initial=initial, user=user)
    return render(request, "alerts/silence_form.html", {"form": form})


@login_required
@require_POST
def silence_end(request: HttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    require(user, Action.CHANGE, Area.ALERTS)
    if is_site_scoped(user, Area.ALERTS):
        require(user, Action.CHANGE, Area.ALERT_RULES)
    silence = get_object_or_404(scoping.visible(user, Silence), pk=pk)
    if services.end_silence(silence, by=user):
        messages.success(request, _("Silence ended: %(reason)s") % {"reason": silence})
    else:
        messages.info(request, _("This silence had already ended."))
    return redirect(f"{reverse('alerts:silence_list')}?state=ended")


# ---- channels, escalation policies, routes -----------------------------------------------


@login_required
@require_GET
def channel_list(request: HttpRequest) -> HttpResponse:
    """Channels, escalation policies with their steps, and the routes, on one page."""
    user = current_user(request)
    require(user, Action.VIEW, Area.NOTIFICATIONS)
    steps = EscalationStep.objects.prefetch_related("channels").order_by("level")
    context = {
        "channels": Channel.objects.annotate(
            sent=Count("notifications", filter=Q(notifications__status="sent"))
        ),
        "policies": EscalationPolicy.objects.prefetch_related(Prefetch("steps", queryset=steps)),
        "routes": Route.objects.select_related("policy").prefetch_related(
            "regions", "sites", "systems"
        ),
        "can_add": can(user, Action.ADD, Area.NOTIFICATIONS),
        "can_change": can(user, Action.CHANGE, Area.NOTIFICATIONS),
        "can_delete": can(user, Action.DELETE, Area.NOTIFICATIONS),
    }
    return render(request, "alerts/channel_list.html", context)


class NotificationsView(AlertsView):
    list_name = "alerts:channel_list"
    title = gettext_lazy("Channels and routes")
    services: ClassVar[generic.ObjectServices] = GUARDED
    anchor: ClassVar[str] = ""

    def success_url(self, obj: Any) -> str:
        return f"{reverse('alerts:channel_list')}#{self.anchor}"


class ChannelMixin(NotificationsView):
    model = Channel
    url_prefix = "channel"
    anchor = "channels"


class ChannelEditView(ChannelMixin, generic.ObjectEditView):
    form_class = f.ChannelForm
    template_name = "alerts/channel_form.html"

    def context(self, form: ObjectForm, obj: Any) -> dict[str, Any]:
        assert isinstance(form, f.ChannelForm)
        kind = form.chosen_kind()
        return {**super().context(form, obj), "settings_help": f.settings_help(kind)}


class ChannelDeleteView(ChannelMixin, ConfirmDeleteView):
    pass


class PolicyMixin(NotificationsView):
    model = EscalationPolicy
    url_prefix = "policy"
    anchor = "policies"


class PolicyEditView(PolicyMixin, generic.ObjectEditView):
    form_class = f.PolicyForm
    template_name = "alerts/config_form.html"


class PolicyDeleteView(PolicyMixin, ConfirmDeleteView):
    pass


class StepMixin(NotificationsView):
    model = EscalationStep
    url_prefix = "step"
    anchor = "policies"


class StepEditView(StepMixin, generic.ObjectEditView):
    form_class = f.StepForm
    template_name = "alerts/config_form.html"


class StepDeleteView(StepMixin, ConfirmDeleteView):
    pass


class RouteMixin(NotificationsView):
    model = Route
    url_prefix = "route"
    anchor = "routes"


class RouteEditView(RouteMixin, generic.ObjectEditView):
    form_class = f.RouteForm
    template_name = "alerts/config_form.html"


class RouteDeleteView(RouteMixin, ConfirmDeleteView):
    pass
