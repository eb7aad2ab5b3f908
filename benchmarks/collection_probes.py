"""Probe collectors against the reference tools, on loopback only.

- :func:`icmp_vs_fping`: one ICMP echo to each of 10,000 addresses in 127.0.0.0/8 (never
  127.0.0.1), by our collector (per-check ``collect()`` calls, and one ``collect_many()``
  sweep) and by ``fping -i 0 -q -c 1`` on the same addresses. Rate and CPU per 1,000 checks;
  issue 3's target: at least 0.5x fping's rate.
- :func:`tcp_http_vs_blackbox`: 5,000 TCP connects and 5,000 HTTP GETs to one asyncio server
  bound to 0.0.0.0 that answers on every 127.x address (peers outside 127.0.0.0/8 are cut),
  by our collectors and by ``prometheus-blackbox-exporter`` (``tcp_connect`` and
  ``http_2xx`` modules written here) driven through ``/probe`` by a keep-alive client with
  the same concurrency. Probes per CPU-second of each prober; target: at least parity.

Each side is measured in a process that does nothing else: our collectors run in a child
process that reports its own ``getrusage`` around the measured run (imports and warm-up
excluded); fping's CPU is ``RUSAGE_CHILDREN`` around its run; the exporter's comes from
``/proc/<pid>/stat``. The target server runs in its own process and is measured by no one.
Everything here happens when a function is called; importing this module does nothing.

    branchops bench collection --only icmp --only probes
    python benchmarks/collection_probes.py [icmp|probes]   # JSON rows on stdout
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
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
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
CONCURRENCY = 100  # probes in flight, for ours and for the exporter alike
WARM_UP = 200


def loopback_targets(count: int, first_octet: int = 210) -> list[str]:
    """``count`` distinct addresses in 127.<first_octet>.0.1 onwards, never .0 or .255."""
    targets = []
    for i in range(count):
        second, rest = divmod(i, 254 * 256)
        third, fourth = divmod(rest, 254)
        address = f"127.{first_octet + second}.{third}.{fourth + 1}"
        if ipaddress.ip_address(address) not in ipaddress.ip_network("127.0.0.0/8"):
            raise ValueError(f"{address} is outside 127.0.0.0/8")
        targets.append(address)
    return targets


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _worker(mode: str, targets_file: Path, port: int = 0) -> dict[str, Any]:
    """Run one measurement of ours in a fresh child process; its JSON report."""
    command = [sys.executable, str(HERE), "--worker", mode, str(targets_file), str(port)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"worker {mode} failed:\n{done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


# ---- ICMP ---------------------------------------------------------------------------------------


def icmp_vs_fping(targets: int = 10_000, rounds: int = 5) -> list[dict[str, Any]]:
    """Our ICMP sweep (per check, batch, batch with an engine GC setting) and fping's, each
    the fastest of ``rounds`` runs; the tools take turns, so a busy moment on the machine
    hits all of them alike."""
    fping = shutil.which("fping")
    addresses = loopback_targets(targets)
    modes = ["icmp-per-check", "icmp-sweep", "icmp-sweep-gc"]
    with tempfile.TemporaryDirectory(prefix="bo-bench-icmp-") as folder:
        targets_file = Path(folder) / "targets.txt"
        targets_file.write_text("\n".join(addresses) + "\n")
        reports: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
        if fping is not None:
            _fping_run(fping, targets_file)  # warm-up, not counted
            reports["fping"] = []
        for _ in range(rounds):
            for mode in modes:
                reports[mode].append(_worker(mode, targets_file))
            if fping is not None:
                reports["fping"].append(_fping_run(fping, targets_file))
    return _icmp_rows(targets, {mode: _best(iter(runs)) for mode, runs in reports.items()})


def _best(reports: Iterator[dict[str, Any]]) -> dict[str, Any]:
    return min(reports, key=lambda report: report["seconds"])


def _fping_run(fping: str, targets_file: Path) -> dict[str, Any]:
    before = _cpu_children()
    start = time.perf_counter()
    done = subprocess.run(
        [fping, "-i", "0", "-q", "-c", "1", "-f", str(targets_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    answered = sum(1 for line in done.stderr.splitlines() if "/1/0%" in line)
    return {"seconds": seconds, "cpu_s": _cpu_children() - before, "answered": answered}


def _icmp_rows(targets: int, runs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    reference = runs.get("fping")
    labels = {
        "icmp-per-check": "branchops collect() per check",
        "icmp-sweep": "branchops collect_many() sweep",
        "icmp-sweep-gc": "same, gc threshold 100000 (engine setting)",
        "fping": "fping -i 0 -q -c 1",
    }
    rows = []
    for mode, report in runs.items():
        rate = targets / report["seconds"]
        cpu_per_1000 = report["cpu_s"] / targets * 1000
        row = {
            "tool": labels[mode],
            "targets": targets,
            "answered": report["answered"],
            "seconds": round(report["seconds"], 3),
            "targets_per_s": round(rate),
            "cpu_s_per_1000": round(cpu_per_1000, 4),
            "rate_vs_fping": None,
            "cpu_vs_fping": None,
        }
        if reference is not None:
            row["rate_vs_fping"] = round(rate / (targets / reference["seconds"]), 2)
            row["cpu_vs_fping"] = round(report["cpu_s"] / reference["cpu_s"], 2)
        rows.append(row)
    return rows


# ---- TCP and HTTP -------------------------------------------------------------------------------


BLACKBOX_MODULES = """\
modules:
  tcp_connect:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      valid_status_codes: [200]
