"""Topology correlation: a dead concentrator is one root alert with every branch behind it
as a symptom, one notification instead of hundreds, and no race between parent and child."""

from __future__ import annotations

import pytest
from django.utils import translation

from branchops.alerts.choices import AlertStatus, NotificationKind
from branchops.alerts.models import Alert, Notification
from branchops.alerts.tests.support import (
    Clock,
    branch_links,
    check_of,
    dr,
    estate,
    hq,
    pipeline,
    reach,
    results,
    tunnels_to,
    webhook_route,
)
from branchops.cmdb.models import Device
from branchops.monitoring.collectors.base import State

pytestmark = pytest.mark.django_db


def ancestors(device: Device) -> list[Device]:
    chain = []
    while device.depends_on is not None:
        device = device.depends_on
        chain.append(device)
    return chain


BRANCHES = 6


@pytest.fixture
def clock() -> Clock:
    estate(BRANCHES)
    webhook_route()
    return Clock()


def test_hq_concentrator_down_is_one_root_with_every_branch_tunnel_as_symptom(
    clock: Clock,
) -> None:
    p, _ = pipeline(clock)
    hq_tunnels = tunnels_to(hq().name)
    p.put_results(results([reach(hq().name)], State.DOWN, clock.now))
    p.put_results(results(hq_tunnels, State.DOWN, clock.now))
    p.process()

    root = Alert.objects.get(device=hq(), name="device-down")
    behind = len({link.a_site_id for link in branch_links(hq().name)})
    assert root.root_id is None
    assert root.severity == 1
    assert root.affected_sites == behind >= BRANCHES
    assert f"{behind}" in root.title
    symptoms = Alert.objects.filter(name="vpn-down")
    assert symptoms.count() == len(hq_tunnels)
    assert all(s.root_id == root.pk for s in symptoms)
    assert list(Notification.objects.values_list("alert_id", "kind")) == [
        (root.pk, NotificationKind.FIRING)
    ]


def test_children_wait_for_their_parent_and_the_parent_is_checked_at_once(
    clock: Clock,
) -> None:
    p, expedited = pipeline(clock)
    clock.advance(10)
    hq_tunnels = tunnels_to(hq().name)
    p.put_results(results(hq_tunnels, State.DOWN, clock.now))
    p.process()

    assert Notification.objects.count() == 0  # nobody is told before the parent is judged
    assert expedited
    assert reach(hq().name).pk in expedited[0]

    clock.advance(2)
    upstream = [reach(d.name) for d in ancestors(hq())]
    p.put_results(results([reach(hq().name)], State.DOWN, clock.now))
    p.put_results(results(upstream, State.UP, clock.now))  # its own parents still answer
    p.process()

    root = Alert.objects.get(device=hq(), name="device-down")
    assert set(Alert.objects.filter(name="vpn-down").values_list("root_id", flat=True)) == {root.pk}
    assert list(Notification.objects.values_list("alert_id", flat=True)) == [root.pk]


def test_a_tunnel_whose_concentrator_answers_is_its_own_alert(clock: Clock) -> None:
    p, _ = pipeline(clock)
    tunnel = tunnels_to(hq().name)[0]
    p.put_results(results([tunnel], State.DOWN, clock.now))
    p.process()
    clock.advance(1)
    p.put_results(
        results([reach(hq().name), reach(tunnel.link.a_device.name)], State.UP, clock.now)
    )
    p.process()

    alert = Alert.objects.get(for_check=tunnel)
    assert alert.root_id is None
    assert list(Notification.objects.values_list("alert_id", flat=True)) == [alert.pk]


def test_a_parent_that_never_answers_does_not_hold_its_children_for_ever(clock: Clock) -> None:
    p, _ = pipeline(clock, hold_s=20)
    clock.advance(10)
    tunnel = tunnels_to(hq().name)[0]
    p.put_results(results([tunnel], State.DOWN, clock.now))
    p.process()
    assert Notification.objects.count() == 0
    clock.advance(21)
    p.process()
    assert Notification.objects.filter(alert__for_check=tunnel).count() == 1


def test_devices_behind_a_dead_switch_are_symptoms_and_marked_unreachable(
    clock: Clock,
) -> None:
    server = Device.objects.filter(
        role__slug="server", depends_on__role__slug="access-switch", checks__kind="icmp"
    ).first()
    assert server is not None
    assert server.depends_on is not None
    switch = server.depends_on
    below = list(Device.objects.filter(depends_on=switch, checks__kind="icmp").distinct())
    assert below
    p, _ = pipeline(clock)
    p.put_results(results([reach(switch.name)], State.DOWN, clock.now))
    p.put_results(results([reach(d.name) for d in below], State.DOWN, clock.now))
    p.process()

    root = Alert.objects.get(device=switch)
    children = Alert.objects.filter(device__in=below)
    assert all(c.root_id == root.pk and c.unreachable for c in children)
    assert Notification.objects.count() == 1


