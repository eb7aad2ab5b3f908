"""The alerts REST resources: alerts (list, detail, acknowledge, assign), silences (list,
create, end), rules, and the ingest endpoints for Alertmanager, Zabbix and generic JSON."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from branchops.alerts import inbound, services
from branchops.alerts.choices import AlertSource, AlertStatus, RuleKind, Severity
from branchops.alerts.matching import MatcherError
from branchops.alerts.matching import validate as validate_matchers
from branchops.alerts.models import Alert, AlertRule, Silence
from branchops.core import changes, scoping
from branchops.core.api import BearerToken, actor
from branchops.core.choices import ChangeSource
from branchops.core.models import User
from branchops.core.permissions import Action, Area, can
from branchops.monitoring.push import read_body

MAX_INGEST_BYTES = 1024 * 1024


# ---- shapes ---------------------------------------------------------------------------------


class AlertOut(Schema):
    id: int
    fingerprint: str
    source: AlertSource
    name: str
    severity: Severity
    status: AlertStatus
    title: str
    summary: str
    labels: dict[str, Any]
    site: str | None = Field(None, description="Site code.")
    device: str | None = Field(None, description="Device name.")
    started_at: dt.datetime
    last_seen_at: dt.datetime
    resolved_at: dt.datetime | None
    occurrences: int
    is_root: bool = Field(description="Not a symptom of another alert.")
    root_id: int | None = Field(None, description="The root cause, for a symptom.")
    symptoms: int = Field(description="Firing or resolved symptoms linked to this alert.")
    affected_sites: int
    unreachable: bool
    flapping: bool
    silenced_by: int | None
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    assignee: str | None

    @staticmethod
    def resolve_site(obj: Alert) -> str | None:
        return obj.site.code if obj.site else None

    @staticmethod
    def resolve_device(obj: Alert) -> str | None:
        return obj.device.name if obj.device else None

    @staticmethod
    def resolve_is_root(obj: Alert) -> bool:
        return obj.root_id is None

    @staticmethod
    def resolve_symptoms(obj: Alert) -> int:
        return int(getattr(obj, "symptom_count", 0))

    @staticmethod
    def resolve_silenced_by(obj: Alert) -> int | None:
        return obj.silenced_by_id

    @staticmethod
    def resolve_acknowledged_by(obj: Alert) -> str | None:
        return obj.acknowledged_by.get_username() if obj.acknowledged_by else None

    @staticmethod
    def resolve_assignee(obj: Alert) -> str | None:
        return obj.assignee.get_username() if obj.assignee else None


class EventOut(Schema):
    at: dt.datetime
    kind: str
    detail: str
    actor: str | None

    @staticmethod
    def resolve_actor(obj: Any) -> str | None:
        return obj.actor.get_username() if obj.actor else None


class AlertDetailOut(AlertOut):
    events: list[EventOut]

    @staticmethod
    def resolve_events(obj: Alert) -> list[Any]:
        return list(obj.events.select_related("actor").order_by("at", "id")[:500])


class AlertPage(Schema):
    count: int
    items: list[AlertOut]


class AlertFilter(Schema):
    status: AlertStatus | None = None
    severity: Severity | None = None
    root: bool | None = Field(None, description="true: root causes only; false: symptoms only.")
    root_id: int | None = Field(None, description="The symptoms of this root.")
    acknowledged: bool | None = None
    site: str | None = Field(None, description="Site code.")
    device: str | None = Field(None, description="Device name.")
    source: AlertSource | None = None
    q: str | None = Field(None, description="Free text in title, summary, site and device.")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class AssignIn(Schema):
    assignee: str | None = Field(None, description="User name; null to unassign.")


class AckOut(Schema):
    acknowledged: bool = Field(description="false: it already was.")
    alert: AlertOut


class SilenceIn(Schema):
    reason: str = Field(..., min_length=1, max_length=300)
    starts_at: dt.datetime | None = Field(None, description="Default: now.")
    ends_at: dt.datetime | None = Field(None, description="Required unless weekly.")
    sites: list[str] = Field(default_factory=list, description="Site codes.")
    devices: list[str] = Field(default_factory=list, description="Device names.")
    systems: list[str] = Field(default_factory=list, description="System codes.")
    matchers: dict[str, str] = Field(default_factory=dict)
    weekdays: list[int] = Field(default_factory=list, description="0 = Monday … 6 = Sunday.")
    daily_start: dt.time | None = None
    duration_minutes: int | None = None


class SilenceOut(Schema):
    id: int
    reason: str
    author: str
    created_at: dt.datetime
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    ended_at: dt.datetime | None
    weekdays: list[int]
    daily_start: dt.time | None
    duration_minutes: int | None
    sites: list[str]
    devices: list[str]
    systems: list[str]
    matchers: dict[str, str]
    active: bool

    @staticmethod
    def resolve_author(obj: Silence) -> str:
        return obj.author.get_username()

    @staticmethod
    def resolve_sites(obj: Silence) -> list[str]:
        return [s.code for s in obj.sites.all()]

    @staticmethod
    def resolve_devices(obj: Silence) -> list[str]:
        return [d.name for d in obj.devices.all()]

    @staticmethod
    def resolve_systems(obj: Silence) -> list[str]:
        return [s.code for s in obj.systems.all()]

    @staticmethod
    def resolve_active(obj: Silence) -> bool:
        return obj.active_at(timezone.now())


class RuleOut(Schema):
    id: int
    name: str
    kind: RuleKind
    enabled: bool
    severity: Severity
    metric: str
    check_kinds: list[str]
    matchers: dict[str, str]
    params: dict[str, Any]
    shipped: bool


class RuleIn(Schema):
    name: str = Field(..., min_length=1, max_length=150)
    kind: RuleKind
    enabled: bool = True
    severity: Severity = Severity.MAJOR
    metric: str = Field("", max_length=150)
    check_kinds: list[str] = Field(default_factory=list)
    matchers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)


class RulePatch(Schema):
    enabled: bool | None = None
    severity: Severity | None = None


class Accepted(Schema):
    accepted: int


# ---- helpers --------------------------------------------------------------------------------


def _require(user: User, action: Action, area: Area, message: str) -> None:
    if not can(user, action, area):
        raise PermissionDenied(message)


def _alerts(user: User) -> QuerySet[Alert]:
    return (
        scoping.visible(user, Alert)
        .select_related("site", "device", "acknowledged_by", "assignee")
        .annotate(symptom_count=Count("symptoms"))
    )


def _filtered(qs: QuerySet[Alert], f: AlertFilter) -> QuerySet[Alert]:
    if f.status:
        qs = qs.filter(status=f.status)
    if f.severity:
        qs = qs.filter(severity=f.severity)
    if f.root is not None:
        qs = qs.filter(root__isnull=f.root)
    if f.root_id is not None:
        qs = qs.filter(root_id=f.root_id)
    if f.acknowledged is not None:
        qs = qs.filter(acknowledged_at__isnull=not f.acknowledged)
    if f.site:
        qs = qs.filter(site__code=f.site)
    if f.device:
        qs = qs.filter(device__name=f.device)
    if f.source:
        qs = qs.filter(source=f.source)
    if f.q:
        text = f.q.strip()
        qs = qs.filter(
            Q(title__icontains=text)
            | Q(summary__icontains=text)
            | Q(site__code__icontains=text)
            | Q(device__name__icontains=text)
        )
    return qs


def _names(model: Any, field: str, values: list[str], label: str) -> list[int]:
    found = dict(model.objects.filter(**{f"{field}__in": values}).values_list(field, "pk"))
    missing = [v for v in values if v not in found]
    if missing:
        raise HttpError(
            400, _("Unknown %(what)s: %(names)s") % {"what": label, "names": ", ".join(missing)}
        )
    return [found[v] for v in values]


# ---- routes ---------------------------------------------------------------------------------


def router() -> Router:
    root = Router(tags=["alerts"])
    _alert_routes(root)
    _silence_routes(root)
    _rule_routes(root)
    return root


def _alert_routes(r: Router) -> None:
    @r.get(
        "/alerts/", response=AlertPage, operation_id="alerts_list", summary="Alerts, newest first"
    )
    def list_alerts(request: HttpRequest, filters: Query[AlertFilter]) -> Any:
        qs = _filtered(_alerts(actor(request)), filters).order_by("-started_at", "-id")
        return {
            "count": qs.count(),
            "items": list(qs[filters.offset : filters.offset + filters.limit]),
        }

    @r.get("/alerts/{int:pk}/", response=AlertDetailOut, operation_id="alerts_read")
    def read_alert(request: HttpRequest, pk: int) -> Any:
        return get_object_or_404(_alerts(actor(request)), pk=pk)

    @r.post("/alerts/{int:pk}/acknowledge/", response=AckOut, operation_id="alerts_acknowledge")
    def acknowledge(request: HttpRequest, pk: int) -> Any:
        user = actor(request)
        _require(user, Action.CHANGE, Area.ALERTS, _("Your role may not acknowledge alerts."))
        alert = get_object_or_404(_alerts(user), pk=pk)
        try:
            done = services.acknowledge(alert, user=user, via="api")
        except services.Refused as exc:
            raise HttpError(409, str(exc)) from exc
        return {"acknowledged": done, "alert": get_object_or_404(_alerts(user), pk=pk)}

    @r.post("/alerts/{int:pk}/assign/", response=AlertOut, operation_id="alerts_assign")
    def assign(request: HttpRequest, pk: int, payload: AssignIn) -> Any:
        user = actor(request)
        _require(user, Action.CHANGE, Area.ALERTS, _("Your role may not assign alerts."))
        alert = get_object_or_404(_alerts(user), pk=pk)
        assignee = None
        if payload.assignee:
            assignee = User.objects.filter(username=payload.assignee, is_active=True).first()
            if assignee is None:
                raise HttpError(
                    400, _("No active user is called %(name)s.") % {"name": payload.assignee}
                )
        services.assign(alert, assignee=assignee, by=user)
        return get_object_or_404(_alerts(user), pk=pk)


def _silence_routes(r: Router) -> None:
    def silences(user: User) -> QuerySet[Silence]:
        return (
            scoping.visible(user, Silence)
            .select_related("author")
            .prefetch_related("sites", "devices", "systems")
        )

    @r.get("/silences/", response=list[SilenceOut], operation_id="silences_list")
    def list_silences(request: HttpRequest, active: bool | None = None) -> Any:
        rows = list(silences(actor(request))[:1000])
        if active is not None:
            now = timezone.now()
            rows = [s for s in rows if s.active_at(now) == active]
        return rows

    @r.post("/silences/", response={201: SilenceOut}, operation_id="silences_create")
    def create_silence(request: HttpRequest, payload: SilenceIn) -> Any:
        from branchops.cmdb.models import Device, InformationSystem, Site

        user = actor(request)
        _require(user, Action.ADD, Area.ALERTS, _("Your role may not silence alerts."))
        if payload.ends_at is None and not payload.weekdays:
            raise HttpError(400, _("Give an end (ends_at), or a weekly window."))
        try:
            silence = services.create_silence(
                author=user,
                reason=payload.reason,
                starts_at=payload.starts_at or timezone.now(),
                ends_at=payload.ends_at,
                sites=_names(Site, "code", payload.sites, _("sites")),
                devices=_names(Device, "name", payload.devices, _("devices")),
                systems=_names(InformationSystem, "code", payload.systems, _("systems")),
                matchers=payload.matchers,
                weekdays=payload.weekdays,
                daily_start=payload.daily_start,
                duration_minutes=payload.duration_minutes,
            )
        except services.SilenceInvalid as exc:
            from branchops.core.api import error

            return error(
                request,
                400,
                "invalid",
                _("The silence is not valid."),
                {k: [v] for k, v in exc.problems.items()},
            )
        return Status(201, silences(user).get(pk=silence.pk))

    @r.get("/silences/{int:pk}/", response=SilenceOut, operation_id="silences_read")
    def read_silence(request: HttpRequest, pk: int) -> Any:
        return get_object_or_404(silences(actor(request)), pk=pk)

    @r.post("/silences/{int:pk}/end/", response=SilenceOut, operation_id="silences_end")
    def end_silence(request: HttpRequest, pk: int) -> Any:
        user = actor(request)
        _require(user, Action.CHANGE, Area.ALERTS, _("Your role may not end silences."))
        silence = get_object_or_404(silences(user), pk=pk)
        services.end_silence(silence, by=user)
        return silences(user).get(pk=pk)


def _rule_routes(r: Router) -> None:
    @r.get("/alert-rules/", response=list[RuleOut], operation_id="alert_rules_list")
    def list_rules(request: HttpRequest) -> Any:
        return list(scoping.visible(actor(request), AlertRule))

    @r.post("/alert-rules/", response={201: RuleOut}, operation_id="alert_rules_create")
    def create_rule(request: HttpRequest, payload: RuleIn) -> Any:
        user = actor(request)
        _require(user, Action.ADD, Area.ALERT_RULES, _("Your role may not add alert rules."))
        try:
            matchers = validate_matchers(payload.matchers)
        except MatcherError as exc:
            raise HttpError(400, str(exc)) from exc
        if AlertRule.objects.filter(name=payload.name).exists():
            raise HttpError(409, _("A rule with this name exists."))
        data = payload.dict()
        data["matchers"] = matchers
        rule = changes.create(AlertRule, data, actor=user, source=ChangeSource.API)
        return Status(201, rule)

    @r.patch("/alert-rules/{int:pk}/", response=RuleOut, operation_id="alert_rules_update")
    def update_rule(request: HttpRequest, pk: int, payload: RulePatch) -> Any:
        user = actor(request)
        _require(user, Action.CHANGE, Area.ALERT_RULES, _("Your role may not change alert rules."))
        rule = get_object_or_404(AlertRule, pk=pk)
        data = payload.dict(exclude_unset=True)
        return changes.update(rule, data, actor=user, source=ChangeSource.API)


# ---- ingest ---------------------------------------------------------------------------------


def ingest_router() -> Router:
    """``/api/v1/ingest/...``: alerts from other systems (write-scope token)."""
    r = Router(tags=["ingest"], auth=BearerToken())
    sources = {
        "alertmanager": (AlertSource.ALERTMANAGER, inbound.from_alertmanager),
        "zabbix": (AlertSource.ZABBIX, inbound.from_zabbix),
        "events": (AlertSource.GENERIC, inbound.from_generic),
    }
    for path, (source, parse) in sources.items():
        _ingest_route(r, path, source, parse)
    return r


def _ingest_route(r: Router, path: str, source: str, parse: Any) -> None:
    @r.post(
        f"/{path}",
        response={202: Accepted},
        operation_id=f"ingest_{path}",
        summary=f"Receive {path} alerts",
        openapi_extra={
            "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}
        },
    )
    def receive(request: HttpRequest) -> Any:
        user = actor(request)
        _require(user, Action.ADD, Area.ALERTS, _("Your role may not send alerts."))
        body = read_body(request, MAX_INGEST_BYTES)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HttpError(400, _("The body is not JSON: %(e)s") % {"e": exc}) from exc
        try:
            signals = parse(payload)
        except inbound.InboundError as exc:
            from branchops.core.api import error

            return error(
                request, 400, "invalid", _("The alerts are not valid."), {"alerts": exc.problems}
            )
        return Status(202, {"accepted": inbound.submit(source, signals)})
