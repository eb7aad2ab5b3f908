"""One behaviour for both metric stores: the embedded SQLite store and VictoriaMetrics.

Every test here runs against each store. VictoriaMetrics is the real binary from Debian's
package, started once per test session on 127.0.0.1; its tests are skipped, saying so, only
when the binary is not installed. Each test writes series under its own metric names, so
the tests share one VictoriaMetrics without seeing each other's data.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from branchops.monitoring.metrics.base import (
    MetricStore,
    Selector,
    TimedSample,
    canonical_labels,
    open_store,
)
from branchops.monitoring.metrics.sqlite import Retention, SqliteMetricStore
from branchops.monitoring.metrics.victoria import (
    LocalVictoriaMetrics,
    VictoriaMetricsStore,
    binary_path,
)

NO_VM = "victoria-metrics is not installed (Debian package victoria-metrics; .ci/run installs it)"
_names = itertools.count(1)
HOUR = 3600
DAY = 86400


@pytest.fixture(scope="session")
def victoria() -> Iterator[LocalVictoriaMetrics]:
    if binary_path() is None:
        pytest.skip(NO_VM)
    with LocalVictoriaMetrics() as server:
        yield server


@dataclass
class StoreUnderTest:
    store: MetricStore
    settle: Callable[[float], None]  # make writes visible and roll up what is finished
    kind: str


@pytest.fixture(params=["sqlite", "victoria"])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreUnderTest]:
    if request.param == "sqlite":
        sqlite_store = SqliteMetricStore(tmp_path / "metrics.sqlite3")
        yield StoreUnderTest(sqlite_store, sqlite_store.maintain, "sqlite")
        sqlite_store.close()
        return
    server: LocalVictoriaMetrics = request.getfixturevalue("victoria")
    # Small requests, so that the tests also cover a write cut into many requests.
    vm_store = VictoriaMetricsStore(server.url, max_samples_per_request=500)
    yield StoreUnderTest(vm_store, lambda now: server.flush(), "victoria")
    vm_store.close()


def metric(stem: str = "test") -> str:
    """A metric name no other test uses (the VictoriaMetrics instance is shared)."""
    return f"branchops_{stem}_{next(_names)}_{int(time.time() * 1000) % 10**9}"


def hour_ago(hours: int = 1) -> int:
    """A recent, hour-aligned moment: within VictoriaMetrics' 1-day test retention."""
    now = int(time.time())
    return now - now % HOUR - hours * HOUR


def sample(name: str, ts: float, value: float, **labels: str) -> TimedSample:
    return TimedSample(name, canonical_labels(labels), ts, value)


def test_written_samples_read_back_exactly(subject: StoreUnderTest) -> None:
    name = metric("rtt_seconds")
    t0 = hour_ago(3)
    labels = {"site": "BR-0001", "device": "BR-0001-FW01", "role": "firewall"}
    samples = [sample(name, t0 + i * 60, 0.001 * i + 0.5, **labels) for i in range(61)]
    assert subject.store.write(samples) == 61
    subject.settle(time.time())

    [series] = subject.store.query_range(Selector(name), t0, t0 + HOUR)
    assert series.name == name
    assert series.labels == canonical_labels(labels)
    assert series.resolution_s == 0
    assert [(p.ts, p.value) for p in series.points] == [(s.ts, s.value) for s in samples]


def test_the_range_includes_both_ends_and_nothing_outside(subject: StoreUnderTest) -> None:
    name = metric()
    t0 = hour_ago(3)
    subject.store.write([sample(name, t0 + i * 10, float(i), site="a") for i in range(10)])
    subject.settle(time.time())

    [series] = subject.store.query_range(Selector(name), t0 + 20, t0 + 50)
    assert [p.ts for p in series.points] == [t0 + 20, t0 + 30, t0 + 40, t0 + 50]
    # A range with no points: the series without points (embedded store) or no series.
    assert all(not s.points for s in subject.store.query_range(Selector(name), t0 - 600, t0 - 1))


def test_writes_arriving_out_of_order_read_back_in_time_order(subject: StoreUnderTest) -> None:
    name = metric()
    t0 = hour_ago(2)
    subject.store.write([sample(name, t0 + 120, 3.0), sample(name, t0, 1.0)])
    subject.store.write([sample(name, t0 + 60, 2.0)])
    subject.settle(time.time())
    [series] = subject.store.query_range(Selector(name), t0, t0 + 300)
    assert [p.value for p in series.points] == [1.0, 2.0, 3.0]


