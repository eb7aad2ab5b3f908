"""``branchops bench collection``: the collection engine against real tools, on loopback.

Parts (each can be run alone with ``--only NAME``):

- ``icmp``: a 10,000-target ICMP sweep by our collector vs ``fping -i 0``
  (target: at least 0.5x fping's rate);
- ``snmp``: 1,000 simulated devices x 20 OIDs, our collector vs prometheus-snmp-exporter and
  net-snmp's snmpbulkget (target: CPU per OID within 3x of snmp_exporter);
- ``probes``: 5,000 TCP and 5,000 HTTP targets, ours vs prometheus-blackbox-exporter
  (target: at least parity in probes per CPU-second);
- ``ingest``: samples/s into the embedded SQLite store (target: at least 100,000/s) and by
  remote write into VictoriaMetrics;
- ``demo``: the whole demo estate (lab + engine) for ``--minutes`` (default 10): engine CPU
  (target under 50 % of one core), p99 lateness (under 2 s), missed runs (zero).

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
    "icmp": "collection_probes:icmp_vs_fping",
    "snmp": "collection_snmp:snmp_vs_exporter",
    "probes": "collection_probes:tcp_http_vs_blackbox",
    "ingest": "collection_ingest:ingest_rates",
    "demo": "collection_demo:demo_estate",
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
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(_fmt(row.get(k)) for k in keys) + " |")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description="collection benchmarks (see module doc)")
    parser.add_argument("--only", choices=sorted(PARTS), action="append")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the demo run")
    args = parser.parse_args()
    chosen = args.only or list(PARTS)
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M"), "parts": {}}
    for name in chosen:
        print(f"\n== {name}", flush=True)
        kwargs = {"minutes": args.minutes} if name == "demo" else {}
        try:
            rows = _part(name)(**kwargs)
        except Exception as exc:
            rows = [{"part": name, "error": f"{type(exc).__name__}: {exc}"}]
        results["parts"][name] = rows
        print_rows(name, rows)
    print(f"\nsaved {save('collection', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
