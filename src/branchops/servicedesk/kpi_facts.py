"""What the KPIs need to know about each ticket, read from its event log, and the cache that
keeps it for tickets that are done (decision 0017).

A resolved or closed ticket's facts no longer change with time: every SLA clock has stopped
(response at the first response or the resolution, arrival at the first arrival or the
resolution, resolution at the resolution), and first-time fix is settled. They change only
when the ticket gets a new event (a reopen, a late work log, an answer), or when its SLA
policy, the policy's targets or its calendar change. So :class:`TicketSummary` keeps them,
keyed on the ticket's newest event id and a ``basis`` string naming the policy, targets and
calendar revision; a row whose key no longer matches is computed again from the events and
overwritten. Open tickets are always computed afresh (their clocks run with ``now``).

Cost of a request: one query for the tickets with their summary, newest event and
satisfaction score (joins and one correlated subquery), one for the policies, and the clock
events of only the open and stale tickets.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Max, OuterRef, QuerySet, Subquery
from django.utils import timezone

from branchops.core import calendars
from branchops.core.calendars import Calendar
from branchops.servicedesk import sla
from branchops.servicedesk.choices import (
    DONE_STATUSES,
    PAUSE_STATUSES,
    ClockState,
    EventKind,
    TicketStatus,
)
from branchops.servicedesk.models import SlaPolicy, Ticket, TicketEvent, TicketSummary

CHUNK = 2000
"""Tickets per ``IN (...)`` list (SQLite limits the number of parameters)."""

_RESPONDED_BY = frozenset(
    {TicketStatus.IN_PROGRESS.value, TicketStatus.RESOLVED.value, *PAUSE_STATUSES}
)
_CLOCK_EVENTS = (
    EventKind.CREATED,
    EventKind.STATUS,
    EventKind.ASSIGNED,
    EventKind.REOPENED,
    EventKind.ARRIVED,
)
_MET, _BREACHED = ClockState.MET.value, ClockState.BREACHED.value
_CACHED = (
    "response_wall_s",
    "resolution_wall_s",
    "response_business_s",
    "resolution_business_s",
    "response_sla",
    "arrival_sla",
    "resolution_sla",
    "first_time_fix",
)


@dataclass(slots=True)
class TicketFacts:
    """One ticket as the KPIs see it.

    ``*_sla`` is the clock's state (``met``, ``breached``, ``running``, ``paused``), or ""
    when the ticket has no such clock (no policy, or a policy without an arrival target).
    """

    id: int
    created_at: dt.datetime
    kind: str
    priority: int
    site_id: int | None
    category_id: int | None
    open: bool
    response_wall_s: float | None = None  # created_at to the first response
    resolution_wall_s: float | None = None  # to the last resolution, when resolved or closed
    response_business_s: float | None = None
    resolution_business_s: float | None = None
    response_sla: str = ""
    arrival_sla: str = ""
    resolution_sla: str = ""
    first_time_fix: bool | None = None  # None: not resolved or closed now
    satisfaction: int | None = None  # the reporter's score, 1-5

    @property
    def sla_met(self) -> bool | None:
        """False: a clock breached; True: every clock stopped within its target; None:
        no policy, or not decided yet."""
        states = [s for s in (self.response_sla, self.arrival_sla, self.resolution_sla) if s]
        if not states:
            return None
        if _BREACHED in states:
            return False
        return True if all(s == _MET for s in states) else None


Row = tuple[dt.datetime, str, str, int | None]
"""One clock event: ``(at, kind, to_status, assignee_id)``."""


def facts_from_events(
    facts: TicketFacts,
    rows: Iterable[Row],
    policy: tuple[sla.Targets, Calendar] | None,
    now: dt.datetime,
) -> TicketFacts:
    """Fill ``facts`` from the ticket's clock events (in time order) and its policy."""
    marks: list[sla.Mark] = []
    people: set[int] = set()
    reopens = arrivals = 0
    responded: dt.datetime | None = None
    last_resolved: dt.datetime | None = None
    for at, event_kind, to_status, assignee_id in rows:
        to_person = event_kind == EventKind.ASSIGNED and assignee_id is not None
        marks.append(sla.Mark(at, event_kind, to_status, to_person))
        if to_person:
            people.add(assignee_id)  # type: ignore[arg-type]
        if responded is None and (to_person or to_status in _RESPONDED_BY):
            responded = at
            facts.response_wall_s = (at - facts.created_at).total_seconds()
        if event_kind == EventKind.REOPENED:
            reopens += 1
        elif event_kind == EventKind.ARRIVED:
            arrivals += 1
        if to_status == TicketStatus.RESOLVED:
            last_resolved = at
    done = not facts.open
    if done and last_resolved is not None:
        facts.resolution_wall_s = (last_resolved - facts.created_at).total_seconds()
    if done:
        facts.first_time_fix = reopens == 0 and arrivals <= 1 and len(people) <= 1
    if policy is not None:
        found = sla.compute(facts.created_at, marks, policy[0], policy[1], now)
        if found.response.stopped_at is not None:
            facts.response_business_s = found.response.elapsed_seconds
        if done:
            facts.resolution_business_s = found.resolution.elapsed_seconds
        facts.response_sla = found.response.state.value
        facts.arrival_sla = found.arrival.state.value if found.arrival is not None else ""
        facts.resolution_sla = found.resolution.state.value
    return facts


