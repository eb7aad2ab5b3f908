"""Throughput: 100,000 events end to end, BranchOps on SQLite and PostgreSQL vs Alertmanager.

BranchOps: an engine-side child loads the 620-branch demo estate, a catch-all route to a
webhook channel whose receiver is ``alerts_receiver`` (its own process), starts the alert
pipeline's thread and the outbox as ``alerts.engine`` does, and tells the pipeline every
ICMP check just answered. A feeder process, standing in for the web API, normalises the
stream with ``inbound.from_generic`` and stores it with ``inbound.submit``, 1,000 events a
call (the API's limit per request), as fast as it can. The clock runs from the first submit
until the inbound table is empty, every alert is judged and every queued notification was
delivered. The pipeline's ``expedite`` answers "up" at once for the parents it asks about
(the lab answers on loopback in milliseconds).

Alertmanager: ``prometheus-alertmanager`` on 127.0.0.1, clustering off, fed the same
stream through ``POST /api/v2/alerts`` in batches of 1,000 over one keep-alive connection;
the clock runs until every group's last notification shows its final number of firing
alerts.
"""

from __future__ import annotations

import asyncio
import cProfile
import http.client
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Instance, free_port, postgres_available
from alerts_common import (
    catch_all_webhook,
    child_main,
    drained,
    healthy,
    load_estate,
    migrated,
    outbox_rows,
    run_child,
    running,
)
from alerts_receiver import Receiver
from alerts_stream import (
    alertmanager_alert,
    branch_devices,
    build_stream,
    final_firing,
    generic_event,
)

BRANCHES, SEED = 620, 2026
BATCH = 1000
GROUP_WAIT = GROUP_INTERVAL = "1s"


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return round(usage.ru_utime + usage.ru_stime, 1)


def _stream(cfg: dict[str, Any]) -> tuple[list[Any], list[tuple[int, bool]]]:
    from branchops.lab.estate import build

    targets = branch_devices(build(BRANCHES, seed=SEED), cfg["sites"])
    return build_stream(targets, problems=cfg["problems"], events=cfg["events"])


# ---- BranchOps: the feeder (the web API's part) --------------------------------------------


def feeder(cfg: dict[str, Any]) -> dict[str, Any]:
    from branchops.alerts import inbound
    from branchops.alerts.choices import AlertSource

    problems, stream = _stream(cfg)
    bodies = [
        {"events": [generic_event(problems[i], firing) for i, firing in stream[k : k + BATCH]]}
        for k in range(0, len(stream), BATCH)
    ]
    from django.db import OperationalError

    refused, waits = 0, []
    first = time.time()
    for body in bodies:
        began = time.perf_counter()
        while True:
            try:
                # What the ingest endpoint does after authentication and json.loads.
                inbound.submit(AlertSource.GENERIC, inbound.from_generic(body))
                break
            except OperationalError:  # "database is locked": the API would answer 500
                refused += 1
        waits.append(time.perf_counter() - began)
    last = time.time()
    waits.sort()
    return {
        "cpu_s": _cpu(resource.RUSAGE_SELF),
        "first": first,
        "last": last,
        "events": len(stream),
        "submit_refused": refused,
        "submit_p99_ms": round(waits[int(len(waits) * 0.99)] * 1000),
        "submit_max_ms": round(waits[-1] * 1000),
    }


# ---- BranchOps: the engine's part ----------------------------------------------------------


def engine(cfg: dict[str, Any]) -> dict[str, Any]:
    from branchops.alerts.pipeline.core import AlertPipeline
    from branchops.monitoring.collectors.base import Result, State

    load_s = load_estate(BRANCHES, SEED)
    catch_all_webhook(cfg["url"] + "/hook", cfg["per_minute"])
    pipeline = AlertPipeline(expedite=lambda ids: None)

    def answer_up(ids: Any) -> None:  # the lab's parents answer at once
        now = time.time()
        pipeline.put_results((Result(i, State.UP, now, 0.001), False) for i in ids)

    pipeline.expedite = answer_up
    pipeline.load()
    healthy(pipeline)
    passes: list[tuple[int, float]] = []
    process = pipeline.process
    profiler = cProfile.Profile() if cfg.get("profile") else None

    def timed(now: float | None = None) -> int:
        began = time.perf_counter()
        taken = profiler.runcall(process, now) if profiler else process(now)
        passes.append((taken, time.perf_counter() - began))
        return taken

    pipeline.process = timed  # type: ignore[method-assign]
    cpu_before = _cpu(resource.RUSAGE_SELF)
    figures = asyncio.run(_measure(pipeline, cfg))
    if profiler is not None:
        profiler.dump_stats(cfg["profile"])
    busy = [s for n, s in passes if n]
    figures.update(
        estate_load_s=round(load_s, 1),
        passes=len(busy),
        pass_p50_ms=round(statistics.median(busy) * 1000) if busy else 0,
        pass_max_ms=round(max(busy) * 1000) if busy else 0,
        largest_pass=max((n for n, _ in passes), default=0),
        **_counts(pipeline),
        engine_cpu_s=round(_cpu(resource.RUSAGE_SELF) - cpu_before, 1),
    )
    return figures


