"""VictoriaMetrics as the metric store: Prometheus remote write in, Prometheus HTTP API out.

Writing encodes the remote-write ``WriteRequest`` protobuf by hand (four small messages, see
:func:`encode_write_request`) and compresses it with snappy's block format, as the protocol
asks. Large writes are cut into requests of bounded size; a request that meets a 5xx or a
connection error is retried a few times with backoff, then :class:`VictoriaMetricsError`
(``retryable=True``) tells the engine's ingest to buffer and try again later.

Reading answers the same questions as the embedded store (see ``sqlite.py``), at the same
resolutions: raw samples for ranges up to 6 h, 5-minute buckets up to 7 days, 1-hour
buckets beyond, each bucket with its average, minimum and maximum. Raw samples are read
with an instant query over a range selector (``name{...}[d]``), which VictoriaMetrics
answers with the stored samples themselves; buckets are read with ``query_range`` and
``avg/min/max_over_time``, evaluated one millisecond before each bucket's end so that a
bucket covers ``[start, start + step)`` exactly as the embedded store's rollups do.

Retention is VictoriaMetrics' business (``-retentionPeriod``): :meth:`maintain` does nothing.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self
from urllib.parse import urlsplit, urlunsplit

import cramjam
import httpx

from branchops.monitoring.metrics.base import (
    MetricStoreError,
    Point,
    Selector,
    Series,
    TimedSample,
)
from branchops.monitoring.metrics.sqlite import R5M_MAX_RANGE_S, RAW_MAX_RANGE_S

WRITE_HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": "branchops",
}
# Prometheus sends 2,000 samples per request by default; VictoriaMetrics takes up to 32 MiB
# (-maxInsertRequestSize). Measured on a 2-core machine (docs/metrics-storage.md): 1,000 per
# request gives ~280k samples/s, 10,000 (~320 KiB before snappy) ~450k/s, more gains nothing.
MAX_SAMPLES_PER_REQUEST = 10_000
MAX_BYTES_PER_REQUEST = 4 * 1024 * 1024
MAX_POINTS_PER_QUERY = 10_000
ROLLUP_FUNCTIONS = (("avg", "avg_over_time"), ("low", "min_over_time"), ("high", "max_over_time"))

LabelKey = tuple[str, tuple[tuple[str, str], ...]]


class VictoriaMetricsError(MetricStoreError):
    """VictoriaMetrics refused or could not be reached; ``retryable`` says whether trying
    the same request again later can help (5xx, timeouts, refused connections) or not (4xx).

    ``written`` counts the samples of this call that were stored before the failure.
    """


# ---- protobuf ------------------------------------------------------------------------------
# message WriteRequest { repeated TimeSeries timeseries = 1; }
# message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
# message Label        { string name = 1; string value = 2; }
# message Sample       { double value = 1; int64 timestamp = 2; }  // ms since the epoch
# A field's key is (number << 3 | wire type): 0x0a = field 1 length-delimited, 0x12 = field 2
# length-delimited, 0x09 = field 1 64-bit, 0x10 = field 2 varint.

_SAMPLE_HEAD = struct.Struct("<BBBd")  # 0x12, sample length, 0x09, value


def varint(n: int) -> bytes:
    """Base-128 varint; negative int64 values take ten bytes in two's complement."""
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _delimited(key: int, payload: bytes) -> bytes:
    return bytes((key,)) + varint(len(payload)) + payload


def encode_labels(name: str, labels: Sequence[tuple[str, str]]) -> bytes:
    """The ``labels`` fields of a TimeSeries, ``__name__`` included, sorted by label name."""
    pairs = sorted([("__name__", name), *labels])
    return b"".join(
        _delimited(0x0A, _delimited(0x0A, k.encode()) + _delimited(0x12, v.encode()))
        for k, v in pairs
    )


