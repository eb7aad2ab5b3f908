"""The review REST resources: problems (with their moves), corrective and preventive actions,
postmortems (with their merged timeline and the author's entries).

Handlers only translate names to rows, check permissions and turn refusals into the
project's JSON errors, as the tickets API does. Reading needs "view tickets" and follows
the tickets' site scoping; writing needs "change tickets" and is never a branch liaison's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from branchops.cmdb.models import Device, InformationSystem
from branchops.core import scoping
from branchops.core.api import actor
from branchops.core.choices import ChangeSource
from branchops.core.models import User
from branchops.core.permissions import Action
from branchops.servicedesk import review, review_postmortem
from branchops.servicedesk.api import _answer, _many, _require, _Unknown
from branchops.servicedesk.models import (
    CorrectiveAction,
    Postmortem,
    Problem,
    ProblemEvent,
    Ticket,
)
from branchops.servicedesk.review_choices import ActionKind, ActionStatus, ProblemStatus

# ---- shapes ---------------------------------------------------------------------------------


class WhyIO(Schema):
    why: str = Field(..., max_length=1000)
    answer: str = Field("", max_length=2000)


class ActionOut(Schema):
    id: int
    problem: str | None = Field(None, description="Problem number.")
    postmortem: int | None = Field(None, description="Postmortem id.")
    kind: ActionKind
    title: str
    owner: str
    due_date: dt.date
    status: ActionStatus
    evidence: str
    overdue: bool
    created_at: dt.datetime
    finished_at: dt.datetime | None

    @staticmethod
    def resolve_problem(obj: CorrectiveAction) -> str | None:
        return obj.problem.number if obj.problem else None

    @staticmethod
    def resolve_owner(obj: CorrectiveAction) -> str:
        return obj.owner.get_username()

    @staticmethod
    def resolve_overdue(obj: CorrectiveAction) -> bool:
        return review.is_overdue(obj)


class ProblemEventOut(Schema):
    at: dt.datetime
    kind: str
    actor: str | None
    from_status: str
    to_status: str
    detail: str

    @staticmethod
    def resolve_actor(obj: ProblemEvent) -> str | None:
        return obj.actor.get_username() if obj.actor else None


class ProblemOut(Schema):
    id: int
    number: str
    title: str
    description: str
    status: ProblemStatus
    tickets: list[str] = Field(description="Ticket numbers of the linked incidents.")
    devices: list[str]
    systems: list[str]
    whys: list[WhyIO]
    root_cause: str
    workaround: str
    owner: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    open_actions: int

    @staticmethod
    def resolve_tickets(obj: Problem) -> list[str]:
        return [t.number for t in obj.tickets.all()]

    @staticmethod
    def resolve_devices(obj: Problem) -> list[str]:
        return [d.name for d in obj.devices.all()]

    @staticmethod
    def resolve_systems(obj: Problem) -> list[str]:
        return [s.code for s in obj.systems.all()]

    @staticmethod
    def resolve_owner(obj: Problem) -> str | None:
        return obj.owner.get_username() if obj.owner else None

    @staticmethod
    def resolve_open_actions(obj: Problem) -> int:
        return review.open_actions(obj).count()


class ProblemDetailOut(ProblemOut):
    allowed_moves: list[ProblemStatus]
    actions: list[ActionOut]
    events: list[ProblemEventOut]

    @staticmethod
    def resolve_allowed_moves(obj: Problem) -> list[str]:
        return review.allowed_problem_moves(obj.status)

    @staticmethod
    def resolve_actions(obj: Problem) -> list[CorrectiveAction]:
        return list(obj.actions.select_related("owner", "problem"))

    @staticmethod
    def resolve_events(obj: Problem) -> list[ProblemEvent]:
        return list(obj.events.select_related("actor"))


class ProblemPage(Schema):
    count: int
    items: list[ProblemOut]


class ProblemFilter(Schema):
    status: ProblemStatus | None = None
    open: bool | None = Field(None, description="true: not closed.")
    q: str | None = Field(None, description="Free text in number, title, description.")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class ProblemIn(Schema):
    title: str = Field(..., min_length=1, max_length=200)
    description: str = ""
    tickets: list[str] = Field(default_factory=list, description="Ticket numbers.")
    devices: list[str] = Field(default_factory=list, description="Device names.")
    systems: list[str] = Field(default_factory=list, description="System codes.")
    owner: str | None = Field(None, description="User name.")
    whys: list[WhyIO] = Field(default_factory=list, max_length=review.MAX_WHYS)
    root_cause: str = ""
    workaround: str = ""


class ProblemPatch(Schema):
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None
    tickets: list[str] | None = None
    devices: list[str] | None = None
    systems: list[str] | None = None
    owner: str | None = None
    whys: list[WhyIO] | None = Field(None, max_length=review.MAX_WHYS)
    root_cause: str | None = None
    workaround: str | None = None


class ProblemMoveIn(Schema):
    to: ProblemStatus
    note: str = Field("", max_length=5000)


class ActionFilter(Schema):
    problem: str | None = Field(None, description="Problem number.")
    postmortem: int | None = None
    status: ActionStatus | None = None
    owner: str | None = Field(None, description="User name.")
    overdue: bool | None = Field(None, description="true: past due and not done or cancelled.")


class ActionIn(Schema):
    problem: str | None = Field(None, description="Problem number (or give postmortem).")
    postmortem: int | None = Field(None, description="Postmortem id (or give problem).")
    kind: ActionKind
    title: str = Field(..., min_length=1, max_length=300)
    owner: str = Field(..., description="User name.")
    due_date: dt.date


class ActionPatch(Schema):
    status: ActionStatus | None = None
    evidence: str | None = Field(None, max_length=5000)
    owner: str | None = None
    due_date: dt.date | None = None


class TimelineOut(Schema):
    at: dt.datetime
    source: str = Field(description="alert, ticket or note.")
    reference: str
    what: str
    detail: str
    actor: str


class PostmortemOut(Schema):
    id: int
    title: str
    ticket: str | None = Field(None, description="Incident number.")
    problem: str | None = Field(None, description="Problem number.")
    impact_summary: str
    lessons: str
    author: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_ticket(obj: Postmortem) -> str | None:
        return obj.ticket.number if obj.ticket else None

    @staticmethod
    def resolve_problem(obj: Postmortem) -> str | None:
        return obj.problem.number if obj.problem else None

    @staticmethod
    def resolve_author(obj: Postmortem) -> str:
        return obj.author.get_username()


class PostmortemDetailOut(PostmortemOut):
    timeline: list[TimelineOut]
    actions: list[ActionOut]

    @staticmethod
    def resolve_actions(obj: Postmortem) -> list[CorrectiveAction]:
        return getattr(obj, "action_rows", [])


class PostmortemIn(Schema):
    title: str = Field(..., min_length=1, max_length=200)
    ticket: str | None = Field(None, description="Incident number (or give problem).")
    problem: str | None = Field(None, description="Problem number (or give ticket).")
    impact_summary: str = ""
    lessons: str = ""


class PostmortemPatch(Schema):
    title: str | None = Field(None, min_length=1, max_length=200)
    impact_summary: str | None = None
    lessons: str | None = None


class EntryIn(Schema):
    at: dt.datetime
    what: str = Field(..., min_length=1, max_length=5000)


# ---- helpers --------------------------------------------------------------------------------


def _problems(user: User) -> QuerySet[Problem]:
    return scoping.visible(user, Problem).select_related("owner")


def _may_write(user: User) -> None:
    """Writing review records: "change tickets", never a branch liaison (no owner sites)."""
    _require(user, Action.CHANGE, _("Your role may not change problems or postmortems."))
    scoping.require_change(user, Action.CHANGE, Problem())


def _user(username: str | None, field: str) -> User | None:
    if username is None:
        return None
    found = User.objects.filter(username=username, is_active=True).first()
    if found is None:
        raise _Unknown(field, _("No active user is called %(name)s.") % {"name": username})
    return found


def _tickets(user: User, numbers: list[str]) -> list[Ticket]:
    found = {t.number: t for t in scoping.visible(user, Ticket).filter(number__in=numbers)}
    missing = [n for n in numbers if n not in found]
    if missing:
        raise _Unknown("tickets", _("Unknown: %(values)s") % {"values": ", ".join(missing)})
    return [found[n] for n in numbers]


def _problem_by_number(user: User, number: str | None, field: str = "problem") -> Problem | None:
    if number is None:
        return None
    found = _problems(user).filter(number=number).first()
    if found is None:
        raise _Unknown(field, _("Unknown: %(value)s") % {"value": number})
    return found


def _problem_detail(user: User, pk: int) -> Problem:
    return get_object_or_404(_problems(user), pk=pk)


def _postmortem_detail(user: User, pk: int) -> Postmortem:
    postmortem = get_object_or_404(
        scoping.visible(user, Postmortem).select_related("ticket", "problem", "author"), pk=pk
    )
    postmortem.timeline = review_postmortem.timeline(postmortem, user)  # type: ignore[attr-defined]
    postmortem.action_rows = list(postmortem.actions.select_related("owner", "problem"))  # type: ignore[attr-defined]
    return postmortem


def _failed(done: Any) -> bool:
    return isinstance(done, HttpResponse)


# ---- routes ---------------------------------------------------------------------------------


def review_routes(r: Router) -> None:
    _problem_routes(r)
    _action_routes(r)
    _postmortem_routes(r)


def _problem_routes(r: Router) -> None:
    @r.get("/problems/", response=ProblemPage, operation_id="problems_list", tags=["review"])
    def list_problems(request: HttpRequest, filters: Query[ProblemFilter]) -> Any:
        qs = _problems(actor(request))
        if filters.status:
            qs = qs.filter(status=filters.status)
        if filters.open is not None:
            qs = (
                qs.exclude(status=ProblemStatus.CLOSED)
                if filters.open
                else qs.filter(status=ProblemStatus.CLOSED)
            )
        if filters.q:
            text = filters.q.strip()
            qs = qs.filter(
                Q(number__icontains=text)
                | Q(title__icontains=text)
                | Q(description__icontains=text)
            )
        qs = qs.prefetch_related("tickets", "devices", "systems")
        return {
            "count": qs.count(),
            "items": list(qs[filters.offset : filters.offset + filters.limit]),
        }

    @r.get(
        "/problems/{int:pk}/",
        response=ProblemDetailOut,
        operation_id="problems_read",
        tags=["review"],
    )
    def read_problem(request: HttpRequest, pk: int) -> Any:
        return _problem_detail(actor(request), pk)

    @r.post(
        "/problems/",
        response={201: ProblemDetailOut},
        operation_id="problems_create",
        tags=["review"],
    )
    def create_problem(request: HttpRequest, payload: ProblemIn) -> Any:
        user = actor(request)
        _may_write(user)

        def call() -> Problem:
            return review.open_problem(
                title=payload.title,
                description=payload.description,
                tickets=_tickets(user, payload.tickets),
                devices=_many(Device, "name", payload.devices, "devices"),
                systems=_many(InformationSystem, "code", payload.systems, "systems"),
                owner=_user(payload.owner, "owner"),
                whys=[w.dict() for w in payload.whys],
                root_cause=payload.root_cause,
                workaround=payload.workaround,
                by=user,
            )

        done = _answer(request, call)
        if isinstance(done, HttpResponse):
            return done
        return Status(201, _problem_detail(user, done.pk))

    @r.patch(
        "/problems/{int:pk}/",
        response=ProblemDetailOut,
        operation_id="problems_update",
        tags=["review"],
    )
    def update_problem(request: HttpRequest, pk: int, payload: ProblemPatch) -> Any:
        user = actor(request)
        problem = _problem_detail(user, pk)
        _may_write(user)
        given = payload.dict(exclude_unset=True)

        def call() -> Problem:
            changes = {k: v for k, v in given.items() if k in review.EDITABLE and k != "owner"}
            if "owner" in given:
                changes["owner"] = _user(given["owner"], "owner")
            tickets, devices, systems = (
                given.get("tickets"),
                given.get("devices"),
                given.get("systems"),
            )
            return review.update_problem(
                problem,
                by=user,
                changes=changes,
                tickets=None if tickets is None else _tickets(user, tickets),
                devices=None if devices is None else _many(Device, "name", devices, "devices"),
                systems=None
                if systems is None
                else _many(InformationSystem, "code", systems, "systems"),
            )

        done = _answer(request, call)
        return done if _failed(done) else _problem_detail(user, pk)

    @r.post(
        "/problems/{int:pk}/move/",
        response=ProblemDetailOut,
        operation_id="problems_move",
        tags=["review"],
    )
    def move_problem(request: HttpRequest, pk: int, payload: ProblemMoveIn) -> Any:
        user = actor(request)
        problem = _problem_detail(user, pk)
        _may_write(user)
        done = _answer(
            request, lambda: review.move_problem(problem, payload.to, by=user, note=payload.note)
        )
        return done if _failed(done) else _problem_detail(user, pk)


def _action_routes(r: Router) -> None:
    @r.get("/actions/", response=list[ActionOut], operation_id="actions_list", tags=["review"])
    def list_actions(request: HttpRequest, filters: Query[ActionFilter]) -> Any:
        qs = scoping.visible(actor(request), CorrectiveAction).select_related("owner", "problem")
        exact = {
            "problem__number": filters.problem,
            "postmortem_id": filters.postmortem,
            "status": filters.status,
            "owner__username": filters.owner,
        }
        qs = qs.filter(**{k: v for k, v in exact.items() if v is not None})
        if filters.overdue is not None:
            late = review.overdue(qs)
            qs = late if filters.overdue else qs.exclude(pk__in=late.values("pk"))
        return list(qs)

    @r.get("/actions/{int:pk}/", response=ActionOut, operation_id="actions_read", tags=["review"])
    def read_action(request: HttpRequest, pk: int) -> Any:
        return get_object_or_404(scoping.visible(actor(request), CorrectiveAction), pk=pk)

    @r.post("/actions/", response={201: ActionOut}, operation_id="actions_create", tags=["review"])
    def create_action(request: HttpRequest, payload: ActionIn) -> Any:
        user = actor(request)
        _may_write(user)

        def call() -> CorrectiveAction:
            postmortem = None
            if payload.postmortem is not None:
                postmortem = scoping.visible(user, Postmortem).filter(pk=payload.postmortem).first()
                if postmortem is None:
                    raise _Unknown(
                        "postmortem", _("Unknown: %(value)s") % {"value": payload.postmortem}
                    )
            return review.add_action(
                problem=_problem_by_number(user, payload.problem),
                postmortem=postmortem,
                kind=payload.kind,
                title=payload.title,
                owner=_user(payload.owner, "owner"),
                due_date=payload.due_date,
                by=user,
            )

        done = _answer(request, call)
        return done if _failed(done) else Status(201, done)

    @r.patch(
        "/actions/{int:pk}/", response=ActionOut, operation_id="actions_update", tags=["review"]
    )
    def update_action(request: HttpRequest, pk: int, payload: ActionPatch) -> Any:
        user = actor(request)
        action = get_object_or_404(scoping.visible(user, CorrectiveAction), pk=pk)
        _may_write(user)

        def call() -> CorrectiveAction:
            return review.update_action(
                action,
                by=user,
                status=payload.status,
                evidence=payload.evidence,
                owner=_user(payload.owner, "owner"),
                due_date=payload.due_date,
            )

        return _answer(request, call)


def _postmortem_routes(r: Router) -> None:
    @r.get(
        "/postmortems/",
        response=list[PostmortemOut],
        operation_id="postmortems_list",
        tags=["review"],
    )
    def list_postmortems(request: HttpRequest) -> Any:
        return list(
            scoping.visible(actor(request), Postmortem).select_related(
                "ticket", "problem", "author"
            )
        )

    @r.get(
        "/postmortems/{int:pk}/",
        response=PostmortemDetailOut,
        operation_id="postmortems_read",
        tags=["review"],
    )
    def read_postmortem(request: HttpRequest, pk: int) -> Any:
        return _postmortem_detail(actor(request), pk)

    @r.post(
        "/postmortems/",
        response={201: PostmortemDetailOut},
        operation_id="postmortems_create",
        tags=["review"],
    )
    def create_postmortem(request: HttpRequest, payload: PostmortemIn) -> Any:
        user = actor(request)
        _may_write(user)

        def call() -> Postmortem:
            tickets = _tickets(user, [payload.ticket]) if payload.ticket else [None]
            return review_postmortem.open_postmortem(
                title=payload.title,
                ticket=tickets[0],
                problem=_problem_by_number(user, payload.problem),
                impact_summary=payload.impact_summary,
                lessons=payload.lessons,
                by=user,
                source=ChangeSource.API,
            )

        done = _answer(request, call)
        if isinstance(done, HttpResponse):
            return done
        return Status(201, _postmortem_detail(user, done.pk))

    @r.patch(
        "/postmortems/{int:pk}/",
        response=PostmortemDetailOut,
        operation_id="postmortems_update",
        tags=["review"],
    )
    def update_postmortem(request: HttpRequest, pk: int, payload: PostmortemPatch) -> Any:
        user = actor(request)
        postmortem = get_object_or_404(scoping.visible(user, Postmortem), pk=pk)
        _may_write(user)
        changes = payload.dict(exclude_unset=True)
        done = _answer(
            request,
            lambda: review_postmortem.update_postmortem(
                postmortem, by=user, changes=changes, source=ChangeSource.API
            ),
        )
        return done if _failed(done) else _postmortem_detail(user, pk)

    @r.post(
        "/postmortems/{int:pk}/entries/",
        response={201: TimelineOut},
        operation_id="postmortems_add_entry",
        tags=["review"],
    )
    def add_entry(request: HttpRequest, pk: int, payload: EntryIn) -> Any:
        user = actor(request)
        postmortem = get_object_or_404(scoping.visible(user, Postmortem), pk=pk)
        _may_write(user)
        done = _answer(
            request,
            lambda: review_postmortem.add_entry(
                postmortem, at=payload.at, what=payload.what, by=user, source=ChangeSource.API
            ),
        )
        if isinstance(done, HttpResponse):
            return done
        return Status(
            201,
            {
                "at": done.at,
                "source": "note",
                "reference": "",
                "what": _("Note"),
                "detail": done.what,
                "actor": user.get_username(),
            },
        )
