"""SLA clocks in cases a duty manager recognises, on the real 2025 Chinese calendar."""

from __future__ import annotations

import datetime as dt

import pytest

from branchops.servicedesk.choices import ClockState
from branchops.servicedesk.sla import Mark, Targets, compute
from branchops.servicedesk.tests.support import always, local, workdays

FIVE_BY_EIGHT = workdays(2025)


def test_a_p3_opened_friday_1630_with_two_hours_is_due_monday_1030() -> None:
    friday = local(2025, 11, 21, 16, 30)
    clocks = compute(
        friday, [Mark(friday, "created", "new")], Targets(60, None, 120), FIVE_BY_EIGHT,
        local(2025, 11, 22, 12),
    )  # fmt: skip
    assert clocks.resolution.due_at == local(2025, 11, 24, 10, 30)
    assert clocks.resolution.elapsed_seconds == 30 * 60  # Saturday does not count
    assert clocks.resolution.state == ClockState.RUNNING
    assert clocks.resolution.percent == 25.0


def test_a_make_up_sunday_counts_and_the_national_day_week_does_not() -> None:
    # 2025: Sunday 28 September is a make-up workday; 1-8 October are holidays.
    friday = local(2025, 9, 26, 16)
    due = compute(friday, [], Targets(60, None, 120), FIVE_BY_EIGHT, friday).resolution.due_at
    assert due == local(2025, 9, 28, 10)
    tuesday = local(2025, 9, 30, 16)
    due = compute(tuesday, [], Targets(60, None, 120), FIVE_BY_EIGHT, tuesday).resolution.due_at
    assert due == local(2025, 10, 9, 10)


def test_a_7x24_ticket_paused_over_the_national_day_week_does_not_breach() -> None:
    opened = local(2025, 9, 30, 9)
    marks = [
        Mark(opened, "created", "new"),
        Mark(local(2025, 9, 30, 9, 10), "assigned", "assigned", True),
        Mark(local(2025, 9, 30, 9, 20), "status", "in_progress"),
        Mark(local(2025, 9, 30, 10), "status", "pending_spare_part"),
        Mark(local(2025, 10, 8, 9), "status", "in_progress"),
        Mark(local(2025, 10, 8, 10), "status", "resolved"),
    ]
    p1 = Targets(15, 120, 240)
    during = compute(opened, marks[:4], p1, always(), local(2025, 10, 5))
    assert during.resolution.state == ClockState.PAUSED
    assert during.resolution.due_at is None
    assert during.resolution.elapsed_seconds == 3600
    done = compute(opened, marks, p1, always(), local(2025, 10, 9))
    assert done.resolution.state == ClockState.MET
    assert done.resolution.elapsed_seconds == 2 * 3600
    assert done.resolution.stopped_at == local(2025, 10, 8, 10)
    assert done.response.state == ClockState.MET
    assert done.response.elapsed_seconds == 600
    # Never visited, fixed in time: the arrival promise was kept.
    assert done.arrival is not None
    assert done.arrival.state == ClockState.MET
    unpaused = [m for m in marks if m.to_status != "pending_spare_part"]
    assert compute(opened, unpaused, p1, always(), local(2025, 10, 9)).breached


def test_reassignment_keeps_the_clock_and_a_reopen_continues_it() -> None:
    opened = local(2025, 6, 3, 9)  # Tuesday
    marks = [
        Mark(opened, "created", "new"),
        Mark(local(2025, 6, 3, 9, 30), "assigned", "assigned", True),
        Mark(local(2025, 6, 3, 10), "status", "in_progress"),
        Mark(local(2025, 6, 3, 11), "assigned", "", True),  # handed to a colleague
        Mark(local(2025, 6, 3, 12), "status", "resolved"),
        Mark(local(2025, 6, 4, 9), "reopened", "reopened"),
    ]
    clocks = compute(opened, marks, Targets(60, None, 480), FIVE_BY_EIGHT, local(2025, 6, 4, 10))
    assert clocks.response.elapsed_seconds == 30 * 60
    assert clocks.resolution.elapsed_seconds == 4 * 3600  # 3 h before, 1 h since the reopen
    assert clocks.resolution.due_at == local(2025, 6, 4, 14)
    assert clocks.resolution.state == ClockState.RUNNING


def test_warning_at_75_percent_and_breach_past_100() -> None:
    opened = local(2025, 6, 3, 9)
    targets = Targets(60, None, 240)
    at = {
        m: compute(opened, [], targets, always(), opened + dt.timedelta(minutes=m))
        for m in (179, 180, 240, 241)
    }
    assert not at[179].resolution.warning
    assert at[180].resolution.warning
    assert at[180].resolution.state == ClockState.RUNNING
    assert at[240].resolution.state == ClockState.RUNNING
    assert at[240].resolution.percent == 100
    assert at[241].resolution.state == ClockState.BREACHED
    assert at[241].resolution.due_at == local(2025, 6, 3, 13)
    assert at[241].resolution.remaining_seconds == pytest.approx(-60)


def test_arrival_stops_at_the_first_arrival_not_at_the_finish() -> None:
    opened = local(2025, 6, 3, 9)
    marks = [
        Mark(opened, "created", "new"),
        Mark(local(2025, 6, 3, 9, 5), "assigned", "assigned", True),
        Mark(local(2025, 6, 3, 10, 40), "arrived"),
        Mark(local(2025, 6, 3, 16, 40), "arrived"),
    ]
    arrival = compute(opened, marks, Targets(15, 120, 480), always(), local(2025, 6, 3, 18)).arrival
    assert arrival is not None
    assert (arrival.state, arrival.elapsed_seconds) == (ClockState.MET, 100 * 60)
    assert arrival.stopped_at == local(2025, 6, 3, 10, 40)