def test_a_retried_write_stores_each_sample_once(subject: StoreUnderTest) -> None:
    name = metric()
    t0 = hour_ago(2)
    batch = [sample(name, t0 + i * 60, float(i), site="a") for i in range(5)]
    subject.store.write(batch)
    subject.store.write(batch)  # the engine resends a batch whose answer it never saw
    subject.settle(time.time())
    [series] = subject.store.query_range(Selector(name), t0, t0 + HOUR)
    assert [p.value for p in series.points] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_label_matchers_select_series(subject: StoreUnderTest) -> None:
    name, other = metric("if_in_bits_per_second"), metric()
    t0 = hour_ago(2)
    rows = [
        sample(name, t0, 1.0, site="BR-0001", device="FW01", interface="ge0/1"),
        sample(name, t0, 2.0, site="BR-0001", device="FW01", interface="ge0/2"),
        sample(name, t0, 3.0, site="BR-0002", device="FW01", interface="ge0/1"),
        sample(other, t0, 4.0, site="BR-0001", device="FW01", interface="ge0/1"),
    ]
    subject.store.write(rows)
    subject.settle(time.time())

    def values(**matchers: str) -> list[float]:
        found = subject.store.query_range(Selector(name, matchers), t0 - 60, t0 + 60)
        return sorted(p.value for s in found for p in s.points)

    assert values() == [1.0, 2.0, 3.0]
    assert values(site="BR-0001") == [1.0, 2.0]
    assert values(site="BR-0001", interface="ge0/1") == [1.0]
    assert values(interface="ge0/1") == [1.0, 3.0]
    assert values(site="BR-0003") == []
    assert values(region="none") == []
    found = subject.store.query_range(Selector(name, {"site": "BR-0001"}), t0 - 60, t0 + 60)
    assert [dict(s.labels)["interface"] for s in found] == ["ge0/1", "ge0/2"]  # ordered


def test_chinese_and_awkward_label_values_round_trip(subject: StoreUnderTest) -> None:
    name = metric("business_flow_success_ratio")
    t0 = hour_ago(2)
    awkward = {
        "system": "集中交易系统",
        "site": "上海浦东营业部",
        "channel": '第三方存管 "银证转账" \\ 通道',
        "note": "换行\n之后",
    }
    subject.store.write([sample(name, t0, 0.9995, **awkward)])
    subject.store.write([sample(name, t0, 0.5, system="融资融券", site="深圳福田营业部")])
    subject.settle(time.time())

    found = subject.store.query_range(Selector(name, {"system": "集中交易系统"}), t0, t0 + 60)
    assert [s.labels for s in found] == [canonical_labels(awkward)]
    assert found[0].points[0].value == 0.9995
    by_channel = Selector(name, {"channel": awkward["channel"], "note": awkward["note"]})
    assert len(subject.store.query_range(by_channel, t0, t0 + 60)) == 1
    assert len(subject.store.query_range(Selector(name), t0, t0 + 60)) == 2


def test_values_keep_twelve_significant_digits(subject: StoreUnderTest) -> None:
    """The embedded store keeps doubles exactly; VictoriaMetrics keeps decimals of about
    12 significant digits, with one exponent per block of a series, so each series here keeps
    to the magnitudes such a metric really has (see docs/metrics-storage.md)."""
    t0 = hour_ago(2)
    cases = {
        "ratio": [0.0, 0.25, 0.9995, 1.0, 1 / 3, -0.125],
        "seconds": [0.000123, 0.0015, 1e-6, 0.25, 2.5],
        "octets": [2.0**53, 2.0**53 + 2, 18446744073709551615.0, 1.5e17],
        "celsius": [-40.5, 0.0, 36.6, 123456.789],
        "infinite": [math.inf, 1.0, 2.0],
    }
    name = metric()
    for kind, values in cases.items():
        subject.store.write([sample(name, t0 + i, v, kind=kind) for i, v in enumerate(values)])
    subject.store.write([sample(name, t0, -math.inf, kind="negative_infinite")])
    subject.settle(time.time())
    found = {
        dict(s.labels)["kind"]: [p.value for p in s.points]
        for s in subject.store.query_range(Selector(name), t0, t0 + 60)
    }
    assert found.pop("negative_infinite") == [-math.inf]
    assert found.keys() == cases.keys()
    for kind, values in cases.items():
        assert found[kind] == pytest.approx(values, rel=1e-11), kind


def test_resolution_follows_the_span(subject: StoreUnderTest) -> None:
    name = metric()
    now = time.time()
    # Two hours back on the hour: inside every span below whatever the minute is now, and in
    # an hour bucket that is already complete.
    subject.store.write([sample(name, hour_ago(2) + i * 60, 1.0) for i in range(30)])
    subject.settle(now + HOUR)
    for span, resolution in ((3 * HOUR, 0), (6 * HOUR, 0), (6 * HOUR + 60, 300), (7 * DAY, 300)):
        [series] = subject.store.query_range(Selector(name), now - span, now)
        assert series.resolution_s == resolution, span
    [series] = subject.store.query_range(Selector(name), now - 7 * DAY - 1, now)
    assert series.resolution_s == 3600


