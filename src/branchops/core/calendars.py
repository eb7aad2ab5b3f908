"""Business calendars: when a calendar's clock runs, and how long it ran.

Alert rules and routes ask whether a moment is inside working hours or a trading session;
the service desk's SLA clocks ask how many open seconds lie between two moments and when a
ticket falls due. Both work on a :class:`Calendar`, an immutable snapshot of one
``BusinessCalendar`` and its ``CalendarDay`` rows (:func:`load`), so the hot path never
touches the database.

Rules (decision 0012):

* Every calendar lives in ``settings.TIME_ZONE`` (Asia/Shanghai), whatever the zone of the
  datetimes passed in. Datetimes must be aware; results are aware, in the calendar's zone.
* 7x24: the clock always runs. Working days (5x8) and trading: Monday to Friday inside the
  daily window (``opens_at``-``closes_at`` less the break), unless a ``CalendarDay`` row says
  otherwise: a holiday or exchange closure closes the day, a make-up workday (workdays) or a
  trading day (trading) opens it.
* Outside the calendar's known range the weekday rule applies and the answer is *flagged*:
  :func:`day_info` and :func:`is_known` say so, a warning is logged once per calendar and
  year, and :func:`coverage_warnings` warns 60 days before the range ends.
* Precision is one microsecond, as for ``datetime``: :func:`business_seconds` and
  :func:`add_business_seconds` are exact inverses for any number of whole microseconds.

Speed: each calendar keeps the open time before every day of its known range as one sorted
table, so a position is a ``divmod`` and a lookup, and a deadline is a ``bisect``. Outside
the table the weekday rule repeats every week and is computed in closed form.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import io
import itertools
import logging
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from branchops.core import audit
from branchops.core.choices import AuditAction, CalendarKind, ChangeSource
from branchops.core.errors import BulkValidationError
from branchops.core.models import BusinessCalendar, CalendarDay, CalendarDayKind, User

logger = logging.getLogger(__name__)

TRADING_CALENDAR = "xshg-trading"
"""The shipped calendar that :func:`is_trading_day` and friends use when given none."""

WORKDAY_CALENDAR = "cn-workdays"
SHIPPED_YEARS = (2024, 2025, 2026)
"""The years the data migration seeds; ``calendars_refresh`` adds more."""

_US = 1_000_000
_DAY_US = 86_400 * _US
_ONE_US = dt.timedelta(microseconds=1)
_UTC_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_FALLBACK_EPOCH = dt.date(2000, 1, 3)  # a Monday
_WEEKDAY_RULE = (True, True, True, True, True, False, False)  # Monday first
_OPENING_KINDS = {
    CalendarKind.WORKDAYS.value: frozenset({CalendarDayKind.MAKE_UP_WORKDAY.value}),
    CalendarKind.TRADING.value: frozenset({CalendarDayKind.TRADING_DAY.value}),
}
ALLOWED_DAY_KINDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        CalendarKind.ALWAYS.value: frozenset(),
        CalendarKind.WORKDAYS.value: frozenset(
            {CalendarDayKind.HOLIDAY.value, CalendarDayKind.MAKE_UP_WORKDAY.value}
        ),
        CalendarKind.TRADING.value: frozenset(
            {
                CalendarDayKind.EXCHANGE_CLOSED.value,
                CalendarDayKind.TRADING_DAY.value,
                CalendarDayKind.HOLIDAY.value,
            }
        ),
    }
)
"""Which ``CalendarDay`` kinds make sense for each kind of calendar."""


class CalendarError(Exception):
    """A calendar cannot do what was asked: a year no source knows, a gap in the known range."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- The snapshot ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayEntry:
    """One ``CalendarDay`` row as the snapshot keeps it."""

    date: dt.date
    kind: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class DayInfo:
    """What a calendar says about one date; ``known`` is False outside the known range."""

    date: dt.date
    is_open: bool
    known: bool
    kind: str | None = None
    name: str = ""


