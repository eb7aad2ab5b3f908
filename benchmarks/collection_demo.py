"""The whole demo estate, lab and engine together, for a number of minutes.

Loads the 620-branch demo estate into a fresh state folder, starts ``branchops lab`` and
``branchops engine`` as separate processes, waits for the engine to finish loading, then
measures for ``minutes``: the engine's CPU (from /proc, as a share of one core), check
lateness p50/p99 (from the engine's own histogram, over the window only), runs per second,
missed and overlapping runs, and the lab's CPU and memory.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from _harness import BRANCHOPS, Instance, free_port

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            values[key] = float(value)
    return values


def _quantile(before: dict[str, float], after: dict[str, float], q: float) -> float:
    buckets = []
    for key, value in after.items():
        match = re.fullmatch(r'branchops_engine_lateness_seconds_bucket\{le="([^"]+)"\}', key)
        if match:
            bound = float("inf") if match[1] == "+Inf" else float(match[1])
            buckets.append((bound, value - before.get(key, 0.0)))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    for bound, cumulative in buckets:
        if total and cumulative >= q * total:
            return bound
    return float("nan")


def _start(inst: Instance, args: list[str]) -> subprocess.Popen[bytes]:
    log = open(inst.home / f"{args[0]}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([BRANCHOPS, *args], env=inst.env, stdout=log, stderr=log)


def demo_estate(minutes: float = 10.0, branches: int = 620) -> list[dict[str, Any]]:
    with Instance("sqlite") as inst:
        inst.run("demo", "--no-serve", "--branches", str(branches), "--seed", "1")
        port = free_port()
        lab = _start(inst, ["lab"])
        engine = _start(inst, ["engine", "--metrics-port", str(port)])
        try:
            before = _wait_ready(port, engine)
            time.sleep(60)  # one full interval of the busiest templates before measuring
            before = _scrape(port)
            cpu0, lab0, t0 = _cpu_seconds(engine.pid), _cpu_seconds(lab.pid), time.monotonic()
            time.sleep(minutes * 60)
            after = _scrape(port)
            cpu1, lab1, t1 = _cpu_seconds(engine.pid), _cpu_seconds(lab.pid), time.monotonic()
            return [
                _row(
                    before,
                    after,
                    engine_cpu=cpu1 - cpu0,
                    lab_cpu=lab1 - lab0,
                    seconds=t1 - t0,
                    engine_pid=engine.pid,
                    lab_pid=lab.pid,
                )
            ]
        finally:
            for proc in (engine, lab):
                proc.send_signal(signal.SIGTERM)
            for proc in (engine, lab):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=60)


def _wait_ready(port: int, engine: subprocess.Popen[bytes]) -> dict[str, float]:
    for _ in range(600):
        if engine.poll() is not None:
            raise RuntimeError("the engine exited during start-up; see its log")
        with contextlib.suppress(OSError):
            return _scrape(port)
        time.sleep(1)
    raise RuntimeError("the engine did not start within 10 minutes")


def _row(
    before: dict[str, float],
    after: dict[str, float],
    *,
    engine_cpu: float,
    lab_cpu: float,
    seconds: float,
    engine_pid: int,
    lab_pid: int,
) -> dict[str, Any]:
    def delta(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    checks = sum(v for k, v in after.items() if k.startswith("branchops_engine_checks{"))
    return {
        "minutes": round(seconds / 60, 1),
        "checks": int(checks),
        "runs_per_s": round(delta("branchops_engine_runs_total") / seconds, 1),
        "engine_cpu_pct_of_core": round(100 * engine_cpu / seconds, 1),
        "engine_rss_mb": round(_rss_mb(engine_pid)),
        "lateness_p50_s": _quantile(before, after, 0.5),
        "lateness_p99_s": _quantile(before, after, 0.99),
        "missed": int(delta('branchops_engine_runs_skipped_total{reason="missed"}')),
        "overlapping": int(delta('branchops_engine_runs_skipped_total{reason="overlap"}')),
        "timeouts": int(delta('branchops_engine_errors_total{kind="timeout"}')),
        "lab_cpu_pct_of_core": round(100 * lab_cpu / seconds, 1),
        "lab_rss_mb": round(_rss_mb(lab_pid)),
        "targets": "engine CPU < 50 %, p99 lateness < 2 s, missed 0",
    }