async def _measure(pipeline: Any, cfg: dict[str, Any]) -> dict[str, Any]:
    async with running(pipeline) as outbox:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "feeder", json.dumps(cfg), stdout=subprocess.PIPE
        )
        fed = asyncio.create_task(proc.communicate())
        done_at = await drained(pipeline, cfg["url"], fed.done)
        out, _ = await fed
        sent = outbox.stats.sent
    line = next(x for x in out.decode().splitlines() if x.startswith("RESULT "))
    feed = json.loads(line[len("RESULT ") :])
    return {
        "feed_first": feed["first"],
        "feed_last": feed["last"],
        "done_at": done_at,
        "outbox_sent": sent,
        **{k: v for k, v in feed.items() if k.startswith("submit_")},
        "feeder_cpu_s": feed["cpu_s"],
    }


def _counts(pipeline: Any) -> dict[str, Any]:
    from branchops.alerts.choices import AlertStatus
    from branchops.alerts.models import Alert, AlertEvent, Notification

    s = pipeline.stats
    return {
        "stuck_sending": outbox_rows().get("sending", 0),
        "alerts": Alert.objects.filter(source="generic").count(),
        "firing_at_end": Alert.objects.filter(source="generic", status=AlertStatus.FIRING).count(),
        "alert_events": AlertEvent.objects.count(),
        "notifications": Notification.objects.count(),
        "created": s.created,
        "deduplicated": s.deduplicated,
        "resolved": s.resolved,
        "flapping": s.flapping,
        "held": s.held,
        "errors": s.errors,
    }


def ours(backend: str, cfg: dict[str, Any]) -> dict[str, Any]:
    with Instance(backend) as inst, Receiver() as receiver:
        migrated(inst)
        figures = run_child(inst, "alerts_throughput", {**cfg, "url": receiver.url})
        stats = receiver.stats()
    seconds = figures["done_at"] - figures["feed_first"]
    fed_s = figures["feed_last"] - figures["feed_first"]
    return {
        "system": "BranchOps",
        "backend": backend,
        "events": cfg["events"],
        "accepted_per_s": round(cfg["events"] / fed_s),
        "end_to_end_s": round(seconds, 1),
        "events_per_s": round(cfg["events"] / seconds),
        "messages_received": stats["count"],
        "message_kinds": stats["kinds"],
        "cpu_s_per_1000_events": round(
            (figures["engine_cpu_s"] + figures["feeder_cpu_s"]) * 1000 / cfg["events"], 2
        ),
        **{k: v for k, v in figures.items() if not k.startswith(("feed_", "done_"))},
    }


# ---- Alertmanager --------------------------------------------------------------------------

AM_CONFIG = """
route:
  receiver: hook
  group_by: [alertname, site]
  group_wait: {wait}
  group_interval: {interval}
  repeat_interval: 24h
receivers:
  - name: hook
    webhook_configs:
      - url: {url}/am
        send_resolved: true
        max_alerts: 0
"""


def alertmanager_binary() -> str | None:
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def alertmanager_version() -> str:
    binary = alertmanager_binary()
    if binary is None:
        return "missing"
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    text = (out.stdout or out.stderr).split("\n", 1)[0]
    return text.split("version ", 1)[-1].split(" ", 1)[0]


def alertmanager(cfg: dict[str, Any]) -> dict[str, Any]:
    """In a child (Django only for building the estate in memory; no database)."""
    binary = alertmanager_binary()
    assert binary is not None
    problems, stream = _stream(cfg)
    expected: dict[tuple[str, str], int] = {}
    for i in final_firing(problems, stream):
        key = (problems[i].name, problems[i].site)
        expected[key] = expected.get(key, 0) + 1
    groups = {(p.name, p.site) for p in problems}
    folder = Path(tempfile.mkdtemp(prefix="bo-am-"))
    port = free_port()
    (folder / "am.yml").write_text(
        AM_CONFIG.format(wait=GROUP_WAIT, interval=GROUP_INTERVAL, url=cfg["url"])
    )
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={folder / 'am.yml'}",
            f"--storage.path={folder}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port on 0.0.0.0
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_ready(port, proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        first = time.time()
        for k in range(0, len(stream), BATCH):
            now = time.time()
            body = [
                alertmanager_alert(problems[i], firing, now + n * 1e-6)
                for n, (i, firing) in enumerate(stream[k : k + BATCH])
            ]
            conn.request(
                "POST",
                "/api/v2/alerts",
                json.dumps(body),
                {"Content-Type": "application/json"},
            )
            answer = conn.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"Alertmanager answered {answer.status}")
        last = time.time()
        done_at, notified = _until_final(cfg["url"], expected, groups)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)
    cpu = _cpu(resource.RUSAGE_CHILDREN)  # Alertmanager's, once it has exited
    return {"first": first, "last": last, "done_at": done_at, "cpu_s": cpu, **notified}


