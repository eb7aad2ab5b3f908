"""Say which calendars' known range ends soon (for cron or a monitoring check)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from branchops.core import calendars
from branchops.core.models import BusinessCalendar


class Command(BaseCommand):
    help = (
        "List every calendar's known range; exit with status 1 if one ends within the "
        "horizon (default 60 days)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--horizon", type=int, default=60, metavar="DAYS")

    def handle(self, *args: Any, **options: Any) -> None:
        for row in BusinessCalendar.objects.all():
            first, last = calendars.coverage(calendars.load(row))
            if row.kind == "24x7":
                self.stdout.write(f"{row.code}: every date")
            else:
                self.stdout.write(f"{row.code}: known {first or '-'} to {last or '-'}")
        warnings = calendars.coverage_warnings(timezone.localdate(), options["horizon"])
        if warnings:
            raise CommandError("\n".join(w.message for w in warnings), returncode=1)
