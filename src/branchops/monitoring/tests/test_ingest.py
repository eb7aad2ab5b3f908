"""Ingest turns results into samples, state changes and statuses, in batches, and loses
nothing when the metric store is briefly away."""

from __future__ import annotations

from pathlib import Path

import pytest

from branchops.core.testing import make_device
from branchops.monitoring.collectors.base import CheckSpec, Result, Sample, State
from branchops.monitoring.engine.ingest import Ingest
from branchops.monitoring.metrics.base import Selector, TimedSample
from branchops.monitoring.metrics.sqlite import SqliteMetricStore
from branchops.monitoring.models import Check, CheckStatus, StateChange

pytestmark = pytest.mark.django_db
T0 = 1_800_000_000.0


class FlakyStore(SqliteMetricStore):
    """A real store that can be switched off, like VictoriaMetrics during a restart."""

    down = False

    def write(self, samples: list[TimedSample]) -> int:  # type: ignore[override]
        if self.down:
            raise ConnectionError("connection refused")
        return super().write(samples)


@pytest.fixture
def store(tmp_path: Path) -> FlakyStore:
    return FlakyStore(tmp_path / "metrics.sqlite3")


@pytest.fixture
def check() -> Check:
    device = make_device(management_ip="127.5.0.10")
    made = Check.objects.create(name="fw ping", kind="icmp", device=device, site=device.site)
    CheckStatus.objects.create(for_check=made)
    return made


def result(check: Check, state: State, at: float, *, rtt: float = 0.001, error: str = "") -> Result:
    sample = Sample("branchops_icmp_rtt_seconds", rtt, (("device", "fw"), ("stat", "avg")))
    return Result(check.pk, state, at, 0.02, (sample,), error=error, summary=f"avg {rtt}")


def ingest_for(store: FlakyStore, check: Check) -> Ingest:
    ingest = Ingest(store, status_every_s=15)
    ingest.load_states()
    ingest.know(CheckSpec(check.pk, "icmp", "127.5.0.10", 3, labels={"device": "fw"}))
    return ingest


def test_results_become_samples_with_a_per_check_up_series(store: FlakyStore, check: Check) -> None:
    ingest = ingest_for(store, check)
    ingest.put(result(check, State.UP, T0, rtt=0.002))
    ingest.put(result(check, State.DOWN, T0 + 30))
    ingest.flush(now=T0 + 31)

    rtt = store.query_range(Selector("branchops_icmp_rtt_seconds", {"device": "fw"}), T0, T0 + 60)
    up = store.query_range(Selector("branchops_check_up", {"check_id": str(check.pk)}), T0, T0 + 60)
    assert [p.value for p in rtt[0].points] == [0.002, 0.001]
    assert [p.value for p in up[0].points] == [1.0, 0.0]
    assert dict(up[0].labels)["kind"] == "icmp"


def test_a_state_change_is_written_at_once_and_a_steady_state_is_not(
    store: FlakyStore, check: Check
) -> None:
    ingest = ingest_for(store, check)
    ingest.put(result(check, State.UP, T0))
    ingest.flush(now=T0)
    ingest.put(result(check, State.UP, T0 + 30))
    ingest.put(result(check, State.DOWN, T0 + 60, error="100 % loss"))
    ingest.flush(now=T0 + 61)

    changes = list(StateChange.objects.order_by("at").values_list("previous", "state", "error"))
    assert changes == [("pending", "up", ""), ("up", "down", "100 % loss")]
    status = CheckStatus.objects.get(for_check=check)
    assert (status.state, status.last_error) == ("down", "100 % loss")
    assert status.since.timestamp() == T0 + 60


def test_the_rest_of_the_status_is_refreshed_periodically(store: FlakyStore, check: Check) -> None:
    ingest = ingest_for(store, check)
    ingest.put(result(check, State.UP, T0))
    ingest.flush(now=T0)
    ingest.put(result(check, State.UP, T0 + 5, rtt=0.009))
    ingest.flush(now=T0 + 5)
    assert CheckStatus.objects.get(for_check=check).summary == "avg 0.001"  # not yet
    ingest.flush(now=T0 + 20)
    status = CheckStatus.objects.get(for_check=check)
    assert status.summary == "avg 0.009"
    assert status.last_run_at is not None
    assert status.last_run_at.timestamp() == T0 + 5


