"""Baselines: what each series usually does at each hour of the week, learned from the
metric store's history (four weeks by default), for ``baseline`` rules.

Learning is a periodic job of the engine (hourly); the pipeline reads the learned rows when
it reloads. A series with too little history at some hour has no baseline there, and the
rule says nothing rather than guess.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from branchops.alerts.choices import RuleKind
from branchops.alerts.models import AlertRule, Baseline
from branchops.alerts.pipeline.rules import hour_of_week, series_key
from branchops.monitoring.metrics.base import MetricStore, Selector

WEEKS = 4


def learn(store: MetricStore, *, now: float | None = None, weeks: int = WEEKS) -> int:
    """Learn every enabled baseline rule; the number of (series, hour) rows written."""
    now = time.time() if now is None else now
    written = 0
    for rule in AlertRule.objects.filter(kind=RuleKind.BASELINE, enabled=True):
        if rule.metric:
            written += learn_rule(rule, store, now=now, weeks=weeks)
    return written


def learn_rule(rule: AlertRule, store: MetricStore, *, now: float, weeks: int = WEEKS) -> int:
    series = store.query_range(Selector(rule.metric), now - weeks * 7 * 86_400, now)
    rows = []
    for s in series:
        labels = dict(s.labels)
        buckets: dict[int, list[float]] = defaultdict(list)
        for point in s.points:
            buckets[hour_of_week(point.ts)].append(point.value)
        for hour, values in buckets.items():
            mean, spread = _mean_spread(values)
            rows.append(
                Baseline(
                    rule=rule,
                    series=series_key(labels),
                    labels=labels,
                    hour_of_week=hour,
                    mean=mean,
                    spread=spread,
                    samples=len(values),
                    learned_at=timezone.now(),
                )
            )
    with transaction.atomic():
        Baseline.objects.filter(rule=rule).delete()
        Baseline.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def _mean_spread(values: Iterable[float]) -> tuple[float, float]:
    data = list(values)
    mean = sum(data) / len(data)
    variance = sum((v - mean) ** 2 for v in data) / max(len(data) - 1, 1)
    return mean, math.sqrt(variance)


def load_all() -> dict[tuple[int, str, int], tuple[float, float, int]]:
    """(rule id, series key, hour of week) -> (mean, spread, samples), for the pipeline."""
    return {
        (rule_id, series, hour): (mean, spread, samples)
        for rule_id, series, hour, mean, spread, samples in Baseline.objects.values_list(
            "rule_id", "series", "hour_of_week", "mean", "spread", "samples"
        )
    }
