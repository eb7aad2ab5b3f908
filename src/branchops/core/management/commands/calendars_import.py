"""Import one year of a calendar's days from a CSV file (for years the libraries lack)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from branchops.core import calendars
from branchops.core.errors import BulkValidationError
from branchops.core.models import BusinessCalendar


class Command(BaseCommand):
    help = (
        "Make a CSV file of date,kind,name rows the complete list of holidays and make-up "
        "workdays (or exchange closures) of one year, and mark that year as known. "
        "Every bad row is reported; nothing is written unless all rows are good."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("calendar", metavar="CODE", help="calendar code, e.g. cn-workdays")
        parser.add_argument("path", type=Path, help="CSV file (UTF-8): date,kind,name")
        parser.add_argument("--year", type=int, required=True, help="the year the file covers")
        parser.add_argument(
            "--dry-run", action="store_true", help="check the file and write nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        row = BusinessCalendar.objects.filter(code=options["calendar"]).first()
        if row is None:
            raise CommandError(f"no such calendar: {options['calendar']}")
        try:
            text = options["path"].read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {options['path']}: {exc}") from exc
        year = options["year"]
        try:
            entries = calendars.read_days_csv(text, calendar_kind=row.kind, year=year)
        except BulkValidationError as exc:
            lines = [
                f"line {index + 1}: {column}: {message}"
                for index, columns in sorted(exc.errors.items())
                for column, messages in columns.items()
                for message in messages
            ]
            raise CommandError(
                f"{len(exc.errors)} bad row(s), nothing was written:\n" + "\n".join(lines)
            ) from exc
        if options["dry_run"]:
            self.stdout.write(f"{row.code} {year}: {len(entries)} good row(s); nothing written")
            return
        try:
            written = calendars.replace_year(row, year, entries)
        except calendars.CalendarError as exc:
            raise CommandError(f"{exc.message} Nothing was written.") from exc
        self.stdout.write(
            f"{row.code} {year}: {written} day(s) imported; "
            f"known {row.known_from} to {row.known_until}"
        )
