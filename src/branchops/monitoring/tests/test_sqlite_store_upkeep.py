"""The embedded store keeps its rollups right when samples arrive late or are not numbers."""

from __future__ import annotations

import math
from pathlib import Path

from branchops.monitoring.metrics.base import Selector, TimedSample
from branchops.monitoring.metrics.sqlite import SqliteMetricStore

T0 = 1_800_000_000  # a whole hour
LABELS = (("device", "srv"),)


def sample(ts: float, value: float) -> TimedSample:
    return TimedSample("branchops_agent_cpu_utilisation_ratio", LABELS, ts, value)


def test_late_samples_reach_the_rollups(tmp_path: Path) -> None:
    store = SqliteMetricStore(tmp_path / "m.sqlite3")
    store.write([sample(T0 + 7200, 0.5)])
    store.maintain(T0 + 3 * 3600)
    # An agent comes back and replays the two hours it could not send.
    store.write([sample(T0 + m * 60, 0.1) for m in range(120)])
    store.maintain(T0 + 3 * 3600 + 60)

    week = store.query_range(
        Selector("branchops_agent_cpu_utilisation_ratio"), T0 - 86400 * 3, T0 + 86400 * 3
    )
    assert week[0].resolution_s == 300
    assert len(week[0].points) == 24 + 1  # every 5-minute bucket of the replay, and the first
    month = store.query_range(
        Selector("branchops_agent_cpu_utilisation_ratio"), T0 - 86400 * 20, T0 + 86400 * 20
    )
    assert [p.value for p in month[0].points] == [0.1, 0.1, 0.5]


def test_nan_is_skipped_and_infinities_stay_out_of_the_averages(tmp_path: Path) -> None:
    store = SqliteMetricStore(tmp_path / "m.sqlite3")
    values = [1.0, math.nan, math.inf, -math.inf, 3.0]
    written = store.write([sample(T0 + 60 * i, v) for i, v in enumerate(values)])
    assert (written, store.rejected) == (4, 1)
    store.maintain(T0 + 3600)  # +Inf and -Inf in one bucket must not break the rollup
    week = store.query_range(
        Selector("branchops_agent_cpu_utilisation_ratio"), T0 - 86400 * 3, T0 + 86400 * 3
    )
    assert [p.value for p in week[0].points] == [2.0]
