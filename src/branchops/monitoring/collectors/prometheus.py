"""Scraping Prometheus exporters (node_exporter, windows_exporter, ...) with metric selection.

One shared ``httpx.AsyncClient`` (context key ``"http"``) serves every scrape. The body is
read as it streams in, gzip inflated in bounded steps and parsed line by line, and reading
stops the moment it passes ``max_body_bytes``: a 100 MB answer costs one cap's worth of
bytes, never 100 MB of memory. A whole scrape is bounded by the check's timeout, so a target
that accepts and then trickles or never answers costs one check, nobody else.

Labels follow Prometheus' ``honor_labels: false``: the check's labels (region, site, device,
role) win, and an exporter label of the same name is kept as ``exported_<name>`` (for
example node_exporter's disk ``device``). From node_exporter and windows_exporter metrics it
derives the product's own ``branchops_cpu_utilisation_ratio`` (idle time between two
scrapes), ``branchops_memory_utilisation_ratio`` and ``branchops_storage_used_ratio``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import zlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Final

import httpx
from pydantic import ValidationError

from branchops.monitoring.collectors import Context
from branchops.monitoring.collectors.base import (
    CheckSpec,
    CollectorError,
    ConfigError,
    Result,
    Sample,
    State,
)
from branchops.monitoring.collectors.snmp_parts.memory import CheckMemory
from branchops.monitoring.exposition import ExpositionError, ParsedSample, Selector, TextParser
from branchops.monitoring.params import PrometheusParams

SHARED_HTTP_KEY: Final = "http"
ACCEPT: Final = "text/plain;version=0.0.4;q=1,*/*;q=0.1"
DEFAULT_MAX_SAMPLES: Final = 50_000
_INFLATE_STEP: Final = 1 << 20  # gzip output produced per step, checked against the cap
CPU_INPUTS: Final = {"node_cpu_seconds_total": "mode", "windows_cpu_time_total": "mode"}
MEMORY_INPUTS: Final = (  # (available or free, total)
    ("node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes"),
    ("windows_memory_physical_free_bytes", "windows_memory_physical_total_bytes"),
    ("windows_os_physical_memory_free_bytes", "windows_cs_physical_memory_bytes"),
)
STORAGE_INPUTS: Final = (  # (free, size, the label naming the volume)
    ("node_filesystem_avail_bytes", "node_filesystem_size_bytes", "mountpoint"),
    ("windows_logical_disk_free_bytes", "windows_logical_disk_size_bytes", "volume"),
)
DERIVATION_INPUTS: Final = (
    *CPU_INPUTS,
    *(name for pair in MEMORY_INPUTS for name in pair),
    *(name for free, size, _ in STORAGE_INPUTS for name in (free, size)),
)
# File systems whose fill level says nothing about the host (memory-backed, images).
_SKIP_FSTYPES: Final = frozenset(
    {"tmpfs", "devtmpfs", "ramfs", "overlay", "squashfs", "nsfs", "autofs", "fuse.lxcfs"}
)


def shared_http_client() -> httpx.AsyncClient:
    """The engine's shared scrape client (key "http"; the HTTP probe keeps its own)."""
    # No client-wide timeout on purpose: every request passes its check's own.
    return httpx.AsyncClient(
        timeout=None,  # noqa: S113
        follow_redirects=False,
        limits=httpx.Limits(max_connections=200),
    )


@dataclass(frozen=True, slots=True)
class CpuTimes:
    idle: float
    total: float


