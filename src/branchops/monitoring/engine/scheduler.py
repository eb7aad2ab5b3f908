"""The scheduler: runs every check once per interval, spread over the interval, never twice
at once, within global and per-target limits, and survives whatever a collector does.

Phases are spread deterministically (a hash of the check id) so that 15,000 checks with a
60 s interval make a steady 250 runs a second instead of a burst every minute. Lateness is
the time between when a run was due and when it actually started (after waiting for a
concurrency slot); a run whose previous run is still going is skipped and counted, and a
scheduler that falls more than an interval behind skips ahead and counts the missed runs.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from branchops.monitoring.collectors.base import CheckSpec, CollectorError, Result, State
from branchops.monitoring.engine.clock import Clock

log = logging.getLogger(__name__)

LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, math.inf)
RunCheck = Callable[[CheckSpec], Awaitable[Result]]
Sink = Callable[[Result, float], None]


def phase(check_id: int, interval: float) -> float:
    """Where in its interval a check runs: spread evenly, the same on every start."""
    return ((check_id * 2654435761) % 2**32) / 2**32 * interval


@dataclass
class SchedulerStats:
    started: int = 0
    finished: int = 0
    skipped_overlap: int = 0  # due while its previous run was still going
    missed: int = 0  # intervals skipped because the scheduler fell behind
    timeouts: int = 0
    internal_errors: int = 0
    expedited: int = 0  # runs asked for out of turn (a parent's judgement)
    lateness_buckets: list[int] = field(default_factory=lambda: [0] * len(LATENESS_BUCKETS))
    lateness_sum: float = 0.0
    lateness_max: float = 0.0

    def observe_lateness(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.lateness_sum += seconds
        self.lateness_max = max(self.lateness_max, seconds)
        for i, bound in enumerate(LATENESS_BUCKETS):
            if seconds <= bound:
                self.lateness_buckets[i] += 1
                break

    def lateness_quantile(self, q: float) -> float:
        """Upper bound of the bucket holding the q-quantile (Prometheus-style)."""
        total = sum(self.lateness_buckets)
        if total == 0:
            return 0.0
        rank, seen = q * total, 0
        for bound, count in zip(LATENESS_BUCKETS, self.lateness_buckets, strict=True):
            seen += count
            if seen >= rank:
                return bound
        return math.inf


class _TargetGates:
    """One semaphore per target address, dropped again when nobody holds or waits for it."""

    def __init__(self, per_target: int) -> None:
        self.per_target = per_target
        self._gates: dict[str, tuple[asyncio.Semaphore, int]] = {}

    async def acquire(self, target: str) -> None:
        gate, users = self._gates.get(target, (asyncio.Semaphore(self.per_target), 0))
        self._gates[target] = (gate, users + 1)
        await gate.acquire()

    def release(self, target: str) -> None:
        gate, users = self._gates[target]
        gate.release()
        if users <= 1:
            del self._gates[target]
        else:
            self._gates[target] = (gate, users - 1)


class Scheduler:
    def __init__(
        self,
        run_check: RunCheck,
        sink: Sink,
        clock: Clock,
        *,
        max_in_flight: int = 2000,
        per_target: int = 4,
        grace_s: float = 2.0,
    ) -> None:
        self._run_check = run_check
        self._sink = sink
        self.clock = clock
        self.grace_s = grace_s
        self.stats = SchedulerStats()
        self._global = asyncio.Semaphore(max_in_flight)
        self._targets = _TargetGates(per_target)
        self._specs: dict[int, CheckSpec] = {}
        self._generation: dict[int, int] = {}
        self._heap: list[tuple[float, int, int]] = []  # (due, check id, generation)
        self._running: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False

    # ---- the set of checks ---------------------------------------------------------------

    def upsert(self, spec: CheckSpec) -> None:
        generation = self._generation.get(spec.check_id, 0) + 1
        self._generation[spec.check_id] = generation
        self._specs[spec.check_id] = spec
        now = self.clock.monotonic()
        due = now + phase(spec.check_id, spec.interval_s)
        heapq.heappush(self._heap, (due, spec.check_id, generation))
        self._wake.set()

    def run_now(self, check_ids: Iterable[int]) -> int:
        """Run these checks at once, besides their schedule: the alert pipeline wants a
        parent's judgement before it judges the children. Never two runs of one check."""
        now, started = self.clock.monotonic(), 0
        for check_id in check_ids:
            spec = self._specs.get(check_id)
            if spec is None or check_id in self._running or self._stopping:
                continue
            self._running.add(check_id)
            task = asyncio.create_task(self._execute(spec, now), name=f"now-{check_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        self.stats.expedited += started
        return started

    def remove(self, check_id: int) -> None:
        self._specs.pop(check_id, None)
        self._generation[check_id] = self._generation.get(check_id, 0) + 1

    def __len__(self) -> int:
        return len(self._specs)

    @property
    def in_flight(self) -> int:
        return len(self._running)

    # ---- running ---------------------------------------------------------------------------

    async def run(self) -> None:
        while not self._stopping:
            now = self.clock.monotonic()
            while self._heap and self._heap[0][0] <= now:
                due, check_id, generation = heapq.heappop(self._heap)
                if self._generation.get(check_id) == generation and check_id in self._specs:
                    self._due(self._specs[check_id], due, generation, now)
            wait = self._heap[0][0] - now if self._heap else 1.0
            await self._sleep_or_wake(min(wait, 1.0))

    async def _sleep_or_wake(self, seconds: float) -> None:
        self._wake.clear()
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    def _due(self, spec: CheckSpec, due: float, generation: int, now: float) -> None:
        interval = spec.interval_s
        behind = int((now - due) // interval)
        if behind > 0:
            self.stats.missed += behind
        heapq.heappush(self._heap, (due + (behind + 1) * interval, spec.check_id, generation))
        if spec.check_id in self._running:
            self.stats.skipped_overlap += 1
            return
        self._running.add(spec.check_id)
        task = asyncio.create_task(self._execute(spec, due), name=f"check-{spec.check_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, spec: CheckSpec, due: float) -> None:
        try:
            async with self._global:
                await self._targets.acquire(spec.target)
                try:
                    started = self.clock.monotonic()
                    self.stats.started += 1
                    self.stats.observe_lateness(started - due)
                    result = await self._guarded(spec)
                finally:
                    self._targets.release(spec.target)
            self.stats.finished += 1
            self._sink(result, started - due)
        finally:
            self._running.discard(spec.check_id)

    async def _guarded(self, spec: CheckSpec) -> Result:
        """The collector's result, or a result that says why there is none."""
        wall, begun = self.clock.wall(), self.clock.monotonic()
        try:
            return await asyncio.wait_for(self._run_check(spec), spec.timeout_s + self.grace_s)
        except CollectorError as exc:
            return self._failed(spec, wall, begun, exc.state, str(exc))
        except TimeoutError:
            self.stats.timeouts += 1
            message = f"no result within {spec.timeout_s:g} s"
            return self._failed(spec, wall, begun, State.DOWN, message)
        except Exception as exc:
            self.stats.internal_errors += 1
            log.exception("check %s (%s) failed inside its collector", spec.check_id, spec.kind)
            message = f"internal error: {type(exc).__name__}: {exc}"
            return self._failed(spec, wall, begun, State.UNKNOWN, message)

    def _failed(
        self, spec: CheckSpec, wall: float, begun: float, state: State, error: str
    ) -> Result:
        return Result(
            check_id=spec.check_id,
            state=state,
            started_at=wall,
            duration_s=self.clock.monotonic() - begun,
            error=error[:500],
        )

    async def stop(self) -> None:
        """Stop scheduling and wait for the runs in flight (each is bounded by its timeout)."""
        self._stopping = True
        self._wake.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
