"""Core pages: sign-in, language, dashboard, global search, audit trail, users, API tokens.

Also the small helpers every app's list and detail pages share: paging, htmx fragments,
and the readable form of audit events (the history panel).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db import models, transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from branchops.cmdb import scoping
from branchops.cmdb.choices import DeviceStatus, SiteKind, SiteStatus
from branchops.cmdb.models import (
    CONTRACT_EXPIRING_DAYS,
    Contact,
    Device,
    InformationSystem,
    Link,
    MaintenanceContract,
    Site,
)
from branchops.core import audit
from branchops.core.choices import AuditAction, ChangeSource, TokenScope
from branchops.core.forms import (
    AuditFilterForm,
    LoginForm,
    TokenForm,
    UserFilterForm,
    UserForm,
    record_user_change,
    user_snapshot,
)
from branchops.core.models import ApiToken, AuditEvent, User
from branchops.core.permissions import Action, Area, can, require
from branchops.core.setup import generate_password
from branchops.core.tokens import create_token, revoke_token

PAGE_SIZE = 50
LIST_TARGET = "object-list"

# ---- helpers shared by every app's pages -------------------------------------------------


def current_user(request: HttpRequest) -> User:
    """The signed-in user; the views that call this are all behind login_required."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def wants_fragment(request: HttpRequest, target: str = LIST_TARGET) -> bool:
    """True for an htmx request that only replaces ``#target`` (filters, sorting, paging).

    A history restore (back button after the cache is gone) wants the whole page.
    """
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Target") == target
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render_listing(
    request: HttpRequest, template: str, fragment: str, context: dict[str, Any]
) -> HttpResponse:
    """The whole page, or only the list part of it when htmx asks for that."""
    response = render(request, fragment if wants_fragment(request) else template, context)
    # The same address answers a page or a fragment; caches must keep them apart.
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def paginate(request: HttpRequest, items: Any, per_page: int = PAGE_SIZE) -> Page[Any]:
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


# ---- readable audit events ---------------------------------------------------------------

# Snapshot keys that are not model fields.
EXTRA_LABELS = {"liaison_sites": gettext_lazy("Liaison sites")}


@dataclass
class FieldChange:
    label: str
    before: str
    after: str


@dataclass
class DescribedEvent:
    event: AuditEvent
    type_label: str
    url: str | None
    changes: list[FieldChange] = field(default_factory=list)


class _Describer:
    """Turns snapshot values (ids, choice codes) into what people read; caches lookups."""

    def __init__(self) -> None:
        self.names: dict[tuple[type[models.Model], Any], str] = {}

    def value(self, fld: models.Field[Any, Any] | None, value: Any) -> str:
        if value is None or value == "":
            return "—"
        if isinstance(value, bool):
            return _("Yes") if value else _("No")
        if isinstance(value, list):
            return ", ".join(self.value(fld, v) for v in value[:20]) + (
                " …" if len(value) > 20 else ""
            )
        if fld is not None and fld.choices:
            return str(dict(fld.flatchoices).get(value, value))
        related = fld.related_model if fld is not None else None
        if isinstance(related, type) and issubclass(related, models.Model):
            return self.name(related, value)
        return str(value)

    def name(self, model: type[models.Model], pk: Any) -> str:
        key = (model, pk)
        if key not in self.names:
            obj = model._default_manager.filter(pk=pk).first()
            self.names[key] = str(obj) if obj is not None else f"#{pk}"
        return self.names[key]

    def changes(self, event: AuditEvent, model: type[models.Model] | None) -> list[FieldChange]:
        fields: dict[str, models.Field[Any, Any]] = {}
        if model is not None:
            for f in model._meta.concrete_fields:
                fields[f.attname] = f
            for m2m in model._meta.many_to_many:
                fields[m2m.name] = m2m
        rows = []
        for key, before, after in event.changed_fields():
            fld = fields.get(key)
            label = fld.verbose_name if fld is not None else EXTRA_LABELS.get(key, key)
            rows.append(
                FieldChange(capfirst(str(label)), self.value(fld, before), self.value(fld, after))
            )
        return rows


def _model_of(event: AuditEvent) -> type[models.Model] | None:
    if event.content_type_id is None:
        return None
    return ContentType.objects.get_for_id(event.content_type_id).model_class()