class PrometheusCollector:
    """GET an exporter's metrics, keep the selected ones, add the check's labels."""

    kind = "prometheus"

    def __init__(
        self,
        http: httpx.AsyncClient,
        clock: Callable[[], float],
        monotonic: Callable[[], float],
        max_samples: int = DEFAULT_MAX_SAMPLES,
    ) -> None:
        self._http = http
        self._clock = clock
        self._monotonic = monotonic
        self._max_samples = max_samples
        self._cpu: CheckMemory[CpuTimes] = CheckMemory(monotonic)

    @classmethod
    def from_context(cls, context: Context) -> PrometheusCollector:
        http = context.shared_object(SHARED_HTTP_KEY, shared_http_client)
        limit = int(context.options.get("prometheus_max_samples", DEFAULT_MAX_SAMPLES))
        return cls(http, context.clock, context.monotonic, limit)

    async def aclose(self) -> None:
        """Nothing of its own: the shared HTTP client is closed with the engine's objects."""

    async def collect(self, spec: CheckSpec) -> Result:
        started, began = self._clock(), self._monotonic()
        try:
            params = PrometheusParams.model_validate(dict(spec.params))
        except ValidationError as exc:
            raise ConfigError(f"invalid parameters: {exc.errors()[0]['msg']}") from None
        url = scrape_url(spec.target, params)
        keep = [*params.metrics, *DERIVATION_INPUTS] if params.metrics else []
        parser = TextParser(keep=keep, max_samples=self._max_samples)
        try:
            async with asyncio.timeout(spec.timeout_s):
                await self._scrape(url, params.max_body_bytes, spec.timeout_s, parser)
            parsed = parser.close()
        except TimeoutError:
            raise CollectorError(f"{url}: no complete answer within {spec.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise CollectorError(f"{url}: {_describe(exc)}") from None
        except ExpositionError as exc:
            raise CollectorError(f"{url}: {exc}", retryable=False, state=State.UNKNOWN) from None
        samples, dropped = self._samples(spec, params, parsed)
        summary = f"kept {len(samples)} of {parser.seen} samples"
        if dropped:
            summary += f" ({dropped} NaN or infinite left out)"
        return Result(
            check_id=spec.check_id,
            state=State.UP,
            started_at=started,
            duration_s=self._monotonic() - began,
            samples=tuple(samples),
            summary=summary + _derived_note(samples),
        )

    async def _scrape(self, url: str, cap: int, timeout_s: float, parser: TextParser) -> None:
        headers = {"Accept": ACCEPT, "Accept-Encoding": "gzip"}
        request_timeout = httpx.Timeout(timeout_s)
        async with self._http.stream("GET", url, headers=headers, timeout=request_timeout) as reply:
            if reply.status_code != httpx.codes.OK:
                raise CollectorError(f"{url}: HTTP {reply.status_code} {reply.reason_phrase}")
            received = 0
            async for chunk in _body(reply):
                received += len(chunk)
                if received > cap:
                    raise CollectorError(
                        f"{url}: body larger than {cap:,} bytes (max_body_bytes): cut off",
                        retryable=False,
                        state=State.UNKNOWN,
                    )
                parser.feed(chunk)

    def _samples(
        self, spec: CheckSpec, params: PrometheusParams, parsed: list[ParsedSample]
    ) -> tuple[list[Sample], int]:
        selected = Selector(params.metrics)
        ours = dict(spec.labels)
        samples: list[Sample] = []
        dropped = 0
        for item in parsed:
            if not selected(item.name):
                continue  # read only to derive the CPU, memory and storage ratios
            if not math.isfinite(item.value):
                dropped += 1
                continue
            samples.append(Sample(item.name, item.value, merge_labels(item.labels, ours)))
        samples += self._derived(spec, parsed)
        return samples, dropped

    def _derived(self, spec: CheckSpec, parsed: list[ParsedSample]) -> list[Sample]:
        labels = tuple(sorted(spec.labels.items()))
        derived: list[Sample] = []
        cpu = self._cpu_ratio(spec.check_id, parsed)
        if cpu is not None:
            derived.append(Sample("branchops_cpu_utilisation_ratio", cpu, labels))
        memory = memory_ratio(parsed)
        if memory is not None:
            derived.append(Sample("branchops_memory_utilisation_ratio", memory, labels))
        for volume, ratio in storage_ratios(parsed):
            volume_labels = tuple(sorted({**spec.labels, "storage": volume}.items()))
            derived.append(Sample("branchops_storage_used_ratio", ratio, volume_labels))
        return derived

    def _cpu_ratio(self, check_id: int, parsed: list[ParsedSample]) -> float | None:
        """1 - idle share of all CPU time between this scrape and the previous one."""
        now = cpu_times(parsed)
        if now is None:
            return None
        before = self._cpu.get(check_id)
        self._cpu.put(check_id, now)
        if before is None:
            return None
        total = now.total - before.total
        idle = now.idle - before.idle
        if total <= 0 or idle < 0:
            return None  # counters went back: the host restarted
        return min(max(1 - idle / total, 0.0), 1.0)


def scrape_url(target: str, params: PrometheusParams) -> str:
    """The URL to GET: ``params.url`` (its host must be an IP literal, as the collectors never
    resolve names) or ``http://target:port/path``."""
    if params.url:
        try:
            url = httpx.URL(params.url)
            ipaddress.ip_address(url.host)
        except (httpx.InvalidURL, ValueError):
            raise ConfigError(
                f"url must be http(s) with an IP address host: {params.url!r}"
            ) from None
        if url.scheme not in ("http", "https"):
            raise ConfigError(f"url must be http or https: {params.url!r}")
        return str(url)
    try:
        address = ipaddress.ip_address(target)
    except ValueError:
        raise ConfigError(f"target must be an IP address: {target!r}") from None
    if not params.path.startswith("/"):
        raise ConfigError(f"path must start with '/': {params.path!r}")
    host = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{host}:{params.port}{params.path}"


async def _body(reply: httpx.Response) -> AsyncIterator[bytes]:
    """The body's bytes, gzip inflated at most one step at a time (a bomb stops at the cap)."""
    encoding = reply.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        async for chunk in reply.aiter_raw():
            yield chunk
        return
    if encoding != "gzip":
        raise CollectorError(
            f"unsupported Content-Encoding {encoding!r}", retryable=False, state=State.UNKNOWN
        )
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        async for chunk in reply.aiter_raw():
            pending = chunk
            while pending:
                yield inflater.decompress(pending, _INFLATE_STEP)
                pending = inflater.unconsumed_tail
    except zlib.error as exc:
        raise CollectorError(
            f"bad gzip body: {exc}", retryable=False, state=State.UNKNOWN
        ) from None


def merge_labels(
    exporter: Iterable[tuple[str, str]], ours: dict[str, str]
) -> tuple[tuple[str, str], ...]:
    """The exporter's labels plus ours; an exporter label we also set becomes ``exported_*``."""
    merged: dict[str, str] = {}
    for name, value in exporter:
        key = name
        while key in ours or key in merged:
            key = f"exported_{key}"
        merged[key] = value
    merged.update(ours)
    return tuple(sorted(merged.items()))


def cpu_times(parsed: Iterable[ParsedSample]) -> CpuTimes | None:
    idle = total = 0.0
    found = False
    for item in parsed:
        mode_label = CPU_INPUTS.get(item.name)
        if mode_label is None:
            continue
        found = True
        total += item.value
        if dict(item.labels).get(mode_label) == "idle":
            idle += item.value
    return CpuTimes(idle, total) if found else None


def memory_ratio(parsed: Iterable[ParsedSample]) -> float | None:
    values = {item.name: item.value for item in parsed if not item.labels}
    for free_name, total_name in MEMORY_INPUTS:
        free, total = values.get(free_name), values.get(total_name)
        if free is not None and total:
            return min(max(1 - free / total, 0.0), 1.0)
    return None


def storage_ratios(parsed: Iterable[ParsedSample]) -> list[tuple[str, float]]:
    sizes: dict[tuple[str, str], float] = {}
    frees: dict[tuple[str, str], float] = {}
    volume_label: dict[str, str] = {}
    for free_name, size_name, volume in STORAGE_INPUTS:
        volume_label[free_name] = volume_label[size_name] = volume
    for item in parsed:
        name_label = volume_label.get(item.name)
        if name_label is None:
            continue
        labels = dict(item.labels)
        if labels.get("fstype") in _SKIP_FSTYPES or name_label not in labels:
            continue
        target = sizes if item.name.endswith("size_bytes") else frees
        target[(item.name.split("_")[0], labels[name_label])] = item.value
    ratios = []
    for key, size in sorted(sizes.items()):
        free = frees.get(key)
        if free is not None and size > 0:
            ratios.append((key[1], min(max(1 - free / size, 0.0), 1.0)))
    return ratios


def _derived_note(samples: list[Sample]) -> str:
    found = {s.name: s.value for s in samples if not any(k == "storage" for k, _ in s.labels)}
    notes = [
        f"{label} {found[name]:.0%}"
        for name, label in (
            ("branchops_cpu_utilisation_ratio", "cpu"),
            ("branchops_memory_utilisation_ratio", "memory"),
        )
        if name in found
    ]
    return f"; {', '.join(notes)}" if notes else ""


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return f"cannot connect ({exc or type(exc).__name__})"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out waiting for the exporter"
    return f"{type(exc).__name__}: {exc}"
