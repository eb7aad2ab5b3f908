"""The engine's own health in the Prometheus text format, served on 127.0.0.1 at /metrics."""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import Counter
from collections.abc import Callable

from branchops.monitoring.engine.ingest import IngestStats
from branchops.monitoring.engine.scheduler import LATENESS_BUCKETS, SchedulerStats

log = logging.getLogger(__name__)


def render(
    scheduler: SchedulerStats, ingest: IngestStats, checks_by_kind: Counter[str], in_flight: int
) -> str:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    lines = [
        "# HELP branchops_engine_checks Checks scheduled, by kind.",
        "# TYPE branchops_engine_checks gauge",
        *(f'branchops_engine_checks{{kind="{k}"}} {n}' for k, n in sorted(checks_by_kind.items())),
        "# TYPE branchops_engine_in_flight gauge",
        f"branchops_engine_in_flight {in_flight}",
        "# HELP branchops_engine_runs_total Check runs that finished (rate: checks per second).",
        "# TYPE branchops_engine_runs_total counter",
        f"branchops_engine_runs_total {scheduler.finished}",
        "# HELP branchops_engine_runs_skipped_total Runs not made: still running, or missed.",
        "# TYPE branchops_engine_runs_skipped_total counter",
        f'branchops_engine_runs_skipped_total{{reason="overlap"}} {scheduler.skipped_overlap}',
        f'branchops_engine_runs_skipped_total{{reason="missed"}} {scheduler.missed}',
        "# TYPE branchops_engine_errors_total counter",
        f'branchops_engine_errors_total{{kind="timeout"}} {scheduler.timeouts}',
        f'branchops_engine_errors_total{{kind="internal"}} {scheduler.internal_errors}',
        f'branchops_engine_errors_total{{kind="metric_store"}} {ingest.store_errors}',
        f'branchops_engine_errors_total{{kind="database"}} {ingest.db_errors}',
        "# HELP branchops_engine_lateness_seconds From when a run was due to when it started.",
        "# TYPE branchops_engine_lateness_seconds histogram",
        *_histogram("branchops_engine_lateness_seconds", scheduler),
        "# TYPE branchops_engine_samples_written_total counter",
        f"branchops_engine_samples_written_total {ingest.samples_written}",
        "# TYPE branchops_engine_samples_dropped_total counter",
        f"branchops_engine_samples_dropped_total {ingest.samples_dropped}",
        "# HELP branchops_engine_queue_depth Samples waiting for the metric store.",
        "# TYPE branchops_engine_queue_depth gauge",
        f"branchops_engine_queue_depth {ingest.pending_samples}",
        "# TYPE branchops_engine_state_changes_total counter",
        f"branchops_engine_state_changes_total {ingest.state_changes}",
        "# TYPE branchops_engine_cpu_seconds_total counter",
        f"branchops_engine_cpu_seconds_total {usage.ru_utime + usage.ru_stime:.3f}",
        "# TYPE branchops_engine_max_rss_bytes gauge",
        f"branchops_engine_max_rss_bytes {usage.ru_maxrss * 1024}",
    ]
    return "\n".join(lines) + "\n"


def _histogram(name: str, stats: SchedulerStats) -> list[str]:
    out, cumulative = [], 0
    for bound, count in zip(LATENESS_BUCKETS, stats.lateness_buckets, strict=True):
        cumulative += count
        le = "+Inf" if bound == float("inf") else f"{bound:g}"
        out.append(f'{name}_bucket{{le="{le}"}} {cumulative}')
    out += [f"{name}_sum {stats.lateness_sum:.6f}", f"{name}_count {cumulative}"]
    return out


async def serve(render_page: Callable[[], str], port: int) -> asyncio.Server:
    """A deliberately tiny HTTP/1.0 responder: GET /metrics, nothing else, loopback only."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            parts = request.decode("latin-1").split()
            if len(parts) >= 2 and parts[0] == "GET" and parts[1].split("?")[0] == "/metrics":
                body, status = render_page().encode(), "200 OK"
                kind = "text/plain; version=0.0.4; charset=utf-8"
            else:
                body, status, kind = b"not found\n", "404 Not Found", "text/plain"
            head = (
                f"HTTP/1.0 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", port)
    log.info("engine health at http://127.0.0.1:%d/metrics", port)
    return server
