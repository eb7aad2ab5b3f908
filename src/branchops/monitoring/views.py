"""The monitoring pages: checks, their templates, SNMP credentials, site health, and the
panels that the device and site pages of the estate load with htmx.

Views stay thin. Reads go through ``scoping.visible`` (a branch liaison sees the checks of
their own sites only; anything else is a 404), writes through ``CheckServices`` (checks) or
``core.changes`` (templates, credentials), which check permissions, validate and audit.
The estate's pages do not know about monitoring: their templates hold a placeholder that
loads the panels below only when these URLs exist.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import BooleanField, Case, Count, Q, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from branchops.cmdb.choices import LinkKind
from branchops.cmdb.models import Device, Link, Site
from branchops.core import changes, scoping
from branchops.core import views_generic as generic
from branchops.core.forms_generic import FilterForm, ObjectForm
from branchops.core.models import User
from branchops.core.permissions import Action, Area, can, is_site_scoped, require
from branchops.core.views import current_user, history, paginate, render_listing
from branchops.monitoring import charts, rollup
from branchops.monitoring import forms as f
from branchops.monitoring import tables as t
from branchops.monitoring.models import Check, CheckTemplate, SnmpCredential, StateChange
from branchops.monitoring.services import CheckServices

STATE_HISTORY_ROWS = 50
PANEL_FAILING_ROWS = 10


class MonitoringView(generic.ObjectView):
    namespace = "monitoring"


def _late() -> Case:
    return Case(
        When(rollup.late_condition(timezone.now()), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )


def _with_status(checks: models.QuerySet[Check]) -> models.QuerySet[Check]:
    """Checks with their status, lateness and severity, problems first."""
    return (
        checks.select_related("status", "device", "link", "template", "site")
        .annotate(severity=rollup.severity_order(), is_late=_late())
        .order_by("severity", "name", "pk")
    )


def _chart_matchers(check: Check) -> dict[str, str] | None:
    """The labels that pick a check's series; None when it has no device to name."""
    if check.device is not None:
        return {"device": check.device.name}
    if check.link is not None and check.link.a_device is not None:
        return {"device": check.link.a_device.name, "link": check.link.name}
    return None


# ---- checks ------------------------------------------------------------------------------


class CheckMixin(MonitoringView):
    model = Check
    url_prefix = "check"
    title = gettext_lazy("Checks")
    services: ClassVar[generic.ObjectServices] = CheckServices()
    detail_related = ("status", "site", "device", "link__a_device", "template")


class CheckListView(CheckMixin, generic.ObjectListView):
    table = t.CheckTable
    filter_form = f.CheckFilterForm
    template_name = "monitoring/check_list.html"
    fragment_template = "monitoring/includes/check_results.html"

    def extra_context(self, form: FilterForm) -> dict[str, Any]:
        assert isinstance(form, f.CheckFilterForm)
        # Counted under every filter but the state, so each count says what a click shows.
        base = form.apply(self.visible(), skip=("state",))
        by_state = dict(base.values_list("status__state").annotate(n=Count("pk")).order_by())
        totals = base.aggregate(
            late=Count("pk", filter=rollup.late_condition()),
            disabled=Count("pk", filter=Q(enabled=False)),
        )
        return {
            "state_counts": [(s, by_state.get(s, 0)) for s in rollup.SHOWN_STATES],
            "late_count": totals["late"],
            "disabled_count": totals["disabled"],
            # Hand-made checks are added from the device they watch (its monitoring panel).
            "can_add": False,
            "refresh_s": 30,
        }


class CheckDetailView(CheckMixin, generic.ObjectDetailView):
    template_name = "monitoring/check_detail.html"

    def extra_context(self, obj: Any) -> dict[str, Any]:
        status = getattr(obj, "status", None)
        matchers = _chart_matchers(obj)
        return {
            "status": status,
            "late": bool(
                obj.enabled
                and status is not None
                and status.overdue_at is not None
                and status.overdue_at < timezone.now()
            ),
            "state_history": state_history(obj),
            "generated": obj.template_id is not None,
            "chart_config": (
                charts.config(charts.for_check(obj.kind, obj.pk), matchers) if matchers else None
            ),
            "params_help": f.params_help(obj.kind),
            "can_see_templates": not is_site_scoped(self.user, Area.MONITORING),
        }