def test_a_branch_whose_every_tunnel_is_down_is_unreachable_not_down(clock: Clock) -> None:
    links = branch_links(hq().name)[0], None
    firewall = links[0].a_device
    assert firewall is not None
    p, _ = pipeline(clock)
    own = [
        c
        for c in tunnels_to(hq().name) + tunnels_to(dr().name)
        if c.link.a_device_id == firewall.pk
    ]
    assert len(own) == 2
    p.put_results(results(own, State.DOWN, clock.now))
    p.put_results(results([reach(hq().name), reach(dr().name)], State.UP, clock.now))
    p.process()
    clock.advance(1)
    p.put_results(results([reach(firewall.name)], State.DOWN, clock.now))
    p.process()

    down = Alert.objects.get(device=firewall, name="device-down")
    assert down.unreachable
    assert down.root is not None
    assert down.root.for_check_id in {c.pk for c in own}


def test_healing_resolves_the_root_and_its_symptoms_and_says_so_once(clock: Clock) -> None:
    p, _ = pipeline(clock)
    hq_tunnels = tunnels_to(hq().name)
    p.put_results(results([reach(hq().name), *hq_tunnels], State.DOWN, clock.now))
    p.process()
    clock.advance(30)
    p.put_results(results([reach(hq().name), *hq_tunnels], State.UP, clock.now))
    p.process()

    assert not Alert.objects.filter(status=AlertStatus.FIRING).exists()
    kinds = sorted(Notification.objects.values_list("kind", flat=True))
    assert kinds == [NotificationKind.FIRING, NotificationKind.RESOLVED]


def test_a_restarted_pipeline_finds_checks_that_went_down_unseen(clock: Clock) -> None:
    from branchops.monitoring.models import CheckStatus

    check = check_of("icmp", device=hq().name)
    CheckStatus.objects.update_or_create(for_check=check, defaults={"state": "down"})
    p, _ = pipeline(clock)
    p.resync_from_database()
    p.process()
    assert Alert.objects.filter(for_check=check, status=AlertStatus.FIRING).count() == 1


def test_an_engine_killed_mid_storm_and_restarted_loses_and_repeats_nothing(
    clock: Clock,
) -> None:
    from branchops.monitoring.models import CheckStatus

    first, _ = pipeline(clock)
    hq_tunnels = tunnels_to(hq().name)
    half = len(hq_tunnels) // 2
    down = [reach(hq().name), *hq_tunnels]
    # Ingest writes each state change before the pipeline hears of it.
    for check in down:
        CheckStatus.objects.update_or_create(for_check=check, defaults={"state": "down"})
    first.put_results(results(down[: half + 1], State.DOWN, clock.now))
    first.process()
    # Killed here: the rest of the results never reached the first pipeline.
    clock.advance(5)
    second, _ = pipeline(clock)
    second.resync_from_database()
    second.process()

    root = Alert.objects.get(device=hq(), name="device-down")
    tunnels = Alert.objects.filter(name="vpn-down")
    assert tunnels.count() == len(hq_tunnels)
    assert all(t.root_id == root.pk for t in tunnels)
    assert Alert.objects.filter(status=AlertStatus.FIRING).count() == len(down)
    assert list(Notification.objects.values_list("alert_id", flat=True)) == [root.pk]


def test_symptoms_that_recover_a_run_after_their_root_are_not_told_on_their_own(
    clock: Clock,
) -> None:
    p, _ = pipeline(clock)
    hq_tunnels = tunnels_to(hq().name)
    p.put_results(results([reach(hq().name), *hq_tunnels], State.DOWN, clock.now))
    p.process()
    clock.advance(20)
    p.put_results(results([reach(hq().name)], State.UP, clock.now))  # the concentrator is back
    p.process()
    clock.advance(55)  # the tunnels come back at their next run, one interval later
    p.process()
    p.put_results(results(hq_tunnels, State.UP, clock.now))
    p.process()

    kinds = sorted(Notification.objects.values_list("kind", flat=True))
    assert kinds == [NotificationKind.FIRING, NotificationKind.RESOLVED]
    assert not Alert.objects.filter(status=AlertStatus.FIRING).exists()


def test_a_branch_that_lost_only_its_primary_tunnel_is_degraded_not_down(clock: Clock) -> None:
    primary = tunnels_to(hq().name)[0]
    assert primary.link is not None
    backup = next(
        c for c in tunnels_to(dr().name) if c.link.a_device_id == primary.link.a_device_id
    )
    p, _ = pipeline(clock)
    p.put_results(results([backup], State.UP, clock.now))
    p.put_results(results([reach(hq().name)], State.UP, clock.now))
    p.process()
    p.put_results(results([primary], State.DOWN, clock.now))
    with translation.override("en"):  # the engine words titles in the product's language
        p.process()
    alert = Alert.objects.get(for_check=primary)
    assert alert.severity == 3
    assert "degraded" in alert.title
    assert not Alert.objects.filter(name="device-down").exists()
