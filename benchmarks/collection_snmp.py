"""SNMP polling side by side: our collector, prometheus-snmp-exporter and net-snmp snmpbulkget.

    branchops bench collection_snmp [--devices 1000] [--oids 20] [--rounds 3] [--json]

``devices`` simulated agents (the lab's agent engine, in a child process, on 127.20.x.y)
each serve the same objects, polled by three tools in two shapes:

- ``get``: ``oids`` scalars per device, in one request. Ours: the ``snmp_profile``
  collector with a profile of those scalars. snmp_exporter: a module that GETs them.
  snmpbulkget: ``-Cn<oids>`` (non-repeaters, so one GETNEXT-like read per object).
- ``walk``: a table of 4 columns (a name and 3 values) and ``oids / 4`` rows. Ours: the same
  collector with a table profile (one multi-column GETBULK walk). snmp_exporter: a module
  walking the 4 columns, rows labelled by a lookup of the name. snmpbulkget: ``-Cr<rows>``
  over the 4 columns.

CPU: ours from ``getrusage`` in a child process that only polls; the exporter's from
``/proc/<pid>/stat`` (the HTTP client that scrapes it runs in this process and is not
counted, as Prometheus' own cost would not be); snmpbulkget's from ``RUSAGE_CHILDREN``, one
process per device, start-up included as a scheduler forking it would pay. Everything stays
on loopback. :func:`snmp_vs_exporter` returns the rows; importing this module runs nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ENTERPRISE = "1.3.6.1.4.1.99999"
SCALARS = f"{ENTERPRISE}.1"
TABLE = f"{ENTERPRISE}.2.1"
COLUMNS = 4  # name, then three values
COMMUNITY = "public"
EXPORTER = shutil.which("prometheus-snmp-exporter")
BULKGET = shutil.which("snmpbulkget")
SCENARIOS = ("get", "walk")


def agent_address(number: int) -> str:
    return f"127.20.{number // 250}.{number % 250 + 1}"


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def rows_for(oids: int) -> int:
    return max(1, oids // COLUMNS)


# ---- the simulated devices (child process) ----------------------------------------------------


def device_objects(oids: int) -> dict[str, Any]:
    from branchops.snmp import SnmpType

    started = time.monotonic()
    objects: dict[str, Any] = {
        "1.3.6.1.2.1.1.3.0": (SnmpType.TIMETICKS, lambda: int((time.monotonic() - started) * 100)),
    }
    for k in range(1, oids + 1):
        objects[f"{SCALARS}.{k}.0"] = (SnmpType.GAUGE32, 1000 + k)
    for row in range(1, rows_for(oids) + 1):
        objects[f"{TABLE}.1.{row}"] = (SnmpType.OCTET_STRING, f"row-{row}".encode())
        for column in range(2, COLUMNS + 1):
            objects[f"{TABLE}.{column}.{row}"] = (SnmpType.COUNTER64, row * 1_000_000 + column)
    return objects


async def serve_agents(devices: int, oids: int) -> None:
    """Child process: the agents on one socket; prints the port, then answers "cpu" lines
    with this process's CPU seconds until stdin closes."""
    from branchops.snmp import AgentServer, MibView, SimulatedAgent

    view = MibView(device_objects(oids))  # identical devices share one view
    server = AgentServer(0)
    await server.start()
    for number in range(devices):
        await server.add(SimulatedAgent(agent_address(number), view, communities=[COMMUNITY]))
    print(f"ready {server.port}", flush=True)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def on_line() -> None:
        if sys.stdin.readline():
            print(f"{cpu_seconds():.6f}", flush=True)
        elif not done.done():
            loop.remove_reader(sys.stdin.fileno())
            done.set_result(None)

    loop.add_reader(sys.stdin.fileno(), on_line)
    await done
    server.close()


