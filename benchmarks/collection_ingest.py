"""Ingest rates: samples per second into the embedded store and into VictoriaMetrics."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _harness import free_port

SERIES = 20_000  # about one 600-branch estate's interface and device series
ROUNDS = 10
BATCH = 10_000


def _samples(round_no: int) -> list[Any]:
    from branchops.monitoring.metrics.base import TimedSample

    ts = 1_800_000_000 + round_no * 60
    return [
        TimedSample(
            "branchops_if_in_bits_per_second",
            (
                ("device", f"BR-{i // 20:04d}-FW01"),
                ("interface", f"ge0/{i % 20}"),
                ("site", f"BR-{i // 20:04d}"),
            ),
            ts,
            float(i * 1000 + round_no),
        )
        for i in range(SERIES)
    ]


def _rate(store: Any) -> tuple[int, float]:
    batches = [_samples(r) for r in range(ROUNDS)]
    written, started = 0, time.perf_counter()
    for samples in batches:
        for i in range(0, len(samples), BATCH):
            written += store.write(samples[i : i + BATCH])
    return written, time.perf_counter() - started


@contextlib.contextmanager
def _victoria() -> Iterator[str | None]:
    binary = shutil.which("victoria-metrics")
    if binary is None:
        yield None
        return
    data = Path(tempfile.mkdtemp(prefix="bo-vm-"))
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"-storageDataPath={data}",
            f"-httpListenAddr=127.0.0.1:{port}",
            "-retentionPeriod=1d",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url + "/health", timeout=1).close()
                break
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(data, ignore_errors=True)


def ingest_rates() -> list[dict[str, Any]]:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "branchops.settings")
    os.environ.setdefault("BRANCHOPS_HOME", tempfile.mkdtemp(prefix="bo-bench-home-"))
    django.setup()
    from branchops.monitoring.metrics.sqlite import SqliteMetricStore

    rows = []
    folder = Path(tempfile.mkdtemp(prefix="bo-ingest-"))
    store = SqliteMetricStore(folder / "metrics.sqlite3")
    written, seconds = _rate(store)
    store.close()
    rows.append(
        {
            "store": "embedded SQLite",
            "samples": written,
            "seconds": round(seconds, 2),
            "samples_per_s": round(written / seconds),
            "target": ">= 100,000/s",
        }
    )
    shutil.rmtree(folder, ignore_errors=True)
    with _victoria() as url:
        if url is None:
            rows.append(
                {
                    "store": "VictoriaMetrics",
                    "samples": 0,
                    "seconds": 0,
                    "samples_per_s": "victoria-metrics binary missing",
                    "target": "-",
                }
            )
        else:
            from branchops.monitoring.metrics.victoria import VictoriaMetricsStore

            vm = VictoriaMetricsStore(url)
            written, seconds = _rate(vm)
            vm.close()
            rows.append(
                {
                    "store": "VictoriaMetrics (remote write)",
                    "samples": written,
                    "seconds": round(seconds, 2),
                    "samples_per_s": round(written / seconds),
                    "target": "-",
                }
            )
    return rows