def encode_samples(points: Sequence[tuple[int, float]], ts_cache: dict[int, bytes]) -> bytes:
    """The ``samples`` fields of a TimeSeries; ``ts_cache`` keeps encoded timestamps, which
    repeat across the series of one scrape."""
    parts = []
    for ts_ms, value in points:
        encoded_ts = ts_cache.get(ts_ms)
        if encoded_ts is None:
            encoded_ts = ts_cache[ts_ms] = b"\x10" + varint(ts_ms)
        parts.append(_SAMPLE_HEAD.pack(0x12, 9 + len(encoded_ts), 0x09, value) + encoded_ts)
    return b"".join(parts)


def encode_write_request(
    series: Mapping[LabelKey, Sequence[tuple[int, float]]],
    *,
    max_samples: int = MAX_SAMPLES_PER_REQUEST,
    max_bytes: int = MAX_BYTES_PER_REQUEST,
    label_cache: dict[LabelKey, bytes] | None = None,
) -> Iterator[tuple[bytes, int]]:
    """Uncompressed WriteRequest bodies of at most ``max_samples`` samples (and about
    ``max_bytes``), with the number of samples in each. A series longer than a request is
    split across requests."""
    cache = label_cache if label_cache is not None else {}
    ts_cache: dict[int, bytes] = {}
    body: list[bytes] = []
    size = count = 0
    for key, points in series.items():
        labels = cache.get(key)
        if labels is None:
            labels = cache[key] = encode_labels(*key)
        offset = 0
        while offset < len(points):
            room = max_samples - count
            chunk = points[offset : offset + room]
            message = _delimited(0x0A, labels + encode_samples(chunk, ts_cache))
            if body and size + len(message) > max_bytes:
                yield b"".join(body), count
                body, size, count = [], 0, 0
                continue  # the same chunk again, now with the whole request to itself
            body.append(message)
            size += len(message)
            count += len(chunk)
            offset += len(chunk)
            if count >= max_samples:
                yield b"".join(body), count
                body, size, count = [], 0, 0
    if body:
        yield b"".join(body), count


def group_by_series(samples: Sequence[TimedSample]) -> dict[LabelKey, list[tuple[int, float]]]:
    """Samples per series (first-seen order), in time order, timestamps in milliseconds."""
    grouped: dict[LabelKey, list[tuple[int, float]]] = {}
    for s in samples:
        key = (s.name, s.labels)
        points = grouped.get(key)
        if points is None:
            points = grouped[key] = []
        points.append((round(s.ts * 1000), s.value))
    for points in grouped.values():
        points.sort(key=lambda p: p[0])
    return grouped


# ---- the store -----------------------------------------------------------------------------


