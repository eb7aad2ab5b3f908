"""The service desk's rules on a real database: the status table, numbers, priorities,
policies, assignment, visits, refusals that leave nothing behind, immutable events."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from branchops.alerts.models import Alert
from branchops.cmdb.choices import SiteKind
from branchops.core.choices import Role
from branchops.core.testing import make_site, make_user
from branchops.servicedesk import services, sla
from branchops.servicedesk.choices import ClockState, EventKind, TicketStatus
from branchops.servicedesk.models import Category, SlaPolicy, Ticket, TicketEvent
from branchops.servicedesk.services import TRANSITIONS, Refused
from branchops.servicedesk.tests.support import engineer, local, make_group, make_ticket

pytestmark = pytest.mark.django_db

ALL_MOVES = [(a, b) for a in TicketStatus for b in TicketStatus]


def ticket_in(status: TicketStatus) -> Ticket:
    """A ticket with an engineer, put straight into ``status`` (as if it had got there)."""
    person = engineer()
    ticket = make_ticket(assignee=person, created_at=timezone.now() - dt.timedelta(hours=1))
    Ticket.objects.filter(pk=ticket.pk).update(status=status)
    ticket.refresh_from_db()
    return ticket


@pytest.mark.parametrize(
    ("source", "target"), [m for m in ALL_MOVES if m[1] not in TRANSITIONS[m[0]]]
)
def test_every_illegal_move_is_refused_and_changes_nothing(
    source: TicketStatus, target: TicketStatus
) -> None:
    ticket = ticket_in(source)
    events = TicketEvent.objects.filter(ticket=ticket).count()
    with pytest.raises(Refused) as refused:
        services.move(ticket, target, by=ticket.assignee, note="because")
    assert str(source.label) in refused.value.message
    assert refused.value.status == 409
    ticket.refresh_from_db()
    assert ticket.status == source
    assert TicketEvent.objects.filter(ticket=ticket).count() == events


@pytest.mark.parametrize(("source", "target"), [m for m in ALL_MOVES if m[1] in TRANSITIONS[m[0]]])
def test_every_legal_move_is_made_with_one_event(
    source: TicketStatus, target: TicketStatus
) -> None:
    ticket = ticket_in(source)
    services.move(ticket, target, by=ticket.assignee, note="why")
    assert ticket.status == target
    last = TicketEvent.objects.filter(ticket=ticket).last()
    assert last is not None
    assert (last.from_status, last.to_status, last.detail) == (source, target, "why")
    expected = EventKind.REOPENED if target == TicketStatus.REOPENED else EventKind.STATUS
    assert last.kind == expected


def test_numbers_count_per_kind_and_year() -> None:
    first = make_ticket(created_at=local(2025, 12, 31, 23, 59))
    second = make_ticket(created_at=local(2026, 1, 1, 0, 1))
    request = make_ticket(kind="request", request_type="remote_support")
    complaint = make_ticket(kind="complaint")
    year = timezone.localtime().year
    assert first.number == "INC-2025-000001"
    assert second.number == "INC-2026-000001"
    assert request.number == f"REQ-{year}-000001"
    assert complaint.number == f"CMP-{year}-000001"
    assert make_ticket(created_at=local(2025, 12, 1)).number == "INC-2025-000002"


def test_priority_comes_from_the_matrix() -> None:
    ticket = make_ticket(impact=1, urgency=1)
    assert ticket.priority == 1
    assert ticket.sla_policy is not None
    assert ticket.sla_policy.name == "P1 7x24"
    assert make_ticket(impact=3, urgency=3).priority == 4
    assert make_ticket(impact=2, urgency=1).priority == 2


def test_policy_choice_order() -> None:
    network = Category.objects.create(code="network", name="Network")
    firewall = Category.objects.create(code="firewall", name="Firewall", parent=network)
    dc = make_site(SiteKind.HQ_DATA_CENTRE)
    base = SlaPolicy.objects.get(priority=2, category__isnull=True)
    on_network = policy_for_category(network, "network P2")
    in_dc = policy_for_category(network, "network P2 in a data centre", SiteKind.HQ_DATA_CENTRE)
    on_firewall = policy_for_category(firewall, "firewall P2")
    choose = services.policy_for
    assert choose(2, None, dc) == base
    assert choose(2, network, make_site()) == on_network
    assert choose(2, network, dc) == in_dc
    assert choose(2, firewall, dc) == on_firewall  # own category beats the site kind
    on_firewall.active = False
    on_firewall.save()
    assert choose(2, firewall, dc) == in_dc
    assert choose(2, firewall, None) == on_network


def policy_for_category(category: Category, name: str, site_kind: str = "") -> SlaPolicy:
    base = SlaPolicy.objects.get(priority=2, category__isnull=True)
    return SlaPolicy.objects.create(
        name=name, priority=2, category=category, site_kind=site_kind, calendar=base.calendar,
        response_minutes=10, resolution_minutes=100,
    )  # fmt: skip


def test_assignment_checks_membership_and_moves_new_to_assigned() -> None:
    group = make_group(name="Network")
    member, outsider = engineer(group), engineer()
    ticket = make_ticket()
    with pytest.raises(Refused) as refused:
        services.assign(ticket, group=group, assignee=outsider, by=member)
    assert refused.value.field == "assignee"
    assert ticket.events.count() == 1
    services.assign(ticket, group=group, assignee=None, by=member)
    assert (ticket.status, ticket.assignee) == (TicketStatus.ASSIGNED, None)
    services.assign(ticket, group=group, assignee=member, by=member, note="yours")
    assert ticket.assignee == member
    kinds = list(ticket.events.values_list("kind", "from_status", "to_status"))
    assert kinds == [("created", "", "new"), ("assigned", "new", "assigned"), ("assigned", "", "")]
    # The same again changes nothing and writes nothing.
    services.assign(ticket, group=group, assignee=member, by=member)
    assert ticket.events.count() == 3


def test_work_cannot_start_without_a_person_and_pauses_need_a_reason() -> None:
    ticket = make_ticket()
    with pytest.raises(Refused, match="person"):
        services.move(ticket, "in_progress", by=None)
    services.assign(ticket, group=None, assignee=engineer(), by=None)
    services.move(ticket, "in_progress", by=None)
    with pytest.raises(Refused) as refused:
        services.move(ticket, "pending_vendor", by=None, note=" ")
    assert (refused.value.status, refused.value.field) == (400, "note")
    with pytest.raises(Refused):
        services.move(ticket, "teleported", by=None)


def test_times_in_the_future_or_before_the_ticket_are_refused() -> None:
    ticket = make_ticket(created_at=timezone.now() - dt.timedelta(hours=2))
    future = timezone.now() + dt.timedelta(minutes=5)
    before = ticket.created_at - dt.timedelta(minutes=1)
    for call in (
        lambda: services.record_visit(ticket, by=None, arrived_at=future),
        lambda: services.record_visit(ticket, by=None, departed_at=before),
        lambda: services.worklog(ticket, by=None, note="x", at=future),
        lambda: services.move(ticket, "assigned", by=None, at=before),
        lambda: services.open_ticket(
            kind="incident", title="t", source="phone", impact=2, urgency=2, by=None,
            created_at=future,
        ),
    ):  # fmt: skip
        with pytest.raises(Refused) as refused:
            call()
        assert refused.value.status == 400
    assert ticket.events.count() == 1
    assert Ticket.objects.count() == 1


def test_a_visit_feeds_the_arrival_clock() -> None:
    opened = timezone.now() - dt.timedelta(hours=3)
    person = engineer()
    ticket = make_ticket(impact=1, urgency=1, assignee=person, created_at=opened)
    events = services.record_visit(
        ticket,
        by=person,
        departed_at=opened + dt.timedelta(minutes=20),
        arrived_at=opened + dt.timedelta(minutes=90),
        note="spare firewall in the car",
    )
    assert [e.kind for e in events] == ["departed", "arrived"]
    with pytest.raises(Refused, match="order"):
        services.record_visit(
            ticket, by=person, arrived_at=opened + dt.timedelta(hours=2),
            finished_at=opened + dt.timedelta(hours=1),
        )  # fmt: skip
    clocks = sla.clocks_of(ticket, timezone.now())
    assert clocks is not None
    assert clocks.arrival is not None
    assert clocks.arrival.state == ClockState.MET
    assert clocks.arrival.elapsed_seconds == pytest.approx(90 * 60)
    services.record_visit(ticket, by=person, finished_at=opened + dt.timedelta(hours=2))
    with pytest.raises(Refused, match="arrival"):
        services.record_visit(make_ticket(), by=person, finished_at=timezone.now())


def test_events_are_never_updated_or_deleted() -> None:
    ticket = make_ticket()
    event = ticket.events.get()
    event.detail = "rewritten"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        TicketEvent.objects.filter(ticket=ticket).update(detail="x")
    with pytest.raises(TypeError):
        TicketEvent.objects.filter(ticket=ticket).delete()
    assert ticket.events.get().detail != "rewritten"


def test_compare_and_set_refuses_a_stale_copy() -> None:
    ticket = ticket_in(TicketStatus.IN_PROGRESS)
    stale = Ticket.objects.get(pk=ticket.pk)
    services.move(ticket, "resolved", by=None, note="fixed")
    # The stale copy still says in progress; the move is judged on the row as it is now.
    with pytest.raises(Refused) as refused:
        services.move(stale, "pending_customer", by=None, note="waiting")
    assert str(TicketStatus.RESOLVED.label) in refused.value.message
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.RESOLVED


def test_reopen_continues_the_resolution_clock_and_edits_re_derive_the_policy() -> None:
    opened = timezone.now() - dt.timedelta(hours=5)
    person = engineer()
    ticket = make_ticket(impact=1, urgency=1, assignee=person, created_at=opened)
    services.move(ticket, "in_progress", by=person, at=opened + dt.timedelta(minutes=5))
    services.move(ticket, "resolved", by=person, note="rebooted", at=opened + dt.timedelta(hours=1))
    services.reopen(ticket, by=None, note="down again", at=opened + dt.timedelta(hours=4))
    clocks = sla.clocks_of(ticket, timezone.now())
    assert clocks is not None
    assert clocks.resolution.elapsed_seconds == pytest.approx(2 * 3600, abs=5)
    assert ticket.resolved_at is None
    services.update_ticket(ticket, by=person, changes={"impact": 3, "urgency": 3})
    assert (ticket.priority, ticket.sla_policy.name) == (4, "P4 5x8")  # type: ignore[union-attr]
    assert "priority: P1 → P4" in ticket.events.last().detail  # type: ignore[union-attr]


def test_an_alert_opens_an_incident_linked_both_ways() -> None:
    now = timezone.now()
    down = Alert.objects.create(
        fingerprint="fw", source="check", name="device-down", severity=1,
        title="BR-0042 firewall down", started_at=now, last_seen_at=now,
    )  # fmt: skip
    ticket = make_ticket(source="alert", alerts=[down])
    assert list(down.tickets.all()) == [ticket]
    assert ticket.events.filter(kind="alert_linked").count() == 1
    assert services.link_alert(ticket, down, by=None) is False


def test_sla_warnings_and_breaches_are_noted_once() -> None:
    opened = timezone.now() - dt.timedelta(minutes=200)
    # P1: 15 min response, 2 h arrival, 4 h resolution; at 200 min the first two are
    # breached and the resolution clock is past 75 %.
    ticket = make_ticket(impact=1, urgency=1, created_at=opened)
    assert services.note_sla_crossings(timezone.now()) == 5
    assert services.note_sla_crossings(timezone.now()) == 0
    noted = set(ticket.events.exclude(clock="").values_list("kind", "clock"))
    assert noted == {
        ("sla_warning", "response"), ("sla_breach", "response"),
        ("sla_warning", "arrival"), ("sla_breach", "arrival"), ("sla_warning", "resolution"),
    }  # fmt: skip
    assert services.note_sla_crossings(timezone.now() + dt.timedelta(hours=1)) == 1


def test_attachments_are_checked_and_stored_under_home(settings: object) -> None:
    ticket = make_ticket()
    user = make_user(Role.OPS_ENGINEER)
    saved = services.attach(
        ticket, by=user, name="../../screenshot.png", content=b"\x89PNG", content_type="image/png"
    )
    assert saved.name == "screenshot.png"
    with saved.file.open("rb") as stored:
        assert stored.read() == b"\x89PNG"
    assert ticket.events.filter(kind="attachment").count() == 1
    with pytest.raises(Refused, match="type"):
        services.attach(
            ticket, by=user, name="x.exe", content=b"MZ", content_type="application/x-msdownload"
        )
    settings.SERVICEDESK_MAX_ATTACHMENT_BYTES = 3  # type: ignore[attr-defined]
    with pytest.raises(Refused, match="larger"):
        services.attach(ticket, by=user, name="big.txt", content=b"1234", content_type="text/plain")
