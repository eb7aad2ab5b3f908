"""SLA clocks, computed from a ticket's event log and its policy's business calendar.

Nothing here stores a deadline. A clock is the open business time (``core.calendars``)
during which the ticket was *running* (new, assigned, in progress, reopened), from its
creation until the clock's stop event; pending customer, vendor or spare part stop it, and
resolved or closed stop the resolution clock until a reopen (decision 0016):

* response stops at the first assignment to a person, or the first move to in progress, a
  pending status or resolved;
* arrival (only when the policy promises one) stops at the first on-site arrival, or at the
  first resolution when the ticket was fixed without a visit;
* resolution stops when the ticket is resolved and runs again after a reopen, continuing
  from where it stopped.

A clock warns at 75 % of its target and is breached once its elapsed time exceeds the
target. :func:`compute` is pure (events, targets, a calendar snapshot, ``now``), and fast:
every moment becomes one calendar position (a lookup), so a batch of 100,000 tickets takes
seconds. :func:`clocks_for` fetches what :func:`compute` needs for many tickets at once.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from branchops.core import calendars
from branchops.core.calendars import Calendar
from branchops.servicedesk.choices import (
    DONE_STATUSES,
    PAUSE_STATUSES,
    RUNNING_STATUSES,
    ClockKind,
    ClockState,
    EventKind,
    TicketStatus,
)
from branchops.servicedesk.models import SlaPolicy, Ticket, TicketEvent

WARNING_PERCENT = 75.0
_US = 1_000_000
_RESPONDED_BY = frozenset(
    {TicketStatus.IN_PROGRESS.value, TicketStatus.RESOLVED.value, *PAUSE_STATUSES}
)
_FOREVER = 1 << 62
_CLOCK_EVENTS = (
    EventKind.CREATED,
    EventKind.STATUS,
    EventKind.ASSIGNED,
    EventKind.REOPENED,
    EventKind.ARRIVED,
)


class Mark(NamedTuple):
    """One event as the clocks see it; ``to_status`` is empty unless the status changed."""

    at: dt.datetime
    kind: str
    to_status: str = ""
    to_person: bool = False  # an assignment to a person (not only to a group)


@dataclass(frozen=True, slots=True)
class Targets:
    """A policy's targets in minutes; ``arrival`` None: no arrival promise."""

    response: int
    arrival: int | None
    resolution: int

    @classmethod
    def of(cls, policy: SlaPolicy) -> Targets:
        return cls(policy.response_minutes, policy.arrival_minutes, policy.resolution_minutes)


@dataclass(frozen=True, slots=True)
class Clock:
    """One SLA clock at ``now``.

    ``remaining_seconds`` is negative once breached. ``due_at`` is when the target is (or
    was) reached while running: in the future for a running clock, in the past for a
    breached one; None while paused, or when the clock stopped before reaching it.
    """

    kind: ClockKind
    target_seconds: float
    elapsed_seconds: float
    remaining_seconds: float
    percent: float
    state: ClockState
    warning: bool
    due_at: dt.datetime | None
    stopped_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class TicketClocks:
    response: Clock
    arrival: Clock | None
    resolution: Clock
    calendar: str

    def all(self) -> list[Clock]:
        return [c for c in (self.response, self.arrival, self.resolution) if c is not None]

    @property
    def breached(self) -> bool:
        return any(c.state == ClockState.BREACHED for c in self.all())

    @property
    def warning(self) -> bool:
        return any(c.warning for c in self.all())


def compute(
    created_at: dt.datetime,
    marks: Sequence[Mark],
    targets: Targets,
    cal: Calendar,
    now: dt.datetime,
) -> TicketClocks:
    """The clocks of one ticket at ``now`` from its events (sorted by time, or not).

    Events after ``now`` are ignored, so a clock can be replayed at any past moment.
    """
    position = cal.position
    ordered = sorted(marks, key=_at) if not _is_sorted(marks) else marks
    status = TicketStatus.NEW.value
    runs: list[tuple[int, int]] = []  # running intervals as calendar positions
    run_from: int | None = position(created_at)
    responded: int | None = None
    arrived: int | None = None
    stops: dict[str, dt.datetime] = {}
    for mark in ordered:
        if mark.at > now:
            break
        if mark.at < created_at:
            continue
        p = position(mark.at)
        if responded is None and (mark.to_person or mark.to_status in _RESPONDED_BY):
            responded, stops["response"] = p, mark.at
        if arrived is None and (
            mark.kind == EventKind.ARRIVED or mark.to_status == TicketStatus.RESOLVED
        ):
            arrived, stops["arrival"] = p, mark.at
        if mark.to_status and mark.to_status != status:
            if mark.to_status in DONE_STATUSES and status not in DONE_STATUSES:
                stops["resolution"] = mark.at
            status = mark.to_status
            if status in RUNNING_STATUSES:
                if run_from is None:
                    run_from = p
            elif run_from is not None:
                runs.append((run_from, p))
                run_from = None
    now_pos = position(now)
    if run_from is not None:
        runs.append((run_from, _FOREVER))
    paused = status in PAUSE_STATUSES
    done = status in DONE_STATUSES

    def clock(kind: ClockKind, minutes: int, stop: int | None) -> Clock:
        return _clock(
            kind,
            target_minutes=minutes,
            stop=stop,
            runs=runs,
            now_pos=now_pos,
            paused=paused,
            stops=stops,
            cal=cal,
        )

    response = clock(ClockKind.RESPONSE, targets.response, responded)
    arrival = None
    if targets.arrival is not None:
        arrival = clock(ClockKind.ARRIVAL, targets.arrival, arrived)
    resolution = clock(ClockKind.RESOLUTION, targets.resolution, now_pos if done else None)
    return TicketClocks(response, arrival, resolution, cal.code)


