"""Ingest: the one place where results become rows and samples, in batches, off the loop.

The scheduler hands each result to :meth:`Ingest.put` (thread-safe, never blocks). A writer
thread flushes about once a second:

- samples go to the metric store, together with ``branchops_check_up`` and
  ``branchops_check_duration_seconds`` per check; if the store is down (VictoriaMetrics
  restarting), samples wait in a bounded buffer and the oldest are dropped and counted;
- a state change (up to down, ...) is written at once: a ``StateChange`` row and the
  check's status;
- everything else about the status (last run, duration, summary, error) is refreshed for
  all checks every ``status_every_s`` in one statement per batch, so 15,000 checks running
  every minute cost a few hundred row updates a second instead of a write per result.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.db import close_old_connections, connection, connections, transaction

from branchops.monitoring.collectors.base import CheckSpec, Result, State
from branchops.monitoring.metrics.base import (
    MetricStore,
    MetricStoreError,
    TimedSample,
    canonical_labels,
)
from branchops.monitoring.models import Check, CheckStatus, StateChange

log = logging.getLogger(__name__)
UP_STATES = frozenset({State.UP, State.DEGRADED})


@dataclass
class IngestStats:
    results: int = 0
    samples_written: int = 0
    samples_dropped: int = 0
    store_errors: int = 0
    state_changes: int = 0
    status_rows_written: int = 0
    db_errors: int = 0
    pending_samples: int = 0
    last_flush_s: float = 0.0


@dataclass
class _Latest:
    state: str
    since: float
    result: Result | None = None
    dirty: bool = False


@dataclass
class Ingest:
    store: MetricStore
    flush_s: float = 1.0
    status_every_s: float = 15.0
    max_pending_samples: int = 500_000
    stats: IngestStats = field(default_factory=IngestStats)
    # Hears every result with whether its check changed state (the alert pipeline).
    listener: Callable[[list[tuple[Result, bool]]], None] | None = None

    def __post_init__(self) -> None:
        self._inbox: queue.SimpleQueue[Result] = queue.SimpleQueue()
        self._pending: deque[TimedSample] = deque()
        self._latest: dict[int, _Latest] = {}
        self._labels: dict[int, tuple[tuple[str, str], ...]] = {}
        self._intervals: dict[int, float] = {}
        self._last_status_write = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- the engine's side -------------------------------------------------------------------

    def know(self, spec: CheckSpec) -> None:
        """Labels for the per-check series (called when a spec is loaded or changed)."""
        self._labels[spec.check_id] = canonical_labels(
            {**spec.labels, "check_id": str(spec.check_id), "kind": spec.kind}
        )
        self._intervals[spec.check_id] = spec.interval_s

    def put(self, result: Result, lateness: float = 0.0) -> None:
        self._inbox.put(result)

    def load_states(self) -> None:
        """Start from the states the database holds, so a restart is not a flood of changes."""
        for check_id, state, since in CheckStatus.objects.values_list(
            "for_check_id", "state", "since"
        ):
            self._latest[check_id] = _Latest(state=state, since=since.timestamp())

    # ---- the writer thread ------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="ingest", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            self.flush(force_status=True)
        finally:
            connections.close_all()

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.flush_s):
                try:
                    self.flush()
                except Exception:
                    log.exception("ingest flush failed; will retry")
                finally:
                    close_old_connections()
        finally:
            connections.close_all()  # this thread's own connection, not left open

    def flush(self, *, now: float | None = None, force_status: bool = False) -> int:
        """Write what has arrived; returns the number of results taken in."""
        import time

        now = time.time() if now is None else now
        batch: list[Result] = []
        while True:
            try:
                batch.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        self.stats.results += len(batch)
        self._queue_samples(batch)
        self._write_samples()
        changes = self._track(batch)
        if changes:
            self._write_changes(changes)
        if self.listener is not None and batch:
            changed = {c[0] for c in changes}
            self.listener([(r, r.check_id in changed) for r in batch])
        if force_status or now - self._last_status_write >= self.status_every_s:
            self._write_statuses()
            self._last_status_write = now
        self.stats.last_flush_s = now
        return len(batch)

    # ---- samples ----------------------------------------------------------------------------

    def _queue_samples(self, batch: list[Result]) -> None:
        for result in batch:
            ts = result.started_at
            for s in result.samples:
                self._pending.append(TimedSample(s.name, s.labels, ts, s.value))
            labels = self._labels.get(result.check_id)
            if labels is not None:
                up = 1.0 if result.state in UP_STATES else 0.0
                self._pending.append(TimedSample("branchops_check_up", labels, ts, up))
                self._pending.append(
                    TimedSample("branchops_check_duration_seconds", labels, ts, result.duration_s)
                )
        overflow = len(self._pending) - self.max_pending_samples
        for _ in range(max(0, overflow)):
            self._pending.popleft()
        self.stats.samples_dropped += max(0, overflow)
        self.stats.pending_samples = len(self._pending)

    def _write_samples(self) -> None:
        if not self._pending:
            return
        chunk = list(self._pending)
        try:
            written = self.store.write(chunk)
        except MetricStoreError as exc:
            self._store_refused(exc)
            return
        except Exception as exc:
            self.stats.store_errors += 1
            log.warning(
                "metric store write failed (%s); %d samples kept for retry", exc, len(chunk)
            )
            return
        self._pending.clear()
        self.stats.samples_written += written
        self.stats.pending_samples = 0

    def _store_refused(self, exc: MetricStoreError) -> None:
        self.stats.store_errors += 1
        for _ in range(min(exc.written, len(self._pending))):
            self._pending.popleft()  # stored before the failure: never send twice
        if not exc.retryable:
            # The store rejected these samples and always will: drop them, say how many.
            log.error("metric store rejected %d samples: %s", len(self._pending), exc)
            self.stats.samples_dropped += len(self._pending)
            self._pending.clear()
        else:
            log.warning("metric store away (%s); %d samples kept", exc, len(self._pending))
        self.stats.pending_samples = len(self._pending)

    # ---- states -----------------------------------------------------------------------------

    def _track(self, batch: list[Result]) -> list[tuple[int, str, str, Result]]:
        changes = []
        for result in batch:
            latest = self._latest.get(result.check_id)
            state = result.state.value
            if latest is None:
                latest = _Latest(state="pending", since=result.started_at)
                self._latest[result.check_id] = latest
            if latest.state != state:
                changes.append((result.check_id, latest.state, state, result))
                latest.state, latest.since = state, result.started_at
            latest.result, latest.dirty = result, True
        return changes

    def _write_changes(self, changes: list[tuple[int, str, str, Result]]) -> None:
        # A check can be deleted between its run and this write; foreign keys are checked
        # only at commit, so look first and forget the departed instead of failing a batch.
        ids = {cid for cid, _, _, _ in changes}
        alive = set(Check.objects.filter(pk__in=ids).values_list("pk", flat=True))
        for gone in ids - alive:
            self._latest.pop(gone, None)
            self._labels.pop(gone, None)
        changes = [c for c in changes if c[0] in alive]
        if not changes:
            return
        rows = [
            StateChange(
                for_check_id=check_id,
                at=_aware(r.started_at),
                previous=before,
                state=after,
                error=r.error[:500],
            )
            for check_id, before, after, r in changes
        ]
        try:
            with transaction.atomic():
                StateChange.objects.bulk_create(rows, batch_size=1000)
                self._update_statuses([(cid, self._latest[cid]) for cid, _, _, _ in changes])
        except Exception:
            self.stats.db_errors += 1
            log.exception("writing %d state changes failed", len(rows))
            return
        self.stats.state_changes += len(rows)
        for cid, _, _, _ in changes:
            self._latest[cid].dirty = False

    def _write_statuses(self) -> None:
        dirty = [(cid, latest) for cid, latest in self._latest.items() if latest.dirty]
        if not dirty:
            return
        try:
            with transaction.atomic():
                self._update_statuses(dirty)
        except Exception:
            self.stats.db_errors += 1
            log.exception("refreshing %d check statuses failed", len(dirty))
            return
        for _, latest in dirty:
            latest.dirty = False

    def _update_statuses(self, rows: list[tuple[int, _Latest]]) -> None:
        table = CheckStatus._meta.db_table
        params = []
        for check_id, latest in rows:
            r = latest.result
            if r is None:
                continue
            overdue = r.started_at + 2 * self._intervals.get(check_id, 60.0)
            params.append(
                (
                    latest.state,
                    _aware(latest.since),
                    _aware(r.started_at),
                    round(r.duration_s * 1000, 3),
                    r.error[:500],
                    r.summary[:200],
                    _aware(overdue),
                    check_id,
                )
            )
        sql = (
            f"UPDATE {table} SET state = %s, since = %s, last_run_at = %s, "  # noqa: S608
            "last_duration_ms = %s, last_error = %s, summary = %s, overdue_at = %s "
            "WHERE for_check_id = %s"
        )
        with connection.cursor() as cursor:
            for start in range(0, len(params), 1000):
                cursor.executemany(sql, params[start : start + 1000])
        self.stats.status_rows_written += len(params)

    def problems(self, problems: Mapping[int, str], at: float) -> None:
        """Checks that cannot run: unknown, with the reason, like any other result."""
        for check_id, message in problems.items():
            self.put(Result(check_id, State.UNKNOWN, at, 0.0, error=message))


def _aware(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC)
