"""Alerts open incidents by policy, end to end through the alert pipeline: the HQ
concentrator dies, exactly one incident goes to whoever is on call in the NOC; healing
resolves it when the policy says so. And the notification names the on-call person."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from branchops.alerts.choices import AlertStatus, NotificationKind
from branchops.alerts.models import Alert, Channel, EscalationStep, Notification
from branchops.alerts.notices import notice_for
from branchops.alerts.pipeline.core import AlertPipeline
from branchops.alerts.tests.support import (
    Clock,
    estate,
    hq,
    pipeline,
    reach,
    results,
    tunnels_to,
    webhook_route,
)
from branchops.core.models import User
from branchops.monitoring.collectors.base import State
from branchops.servicedesk import oncall
from branchops.servicedesk.alert_tickets import on_alert_pass
from branchops.servicedesk.models import AlertTicket, AssignmentGroup, Ticket, TicketPolicy
from branchops.servicedesk.tests.support import engineer

pytestmark = pytest.mark.django_db


@pytest.fixture
def noc() -> tuple[AssignmentGroup, User, User]:
    """The estate, a route, and the NOC with a daily rotation of two (Wei on call at the
    pipeline's clock, Li the day after)."""
    estate(6)
    webhook_route()
    group, _ = AssignmentGroup.objects.get_or_create(name="NOC")
    wei, li = engineer(group), engineer(group)
    User.objects.filter(pk=wei.pk).update(first_name="Wei", last_name="Zhang", phone="13800000000")
    at = dt.datetime.fromtimestamp(Clock().now, tz=dt.UTC)
    oncall.create_rotation(
        group=group, name="NOC daily", people=[wei, li],
        start_date=timezone.localtime(at).date() - dt.timedelta(days=2),
        handoff_time=dt.time(0), shift_hours=24,
    )  # fmt: skip
    assert oncall.who_is_on_call(group, at) == wei
    return group, wei, li


def shipped_policy(**changes: object) -> TicketPolicy:
    policy, _ = TicketPolicy.objects.get_or_create(
        name="Severity 1 opens an incident",
        defaults={"max_severity": 1, "oncall_group": AssignmentGroup.objects.get(name="NOC")},
    )
    for field, value in changes.items():
        setattr(policy, field, value)
    policy.save()
    return policy


def concentrator_down(p: AlertPipeline, clock: Clock) -> Alert:
    p.put_results(results([reach(hq().name), *tunnels_to(hq().name)], State.DOWN, clock.now))
    p.process()
    return Alert.objects.get(device=hq(), name="device-down")


def heal(p: AlertPipeline, clock: Clock) -> None:
    clock.advance(30)
    p.put_results(results([reach(hq().name), *tunnels_to(hq().name)], State.UP, clock.now))
    p.process()


def test_a_dead_concentrator_opens_one_incident_for_the_person_on_call(
    noc: tuple[AssignmentGroup, User, User],
) -> None:
    group, wei, _ = noc
    shipped_policy()
    clock = Clock()
    p, _ = pipeline(clock)
    root = concentrator_down(p, clock)

    ticket = Ticket.objects.get()
    assert (ticket.kind, ticket.source, ticket.priority) == ("incident", "alert", 1)
    assert (ticket.group, ticket.assignee, ticket.status) == (group, wei, "assigned")
    assert ticket.title == root.title
    assert ticket.site == root.site
    assert list(ticket.devices.all()) == [hq()]
    assert list(ticket.alerts.all()) == [root]  # the symptoms hang on the root
    assert list(root.tickets.all()) == [ticket]  # and back
    assert AlertTicket.objects.get().ticket == ticket
    assert ticket.created_at == root.started_at

    clock.advance(10)
    p.put_results(results([reach(hq().name)], State.DOWN, clock.now))
    p.process()
    p.load()  # as after an engine restart: the root is routed again ...
    p.process()
    on_alert_pass([root.pk], [], timezone.now())  # ... and asked about again
    assert Ticket.objects.count() == 1  # never a second ticket for one alert


def test_healing_resolves_the_ticket_when_the_policy_says_so(
    noc: tuple[AssignmentGroup, User, User],
) -> None:
    shipped_policy(auto_resolve=True)
    clock = Clock()
    p, _ = pipeline(clock)
    root = concentrator_down(p, clock)
    heal(p, clock)

    root.refresh_from_db()
    assert root.status == AlertStatus.RESOLVED
    ticket = Ticket.objects.get()
    assert ticket.status == "resolved"
    assert ticket.resolved_at == root.resolved_at
    last = ticket.events.order_by("at", "id").last()
    assert last is not None
    assert f"#{root.pk}" in last.detail
    assert last.actor is None


def test_without_auto_resolve_the_ticket_waits_for_a_person(
    noc: tuple[AssignmentGroup, User, User],
) -> None:
    shipped_policy(auto_resolve=False)
    clock = Clock()
    p, _ = pipeline(clock)
    concentrator_down(p, clock)
    heal(p, clock)
    assert Ticket.objects.get().status == "assigned"


def test_a_ticket_with_another_alert_still_firing_stays_open(
    noc: tuple[AssignmentGroup, User, User],
) -> None:
    shipped_policy(auto_resolve=True)
    clock = Clock()
    p, _ = pipeline(clock)
    root = concentrator_down(p, clock)
    started = timezone.now() - dt.timedelta(minutes=1)
    other = Alert.objects.create(
        fingerprint="syslog-1", source="syslog", name="vpn-flap", severity=2, status="firing",
        title="VPN flapping at the DR site", started_at=started, last_seen_at=started,
    )  # fmt: skip
    Ticket.objects.get().alerts.add(other)  # a person linked a second problem to it
    heal(p, clock)
    assert Ticket.objects.get().status == "assigned"

    Alert.objects.filter(pk=other.pk).update(status="resolved", resolved_at=timezone.now())
    on_alert_pass([], [root.pk], timezone.now())
    assert Ticket.objects.get().status == "resolved"


def test_no_policy_no_ticket_and_severity_outside_the_policy_no_ticket(
    noc: tuple[AssignmentGroup, User, User],
) -> None:
    TicketPolicy.objects.all().delete()
    clock = Clock()
    p, _ = pipeline(clock)
    concentrator_down(p, clock)
    assert not Ticket.objects.exists()

    TicketPolicy.objects.create(name="disabled", max_severity=3, enabled=False)
    root = Alert.objects.get(device=hq(), name="device-down")
    on_alert_pass([root.pk], [], timezone.now())
    assert not Ticket.objects.exists()
    Alert.objects.filter(pk=root.pk).update(severity=2)
    TicketPolicy.objects.create(name="sev 1 only", max_severity=1)
    on_alert_pass([root.pk], [], timezone.now())
    assert not Ticket.objects.exists()


def test_nobody_on_call_gives_the_ticket_to_the_group(
    noc: tuple[AssignmentGroup, User, User],
) -> None:
    group, _, _ = noc
    shipped_policy()
    oncall.Rotation.objects.all().delete()
    clock = Clock()
    p, _ = pipeline(clock)
    concentrator_down(p, clock)
    ticket = Ticket.objects.get()
    assert (ticket.group, ticket.assignee) == (group, None)


def test_a_failing_policy_costs_the_ticket_not_the_pass(
    noc: tuple[AssignmentGroup, User, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped_policy()

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("branchops.servicedesk.alert_tickets.open_tickets_for", broken)
    clock = Clock()
    p, _ = pipeline(clock)
    root = concentrator_down(p, clock)
    assert root.status == AlertStatus.FIRING
    assert Notification.objects.filter(alert=root).count() == 1
    assert not Ticket.objects.exists()


# ---- the notification names the on-call person ---------------------------------------------


def test_the_notification_names_who_is_on_call_with_their_phone(
    noc: tuple[AssignmentGroup, User, User],
) -> None:
    EscalationStep.objects.filter(level=1).update(oncall_group="NOC")
    clock = Clock()
    p, _ = pipeline(clock)
    concentrator_down(p, clock)
    row = Notification.objects.get(kind=NotificationKind.FIRING)
    _, wei, li = noc
    now = timezone.now()
    expected = oncall.who_is_on_call(AssignmentGroup.objects.get(name="NOC"), now)
    notice = notice_for(row)
    assert expected in (wei, li)
    label = "Wei Zhang (13800000000)" if expected == wei else li.username
    assert ("On call", label) in notice.fields


def test_a_step_group_nobody_created_says_nothing_and_an_empty_one_says_nobody(
    noc: tuple[AssignmentGroup, User, User],
) -> None:
    EscalationStep.objects.filter(level=1).update(oncall_group="Ghosts")
    clock = Clock()
    p, _ = pipeline(clock)
    concentrator_down(p, clock)
    row = Notification.objects.get(kind=NotificationKind.FIRING)
    assert not [f for f in notice_for(row).fields if f[0] == "On call"]
    AssignmentGroup.objects.create(name="Ghosts")
    assert ("On call", "nobody is on call in Ghosts") in notice_for(row).fields
    assert Channel.objects.count() == 1


def test_an_alert_storm_opens_a_score_of_incidents_and_links_the_rest(
    noc: tuple[AssignmentGroup, User, User],
) -> None:
    policy = shipped_policy()
    limit = policy.storm_per_minute
    now = timezone.now()
    storm = [
        Alert.objects.create(
            fingerprint=f"storm-{i}",
            source="generic",
            name="trading-gateway-down",
            severity=1,
            title=f"gateway {i} down",
            started_at=now,
            last_seen_at=now,
        )
        for i in range(limit + 5)
    ]
    on_alert_pass([a.pk for a in storm], [], now)

    assert Ticket.objects.count() == limit == 20
    assert AlertTicket.objects.count() == len(storm)  # every alert has its incident
    last = Ticket.objects.order_by("-id").first()
    assert last is not None
    assert last.alerts.count() == 6  # its own and the five beyond the limit
    assert last.events.filter(kind="alert_linked", detail__contains="5").exists()