def _existing_objects(events: list[AuditEvent]) -> dict[tuple[Any, str], models.Model]:
    """The objects the events are about that still exist, in one query per kind."""
    ids: dict[type[models.Model], set[str]] = {}
    for event in events:
        model = _model_of(event)
        if model is not None and hasattr(model, "get_absolute_url") and event.object_id:
            ids.setdefault(model, set()).add(event.object_id)
    found: dict[tuple[Any, str], models.Model] = {}
    for model, pks in ids.items():
        for pk, obj in model._default_manager.in_bulk(list(pks)).items():
            found[(model, str(pk))] = obj
    return found


def describe(events: Any) -> list[DescribedEvent]:
    """Audit events with a type label, a link to the object while it exists, and changes."""
    events = list(events)
    objects = _existing_objects(events)
    describer = _Describer()
    described = []
    for event in events:
        model = _model_of(event)
        obj = objects.get((model, event.object_id))
        url = obj.get_absolute_url() if obj is not None else None  # type: ignore[attr-defined]
        type_label = capfirst(str(model._meta.verbose_name)) if model is not None else ""
        described.append(DescribedEvent(event, type_label, url, describer.changes(event, model)))
    return described


def history(obj: models.Model, limit: int = 20) -> list[DescribedEvent]:
    """The latest changes of one object, for the history panel of its page."""
    return describe(audit.history(obj)[:limit])


# ---- sign-in, sign-out, language ---------------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "core/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: LoginForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_valid(form)
        user = form.get_user()
        audit.record(actor=user, action=AuditAction.LOGIN, source=ChangeSource.UI, obj=user)
        return response