def test_rollups_keep_average_minimum_and_maximum(subject: StoreUnderTest) -> None:
    """5-minute and 1-hour buckets start on the bucket boundary and cover [start, end)."""
    name = metric("cpu_utilisation_ratio")
    t0 = hour_ago(3)  # hour-aligned
    # One sample a minute for two hours; the value is the minute number (0..119).
    subject.store.write([sample(name, t0 + m * 60, float(m), device="d") for m in range(120)])
    subject.settle(time.time())

    [five] = subject.store.query_range(Selector(name), t0, t0 + 24 * HOUR)
    assert five.resolution_s == 300
    assert len(five.points) == 24
    first, second, last = five.points[0], five.points[1], five.points[-1]
    assert (first.ts, first.value, first.low, first.high) == (t0, 2.0, 0.0, 4.0)
    assert (second.ts, second.value, second.low, second.high) == (t0 + 300, 7.0, 5.0, 9.0)
    assert (last.ts, last.value, last.low, last.high) == (t0 + 115 * 60, 117.0, 115.0, 119.0)

    [hourly] = subject.store.query_range(Selector(name), t0 - 8 * DAY, t0 + HOUR + 1)
    assert hourly.resolution_s == 3600
    assert [(p.ts, p.value, p.low, p.high) for p in hourly.points] == [
        (t0, 29.5, 0.0, 59.0),
        (t0 + HOUR, 89.5, 60.0, 119.0),
    ]


def test_rollup_buckets_in_range_only(subject: StoreUnderTest) -> None:
    name = metric()
    t0 = hour_ago(4)
    subject.store.write([sample(name, t0 + m * 60, 1.0) for m in range(180)])
    subject.settle(time.time())
    # Buckets that start within [start, end] are returned, as the embedded store does.
    [series] = subject.store.query_range(Selector(name), t0 + 1, t0 + 6 * HOUR + 3600)
    assert series.points[0].ts == t0 + 300
    assert series.points[-1].ts == t0 + 175 * 60
    assert all(p.value == 1.0 for p in series.points)


def test_many_series_in_one_write(subject: StoreUnderTest) -> None:
    name = metric("if_out_bits_per_second")
    t0 = hour_ago(2)
    samples = [
        sample(
            name, t0 + j * 60, float(i * 10 + j), site=f"BR-{i // 4:04d}", interface=f"ge0/{i % 4}"
        )
        for j in range(5)
        for i in range(2000)
    ]
    assert subject.store.write(samples) == 10_000
    subject.settle(time.time())
    found = subject.store.query_range(Selector(name), t0, t0 + HOUR)
    assert len(found) == 2000
    assert all(len(s.points) == 5 for s in found)
    # Series i = 494 is site BR-0123, interface ge0/2; its value at minute j is 4940 + j.
    one = Selector(name, {"site": "BR-0123", "interface": "ge0/2"})
    [series] = subject.store.query_range(one, t0, t0 + HOUR)
    assert [p.value for p in series.points] == [4940.0, 4941.0, 4942.0, 4943.0, 4944.0]


def test_an_empty_write_writes_nothing(subject: StoreUnderTest) -> None:
    assert subject.store.write([]) == 0
    assert subject.store.query_range(Selector(metric()), 0, time.time()) == []


def test_maintain_is_safe_to_call_at_any_time(subject: StoreUnderTest) -> None:
    subject.store.maintain(time.time())
    subject.store.maintain(time.time())


# ---- what only one store does ------------------------------------------------------------


def test_sqlite_retention_per_resolution(tmp_path: Path) -> None:
    store = SqliteMetricStore(
        tmp_path / "m.sqlite3", Retention(raw_s=2 * HOUR, r5m_s=DAY, r1h_s=3 * DAY)
    )
    now = hour_ago(0) + 1800
    start = now - 5 * DAY
    store.write([sample("kept", start + m * 60, 1.0) for m in range(0, 5 * 24 * 60, 5)])
    store.maintain(now)

    [raw] = store.query_range(Selector("kept"), now - 6 * HOUR, now)
    assert raw.points[0].ts >= now - 2 * HOUR  # older raw samples are gone
    [r5m] = store.query_range(Selector("kept"), now - 7 * DAY, now)
    assert r5m.points[0].ts >= now - DAY - 300
    [r1h] = store.query_range(Selector("kept"), now - 30 * DAY, now)
    assert r1h.points[0].ts >= now - 3 * DAY - HOUR
    assert r1h.points[0].ts < now - 2 * DAY  # but the hourly rollups are still there
    store.close()


def test_open_store_picks_the_store_from_the_url(tmp_path: Path) -> None:
    sqlite_store = open_store(f"sqlite:///{tmp_path}/m.sqlite3")
    assert isinstance(sqlite_store, SqliteMetricStore)
    sqlite_store.close()
    vm_store = open_store("http://127.0.0.1:8428/")
    assert isinstance(vm_store, VictoriaMetricsStore)
    assert vm_store.url == "http://127.0.0.1:8428"
    vm_store.close()
    with pytest.raises(ValueError, match="BRANCHOPS_METRICS_URL"):
        open_store("redis://127.0.0.1")
