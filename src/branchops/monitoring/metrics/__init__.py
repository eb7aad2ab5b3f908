"""Metric stores: the embedded SQLite store or VictoriaMetrics, chosen by BRANCHOPS_METRICS_URL."""

from branchops.monitoring.metrics.base import (
    MetricStore,
    Point,
    Selector,
    Series,
    TimedSample,
    open_store,
)

__all__ = ["MetricStore", "Point", "Selector", "Series", "TimedSample", "open_store"]