class VictoriaMetricsStore:
    """A single-node VictoriaMetrics at ``url`` (``http(s)://[user:password@]host:8428``)."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_samples_per_request: int = MAX_SAMPLES_PER_REQUEST,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not a VictoriaMetrics URL: {url!r}")
        auth = None
        netloc = parts.netloc
        if parts.username is not None:
            auth = httpx.BasicAuth(parts.username, parts.password or "")
            netloc = netloc.rsplit("@", 1)[1]
        self.url = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_samples_per_request = max_samples_per_request
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=self.url, auth=auth, timeout=timeout_s, transport=transport
        )
        # Encoded label sets of the series seen lately: the same series are written every
        # interval. Cleared when it grows past a bound rather than kept as an LRU: cheaper.
        self._labels: dict[LabelKey, bytes] = {}
        self._labels_max = 200_000

    # ---- writing --------------------------------------------------------------------------

    def write(self, samples: Sequence[TimedSample]) -> int:
        if not samples:
            return 0
        if len(self._labels) > self._labels_max:
            self._labels.clear()
        written = 0
        requests = encode_write_request(
            group_by_series(samples),
            max_samples=self.max_samples_per_request,
            label_cache=self._labels,
        )
        for body, count in requests:
            try:
                self._post_write(cramjam.snappy.compress_raw(body).read())
            except VictoriaMetricsError as exc:
                exc.written = written
                raise
            written += count
        return written

    def _post_write(self, payload: bytes) -> None:
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = self._client.post(
                    "/api/v1/write", content=payload, headers=WRITE_HEADERS
                )
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code < 300:
                return
            problem = f"HTTP {response.status_code}: {response.text[:300]}"
            if response.status_code < 500 and response.status_code != 429:
                raise VictoriaMetricsError(
                    f"VictoriaMetrics at {self.url} refused a write: {problem}", retryable=False
                )
        raise VictoriaMetricsError(
            f"VictoriaMetrics at {self.url} did not take a write after "
            f"{self.retries + 1} attempts: {problem}",
            retryable=True,
        )

    # ---- reading --------------------------------------------------------------------------

    def query_range(self, selector: Selector, start: float, end: float) -> list[Series]:
        if end < start:
            return []
        span = end - start
        if span <= RAW_MAX_RANGE_S:
            return self._raw(selector, start, end)
        return self._rollup(selector, start, end, 300 if span <= R5M_MAX_RANGE_S else 3600)

    def _raw(self, selector: Selector, start: float, end: float) -> list[Series]:
        # An instant query over a range selector returns the stored samples in
        # (time - window, time]; one millisecond more makes it [start, end].
        end_ms = math.floor(end * 1000)
        window_ms = end_ms - math.ceil(start * 1000) + 1
        data = self._query(
            "/api/v1/query",
            {"query": f"{selector.promql()}[{window_ms}ms]", "time": f"{end_ms / 1000:.3f}"},
        )
        series = []
        for item in data:
            points = tuple(Point(float(ts), _number(v)) for ts, v in item.get("values", ()))
            series.append(Series(selector.name, _labels(item["metric"]), points, 0))
        return _ordered(series)

    def _rollup(self, selector: Selector, start: float, end: float, step: int) -> list[Series]:
        first = math.ceil(start / step) * step  # bucket starts in [start, end], as sqlite.py
        last = math.floor(end / step) * step
        buckets: dict[tuple[tuple[str, str], ...], dict[int, dict[str, float]]] = {}
        # VictoriaMetrics refuses more than -search.maxPointsPerTimeseries (30,000) points per
        # series in one answer: a long range is asked for in pieces.
        for piece in range(first, last + 1, step * MAX_POINTS_PER_QUERY):
            piece_last = min(last, piece + step * (MAX_POINTS_PER_QUERY - 1))
            self._rollup_piece(selector, piece, piece_last, step, buckets)
        series = [
            Series(
                selector.name,
                labels,
                tuple(
                    Point(float(ts), p["avg"], p.get("low"), p.get("high"))
                    for ts, p in sorted(points.items())
                    if "avg" in p
                ),
                step,
            )
            for labels, points in buckets.items()
        ]
        return _ordered(series)

    def _rollup_piece(
        self,
        selector: Selector,
        first: int,
        last: int,
        step: int,
        buckets: dict[tuple[tuple[str, str], ...], dict[int, dict[str, float]]],
    ) -> None:
        # Evaluated at bucket end - 1 ms, a window [step] covers [bucket start, bucket end).
        params = {
            "start": f"{first + step - 0.001:.3f}",
            "end": f"{last + step - 0.001:.3f}",
            "step": f"{step}s",
            "nocache": "1",  # no start/end alignment to the step, no result cache
        }
        for part, function in ROLLUP_FUNCTIONS:
            query = f"{function}({selector.promql()}[{step}s])"
            for item in self._query("/api/v1/query_range", {**params, "query": query}):
                points = buckets.setdefault(_labels(item["metric"]), {})
                for ts, value in item.get("values", ()):
                    bucket = round(float(ts) * 1000 + 1) // 1000 - step
                    points.setdefault(bucket, {})[part] = _number(value)

    def _query(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        try:
            response = self._client.get(path, params=params)
        except httpx.TransportError as exc:
            raise VictoriaMetricsError(
                f"VictoriaMetrics at {self.url} did not answer: {type(exc).__name__}: {exc}",
                retryable=True,
            ) from exc
        if response.status_code != 200:
            raise VictoriaMetricsError(
                f"VictoriaMetrics at {self.url} refused a query: HTTP {response.status_code}: "
                f"{response.text[:300]}",
                retryable=response.status_code >= 500,
            )
        body = response.json()
        result = body.get("data", {}).get("result", [])
        if not isinstance(result, list):
            raise VictoriaMetricsError("unexpected answer to a query", retryable=False)
        return result

    # ---- upkeep ---------------------------------------------------------------------------

    def maintain(self, now: float) -> None:
        """Nothing to do: VictoriaMetrics enforces -retentionPeriod and needs no rollups."""

    def close(self) -> None:
        self._client.close()


def _labels(metric: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in metric.items() if k != "__name__"))


def _number(value: str) -> float:
    return float(value)  # "NaN", "+Inf" and "-Inf" parse too


def _ordered(series: list[Series]) -> list[Series]:
    # The embedded store orders series by their labels as stored (JSON text); so do we.
    return sorted(
        series, key=lambda s: json.dumps(s.labels, separators=(",", ":"), ensure_ascii=False)
    )


# ---- a throw-away server -------------------------------------------------------------------

BINARY = "/usr/bin/victoria-metrics"  # Debian's package victoria-metrics


def binary_path() -> str | None:
    """The victoria-metrics binary, from PATH or where Debian's package puts it."""
    return shutil.which("victoria-metrics") or (BINARY if Path(BINARY).exists() else None)


