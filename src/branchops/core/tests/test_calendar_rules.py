"""Creating and changing a business calendar (service, API, form): overlapping rules are
refused with a reason that names both, and nothing is half-saved.

This module is also the URLconf of its API tests (the calendars router at ``/api/v1/``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from branchops.core import calendar_rules, calendars
from branchops.core.calendar_rules import DayRule
from branchops.core.choices import ChangeSource, Role
from branchops.core.forms_calendars import CalendarForm
from branchops.core.models import AuditEvent, BusinessCalendar, CalendarDay
from branchops.core.testing import ApiClient, make_user

pytestmark = pytest.mark.django_db

D = dt.date
SPRING = DayRule(D(2027, 2, 6), D(2027, 2, 13), "holiday", "春节")
MAKE_UP = DayRule(D(2027, 2, 7), D(2027, 2, 7), "make_up_workday", "春节调休")
VALUES = {
    "code": "sz-branch-hours",
    "name": "深圳营业部工作日",
    "kind": "workdays",
    "opens_at": dt.time(8, 30),
    "closes_at": dt.time(17, 30),
    "known_from": D(2027, 1, 1),
    "known_until": D(2027, 12, 31),
}


@pytest.fixture(autouse=True)
def _english(settings: Any) -> Iterator[None]:
    """Refusals are read in English, in the code and through the API (whose requests take
    the product's language)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def save(values: dict[str, Any] | None = None, rules: list[DayRule] | None = None) -> Any:
    return calendar_rules.save_calendar(
        values or VALUES, rules=rules or [], actor=None, source=ChangeSource.API
    )


def refusal(exc: pytest.ExceptionInfo[ValidationError]) -> tuple[str, str]:
    (field, messages), *_rest = exc.value.message_dict.items()
    return field, messages[0]


# --- the service -------------------------------------------------------------------------


def test_a_calendar_is_written_with_its_days_and_an_audit_row() -> None:
    row = save(rules=[SPRING, DayRule(D(2027, 2, 20), D(2027, 2, 20), "make_up_workday")])
    assert CalendarDay.objects.filter(calendar=row).count() == 9
    cal = calendars.load(row)
    assert not calendars.is_working_day(cal, D(2027, 2, 8))
    assert calendars.is_working_day(cal, D(2027, 2, 20))  # a Saturday made a workday
    assert calendar_rules.rules_of(row) == [
        SPRING,
        DayRule(D(2027, 2, 20), D(2027, 2, 20), "make_up_workday"),
    ]
    assert AuditEvent.objects.filter(object_id=str(row.pk), action="create").exists()


def test_a_make_up_workday_inside_a_holiday_is_refused_naming_both_rules() -> None:
    with pytest.raises(ValidationError) as exc:
        save(rules=[SPRING, MAKE_UP])
    assert refusal(exc) == (
        "rules",
        "Rules 1 (2027-02-06..2027-02-13 holiday 春节) and 2 (2027-02-07 make_up_workday "
        "春节调休) overlap on 2027-02-07.",
    )
    assert not BusinessCalendar.objects.filter(code=VALUES["code"]).exists()


def test_overlap_is_found_whatever_order_the_rules_come_in() -> None:
    later = DayRule(D(2027, 10, 1), D(2027, 10, 7), "holiday", "国庆节")
    overlapping = DayRule(D(2027, 9, 28), D(2027, 10, 1), "holiday", "中秋")
    with pytest.raises(ValidationError, match="overlap on 2027-10-01"):
        save(rules=[later, SPRING, overlapping])
    save(rules=[later, SPRING, DayRule(D(2027, 9, 28), D(2027, 9, 30), "holiday", "中秋")])


def test_a_break_overlapping_the_opening_hours_is_refused() -> None:
    values = {**VALUES, "break_starts_at": dt.time(8), "break_ends_at": dt.time(9)}
    with pytest.raises(ValidationError) as exc:
        save(values)
    assert refusal(exc) == (
        "break_starts_at",
        "The break 08:00-09:00 overlaps the opening or closing time (08:30-17:30); it must "
        "lie inside the opening hours.",
    )
    values = {**VALUES, "break_starts_at": dt.time(12)}
    with pytest.raises(ValidationError, match="needs both a start and an end"):
        save(values)


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        (DayRule(D(2027, 3, 2), D(2027, 3, 1), "holiday"), "ends before it starts"),
        (DayRule(D(2027, 3, 1), D(2027, 3, 1), "exchange_closed"), "takes only holiday"),
        (DayRule(D(2028, 1, 1), D(2028, 1, 1), "holiday"), "outside the known range"),
    ],
)
def test_a_rule_that_does_not_fit_the_calendar_is_refused(rule: DayRule, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        save(rules=[rule])
    assert not BusinessCalendar.objects.filter(code=VALUES["code"]).exists()


def test_a_refused_change_leaves_the_calendar_and_its_days_as_they_were() -> None:
    row = save(rules=[SPRING])
    revision = BusinessCalendar.objects.get(pk=row.pk).revision
    with pytest.raises(ValidationError):
        calendar_rules.save_calendar(
            {"closes_at": dt.time(17)},
            rules=[SPRING, MAKE_UP],
            actor=None,
            source=ChangeSource.UI,
            calendar=row,
        )
    fresh = BusinessCalendar.objects.get(pk=row.pk)
    assert (fresh.closes_at, fresh.revision) == (dt.time(17, 30), revision)
    assert CalendarDay.objects.filter(calendar=row).count() == 8


def test_changing_the_kind_checks_the_stored_days_too() -> None:
    row = save(rules=[MAKE_UP])
    with pytest.raises(ValidationError, match="this calendar takes only"):
        calendar_rules.save_calendar(
            {"kind": "trading"}, rules=None, actor=None, source=ChangeSource.UI, calendar=row
        )
    assert BusinessCalendar.objects.get(pk=row.pk).kind == "workdays"


# --- the API -----------------------------------------------------------------------------


def body(**kw: Any) -> dict[str, Any]:
    return {
        "code": "sz-branch-hours",
        "name": "深圳营业部工作日",
        "kind": "workdays",
        "opens_at": "08:30",
        "closes_at": "17:30",
        "known_from": "2027-01-01",
        "known_until": "2027-12-31",
        **kw,
    }


def test_the_api_creates_a_calendar_with_rules_and_refuses_overlaps_with_400() -> None:
    admin = ApiClient(make_user(Role.ADMIN))
    spring = {"first": "2027-02-06", "last": "2027-02-13", "kind": "holiday", "name": "春节"}
    make_up = {"first": "2027-02-07", "kind": "make_up_workday"}
    refused = admin.post("/api/v1/calendars/", body(rules=[spring, make_up]))
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert "overlap on 2027-02-07" in error["fields"]["rules"][0]
    assert not BusinessCalendar.objects.filter(code="sz-branch-hours").exists()
    created = admin.post("/api/v1/calendars/", body(rules=[spring]))
    assert created.status_code == 201, created.content
    assert created.json()["rules"] == [{**spring}]
    patched = admin.patch(
        "/api/v1/calendars/sz-branch-hours/", {"break_starts_at": "12:00", "break_ends_at": "18:00"}
    )
    assert patched.status_code == 400
    assert list(patched.json()["error"]["fields"]) == ["break_starts_at"]


def test_only_who_may_change_reference_data_writes_calendars() -> None:
    noc = ApiClient(make_user(Role.NOC_OPERATOR))
    assert noc.get("/api/v1/calendars/").status_code == 200
    assert noc.post("/api/v1/calendars/", body()).status_code == 403


# --- the form ----------------------------------------------------------------------------


def form_data(**kw: Any) -> dict[str, Any]:
    return {
        **body(),
        "rules": "2027-02-06..2027-02-13,holiday,春节\n2027-02-07,make_up_workday",
        **kw,
    }


def test_the_form_shows_an_overlap_on_the_rules_field() -> None:
    form = CalendarForm(form_data())
    assert not form.is_valid()
    assert "overlap on 2027-02-07" in form.errors["rules"][0]


def test_the_form_shows_a_bad_line_and_saves_good_rules() -> None:
    form = CalendarForm(form_data(rules="2027-02-30,holiday"))
    assert not form.is_valid()
    assert form.errors["rules"] == ["Line 1: '2027-02-30' is not a date or a range."]
    form = CalendarForm(form_data(rules="2027-02-06..2027-02-13,holiday,春节"))
    assert form.is_valid(), form.errors
    row = form.save(actor=None)
    edit = CalendarForm(calendar=row)
    assert edit.initial["rules"] == "2027-02-06..2027-02-13,holiday,春节"
