"""The metric store interface: write timed samples, read series over a time range.

Names and labels follow Prometheus conventions (``branchops_icmp_rtt_seconds{site="BR-0001",
device="BR-0001-FW01",role="firewall",region="zhejiang"}``) so that Grafana can read
VictoriaMetrics directly and the embedded store answers the same questions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class MetricStoreError(Exception):
    """A store refused or could not take a write.

    ``retryable`` says whether the same samples may succeed later (the server is away) or
    never will (it rejected them); ``written`` counts those of the call stored before the
    failure, so a retry does not send them twice.
    """

    def __init__(self, message: str, *, retryable: bool, written: int = 0) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.written = written


@dataclass(frozen=True, slots=True)
class TimedSample:
    name: str
    labels: tuple[tuple[str, str], ...]  # sorted by label name
    ts: float  # unix seconds
    value: float


@dataclass(frozen=True, slots=True)
class Selector:
    """A metric name and label equality matchers: ``name{a="x",b="y"}``."""

    name: str
    matchers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise ValueError(f"not a metric name: {self.name!r}")
        for key in self.matchers:
            if not LABEL_RE.match(key):
                raise ValueError(f"not a label name: {key!r}")

    def promql(self) -> str:
        if not self.matchers:
            return self.name
        inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(self.matchers.items()))
        return f"{self.name}{{{inner}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass(frozen=True, slots=True)
class Point:
    ts: float
    value: float  # the average over the step at rollup resolutions
    low: float | None = None  # minimum within the step, where the store keeps it
    high: float | None = None


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    labels: tuple[tuple[str, str], ...]
    points: tuple[Point, ...]
    resolution_s: int  # 0 for raw samples


class MetricStore(Protocol):
    """Synchronous on purpose: the engine writes from its ingest thread, the web reads in views."""

    def write(self, samples: Sequence[TimedSample]) -> int: ...

    def query_range(self, selector: Selector, start: float, end: float) -> list[Series]: ...

    def maintain(self, now: float) -> None:
        """Roll raw samples up and drop what is past retention (no-op where the server does it)."""

    def close(self) -> None: ...


def open_store(url: str) -> MetricStore:
    """``sqlite:///path`` for the embedded store, ``http(s)://host:8428`` for VictoriaMetrics."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from branchops.monitoring.metrics.sqlite import SqliteMetricStore

        path = url.removeprefix("sqlite://")
        return SqliteMetricStore(path[1:] if path.startswith("//") else path)
    if scheme in ("http", "https"):
        from branchops.monitoring.metrics.victoria import VictoriaMetricsStore

        return VictoriaMetricsStore(url)
    raise ValueError(f"BRANCHOPS_METRICS_URL={url!r}: use sqlite:///path or http(s)://host:port")


def canonical_labels(
    labels: Mapping[str, str] | Sequence[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    items = labels.items() if isinstance(labels, Mapping) else labels
    return tuple(sorted((str(k), str(v)) for k, v in items))
