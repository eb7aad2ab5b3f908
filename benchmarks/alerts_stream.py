"""The event stream of the throughput part: the same events for BranchOps and Alertmanager.

10,000 problems (fingerprints) on the devices of 600 branches of the demo estate, 100,000
events in all, drawn from ``random.Random(seed)``:

- 55 % incidents: fire, repeat a few times (deduplicated), resolve;
- 30 % still firing at the end, with repeats;
- 10 % flapping: four rounds of fire, a repeat or not, resolve (BranchOps holds these open
  as flapping after the third resolution; Alertmanager has no such notion);
- 5 % one-shot: fire, resolve.

Repeats are then added or removed at random until the total is exactly ``events``. Each
problem starts at a random moment and its events keep their order; the stream interleaves
all problems by those moments, as many sources reporting at once would.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

NAMES = (
    "high-cpu",
    "disk-full",
    "link-errors",
    "fan-failure",
    "backup-failed",
    "app-5xx",
    "temperature-high",
    "config-drift",
)
SEVERITIES = ("critical", "major", "major", "minor", "minor", "minor")


@dataclass(frozen=True, slots=True)
class Problem:
    name: str
    site: str
    device: str
    component: str
    severity: str
    pattern: str  # incident, ongoing, flapping, one-shot

    def labels(self) -> dict[str, str]:
        return {"component": self.component}


def branch_devices(estate: Any, sites: int) -> list[tuple[str, list[str]]]:
    """The first ``sites`` branches by code, each with its devices' names."""
    codes = sorted(s.code for s in estate.sites if s.kind == "branch")[:sites]
    by_site: dict[str, list[str]] = {code: [] for code in codes}
    for device in estate.devices:
        if device.site in by_site:
            by_site[device.site].append(device.name)
    return [(code, sorted(by_site[code])) for code in codes]


def _plan(rng: random.Random) -> tuple[str, list[bool]]:
    r = rng.random()
    if r < 0.10:
        rounds: list[bool] = []
        for _ in range(4):
            rounds += [True] * rng.randint(1, 2) + [False]
        return "flapping", rounds
    if r < 0.40:
        return "ongoing", [True] * rng.randint(3, 15)
    if r < 0.45:
        return "one-shot", [True, False]
    return "incident", [True] * rng.randint(3, 15) + [False]


def build_stream(
    targets: list[tuple[str, list[str]]], *, problems: int, events: int, seed: int = 2026
) -> tuple[list[Problem], list[tuple[int, bool]]]:
    """The problems and the stream of (problem index, firing) in arrival order."""
    rng = random.Random(seed)
    found: list[Problem] = []
    plans: list[list[bool]] = []
    for i in range(problems):
        site, devices = targets[i % len(targets)]
        slot = i // len(targets)
        pattern, plan = _plan(rng)
        found.append(
            Problem(
                name=NAMES[slot % len(NAMES)],
                site=site,
                device=devices[slot % len(devices)],
                component=f"unit-{slot}",
                severity=rng.choice(SEVERITIES),
                pattern=pattern,
            )
        )
        plans.append(plan)
    total = sum(len(p) for p in plans)
    while total != events:  # a repeat more or less of some firing problem
        plan = plans[rng.randrange(problems)]
        if total < events:
            plan.insert(0, True)
            total += 1
        elif len(plan) > 2 and plan[0] and plan[1]:
            plan.pop(0)
            total -= 1
    timed: list[tuple[float, int, bool]] = []
    for index, plan in enumerate(plans):
        at = rng.uniform(0, 0.85)
        step = (1 - at) / len(plan)
        for firing in plan:
            timed.append((at, index, firing))
            at += rng.uniform(0.1, 1.0) * step
    timed.sort()
    return found, [(index, firing) for _, index, firing in timed]


def final_firing(problems: list[Problem], stream: list[tuple[int, bool]]) -> set[int]:
    """Problems whose last event fires (what Alertmanager should show as firing at the end)."""
    last: dict[int, bool] = {}
    for index, firing in stream:
        last[index] = firing
    return {i for i, firing in last.items() if firing}


def generic_event(problem: Problem, firing: bool) -> dict[str, Any]:
    """BranchOps' generic JSON event (``POST /api/v1/ingest/events``)."""
    return {
        "name": problem.name,
        "status": "firing" if firing else "resolved",
        "severity": problem.severity,
        "site": problem.site,
        "device": problem.device,
        "labels": problem.labels(),
        "title": f"{problem.device} {problem.name} ({problem.component})",
        "message": f"{problem.name} on {problem.device} {problem.component}",
    }


def _rfc3339(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def alertmanager_alert(problem: Problem, firing: bool, at: float) -> dict[str, Any]:
    """The same event for Alertmanager's ``POST /api/v2/alerts``: a resolution is an alert
    whose ``endsAt`` has passed."""
    labels = {
        "alertname": problem.name,
        "site": problem.site,
        "device": problem.device,
        "severity": problem.severity,
        **problem.labels(),
    }
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": {"summary": f"{problem.device} {problem.name} ({problem.component})"},
    }
    if firing:
        alert["startsAt"] = _rfc3339(at)
    else:
        alert["endsAt"] = _rfc3339(at)
    return alert
