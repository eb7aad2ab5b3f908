"""The pipeline's lifecycle rules: one alert per problem, flapping held as one alert,
silences and maintenance windows, inhibition, escalation until someone acknowledges."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from branchops.alerts import services
from branchops.alerts.choices import AlertStatus, NotificationKind
from branchops.alerts.models import Alert, InhibitRule, Notification
from branchops.alerts.pipeline.signal import Signal
from branchops.alerts.tests.support import Clock, estate, pipeline, webhook_route
from branchops.cmdb.models import Site
from branchops.core.choices import Role
from branchops.core.testing import make_user

pytestmark = pytest.mark.django_db


def event(
    name: str = "disk-full",
    *,
    firing: bool = True,
    at: float,
    site_id: int | None = None,
    **labels: str,
) -> Signal:
    labels = {"device": "BR-0001-SRV01", **labels}
    return Signal(
        fingerprint=f"test:{name}:{labels['device']}",
        source="generic",
        name=name,
        firing=firing,
        severity=2,
        title=f"{labels['device']}: {name}",
        at=at,
        labels=labels,
        site_id=site_id,
    )


@pytest.fixture
def clock() -> Clock:
    estate(2)
    return Clock()


def test_the_same_problem_again_is_counted_not_alerted_twice(clock: Clock) -> None:
    webhook_route()
    p, _ = pipeline(clock)
    for _i in range(5):
        p.put_signals([event(at=clock.advance(10))])
        p.process()
    alert = Alert.objects.get()
    assert alert.last_seen_at > alert.started_at
    assert Notification.objects.count() == 1
    assert p.stats.deduplicated == 4


def test_flapping_is_one_alert_held_open_until_it_is_quiet(clock: Clock) -> None:
    webhook_route()
    p, _ = pipeline(clock, flap_changes=4, flap_quiet_s=300)
    for _ in range(4):
        p.put_signals([event(at=clock.advance(30))])
        p.process()
        p.put_signals([event(firing=False, at=clock.advance(30))])
        p.process()
    alerts = Alert.objects.order_by("id")
    flapping = alerts.last()
    assert flapping is not None
    assert flapping.flapping
    assert flapping.status == AlertStatus.FIRING
    assert alerts.count() <= 3  # a few before it is recognised, then one
    clock.advance(301)
    p.process(clock.now)
    flapping.refresh_from_db()
    assert flapping.status == AlertStatus.RESOLVED


def test_a_silenced_site_stays_quiet_and_others_do_not(clock: Clock) -> None:
    webhook_route()
    quiet, loud = Site.objects.filter(code__startswith="BR-").order_by("code")[:2]
    now = timezone.now()
    services.create_silence(
        author=make_user(Role.NOC_OPERATOR), reason="UPS replacement", sites=[quiet.pk],
        starts_at=now - dt.timedelta(minutes=1), ends_at=now + dt.timedelta(hours=2),
    )  # fmt: skip
    p, _ = pipeline(clock)
    p.put_signals([
        event(at=clock.now, device="A", site_id=quiet.pk),
        event(at=clock.now, device="B", site_id=loud.pk),
    ])  # fmt: skip
    p.process(timezone.now().timestamp())
    silenced = Alert.objects.get(labels__device="A")
    assert silenced.silenced_by is not None
    notified = set(Notification.objects.values_list("alert__labels__device", flat=True))
    assert notified == {"B"}


def test_a_weekly_window_covers_saturday_night_only() -> None:
    from branchops.alerts.silencing import window_active

    class Weekly:
        starts_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        ends_at = None
        ended_at = None
        weekdays = [5]  # Saturday
        daily_start = dt.time(0, 0)
        duration_minutes = 6 * 60

    tz = timezone.get_current_timezone()
    saturday_3am = dt.datetime(2026, 11, 21, 3, 0, tzinfo=tz)
    saturday_7am = dt.datetime(2026, 11, 21, 7, 0, tzinfo=tz)
    sunday_3am = dt.datetime(2026, 11, 22, 3, 0, tzinfo=tz)
    assert window_active(Weekly, saturday_3am)
    assert not window_active(Weekly, saturday_7am)
    assert not window_active(Weekly, sunday_3am)


def test_a_window_past_midnight_still_covers_the_small_hours() -> None:
    from branchops.alerts.silencing import window_active

    class Nightly:
        starts_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        ends_at = None
        ended_at = None
        weekdays = [4]  # Friday 22:00 for 4 hours
        daily_start = dt.time(22, 0)
        duration_minutes = 240

    tz = timezone.get_current_timezone()
    assert window_active(Nightly, dt.datetime(2026, 11, 21, 1, 30, tzinfo=tz))  # Sat 01:30
    assert not window_active(Nightly, dt.datetime(2026, 11, 21, 2, 30, tzinfo=tz))


def test_silences_must_say_what_when_and_why() -> None:
    author = make_user(Role.NOC_OPERATOR)
    now = timezone.now()
    with pytest.raises(services.SilenceInvalid) as refused:
        services.create_silence(author=author, reason=" ", starts_at=now, ends_at=now)
    assert set(refused.value.problems) == {"reason", "sites", "ends_at"}
    with pytest.raises(services.SilenceInvalid) as refused:
        services.create_silence(
            author=author, reason="x", starts_at=now, ends_at=None, matchers={"site": "~("},
            weekdays=[5],
        )  # fmt: skip
    assert {"matchers", "weekdays"} <= set(refused.value.problems)


def test_an_inhibiting_alert_mutes_matching_alerts_with_the_same_labels(clock: Clock) -> None:
    webhook_route()
    InhibitRule.objects.create(
        name="power mutes the site", source_matchers={"alertname": "site-power"},
        target_matchers={"severity_class": "device"}, equal=["site"],
    )  # fmt: skip
    p, _ = pipeline(clock)
    power = event("power", at=clock.now, alertname="site-power", site="BR-0001", device="UPS")
    muted = event("disk", at=clock.now, severity_class="device", site="BR-0001", device="S1")
    other = event("disk", at=clock.now, severity_class="device", site="BR-0002", device="S2")
    p.put_signals([power, muted, other])
    p.process()
    notified = set(Notification.objects.values_list("alert__labels__device", flat=True))
    assert notified == {"UPS", "S2"}


def test_unacknowledged_alerts_escalate_and_acknowledged_ones_stop(clock: Clock) -> None:
    webhook_route(levels=3, delay_minutes=10)
    p, _ = pipeline(clock, tick_s=0)
    p.put_signals([event(at=clock.now, device="A"), event(at=clock.now, device="B")])
    p.process()
    acked = Alert.objects.get(labels__device="A")
    services.acknowledge(acked, user=make_user(Role.NOC_OPERATOR), via="test")
    clock.advance(10 * 60 + 1)
    p.process()
    clock.advance(10 * 60 + 1)
    p.process()
    levels = sorted(
        Notification.objects.filter(alert__labels__device="B").values_list("kind", "level")
    )
    assert levels == [
        (NotificationKind.ESCALATION, 2),
        (NotificationKind.ESCALATION, 3),
        (NotificationKind.FIRING, 1),
    ]
    assert list(Notification.objects.filter(alert=acked).values_list("level", flat=True)) == [1]


def test_a_restart_queues_nothing_twice(clock: Clock) -> None:
    webhook_route()
    p, _ = pipeline(clock)
    p.put_signals([event(at=clock.now)])
    p.process()
    again, _ = pipeline(clock)  # a new engine: loads what is firing and what was told
    again.put_signals([event(at=clock.advance(5))])
    again.process()
    assert Notification.objects.count() == 1
    assert Alert.objects.count() == 1


def test_a_device_already_marked_failed_alerts_but_wakes_nobody(clock: Clock) -> None:
    from branchops.alerts.tests.support import reach, results
    from branchops.cmdb.models import Device
    from branchops.monitoring.collectors.base import State

    webhook_route()
    device = Device.objects.filter(role__slug="server", site__code__startswith="BR-").first()
    assert device is not None
    Device.objects.filter(pk=device.pk).update(status="failed")
    p, _ = pipeline(clock)
    p.put_results(results([reach(device.name)], State.DOWN, clock.now))
    p.process()
    alert = Alert.objects.get(device=device)
    assert alert.status == AlertStatus.FIRING
    assert not Notification.objects.exists()
    assert alert.events.filter(kind="note").exists()


def test_resolved_and_fired_again_in_one_pass_is_a_new_alert(clock: Clock) -> None:
    p, _ = pipeline(clock)
    p.put_signals([event(at=clock.now)])
    p.process()
    p.put_signals([event(firing=False, at=clock.advance(1)), event(at=clock.advance(1))])
    p.process()
    statuses = list(Alert.objects.order_by("id").values_list("status", flat=True))
    assert statuses == [AlertStatus.RESOLVED, AlertStatus.FIRING]