def _micros(t: dt.time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US + t.microsecond


@dataclass(frozen=True, eq=False)
class Calendar:
    """An immutable snapshot of a business calendar; build it with :func:`build` or :func:`load`.

    The fields after ``revision`` are derived tables: day ``i`` of the table is
    ``first + i`` (``first`` is a Monday), ``cumulative[i]`` the open microseconds from
    ``first`` to the start of that day.
    """

    code: str
    name: str
    kind: str
    tz: dt.tzinfo
    periods: tuple[tuple[int, int], ...]  # microseconds after local midnight, sorted
    known_from: dt.date | None
    known_until: dt.date | None
    days: Mapping[dt.date, DayEntry] = field(repr=False)
    revision: int = 0
    always: bool = field(init=False)
    first: dt.date = field(init=False)
    open_days: bytes = field(init=False, repr=False)
    cumulative: tuple[int, ...] = field(init=False, repr=False)
    _epoch: dt.datetime = field(init=False, repr=False)
    _day_length: int = field(init=False, repr=False)
    _week: tuple[int, ...] = field(init=False, repr=False)  # open µs before weekday i
    _tail: int = field(init=False, repr=False)
    _known: tuple[int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "always", self.kind == CalendarKind.ALWAYS)
        day_length = sum(b - a for a, b in self.periods)
        bounds = [d for d in (self.known_from, self.known_until) if d is not None]
        bounds += list(self.days)
        start = min(bounds, default=_FALLBACK_EPOCH)
        first = start - dt.timedelta(days=start.weekday())
        last = max(bounds, default=first - dt.timedelta(days=1))
        opening = _OPENING_KINDS.get(self.kind, frozenset())
        opens = bytearray()
        cumulative = [0]
        for i in range((last - first).days + 1):
            day = first + dt.timedelta(days=i)
            entry = self.days.get(day)
            is_open = _WEEKDAY_RULE[i % 7] if entry is None else entry.kind in opening
            opens.append(is_open)
            cumulative.append(cumulative[-1] + (day_length if is_open else 0))
        week = [0]
        for is_open in _WEEKDAY_RULE:
            week.append(week[-1] + (day_length if is_open else 0))
        put(self, "first", first)
        put(self, "open_days", bytes(opens))
        put(self, "cumulative", tuple(cumulative))
        put(self, "_epoch", dt.datetime.combine(first, dt.time()))
        put(self, "_day_length", day_length)
        put(self, "_week", tuple(week))
        put(self, "_tail", cumulative[-1] - self._rule(len(opens)))
        if self.known_from is not None and self.known_until is not None:
            put(self, "_known", ((self.known_from - first).days, (self.known_until - first).days))
        else:
            put(self, "_known", (1, 0))

    def __str__(self) -> str:
        return self.name or self.code

    def _rule(self, d: int) -> int:
        """Open microseconds from day 0 to the start of day ``d`` by the weekday rule."""
        weeks, weekday = divmod(d, 7)
        return weeks * self._week[7] + self._week[weekday]

    def _day_open(self, d: int) -> bool:
        if 0 <= d < len(self.open_days):
            return bool(self.open_days[d])
        return _WEEKDAY_RULE[d % 7]

    def _day_start(self, d: int) -> int:
        n = len(self.open_days)
        if 0 <= d <= n:
            return self.cumulative[d]
        return self._rule(d) + (self._tail if d > n else 0)

    def _flag(self, d: int) -> None:
        k0, k1 = self._known
        if not k0 <= d <= k1:
            _flag_unknown(self, self.first + dt.timedelta(days=d))

    def _local(self, at: dt.datetime) -> tuple[int, int]:
        """(day index, microseconds after local midnight) of an aware datetime."""
        if at.tzinfo is None:
            raise ValueError(f"naive datetime {at!r}: calendars need aware datetimes")
        micros = (at.astimezone(self.tz).replace(tzinfo=None) - self._epoch) // _ONE_US
        return divmod(micros, _DAY_US)

    def position(self, at: dt.datetime) -> int:
        """Open microseconds from the table's first day to ``at`` (a monotonic clock)."""
        if self.always:
            if at.tzinfo is None:
                raise ValueError(f"naive datetime {at!r}: calendars need aware datetimes")
            return (at - _UTC_EPOCH) // _ONE_US
        d, offset = self._local(at)
        self._flag(d)
        base = self._day_start(d)
        if not self._day_open(d):
            return base
        for a, b in self.periods:
            if offset <= a:
                break
            base += (offset if offset < b else b) - a
        return base

    def moment(self, position: int) -> dt.datetime:
        """The earliest moment whose :meth:`position` is ``position``."""
        if self.always:
            return (_UTC_EPOCH + position * _ONE_US).astimezone(self.tz)
        d = self._day_reaching(position)
        self._flag(d)
        remaining = position - self._day_start(d)
        offset = self.periods[-1][1]
        for a, b in self.periods:
            if remaining <= b - a:
                offset = a + remaining
                break
            remaining -= b - a
        local = self._epoch + (d * _DAY_US + offset) * _ONE_US
        return local.replace(tzinfo=self.tz)

    def _day_reaching(self, position: int) -> int:
        """The day in which the clock reaches ``position`` (> the start of that day)."""
        cumulative = self.cumulative
        if cumulative[0] < position <= cumulative[-1]:
            return bisect.bisect_left(cumulative, position) - 1
        week = self._week[7]
        if week == 0:
            raise CalendarError(_("The calendar %(code)s is never open.") % {"code": self.code})
        target = position - (self._tail if position > cumulative[-1] else 0)
        d = (target - 1) // week * 7
        while self._rule(d + 1) < target:
            d += 1
        return d


def build(
    *,
    code: str,
    kind: str,
    name: str = "",
    opens_at: dt.time = dt.time(9),
    closes_at: dt.time = dt.time(17),
    break_starts_at: dt.time | None = None,
    break_ends_at: dt.time | None = None,
    known_from: dt.date | None = None,
    known_until: dt.date | None = None,
    days: Iterable[DayEntry] = (),
    tz: dt.tzinfo | None = None,
    revision: int = 0,
) -> Calendar:
    """A snapshot from plain values (what :func:`load` does with a database row)."""
    periods: tuple[tuple[int, int], ...]
    if break_starts_at is not None and break_ends_at is not None:
        periods = (
            (_micros(opens_at), _micros(break_starts_at)),
            (_micros(break_ends_at), _micros(closes_at)),
        )
    else:
        periods = ((_micros(opens_at), _micros(closes_at)),)
    if any(a >= b for a, b in periods) or any(x[1] > y[0] for x, y in itertools.pairwise(periods)):
        raise CalendarError(_("The calendar %(code)s has no valid opening hours.") % {"code": code})
    return Calendar(
        code=code,
        name=name,
        kind=kind,
        tz=tz or ZoneInfo(settings.TIME_ZONE),
        periods=periods,
        known_from=known_from,
        known_until=known_until,
        days=MappingProxyType({day.date: day for day in days}),
        revision=revision,
    )


_flagged: set[tuple[str, int]] = set()


def _flag_unknown(cal: Calendar, day: dt.date) -> None:
    # Never silent (DOMAIN.md), but once per calendar and year: SLA clocks ask thousands
    # of times a second.
    if (cal.code, day.year) not in _flagged:
        _flagged.add((cal.code, day.year))
        logger.warning(
            "calendar %s: %s is outside the known range %s..%s; using the weekday rule",
            cal.code,
            day.isoformat(),
            cal.known_from,
            cal.known_until,
        )


# --- Questions about days and moments ----------------------------------------------------


def is_known(cal: Calendar, day: dt.date) -> bool:
    """Whether the calendar's holidays and closures are recorded for ``day``."""
    if cal.always:
        return True
    k0, k1 = cal._known
    return k0 <= (day - cal.first).days <= k1


def day_info(cal: Calendar, day: dt.date) -> DayInfo:
    """Open or not, why, and whether that rests on recorded data or on the weekday rule."""
    if cal.always:
        return DayInfo(date=day, is_open=True, known=True)
    entry = cal.days.get(day)
    d = (day - cal.first).days
    return DayInfo(
        date=day,
        is_open=cal._day_open(d),
        known=is_known(cal, day),
        kind=entry.kind if entry else None,
        name=entry.name if entry else "",
    )


def is_working_day(cal: Calendar, day: dt.date) -> bool:
    """Whether the calendar's clock runs at all on ``day`` (always, for 7x24)."""
    if cal.always:
        return True
    d = (day - cal.first).days
    cal._flag(d)
    return cal._day_open(d)


def is_open_at(cal: Calendar, at: dt.datetime) -> bool:
    """Whether the clock runs at ``at``; periods are half-open (11:30 is already the break)."""
    if cal.always:
        return True
    d, offset = cal._local(at)
    cal._flag(d)
    return cal._day_open(d) and any(a <= offset < b for a, b in cal.periods)


def _period_bounds(cal: Calendar, day: dt.date) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    midnight = dt.datetime.combine(day, dt.time())
    for a, b in cal.periods:
        yield (
            (midnight + a * _ONE_US).replace(tzinfo=cal.tz),
            (midnight + b * _ONE_US).replace(tzinfo=cal.tz),
        )


def open_periods(
    cal: Calendar, start: dt.datetime, end: dt.datetime
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The intervals between ``start`` and ``end`` in which the clock runs, in order.

    Each is ``(from, to)`` with ``from < to``, clipped to ``[start, end]``; their lengths add
    up to :func:`business_seconds` ``(cal, start, end)``.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("calendars need aware datetimes")
    start, end = start.astimezone(cal.tz), end.astimezone(cal.tz)
    if end <= start:
        return
    if cal.always:
        yield start, end
        return
    day, last = start.date(), end.date()
    while day <= last:
        if is_working_day(cal, day):
            for a, b in _period_bounds(cal, day):
                lo, hi = max(a, start), min(b, end)
                if lo < hi:
                    yield lo, hi
        day += dt.timedelta(days=1)


def next_session_start(at: dt.datetime, cal: Calendar | None = None) -> dt.datetime:
    """The start of the first open period that starts at or after ``at``.

    For the trading calendar (the default) that is the next 09:30 or 13:00 of a trading
    day; for 7x24 it is ``at`` itself.
    """
    cal = cal or load(TRADING_CALENDAR)
    if at.tzinfo is None:
        raise ValueError("calendars need aware datetimes")
    at = at.astimezone(cal.tz)
    if cal.always:
        return at
    day = at.date()
    # Outside the table the weekday rule opens within a week; inside, no recorded closure
    # lasts a year.
    for _i in range(400):
        if is_working_day(cal, day):
            for a, _b in _period_bounds(cal, day):
                if a >= at:
                    return a
        day += dt.timedelta(days=1)
    raise CalendarError(_("The calendar %(code)s does not open again.") % {"code": cal.code})


def is_trading_day(day: dt.date, cal: Calendar | None = None) -> bool:
    """Whether the exchange trades on ``day`` (the shipped SSE/SZSE calendar by default)."""
    return is_working_day(cal or load(TRADING_CALENDAR), day)


def in_trading_session(at: dt.datetime, cal: Calendar | None = None) -> bool:
    """Whether ``at`` is inside a trading session: [09:30, 11:30) or [13:00, 15:00)."""
    return is_open_at(cal or load(TRADING_CALENDAR), at)


# --- The clock ---------------------------------------------------------------------------


def business_seconds(cal: Calendar, start: dt.datetime, end: dt.datetime) -> float:
    """Seconds the calendar's clock runs from ``start`` to ``end`` (negative if end < start)."""
    return (cal.position(end) - cal.position(start)) / _US


def add_business_seconds(cal: Calendar, start: dt.datetime, seconds: float) -> dt.datetime:
    """The earliest moment by which the clock has run ``seconds`` since ``start``: a deadline.

    A deadline that the clock reaches exactly at closing time is that closing time (Friday
    17:00), not the next opening. ``seconds`` is rounded to whole microseconds.
    """
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    micros = round(seconds * _US)
    if micros == 0:
        if start.tzinfo is None:
            raise ValueError("calendars need aware datetimes")
        return start.astimezone(cal.tz)
    return cal.moment(cal.position(start) + micros)


# --- Coverage ----------------------------------------------------------------------------


def coverage(cal: Calendar) -> tuple[dt.date | None, dt.date | None]:
    """The known range; ``(None, None)`` if nothing is recorded, all dates for 7x24."""
    if cal.always:
        return dt.date.min, dt.date.max
    return cal.known_from, cal.known_until


@dataclass(frozen=True, slots=True)
class CoverageWarning:
    """A calendar whose known range ends within the horizon (or has ended, or never began)."""

    code: str
    name: str
    known_until: dt.date | None
    days_left: int | None  # negative once the range has ended; None if nothing is known

    @property
    def message(self) -> str:
        if self.known_until is None or self.days_left is None:
            return _(
                "Calendar %(name)s has no recorded holidays: every date follows the weekday rule."
            ) % {"name": self.name}
        values = {"name": self.name, "until": self.known_until.isoformat()}
        if self.days_left < 0:
            return (
                _(
                    "Calendar %(name)s is known only until %(until)s: later dates follow the "
                    "weekday rule. Add the next year's holidays."
                )
                % values
            )
        return _(
            "Calendar %(name)s is known until %(until)s (%(days)d days left). Add the next "
            "year's holidays."
        ) % {**values, "days": self.days_left}


def coverage_warnings(
    today: dt.date, horizon_days: int = 60, calendars: Iterable[Calendar] | None = None
) -> list[CoverageWarning]:
    """Calendars whose known range ends before ``today + horizon_days``, soonest first.

    ``calendars`` defaults to every business calendar in the database.
    """
    if calendars is None:
        calendars = [load(row) for row in BusinessCalendar.objects.all()]
    horizon = today + dt.timedelta(days=horizon_days)
    warnings = []
    for cal in calendars:
        if cal.always:
            continue
        until = cal.known_until
        if until is None:
            warnings.append(CoverageWarning(cal.code, str(cal), None, None))
        elif until < horizon:
            warnings.append(CoverageWarning(cal.code, str(cal), until, (until - today).days))
    return sorted(warnings, key=lambda w: (w.days_left is not None, w.days_left or 0, w.code))


# --- Loading from the database -----------------------------------------------------------

_snapshots: dict[str, tuple[tuple[Any, ...], Calendar]] = {}


def _row_key(row: BusinessCalendar) -> tuple[Any, ...]:
    return (
        row.pk,
        row.revision,
        row.kind,
        row.name,
        row.name_en,
        row.opens_at,
        row.closes_at,
        row.break_starts_at,
        row.break_ends_at,
        row.known_from,
        row.known_until,
    )


def load(code_or_calendar: str | BusinessCalendar) -> Calendar:
    """The snapshot of a business calendar, rebuilt only when the calendar or its days change.

    Given a code it reads the calendar's row (one small query); given a row, none unless
    the snapshot must be rebuilt. Hold on to the snapshot for a batch of computations.
    """
    if isinstance(code_or_calendar, str):
        row = BusinessCalendar.objects.get(code=code_or_calendar)
    else:
        row = code_or_calendar
    key = _row_key(row)
    cached = _snapshots.get(row.code)
    if cached is not None and cached[0] == key:
        return cached[1]
    days = [
        DayEntry(date=d, kind=k, name=n)
        for d, k, n in CalendarDay.objects.filter(calendar_id=row.pk).values_list(
            "date", "kind", "name"
        )
    ]
    snapshot = build(
        code=row.code,
        kind=row.kind,
        name=row.name,
        opens_at=row.opens_at,
        closes_at=row.closes_at,
        break_starts_at=row.break_starts_at,
        break_ends_at=row.break_ends_at,
        known_from=row.known_from,
        known_until=row.known_until,
        days=days,
        revision=row.revision,
    )
    _snapshots[row.code] = (key, snapshot)
    return snapshot


def forget_snapshots() -> None:
    """Drop every cached snapshot (tests; a process that edited rows with ``update()``)."""
    _snapshots.clear()


# --- Seeding from the libraries ----------------------------------------------------------

_CLOSED_NAME = "休市"  # the exchanges' word for a closure that is no public holiday


@cache
def _exchange_calendar() -> Any:
    import exchange_calendars  # type: ignore[import-untyped]

    # exchange-calendars 4.13 uses a pandas API that pandas now deprecates; that warning
    # is theirs to fix, and our tests turn warnings into errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return exchange_calendars.get_calendar("XSHG")


@cache
def _chinese_names() -> dict[str, str]:
    from chinese_calendar.constants import Holiday  # type: ignore[import-untyped]

    # The library's tables hold the English name; the enum knows the Chinese one.
    return {str(h.value): str(h.chinese) for h in Holiday}


def _holiday_name(day: dt.date, table: Mapping[dt.date, str]) -> str:
    english = table.get(day)
    return _chinese_names().get(english, english) if english is not None else ""


def _workday_days(year: int) -> list[DayEntry]:
    import chinese_calendar  # type: ignore[import-untyped]
    from chinese_calendar.constants import holidays, workdays

    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        raise CalendarError(
            _(
                "chinese-calendar does not know %(year)d yet (the State Council publishes "
                "each year's schedule late in the year before). Import the year from a CSV "
                "file instead: branchops manage calendars_import."
            )
            % {"year": year}
        ) from None
    rows = [
        DayEntry(d, CalendarDayKind.HOLIDAY.value, _holiday_name(d, holidays))
        for d in holidays
        if d.year == year
    ]
    rows += [
        DayEntry(d, CalendarDayKind.MAKE_UP_WORKDAY.value, _holiday_name(d, workdays))
        for d in workdays
        if d.year == year
    ]
    return sorted(rows, key=lambda r: r.date)


def _trading_days(year: int) -> list[DayEntry]:
    from chinese_calendar.constants import holidays

    xshg = _exchange_calendar()
    first, last = xshg.first_session.date(), xshg.last_session.date()
    if not first.year < year <= last.year:
        raise CalendarError(
            _(
                "exchange-calendars knows XSHG sessions from %(first)s to %(last)s only, not "
                "%(year)d. Import the year's closures from a CSV file instead: branchops "
                "manage calendars_import."
            )
            % {"first": first.isoformat(), "last": last.isoformat(), "year": year}
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        found = xshg.sessions_in_range(f"{year}-01-01", f"{year}-12-31")
    sessions = {ts.date() for ts in found}
    rows = []
    day = dt.date(year, 1, 1)
    while day.year == year:
        weekday_rule = _WEEKDAY_RULE[day.weekday()]
        if weekday_rule and day not in sessions:
            name = _holiday_name(day, holidays) or _CLOSED_NAME
            rows.append(DayEntry(day, CalendarDayKind.EXCHANGE_CLOSED.value, name))
        elif not weekday_rule and day in sessions:
            rows.append(DayEntry(day, CalendarDayKind.TRADING_DAY.value))
        day += dt.timedelta(days=1)
    return rows


def library_days(kind: str, year: int) -> list[DayEntry]:
    """The days the libraries know for one year of a calendar of this kind.

    Raises :class:`CalendarError` with a message for the operator when the library does
    not know the year (chinese-calendar 1.11: 2004-2026; exchange-calendars: to 2026).
    """
    if kind == CalendarKind.WORKDAYS:
        return _workday_days(year)
    if kind == CalendarKind.TRADING:
        return _trading_days(year)
    return []


def seed_shipped(apps: Any, schema_editor: Any) -> None:
    """Data migration: days for the shipped calendars for :data:`SHIPPED_YEARS`.

    Like the reference rows (decision 0008) it only fills what is missing: a calendar that
    already has days, or that an administrator deleted, is left alone.
    """
    BusinessCalendar = apps.get_model("core", "BusinessCalendar")
    CalendarDay = apps.get_model("core", "CalendarDay")
    for code in (WORKDAY_CALENDAR, TRADING_CALENDAR):
        row = BusinessCalendar.objects.filter(code=code).first()
        if row is None or CalendarDay.objects.filter(calendar=row).exists():
            continue
        CalendarDay.objects.bulk_create(
            CalendarDay(calendar=row, date=e.date, kind=e.kind, name=e.name, source="system")
            for year in SHIPPED_YEARS
            for e in library_days(row.kind, year)
        )
        row.known_from = dt.date(SHIPPED_YEARS[0], 1, 1)
        row.known_until = dt.date(SHIPPED_YEARS[-1], 12, 31)
        if code == TRADING_CALENDAR:
            row.opens_at, row.closes_at = dt.time(9, 30), dt.time(15, 0)
            row.break_starts_at, row.break_ends_at = dt.time(11, 30), dt.time(13, 0)
        row.revision += 1
        row.save()


# --- Changing days -----------------------------------------------------------------------


def _range_with(row: BusinessCalendar, years: Iterable[int]) -> tuple[dt.date, dt.date]:
    """The known range once ``years`` are known; a year that would leave a gap is refused."""
    first, last = row.known_from, row.known_until
    one = dt.timedelta(days=1)
    for year in sorted(years):
        jan1, dec31 = dt.date(year, 1, 1), dt.date(year, 12, 31)
        if first is None or last is None:
            first, last = jan1, dec31
        elif jan1 > last + one or dec31 < first - one:
            raise CalendarError(
                _(
                    "%(year)d would leave a gap in the known range of %(code)s "
                    "(%(first)s to %(last)s); add the years in between first."
                )
                % {
                    "year": year,
                    "code": row.code,
                    "first": first.isoformat(),
                    "last": last.isoformat(),
                }
            )
        else:
            first, last = min(first, jan1), max(last, dec31)
    if first is None or last is None:
        raise CalendarError(_("No year given."))
    return first, last


def _write_range(
    row: BusinessCalendar,
    known: tuple[dt.date, dt.date],
    *,
    actor: User | None,
    source: ChangeSource,
    action: AuditAction,
    message: str,
) -> None:
    before = {"known_from": str(row.known_from), "known_until": str(row.known_until)}
    row.known_from, row.known_until = known
    row.save(update_fields=["known_from", "known_until"])  # a new revision: snapshots rebuild
    after = {"known_from": str(row.known_from), "known_until": str(row.known_until)}
    audit.record(
        actor=actor,
        action=action,
        source=source,
        obj=row,
        before=before,
        after=after,
        message=message,
    )


@transaction.atomic
def refresh_from_libraries(
    row: BusinessCalendar,
    years: Sequence[int],
    *,
    actor: User | None = None,
    source: ChangeSource = ChangeSource.CLI,
) -> int:
    """Replace the library's days of ``years`` with what the libraries know now.

    Rows an administrator entered or imported for those dates stay (a hand edit wins).
    Everything is checked before anything is written. Returns the number of days written.
    """
    fresh = {year: library_days(row.kind, year) for year in sorted(set(years))}
    known = _range_with(row, fresh)
    written = 0
    for year, entries in fresh.items():
        in_year = CalendarDay.objects.filter(calendar=row, date__year=year)
        in_year.filter(source=ChangeSource.SYSTEM).delete()
        kept = set(in_year.values_list("date", flat=True))
        new = [
            CalendarDay(calendar=row, date=e.date, kind=e.kind, name=e.name)
            for e in entries
            if e.date not in kept
        ]
        CalendarDay.objects.bulk_create(new)
        written += len(new)
    years_text = ", ".join(map(str, fresh))
    _write_range(
        row,
        known,
        actor=actor,
        source=source,
        action=AuditAction.UPDATE,
        message=f"calendar days for {years_text} refreshed from the libraries ({written} days)",
    )
    return written


CSV_COLUMNS = ("date", "kind", "name")


def read_days_csv(text: str, *, calendar_kind: str, year: int) -> list[DayEntry]:
    """Parse and check a CSV of ``date,kind,name`` rows (a header line is optional).

    Every bad row is reported at once: :class:`BulkValidationError` maps the 0-based line
    index to ``{column: [messages]}``.
    """
    allowed = ALLOWED_DAY_KINDS.get(calendar_kind, frozenset())
    entries: list[DayEntry] = []
    errors: dict[int, dict[str, list[str]]] = {}
    seen: dict[dt.date, int] = {}
    for index, raw in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff")))):
        cells = [c.strip() for c in raw]
        if not any(cells) or (index == 0 and tuple(c.lower() for c in cells[:3]) == CSV_COLUMNS):
            continue
        problems: dict[str, list[str]] = {}
        entry = _read_row(cells, allowed, year, problems)
        if entry is not None and entry.date in seen:
            problems.setdefault("date", []).append(
                _("%(date)s is already on line %(line)d.")
                % {"date": entry.date.isoformat(), "line": seen[entry.date] + 1}
            )
        if problems:
            errors[index] = problems
        elif entry is not None:
            seen[entry.date] = index
            entries.append(entry)
    if errors:
        raise BulkValidationError(errors)
    return entries


def _read_row(
    cells: list[str], allowed: frozenset[str], year: int, problems: dict[str, list[str]]
) -> DayEntry | None:
    if len(cells) not in (2, 3):
        problems["row"] = [_("Expected date,kind,name.")]
        return None
    try:
        day = dt.date.fromisoformat(cells[0])
    except ValueError:
        problems["date"] = [_("%(value)r is not a date (YYYY-MM-DD).") % {"value": cells[0]}]
        day = None
    if day is not None and day.year != year:
        problems["date"] = [_("%(date)s is not in %(year)d.") % {"date": cells[0], "year": year}]
    if cells[1] not in allowed:
        problems["kind"] = [
            _("%(value)r is not one of: %(allowed)s.")
            % {"value": cells[1], "allowed": ", ".join(sorted(allowed)) or "-"}
        ]
    name = cells[2] if len(cells) == 3 else ""
    if len(name) > 100:
        problems["name"] = [_("At most 100 characters.")]
    if problems or day is None:
        return None
    return DayEntry(day, cells[1], name)


@transaction.atomic
def replace_year(
    row: BusinessCalendar,
    year: int,
    entries: Sequence[DayEntry],
    *,
    actor: User | None = None,
    source: ChangeSource = ChangeSource.IMPORT,
) -> int:
    """Make ``entries`` the complete list of exceptions of ``year`` and mark the year known.

    For a year the libraries do not know yet; every row of that year, whatever its source,
    is replaced. Returns the number of days written.
    """
    if any(e.date.year != year for e in entries):
        raise CalendarError(_("Every day must be in %(year)d.") % {"year": year})
    known = _range_with(row, [year])
    CalendarDay.objects.filter(calendar=row, date__year=year).delete()
    CalendarDay.objects.bulk_create(
        CalendarDay(calendar=row, date=e.date, kind=e.kind, name=e.name, source=source)
        for e in entries
    )
    _write_range(
        row,
        known,
        actor=actor,
        source=source,
        action=AuditAction.IMPORT,
        message=f"calendar days for {year} imported ({len(entries)} days)",
    )
    return len(entries)