# --- policies --------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyBasis:
    targets: sla.Targets
    calendar: Calendar
    basis: str  # what a cached summary was computed against


def policies(ids: Iterable[int]) -> dict[int, PolicyBasis]:
    found = SlaPolicy.objects.select_related("calendar").filter(pk__in=set(ids))
    return {
        p.pk: PolicyBasis(
            sla.Targets.of(p),
            calendars.load(p.calendar),
            f"{p.pk}:{p.response_minutes}:{p.arrival_minutes}:{p.resolution_minutes}:"
            f"{p.calendar_id}@{p.calendar.revision}",
        )
        for p in found
    }


# --- many tickets ----------------------------------------------------------------------


def load(tickets: QuerySet[Ticket], now: dt.datetime) -> list[TicketFacts]:
    """The facts of these tickets: cached ones as stored, the rest from their events (and
    the cache refreshed for those that are done)."""
    # The newest event by MAX over the ticket's own events (its foreign-key index), not by
    # ORDER BY id DESC LIMIT 1, which a planner may serve by scanning every event backwards.
    newest = (
        TicketEvent.objects.filter(ticket_id=OuterRef("pk"))
        .order_by()
        .values("ticket_id")
        .annotate(newest=Max("id"))
        .values("newest")
    )
    rows = list(
        tickets.order_by()
        .annotate(newest_event=Subquery(newest))
        .values_list(
            "id",
            "created_at",
            "kind",
            "priority",
            "site_id",
            "category_id",
            "sla_policy_id",
            "status",
            "newest_event",
            "satisfaction__score",
            "kpi_summary__last_event_id",
            "kpi_summary__basis",
            *(f"kpi_summary__{name}" for name in _CACHED),
        )
    )
    known = policies({r[6] for r in rows if r[6] is not None})
    found: list[TicketFacts] = []
    stale: list[tuple[TicketFacts, int | None, int]] = []
    for row in rows:
        pk, created_at, kind, priority, site_id, category_id, policy_id, status = row[:8]
        newest_id, score, cached_event, cached_basis = row[8:12]
        facts = TicketFacts(
            pk,
            created_at,
            kind,
            priority,
            site_id,
            category_id,
            open=status not in DONE_STATUSES,
            satisfaction=score,
        )
        basis = _basis(known, policy_id)
        if not facts.open and cached_event == newest_id and cached_basis == basis:
            for name, value in zip(_CACHED, row[12:], strict=True):
                setattr(facts, name, value)
        else:
            stale.append((facts, policy_id, newest_id or 0))
        found.append(facts)
    _compute(stale, known, now)
    return found


def _basis(known: dict[int, PolicyBasis], policy_id: int | None) -> str:
    if policy_id is None:
        return "none"
    policy = known.get(policy_id)
    return policy.basis if policy is not None else "missing"


def _compute(
    stale: Sequence[tuple[TicketFacts, int | None, int]],
    known: dict[int, PolicyBasis],
    now: dt.datetime,
) -> None:
    """Compute the stale tickets from their events; store the done ones' summaries."""
    for start in range(0, len(stale), CHUNK):
        chunk = stale[start : start + CHUNK]
        events = _clock_events([facts.id for facts, _p, _e in chunk])
        keep: list[TicketSummary] = []
        for facts, policy_id, newest_id in chunk:
            policy = known.get(policy_id) if policy_id is not None else None
            target = (policy.targets, policy.calendar) if policy is not None else None
            facts_from_events(facts, events.get(facts.id, ()), target, now)
            if not facts.open:
                keep.append(_summary(facts, newest_id, _basis(known, policy_id)))
        store(keep)


def _clock_events(ids: list[int]) -> dict[int, list[Row]]:
    found: defaultdict[int, list[Row]] = defaultdict(list)
    for ticket_id, *event in (
        TicketEvent.objects.filter(ticket_id__in=ids, kind__in=_CLOCK_EVENTS)
        .order_by("ticket_id", "at", "id")
        .values_list("ticket_id", "at", "kind", "to_status", "assignee_id")
    ):
        found[ticket_id].append(tuple(event))  # type: ignore[arg-type]
    return found


def _summary(facts: TicketFacts, newest_id: int, basis: str) -> TicketSummary:
    return TicketSummary(
        ticket_id=facts.id,
        last_event_id=newest_id,
        basis=basis,
        computed_at=timezone.now(),
        **{name: getattr(facts, name) for name in _CACHED},
    )


def store(rows: list[TicketSummary]) -> None:
    """Write (or overwrite) summaries; two requests writing the same row at once agree."""
    if rows:
        TicketSummary.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["ticket"],
            update_fields=["last_event_id", "basis", "computed_at", *_CACHED],
        )


def refresh(tickets: QuerySet[Ticket] | None = None, now: dt.datetime | None = None) -> int:
    """Bring the summaries of these tickets (default: all) up to date, so that the first
    KPI request does not pay for them; the number of done tickets among them.
    ``branchops demo`` calls it after writing the history."""
    found = load(tickets if tickets is not None else Ticket.objects.all(), now or timezone.now())
    return sum(1 for facts in found if not facts.open)
