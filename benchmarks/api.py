"""``branchops bench api``: the estate API and pages under load, and bulk import.

With the 620-branch demo estate loaded, on SQLite and (when it answers on 127.0.0.1:5432)
PostgreSQL:

- list devices filtered by region, 50 per page, round-robin over every region code;
- the site page (HTML, signed in) and the site API detail, round-robin over the branches;
each driven by wrk with 20 concurrent connections: p50/p90/p99 latency and requests/s.
Then the import of a 10,000-row device XLSX through the CLI (dry run and real).

Targets (issue 2): p99 under 150 ms for the list; the import under 20 s.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Instance, api_get, postgres_available, save, session_cookie, wrk

WORKBOOK_SCRIPT = """
from pathlib import Path
from branchops.cmdb.importing import samples
samples.ensure_catalog()
codes = samples.ensure_sites({sites}, prefix="BM")
Path({path!r}).write_bytes(samples.device_workbook({rows}, codes))
"""


def measure_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"\n== {backend}: loading the demo estate ({args.branches} branches)", flush=True)
    with Instance(backend) as inst:
        load_s, _ = inst.timed(
            "demo", "--no-serve", "--branches", str(args.branches), "--seed", "1"
        )
        password = inst.create_user("benchadmin")
        token = inst.run("token", "create", "--user", "benchadmin").strip()
        figures: dict[str, Any] = {"backend": backend, "demo_load_s": round(load_s, 2)}
        with inst.web(workers=args.workers) as base:
            figures["load"] = run_loads(base, token, password, args)
        figures["import"] = measure_import(inst, args)
    return figures


def run_loads(
    base: str, token: str, password: str, args: argparse.Namespace
) -> list[dict[str, Any]]:
    regions = api_get(base, "/api/v1/regions/?limit=1000", token)["results"]  # type: ignore[index]
    sites = api_get(base, "/api/v1/sites/?kind=branch&limit=1000", token)["results"]  # type: ignore[index]
    region_paths = [f"/api/v1/devices/?region={r['code']}&limit=50" for r in regions]
    site_ids = [s["id"] for s in sites]
    cookie = session_cookie(base, "benchadmin", password)
    auth = f"Authorization: Bearer {token}"
    runs = [
        ("devices by region (API, 50/page)", region_paths, auth),
        ("site page (HTML)", [f"/estate/sites/{i}/" for i in site_ids], f"Cookie: {cookie}"),
        ("site detail (API)", [f"/api/v1/sites/{i}/" for i in site_ids], auth),
    ]
    results = []
    for name, paths, header in runs:
        print(
            f"   {name}: {len(paths)} URLs, {args.connections} connections, {args.seconds} s",
            flush=True,
        )
        result = wrk(name, base, paths, header, connections=args.connections, seconds=args.seconds)
        results.append(result.__dict__)
        print(
            f"     {result.requests_per_s:8.1f} req/s  p50 {result.p50_ms:6.1f} ms  "
            f"p90 {result.p90_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms  errors {result.errors}",
            flush=True,
        )
    return results


def measure_import(inst: Instance, args: argparse.Namespace) -> dict[str, Any]:
    path = inst.home / "devices-10k.xlsx"
    sites = max(1, args.import_rows // 10)
    inst.run(
        "manage",
        "shell",
        "-c",
        WORKBOOK_SCRIPT.format(sites=sites, path=str(path), rows=args.import_rows),
    )
    dry_s, _ = inst.timed(
        "import", str(path), "--kind", "devices", "--dry-run", "--user", "benchadmin"
    )
    real_s, _ = inst.timed("import", str(path), "--kind", "devices", "--user", "benchadmin")
    print(
        f"   import {args.import_rows} rows XLSX: dry run {dry_s:.1f} s, real {real_s:.1f} s",
        flush=True,
    )
    return {
        "rows": args.import_rows,
        "dry_run_s": round(dry_s, 2),
        "real_s": round(real_s, 2),
        "size_bytes": path.stat().st_size,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--branches", type=int, default=620)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=None, help="default: the product's")
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()

    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends and not postgres_available():
        print("PostgreSQL does not answer on 127.0.0.1:5432; measuring SQLite only")
        backends.remove("postgresql")
    started = time.strftime("%Y-%m-%d %H:%M")
    results = [measure_backend(b, args) for b in backends]
    summary = {
        "benchmark": "api",
        "started": started,
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "settings": vars(args),
        "results": results,
    }
    print(f"\nsaved {save('api', summary)}")
    print_table(results)
    return 0


def print_table(results: list[dict[str, Any]]) -> None:
    print("\n| backend | what | req/s | p50 ms | p90 ms | p99 ms | errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        for load in r["load"]:
            print(
                f"| {r['backend']} | {load['name']} | {load['requests_per_s']:.0f} | "
                f"{load['p50_ms']:.1f} | {load['p90_ms']:.1f} | {load['p99_ms']:.1f} | "
                f"{load['errors']} |"
            )
    print("\n| backend | demo load s | import rows | dry run s | import s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in results:
        imp = r["import"]
        print(
            f"| {r['backend']} | {r['demo_load_s']} | {imp['rows']} | {imp['dry_run_s']} | "
            f"{imp['real_s']} |"
        )


if __name__ == "__main__":
    sys.exit(main())