def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "exited")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/-/ready")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("Alertmanager did not become ready")


def _until_final(
    url: str, expected: dict[tuple[str, str], int], groups: set[tuple[str, str]]
) -> tuple[float, dict[str, Any]]:
    """The arrival of the last notification that brought a group to its final state; the
    state must then hold for 3 s (nothing more arrives)."""
    receiver = _Stats(url)
    deadline = time.time() + 600
    while time.time() < deadline:
        stats = receiver.get()
        last = {
            (g["labels"].get("alertname", ""), g["labels"].get("site", "")): g
            for g in stats["groups"].values()
        }
        final = all(
            (key in last and last[key]["firing"] == n)
            or (key not in last and n == 0)
            or (key in last and n == 0 and last[key]["firing"] == 0)
            for key in groups
            for n in [expected.get(key, 0)]
        )
        if final:
            time.sleep(3)
            again = receiver.get()
            if again["count"] == stats["count"]:
                done_at = max(g["at"] for g in last.values())
                return done_at, {
                    "groups": len(groups),
                    "groups_notified": len(last),
                    "messages_received": stats["count"],
                    "message_kinds": stats["kinds"],
                }
        time.sleep(0.2)
    raise RuntimeError("Alertmanager's notifications did not reach the final state in 10 min")


class _Stats:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self) -> dict[str, Any]:
        import urllib.request

        with urllib.request.urlopen(self.url + "/stats", timeout=30) as answer:
            return json.loads(answer.read())  # type: ignore[no-any-return]


def peer(cfg: dict[str, Any]) -> dict[str, Any]:
    with Instance("sqlite") as inst, Receiver() as receiver:
        figures = run_child(inst, "alerts_throughput", {**cfg, "url": receiver.url, "am": True})
    seconds = figures["done_at"] - figures["first"]
    return {
        "system": f"Alertmanager {alertmanager_version()}",
        "backend": "memory",
        "events": cfg["events"],
        "accepted_per_s": round(cfg["events"] / (figures["last"] - figures["first"])),
        "end_to_end_s": round(seconds, 1),
        "events_per_s": round(cfg["events"] / seconds),
        "cpu_s_per_1000_events": round(figures["cpu_s"] * 1000 / cfg["events"], 2),
        **{k: v for k, v in figures.items() if k not in ("first", "last", "done_at")},
        "settings": f"group_by [alertname, site], group_wait {GROUP_WAIT}, "
        f"group_interval {GROUP_INTERVAL}",
    }


# ---- the part ------------------------------------------------------------------------------


def throughput(
    *,
    events: int = 100_000,
    problems: int = 10_000,
    sites: int = 600,
    per_minute: tuple[int, ...] = (20, 1_000_000),
    backends: tuple[str, ...] = ("sqlite", "postgresql"),
    profile: str = "",
) -> list[dict[str, Any]]:
    cfg = {"events": events, "problems": problems, "sites": sites}
    rows = []
    for limit in per_minute:
        for backend in backends:
            if backend == "postgresql" and not postgres_available():
                rows.append({"system": "BranchOps", "backend": backend, "error": "no PostgreSQL"})
                continue
            print(f"   BranchOps on {backend}, channel limit {limit:,}/min ...", flush=True)
            extra = {"profile": f"{profile}-{backend}-{limit}.prof"} if profile else {}
            rows.append(
                {
                    "channel_per_minute": limit,
                    **ours(backend, {**cfg, "per_minute": limit, **extra}),
                }
            )
            _say(rows[-1])
    if alertmanager_binary() is None:
        rows.append(
            {
                "system": "Alertmanager",
                "error": "missing: scripts/install-system-deps.sh bench",
            }
        )
    else:
        print("   Alertmanager ...", flush=True)
        rows.append(peer(cfg))
        _say(rows[-1])
        am = rows[-1]
        for row in rows[:-1]:
            if "events_per_s" in row:
                row["vs_alertmanager"] = round(row["events_per_s"] / am["events_per_s"], 2)
                row["accepted_vs_alertmanager"] = round(
                    row["accepted_per_s"] / am["accepted_per_s"], 2
                )
    return rows


def _say(row: dict[str, Any]) -> None:
    print(
        f"     accepted {row['accepted_per_s']:,}/s, end to end {row['events_per_s']:,}/s "
        f"({row['end_to_end_s']} s), {row['messages_received']:,} messages",
        flush=True,
    )


if __name__ == "__main__":
    if sys.argv[1] == "feeder":
        child_main(feeder)
    elif sys.argv[1] == "child":
        child_main(lambda cfg: alertmanager(cfg) if cfg.get("am") else engine(cfg))
