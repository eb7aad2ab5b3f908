"""Calendars as data: the seeded days, snapshots that follow changes, refresh and import."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.utils import translation

from branchops.core import calendars
from branchops.core.choices import AuditAction, ChangeSource
from branchops.core.errors import BulkValidationError
from branchops.core.models import AuditEvent, BusinessCalendar, CalendarDay

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    # The refusals below are read in English; the product's default language is zh-hans.
    with translation.override("en"):
        yield


SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _seeded() -> Iterator[None]:
    # A transactional test elsewhere may have flushed the days; the shared fixture only
    # restores the calendars themselves.
    if not CalendarDay.objects.exists():
        calendars.seed_shipped(apps, None)
    calendars.forget_snapshots()
    yield
    calendars.forget_snapshots()


def test_the_migration_seeds_the_shipped_calendars() -> None:
    workdays = BusinessCalendar.objects.get(code="cn-workdays")
    trading = BusinessCalendar.objects.get(code="xshg-trading")
    for row in (workdays, trading):
        assert (row.known_from, row.known_until) == (dt.date(2024, 1, 1), dt.date(2026, 12, 31))
    assert (trading.opens_at, trading.break_starts_at) == (dt.time(9, 30), dt.time(11, 30))
    assert (trading.break_ends_at, trading.closes_at) == (dt.time(13), dt.time(15))
    assert (workdays.opens_at, workdays.closes_at) == (dt.time(9), dt.time(17))
    national_day = workdays.days.get(date=dt.date(2026, 10, 1))
    assert (national_day.kind, national_day.name, str(national_day)) == (
        "holiday",
        "国庆节",
        "2026-10-01 国庆节",
    )
    assert workdays.days.filter(kind="make_up_workday", date__year=2026).count() == 6
    assert not BusinessCalendar.objects.get(code="24x7").days.exists()


def test_load_keeps_a_snapshot_until_the_days_change(
    django_assert_num_queries: pytest.FixtureRequest,
) -> None:
    first = calendars.load("cn-workdays")
    with django_assert_num_queries(1):  # type: ignore[operator]
        assert calendars.load("cn-workdays") is first
    row = BusinessCalendar.objects.get(code="cn-workdays")
    with django_assert_num_queries(0):  # type: ignore[operator]
        assert calendars.load(row) is first
    # A branch-wide closure for a typhoon, entered by hand.
    typhoon = dt.date(2026, 9, 15)
    assert calendars.is_working_day(first, typhoon)
    CalendarDay.objects.create(
        calendar=row, date=typhoon, kind="holiday", name="台风停工", source=ChangeSource.UI
    )
    second = calendars.load("cn-workdays")
    assert second is not first
    assert not calendars.is_working_day(second, typhoon)
    CalendarDay.objects.get(calendar=row, date=typhoon).delete()
    assert calendars.is_working_day(calendars.load("cn-workdays"), typhoon)


def test_a_calendar_day_is_unique_per_date() -> None:
    row = BusinessCalendar.objects.get(code="cn-workdays")
    with pytest.raises(IntegrityError), transaction.atomic():
        CalendarDay.objects.create(calendar=row, date=dt.date(2026, 10, 1), kind="holiday")


def test_the_break_must_lie_inside_the_opening_hours() -> None:
    row = BusinessCalendar.objects.get(code="xshg-trading")
    row.break_starts_at = dt.time(8)
    with pytest.raises(IntegrityError), transaction.atomic():
        row.save()


def test_refresh_keeps_hand_edits_and_writes_an_audit_row() -> None:
    row = BusinessCalendar.objects.get(code="cn-workdays")
    CalendarDay.objects.filter(calendar=row, date=dt.date(2026, 10, 1)).delete()
    CalendarDay.objects.filter(calendar=row, date=dt.date(2026, 10, 2)).update(
        name="国庆节 (手工)", source=ChangeSource.UI
    )
    written = calendars.refresh_from_libraries(row, [2026])
    assert written == 38  # 39 days of 2026, less the one edited by hand
    assert row.days.get(date=dt.date(2026, 10, 1)).name == "国庆节"
    assert row.days.get(date=dt.date(2026, 10, 2)).name == "国庆节 (手工)"
    event = AuditEvent.objects.filter(object_id=str(row.pk)).first()
    assert event is not None
    assert (event.action, event.source) == (AuditAction.UPDATE, ChangeSource.CLI)


def test_refresh_for_a_year_the_libraries_do_not_know_writes_nothing() -> None:
    before = CalendarDay.objects.count()
    with pytest.raises(CommandError, match="does not know 2027") as excinfo:
        call_command("calendars_refresh", "--years", "2026", "2027")
    assert "nothing was written" in str(excinfo.value)
    assert CalendarDay.objects.count() == before


def test_import_a_year_the_libraries_do_not_know(tmp_path: Path) -> None:
    path = tmp_path / "2027.csv"
    path.write_text(
        "date,kind,name\n2027-01-01,holiday,元旦\n2027-02-06,make_up_workday,春节\n"
        "2027-02-08,holiday,春节\n",
        encoding="utf-8",
    )
    call_command("calendars_import", "cn-workdays", str(path), "--year", "2027")
    row = BusinessCalendar.objects.get(code="cn-workdays")
    assert row.known_until == dt.date(2027, 12, 31)
    assert row.days.filter(date__year=2027, source=ChangeSource.IMPORT).count() == 3
    cal = calendars.load(row)
    assert calendars.is_known(cal, dt.date(2027, 10, 1))
    assert calendars.is_working_day(cal, dt.date(2027, 2, 6))  # a Saturday
    friday = dt.datetime(2027, 2, 5, 16, 30, tzinfo=SHANGHAI)
    assert calendars.add_business_seconds(cal, friday, 7200) == friday.replace(day=6, hour=10)
    assert [w.code for w in calendars.coverage_warnings(dt.date(2026, 11, 22))] == ["xshg-trading"]
    assert AuditEvent.objects.filter(action=AuditAction.IMPORT, object_id=str(row.pk)).exists()


def test_an_import_with_bad_rows_names_them_all_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "date,kind,name\n"
        "2027-01-01,holiday,元旦\n"
        "2027-13-01,holiday,x\n"
        "2026-10-01,holiday,国庆节\n"
        "2027-02-10,exchange_closed,春节\n"
        "2027-01-01,holiday,again\n",
        encoding="utf-8",
    )
    before = CalendarDay.objects.count()
    with pytest.raises(CommandError) as excinfo:
        call_command("calendars_import", "cn-workdays", str(path), "--year", "2027")
    message = str(excinfo.value)
    for expected in ("line 3: date", "line 4: date", "line 5: kind", "line 6: date"):
        assert expected in message
    assert "line 2:" not in message
    assert CalendarDay.objects.count() == before
    assert BusinessCalendar.objects.get(code="cn-workdays").known_until == dt.date(2026, 12, 31)


def test_read_days_csv_reports_by_line() -> None:
    with pytest.raises(BulkValidationError) as excinfo:
        calendars.read_days_csv("2027-01-01\n", calendar_kind="workdays", year=2027)
    assert excinfo.value.errors == {0: {"row": ["Expected date,kind,name."]}}


def test_a_year_that_would_leave_a_gap_is_refused() -> None:
    row = BusinessCalendar.objects.get(code="cn-workdays")
    entry = calendars.DayEntry(dt.date(2029, 1, 1), "holiday", "元旦")
    with pytest.raises(calendars.CalendarError, match="gap"):
        calendars.replace_year(row, 2029, [entry])
    assert not row.days.filter(date__year=2029).exists()


def test_coverage_warnings_from_the_database() -> None:
    warnings = calendars.coverage_warnings(dt.date(2026, 11, 22))
    assert [(w.code, w.days_left) for w in warnings] == [
        ("cn-workdays", 39),
        ("xshg-trading", 39),
    ]
    assert calendars.coverage_warnings(dt.date(2026, 10, 1)) == []
    with pytest.raises(CommandError):
        call_command("calendars_coverage", "--horizon", "3650")


def test_trading_helpers_default_to_the_shipped_exchange_calendar() -> None:
    assert calendars.is_trading_day(dt.date(2026, 11, 20))
    assert not calendars.is_trading_day(dt.date(2026, 10, 10))
    noon = dt.datetime(2026, 11, 20, 12, tzinfo=SHANGHAI)
    assert not calendars.in_trading_session(noon)
    assert calendars.next_session_start(noon) == noon.replace(hour=13)
