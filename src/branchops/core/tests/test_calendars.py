"""Business calendars without a database: examples a user recognises, then properties.

The snapshots are built from the same library data the migration seeds (2024-2026).
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from branchops.core import calendars as cal
from branchops.core.calendars import (
    add_business_seconds,
    business_seconds,
    day_info,
    in_trading_session,
    is_open_at,
    is_trading_day,
    is_working_day,
    next_session_start,
    open_periods,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
KNOWN = {"known_from": dt.date(2024, 1, 1), "known_until": dt.date(2026, 12, 31)}


def _days(kind: str) -> list[cal.DayEntry]:
    return [e for year in cal.SHIPPED_YEARS for e in cal.library_days(kind, year)]


WORKDAYS = cal.build(code="cn-workdays", kind="workdays", days=_days("workdays"), **KNOWN)
TRADING = cal.build(
    code="xshg-trading",
    kind="trading",
    opens_at=dt.time(9, 30),
    closes_at=dt.time(15),
    break_starts_at=dt.time(11, 30),
    break_ends_at=dt.time(13),
    days=_days("trading"),
    **KNOWN,
)
ALWAYS = cal.build(code="24x7", kind="24x7")


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


# --- Examples ----------------------------------------------------------------------------


def test_friday_afternoon_ticket_with_two_hours_is_due_monday_morning() -> None:
    opened = at(2026, 11, 20, 16, 30)  # a Friday
    due = add_business_seconds(WORKDAYS, opened, 2 * 3600)
    assert due == at(2026, 11, 23, 10, 30)
    assert due.tzinfo == SHANGHAI
    assert business_seconds(WORKDAYS, opened, due) == 7200


def test_the_input_zone_does_not_matter() -> None:
    opened = dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.UTC)  # 16:30 in Shanghai
    assert add_business_seconds(WORKDAYS, opened, 7200) == at(2026, 11, 23, 10, 30)


def test_a_deadline_reached_at_closing_time_is_that_closing_time() -> None:
    assert add_business_seconds(WORKDAYS, at(2026, 11, 20, 16, 30), 1800) == at(2026, 11, 20, 17)


def test_national_day_week_2026_and_its_make_up_days() -> None:
    for day in range(1, 8):
        info = day_info(WORKDAYS, dt.date(2026, 10, day))
        assert not info.is_open
        assert (info.kind, info.name, info.known) == ("holiday", "国庆节", True)
    for sunday_or_saturday in (dt.date(2026, 9, 20), dt.date(2026, 10, 10)):
        info = day_info(WORKDAYS, sunday_or_saturday)
        assert info.is_open
        assert (info.kind, info.name) == ("make_up_workday", "国庆节")
    # Opened the afternoon before the holiday: the clock stops for a week.
    assert add_business_seconds(WORKDAYS, at(2026, 9, 30, 16), 7200) == at(2026, 10, 8, 10)
    # Opened Friday 9 October: due on the make-up Saturday.
    assert add_business_seconds(WORKDAYS, at(2026, 10, 9, 16, 30), 7200) == at(2026, 10, 10, 10, 30)
    # 28-30 September, 8-9 October and the make-up Saturday: six working days.
    assert business_seconds(WORKDAYS, at(2026, 9, 28), at(2026, 10, 12)) == 6 * 8 * 3600


def test_spring_festival_2026() -> None:
    assert [d for d in range(13, 25) if not is_working_day(WORKDAYS, dt.date(2026, 2, d))] == [
        15, 16, 17, 18, 19, 20, 21, 22, 23,
    ]  # fmt: skip
    assert is_working_day(WORKDAYS, dt.date(2026, 2, 14))  # make-up Saturday
    assert is_working_day(WORKDAYS, dt.date(2026, 2, 28))  # make-up Saturday
    assert add_business_seconds(WORKDAYS, at(2026, 2, 14, 16), 7200) == at(2026, 2, 24, 10)
    assert day_info(WORKDAYS, dt.date(2026, 2, 17)).name == "春节"


def test_trading_session_boundaries() -> None:
    day = (2026, 11, 20)
    assert not in_trading_session(at(*day, 9, 29, 59), TRADING)
    assert in_trading_session(at(*day, 9, 30), TRADING)
    assert in_trading_session(at(*day, 11, 29, 59, 999999), TRADING)
    assert not in_trading_session(at(*day, 11, 30), TRADING)  # lunch break
    assert not in_trading_session(at(*day, 12, 59, 59), TRADING)
    assert in_trading_session(at(*day, 13), TRADING)
    assert not in_trading_session(at(*day, 15), TRADING)  # close
    assert next_session_start(at(*day, 11, 30), TRADING) == at(*day, 13)
    assert next_session_start(at(*day, 13), TRADING) == at(*day, 13)
    assert next_session_start(at(*day, 15), TRADING) == at(2026, 11, 23, 9, 30)  # Monday
    assert business_seconds(TRADING, at(*day), at(2026, 11, 21)) == 4 * 3600
    assert list(open_periods(TRADING, at(*day, 11), at(*day, 14))) == [
        (at(*day, 11), at(*day, 11, 30)),
        (at(*day, 13), at(*day, 14)),
    ]


def test_exchanges_close_on_make_up_saturdays_and_holidays() -> None:
    assert not is_trading_day(dt.date(2026, 10, 10), TRADING)  # a make-up workday
    assert not is_trading_day(dt.date(2026, 10, 5), TRADING)
    assert day_info(TRADING, dt.date(2026, 10, 5)).kind == "exchange_closed"
    assert next_session_start(at(2026, 9, 30, 15), TRADING) == at(2026, 10, 8, 9, 30)
    assert is_trading_day(dt.date(2026, 10, 8), TRADING)


def test_a_date_beyond_the_known_range_follows_the_weekday_rule_and_is_flagged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cal._flagged.clear()
    national_day_2027 = dt.date(2027, 10, 1)  # a Friday; its schedule is not known yet
    info = day_info(WORKDAYS, national_day_2027)
    assert (info.is_open, info.known) == (True, False)
    assert not cal.is_known(WORKDAYS, national_day_2027)
    assert cal.is_known(WORKDAYS, dt.date(2026, 12, 31))
    with caplog.at_level(logging.WARNING, logger="branchops.core.calendars"):
        due = add_business_seconds(WORKDAYS, at(2027, 10, 1, 16, 30), 7200)
        add_business_seconds(WORKDAYS, at(2027, 10, 8, 16, 30), 7200)
    assert due == at(2027, 10, 4, 10, 30)
    flagged = [r for r in caplog.records if "outside the known range" in r.getMessage()]
    assert len(flagged) == 1  # once per calendar and year
    assert "2027-10-01" in flagged[0].getMessage()


def test_coverage_warns_sixty_days_ahead() -> None:
    assert cal.coverage(WORKDAYS) == (dt.date(2024, 1, 1), dt.date(2026, 12, 31))
    assert cal.coverage(ALWAYS) == (dt.date.min, dt.date.max)
    known_nothing = cal.build(code="empty", kind="workdays")
    both = [WORKDAYS, TRADING, ALWAYS, known_nothing]
    assert cal.coverage_warnings(dt.date(2026, 10, 1), calendars=both)[0].code == "empty"
    assert len(cal.coverage_warnings(dt.date(2026, 10, 1), calendars=both)) == 1
    warnings = cal.coverage_warnings(dt.date(2026, 11, 22), calendars=[WORKDAYS, ALWAYS])
    assert [(w.code, w.days_left) for w in warnings] == [("cn-workdays", 39)]
    assert "2026-12-31" in warnings[0].message
    ended = cal.coverage_warnings(dt.date(2027, 1, 5), calendars=[WORKDAYS])
    assert ended[0].days_left == -5


def test_around_the_clock() -> None:
    start = at(2026, 10, 1, 23, 30)
    assert add_business_seconds(ALWAYS, start, 3600) == at(2026, 10, 2, 0, 30)
    assert business_seconds(ALWAYS, start, at(2026, 10, 3)) == 24.5 * 3600
    assert is_working_day(ALWAYS, dt.date(2026, 10, 1))
    assert list(open_periods(ALWAYS, start, at(2026, 10, 2))) == [(start, at(2026, 10, 2))]


def test_naive_datetimes_and_negative_seconds_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        business_seconds(WORKDAYS, dt.datetime(2026, 1, 5, 9), at(2026, 1, 5, 10))
    with pytest.raises(ValueError, match="negative"):
        add_business_seconds(WORKDAYS, at(2026, 1, 5, 9), -1)


def test_a_library_year_it_does_not_know_is_a_clear_error() -> None:
    with translation.override("en"), pytest.raises(cal.CalendarError, match="does not know 2027"):
        cal.library_days("workdays", 2027)
    with pytest.raises(cal.CalendarError, match="2027"):
        cal.library_days("trading", 2027)


def test_a_calendar_needs_valid_hours() -> None:
    with pytest.raises(cal.CalendarError):
        cal.build(code="bad", kind="workdays", opens_at=dt.time(17), closes_at=dt.time(9))


# --- Properties --------------------------------------------------------------------------

# From mid-2023 to mid-2027: before, inside and after the known range.
_LOW = int((at(2023, 6, 1) - cal._UTC_EPOCH) / dt.timedelta(microseconds=1))
_HIGH = int((at(2027, 6, 1) - cal._UTC_EPOCH) / dt.timedelta(microseconds=1))
_ZONES = [SHANGHAI, dt.UTC, ZoneInfo("America/New_York")]

calendars = st.sampled_from([WORKDAYS, TRADING, ALWAYS])
moments = st.builds(
    lambda us, zone: (cal._UTC_EPOCH + dt.timedelta(microseconds=us)).astimezone(zone),
    st.integers(_LOW, _HIGH),
    st.sampled_from(_ZONES),
)
# Whole microseconds, up to a hundred working days' worth.
durations = st.integers(0, 100 * 8 * 3600 * 10**6).map(lambda us: us / 10**6)
deterministic = settings(derandomize=True, max_examples=300, deadline=None, database=None)


def _us(seconds: float) -> int:
    return round(seconds * 10**6)


@deterministic
@given(calendars, moments, durations)
def test_business_seconds_inverts_add_business_seconds(
    c: cal.Calendar, start: dt.datetime, seconds: float
) -> None:
    due = add_business_seconds(c, start, seconds)
    assert due >= start
    assert business_seconds(c, start, due) == seconds
    if seconds:  # the clock was running just before the deadline
        assert is_open_at(c, due - dt.timedelta(microseconds=1))


@deterministic
@given(calendars, moments, durations, durations)
def test_deadlines_are_monotonic(
    c: cal.Calendar, start: dt.datetime, first: float, second: float
) -> None:
    low, high = sorted((first, second))
    assert add_business_seconds(c, start, low) <= add_business_seconds(c, start, high)
    later = start + dt.timedelta(seconds=high)
    assert add_business_seconds(c, start, low) <= add_business_seconds(c, later, low)
    assert 0 <= business_seconds(c, start, later) <= high


@deterministic
@given(calendars, moments, moments, moments)
def test_business_seconds_add_up_over_a_split_point(
    c: cal.Calendar, a: dt.datetime, b: dt.datetime, d: dt.datetime
) -> None:
    a, b, d = sorted((a, b, d))
    whole = _us(business_seconds(c, a, d))
    assert whole == _us(business_seconds(c, a, b)) + _us(business_seconds(c, b, d))
    assert _us(business_seconds(c, d, a)) == -whole


@deterministic
@given(calendars, moments, st.integers(0, 40 * 86_400 * 10**6))
def test_open_periods_agree_with_business_seconds(
    c: cal.Calendar, start: dt.datetime, span: int
) -> None:
    end = start + dt.timedelta(microseconds=span)
    periods = list(open_periods(c, start, end))
    total = sum((hi - lo) // dt.timedelta(microseconds=1) for lo, hi in periods)
    assert total == _us(business_seconds(c, start, end))
    previous = start
    for lo, hi in periods:
        assert previous <= lo < hi <= end
        assert is_open_at(c, lo)
        assert is_open_at(c, hi - dt.timedelta(microseconds=1))
        previous = hi
