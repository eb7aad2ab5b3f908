"""``branchops engine``: load the checks, run them on schedule, ingest the results.

The engine's only ORM work happens off the event loop (``core.db.in_thread``): loading
specs, reconciling generated checks with the estate, and the ingest thread's writes.
Collectors share objects (one SNMP socket, one ICMP socket, one HTTP pool) through the
collector context and are closed on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import signal
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.utils import timezone

from branchops.core.db import in_thread
from branchops.monitoring import services, specs
from branchops.monitoring.collectors import Context, build
from branchops.monitoring.collectors.base import CheckSpec, Collector, ConfigError, Result
from branchops.monitoring.engine import health
from branchops.monitoring.engine.clock import Clock, SystemClock
from branchops.monitoring.engine.ingest import Ingest
from branchops.monitoring.engine.scheduler import Scheduler
from branchops.monitoring.metrics.base import MetricStore
from branchops.monitoring.models import Check, SnmpCredential
from branchops.monitoring.snmp_profiles import load_all

log = logging.getLogger(__name__)


@dataclass
class EngineOptions:
    max_in_flight: int = 2000
    per_target: int = 4
    reload_s: float = 10.0  # look for changed checks
    reconcile_s: float = 60.0  # regenerate checks from templates (catches bulk imports)
    maintain_s: float = 60.0  # metric store rollups and retention
    metrics_port: int | None = 9466
    alerts: bool = True  # the alert pipeline and the notification outbox
    desk_s: float = 60.0  # service desk: SLA crossings and reportable incidents


class Engine:
    def __init__(
        self, store: MetricStore, options: EngineOptions, clock: Clock | None = None
    ) -> None:
        self.store = store
        self.options = options
        self.clock = clock or SystemClock()
        self.ingest = Ingest(store)
        self.scheduler = Scheduler(
            self._run_check,
            self.ingest.put,
            self.clock,
            max_in_flight=options.max_in_flight,
            per_target=options.per_target,
        )
        self.context = Context(clock=self.clock.wall, monotonic=self.clock.monotonic)
        self._collectors: dict[str, Collector] = {}
        self._unavailable: dict[str, str] = {}
        self._kinds: dict[int, str] = {}
        self._watermark = dt.datetime.min.replace(tzinfo=dt.UTC)
        self.alerts: Any = None  # alerts.engine.AlertWork when options.alerts
        if options.alerts:
            from branchops.alerts.engine import AlertWork

            self.alerts = AlertWork(self.clock.wall, self._expedite, store=store)
            self.ingest.listener = self.alerts.pipeline.put_results
        self._loop: asyncio.AbstractEventLoop | None = None

    def _expedite(self, check_ids: Any) -> None:
        """From the pipeline's thread: run these checks now, on the engine's loop."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.scheduler.run_now, list(check_ids))

    async def _run_check(self, spec: CheckSpec) -> Result:
        collector = self._collectors.get(spec.kind)
        if collector is None:
            collector = self._build(spec.kind)
        return await collector.collect(spec)

    def _build(self, kind: str) -> Collector:
        if kind in self._unavailable:
            raise ConfigError(self._unavailable[kind])
        try:
            collector = build(kind, self.context)
        except Exception as exc:
            self._unavailable[kind] = f"no collector for {kind} checks: {exc}"
            log.error("%s", self._unavailable[kind])
            raise ConfigError(self._unavailable[kind]) from exc
        self._collectors[kind] = collector
        return collector

    # ---- loading ----------------------------------------------------------------------------

    async def load(self) -> None:
        self.context.profiles = await in_thread(load_all)
        summary = await in_thread(services.sync)
        log.info("checks reconciled with the estate: %s", summary)
        self._watermark = timezone.now()
        loaded = await in_thread(specs.load)
        await in_thread(self.ingest.load_states)
        for spec in loaded.specs:
            self._add(spec)
        if self.alerts is not None:
            await in_thread(self.alerts.load)
        self.ingest.problems(loaded.problems, self.clock.wall())
        log.info("%d checks scheduled, %d cannot run", len(loaded.specs), len(loaded.problems))

    def _add(self, spec: CheckSpec) -> None:
        self.ingest.know(spec)
        self.scheduler.upsert(spec)
        self._kinds[spec.check_id] = spec.kind

    def _remove(self, check_id: int) -> None:
        self.scheduler.remove(check_id)
        self._kinds.pop(check_id, None)

    async def reload_changed(self) -> int:
        """Pick up checks (and credentials) changed since the last look."""
        since, now = self._watermark, timezone.now()
        changed = await in_thread(_changed_check_ids, since)
        self._watermark = now
        if not changed:
            return 0
        loaded = await in_thread(specs.load, changed)
        for check_id in changed:
            self._remove(check_id)
        for spec in loaded.specs:
            self._add(spec)
        self.ingest.problems(loaded.problems, self.clock.wall())
        return len(changed)

    async def forget_deleted(self) -> None:
        existing = await in_thread(
            lambda: set(Check.objects.filter(enabled=True).values_list("pk", flat=True))
        )
        for check_id in set(self._kinds) - existing:
            self._remove(check_id)

    # ---- running ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        await self.load()
        # Tens of thousands of specs live as long as the engine: move them out of the
        # collector's way, and collect young objects less often (results are short-lived and
        # plentiful; measured about 10 % less CPU per ICMP check, docs/collectors.md).
        gc.collect()
        gc.freeze()
        gc.set_threshold(100_000, 50, 100)
        self.ingest.start()
        if self.alerts is not None:
            await self.alerts.start(stop)
        server = None
        if self.options.metrics_port:
            server = await health.serve(self.health_page, self.options.metrics_port)
        loops = [
            asyncio.create_task(self.scheduler.run(), name="scheduler"),
            asyncio.create_task(self._every(self.options.reload_s, self.reload_changed)),
            asyncio.create_task(self._every(self.options.reconcile_s, self._reconcile)),
            asyncio.create_task(self._every(self.options.maintain_s, self._maintain)),
        ]
        if apps.is_installed("branchops.servicedesk"):
            loops.append(asyncio.create_task(self._every(self.options.desk_s, self._desk)))
        try:
            await stop.wait()
        finally:
            await self._shutdown(loops, server)

    async def _every(self, seconds: float, job: Any) -> None:
        while True:
            await self.clock.sleep(seconds)
            try:
                await job()
            except Exception:
                log.exception("engine housekeeping failed; will retry")

    async def _reconcile(self) -> None:
        await in_thread(services.sync)
        await self.forget_deleted()
        await self.reload_changed()

    async def _maintain(self) -> None:
        await in_thread(self.store.maintain, self.clock.wall())

    async def _desk(self) -> None:
        # Clocks and outages grow while nobody writes: note SLA crossings and find
        # incidents that became reportable (each part logs its own failure).
        from branchops.servicedesk.periodic import desk_minute

        await in_thread(desk_minute, timezone.now())

    async def _shutdown(
        self, loops: list[asyncio.Task[Any]], server: asyncio.Server | None
    ) -> None:
        for task in loops[1:]:
            task.cancel()
        await self.scheduler.stop()
        loops[0].cancel()
        if server is not None:
            server.close()
        for collector in self._collectors.values():
            with contextlib.suppress(Exception):
                await collector.aclose()
        for shared in self.context.shared.values():
            closer = getattr(shared, "aclose", None) or getattr(shared, "close", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    outcome = closer()
                    if asyncio.iscoroutine(outcome):
                        await outcome
        await in_thread(self.ingest.stop)
        if self.alerts is not None:
            await self.alerts.stop()

    def health_page(self) -> str:
        page = health.render(
            self.scheduler.stats,
            self.ingest.stats,
            Counter(self._kinds.values()),
            self.scheduler.in_flight,
        )
        if self.alerts is None:
            return page
        from branchops.alerts.engine import health_lines

        return page.rstrip("\n") + "\n" + "\n".join(health_lines(self.alerts)) + "\n"


def _changed_check_ids(since: dt.datetime) -> list[int]:
    ids = set(Check.objects.filter(updated_at__gt=since).values_list("pk", flat=True))
    if SnmpCredential.objects.filter(updated_at__gt=since).exists():
        ids |= set(Check.objects.filter(kind__in=specs.SNMP_KINDS).values_list("pk", flat=True))
    return sorted(ids)


def main(options: EngineOptions, store: MetricStore) -> int:
    """Run until SIGINT or SIGTERM."""

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Engine(store, options).run(stop)

    asyncio.run(run())
    return 0
