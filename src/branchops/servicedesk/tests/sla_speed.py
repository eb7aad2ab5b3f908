"""How fast are SLA clocks? 100,000 synthetic tickets with pauses, on three calendars.

Not a test (pytest does not collect it): run it by hand until ``branchops bench
servicedesk`` exists::

    BRANCHOPS_HOME=$(mktemp -d) .venv/bin/python -m branchops.servicedesk.tests.sla_speed [N]

Each ticket gets an assignment, work, one to three pauses of minutes to days (so many span
weekends and holidays), a resolution, and for one in five a reopen. Only the clock
computation is timed; the calendars are snapshots built from the libraries, as ``load``
would build them.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchops.settings")
django.setup()

from zoneinfo import ZoneInfo  # noqa: E402

from branchops.core import calendars  # noqa: E402
from branchops.servicedesk.sla import Mark, Targets, compute  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
PAUSES = ("pending_customer", "pending_vendor", "pending_spare_part")


def snapshots() -> list[calendars.Calendar]:
    years = (2024, 2025, 2026)
    built = [calendars.build(code="24x7", kind="24x7")]
    for code, kind, hours in (
        ("cn-workdays", "workdays", {}),
        (
            "xshg-trading",
            "trading",
            {
                "opens_at": dt.time(9, 30),
                "closes_at": dt.time(15),
                "break_starts_at": dt.time(11, 30),
                "break_ends_at": dt.time(13),
            },
        ),
    ):
        days = [d for y in years for d in calendars.library_days(kind, y)]
        built.append(
            calendars.build(
                code=code,
                kind=kind,
                known_from=dt.date(2024, 1, 1),
                known_until=dt.date(2026, 12, 31),
                days=days,
                **hours,  # type: ignore[arg-type]
            )
        )
    return built


def timeline(rng: random.Random) -> tuple[dt.datetime, list[Mark]]:
    start = dt.datetime(2024, 1, 1, tzinfo=TZ) + dt.timedelta(minutes=rng.randrange(1_400_000))
    at = start
    marks = [Mark(at, "created", "new")]

    def later(max_minutes: int) -> dt.datetime:
        nonlocal at
        at = at + dt.timedelta(minutes=rng.randrange(1, max_minutes))
        return at

    marks.append(Mark(later(120), "assigned", "assigned", True))
    marks.append(Mark(later(240), "status", "in_progress"))
    for _ in range(rng.randrange(1, 4)):
        marks.append(Mark(later(600), "status", rng.choice(PAUSES)))
        marks.append(Mark(later(4 * 24 * 60), "status", "in_progress"))
    marks.append(Mark(later(300), "arrived"))
    marks.append(Mark(later(600), "status", "resolved"))
    if rng.random() < 0.2:
        marks.append(Mark(later(3000), "reopened", "reopened"))
        marks.append(Mark(later(600), "status", "resolved"))
    return start, marks


def main(n: int = 100_000) -> None:
    rng = random.Random(5)
    cals = snapshots()
    targets = (Targets(15, 120, 240), Targets(30, 240, 480), Targets(60, 480, 960))
    cases = [(timeline(rng), cals[i % 3], targets[i % 3]) for i in range(n)]
    now = dt.datetime(2026, 12, 1, tzinfo=TZ)
    events = sum(len(marks) for (_s, marks), _c, _t in cases)
    began = time.perf_counter()
    breached = 0
    for (start, marks), cal, target in cases:
        breached += compute(start, marks, target, cal, now).breached
    took = time.perf_counter() - began
    print(  # noqa: T201
        f"{n} tickets, {events} events, 3 calendars: {took:.2f} s, "
        f"{n / took:,.0f} tickets/s ({breached} with a breached clock)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
