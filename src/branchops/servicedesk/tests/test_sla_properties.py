"""Property tests of the SLA clocks, without a database: random legal ticket histories on
7x24, the Chinese 5x8 calendar (real holidays and make-up workdays) and trading sessions,
checked against a plain reference that walks the calendar's open periods day by day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from branchops.core import calendars
from branchops.servicedesk.choices import (
    DONE_STATUSES,
    PAUSE_STATUSES,
    RUNNING_STATUSES,
    ClockState,
    TicketStatus,
)
from branchops.servicedesk.services import TRANSITIONS
from branchops.servicedesk.sla import Mark, Targets, TicketClocks, compute
from branchops.servicedesk.tests.support import always, local, trading, workdays

CALENDARS = {"24x7": always(), "cn-workdays": workdays(2025), "xshg-trading": trading()}
SETTINGS = settings(derandomize=True, deadline=None, max_examples=150)
START = local(2025, 1, 1)


@st.composite
def histories(draw: st.DrawFn) -> tuple[dt.datetime, list[Mark], dt.datetime]:
    """A legal walk through the status table with gaps of minutes to a week and a half."""
    created = START + dt.timedelta(minutes=draw(st.integers(0, 360 * 24 * 60)))
    at, status = created, TicketStatus.NEW
    marks = [Mark(created, "created", "new")]
    for _ in range(draw(st.integers(0, 10))):
        at += dt.timedelta(minutes=draw(st.integers(0, 11 * 24 * 60)))
        step = draw(st.sampled_from(["move", "move", "assign", "arrive"]))
        if step == "assign":
            marks.append(Mark(at, "assigned", "", draw(st.booleans())))
        elif step == "arrive":
            marks.append(Mark(at, "arrived"))
        elif TRANSITIONS[status]:
            status = draw(st.sampled_from(sorted(TRANSITIONS[status])))
            marks.append(Mark(at, "reopened" if status == "reopened" else "status", status))
    now = at + dt.timedelta(minutes=draw(st.integers(0, 14 * 24 * 60)))
    return created, marks, now


targets = st.builds(
    Targets,
    response=st.integers(1, 600),
    arrival=st.one_of(st.none(), st.integers(1, 2000)),
    resolution=st.integers(1, 6000),
)
calendar_codes = st.sampled_from(sorted(CALENDARS))


def open_seconds(cal: calendars.Calendar, a: dt.datetime, b: dt.datetime) -> float:
    return sum((y - x).total_seconds() for x, y in calendars.open_periods(cal, a, b))


def reference(
    created: dt.datetime, marks: Sequence[Mark], cal: calendars.Calendar, until: dt.datetime
) -> float:
    """Open seconds in running statuses from creation to ``until``, the slow way."""
    total, status, since = 0.0, "new", created
    for mark in marks:
        if mark.at > until:
            break
        if mark.to_status and mark.to_status != status:
            if status in RUNNING_STATUSES:
                total += open_seconds(cal, since, mark.at)
            status, since = mark.to_status, mark.at
    if status in RUNNING_STATUSES:
        total += open_seconds(cal, since, until)
    return total


def first(marks: Sequence[Mark], hit: object) -> dt.datetime | None:
    return next((m.at for m in marks if hit(m)), None)  # type: ignore[operator]


@SETTINGS
@given(histories(), targets, calendar_codes)
def test_elapsed_time_is_open_time_in_running_statuses(
    history: tuple[dt.datetime, list[Mark], dt.datetime], target: Targets, code: str
) -> None:
    created, marks, now = history
    cal = CALENDARS[code]
    clocks = compute(created, marks, target, cal, now)
    responded = first(
        marks, lambda m: m.to_person or m.to_status in {"in_progress", "resolved", *PAUSE_STATUSES}
    )
    arrived = first(marks, lambda m: m.kind == "arrived" or m.to_status == "resolved")
    assert clocks.resolution.elapsed_seconds == pytest.approx(
        reference(created, marks, cal, now), abs=1e-6
    )
    assert clocks.response.elapsed_seconds == pytest.approx(
        reference(created, marks, cal, min(responded or now, now)), abs=1e-6
    )
    if target.arrival is None:
        assert clocks.arrival is None
    else:
        assert clocks.arrival is not None
        assert clocks.arrival.elapsed_seconds == pytest.approx(
            reference(created, marks, cal, min(arrived or now, now)), abs=1e-6
        )
    assert clocks.resolution.elapsed_seconds <= calendars.business_seconds(cal, created, now) + 1e-6


@SETTINGS
@given(histories(), targets, calendar_codes)
def test_states_percentages_and_due_times_agree(
    history: tuple[dt.datetime, list[Mark], dt.datetime], target: Targets, code: str
) -> None:
    created, marks, now = history
    cal = CALENDARS[code]
    status = next((m.to_status for m in reversed(marks) if m.to_status), "new")
    clocks = compute(created, marks, target, cal, now)
    for clock in clocks.all():
        assert clock.remaining_seconds == pytest.approx(
            clock.target_seconds - clock.elapsed_seconds
        )
        assert clock.percent == pytest.approx(
            100 * clock.elapsed_seconds / clock.target_seconds, abs=0.01
        )
        assert (clock.state == ClockState.BREACHED) == (
            clock.elapsed_seconds > clock.target_seconds
        )
        if clock.state == ClockState.RUNNING:
            assert clock.due_at is not None
            assert clock.due_at >= now
            assert calendars.business_seconds(cal, now, clock.due_at) == pytest.approx(
                clock.remaining_seconds, abs=1e-6
            )
        if clock.state == ClockState.BREACHED:
            assert clock.due_at is not None
            assert clock.due_at <= now
        if clock.state in {ClockState.PAUSED, ClockState.MET}:
            assert clock.due_at is None
        if clock.state == ClockState.PAUSED:
            assert status in PAUSE_STATUSES
    resolution = clocks.resolution
    assert (resolution.state == ClockState.MET) <= (status in DONE_STATUSES)
    assert resolution.warning == (
        status not in DONE_STATUSES
        and resolution.elapsed_seconds * 100 >= resolution.target_seconds * 75
    )


@SETTINGS
@given(histories(), targets, calendar_codes, st.data())
def test_reassignment_never_moves_the_resolution_clock(
    history: tuple[dt.datetime, list[Mark], dt.datetime],
    target: Targets,
    code: str,
    data: st.DataObject,
) -> None:
    created, marks, now = history
    cal = CALENDARS[code]
    before = compute(created, marks, target, cal, now)
    # Reassign to people and groups at random moments, any number of times.
    extra = [
        Mark(created + dt.timedelta(minutes=minutes), "assigned", "", person)
        for minutes, person in data.draw(
            st.lists(st.tuples(st.integers(0, 30 * 24 * 60), st.booleans()), max_size=6)
        )
    ]
    after = compute(created, sorted(marks + extra, key=lambda m: m.at), target, cal, now)
    assert after.resolution == before.resolution
    assert after.arrival == before.arrival
    assert after.response.elapsed_seconds <= before.response.elapsed_seconds


@SETTINGS
@given(histories(), targets, calendar_codes, st.integers(0, 20 * 24 * 60))
def test_clocks_never_run_backwards(
    history: tuple[dt.datetime, list[Mark], dt.datetime], target: Targets, code: str, later: int
) -> None:
    created, marks, now = history
    cal = CALENDARS[code]
    earlier = compute(created, marks, target, cal, now)
    then = compute(created, marks, target, cal, now + dt.timedelta(minutes=later))
    for a, b in zip(earlier.all(), then.all(), strict=True):
        assert a.elapsed_seconds <= b.elapsed_seconds
        if a.stopped_at is not None and a.kind != "resolution":
            assert b == a  # a stopped response or arrival clock is final


@SETTINGS
@given(histories(), targets, calendar_codes)
def test_a_reopen_continues_the_resolution_clock(
    history: tuple[dt.datetime, list[Mark], dt.datetime], target: Targets, code: str
) -> None:
    created, marks, now = history
    cal = CALENDARS[code]
    reopens = [i for i, m in enumerate(marks) if m.to_status == "reopened"]
    if not reopens:
        return
    i = reopens[0]
    resolved_at = marks[i - 1].at
    at_resolution = compute(created, marks[:i], target, cal, resolved_at).resolution
    later = compute(created, marks, target, cal, now).resolution
    assert later.elapsed_seconds >= at_resolution.elapsed_seconds
    since = reference(marks[i].at, [Mark(marks[i].at, "x", "reopened"), *marks[i + 1 :]], cal, now)
    assert later.elapsed_seconds == pytest.approx(at_resolution.elapsed_seconds + since, abs=1e-6)


def test_the_histories_cover_pauses_reopens_and_every_calendar() -> None:
    # The strategy is only worth something if it reaches the interesting cases.
    statuses: set[str] = set()

    @settings(derandomize=True, deadline=None, max_examples=150)
    @given(histories())
    def collect(history: tuple[dt.datetime, list[Mark], dt.datetime]) -> None:
        statuses.update(m.to_status for m in history[1])

    collect()
    assert {"pending_spare_part", "reopened", "closed", "resolved"} <= statuses


def test_clocks_for_a_ticket_without_events_run_from_creation() -> None:
    clocks: TicketClocks = compute(
        local(2025, 6, 2, 9),
        [],
        Targets(60, None, 120),
        CALENDARS["24x7"],
        local(2025, 6, 2, 9, 45),
    )
    assert clocks.response.elapsed_seconds == 45 * 60
    assert clocks.response.warning
    assert clocks.response.state == ClockState.RUNNING
    assert clocks.response.due_at == local(2025, 6, 2, 10)
