"""The scheduler, specified with a hand-moved clock: every check once per interval, spread
out, never twice at once, within limits, and nothing a collector does stops the others."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from branchops.monitoring.collectors.base import CheckSpec, CollectorError, Result, State
from branchops.monitoring.engine.clock import FakeClock
from branchops.monitoring.engine.scheduler import Scheduler, phase


def spec(check_id: int, *, interval: float = 60, timeout: float = 5, target: str = "") -> CheckSpec:
    return CheckSpec(
        check_id=check_id,
        kind="fake",
        target=target or f"127.9.0.{check_id % 250 + 1}",
        timeout_s=timeout,
        interval_s=interval,
    )


def up(clock: FakeClock) -> Callable[[CheckSpec], Awaitable[Result]]:
    async def collect(s: CheckSpec) -> Result:
        return Result(s.check_id, State.UP, clock.wall(), 0.001)

    return collect


class Harness:
    """A scheduler running in the background, its results collected in order."""

    def __init__(
        self, collect: Callable[[CheckSpec], Awaitable[Result]] | None = None, **options: Any
    ) -> None:
        self.clock = FakeClock()
        self.results: list[tuple[Result, float]] = []
        self.scheduler = Scheduler(
            collect or up(self.clock),
            lambda r, late: self.results.append((r, late)),
            self.clock,
            **options,
        )

    async def __aenter__(self) -> Harness:
        self.task = asyncio.create_task(self.scheduler.run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.scheduler.stop()
        await self.clock.advance(1)
        self.task.cancel()

    def runs(self) -> Counter[int]:
        return Counter(r.check_id for r, _ in self.results)


def test_every_check_runs_once_per_interval() -> None:
    async def main() -> Counter[int]:
        async with Harness() as h:
            for i in range(1, 101):
                h.scheduler.upsert(spec(i, interval=60))
            await h.clock.advance(600)  # ten intervals
            return h.runs()

    runs = asyncio.run(main())
    assert set(runs) == set(range(1, 101))
    assert set(runs.values()) <= {10, 11}  # 10 intervals, plus the one due exactly at the end


def test_first_runs_are_spread_over_the_interval() -> None:
    phases = sorted(phase(i, 60) for i in range(1, 1001))
    assert phases[0] < 1
    assert phases[-1] > 59
    per_second = Counter(int(p) for p in phases)
    assert max(per_second.values()) < 40  # ~17 per second on average, never a burst


def test_a_check_never_runs_twice_at_once() -> None:
    release = asyncio.Event()

    async def slow(s: CheckSpec) -> Result:
        await release.wait()
        return Result(s.check_id, State.UP, 0.0, 0.0)

    async def main() -> tuple[int, int, int]:
        async with Harness(slow) as h:
            h.scheduler.upsert(spec(1, interval=10, timeout=100))
            # The first run starts within 10 s (its phase: 6.18 s for check 1) and hangs;
            # by 40 s the check has fallen due three more times.
            await h.clock.advance(40)
            in_flight = h.scheduler.in_flight
            release.set()
            await h.clock.advance(1)
            return in_flight, h.scheduler.stats.skipped_overlap, len(h.results)

    in_flight, skipped, finished = asyncio.run(main())
    assert in_flight == 1
    assert skipped == 3
    assert finished == 1


def test_a_hanging_target_times_out_and_delays_nobody_else() -> None:
    async def collect(s: CheckSpec) -> Result:
        if s.target == "127.9.9.9":
            await asyncio.Event().wait()  # accepts and never answers
        return Result(s.check_id, State.UP, 0.0, 0.0)

    async def main() -> list[tuple[Result, float]]:
        async with Harness(collect, grace_s=0.0) as h:
            h.scheduler.upsert(spec(1, target="127.9.9.9", timeout=0.05, interval=60))
            for i in range(2, 50):
                h.scheduler.upsert(spec(i, interval=60))
            await h.clock.advance(60)
            await asyncio.sleep(0.2)  # the hanging run's timeout is real time
            return h.results

    results = asyncio.run(main())
    hung = [r for r, _ in results if r.check_id == 1]
    others = [late for r, late in results if r.check_id != 1]
    assert hung
    assert hung[0].state == State.DOWN
    assert "no result within" in hung[0].error
    assert len(others) >= 48
    assert max(others) == 0.0


def test_collector_errors_become_results_and_bugs_do_not_stop_the_engine() -> None:
    async def collect(s: CheckSpec) -> Result:
        if s.check_id == 1:
            raise CollectorError("connection refused", state=State.DOWN)
        if s.check_id == 2:
            raise KeyError("oops")
        return Result(s.check_id, State.UP, 0.0, 0.0)

    async def main() -> dict[int, Result]:
        async with Harness(collect) as h:
            for i in (1, 2, 3):
                h.scheduler.upsert(spec(i, interval=30))
            await h.clock.advance(61)
            assert h.scheduler.stats.internal_errors >= 1
            return {r.check_id: r for r, _ in h.results}

    last = asyncio.run(main())
    assert (last[1].state, last[1].error) == (State.DOWN, "connection refused")
    assert last[2].state == State.UNKNOWN
    assert "internal error: KeyError" in last[2].error
    assert last[3].state == State.UP


def test_per_target_limit_queues_checks_of_one_device() -> None:
    active, peak = 0, 0
    gate = asyncio.Event()

    async def collect(s: CheckSpec) -> Result:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await gate.wait()
        active -= 1
        return Result(s.check_id, State.UP, 0.0, 0.0)

    async def main() -> tuple[int, int]:
        async with Harness(collect, per_target=2) as h:
            for i in range(1, 11):
                h.scheduler.upsert(spec(i, target="127.9.1.1", interval=60, timeout=100))
            await h.clock.advance(60)
            gate.set()
            await h.clock.advance(1)
            return peak, len(h.results)

    peak_seen, finished = asyncio.run(main())
    assert peak_seen == 2
    assert finished == 10


def test_falling_behind_counts_missed_runs_and_catches_up() -> None:
    async def main() -> tuple[int, Counter[int]]:
        async with Harness() as h:
            h.scheduler.upsert(spec(1, interval=10))
            await h.clock.advance(10)
            h.clock.now += 35  # the loop was stuck (a long GC, a blocked thread)
            await h.clock.advance(0.1)
            return h.scheduler.stats.missed, h.runs()

    missed, runs = asyncio.run(main())
    # Stuck for 35 s over a 10 s interval: of the three runs due meanwhile, the first runs
    # late on waking and the two after it are counted as missed, not run in a burst.
    assert missed == 2
    assert runs[1] == 2


def test_removed_checks_stop_and_changed_intervals_take_effect() -> None:
    async def main() -> Counter[int]:
        async with Harness() as h:
            h.scheduler.upsert(spec(1, interval=10))
            h.scheduler.upsert(spec(2, interval=10))
            await h.clock.advance(100)
            h.scheduler.remove(1)
            h.scheduler.upsert(spec(2, interval=50))
            before = h.runs()
            await h.clock.advance(200)
            after = h.runs()
            return Counter({k: after[k] - before[k] for k in after})

    delta = asyncio.run(main())
    assert delta[1] == 0
    assert delta[2] in {4, 5}


def test_lateness_is_measured_from_when_the_run_was_due() -> None:
    async def main() -> float:
        async with Harness(max_in_flight=1) as h:
            for i in range(1, 5):
                h.scheduler.upsert(spec(i, interval=60))
            await h.clock.advance(120)
            return h.scheduler.stats.lateness_quantile(0.99)

    assert asyncio.run(main()) <= 0.01