class Agents:
    """The agent child process."""

    def __init__(self, devices: int, oids: int) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                os.path.abspath(__file__),
                "--serve",
                str(devices),
                "--oids",
                str(oids),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline().split()[1])

    def cpu(self) -> float:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("cpu\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


# ---- ours (child process) ---------------------------------------------------------------------


def bench_profile(scenario: str, oids: int) -> Any:
    from branchops.monitoring.snmp_profiles import DeviceProfile

    if scenario == "get":
        scalars = [
            {"metric": f"bench_value_{k}", "oid": f"{SCALARS}.{k}.0"} for k in range(1, oids + 1)
        ]
        return DeviceProfile.model_validate({"name": "bench-get", "scalars": scalars})
    columns: list[dict[str, Any]] = [{"oid": f"{TABLE}.1", "label": "row"}]
    columns += [
        {"oid": f"{TABLE}.{c}", "metric": f"bench_column_{c}_total", "kind": "counter"}
        for c in range(2, COLUMNS + 1)
    ]
    return DeviceProfile.model_validate(
        {"name": "bench-walk", "tables": [{"name": "bench", "columns": columns}]}
    )


async def poll_ours(
    port: int, devices: int, oids: int, scenario: str, rounds: int
) -> dict[str, Any]:
    from branchops.monitoring.collectors import Context, build
    from branchops.monitoring.collectors.base import CheckSpec, SnmpAccess, State

    profile = bench_profile(scenario, oids)
    context = Context(clock=time.time, monotonic=time.monotonic, profiles={profile.name: profile})
    collector = build("snmp_profile", context)
    access = SnmpAccess("2c", port, community=COMMUNITY, timeout_s=5.0, retries=1)
    specs = [
        CheckSpec(
            n,
            "snmp_profile",
            agent_address(n),
            30.0,
            params={"credential": "bench", "profile": profile.name},
            snmp=access,
        )
        for n in range(devices)
    ]
    expected = oids if scenario == "get" else rows_for(oids) * (COLUMNS - 1)
    await asyncio.gather(*(collector.collect(spec) for spec in specs))  # warm-up
    cpu_before, wall_before = cpu_seconds(), time.perf_counter()
    for _ in range(rounds):
        results = await asyncio.gather(*(collector.collect(spec) for spec in specs))
        assert all(r.state is State.UP and len(r.samples) == expected for r in results)
    wall, cpu = time.perf_counter() - wall_before, cpu_seconds() - cpu_before
    context.shared["snmp.client"].close()
    return {"wall_s": wall, "cpu_s": cpu, "polls": devices * rounds}


def measure_ours(
    agents: Agents, devices: int, oids: int, scenario: str, rounds: int
) -> dict[str, Any]:
    agent_before = agents.cpu()
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--poll-ours", str(agents.port),
         "--devices", str(devices), "--oids", str(oids), "--scenario", scenario,
         "--rounds", str(rounds)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    figures["agent_cpu_s"] = agents.cpu() - agent_before
    return figures


# ---- prometheus-snmp-exporter -----------------------------------------------------------------


def exporter_config(oids: int) -> str:
    """A 0.21-format module per scenario, written by hand with numeric OIDs."""
    common = ["  version: 2", "  max_repetitions: 25", "  retries: 1", "  timeout: 5s",
              "  auth:", f"    community: {COMMUNITY}"]  # fmt: skip
    lines = ["bench_get:", *common, "  get:"]
    lines += [f"    - {SCALARS}.{k}.0" for k in range(1, oids + 1)]
    lines.append("  metrics:")
    for k in range(1, oids + 1):
        lines += [f"    - name: bench_value_{k}", f"      oid: {SCALARS}.{k}", "      type: gauge"]
    lines += ["bench_walk:", *common, "  walk:"]
    lines += [f"    - {TABLE}.{c}" for c in range(1, COLUMNS + 1)]
    lines.append("  metrics:")
    for c in range(2, COLUMNS + 1):
        lines += [
            f"    - name: bench_column_{c}_total",
            f"      oid: {TABLE}.{c}",
            "      type: counter",
            "      indexes:",
            "        - labelname: row",
            "          type: gauge",
            "      lookups:",
            "        - labels: [row]",
            "          labelname: row",
            f"          oid: {TABLE}.1",
            "          type: DisplayString",
        ]
    return "\n".join(lines) + "\n"


@contextmanager
def exporter_process(oids: int) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    assert EXPORTER is not None
    folder = Path(tempfile.mkdtemp(prefix="branchops-bench-snmp-exporter-"))
    config = folder / "snmp.yml"
    config.write_text(exporter_config(oids), encoding="utf-8")
    port = free_port(socket.SOCK_STREAM)
    process = subprocess.Popen(
        [EXPORTER, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
         "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("prometheus-snmp-exporter did not start") from None
                time.sleep(0.1)
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def process_cpu(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat (fields 14 and 15, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def scrape_all(port: int, agent_port: int, devices: int, module: str, expect: str) -> int:
    import httpx

    slots = asyncio.Semaphore(64)
    url = f"http://127.0.0.1:{port}/snmp"
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client:

        async def one(number: int) -> int:
            params = {"target": f"{agent_address(number)}:{agent_port}", "module": module}
            async with slots:
                reply = await client.get(url, params=params)
            reply.raise_for_status()
            return reply.text.count(f"\n{expect}")

        counts = await asyncio.gather(*(one(n) for n in range(devices)))
    return sum(counts)


def measure_exporter(
    agents: Agents, devices: int, oids: int, scenario: str, rounds: int
) -> dict[str, Any]:
    module, expect = (
        ("bench_get", "bench_value_") if scenario == "get" else ("bench_walk", "bench_column_")
    )
    expected = oids if scenario == "get" else rows_for(oids) * (COLUMNS - 1)
    with exporter_process(oids) as (process, port):
        asyncio.run(scrape_all(port, agents.port, devices, module, expect))  # warm-up
        cpu_before, agent_before = process_cpu(process.pid), agents.cpu()
        wall_before = time.perf_counter()
        for _ in range(rounds):
            found = asyncio.run(scrape_all(port, agents.port, devices, module, expect))
            if found != devices * expected:
                raise RuntimeError(f"snmp_exporter returned {found} of {devices * expected} values")
        wall = time.perf_counter() - wall_before
        cpu = process_cpu(process.pid) - cpu_before
    return {"wall_s": wall, "cpu_s": cpu, "polls": devices * rounds,
            "agent_cpu_s": agents.cpu() - agent_before}  # fmt: skip


# ---- net-snmp snmpbulkget ---------------------------------------------------------------------


def measure_bulkget(agents: Agents, devices: int, oids: int, scenario: str) -> dict[str, Any]:
    assert BULKGET is not None
    home = tempfile.mkdtemp(prefix="branchops-bench-netsnmp-")
    env = {"PATH": os.environ.get("PATH", ""), "MIBS": "", "HOME": home, "SNMPCONFPATH": home,
           "SNMP_PERSISTENT_DIR": home}  # fmt: skip
    if scenario == "get":  # non-repeaters: a GETNEXT of each scalar's object returns its .0
        shape, objects = [f"-Cn{oids}", "-Cr0"], [f"{SCALARS}.{k}" for k in range(1, oids + 1)]
        expected = oids
    else:
        shape = ["-Cn0", f"-Cr{rows_for(oids)}"]
        objects = [f"{TABLE}.{c}" for c in range(1, COLUMNS + 1)]
        expected = rows_for(oids) * COLUMNS

    def one(number: int) -> int:
        target = f"{agent_address(number)}:{agents.port}"
        command = [BULKGET, "-v2c", "-c", COMMUNITY, "-On", "-Oq", "-t", "5", "-r", "1",
                   *shape, target, *objects]  # fmt: skip
        out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
        return len(out.stdout.splitlines())

    try:
        agent_before = agents.cpu()
        before, wall_before = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            found = sum(pool.map(one, range(devices)))
        wall = time.perf_counter() - wall_before
        # RUSAGE_CHILDREN counts reaped children only: the agent process is still running.
        cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - before
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if found != devices * expected:
        raise RuntimeError(f"snmpbulkget returned {found} of {devices * expected} values")
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "polls": devices,
        "agent_cpu_s": agents.cpu() - agent_before,
    }


# ---- the comparison ---------------------------------------------------------------------------


def snmp_vs_exporter(
    devices: int = 1000,
    oids: int = 20,
    *,
    rounds: int = 3,
    scenarios: tuple[str, ...] = SCENARIOS,
    netsnmp: bool = True,
) -> list[dict[str, Any]]:
    """One row per scenario and tool: OIDs/s, CPU-ms per 1,000 OIDs, ratio to snmp_exporter."""
    rows: list[dict[str, Any]] = []
    agents = Agents(devices, oids)
    try:
        for scenario in scenarios:
            per_device = oids if scenario == "get" else rows_for(oids) * COLUMNS
            found: dict[str, dict[str, Any]] = {
                "branchops snmp_profile collector": measure_ours(
                    agents, devices, oids, scenario, rounds
                )
            }
            if EXPORTER:
                found["prometheus-snmp-exporter 0.21"] = measure_exporter(
                    agents, devices, oids, scenario, rounds
                )
            if BULKGET and netsnmp:  # one request per device: over ~60 objects it is tooBig
                found["net-snmp snmpbulkget (a process per device)"] = measure_bulkget(
                    agents, devices, oids, scenario
                )
            rows += _rows(scenario, devices, per_device, found)
    finally:
        agents.stop()
    return rows


def _rows(
    scenario: str, devices: int, per_device: int, found: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    rows = []
    for tool, figures in found.items():
        total = figures["polls"] * per_device
        rows.append({
            "scenario": scenario, "tool": tool, "devices": devices, "oids_per_device": per_device,
            "polls": figures["polls"], "oids": total, "wall_s": round(figures["wall_s"], 3),
            "oids_per_s": round(total / figures["wall_s"]),
            "cpu_ms_per_1000_oids": round(figures["cpu_s"] * 1e6 / total, 2),
            "agent_cpu_ms_per_1000_oids": round(figures["agent_cpu_s"] * 1e6 / total, 2),
        })  # fmt: skip
    exporter = next((r for r in rows if r["tool"].startswith("prometheus")), None)
    for row in rows:
        row["cpu_ratio_to_exporter"] = (
            round(row["cpu_ms_per_1000_oids"] / exporter["cpu_ms_per_1000_oids"], 2)
            if exporter and exporter["cpu_ms_per_1000_oids"]
            else None
        )
    return rows


def print_rows(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'scenario':<8} {'tool':<44} {'OIDs/s':>10} {'CPU ms/1k OIDs':>15} {'x exporter':>10}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = (
            "" if row["cpu_ratio_to_exporter"] is None else f"{row['cpu_ratio_to_exporter']:.2f}"
        )
        print(
            f"{row['scenario']:<8} {row['tool']:<44} {row['oids_per_s']:>10,} "
            f"{row['cpu_ms_per_1000_oids']:>15.2f} {ratio:>10}"
        )
    print("Target (issue 3): our CPU per OID within 3x of snmp_exporter's.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--oids", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scenario", choices=SCENARIOS, action="append")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--no-netsnmp", action="store_true", help="leave snmpbulkget out")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--poll-ours", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(serve_agents(args.serve, args.oids))
        return 0
    if args.poll_ours is not None:
        scenario = (args.scenario or ["get"])[0]
        figures = asyncio.run(
            poll_ours(args.poll_ours, args.devices, args.oids, scenario, args.rounds)
        )
        print(json.dumps(figures))
        return 0
    rows = snmp_vs_exporter(
        args.devices,
        args.oids,
        rounds=args.rounds,
        scenarios=tuple(args.scenario or SCENARIOS),
        netsnmp=not args.no_netsnmp,
    )
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_rows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
