"""Storm: the HQ VPN concentrator of the 620-branch demo estate dies.

A child loads the estate (``build(620, seed=2026)``, ``load``, ``monitoring.services.sync``),
a catch-all route to a webhook channel (the product's default rate limit, 20 a minute)
whose receiver is ``alerts_receiver``, and starts the pipeline's thread and the outbox as
the engine does, after telling it that every ICMP and tunnel check just answered.

Then the results a real sweep would deliver: every tunnel to the concentrator fails, one at
a time, spread evenly over one tunnel interval (60 s in the demo) in a shuffled order, and
the concentrator's own ICMP check fails about a third of the way in. When the pipeline
holds a tunnel and asks for its parents' checks at once (``expedite``), the concentrator's
answers "down" 1 s later (a ping that times out) and any other device "up" after 50 ms, as
the engine would.

Measured: notifications received (exactly one is right: the root), the time from the first
failing result to its arrival, and how many branch sites are linked to that root.
"""

from __future__ import annotations

import asyncio
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Instance, postgres_available
from alerts_common import (
    catch_all_webhook,
    child_main,
    drained,
    healthy,
    load_estate,
    migrated,
    run_child,
    running,
)
from alerts_receiver import Receiver

BRANCHES, SEED = 620, 2026
PARENT_DOWN_AFTER_S = 1.0  # the engine's ping times out
PARENT_UP_AFTER_S = 0.05
CONCENTRATOR_AT = 0.37  # where in the interval the concentrator's own check comes


