"""Builders for the alert tests: a small estate with its checks, a pipeline on a hand-moved
clock, results as the engine would hand them over, and a channel with a route to it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from branchops.alerts.models import Channel, EscalationPolicy, EscalationStep, Route
from branchops.alerts.pipeline.core import AlertPipeline, PipelineOptions
from branchops.cmdb.models import Device, Link
from branchops.lab.estate import build, load
from branchops.lab.spec import DR_CONCENTRATOR, HQ_CONCENTRATOR
from branchops.monitoring import services
from branchops.monitoring.collectors.base import Result, State
from branchops.monitoring.models import Check

TODAY = dt.date(2026, 11, 22)
START = 1_795_000_000.0  # a Sunday afternoon in Shanghai, November 2026


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def estate(branches: int = 6) -> None:
    load(build(branches, seed=3, today=TODAY))
    services.sync()


def pipeline(clock: Clock, **options: float) -> tuple[AlertPipeline, list[list[int]]]:
    """A loaded pipeline that has just seen every device answer its ping, and the list of
    check-id batches it asks the engine to run at once."""
    expedited: list[list[int]] = []
    p = AlertPipeline(
        PipelineOptions(**options),  # type: ignore[arg-type]
        clock=clock,
        expedite=lambda ids: expedited.append(sorted(ids)),
    )
    p.load()
    p.put_results(
        (result, False)
        for result, _ in results(Check.objects.filter(kind="icmp"), State.UP, clock.now)
    )
    p.process()
    return p, expedited


def check_of(kind: str, *, device: str = "", link: str = "") -> Check:
    if device:
        return Check.objects.get(kind=kind, device__name=device)
    return Check.objects.get(kind=kind, link__name=link)


def reach(device: str) -> Check:
    return check_of("icmp", device=device)


def tunnels_to(concentrator: str) -> list[Check]:
    return list(
        Check.objects.filter(kind="vpn_tunnel", link__b_device__name=concentrator).order_by("id")
    )


def hq() -> Device:
    return Device.objects.get(name=HQ_CONCENTRATOR)


def dr() -> Device:
    return Device.objects.get(name=DR_CONCENTRATOR)


def branch_links(concentrator: str) -> list[Link]:
    return list(Link.objects.filter(kind="vpn", b_device__name=concentrator))


def results(checks: Iterable[Check], state: State, at: float) -> list[tuple[Result, bool]]:
    """Each check's result; ``True``: its state changed (what ingest says on a change)."""
    return [
        (Result(c.pk, state, at, 0.01, error="" if state == State.UP else "timeout"), True)
        for c in checks
    ]


def webhook_route(name: str = "on-call", *, levels: int = 1, delay_minutes: int = 10) -> Channel:
    """A channel, a policy with ``levels`` steps on it, and a catch-all route to the policy."""
    channel = Channel.objects.create(
        name=name, kind="webhook", config={"url": "http://127.0.0.1:9/hook"}
    )
    policy = EscalationPolicy.objects.create(name=f"{name} policy")
    for level in range(1, levels + 1):
        step = EscalationStep.objects.create(
            policy=policy, level=level, delay_minutes=(level - 1) * delay_minutes
        )
        step.channels.add(channel)
    Route.objects.create(name=f"{name} route", policy=policy, max_severity=3)
    return channel