def test_samples_wait_while_the_store_is_down_and_arrive_later(
    store: FlakyStore, check: Check
) -> None:
    ingest = ingest_for(store, check)
    store.down = True
    ingest.put(result(check, State.UP, T0))
    ingest.flush(now=T0)
    assert ingest.stats.store_errors == 1
    assert ingest.stats.pending_samples == 3
    store.down = False
    ingest.flush(now=T0 + 1)
    rtt = store.query_range(Selector("branchops_icmp_rtt_seconds"), T0 - 1, T0 + 1)
    assert len(rtt[0].points) == 1
    assert ingest.stats.pending_samples == 0


def test_the_buffer_is_bounded_and_counts_what_it_drops(store: FlakyStore, check: Check) -> None:
    ingest = ingest_for(store, check)
    ingest.max_pending_samples = 5
    store.down = True
    for i in range(4):
        ingest.put(result(check, State.UP, T0 + i))
    ingest.flush(now=T0 + 5)
    assert (ingest.stats.pending_samples, ingest.stats.samples_dropped) == (5, 7)


def test_a_restart_does_not_invent_state_changes(store: FlakyStore, check: Check) -> None:
    first = ingest_for(store, check)
    first.put(result(check, State.DOWN, T0))
    first.flush(now=T0)
    second = ingest_for(store, check)  # a new engine process reads the states back
    second.put(result(check, State.DOWN, T0 + 30))
    second.flush(now=T0 + 30)
    assert StateChange.objects.count() == 1


def test_checks_that_cannot_run_are_unknown_with_the_reason(
    store: FlakyStore, check: Check
) -> None:
    ingest = ingest_for(store, check)
    ingest.problems({check.pk: "no SNMP credential named 'branch'"}, at=T0)
    ingest.flush(now=T0)
    status = CheckStatus.objects.get(for_check=check)
    assert (status.state, status.last_error) == ("unknown", "no SNMP credential named 'branch'")


def test_a_check_deleted_meanwhile_does_not_stop_ingest(store: FlakyStore, check: Check) -> None:
    ingest = ingest_for(store, check)
    gone = result(check, State.DOWN, T0)
    check.delete()
    ingest.put(gone)
    ingest.flush(now=T0)  # must not raise
    assert StateChange.objects.count() == 0


def test_a_check_is_overdue_two_intervals_after_its_last_run(
    store: FlakyStore, check: Check
) -> None:
    ingest = ingest_for(store, check)  # the spec says interval 60 s
    ingest.put(result(check, State.UP, T0))
    ingest.flush(now=T0, force_status=True)
    overdue = CheckStatus.objects.get(for_check=check).overdue_at
    assert overdue is not None
    assert overdue.timestamp() == T0 + 120


class RejectingStore(SqliteMetricStore):
    """A store that stores the first sample of a call, then refuses the rest for good."""

    def write(self, samples: list[TimedSample]) -> int:  # type: ignore[override]
        from branchops.monitoring.metrics.base import MetricStoreError

        super().write(samples[:1])
        raise MetricStoreError("400 bad label", retryable=False, written=1)


def test_samples_the_store_will_never_take_are_dropped_and_counted(
    tmp_path: Path, check: Check
) -> None:
    store = RejectingStore(tmp_path / "metrics.sqlite3")
    ingest = ingest_for(store, check)  # type: ignore[arg-type]
    ingest.put(result(check, State.UP, T0))  # three samples: rtt, check up, duration
    ingest.flush(now=T0)
    assert (ingest.stats.pending_samples, ingest.stats.samples_dropped) == (0, 2)
    ingest.flush(now=T0 + 1)  # nothing is retried
    assert ingest.stats.store_errors == 1
