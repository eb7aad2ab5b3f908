"""The business calendars REST resource: list, read, create and change a calendar with its
opening hours and day rules (``core.calendar_rules``). Reference data: everyone may read,
"add"/"change reference data" may write. Overlapping rules are ``400`` with the field
``rules`` (or the hours' field) and the reason; nothing is written.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status

from branchops.core import calendar_rules
from branchops.core.api import actor
from branchops.core.choices import CalendarKind, ChangeSource
from branchops.core.models import BusinessCalendar
from branchops.core.permissions import Action, Area, require


class DayRuleIO(Schema):
    first: dt.date
    last: dt.date | None = Field(None, description="Default: the same day as first.")
    kind: str = Field(..., description="holiday, make_up_workday, exchange_closed, trading_day.")
    name: str = Field("", max_length=100)


class CalendarOut(Schema):
    code: str
    name: str
    name_en: str
    kind: CalendarKind
    description: str
    opens_at: dt.time
    closes_at: dt.time
    break_starts_at: dt.time | None
    break_ends_at: dt.time | None
    known_from: dt.date | None
    known_until: dt.date | None
    rules: list[DayRuleIO]

    @staticmethod
    def resolve_rules(obj: BusinessCalendar) -> list[calendar_rules.DayRule]:
        return calendar_rules.rules_of(obj)


class CalendarIn(Schema):
    code: str = Field(..., min_length=1, max_length=50, pattern=r"^[-a-zA-Z0-9_]+$")
    name: str = Field(..., min_length=1, max_length=100)
    name_en: str = Field("", max_length=100)
    kind: CalendarKind
    description: str = ""
    opens_at: dt.time = dt.time(9)
    closes_at: dt.time = dt.time(17)
    break_starts_at: dt.time | None = None
    break_ends_at: dt.time | None = None
    known_from: dt.date | None = None
    known_until: dt.date | None = None
    rules: list[DayRuleIO] = Field(default_factory=list)


class CalendarPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    name_en: str | None = Field(None, max_length=100)
    kind: CalendarKind | None = None
    description: str | None = None
    opens_at: dt.time | None = None
    closes_at: dt.time | None = None
    break_starts_at: dt.time | None = None
    break_ends_at: dt.time | None = None
    known_from: dt.date | None = None
    known_until: dt.date | None = None
    rules: list[DayRuleIO] | None = Field(None, description="Replaces every day rule.")


def _rules(items: list[DayRuleIO] | None) -> list[calendar_rules.DayRule] | None:
    if items is None:
        return None
    return [
        calendar_rules.DayRule(i.first, i.last or i.first, i.kind, i.name.strip()) for i in items
    ]


def router() -> Router:
    r = Router(tags=["calendars"])

    @r.get("/calendars/", response=list[CalendarOut], operation_id="calendars_list")
    def list_calendars(request: HttpRequest) -> Any:
        require(actor(request), Action.VIEW, Area.REFERENCE)
        return list(BusinessCalendar.objects.all())

    @r.get("/calendars/{code}/", response=CalendarOut, operation_id="calendars_read")
    def read_calendar(request: HttpRequest, code: str) -> Any:
        require(actor(request), Action.VIEW, Area.REFERENCE)
        return get_object_or_404(BusinessCalendar, code=code)

    @r.post("/calendars/", response={201: CalendarOut}, operation_id="calendars_create")
    def create_calendar(request: HttpRequest, payload: CalendarIn) -> Any:
        user = actor(request)
        require(user, Action.ADD, Area.REFERENCE)
        values = payload.dict(exclude={"rules"})
        row = calendar_rules.save_calendar(
            values, rules=_rules(payload.rules), actor=user, source=ChangeSource.API
        )
        return Status(201, row)

    @r.patch("/calendars/{code}/", response=CalendarOut, operation_id="calendars_update")
    def update_calendar(request: HttpRequest, code: str, payload: CalendarPatch) -> Any:
        user = actor(request)
        row = get_object_or_404(BusinessCalendar, code=code)
        require(user, Action.CHANGE, Area.REFERENCE)
        given = payload.dict(exclude_unset=True)
        rules = payload.rules if "rules" in given else None
        given.pop("rules", None)
        return calendar_rules.save_calendar(
            given, rules=_rules(rules), actor=user, source=ChangeSource.API, calendar=row
        )

    return r
