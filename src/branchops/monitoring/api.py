"""The monitoring REST resources: checks, check templates, SNMP credentials, state history
and metric queries."""

import time
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from branchops.cmdb.models import Device, Link
from branchops.core import changes, scoping
from branchops.core.api import actor
from branchops.core.crud import Resource, crud_router
from branchops.core.models import User
from branchops.core.permissions import Action, Area, can, is_site_scoped
from branchops.core.secrets import seal
from branchops.monitoring import filters as f
from branchops.monitoring import schemas as s
from branchops.monitoring.metrics import Selector, open_store
from branchops.monitoring.models import Check, CheckTemplate, SnmpCredential
from branchops.monitoring.services import CheckServices

MAX_RANGE_S = 400 * 86_400


def _check_to_model(data: dict[str, Any]) -> dict[str, Any]:
    """A check belongs to its device's (or link's A end's) site."""
    if data.get("device_id"):
        devices = Device.objects.filter(pk=data["device_id"])
        data["site_id"] = devices.values_list("site_id", flat=True).first()
    elif data.get("link_id"):
        links = Link.objects.filter(pk=data["link_id"])
        data["site_id"] = links.values_list("a_site_id", flat=True).first()
    return data


def _template_to_model(data: dict[str, Any]) -> dict[str, Any]:
    if "link_kind" in data:
        data["link_kind"] = data["link_kind"] or ""
    return data


SECRETS = ("community", "auth_password", "priv_password")


def _credential_to_model(data: dict[str, Any]) -> dict[str, Any]:
    """Secrets are write-only: sealed when given, left alone when not."""
    for name in SECRETS:
        if name in data:
            value = data.pop(name)
            if value is not None:
                data[f"{name}_sealed"] = seal(value)
    return data


RESOURCES = [
    Resource(
        "checks",
        Check,
        s.CheckOut,
        s.CheckIn,
        f.CheckFilter,
        CheckServices(),
        search=("name", "device__name", "link__name", "status__last_error"),
        orderable=("id", "name", "kind", "interval_s", "status__state", "status__since"),
        select_related=("status",),
        to_model=_check_to_model,
        tag="monitoring",
    ),
    Resource(
        "check-templates",
        CheckTemplate,
        s.TemplateOut,
        s.TemplateIn,
        f.TemplateFilter,
        changes,
        search=("name",),
        orderable=("id", "name", "kind"),
        to_model=_template_to_model,
        tag="monitoring",
    ),
    Resource(
        "snmp-credentials",
        SnmpCredential,
        s.CredentialOut,
        s.CredentialIn,
        f.CredentialFilter,
        changes,
        search=("name", "username"),
        orderable=("id", "name"),
        to_model=_credential_to_model,
        tag="monitoring",
    ),
]


class RangeQuery(Schema):
    name: str = Field(..., pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", description="Metric name.")
    start: float | None = Field(None, description="Unix seconds; default: an hour ago.")
    end: float | None = Field(None, description="Unix seconds; default: now.")
    site: str | None = Field(None, max_length=64)
    device: str | None = Field(None, max_length=64)
    check_id: int | None = None
    link: str | None = Field(None, max_length=100)
    interface: str | None = Field(None, max_length=100)
    tunnel: str | None = Field(None, max_length=100)


def _matchers(user: User, query: RangeQuery) -> dict[str, str]:
    wanted = {
        k: str(v)
        for k, v in query.model_dump().items()
        if k in ("site", "device", "check_id", "link", "interface", "tunnel") and v is not None
    }
    if is_site_scoped(user, Area.MONITORING):
        _require_own(user, wanted)
    return wanted


def _require_own(user: User, wanted: dict[str, str]) -> None:
    """A branch liaison reads the series of their own sites only, and must say which."""
    own = scoping.visible(user, Device).filter(site__liaisons=user)
    if "device" in wanted and own.filter(name=wanted["device"]).exists():
        return
    if "site" in wanted and user.liaison_sites.filter(code=wanted["site"]).exists():
        return
    raise PermissionDenied(_("Ask for the series of one of your own sites or devices."))


def router() -> Router:
    root = Router()
    for resource in RESOURCES:
        root.add_router(f"/{resource.name}/", crud_router(resource))
    extra = Router(tags=["monitoring"])

    @extra.get(
        "/checks/{int:pk}/states/",
        response=list[s.StateChangeOut],
        operation_id="checks_states",
        summary="A check's state changes, newest first",
    )
    def check_states(
        request: HttpRequest,
        pk: int,
        limit: int = Query(200, ge=1, le=5000),  # type: ignore[type-arg]
    ) -> Any:
        check = get_object_or_404(scoping.visible(actor(request), Check), pk=pk)
        return list(check.state_changes.order_by("-at", "-id")[:limit])

    @extra.get(
        "/metrics/query_range/",
        response=list[s.SeriesOut],
        operation_id="metrics_range",
        summary="Series of one metric over a time range, for charts and scripts",
    )
    def query_range(request: HttpRequest, query: Query[RangeQuery]) -> Any:
        user = actor(request)
        if not can(user, Action.VIEW, Area.MONITORING):
            raise PermissionDenied(_("Your role may not read metrics."))
        end = query.end or time.time()
        start = query.start or end - 3600
        if not 0 < end - start <= MAX_RANGE_S:
            raise HttpError(400, _("The range must be positive and at most 400 days."))
        store = open_store(settings.METRICS_URL)
        try:
            series = store.query_range(Selector(query.name, _matchers(user, query)), start, end)
        finally:
            store.close()
        return [
            {
                "name": x.name,
                "labels": dict(x.labels),
                "resolution_s": x.resolution_s,
                "points": [_point(p) for p in x.points],
            }
            for x in series
        ]

    root.add_router("/", extra)
    return root


def _point(p: Any) -> dict[str, Any]:
    return {"ts": p.ts, "value": p.value, "low": p.low, "high": p.high}