def state_history(check: Check, limit: int = STATE_HISTORY_ROWS) -> list[dict[str, Any]]:
    """The latest state changes, newest first, each with how long the state lasted."""
    rows: list[dict[str, Any]] = []
    until = timezone.now()
    for change in StateChange.objects.filter(for_check=check).order_by("-at", "-id")[:limit]:
        rows.append({"change": change, "lasted": until - change.at, "ongoing": not rows})
        until = change.at
    return rows


class CheckFormMixin(CheckMixin, generic.ObjectEditView):
    template_name = "monitoring/check_form.html"

    def context(self, form: ObjectForm, obj: Any) -> dict[str, Any]:
        kind = (
            obj.kind if obj is not None else (form["kind"].value() if "kind" in form.fields else "")
        )
        return {
            **super().context(form, obj),
            "params_help": f.params_help(str(kind or "")),
            "target": self.target(form, obj),
        }

    def target(self, form: ObjectForm, obj: Any) -> Any:
        if obj is not None:
            return obj.device or obj.link
        for name, model in (("device", Device), ("link", Link)):
            pk = form.raw_id(name)
            if pk is not None:
                return scoping.visible(self.user, model).filter(pk=pk).first()
        return None


class CheckEditView(CheckFormMixin):
    form_class = f.CheckForm


class CheckAddView(CheckFormMixin):
    form_class = f.CheckAddForm


class CheckDeleteView(CheckMixin, generic.ObjectDeleteView):
    template_name = "monitoring/check_confirm_delete.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.get_object(pk)
        scoping.require_change(self.user, Action.DELETE, obj)
        if obj.template_id is not None and not obj.customised:
            # Say so before anyone confirms: the service refuses it anyway.
            return self.show(obj, conflict=generated_refusal(obj))
        return self.show(obj)


def generated_refusal(check: Check) -> str:
    return _("This check comes from the template %(t)s and would come back; disable it.") % {
        "t": check.template
    }


# ---- panels of the device and site pages -------------------------------------------------


def _panel_allowed(user: User) -> bool:
    return can(user, Action.VIEW, Area.MONITORING)


@login_required
@require_GET
def device_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """Current state of every check of a device, and its charts (loaded into its page)."""
    user = current_user(request)
    device = get_object_or_404(scoping.visible(user, Device).select_related("site"), pk=pk)
    if not _panel_allowed(user):
        return HttpResponse(status=204)  # htmx swaps nothing
    checks = list(
        _with_status(
            scoping.visible(user, Check).filter(Q(device=device) | Q(link__a_device=device))
        )
    )
    own = [c for c in checks if c.device_id == device.pk and c.enabled]
    kinds = {c.kind for c in checks if c.enabled}
    tunnels = Link.objects.filter(b_device=device, kind=LinkKind.VPN).count()
    context = {
        "device": device,
        "checks": checks,
        "state": rollup.worst(rollup.effective_state(_state(c), _is_late(c)) for c in own),
        "chart_config": charts.config(
            charts.for_device(kinds, tunnels=tunnels), {"device": device.name}
        )
        if kinds
        else None,
        "many_tunnels": tunnels if tunnels > charts.MAX_TUNNEL_SERIES else 0,
        "charts_id": f"device-charts-{device.pk}",
        "can_add": generic.may_add(user, Check) and _may_at(user, device.site_id),
        "refreshed_at": timezone.now(),
    }
    return render(request, "monitoring/panels/device.html", context)


def _is_late(check: Check) -> bool:
    return bool(getattr(check, "is_late", False))


def _state(check: Check) -> str | None:
    status = getattr(check, "status", None)
    return status.state if status is not None else None


