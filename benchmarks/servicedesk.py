"""``branchops bench servicedesk``: SLA clocks for 100,000 tickets, and the KPI API over two
years of demo history.

1. SLA computation: ``branchops.servicedesk.tests.sla_speed`` (100,000 synthetic tickets
   with one to three pauses each, over the 7x24, 5x8 and trading calendars), run in a
   fresh process. Target (issue 5): under 10 s.
2. For SQLite and (when it answers on 127.0.0.1:5432) PostgreSQL: ``branchops demo
   --no-serve`` loads the 620-branch estate and its two years of service-desk history, then
   wrk drives ``GET /api/v1/kpis/`` over the whole two years, grouped by month, region and
   priority in turn (round-robin), with ``--connections`` clients; then the KPI page
   ``/servicedesk/kpis/`` (signed in; breakdown by region, site and priority in turn) the
   same way. Target: p99 under 500 ms on PostgreSQL, for both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Instance, api_get, postgres_available, save, session_cookie, wrk

GROUPINGS = ("month", "region", "priority")
PAGE_BREAKDOWNS = ("region", "site", "priority")


def measure_sla(tickets: int) -> dict[str, Any]:
    print(f"== SLA clocks for {tickets} tickets", flush=True)
    with Instance("sqlite") as inst:
        inst.run("init")
        out = subprocess.run(
            [sys.executable, "-m", "branchops.servicedesk.tests.sla_speed", str(tickets)],
            env=inst.env, capture_output=True, text=True, check=True, timeout=600,
        ).stdout  # fmt: skip
    print("   " + out.strip(), flush=True)
    found = re.search(r"(\d+) events, 3 calendars: ([\d.]+) s", out)
    assert found is not None, out
    return {"tickets": tickets, "events": int(found[1]), "seconds": float(found[2])}


def measure_kpis(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"\n== {backend}: demo estate and two years of history", flush=True)
    with Instance(backend) as inst:
        load_s, out = inst.timed("demo", "--no-serve", "--seed", "1")
        wrote = next((line for line in out.splitlines() if "service-desk history" in line), "")
        print(f"   demo --no-serve: {load_s:.1f} s; {wrote.strip()}", flush=True)
        password = inst.create_user("benchadmin")
        token = inst.run("token", "create", "--user", "benchadmin").strip()
        today = dt.date.today()
        first = today.year * 12 + today.month - 1 - 23  # 24 months, this one included
        start = f"{first // 12}-{first % 12 + 1:02d}"
        paths = [f"/api/v1/kpis/?from={start}&to={today:%Y-%m}&by={by}" for by in GROUPINGS]
        pages = [
            f"/servicedesk/kpis/?from={start}&to={today:%Y-%m}&by={by}" for by in PAGE_BREAKDOWNS
        ]
        figures: dict[str, Any] = {"backend": backend, "demo_load_s": round(load_s, 1),
                                   "history": wrote.strip(), "paths": paths}  # fmt: skip
        with inst.web(workers=args.workers) as base:
            single = []
            for p in paths:
                began = time.perf_counter()
                body = api_get(base, p, token)
                single.append(round((time.perf_counter() - began) * 1000, 1))
            figures["tickets"] = body["total"]["tickets"]  # type: ignore[index]
            figures["single_request_ms"] = single
            print(f"   one request each (cold worker): {single} ms; "
                  f"{figures['tickets']} tickets in range", flush=True)  # fmt: skip
            cookie = session_cookie(base, "benchadmin", password)
            runs = [
                ("kpis", paths, f"Authorization: Bearer {token}"),
                ("kpi page", pages, f"Cookie: {cookie}"),
            ]
            results = [
                _drive(base, name, urls, header, connections=connections, args=args)
                for name, urls, header in runs
                for connections in args.connections
            ]
            figures["load"] = results
    return figures


def _drive(
    base: str,
    name: str,
    paths: list[str],
    header: str,
    *,
    connections: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    label = f"{name}, {connections} connections"
    try:
        result = wrk(label, base, paths, header, connections=connections,
                     seconds=args.seconds, threads=min(2, connections))  # fmt: skip
    except KeyError:
        # wrk prints no latency percentiles when every request timed out (2 s).
        print(f"   {label}: requests timed out (over 2 s)")
        return {"name": label, "timeouts": True}
    print(
        f"   {label:28s}: {result.requests_per_s:6.1f} req/s  p50 {result.p50_ms:6.1f} ms  "
        f"p90 {result.p90_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms  errors {result.errors}",
        flush=True,
    )
    return dict(result.__dict__)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=None, help="default: the product's")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--skip-sla", action="store_true")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends and not postgres_available():
        print("PostgreSQL does not answer on 127.0.0.1:5432; measuring SQLite only")
        backends.remove("postgresql")
    started = time.strftime("%Y-%m-%d %H:%M")
    load = os.getloadavg()
    summary = {
        "benchmark": "servicedesk",
        "started": started,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "load_average_at_start": [round(x, 2) for x in load],
        "settings": vars(args),
        "sla": None if args.skip_sla else measure_sla(args.tickets),
        "kpis": [measure_kpis(b, args) for b in backends],
    }
    print(f"\nsaved {save('servicedesk', summary)}")
    print("\n| backend | what | connections | req/s | p50 ms | p90 ms | p99 ms | errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in summary["kpis"]:  # type: ignore[union-attr]
        for x in r["load"]:
            what, connections = x["name"].split(", ")
            if x.get("timeouts"):
                print(f"| {r['backend']} | {what} | {connections} | timed out | | | | |")
                continue
            print(
                f"| {r['backend']} | {what} | {connections} | {x['requests_per_s']:.1f} | "
                f"{x['p50_ms']:.0f} | {x['p90_ms']:.0f} | {x['p99_ms']:.0f} | {x['errors']} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