class LogoutView(auth_views.LogoutView):
    """Sign-out is a POST (Django refuses GET), so a link can never sign anyone out."""


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the interface language; a signed-in user keeps the choice on their account."""
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        return HttpResponseBadRequest(_("Unknown language."))
    if request.user.is_authenticated:
        User.objects.filter(pk=request.user.pk).update(language=language)
    translation.activate(language)
    response = HttpResponseRedirect(safe_next(request, reverse("core:home")))
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
    )
    return response


# ---- dashboard ---------------------------------------------------------------------------


def _counts(qs: models.QuerySet[Any], field_name: str, choices: Any) -> list[dict[str, Any]]:
    found = dict(qs.values_list(field_name).annotate(n=Count("pk")).order_by())
    return [{"value": v, "label": label, "count": found.get(v, 0)} for v, label in choices]


def map_points(sites: models.QuerySet[Site]) -> list[dict[str, Any]]:
    """Sites with coordinates, as the map script reads them (see static/branchops/app.js)."""
    rows = sites.exclude(latitude=None).exclude(longitude=None)
    return [
        {
            "name": f"{s.code} {s.name}",
            "lon": float(s.longitude),
            "lat": float(s.latitude),
            "status": s.status,
            "branch": s.kind == SiteKind.BRANCH,
            "url": s.get_absolute_url(),
        }
        for s in rows.only("pk", "code", "name", "kind", "status", "latitude", "longitude")
        if s.longitude is not None and s.latitude is not None
    ]


def status_labels() -> dict[str, str]:
    return {value: str(label) for value, label in SiteStatus.choices}


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    today = timezone.localdate()
    sites = scoping.visible(user, Site)
    devices = scoping.visible(user, Device)
    contracts = scoping.visible(user, MaintenanceContract)
    expiring = contracts.filter(
        starts_on__lte=today,
        ends_on__gte=today,
        ends_on__lte=today + dt.timedelta(days=CONTRACT_EXPIRING_DAYS),
    ).order_by("ends_on")
    expired = contracts.filter(ends_on__lt=today).order_by("-ends_on")
    context = {
        "site_kinds": _counts(sites, "kind", SiteKind.choices),
        "site_total": sites.count(),
        "device_statuses": _counts(devices, "status", DeviceStatus.choices),
        "device_total": devices.count(),
        "expiring": list(expiring[:8]),
        "expiring_count": expiring.count(),
        "expired": list(expired[:5]),
        "expired_count": expired.count(),
        "expiring_days": CONTRACT_EXPIRING_DAYS,
        "map_data": {"points": map_points(sites), "labels": status_labels()},
        "can_contracts": can(user, Action.VIEW, Area.CONTRACTS),
        "recent_events": (
            describe(AuditEvent.objects.all()[:10]) if can(user, Action.VIEW, Area.AUDIT) else []
        ),
        "today": today,
    }
    return render(request, "core/home.html", context)


# ---- global search -----------------------------------------------------------------------


@dataclass(frozen=True)
class SearchGroup:
    model: type[models.Model]
    label: Any
    fields: tuple[str, ...]
    list_url: str
    select_related: tuple[str, ...] = ()


SEARCH_GROUPS = (
    SearchGroup(
        Site,
        gettext_lazy("Sites"),
        ("code", "name", "address", "region__name", "region__name_en"),
        "cmdb:site_list",
        ("region",),
    ),
    SearchGroup(
        Device,
        gettext_lazy("Devices"),
        ("name", "serial", "asset_tag", "management_ip"),
        "cmdb:device_list",
        ("site", "role"),
    ),
    SearchGroup(
        Link,
        gettext_lazy("Links"),
        ("name", "carrier", "circuit_id"),
        "cmdb:link_list",
        ("a_site", "b_site"),
    ),
    SearchGroup(
        InformationSystem,
        gettext_lazy("Information systems"),
        ("code", "name", "name_en", "owner"),
        "cmdb:system_list",
    ),
    SearchGroup(
        MaintenanceContract,
        gettext_lazy("Maintenance contracts"),
        ("number", "name", "provider"),
        "cmdb:contract_list",
    ),
    SearchGroup(
        Contact,
        gettext_lazy("Contacts"),
        ("name", "organisation", "phone", "mobile", "email"),
        "cmdb:contact_list",
    ),
)
SEARCH_LIMIT = 20


def text_query(text: str, fields: tuple[str, ...]) -> Q:
    """Every word must match one of the fields (case-insensitive substring)."""
    condition = Q()
    for term in text.split()[:8]:
        term_q = Q()
        for name in fields:
            term_q |= Q(**{f"{name}__icontains": term})
        condition &= term_q
    return condition


def _search_detail(obj: models.Model) -> str:
    """A second line under a search hit, so that two similar names can be told apart."""
    if isinstance(obj, Device):
        parts = [str(obj.site), str(obj.role), obj.management_ip or "", obj.serial]
    elif isinstance(obj, Site):
        parts = [obj.get_kind_display(), obj.address]
    elif isinstance(obj, Link):
        parts = [obj.get_kind_display(), str(obj.a_site), str(obj.b_site or obj.carrier)]
    elif isinstance(obj, MaintenanceContract):
        parts = [obj.provider, f"{obj.starts_on} ~ {obj.ends_on}"]
    elif isinstance(obj, Contact):
        parts = [obj.get_role_display(), obj.mobile or obj.phone, obj.email]
    elif isinstance(obj, InformationSystem):
        parts = [obj.code, obj.get_category_display()]
    else:
        parts = []
    return " · ".join(p for p in parts if p)


@login_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    text = request.GET.get("q", "").strip()[:100]
    groups = []
    if text:
        for group in SEARCH_GROUPS:
            qs = scoping.visible(user, group.model).filter(text_query(text, group.fields))
            if group.select_related:
                qs = qs.select_related(*group.select_related)
            hits = list(qs[: SEARCH_LIMIT + 1])
            if hits:
                groups.append(
                    {
                        "label": group.label,
                        "items": [(o, _search_detail(o)) for o in hits[:SEARCH_LIMIT]],
                        "more": len(hits) > SEARCH_LIMIT,
                        "list_url": reverse(group.list_url),
                    }
                )
    context = {"search_query": text, "groups": groups}
    return render_listing(request, "core/search.html", "core/search_results.html", context)


# ---- audit trail -------------------------------------------------------------------------


@login_required
@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    require(user, Action.VIEW, Area.AUDIT)
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.all()
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            events = events.filter(
                Q(object_repr__icontains=data["q"]) | Q(message__icontains=data["q"])
            )
        if data["actor"]:
            events = events.filter(actor=data["actor"])
        if data["object_type"]:
            events = events.filter(content_type_id=int(data["object_type"]))
        if data["action"]:
            events = events.filter(action=data["action"])
        if data["date_from"]:
            events = events.filter(at__date__gte=data["date_from"])
        if data["date_to"]:
            events = events.filter(at__date__lte=data["date_to"])
    page = paginate(request, events)
    context = {"form": form, "page_obj": page, "events": describe(page.object_list)}
    return render_listing(request, "core/audit_list.html", "core/audit_results.html", context)


# ---- users -------------------------------------------------------------------------------


@login_required
@require_GET
def user_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    require(user, Action.VIEW, Area.USERS)
    users = User.objects.prefetch_related("liaison_sites").order_by("username")
    form = UserFilterForm(request.GET or None)
    if form.is_bound and form.is_valid():
        if form.cleaned_data["q"]:
            fields = ("username", "first_name", "last_name", "email")
            users = users.filter(text_query(form.cleaned_data["q"], fields))
        if form.cleaned_data["role"]:
            users = users.filter(role=form.cleaned_data["role"])
    context = {
        "page_obj": paginate(request, users),
        "form": form,
        "can_change": can(user, Action.CHANGE, Area.USERS),
        "can_add": can(user, Action.ADD, Area.USERS),
        "now": timezone.now(),
    }
    return render_listing(request, "core/user_list.html", "core/user_results.html", context)


def _show_password(request: HttpRequest, target: User, password: str) -> HttpResponse:
    response = render(request, "core/user_password.html", {"target": target, "password": password})
    add_never_cache_headers(response)
    return response


@login_required
def user_add(request: HttpRequest) -> HttpResponse:
    actor = current_user(request)
    require(actor, Action.ADD, Area.USERS)
    form = UserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        password = generate_password()
        target = form.save_as(actor, password=password)
        return _show_password(request, target, password)
    return render(request, "core/user_form.html", {"form": form, "target": None})


@login_required
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = current_user(request)
    require(actor, Action.CHANGE, Area.USERS)
    target = get_object_or_404(User, pk=pk)
    form = UserForm(request.POST or None, instance=target)
    if request.method == "POST" and form.is_valid():
        form.save_as(actor)
        messages.success(request, _("The user %(user)s was saved.") % {"user": target})
        return redirect("core:user_list")
    return render(request, "core/user_form.html", {"form": form, "target": target})


@login_required
@require_POST
def user_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    actor = current_user(request)
    require(actor, Action.CHANGE, Area.USERS)
    target = get_object_or_404(User, pk=pk)
    active = request.POST.get("active") == "1"
    if target.pk == actor.pk and not active:
        messages.error(request, _("You cannot disable your own account."))
        return redirect("core:user_list")
    with transaction.atomic():
        before = user_snapshot(target)
        target.is_active = active
        target.save(update_fields=["is_active"])
        record_user_change(actor, target, before)
    if active:
        messages.success(request, _("%(user)s can sign in again.") % {"user": target})
    else:
        messages.success(request, _("%(user)s can no longer sign in.") % {"user": target})
    return redirect("core:user_list")


@login_required
@require_POST
def user_reset_password(request: HttpRequest, pk: int) -> HttpResponse:
    """A new random password, shown once; it also lifts a lockout."""
    actor = current_user(request)
    require(actor, Action.CHANGE, Area.USERS)
    target = get_object_or_404(User, pk=pk)
    password = generate_password()
    with transaction.atomic():
        target.set_password(password)
        target.failed_logins = 0
        target.locked_until = None
        target.save(update_fields=["password", "failed_logins", "locked_until"])
        audit.record(
            actor=actor,
            action=AuditAction.UPDATE,
            source=ChangeSource.UI,
            obj=target,
            message="password reset",
        )
    return _show_password(request, target, password)


# ---- API tokens --------------------------------------------------------------------------


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = TokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        _token, new_token = create_token(
            user=user,
            name=form.cleaned_data["name"],
            scope=TokenScope(form.cleaned_data["scope"]),
            expires_days=form.cleaned_data["expires_days"],
            source=ChangeSource.UI,
        )
        form = TokenForm()
    context = {
        "form": form,
        "new_token": new_token,
        "tokens": ApiToken.objects.filter(user=user),
        "now": timezone.now(),
    }
    response = render(request, "core/token_list.html", context)
    if new_token:
        # The secret is on this page only: keep it out of every cache.
        add_never_cache_headers(response)
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    token = get_object_or_404(ApiToken, pk=pk, user=user)
    revoke_token(token, actor=user, source=ChangeSource.UI)
    messages.success(request, _("The token %(name)s was revoked.") % {"name": token.name})
    return redirect("core:token_list")