def child(cfg: dict[str, Any]) -> dict[str, Any]:
    from branchops.alerts.pipeline.core import AlertPipeline
    from branchops.lab.spec import HQ_CONCENTRATOR
    from branchops.monitoring.collectors.base import Result, State
    from branchops.monitoring.models import Check

    load_s = load_estate(BRANCHES, SEED)
    catch_all_webhook(cfg["url"] + "/hook", per_minute=20)
    hq_check = Check.objects.get(kind="icmp", device__name=HQ_CONCENTRATOR).pk
    tunnels = list(
        Check.objects.filter(kind="vpn_tunnel", link__b_device__name=HQ_CONCENTRATOR)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    random.Random(SEED).shuffle(tunnels)
    pipeline = AlertPipeline(expedite=lambda ids: None)
    hq_down = threading.Event()
    asked: list[tuple[float, int]] = []

    def report(check: int, state: State) -> None:
        """A result as ingest hands it over: with whether the check's state changed."""
        changed = state == State.DOWN
        if check == hq_check and state == State.DOWN:
            changed = not hq_down.is_set()  # its second "down" is no change
            hq_down.set()
        result = Result(check, state, time.time(), 0.01, error="timeout" if changed else "")
        pipeline.put_results([(result, changed)])

    def expedite(ids: Any) -> None:  # the engine runs these checks now
        for check in ids:
            asked.append((time.time(), check))
            down = check == hq_check
            delay = PARENT_DOWN_AFTER_S if down else PARENT_UP_AFTER_S
            state = State.DOWN if down else State.UP
            threading.Timer(delay, report, (check, state)).start()

    pipeline.expedite = expedite
    pipeline.load()
    healthy(pipeline, ("icmp", "vpn_tunnel"))
    figures = asyncio.run(_storm(pipeline, tunnels, hq_check, cfg, report))
    return {
        "estate_load_s": round(load_s, 1),
        "tunnels_to_hq": len(tunnels),
        "expedited_checks": len(asked),
        "hq_asked_after_s": round(
            min((t for t, c in asked if c == hq_check), default=0) - figures["first"], 2
        ),
        **figures,
        **_linked(HQ_CONCENTRATOR, pipeline),
    }


async def _storm(
    pipeline: Any, tunnels: list[int], hq_check: int, cfg: dict[str, Any], report: Any
) -> dict[str, Any]:
    from branchops.monitoring.collectors.base import State

    step = cfg["spread_s"] / len(tunnels)
    hq_at = int(len(tunnels) * CONCENTRATOR_AT)
    async with running(pipeline):
        await asyncio.sleep(1.0)  # the healthy state is a moment old, as in a running engine
        first = time.time()
        for n, check in enumerate(tunnels):
            if n == hq_at:
                report(hq_check, State.DOWN)
            report(check, State.DOWN)
            await asyncio.sleep(max(0.0, first + (n + 1) * step - time.time()))
        last = time.time()
        settled = await drained(pipeline, cfg["url"], lambda: True)
        await asyncio.sleep(3)  # anything late would show up here
    return {"first": first, "last": last, "settled": settled}


def _linked(concentrator: str, pipeline: Any) -> dict[str, Any]:
    from branchops.alerts.models import Alert, Notification
    from branchops.cmdb.models import Site

    root = Alert.objects.get(device__name=concentrator, name="device-down")
    symptoms = Alert.objects.filter(root=root)
    # A planned branch is not open yet: its checks fail without waking anyone, by design.
    branch_sites = set(
        Site.objects.filter(kind="branch").exclude(status="planned").values_list("pk", flat=True)
    )
    linked_sites = set(symptoms.exclude(site=None).values_list("site_id", flat=True))
    return {
        "root_title": root.title,
        "root_affected_sites": root.affected_sites,
        "alerts": Alert.objects.count(),
        "symptoms": symptoms.count(),
        "roots_notified": Notification.objects.values("alert").distinct().count(),
        "notification_rows": Notification.objects.count(),
        "branches": len(branch_sites),
        "branches_linked": len(branch_sites & linked_sites),
        "pipeline_errors": pipeline.stats.errors,
        "not_linked": [
            f"{a.title} (root: {a.root.title if a.root else '-'}, {a.status})"
            for a in Alert.objects.exclude(root=root)
            .exclude(pk=root.pk)
            .select_related("root")[:10]
        ],
    }


def one(backend: str, spread_s: float) -> dict[str, Any]:
    with Instance(backend) as inst, Receiver() as receiver:
        migrated(inst)
        figures = run_child(inst, "alerts_storm", {"url": receiver.url, "spread_s": spread_s})
        stats = receiver.stats()
    messages = stats["messages"]
    first_message = messages[0]["at"] - figures["first"] if messages else None
    return {
        "backend": backend,
        "tunnels_failed": figures["tunnels_to_hq"],
        "spread_s": spread_s,
        "messages_received": stats["count"],
        "first_result_to_message_s": round(first_message, 2) if first_message else None,
        "message_title": messages[0]["title"] if messages else "",
        "branches_linked": f"{figures['branches_linked']} of {figures['branches']} not planned",
        "symptoms": figures["symptoms"],
        "root_affected_sites": figures["root_affected_sites"],
        "notification_rows": figures["notification_rows"],
        "expedited_checks": figures["expedited_checks"],
        "settled_after_last_s": round(figures["settled"] - figures["last"], 2),
        "estate_load_s": figures["estate_load_s"],
        "pipeline_errors": figures["pipeline_errors"],
        "not_linked": figures["not_linked"],
        "verdict": "ok"
        if stats["count"] == 1 and figures["branches_linked"] == figures["branches"]
        else "WRONG",
    }


def storm(
    spread_s: float = 60.0, backends: tuple[str, ...] = ("sqlite", "postgresql")
) -> list[dict[str, Any]]:
    rows = []
    for backend in backends:
        if backend == "postgresql" and not postgres_available():
            rows.append({"backend": backend, "error": "no PostgreSQL on 127.0.0.1:5432"})
            continue
        print(f"   {backend} ...", flush=True)
        rows.append(one(backend, spread_s))
        row = rows[-1]
        print(
            f"     {row['messages_received']} message(s), first after "
            f"{row['first_result_to_message_s']} s, branches linked {row['branches_linked']}",
            flush=True,
        )
    return rows


if __name__ == "__main__":
    child_main(child)
