"""The on-call and duty resources: who is on call per group, rotations, overrides and swaps,
duty shifts, handovers and their signing, and dual-person operation records.

Added to the service desk's router by ``api.router()``; handlers only translate names to
rows, check the role matrix (area ``service_desk``: change for NOC operators and
operations engineers) and turn :class:`services.Refused` into the project's JSON errors.
Handovers, shifts and dual-control records show the whole estate, so a branch liaison
(who sees only their own branches) gets none of them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from branchops.core import scoping
from branchops.core.api import actor
from branchops.core.models import User
from branchops.core.permissions import Action, Area, can, is_site_scoped
from branchops.servicedesk import handover, oncall
from branchops.servicedesk.api import _answer, _Unknown
from branchops.servicedesk.choices import DualControlOutcome
from branchops.servicedesk.models import (
    AssignmentGroup,
    DualControlRecord,
    HandoverLog,
    Override,
    Rotation,
    Shift,
    Ticket,
)

# ---- shapes ---------------------------------------------------------------------------------


class PersonOut(Schema):
    username: str
    name: str
    phone: str

    @staticmethod
    def resolve_name(obj: User) -> str:
        return obj.get_full_name().strip() or obj.get_username()


class OnCallOut(Schema):
    group: str
    person: PersonOut | None
    rotation: str | None = Field(None, description="The rotation that counts now.")
    override: int | None = Field(None, description="The override in force, if any.")
    next_handoff_at: dt.datetime | None
    next_person: PersonOut | None

    @staticmethod
    def resolve_group(obj: oncall.OnCall) -> str:
        return obj.group.name

    @staticmethod
    def resolve_override(obj: oncall.OnCall) -> int | None:
        return obj.override.pk if obj.override else None


class RotationOut(Schema):
    id: int
    group: str
    name: str
    people: list[str] = Field(description="User names in turn order.")
    shift_hours: int
    handoff_time: dt.time
    time_zone: str
    start_date: dt.date
    active: bool

    @staticmethod
    def resolve_group(obj: Rotation) -> str:
        return obj.group.name

    @staticmethod
    def resolve_people(obj: Rotation) -> list[str]:
        return [m.user.get_username() for m in obj.members.all()]


class RotationIn(Schema):
    group: str = Field(description="Assignment group name.")
    name: str = Field(..., min_length=1, max_length=100)
    people: list[str] = Field(..., min_length=1, description="User names in turn order.")
    shift_hours: int = Field(24, ge=1, le=24 * 28)
    handoff_time: dt.time = dt.time(9)
    time_zone: str = "Asia/Shanghai"
    start_date: dt.date


class OverrideOut(Schema):
    id: int
    group: str
    user: str
    replaces: str | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    created_by: str | None
    created_at: dt.datetime

    @staticmethod
    def resolve_group(obj: Override) -> str:
        return obj.group.name

    @staticmethod
    def resolve_user(obj: Override) -> str:
        return obj.user.get_username()

    @staticmethod
    def resolve_replaces(obj: Override) -> str | None:
        return obj.replaces.get_username() if obj.replaces else None

    @staticmethod
    def resolve_created_by(obj: Override) -> str | None:
        return obj.created_by.get_username() if obj.created_by else None


class OverrideIn(Schema):
    group: str
    user: str = Field(description="Who is on call instead.")
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str = Field("", max_length=300)


class OverrideFilter(Schema):
    group: str | None = None
    current: bool = Field(True, description="true: only overrides not yet over.")


class SwapIn(Schema):
    group: str
    first: dt.datetime = Field(description="A moment in the first shift.")
    second: dt.datetime = Field(description="A moment in the other shift.")


class ShiftOut(Schema):
    id: int
    group: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    people: list[str]
    note: str

    @staticmethod
    def resolve_group(obj: Shift) -> str:
        return obj.group.name

    @staticmethod
    def resolve_people(obj: Shift) -> list[str]:
        return [p.get_username() for p in obj.people.all()]


class ShiftIn(Schema):
    group: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    people: list[str] = Field(..., min_length=1)
    note: str = Field("", max_length=300)


class HandoverOut(Schema):
    id: int
    outgoing: ShiftOut
    incoming: ShiftOut
    summary: str
    written_by: str
    created_at: dt.datetime
    open_tickets: list[dict[str, Any]]
    firing_alerts: list[dict[str, Any]]
    signed_by: str | None
    signed_at: dt.datetime | None

    @staticmethod
    def resolve_written_by(obj: HandoverLog) -> str:
        return obj.written_by.get_username()

    @staticmethod
    def resolve_signed_by(obj: HandoverLog) -> str | None:
        return obj.signed_by.get_username() if obj.signed_by else None


class HandoverIn(Schema):
    outgoing: int = Field(description="Outgoing shift id.")
    incoming: int = Field(description="Incoming shift id.")
    summary: str = Field(..., min_length=1, max_length=20000)


class HandoverFilter(Schema):
    group: str | None = None
    signed: bool | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class HandoverPage(Schema):
    count: int
    items: list[HandoverOut]


class DualControlOut(Schema):
    id: int
    what: str
    performed_at: dt.datetime
    operator: str
    reviewer: str
    outcome: DualControlOutcome
    note: str
    ticket: str | None = Field(None, description="Ticket number.")
    recorded_by: str
    recorded_at: dt.datetime

    @staticmethod
    def resolve_operator(obj: DualControlRecord) -> str:
        return obj.operator.get_username()

    @staticmethod
    def resolve_reviewer(obj: DualControlRecord) -> str:
        return obj.reviewer.get_username()

    @staticmethod
    def resolve_ticket(obj: DualControlRecord) -> str | None:
        return obj.ticket.number if obj.ticket else None

    @staticmethod
    def resolve_recorded_by(obj: DualControlRecord) -> str:
        return obj.recorded_by.get_username()


class DualControlIn(Schema):
    what: str = Field(..., min_length=1, max_length=300)
    performed_at: dt.datetime
    operator: str
    reviewer: str
    outcome: DualControlOutcome
    note: str = Field("", max_length=5000)
    ticket: str | None = Field(None, description="Ticket number.")


# ---- helpers --------------------------------------------------------------------------------


def _may(user: User, action: Action) -> None:
    if not can(user, action, Area.SERVICE_DESK):
        raise PermissionDenied(_("Your role may not change on-call or duty records."))


def _whole_desk(user: User) -> None:
    """Shifts, handovers and dual-control records list everything: not for site-scoped
    roles."""
    if not can(user, Action.VIEW, Area.SERVICE_DESK) or is_site_scoped(user, Area.SERVICE_DESK):
        raise PermissionDenied(_("Your role may not see duty records."))


def _group(name: str, field: str = "group") -> AssignmentGroup:
    found = AssignmentGroup.objects.filter(name=name).first()
    if found is None:
        raise _Unknown(field, _("Unknown: %(value)s") % {"value": name})
    return found


def _people(names: list[str], field: str) -> list[User]:
    found = {u.username: u for u in User.objects.filter(username__in=names, is_active=True)}
    missing = [n for n in names if n not in found]
    if missing:
        raise _Unknown(
            field, _("No active user is called %(name)s.") % {"name": ", ".join(missing)}
        )
    return [found[n] for n in names]


def _rotations() -> QuerySet[Rotation]:
    return Rotation.objects.select_related("group").prefetch_related("members__user")


def _handovers() -> QuerySet[HandoverLog]:
    return HandoverLog.objects.select_related(
        "outgoing__group", "incoming__group", "written_by", "signed_by"
    ).prefetch_related("outgoing__people", "incoming__people")


# ---- routes ---------------------------------------------------------------------------------


def duty_routes(r: Router) -> None:
    _oncall_routes(r)
    _override_routes(r)
    _shift_routes(r)
    _handover_routes(r)
    _dual_control_routes(r)
    # A ticket's spare-part requests: their own module, registered with these.
    from branchops.servicedesk.api_spare_parts import spare_part_routes

    spare_part_routes(r)


def _oncall_routes(r: Router) -> None:
    @r.get("/oncall/", response=list[OnCallOut], operation_id="oncall_now", tags=["on-call"])
    def on_call(request: HttpRequest) -> Any:
        """Every group with a rotation or override: who is on call now and the next hand-off."""
        _may(actor(request), Action.VIEW)
        groups = AssignmentGroup.objects.filter(
            Q(rotations__active=True) | Q(overrides__isnull=False)
        ).distinct()
        return oncall.everyone_on_call(list(groups.order_by("name")))

    @r.get(
        "/oncall/rotations/",
        response=list[RotationOut],
        operation_id="oncall_rotations_list",
        tags=["on-call"],
    )
    def rotations(request: HttpRequest, group: str | None = None) -> Any:
        _may(actor(request), Action.VIEW)
        qs = _rotations()
        return list(qs.filter(group__name=group) if group else qs)

    @r.post(
        "/oncall/rotations/",
        response={201: RotationOut},
        operation_id="oncall_rotations_create",
        tags=["on-call"],
    )
    def create_rotation(request: HttpRequest, payload: RotationIn) -> Any:
        _may(actor(request), Action.CHANGE)

        def call() -> Rotation:
            return oncall.create_rotation(
                group=_group(payload.group),
                name=payload.name,
                people=_people(payload.people, "people"),
                start_date=payload.start_date,
                shift_hours=payload.shift_hours,
                handoff_time=payload.handoff_time,
                time_zone=payload.time_zone,
            )

        done = _answer(request, call)
        return done if isinstance(done, HttpResponse) else Status(201, _rotations().get(pk=done.pk))

    @r.delete(
        "/oncall/rotations/{int:pk}/",
        response={204: None},
        operation_id="oncall_rotations_delete",
        tags=["on-call"],
    )
    def delete_rotation(request: HttpRequest, pk: int) -> Any:
        _may(actor(request), Action.CHANGE)
        get_object_or_404(Rotation, pk=pk).delete()
        return Status(204, None)


def _override_routes(r: Router) -> None:
    @r.get(
        "/oncall/overrides/",
        response=list[OverrideOut],
        operation_id="oncall_overrides_list",
        tags=["on-call"],
    )
    def overrides(request: HttpRequest, filters: Query[OverrideFilter]) -> Any:
        _may(actor(request), Action.VIEW)
        qs = Override.objects.select_related("group", "user", "replaces", "created_by")
        if filters.group:
            qs = qs.filter(group__name=filters.group)
        if filters.current:
            qs = qs.filter(ends_at__gt=dt.datetime.now(tz=dt.UTC))
        return list(qs)

    @r.post(
        "/oncall/overrides/",
        response={201: OverrideOut},
        operation_id="oncall_overrides_create",
        tags=["on-call"],
    )
    def create_override(request: HttpRequest, payload: OverrideIn) -> Any:
        user = actor(request)
        _may(user, Action.CHANGE)

        def call() -> Override:
            return oncall.create_override(
                group=_group(payload.group),
                user=_people([payload.user], "user")[0],
                starts_at=payload.starts_at,
                ends_at=payload.ends_at,
                reason=payload.reason,
                by=user,
            )

        done = _answer(request, call)
        return done if isinstance(done, HttpResponse) else Status(201, done)

    @r.delete(
        "/oncall/overrides/{int:pk}/",
        response={204: None},
        operation_id="oncall_overrides_delete",
        tags=["on-call"],
    )
    def delete_override(request: HttpRequest, pk: int) -> Any:
        _may(actor(request), Action.CHANGE)
        get_object_or_404(Override, pk=pk).delete()
        return Status(204, None)

    @r.post(
        "/oncall/swaps/",
        response={201: list[OverrideOut]},
        operation_id="oncall_swap",
        tags=["on-call"],
        summary="Two people trade shifts (two overrides)",
    )
    def swap(request: HttpRequest, payload: SwapIn) -> Any:
        user = actor(request)
        _may(user, Action.CHANGE)

        def call() -> tuple[Override, Override]:
            group = _group(payload.group)
            return oncall.swap(group=group, first=payload.first, second=payload.second, by=user)

        done = _answer(request, call)
        return done if isinstance(done, HttpResponse) else Status(201, list(done))


def _shift_routes(r: Router) -> None:
    @r.get("/shifts/", response=list[ShiftOut], operation_id="shifts_list", tags=["duty"])
    def shifts(
        request: HttpRequest, group: str | None = None, after: dt.datetime | None = None
    ) -> Any:
        _whole_desk(actor(request))
        qs = Shift.objects.select_related("group").prefetch_related("people")
        if group:
            qs = qs.filter(group__name=group)
        if after:
            qs = qs.filter(ends_at__gt=after)
        return list(qs[:500])

    @r.post("/shifts/", response={201: ShiftOut}, operation_id="shifts_create", tags=["duty"])
    def create_shift(request: HttpRequest, payload: ShiftIn) -> Any:
        user = actor(request)
        _whole_desk(user)
        _may(user, Action.CHANGE)

        def call() -> Shift:
            return handover.create_shift(
                group=_group(payload.group),
                starts_at=payload.starts_at,
                ends_at=payload.ends_at,
                people=_people(payload.people, "people"),
                note=payload.note,
            )

        done = _answer(request, call)
        return done if isinstance(done, HttpResponse) else Status(201, done)


def _handover_routes(r: Router) -> None:
    @r.get("/handovers/", response=HandoverPage, operation_id="handovers_list", tags=["duty"])
    def handovers(request: HttpRequest, filters: Query[HandoverFilter]) -> Any:
        _whole_desk(actor(request))
        qs = _handovers()
        if filters.group:
            qs = qs.filter(outgoing__group__name=filters.group)
        if filters.signed is not None:
            qs = qs.filter(signed_at__isnull=not filters.signed)
        page = list(qs[filters.offset : filters.offset + filters.limit])
        return {"count": qs.count(), "items": page}

    @r.get(
        "/handovers/{int:pk}/", response=HandoverOut, operation_id="handovers_read", tags=["duty"]
    )
    def read_handover(request: HttpRequest, pk: int) -> Any:
        _whole_desk(actor(request))
        return get_object_or_404(_handovers(), pk=pk)

    @r.post(
        "/handovers/", response={201: HandoverOut}, operation_id="handovers_create", tags=["duty"]
    )
    def create_handover(request: HttpRequest, payload: HandoverIn) -> Any:
        user = actor(request)
        _whole_desk(user)
        _may(user, Action.CHANGE)

        def call() -> HandoverLog:
            return handover.create_handover(
                outgoing=_shift(payload.outgoing, "outgoing"),
                incoming=_shift(payload.incoming, "incoming"),
                summary=payload.summary,
                by=user,
            )

        done = _answer(request, call)
        return done if isinstance(done, HttpResponse) else Status(201, _handovers().get(pk=done.pk))

    @r.post(
        "/handovers/{int:pk}/sign/",
        response=HandoverOut,
        operation_id="handovers_sign",
        tags=["duty"],
    )
    def sign(request: HttpRequest, pk: int) -> Any:
        user = actor(request)
        _whole_desk(user)
        _may(user, Action.CHANGE)
        log = get_object_or_404(HandoverLog, pk=pk)
        done = _answer(request, lambda: handover.sign_handover(log, by=user))
        return done if isinstance(done, HttpResponse) else _handovers().get(pk=pk)


def _shift(pk: int, field: str) -> Shift:
    found = Shift.objects.filter(pk=pk).first()
    if found is None:
        raise _Unknown(field, _("Unknown: %(value)s") % {"value": pk})
    return found


def _dual_control_routes(r: Router) -> None:
    @r.get(
        "/dual-control/",
        response=list[DualControlOut],
        operation_id="dual_control_list",
        tags=["duty"],
    )
    def records(request: HttpRequest, limit: int = 100, offset: int = 0) -> Any:
        _whole_desk(actor(request))
        qs = DualControlRecord.objects.select_related(
            "operator", "reviewer", "ticket", "recorded_by"
        )
        limit = max(1, min(limit, 1000))
        return list(qs[max(offset, 0) : max(offset, 0) + limit])

    @r.post(
        "/dual-control/",
        response={201: DualControlOut},
        operation_id="dual_control_create",
        tags=["duty"],
    )
    def record(request: HttpRequest, payload: DualControlIn) -> Any:
        user = actor(request)
        _whole_desk(user)
        _may(user, Action.CHANGE)

        def call() -> DualControlRecord:
            ticket = None
            if payload.ticket:
                ticket = scoping.visible(user, Ticket).filter(number=payload.ticket).first()
                if ticket is None:
                    raise _Unknown("ticket", _("Unknown: %(value)s") % {"value": payload.ticket})
            operator, reviewer = _people([payload.operator, payload.reviewer], "operator")
            return handover.record_dual_control(
                what=payload.what,
                performed_at=payload.performed_at,
                operator=operator,
                reviewer=reviewer,
                outcome=payload.outcome,
                note=payload.note,
                ticket=ticket,
                by=user,
            )

        done = _answer(request, call)
        return done if isinstance(done, HttpResponse) else Status(201, done)