class LocalVictoriaMetrics:
    """A single-node VictoriaMetrics on 127.0.0.1 with its data in a temporary folder,
    for the tests and the benchmarks: ``with LocalVictoriaMetrics() as vm: vm.url``.

    ``-dedup.minScrapeInterval=1ms`` keeps one sample per series and millisecond, so a
    write retried after a lost answer stores nothing twice (recommended in production too).
    """

    def __init__(self, *, retention: str = "1d", extra_flags: Sequence[str] = ()) -> None:
        binary = binary_path()
        if binary is None:
            raise FileNotFoundError("victoria-metrics is not installed (Debian package)")
        self.binary = binary
        self.retention = retention
        self.extra_flags = tuple(extra_flags)
        self.url = ""
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    def start(self, timeout_s: float = 20.0) -> str:
        self._dir = tempfile.TemporaryDirectory(prefix="branchops-vm-")
        self._log = open(f"{self._dir.name}/victoria-metrics.log", "ab")  # noqa: SIM115
        for _ in range(3):  # a free port can be taken by someone else before we bind it
            port = _free_port()
            self._process = subprocess.Popen(  # noqa: S603 - our own flags, a fixed binary
                [
                    self.binary,
                    f"-storageDataPath={self._dir.name}/data",
                    f"-retentionPeriod={self.retention}",
                    f"-httpListenAddr=127.0.0.1:{port}",
                    "-dedup.minScrapeInterval=1ms",
                    "-search.disableCache",
                    "-loggerLevel=ERROR",
                    *self.extra_flags,
                ],
                stdout=subprocess.DEVNULL,
                stderr=self._log,
            )
            self.url = f"http://127.0.0.1:{port}"
            if self._wait_healthy(timeout_s):
                return self.url
            self._terminate()
        raise RuntimeError("victoria-metrics did not start")

    def _wait_healthy(self, timeout_s: float) -> bool:
        assert self._process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        return False

    def flush(self) -> None:
        """Make everything written so far visible to queries at once."""
        httpx.get(f"{self.url}/internal/force_flush", timeout=10.0).raise_for_status()

    def _terminate(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def stop(self) -> None:
        self._terminate()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