"""


def tcp_http_vs_blackbox(targets: int = 5_000) -> list[dict[str, Any]]:
    """TCP connect and HTTP GET probes: ours vs blackbox_exporter, in probes per CPU-second."""
    addresses = loopback_targets(targets, first_octet=220)
    exporter = shutil.which("prometheus-blackbox-exporter")
    with tempfile.TemporaryDirectory(prefix="bo-bench-probes-") as folder:
        targets_file = Path(folder) / "targets.txt"
        targets_file.write_text("\n".join(addresses) + "\n")
        with _target_server() as port:
            runs = {("tcp", "branchops"): _worker("tcp", targets_file, port)}
            runs["http", "branchops"] = _worker("http", targets_file, port)
            if exporter is not None:
                config = Path(folder) / "blackbox.yml"
                config.write_text(BLACKBOX_MODULES)
                with _blackbox(exporter, config) as (pid, bb_port):
                    for kind in ("tcp", "http"):
                        runs[kind, "blackbox"] = _drive_blackbox(
                            pid, bb_port, kind, addresses, port
                        )
    return _probe_rows(targets, runs)


@contextlib.contextmanager
def _target_server() -> Iterator[int]:
    port = _free_port()
    command = [sys.executable, str(HERE), "--worker", "serve", "-", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_port("127.0.0.1", port, server)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stderr is not None:
            server.stderr.close()


@contextlib.contextmanager
def _blackbox(exporter: str, config: Path) -> Iterator[tuple[int, int]]:
    port = _free_port()
    process = subprocess.Popen(
        [exporter, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port("127.0.0.1", port, process)
        yield process.pid, port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(host: str, port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {host}:{port} after 10 s")


def _process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _probe_paths(kind: str, addresses: list[str], port: int) -> list[str]:
    if kind == "tcp":
        return [f"/probe?module=tcp_connect&target={a}:{port}" for a in addresses]
    return [f"/probe?module=http_2xx&target=http://{a}:{port}/" for a in addresses]


def _drive_blackbox(
    pid: int, bb_port: int, kind: str, addresses: list[str], port: int
) -> dict[str, Any]:
    warm = _probe_paths(kind, loopback_targets(WARM_UP, first_octet=230), port)
    asyncio.run(_blackbox_client(bb_port, warm))
    paths = _probe_paths(kind, addresses, port)
    before, start = _process_cpu(pid), time.perf_counter()
    successes = asyncio.run(_blackbox_client(bb_port, paths))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "cpu_s": _process_cpu(pid) - before, "up": successes}


async def _blackbox_client(port: int, paths: list[str]) -> int:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    counts = await asyncio.gather(*(_blackbox_session(port, queue) for _ in range(CONCURRENCY)))
    return sum(counts)


async def _blackbox_session(port: int, queue: asyncio.Queue[str]) -> int:
    """One keep-alive connection to the exporter asking for probes until the queue is empty."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    successes = 0
    try:
        while not queue.empty():
            path = queue.get_nowait()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            body = await _read_response(reader)
            successes += b"\nprobe_success 1" in body
    finally:
        writer.close()
    return successes


async def _read_response(reader: asyncio.StreamReader) -> bytes:
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    for line in head.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return await reader.readexactly(int(line.split(b":", 1)[1]))
    body = b""
    while size := int((await reader.readuntil(b"\r\n")).strip(), 16):  # chunked
        body += (await reader.readexactly(size + 2))[:-2]
    await reader.readuntil(b"\r\n")
    return body


