"""The demo history: enough tickets a year, every ticket's events in time order and along
allowed moves (the services' rules), open tickets only near the end, and the same draw for
the same seed."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter, defaultdict
from typing import Any

import pytest
from django.db import transaction
from rich.console import Console

from branchops.lab.estate import build, load
from branchops.servicedesk import history, services
from branchops.servicedesk.choices import DONE_STATUSES, EventKind, TicketStatus
from branchops.servicedesk.models import AssignmentGroup, Ticket, TicketEvent, TicketSequence
from branchops.servicedesk.tests.support import local

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 30)
NOW = local(2026, 6, 30, 18, 0)
QUIET = Console(file=io.StringIO())


@pytest.fixture
def estate() -> None:
    load(build(4, seed=1, today=TODAY))


def problems(ticket: Ticket, events: list[TicketEvent], members: dict[int, set[int]]) -> list[str]:
    """What the services would have refused, replaying the events in the order written."""
    found = []
    first = events[0]
    if (first.kind, first.to_status, first.at) != ("created", "new", ticket.created_at):
        found.append("does not start with its creation")
    status, person, last = TicketStatus.NEW, None, first.at
    for e in events[1:]:
        if e.at < last:
            found.append(f"{e.kind} at {e.at} before {last}")
        last = e.at
        if e.kind == EventKind.ASSIGNED:
            if e.assignee_id is not None and e.assignee_id not in members[e.group_id]:
                found.append("assigned to someone outside the group")
            person = e.assignee_id
        if e.to_status:
            if e.from_status != status:
                found.append(f"{e.kind} from {e.from_status} while {status}")
            if TicketStatus(e.to_status) not in services.TRANSITIONS[TicketStatus(status)]:
                found.append(f"{status} -> {e.to_status}")
            if e.to_status == "in_progress" and person is None:
                found.append("in progress without a person")
            if e.to_status in services.NOTE_REQUIRED and not e.detail:
                found.append(f"{e.to_status} without a note")
            status = TicketStatus(e.to_status)
    if status != ticket.status:
        found.append(f"ends {status}, ticket says {ticket.status}")
    return found


def test_two_years_of_tickets_that_obey_the_services(estate: None) -> None:
    summary = history.ensure_history(7, today=TODAY, now=NOW, console=QUIET)
    assert summary is not None
    assert summary.tickets == Ticket.objects.count()
    per_year: Counter[int] = Counter()
    for created in Ticket.objects.values_list("created_at", flat=True):
        per_year[(NOW - created).days // 365] += 1  # 0: the last 365 days, 1: the year before
    assert sorted(per_year) == [0, 1]
    assert per_year[0] >= 2000, per_year
    assert per_year[1] >= 2000, per_year
    members = {
        g.pk: set(g.members.values_list("pk", flat=True)) for g in AssignmentGroup.objects.all()
    }
    events: dict[int, list[TicketEvent]] = defaultdict(list)
    for e in TicketEvent.objects.order_by("id"):
        events[e.ticket_id].append(e)
    wrong = {}
    for ticket in Ticket.objects.all():
        found = problems(ticket, events[ticket.pk], members)
        if found:
            wrong[ticket.number] = found
        assert ticket.created_at <= NOW
        assert events[ticket.pk][-1].at <= NOW
    assert wrong == {}
    statuses = Counter(Ticket.objects.values_list("status", flat=True))
    assert statuses["closed"] > 0.95 * summary.tickets
    old_open = Ticket.objects.exclude(status__in=DONE_STATUSES).filter(
        created_at__lt=NOW - dt.timedelta(days=30)
    )
    assert not old_open.exists()
    kinds = Counter(TicketEvent.objects.values_list("kind", flat=True))
    assert kinds["reopened"] > 0
    assert kinds["arrived"] > 0
    assert (
        Counter(TicketEvent.objects.values_list("to_status", flat=True))["pending_spare_part"] > 0
    )
    last_inc = max(
        n for n in Ticket.objects.values_list("number", flat=True) if n.startswith("INC-2026")
    )
    assert TicketSequence.objects.get(prefix="INC", year=2026).last == int(last_inc[-6:])
    assert history.ensure_history(7, today=TODAY, now=NOW, console=QUIET) is None  # once only


class _Undo(Exception):
    pass


def _fingerprint(seed: int) -> list[Any]:
    try:
        with transaction.atomic():
            drawn = history.draw(seed, TODAY, NOW)
            raise _Undo([
                (d.ticket.created_at, d.ticket.kind, d.ticket.priority, d.ticket.site_id,
                 [(e.kind, e.at, e.to_status) for e in d.timeline.events])
                for d in drawn
            ])  # fmt: skip
    except _Undo as undo:
        return list(undo.args[0])


def test_the_same_seed_draws_the_same_history(estate: None) -> None:
    first = _fingerprint(3)
    assert first == _fingerprint(3)
    assert first != _fingerprint(4)


def test_the_timeline_refuses_what_the_services_refuse() -> None:
    timeline = history.Timeline(NOW, None, "test")
    with pytest.raises(ValueError, match="needs a person"):
        timeline.move(NOW, "in_progress")
    with pytest.raises(ValueError, match="new -> closed"):
        timeline.move(NOW, "closed")
    with pytest.raises(ValueError, match="needs a note"):
        timeline.move(NOW, "resolved")
    with pytest.raises(ValueError, match="not a member"):
        timeline.assign(NOW, 1, 2, members={3})
