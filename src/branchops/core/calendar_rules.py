"""Creating and editing a business calendar: its opening hours and its day rules, checked
together before anything is written.

A calendar's **rules** are its opening hours (open, close, an optional break) and its
**day rules**: a date range of one kind ("2027-02-06 to 2027-02-13, holiday, 春节"), which
become ``CalendarDay`` rows. Rules that overlap are refused with the reason, naming both
(a make-up workday inside a holiday, a break that starts before the calendar opens), and
nothing is written: the calendar, its days and its audit row are one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from branchops.core import audit
from branchops.core.calendars import ALLOWED_DAY_KINDS
from branchops.core.choices import CalendarKind, ChangeSource
from branchops.core.models import BusinessCalendar, CalendarDay, User

FIELDS = (
    "code",
    "name",
    "name_en",
    "kind",
    "description",
    "opens_at",
    "closes_at",
    "break_starts_at",
    "break_ends_at",
    "known_from",
    "known_until",
)
MAX_RULE_DAYS = 366


@dataclass(frozen=True, slots=True)
class DayRule:
    """Dates ``first`` to ``last`` (both included) are of ``kind``, e.g. a holiday week."""

    first: dt.date
    last: dt.date
    kind: str
    name: str = ""

    def describe(self) -> str:
        span = self.first.isoformat()
        if self.last != self.first:
            span += f"..{self.last.isoformat()}"
        return f"{span} {self.kind}" + (f" {self.name}" if self.name else "")


def _refuse(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def check_hours(values: Mapping[str, Any]) -> None:
    """The opening window and the break: the break must lie inside the window, whole."""
    opens, closes = values.get("opens_at"), values.get("closes_at")
    start, end = values.get("break_starts_at"), values.get("break_ends_at")
    if opens is None or closes is None:
        raise _refuse("opens_at", _("Give the opening and closing times."))
    if opens >= closes:
        raise _refuse("closes_at", _("The calendar must open before it closes."))
    if (start is None) != (end is None):
        raise _refuse("break_ends_at", _("A break needs both a start and an end."))
    if start is not None and end is not None:
        if start >= end:
            raise _refuse("break_ends_at", _("The break must end after it starts."))
        if start <= opens or end >= closes:
            raise _refuse(
                "break_starts_at",
                _(
                    "The break %(start)s-%(end)s overlaps the opening or closing time "
                    "(%(opens)s-%(closes)s); it must lie inside the opening hours."
                )
                % {
                    "start": f"{start:%H:%M}",
                    "end": f"{end:%H:%M}",
                    "opens": f"{opens:%H:%M}",
                    "closes": f"{closes:%H:%M}",
                },
            )


def check_known_range(values: Mapping[str, Any]) -> None:
    first, last = values.get("known_from"), values.get("known_until")
    if (first is None) != (last is None):
        raise _refuse("known_until", _("The known range needs both ends."))
    if first is not None and last is not None and first > last:
        raise _refuse("known_until", _("The known range ends before it starts."))


def check_day_rules(values: Mapping[str, Any], rules: Sequence[DayRule]) -> None:
    """Each rule fits the calendar; no two rules share a date."""
    kind = values.get("kind", "")
    allowed = ALLOWED_DAY_KINDS.get(kind, frozenset())
    first, last = values.get("known_from"), values.get("known_until")
    for number, rule in enumerate(rules, start=1):
        where = {"n": number, "rule": rule.describe()}
        if rule.first > rule.last:
            raise _refuse("rules", _("Rule %(n)d (%(rule)s) ends before it starts.") % where)
        if (rule.last - rule.first).days >= MAX_RULE_DAYS:
            raise _refuse("rules", _("Rule %(n)d (%(rule)s) is longer than a year.") % where)
        if rule.kind not in allowed:
            raise _refuse(
                "rules",
                _("Rule %(n)d (%(rule)s): this calendar takes only %(allowed)s.")
                % {**where, "allowed": ", ".join(sorted(allowed)) or _("no day rules")},
            )
        if first is not None and last is not None and (rule.first < first or rule.last > last):
            raise _refuse(
                "rules",
                _("Rule %(n)d (%(rule)s) lies outside the known range %(first)s to %(last)s.")
                % {**where, "first": first.isoformat(), "last": last.isoformat()},
            )
    ordered = sorted(enumerate(rules, start=1), key=lambda p: (p[1].first, p[0]))
    latest: tuple[int, DayRule] | None = None
    for number, rule in ordered:
        if latest is not None and rule.first <= latest[1].last:
            raise _refuse(
                "rules",
                _("Rules %(a)d (%(rule_a)s) and %(b)d (%(rule_b)s) overlap on %(date)s.")
                % {
                    "a": latest[0],
                    "rule_a": latest[1].describe(),
                    "b": number,
                    "rule_b": rule.describe(),
                    "date": rule.first.isoformat(),
                },
            )
        if latest is None or rule.last > latest[1].last:
            latest = (number, rule)


def check_calendar(
    values: Mapping[str, Any],
    rules: Sequence[DayRule] | None,
    calendar: BusinessCalendar | None = None,
) -> None:
    """Everything about a calendar about to be written; raises :class:`ValidationError` with
    the field and the reason. ``rules`` None keeps the calendar's stored days (then those
    are checked against the new kind and known range)."""
    if values.get("kind") not in CalendarKind.values:
        raise _refuse("kind", _("Unknown kind of calendar."))
    if not str(values.get("code") or "").strip():
        raise _refuse("code", _("Give the calendar a code."))
    if not str(values.get("name") or "").strip():
        raise _refuse("name", _("Give the calendar a name."))
    clash = BusinessCalendar.objects.filter(code=values["code"])
    if calendar is not None:
        clash = clash.exclude(pk=calendar.pk)
    if clash.exists():
        raise _refuse("code", _("Another calendar has the code %(code)s.") % values)
    check_hours(values)
    check_known_range(values)
    if rules is None and calendar is not None:
        rules = [DayRule(d.date, d.date, d.kind, d.name) for d in calendar.days.all()]
    check_day_rules(values, rules or [])


def _days(calendar: BusinessCalendar, rules: Sequence[DayRule]) -> list[CalendarDay]:
    one = dt.timedelta(days=1)
    return [
        CalendarDay(
            calendar=calendar, date=rule.first + one * i, kind=rule.kind, name=rule.name[:100]
        )
        for rule in rules
        for i in range((rule.last - rule.first).days + 1)
    ]


def save_calendar(
    values: Mapping[str, Any],
    *,
    rules: Sequence[DayRule] | None,
    actor: User | None,
    source: ChangeSource,
    calendar: BusinessCalendar | None = None,
) -> BusinessCalendar:
    """Create a calendar (``calendar`` None) or change one, with its day rules.

    ``values`` holds the fields of :data:`FIELDS` (for a change, those that change);
    ``rules`` replaces every stored day of the calendar, or None keeps them. Checked
    whole before anything is written; one transaction with its audit row.
    """
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise _refuse(sorted(unknown)[0], _("This field cannot be set here."))
    merged = {f: getattr(calendar, f) for f in FIELDS} if calendar is not None else {}
    if calendar is None:
        defaults = BusinessCalendar()
        merged = {f: getattr(defaults, f) for f in FIELDS}
    merged.update(values)
    check_calendar(merged, rules, calendar)
    with transaction.atomic():
        row = calendar or BusinessCalendar()
        before = audit.snapshot(row) if calendar is not None else None
        for field, value in merged.items():
            setattr(row, field, value)
        row.save()
        if rules is not None:
            CalendarDay.objects.filter(calendar=row).delete()
            CalendarDay.objects.bulk_create(_days(row, rules))
            row.save(update_fields=["revision"])  # bulk writes skip the revision bump
        audit.record_saved(
            row,
            actor=actor,
            source=source,
            before=before,
            message="" if rules is None else f"{len(rules)} day rules",
        )
    return row


def rules_of(calendar: BusinessCalendar) -> list[DayRule]:
    """The stored days folded back into rules: consecutive dates of one kind and name."""
    days = list(calendar.days.order_by("date").values_list("date", "kind", "name"))
    rules: list[DayRule] = []
    for date, kind, name in days:
        last = rules[-1] if rules else None
        if (
            last is not None
            and (last.kind, last.name) == (kind, name)
            and last.last + dt.timedelta(days=1) == date
        ):
            rules[-1] = DayRule(last.first, date, kind, name)
        else:
            rules.append(DayRule(date, date, kind, name))
    return rules


def parse_rules(text: str) -> list[DayRule]:
    """Rules typed one a line: ``2027-02-06..2027-02-13,holiday,春节`` (or one date)."""
    rules = []
    for number, line in enumerate(text.splitlines(), start=1):
        cells = [c.strip() for c in line.split(",")]
        if not any(cells):
            continue
        if len(cells) not in (2, 3):
            raise _refuse("rules", _("Line %(n)d: expected dates,kind,name.") % {"n": number})
        first_text, _sep, last_text = cells[0].partition("..")
        try:
            first = dt.date.fromisoformat(first_text.strip())
            last = dt.date.fromisoformat(last_text.strip()) if last_text else first
        except ValueError:
            raise _refuse(
                "rules",
                _("Line %(n)d: %(value)r is not a date or a range.")
                % {"n": number, "value": cells[0]},
            ) from None
        rules.append(DayRule(first, last, cells[1], cells[2] if len(cells) == 3 else ""))
    return rules