def _probe_rows(targets: int, runs: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for (kind, prober), report in runs.items():
        per_cpu_s = targets / report["cpu_s"] if report["cpu_s"] else float("inf")
        reference = runs.get((kind, "blackbox"))
        ratio = None
        if reference is not None and reference["cpu_s"]:
            ratio = round(per_cpu_s / (targets / reference["cpu_s"]), 2)
        rows.append(
            {
                "probe": kind,
                "prober": prober,
                "targets": targets,
                "up": report["up"],
                "seconds": round(report["seconds"], 3),
                "probes_per_s": round(targets / report["seconds"]),
                "cpu_s": round(report["cpu_s"], 3),
                "probes_per_cpu_s": round(per_cpu_s),
                "cpu_s_per_1000": round(report["cpu_s"] / targets * 1000, 4),
                "vs_blackbox": ratio,
            }
        )
    return rows


# ---- the child processes ----------------------------------------------------------------------


def _measured(coroutine_factory: Any) -> dict[str, Any]:
    """Run the warm-up, then the measured coroutine, reporting wall and CPU time of the latter."""

    async def both() -> dict[str, Any]:
        await coroutine_factory(warm_up=True)
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        outcome: dict[str, Any] = await coroutine_factory(warm_up=False)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return {"seconds": seconds, "cpu_s": cpu, **outcome}

    return asyncio.run(both())


def _icmp_worker(mode: str, addresses: list[str]) -> dict[str, Any]:
    from branchops.monitoring.collectors import Context, build
    from branchops.monitoring.collectors.base import CheckSpec, Result, State

    context = Context(clock=time.time, monotonic=time.monotonic)
    icmp: Any = build("icmp", context)
    specs = [
        CheckSpec(i, "icmp", address, 2.0, params={"count": 1}, labels={"device": f"d{i}"})
        for i, address in enumerate(addresses)
    ]

    async def sweep(warm_up: bool) -> dict[str, Any]:
        # The warm-up sweeps the same targets: the engine probes them every interval.
        if mode.startswith("icmp-sweep"):
            results = await icmp.collect_many(specs)
        else:
            results = await asyncio.gather(*(icmp.collect(spec) for spec in specs))
        up = sum(1 for r in results if isinstance(r, Result) and r.state is State.UP)
        return {"answered": up}

    if mode == "icmp-sweep-gc":
        # What an engine may choose: young-generation collections every 100,000 allocations
        # instead of 700, so a sweep's short-lived objects rarely meet the collector.
        gc.set_threshold(100_000, 50, 100)
    report = _measured(sweep)
    asyncio.run(context.shared["icmp.pinger"].aclose())
    return report


def _probe_worker(kind: str, addresses: list[str], port: int) -> dict[str, Any]:
    from branchops.monitoring.collectors import Context, build
    from branchops.monitoring.collectors.base import CheckSpec, State

    context = Context(clock=time.time, monotonic=time.monotonic)
    warm = loopback_targets(WARM_UP, first_octet=230)

    async def probe_all(warm_up: bool) -> dict[str, Any]:
        collector = build(kind, context)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(i: int, address: str) -> bool:
            async with gate:
                check = CheckSpec(i, kind, address, 5.0, params={"port": port})
                return (await collector.collect(check)).state is State.UP

        chosen = warm if warm_up else addresses
        up = sum(await asyncio.gather(*(one(i, a) for i, a in enumerate(chosen))))
        return {"up": up}

    report = _measured(probe_all)
    for shared in context.shared.values():
        asyncio.run(shared.aclose())
    return report


async def _serve(port: int) -> None:
    """Answer every HTTP request on every 127.x address with a small 200, then hang up."""
    body = b"<html>lab ok</html>"
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
    answer += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if writer.get_extra_info("peername")[0].startswith("127."):
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                writer.write(answer)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            writer.close()

    # One socket for every 127.x address; anything from elsewhere is hung up on at once.
    server = await asyncio.start_server(handle, "0.0.0.0", port, backlog=4096)  # noqa: S104
    await server.serve_forever()


def _child(argv: list[str]) -> None:
    mode, targets_file, port = argv
    if mode == "serve":
        asyncio.run(_serve(int(port)))
        return
    addresses = Path(targets_file).read_text().split()
    if mode.startswith("icmp"):
        report = _icmp_worker(mode, addresses)
    else:
        report = _probe_worker(mode, addresses, int(port))
    print(json.dumps(report))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        _child(argv[1:])
        return 0
    parts = argv or ["icmp", "probes"]
    rows: list[dict[str, Any]] = []
    if "icmp" in parts:
        rows += icmp_vs_fping()
    if "probes" in parts:
        rows += tcp_http_vs_blackbox()
    print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
