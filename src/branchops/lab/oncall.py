"""The demo's on-call set-up: a DingTalk channel to the lab's simulated robot, a two-level
escalation (the NOC at once, the engineers after 10 minutes unacknowledged) and a route for
severity 1 and 2. Made once; an operator's later edits are kept."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

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
        levels = ((1, 0, "NOC"), (2, 10, "ops engineers"))
        for level, delay, group in levels:
            step = EscalationStep.objects.create(
                policy=policy, level=level, delay_minutes=delay, oncall_group=group
            )
            step.channels.add(channel)
        Route.objects.create(name=ROUTE, max_severity=2, policy=policy, order=10)
    return True