def _may_at(user: User, site_id: int) -> bool:
    if not is_site_scoped(user, Area.MONITORING):
        return True
    return site_id in scoping.own_site_ids(user)


@login_required
@require_GET
def site_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The health roll-up of a site's devices and links (loaded into the site's page)."""
    user = current_user(request)
    site = get_object_or_404(scoping.visible(user, Site), pk=pk)
    if not _panel_allowed(user):
        return HttpResponse(status=204)
    checks = scoping.visible(user, Check).filter(site=site)
    devices = list(
        scoping.visible(user, Device)
        .filter(site=site)
        .select_related("role")
        .order_by("role_id", "name")
    )
    links = list(scoping.visible(user, Link).filter(a_site=site).order_by("name"))
    health = rollup.site_health(checks, devices, links)
    failing = _with_status(checks.filter(enabled=True, status__state__in=rollup.FAILING))
    context = {
        "site": site,
        "health": health,
        "state": health.state,
        "device_groups": _by_role(health.devices),
        "failing": failing[:PANEL_FAILING_ROWS],
        "failing_count": failing.count(),
        "late_count": checks.filter(rollup.late_condition()).count(),
        "check_count": checks.count(),
        "refreshed_at": timezone.now(),
    }
    return render(request, "monitoring/panels/site.html", context)


def _by_role(devices: list[rollup.Health]) -> list[tuple[Any, list[rollup.Health]]]:
    groups: dict[int, tuple[Any, list[rollup.Health]]] = {}
    for row in devices:
        groups.setdefault(row.obj.role_id, (row.obj.role, []))[1].append(row)
    return list(groups.values())


# ---- site health -------------------------------------------------------------------------


@login_required
@require_GET
def site_health_list(request: HttpRequest) -> HttpResponse:
    """Every site the user sees with its health, worst first (one aggregated query)."""
    user = current_user(request)
    require(user, Action.VIEW, Area.MONITORING)
    form = f.SiteHealthFilterForm(request.GET or None, user=user)
    sites = form.apply(scoping.visible(user, Site)).select_related("region")
    health = rollup.sites_health(scoping.visible(user, Check).filter(site__in=sites))
    wanted = form.wanted_health
    rows = []
    for site in sites:
        found = health.get(site.pk, {})
        state = found.get("state")
        if wanted and (state or "none") != wanted:
            continue
        failing = sum(found.get("checks", {}).get(s, 0) for s in rollup.FAILING)
        rows.append({"site": site, "state": state, "failing": failing, **found})
    rows.sort(key=lambda r: (rollup.SEVERITY.get(r["state"] or "", 9), r["site"].code))
    context = {
        "form": form,
        "page_obj": paginate(request, rows),
        "states": rollup.SHOWN_STATES,
        "summary": rollup.state_counts(r["state"] for r in rows),
        "unmonitored": sum(1 for r in rows if r["state"] is None),
    }
    return render_listing(
        request,
        "monitoring/site_health.html",
        "monitoring/includes/site_health_results.html",
        context,
    )


# ---- check templates ---------------------------------------------------------------------


class TemplateMixin(MonitoringView):
    model = CheckTemplate
    url_prefix = "template"
    title = gettext_lazy("Check templates")
    detail_related = ("role",)

    def visible(self, model: type[models.Model] | None = None) -> models.QuerySet[Any]:
        # Templates are shared by every site: a branch liaison sees the checks of their own
        # sites instead (and the role matrix has no site to scope a template by).
        if (model or self.model) is CheckTemplate and is_site_scoped(self.user, Area.MONITORING):
            raise PermissionDenied(_("Check templates are shared by all sites."))
        return super().visible(model)


class TemplateListView(TemplateMixin, generic.ObjectListView):
    table = t.TemplateTable
    filter_form = f.TemplateFilterForm
    template_name = "monitoring/template_list.html"
    fragment_template = "includes/list_results.html"


class TemplateDetailView(TemplateMixin, generic.ObjectDetailView):
    template_name = "monitoring/template_detail.html"

    def extra_context(self, obj: Any) -> dict[str, Any]:
        checks = obj.checks.all()
        return {
            "following": checks.filter(customised=False).count(),
            "customised": _with_status(checks.filter(customised=True))[:50],
            "customised_count": checks.filter(customised=True).count(),
            "params_help": f.params_help(obj.kind),
        }


class TemplateEditView(TemplateMixin, generic.ObjectEditView):
    form_class = f.TemplateForm
    template_name = "monitoring/template_form.html"

    def context(self, form: ObjectForm, obj: Any) -> dict[str, Any]:
        kind = form["kind"].value()
        following = obj.checks.filter(customised=False).count() if obj is not None else 0
        return {
            **super().context(form, obj),
            "params_help": f.params_help(str(kind or "")),
            "following": following,
        }

    def success_url(self, obj: Any) -> str:
        return self.url("detail", obj.pk)

    def save(self, form: ObjectForm, obj: Any) -> Any:
        saved = super().save(form, obj)
        following = saved.checks.filter(customised=False).count()
        if following:
            messages.info(
                self.request,
                _("The %(n)d checks that follow this template take the change now.")
                % {"n": following},
            )
        return saved


class TemplateDeleteView(TemplateMixin, generic.ObjectDeleteView):
    template_name = "monitoring/template_confirm_delete.html"

    def show(self, obj: Any, conflict: str = "", status: int = 200) -> HttpResponse:
        context = {
            **self.base_context(),
            "object": obj,
            "conflict": conflict,
            "following": obj.checks.filter(customised=False).count(),
            "customised_count": obj.checks.filter(customised=True).count(),
        }
        return render(self.request, self.template_name, context, status=status)


# ---- SNMP credentials --------------------------------------------------------------------


class CredentialMixin(MonitoringView):
    model = SnmpCredential
    url_prefix = "credential"
    title = gettext_lazy("SNMP credentials")
    services: ClassVar[generic.ObjectServices] = changes

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.user.is_authenticated:
            require(current_user(request), Action.VIEW, Area.CREDENTIALS)
        return super().dispatch(request, *args, **kwargs)


class CredentialListView(CredentialMixin, generic.ObjectListView):
    table = t.CredentialTable
    filter_form = f.CredentialFilterForm
    template_name = "monitoring/credential_list.html"
    fragment_template = "includes/list_results.html"

    def extra_context(self, form: FilterForm) -> dict[str, Any]:
        used = Check.objects.values_list("params__credential").annotate(n=Count("pk")).order_by()
        return {
            "used_by": {str(name): n for name, n in used if name},
            "can_change": can(self.user, Action.CHANGE, Area.CREDENTIALS),
        }


class CredentialEditView(CredentialMixin, generic.ObjectEditView):
    form_class = f.CredentialForm
    template_name = "monitoring/credential_form.html"

    def success_url(self, obj: Any) -> str:
        return self.url("list")

    def context(self, form: ObjectForm, obj: Any) -> dict[str, Any]:
        return {**super().context(form, obj), "history": _masked_history(obj)}


# Sealed secrets in the audit trail are ciphertext: shown as "set" or "not set", never as text.
SEALED_LABELS = {
    "community_sealed": gettext_lazy("Community"),
    "auth_password_sealed": gettext_lazy("v3 authentication password"),
    "priv_password_sealed": gettext_lazy("v3 privacy password"),
}


def _masked_history(obj: SnmpCredential | None) -> list[Any]:
    """The credential's changes, with its secrets as "set"/"not set" and never their text."""
    if obj is None:
        return []
    fields = {f.name: f for f in SnmpCredential._meta.concrete_fields}
    described = {
        capfirst(str(fields[name].verbose_name)): label for name, label in SEALED_LABELS.items()
    }
    events = history(obj)
    for event in events:
        for change in event.changes:
            if change.label in described:
                change.label = str(described[change.label])
                change.before = _("set") if change.before != "—" else _("not set")
                change.after = _("set") if change.after != "—" else _("not set")
    return events
