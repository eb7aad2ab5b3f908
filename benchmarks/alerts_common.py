"""Pieces shared by the parts of ``branchops bench alerts``.

Each measurement runs in a child process whose environment names a fresh state folder and
database (``_harness.Instance``), so the benchmark's own process never opens a database.
The child prints one JSON line, prefixed ``RESULT``, with its figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from _harness import BRANCHOPS, Instance

HERE = Path(__file__).resolve().parent


# ---- the benchmark's side --------------------------------------------------------------------


def migrated(inst: Instance) -> None:
    subprocess.run(
        [BRANCHOPS, "manage", "migrate", "-v", "0"],
        env=inst.env,
        check=True,
        capture_output=True,
        timeout=600,
    )


def run_child(
    inst: Instance, module: str, config: dict[str, Any], timeout: float = 900
) -> dict[str, Any]:
    """Run ``benchmarks/<module>.py child CONFIG`` against ``inst``; its RESULT line."""
    done = subprocess.run(
        [sys.executable, str(HERE / f"{module}.py"), "child", json.dumps(config)],
        env=inst.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])  # type: ignore[no-any-return]
    raise RuntimeError(f"{module} child failed ({done.returncode}):\n{done.stderr[-3000:]}")


# ---- the child's side ------------------------------------------------------------------------


def child_main(run: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Entry point of a child: ``python MODULE.py child CONFIG``."""
    config = json.loads(sys.argv[2])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchops.settings")
    import django

    django.setup()
    result = run(config)
    print("RESULT " + json.dumps(result), flush=True)


def load_estate(branches: int, seed: int) -> float:
    """The demo estate and its checks; seconds it took."""
    from branchops.lab.estate import build, load
    from branchops.monitoring import services

    began = time.perf_counter()
    load(build(branches, seed=seed))
    services.sync()
    return time.perf_counter() - began


def catch_all_webhook(url: str, per_minute: int) -> int:
    """A webhook channel, a one-step policy on it and a route that takes every alert."""
    from branchops.alerts.models import Channel, EscalationPolicy, EscalationStep, Route

    channel = Channel.objects.create(
        name="bench hook", kind="webhook", config={"url": url}, per_minute=per_minute
    )
    policy = EscalationPolicy.objects.create(name="bench on-call")
    EscalationStep.objects.create(policy=policy, level=1, delay_minutes=0).channels.add(channel)
    Route.objects.create(name="everything", policy=policy, max_severity=3)
    return int(channel.pk)


def healthy(pipeline: Any, kinds: tuple[str, ...] = ("icmp",)) -> int:
    """Tell the pipeline every check of ``kinds`` answered just now (a running engine's
    state), then let it take that in."""
    from branchops.monitoring.collectors.base import Result, State
    from branchops.monitoring.models import Check

    now = time.time()
    ids = list(Check.objects.filter(kind__in=kinds).values_list("pk", flat=True))
    pipeline.put_results((Result(pk, State.UP, now, 0.001), False) for pk in ids)
    pipeline.process()
    return len(ids)


@contextlib.asynccontextmanager
async def running(pipeline: Any) -> AsyncIterator[Any]:
    """The pipeline's thread and the outbox's task, wired as ``alerts.engine`` wires them
    (a pass that queues notifications wakes the outbox at once)."""
    import httpx

    from branchops.alerts.outbox import Outbox

    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
        outbox = Outbox(client)
        pipeline.on_notifications = lambda: loop.call_soon_threadsafe(outbox.wake)
        stop = asyncio.Event()
        pipeline.start()
        task = asyncio.create_task(outbox.run(stop))
        try:
            yield outbox
        finally:
            stop.set()
            await asyncio.to_thread(pipeline.stop)
            await task


def outbox_rows() -> dict[str, int]:
    from django.db.models import Count

    from branchops.alerts.models import Notification

    rows = Notification.objects.values("status").annotate(n=Count("id"))
    return {r["status"]: r["n"] for r in rows}


def received(url: str) -> int:
    import urllib.request

    with urllib.request.urlopen(url + "/stats", timeout=30) as answer:
        return int(json.loads(answer.read())["count"])


def quiet(pipeline: Any, url: str) -> bool:
    """Nothing waiting anywhere: no inbound row, no alert held for its parents' judgement,
    no notification due, and the receiver has every message the outbox sent or is sending.
    (Counted at the receiver: a row whose delivery could not be recorded stays "sending"
    although its message arrived.)"""
    from django.db import close_old_connections

    from branchops.alerts.models import InboundEvent

    try:
        held = any(not a.judged for a in list(pipeline.world.open.values()))
    except RuntimeError:  # the pipeline's thread changed it while we looked
        return False
    try:
        if held or InboundEvent.objects.exists():
            return False
        rows = outbox_rows()
        if rows.get("pending", 0) or rows.get("retrying", 0):
            return False
        return received(url) >= rows.get("sent", 0) + rows.get("sending", 0)
    finally:
        close_old_connections()


async def drained(
    pipeline: Any, url: str, ready: Callable[[], bool], limit_s: float = 600
) -> float:
    """The moment everything went quiet once ``ready()`` holds, confirmed over two more
    pipeline passes (a pass decides in memory before it commits)."""
    candidate: tuple[float, int] | None = None
    deadline = time.time() + limit_s
    while time.time() < deadline:
        await asyncio.sleep(0.1)
        if not (ready() and await asyncio.to_thread(quiet, pipeline, url)):
            candidate = None
            continue
        if candidate is None:
            candidate = (time.time(), pipeline.stats.batches)
        elif pipeline.stats.batches >= candidate[1] + 2:
            return candidate[0]
    rows = await asyncio.to_thread(outbox_rows)
    raise RuntimeError(f"not drained within {limit_s:.0f} s: outbox {rows}")
