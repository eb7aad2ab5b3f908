"""The tickets REST resource: list (filters, paging), detail with events and SLA clocks,
create, edit, and the actions move, assign, worklog and visits.

Handlers only translate: names to rows, permissions, :class:`services.Refused` to the
project's JSON errors. Mount with ``api.add_router("/", servicedesk.api.router())``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from branchops.cmdb.models import Device, InformationSystem, Site
from branchops.core import scoping
from branchops.core.api import actor, error
from branchops.core.models import User
from branchops.core.permissions import Action, Area, can
from branchops.servicedesk import kpis, services, sla
from branchops.servicedesk.choices import (
    DONE_STATUSES,
    ClockKind,
    ClockState,
    Impact,
    Priority,
    RequestType,
    TicketKind,
    TicketSource,
    TicketStatus,
    Urgency,
)
from branchops.servicedesk.models import AssignmentGroup, Category, Ticket, TicketEvent

M = TypeVar("M")

# ---- shapes ---------------------------------------------------------------------------------


class ClockOut(Schema):
    kind: ClockKind
    state: ClockState
    target_seconds: float
    elapsed_seconds: float = Field(description="Business seconds the clock has run.")
    remaining_seconds: float = Field(description="Negative once breached.")
    percent: float
    warning: bool = Field(description="75 % or more used and not stopped.")
    due_at: dt.datetime | None = Field(
        None, description="When the target is (running) or was (breached) reached."
    )
    stopped_at: dt.datetime | None


class TicketOut(Schema):
    id: int
    number: str
    kind: TicketKind
    request_type: str
    source: TicketSource
    title: str
    description: str
    site: str | None = Field(None, description="Site code.")
    devices: list[str]
    systems: list[str]
    category: str | None = Field(None, description="Category code.")
    impact: Impact
    urgency: Urgency
    priority: Priority
    sla_policy: str | None
    group: str | None
    assignee: str | None
    status: TicketStatus
    reporter_name: str
    reporter_contact: str
    opened_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    alerts: list[int]
    calendar: str | None = Field(None, description="The business calendar the clocks count in.")
    clocks: list[ClockOut]
    breached: bool

    @staticmethod
    def resolve_site(obj: Ticket) -> str | None:
        return obj.site.code if obj.site else None

    @staticmethod
    def resolve_devices(obj: Ticket) -> list[str]:
        return [d.name for d in obj.devices.all()]

    @staticmethod
    def resolve_systems(obj: Ticket) -> list[str]:
        return [s.code for s in obj.systems.all()]

    @staticmethod
    def resolve_category(obj: Ticket) -> str | None:
        return obj.category.code if obj.category else None

    @staticmethod
    def resolve_sla_policy(obj: Ticket) -> str | None:
        return obj.sla_policy.name if obj.sla_policy else None

    @staticmethod
    def resolve_group(obj: Ticket) -> str | None:
        return obj.group.name if obj.group else None

    @staticmethod
    def resolve_assignee(obj: Ticket) -> str | None:
        return obj.assignee.get_username() if obj.assignee else None

    @staticmethod
    def resolve_opened_by(obj: Ticket) -> str | None:
        return obj.opened_by.get_username() if obj.opened_by else None

    @staticmethod
    def resolve_alerts(obj: Ticket) -> list[int]:
        return [a.pk for a in obj.alerts.all()]

    @staticmethod
    def resolve_calendar(obj: Ticket) -> str | None:
        clocks = getattr(obj, "sla_clocks", None)
        return clocks.calendar if clocks else None

    @staticmethod
    def resolve_clocks(obj: Ticket) -> list[sla.Clock]:
        clocks = getattr(obj, "sla_clocks", None)
        return clocks.all() if clocks else []

    @staticmethod
    def resolve_breached(obj: Ticket) -> bool:
        clocks = getattr(obj, "sla_clocks", None)
        return bool(clocks and clocks.breached)


class TicketEventOut(Schema):
    id: int
    at: dt.datetime
    recorded_at: dt.datetime
    kind: str
    actor: str | None
    from_status: str
    to_status: str
    group: str | None
    assignee: str | None
    clock: str
    detail: str

    @staticmethod
    def resolve_actor(obj: TicketEvent) -> str | None:
        return obj.actor.get_username() if obj.actor else None

    @staticmethod
    def resolve_group(obj: TicketEvent) -> str | None:
        return obj.group.name if obj.group else None

    @staticmethod
    def resolve_assignee(obj: TicketEvent) -> str | None:
        return obj.assignee.get_username() if obj.assignee else None


class TicketDetailOut(TicketOut):
    events: list[TicketEventOut]
    allowed_moves: list[TicketStatus]

    @staticmethod
    def resolve_events(obj: Ticket) -> list[TicketEvent]:
        return list(obj.events.select_related("actor", "group", "assignee").order_by("at", "id"))

    @staticmethod
    def resolve_allowed_moves(obj: Ticket) -> list[str]:
        return services.allowed_moves(obj.status)


class TicketPage(Schema):
    count: int
    items: list[TicketOut]


class TicketFilter(Schema):
    status: TicketStatus | None = None
    kind: TicketKind | None = None
    priority: Priority | None = None
    site: str | None = Field(None, description="Site code.")
    assignee: str | None = Field(None, description="User name.")
    group: str | None = Field(None, description="Assignment group name.")
    open: bool | None = Field(None, description="true: not resolved or closed; false: done.")
    breached: bool | None = Field(None, description="Any SLA clock breached (now).")
    q: str | None = Field(None, description="Free text in number, title, description, reporter.")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class TicketIn(Schema):
    kind: TicketKind
    request_type: RequestType | None = Field(None, description="Service requests only.")
    source: TicketSource = TicketSource.API
    title: str = Field(..., min_length=1, max_length=200)
    description: str = ""
    site: str | None = Field(None, description="Site code.")
    devices: list[str] = Field(default_factory=list, description="Device names.")
    systems: list[str] = Field(default_factory=list, description="System codes.")
    category: str | None = Field(None, description="Category code.")
    impact: Impact
    urgency: Urgency
    group: str | None = Field(None, description="Assignment group name.")
    assignee: str | None = Field(None, description="User name.")
    reporter_name: str = Field("", max_length=100)
    reporter_contact: str = Field("", max_length=100)
    alerts: list[int] = Field(default_factory=list, description="Alert ids to link.")
    created_at: dt.datetime | None = Field(
        None, description="When the problem was reported, if earlier than now."
    )


class TicketPatch(Schema):
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None
    request_type: RequestType | None = None
    site: str | None = None
    category: str | None = None
    impact: Impact | None = None
    urgency: Urgency | None = None
    devices: list[str] | None = None
    systems: list[str] | None = None
    reporter_name: str | None = Field(None, max_length=100)
    reporter_contact: str | None = Field(None, max_length=100)


class MoveIn(Schema):
    to: TicketStatus
    note: str = Field("", max_length=5000)


class AssignIn(Schema):
    group: str | None = Field(None, description="Assignment group name.")
    assignee: str | None = Field(None, description="User name.")
    note: str = Field("", max_length=5000)


class WorklogIn(Schema):
    note: str = Field(..., min_length=1, max_length=20000)
    at: dt.datetime | None = Field(None, description="Default: now.")


class VisitIn(Schema):
    departed_at: dt.datetime | None = None
    arrived_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    note: str = Field("", max_length=5000)


# ---- helpers --------------------------------------------------------------------------------


def _tickets(user: User) -> QuerySet[Ticket]:
    return (
        scoping.visible(user, Ticket)
        .select_related("site", "category", "sla_policy", "group", "assignee", "opened_by")
        .prefetch_related("devices", "systems", "alerts")
    )


def _with_clocks(tickets: list[Ticket]) -> list[Ticket]:
    clocks = sla.clocks_for(tickets, timezone.now())
    for ticket in tickets:
        ticket.sla_clocks = clocks.get(ticket.pk)  # type: ignore[attr-defined]
    return tickets


def _filtered(qs: QuerySet[Ticket], f: TicketFilter) -> QuerySet[Ticket]:
    exact = {
        "status": f.status,
        "kind": f.kind,
        "priority": f.priority,
        "site__code": f.site,
        "assignee__username": f.assignee,
        "group__name": f.group,
    }
    qs = qs.filter(**{k: v for k, v in exact.items() if v is not None})
    if f.open is True:
        qs = qs.exclude(status__in=DONE_STATUSES)
    elif f.open is False:
        qs = qs.filter(status__in=DONE_STATUSES)
    if f.q:
        text = f.q.strip()
        qs = qs.filter(
            Q(number__icontains=text)
            | Q(title__icontains=text)
            | Q(description__icontains=text)
            | Q(reporter_name__icontains=text)
        )
    return qs


class _Unknown(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _one(model: type[Any], field: str, value: str | None, name: str) -> Any:
    if value is None:
        return None
    found = model.objects.filter(**{field: value}).first()
    if found is None:
        raise _Unknown(name, _("Unknown: %(value)s") % {"value": value})
    return found


def _many(model: type[Any], field: str, values: list[str], name: str) -> list[Any]:
    found = {getattr(o, field): o for o in model.objects.filter(**{f"{field}__in": values})}
    missing = [v for v in values if v not in found]
    if missing:
        raise _Unknown(name, _("Unknown: %(values)s") % {"values": ", ".join(missing)})
    return [found[v] for v in values]


def _person(username: str | None) -> User | None:
    if username is None:
        return None
    person = User.objects.filter(username=username, is_active=True).first()
    if person is None:
        raise _Unknown("assignee", _("No active user is called %(name)s.") % {"name": username})
    return person


def _answer(request: HttpRequest, call: Callable[[], M]) -> M | HttpResponse:
    """Run a service call; refusals and unknown names become the JSON error shape."""
    try:
        return call()
    except services.Refused as exc:
        code = "invalid" if exc.status == 400 else "refused"
        fields = {exc.field: [exc.message]} if exc.field else None
        return error(request, exc.status, code, exc.message, fields)
    except _Unknown as exc:
        return error(request, 400, "invalid", exc.message, {exc.field: [exc.message]})


def _require(user: User, action: Action, message: str) -> None:
    if not can(user, action, Area.SERVICE_DESK):
        raise PermissionDenied(message)


def _changeable(request: HttpRequest, pk: int) -> tuple[User, Ticket]:
    user = actor(request)
    ticket = get_object_or_404(_tickets(user), pk=pk)
    _require(user, Action.CHANGE, _("Your role may not change tickets."))
    scoping.require_change(user, Action.CHANGE, ticket)
    return user, ticket


def _detail(user: User, pk: int) -> Ticket:
    return _with_clocks([get_object_or_404(_tickets(user), pk=pk)])[0]


# ---- routes ---------------------------------------------------------------------------------


def router() -> Router:
    r = Router(tags=["tickets"])
    _read_routes(r)
    _write_routes(r)
    _action_routes(r)
    _kpi_routes(r)
    # On-call, shifts, handovers, dual control: their own module, which imports helpers
    # from this one (hence imported here, once this module is complete).
    from branchops.servicedesk.api_duty import duty_routes

    duty_routes(r)
    # Problems, actions, postmortems and the knowledge base (issue 5, item 4).
    from branchops.servicedesk.knowledge_api import knowledge_routes
    from branchops.servicedesk.review_api import review_routes

    review_routes(r)
    knowledge_routes(r)

    from branchops.servicedesk.reportable_api import reportable_routes

    reportable_routes(r)
    from branchops.servicedesk.api_attachments import attachment_routes

    attachment_routes(r)
    return r


def _read_routes(r: Router) -> None:
    @r.get("/tickets/", response=TicketPage, operation_id="tickets_list", summary="Tickets")
    def list_tickets(request: HttpRequest, filters: Query[TicketFilter]) -> Any:
        qs = _filtered(_tickets(actor(request)), filters).order_by("-created_at", "-id")
        if filters.breached is not None:
            rows = list(
                qs.select_related(None)
                .prefetch_related(None)
                .only("id", "created_at", "sla_policy_id")
            )
            clocks = sla.clocks_for(rows, timezone.now())
            ids = [t.pk for t in rows if (t.pk in clocks and clocks[t.pk].breached)]
            qs = qs.filter(pk__in=ids) if filters.breached else qs.exclude(pk__in=ids)
        page = list(qs[filters.offset : filters.offset + filters.limit])
        return {"count": qs.count(), "items": _with_clocks(page)}

    @r.get("/tickets/{int:pk}/", response=TicketDetailOut, operation_id="tickets_read")
    def read_ticket(request: HttpRequest, pk: int) -> Any:
        return _detail(actor(request), pk)


def _write_routes(r: Router) -> None:
    @r.post("/tickets/", response={201: TicketDetailOut}, operation_id="tickets_create")
    def create_ticket(request: HttpRequest, payload: TicketIn) -> Any:
        user = actor(request)
        _require(user, Action.ADD, _("Your role may not open tickets."))

        def call() -> Ticket:
            site = _one(Site, "code", payload.site, "site")
            scoping.require_change(user, Action.ADD, Ticket(site=site))
            return services.open_ticket(
                kind=payload.kind,
                request_type=payload.request_type or "",
                source=payload.source,
                title=payload.title,
                description=payload.description,
                site=site,
                devices=_many(Device, "name", payload.devices, "devices"),
                systems=_many(InformationSystem, "code", payload.systems, "systems"),
                category=_one(Category, "code", payload.category, "category"),
                impact=payload.impact,
                urgency=payload.urgency,
                group=_one(AssignmentGroup, "name", payload.group, "group"),
                assignee=_person(payload.assignee),
                reporter_name=payload.reporter_name,
                reporter_contact=payload.reporter_contact,
                alerts=_alerts(user, payload.alerts),
                created_at=payload.created_at,
                by=user,
            )

        ticket = _answer(request, call)
        if isinstance(ticket, HttpResponse):
            return ticket
        return Status(201, _detail(user, ticket.pk))

    @r.patch("/tickets/{int:pk}/", response=TicketDetailOut, operation_id="tickets_update")
    def update_ticket(request: HttpRequest, pk: int, payload: TicketPatch) -> Any:
        user, ticket = _changeable(request, pk)
        given = payload.dict(exclude_unset=True)

        def call() -> Ticket:
            changes: dict[str, Any] = {}
            for key in ("title", "description", "reporter_name", "reporter_contact"):
                if given.get(key) is not None:
                    changes[key] = given[key]
            if "request_type" in given:
                changes["request_type"] = given["request_type"] or ""
            for key in ("impact", "urgency"):
                if given.get(key) is not None:
                    changes[key] = int(given[key])
            if "site" in given:
                changes["site"] = _one(Site, "code", given["site"], "site")
                scoping.require_change(user, Action.CHANGE, Ticket(site=changes["site"]))
            if "category" in given:
                changes["category"] = _one(Category, "code", given["category"], "category")
            devices = given.get("devices")
            systems = given.get("systems")
            return services.update_ticket(
                ticket,
                by=user,
                changes=changes,
                devices=None if devices is None else _many(Device, "name", devices, "devices"),
                systems=None
                if systems is None
                else _many(InformationSystem, "code", systems, "systems"),
            )

        done = _answer(request, call)
        return done if isinstance(done, HttpResponse) else _detail(user, pk)


def _alerts(user: User, ids: list[int]) -> list[Any]:
    from branchops.alerts.models import Alert

    found = {a.pk: a for a in scoping.visible(user, Alert).filter(pk__in=ids)}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise _Unknown("alerts", _("Unknown: %(values)s") % {"values": ", ".join(missing)})
    return [found[i] for i in ids]


def _action_routes(r: Router) -> None:
    @r.post("/tickets/{int:pk}/move/", response=TicketDetailOut, operation_id="tickets_move")
    def move(request: HttpRequest, pk: int, payload: MoveIn) -> Any:
        user, ticket = _changeable(request, pk)
        done = _answer(
            request, lambda: services.move(ticket, payload.to, by=user, note=payload.note)
        )
        return done if isinstance(done, HttpResponse) else _detail(user, pk)

    @r.post("/tickets/{int:pk}/assign/", response=TicketDetailOut, operation_id="tickets_assign")
    def assign(request: HttpRequest, pk: int, payload: AssignIn) -> Any:
        user, ticket = _changeable(request, pk)

        def call() -> Ticket:
            return services.assign(
                ticket,
                group=_one(AssignmentGroup, "name", payload.group, "group"),
                assignee=_person(payload.assignee),
                by=user,
                note=payload.note,
            )

        done = _answer(request, call)
        return done if isinstance(done, HttpResponse) else _detail(user, pk)

    @r.post(
        "/tickets/{int:pk}/worklog/",
        response={201: TicketEventOut},
        operation_id="tickets_worklog",
    )
    def worklog(request: HttpRequest, pk: int, payload: WorklogIn) -> Any:
        user, ticket = _changeable(request, pk)
        done = _answer(
            request, lambda: services.worklog(ticket, by=user, note=payload.note, at=payload.at)
        )
        return done if isinstance(done, HttpResponse) else Status(201, done)

    @r.post(
        "/tickets/{int:pk}/visits/",
        response={201: list[TicketEventOut]},
        operation_id="tickets_visits",
        summary="Record an on-site visit: departure, arrival, finish",
    )
    def visits(request: HttpRequest, pk: int, payload: VisitIn) -> Any:
        user, ticket = _changeable(request, pk)

        def call() -> list[TicketEvent]:
            return services.record_visit(
                ticket,
                by=user,
                departed_at=payload.departed_at,
                arrived_at=payload.arrived_at,
                finished_at=payload.finished_at,
                note=payload.note,
            )

        done = _answer(request, call)
        return done if isinstance(done, HttpResponse) else Status(201, done)


# ---- KPIs -----------------------------------------------------------------------------------


class KpiMeanOut(Schema):
    tickets: int = Field(description="Tickets the mean is taken over.")
    wall_minutes: float | None = Field(description="Wall-clock minutes from reported.")
    business_minutes: float | None = Field(
        description="Minutes the SLA clock ran (its calendar's open hours, pauses left out)."
    )


class KpiClockOut(Schema):
    decided: int = Field(description="Tickets whose clock stopped within (met) or ran past it.")
    met: int
    breached: int
    attainment: float | None = Field(description="met / decided, 0 to 1.")


class KpiSlaOut(KpiClockOut):
    response: KpiClockOut
    arrival: KpiClockOut
    resolution: KpiClockOut


class KpiFirstTimeFixOut(Schema):
    resolved: int
    fixed_first_time: int
    rate: float | None = Field(description="fixed_first_time / resolved, 0 to 1.")


class KpiBacklogOut(Schema):
    open: int
    under_1d: int
    d1_3: int = Field(alias="1d_3d")
    d3_7: int = Field(alias="3d_7d")
    d7_30: int = Field(alias="7d_30d")
    over_30d: int


class KpiSatisfactionOut(Schema):
    asked: int = Field(description="Tickets resolved or closed now, or answered.")
    answered: int
    response_rate: float | None = Field(description="answered / asked, 0 to 1.")
    average_score: float | None = Field(description="Mean score, 1 to 5.")
    scores: dict[str, int] = Field(description="Answers per score, '1' to '5'.")


class KpiFiguresOut(Schema):
    tickets: int
    incidents: int
    major_incidents: int = Field(description="P1 incidents.")
    reportable_incidents: int | None = Field(description="null while not modelled.")
    mtta: KpiMeanOut
    mttr: KpiMeanOut
    sla: KpiSlaOut
    first_time_fix: KpiFirstTimeFixOut
    backlog: KpiBacklogOut = Field(description="Of these tickets, those open now, by age.")
    satisfaction: KpiSatisfactionOut


class KpiGroupOut(KpiFiguresOut):
    key: str = Field(description="Month, region code, site code, category code or P1-P4.")
    label: str


class KpiMonthOut(Schema):
    month: str
    tickets: int
    by_priority: dict[str, int] = Field(description="P1-P4.")
    by_category: dict[str, int] = Field(description="Top-level category code ('' none).")


class KpiYearOut(Schema):
    year: int
    major_incidents: int
    reportable_incidents: int | None


class KpiOut(Schema):
    from_month: str = Field(alias="from")
    to_month: str = Field(alias="to")
    by: str
    region: str
    category: str
    priority: int | None
    generated_at: dt.datetime
    total: KpiFiguresOut
    groups: list[KpiGroupOut]
    tickets_per_month: list[KpiMonthOut]
    per_year: list[KpiYearOut]


class KpiFilter(Schema):
    from_month: str | None = Field(
        None, alias="from", description="YYYY-MM (default: 11 months before to)."
    )
    to_month: str | None = Field(None, alias="to", description="YYYY-MM (default: this month).")
    by: str = Field("month", description="month, region, site, category or priority.")
    region: str | None = Field(None, description="Region code (with the regions below it).")
    category: str | None = Field(None, description="Category code (with its sub-categories).")
    priority: str | None = Field(None, description="1-4 or P1-P4.")


def _kpi_routes(r: Router) -> None:
    @r.get(
        "/kpis/",
        response=KpiOut,
        operation_id="kpis_read",
        summary="Service-desk KPIs: MTTA, MTTR, SLA, first-time fix, backlog, satisfaction",
        tags=["kpis"],
        by_alias=True,
    )
    def read_kpis(request: HttpRequest, filters: Query[KpiFilter]) -> Any:
        user = actor(request)
        _require(user, Action.VIEW, _("Your role may not see tickets."))
        try:
            by = kpis.check_grouping(filters.by)
            period = kpis.parse_period(filters.from_month, filters.to_month, timezone.localdate())
            narrow = kpis.parse_filters(filters.region, filters.category, filters.priority)
        except kpis.KpiRangeError as exc:
            return error(request, 400, "invalid", exc.message, {exc.field: [exc.message]})
        found = kpis.report(user, period, by, filters=narrow)
        return {
            "from": f"{period.first:%Y-%m}",
            "to": f"{period.last:%Y-%m}",
            "by": by,
            "region": narrow.region,
            "category": narrow.category,
            "priority": narrow.priority,
            "generated_at": found.now,
            "total": found.total,
            "groups": found.groups,
            "tickets_per_month": found.per_month,
            "per_year": found.per_year,
        }