def _at(mark: Mark) -> dt.datetime:
    return mark.at


def _is_sorted(marks: Sequence[Mark]) -> bool:
    return all(a.at <= b.at for a, b in itertools.pairwise(marks))


def _clock(
    kind: ClockKind,
    *,
    target_minutes: int,
    runs: list[tuple[int, int]],
    stop: int | None,
    now_pos: int,
    paused: bool,
    stops: dict[str, dt.datetime],
    cal: Calendar,
) -> Clock:
    """One clock from the running intervals, cut at its stop position (or at ``now``)."""
    target = target_minutes * 60 * _US
    end = now_pos if stop is None else min(stop, now_pos)
    clip = _FOREVER if stop is None else stop
    elapsed = 0
    due: int | None = None
    reached = 0
    for a, b in runs:
        if a < end:
            elapsed += min(b, end) - a
        if due is None and a < clip:
            span = min(b, clip) - a
            if reached + span >= target:
                due = a + (target - reached)  # where the target is met, if it ever is
            reached += span
    if elapsed > target:
        state = ClockState.BREACHED
    elif stop is not None:
        state = ClockState.MET
    else:
        state = ClockState.PAUSED if paused else ClockState.RUNNING
    show_due = state in {ClockState.BREACHED, ClockState.RUNNING}
    return Clock(
        kind=kind,
        target_seconds=target / _US,
        elapsed_seconds=elapsed / _US,
        remaining_seconds=(target - elapsed) / _US,
        percent=round(100.0 * elapsed / target, 2),
        state=state,
        warning=stop is None and elapsed * 100 >= target * WARNING_PERCENT,
        due_at=cal.moment(due) if show_due and due is not None else None,
        stopped_at=stops.get(kind.value) if stop is not None else None,
    )


# --- Many tickets at once ----------------------------------------------------------------


def marks_by_ticket(ticket_ids: Iterable[int]) -> dict[int, list[Mark]]:
    """The clock-relevant events of these tickets, in order, in one query."""
    rows = (
        TicketEvent.objects.filter(
            ticket_id__in=list(ticket_ids),
            kind__in=_CLOCK_EVENTS,
        )
        .order_by("at", "id")
        .values_list("ticket_id", "at", "kind", "to_status", "assignee_id")
    )
    found: dict[int, list[Mark]] = defaultdict(list)
    for ticket_id, at, kind, to_status, assignee_id in rows:
        person = kind == EventKind.ASSIGNED and assignee_id is not None
        found[ticket_id].append(Mark(at, kind, to_status, person))
    return found


def clocks_for(tickets: Sequence[Ticket], now: dt.datetime) -> dict[int, TicketClocks]:
    """The clocks of many tickets (those with an SLA policy), with two or three queries."""
    with_policy = [t for t in tickets if t.sla_policy_id is not None]
    if not with_policy:
        return {}
    policies = {
        p.pk: p
        for p in SlaPolicy.objects.select_related("calendar").filter(
            pk__in={t.sla_policy_id for t in with_policy}
        )
    }
    snapshots = {pk: calendars.load(p.calendar) for pk, p in policies.items()}
    targets = {pk: Targets.of(p) for pk, p in policies.items()}
    marks = marks_by_ticket(t.pk for t in with_policy)
    result = {}
    for ticket in with_policy:
        pk = ticket.sla_policy_id
        assert pk is not None
        result[ticket.pk] = compute(
            ticket.created_at, marks.get(ticket.pk, []), targets[pk], snapshots[pk], now
        )
    return result


def clocks_of(ticket: Ticket, now: dt.datetime) -> TicketClocks | None:
    """The clocks of one ticket; None when no SLA policy applies to it."""
    return clocks_for([ticket], now).get(ticket.pk)
