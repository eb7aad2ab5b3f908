"""Refresh calendar days from chinese-calendar and exchange-calendars for more years."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from branchops.core import calendars
from branchops.core.choices import CalendarKind
from branchops.core.models import BusinessCalendar


class Command(BaseCommand):
    help = (
        "Replace the library-sourced holidays, make-up workdays and exchange closures of the "
        "given years with what the installed libraries know, and widen the known range. "
        "Days an administrator entered or imported stay."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--years",
            nargs="+",
            type=int,
            metavar="YEAR",
            help="years to refresh (default: this year and the next)",
        )
        parser.add_argument(
            "--calendar",
            nargs="+",
            metavar="CODE",
            help="calendar codes (default: every working-day and trading calendar)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.localdate()
        years = sorted(set(options["years"] or [today.year, today.year + 1]))
        rows = BusinessCalendar.objects.exclude(kind=CalendarKind.ALWAYS)
        if options["calendar"]:
            rows = rows.filter(code__in=options["calendar"])
            missing = set(options["calendar"]) - {r.code for r in rows}
            if missing:
                raise CommandError(f"no such working-day or trading calendar: {sorted(missing)}")
        # Ask the libraries first, so an unknown year stops the run before anything is
        # written. By default a year the libraries do not know yet is only reported.
        plan: dict[BusinessCalendar, list[int]] = {}
        problems = []
        for row in rows:
            plan[row] = []
            for year in years:
                try:
                    calendars.library_days(row.kind, year)
                except calendars.CalendarError as exc:
                    problems.append(f"{row.code} {year}: {exc.message}")
                else:
                    plan[row].append(year)
        if problems and options["years"]:
            raise CommandError("nothing was written:\n" + "\n".join(problems))
        for problem in problems:
            self.stdout.write(self.style.WARNING(f"skipped {problem}"))
        for row, known_years in plan.items():
            if not known_years:
                continue
            try:
                written = calendars.refresh_from_libraries(row, known_years)
            except calendars.CalendarError as exc:
                raise CommandError(f"{row.code}: {exc.message}") from exc
            self.stdout.write(
                f"{row.code}: {written} day(s) for {', '.join(map(str, known_years))}; "
                f"known {row.known_from} to {row.known_until}"
            )
        _print_warnings(self, today)


def _print_warnings(command: BaseCommand, today: dt.date) -> None:
    for warning in calendars.coverage_warnings(today):
        command.stdout.write(command.style.WARNING(warning.message))
