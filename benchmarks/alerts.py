"""``branchops bench alerts``: the alert pipeline end to end, on loopback (issue "Alerts", 8).

Parts (each can be run alone with ``--only NAME``):

- ``throughput``: 100,000 generic JSON events (10,000 problems on 600 branches: repeats,
  resolutions, flapping) through ingest, the pipeline and the outbox to a webhook receiver,
  on SQLite and PostgreSQL, side by side with prometheus-alertmanager fed the same stream
  (target: at least 2,000 events/s sustained on both databases);
- ``storm``: the 620-branch estate's HQ VPN concentrator dies: its ICMP check and every
  branch tunnel to it fail over one tunnel interval; exactly one notification must arrive,
  with every branch linked as a symptom; both databases;
- ``latency``: the lab and the engine with 10 s checks; ``device-down`` injected on 20
  branch devices in turn: time to the DingTalk-style robot's message, p50/p99 (SQLite;
  needs root and nftables).

Results are printed as tables and saved under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import save

PARTS: dict[str, str] = {
    "throughput": "alerts_throughput:throughput",
    "storm": "alerts_storm:storm",
    "latency": "alerts_latency:latency",
}


def _part(name: str) -> Callable[..., list[dict[str, Any]]]:
    module_name, func = PARTS[name].split(":")
    module = __import__(module_name)
    return getattr(module, func)  # type: ignore[no-any-return]


def print_rows(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n## {title}")
    if not rows:
        print("(no rows)")
        return
    keys = list(dict.fromkeys(k for row in rows for k in row))
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(_fmt(row.get(k, "")) for k in keys) + " |")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description="alert pipeline benchmarks (see module doc)")
    parser.add_argument("--only", choices=sorted(PARTS), action="append")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=100_000, help="throughput: events")
    parser.add_argument(
        "--per-minute",
        type=int,
        action="append",
        help="throughput: the webhook channel's rate limit, once per setting to measure "
        "(default: 20, the product's, then 1,000,000, every notification on its own)",
    )
    parser.add_argument(
        "--profile", default="", help="throughput: cProfile the pipeline's passes to PREFIX-*.prof"
    )
    parser.add_argument(
        "--spread", type=float, default=60.0, help="storm: seconds the tunnel failures span"
    )
    parser.add_argument("--devices", type=int, default=20, help="latency: injections")
    parser.add_argument("--interval", type=int, default=10, help="latency: check interval (s)")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    options: dict[str, dict[str, Any]] = {
        "throughput": {
            "events": args.events,
            "problems": max(1, args.events // 10),
            "per_minute": tuple(args.per_minute or (20, 1_000_000)),
            "backends": backends,
            "profile": args.profile,
        },
        "storm": {"spread_s": args.spread, "backends": backends},
        "latency": {"devices": args.devices, "interval_s": args.interval},
    }
    chosen = args.only or list(PARTS)
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M"), "parts": {}}
    for name in chosen:
        print(f"\n== {name}", flush=True)
        began = time.perf_counter()
        try:
            rows = _part(name)(**options[name])
        except Exception as exc:
            rows = [{"part": name, "error": f"{type(exc).__name__}: {exc}"}]
        results["parts"][name] = rows
        print(f"   ({time.perf_counter() - began:.0f} s)")
        print_rows(name, rows)
    print(f"\nsaved {save('alerts', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
