"""The demo's on-call set-up: a DingTalk channel to the lab's simulated robot, a two-level
escalation (the NOC at once, the network engineers after 10 minutes unacknowledged) and a
route for severity 1 and 2; rotations for the NOC and the network group, and the NOC's day
and night duty shifts around today. Made once; an operator's later edits are kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from branchops.alerts.models import Channel, EscalationPolicy, EscalationStep, Route
from branchops.lab.sim.robot import ensure_secret

CHANNEL = "演示值班钉钉群 Demo on-call DingTalk group"
POLICY = "演示值班 Demo on-call"
ROUTE = "一级二级告警 Severity 1 and 2"


def ensure_on_call(home: Path, control_port: int | None) -> bool:
    """True when it was made now; False when it exists or the lab has no control port."""
    if control_port is None or Channel.objects.filter(name=CHANNEL).exists():
        return False
    secret = ensure_secret(home)
    with transaction.atomic():
        channel = Channel(name=CHANNEL, kind="dingtalk", per_minute=20)
        channel.set_secrets(
            {
                "url": f"http://127.0.0.1:{control_port}/robot/send?access_token=demo",
                "secret": secret,
            }
        )
        channel.save()
        policy = EscalationPolicy.objects.create(name=POLICY)
        levels = ((1, 0, "NOC"), (2, 10, "Network"))
        for level, delay, group in levels:
            step = EscalationStep.objects.create(
                policy=policy, level=level, delay_minutes=delay, oncall_group=group
            )
            step.channels.add(channel)
        Route.objects.create(name=ROUTE, max_severity=2, policy=policy, order=10)
    return True


ROTATIONS = {"NOC": ("noc", "admin"), "Network": ("engineer", "expert")}
DAY, NIGHT = dt.time(8, 30), dt.time(20, 30)  # the NOC's hand-over times
SHIFT_DAYS = range(-3, 8)  # three days back (for handovers to show), a week ahead


def ensure_duty(today: dt.date | None = None) -> bool:
    """Rotations and NOC shifts for the demo accounts; True when made now."""
    from branchops.servicedesk import handover, oncall
    from branchops.servicedesk.models import AssignmentGroup, Rotation

    if Rotation.objects.exists():
        return False
    users = {u.username: u for u in get_user_model().objects.filter(is_active=True)}
    groups = {g.name: g for g in AssignmentGroup.objects.filter(name__in=ROTATIONS)}
    if set(groups) != set(ROTATIONS) or not {"noc", "engineer"} <= set(users):
        return False
    today = today or timezone.localdate()
    with transaction.atomic():
        for name, people in ROTATIONS.items():
            members = [users[p] for p in people if p in users]
            groups[name].members.add(*members)
            oncall.create_rotation(
                group=groups[name], name=f"{name} 7x24", people=members,
                start_date=today - dt.timedelta(days=7), handoff_time=DAY,
            )  # fmt: skip
        zone = ZoneInfo("Asia/Shanghai")
        for offset in SHIFT_DAYS:
            day = today + dt.timedelta(days=offset)
            morning = dt.datetime.combine(day, DAY, zone)
            evening = dt.datetime.combine(day, NIGHT, zone)
            for starts, ends, person in (
                (morning, evening, "noc"),
                (evening, morning + dt.timedelta(days=1), "engineer"),
            ):
                handover.create_shift(
                    group=groups["NOC"], starts_at=starts, ends_at=ends, people=[users[person]]
                )
    return True
