"""The alerts' part of ``branchops engine``: the pipeline's thread, the outbox's task, and
the syslog and trap receivers.

The pipeline hears every result through ingest; when it queues notifications it wakes the
outbox on the engine's loop, so a root alert goes out within moments, not at the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

import httpx

from branchops.alerts.listening import Listening
from branchops.alerts.outbox import Outbox
from branchops.alerts.pipeline.core import AlertPipeline, PipelineOptions
from branchops.alerts.receivers.trap_receiver import TrapUser
from branchops.core.db import in_thread
from branchops.monitoring.metrics.base import MetricStore, TimedSample, canonical_labels

log = logging.getLogger(__name__)
COUNTS_EVERY_S = 60.0
LEARN_EVERY_S = 3600.0


class AlertWork:
    def __init__(
        self,
        clock: Callable[[], float],
        expedite: Callable[[Iterable[int]], None] | None = None,
        options: PipelineOptions | None = None,
        store: MetricStore | None = None,
    ) -> None:
        self.clock = clock
        self.store = store
        self.pipeline = AlertPipeline(options, clock=clock, expedite=expedite)
        self.listening = Listening(self.pipeline.put_signals)
        self.client: httpx.AsyncClient | None = None
        self.outbox: Outbox | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._trap_credentials: tuple[list[str], list[TrapUser]] = ([], [])
        self._counted: dict[tuple[str, str, str], int] = {}

    def load(self) -> None:
        """In a worker thread: configuration, firing alerts, and what changed while away."""
        self.pipeline.load()
        self.pipeline.resync_from_database()
        self._trap_credentials = self.listening.load()

    async def start(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        # Notification endpoints are configured addresses: no proxies from the environment.
        self.client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        self.outbox = Outbox(self.client)
        self.pipeline.on_notifications = self._wake_outbox
        self.pipeline.start()
        self._tasks.append(asyncio.create_task(self.outbox.run(stop), name="outbox"))
        try:
            await self.listening.start(*self._trap_credentials)
        except OSError as exc:  # a port taken must not stop monitoring
            log.error("syslog/trap receivers not started: %s", exc)
        if self.store is not None:
            self._tasks.append(asyncio.create_task(self._count_events(stop), name="counts"))
            self._tasks.append(asyncio.create_task(self._learn(stop), name="baselines"))

    def _wake_outbox(self) -> None:
        if self._loop is not None and self.outbox is not None:
            self._loop.call_soon_threadsafe(self.outbox.wake)

    async def _count_events(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), COUNTS_EVERY_S)
            await self.write_counts()

    async def _learn(self, stop: asyncio.Event) -> None:
        """Baselines, hourly (the first a minute after start, off the loop)."""
        from branchops.alerts.baseline import learn

        wait = 60.0
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            if stop.is_set() or self.store is None:
                return
            try:
                rows = await in_thread(learn, self.store)
                log.info("baselines learned: %d series-hours", rows)
            except Exception:
                log.exception("learning baselines failed; will retry")
            wait = LEARN_EVERY_S

    async def write_counts(self) -> None:
        """Counters of info events per device (cumulative, Prometheus style)."""
        now = self.clock()
        samples = [
            TimedSample(
                "branchops_device_events_total",
                canonical_labels({"device": device, "source": source, "event": event}),
                now,
                float(count),
            )
            for (device, source, event), count in self.listening.counts.items()
            if self._counted.get((device, source, event)) != count
        ]
        if samples and self.store is not None:
            try:
                await in_thread(self.store.write, samples)
            except Exception:
                log.exception("writing event counters failed; will retry")
                return
            self._counted.update(self.listening.counts)

    async def stop(self) -> None:
        await self.listening.stop()
        await in_thread(self.pipeline.stop)
        for task in self._tasks:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=15)
        if self.client is not None:
            await self.client.aclose()


def health_lines(work: AlertWork) -> list[str]:
    """The alert part of the engine's /metrics (Prometheus text)."""
    p = work.pipeline.stats
    lines = [
        "# HELP branchops_alerts_signals_total Signals taken in by the alert pipeline.",
        "# TYPE branchops_alerts_signals_total counter",
        f"branchops_alerts_signals_total {p.signals}",
        "# TYPE branchops_alerts_total counter",
        f'branchops_alerts_total{{event="created"}} {p.created}',
        f'branchops_alerts_total{{event="resolved"}} {p.resolved}',
        f'branchops_alerts_total{{event="deduplicated"}} {p.deduplicated}',
        f'branchops_alerts_total{{event="symptom"}} {p.symptoms}',
        f'branchops_alerts_total{{event="held"}} {p.held}',
        f'branchops_alerts_total{{event="silenced"}} {p.silenced}',
        f'branchops_alerts_total{{event="flapping"}} {p.flapping}',
        f'branchops_alerts_total{{event="escalated"}} {p.escalations}',
        "# TYPE branchops_alerts_pipeline_errors_total counter",
        f"branchops_alerts_pipeline_errors_total {p.errors}",
        "# TYPE branchops_alerts_last_pass_seconds gauge",
        f"branchops_alerts_last_pass_seconds {p.last_batch_ms / 1000:.4f}",
        "# TYPE branchops_alerts_firing gauge",
        f"branchops_alerts_firing {len(work.pipeline.world.open)}",
    ]
    if work.outbox is not None:
        o = work.outbox.stats
        lines += [
            "# TYPE branchops_notifications_total counter",
            f'branchops_notifications_total{{outcome="sent"}} {o.sent}',
            f'branchops_notifications_total{{outcome="failed"}} {o.failed}',
            f'branchops_notifications_total{{outcome="gave_up"}} {o.dead}',
            f'branchops_notifications_total{{outcome="digest"}} {o.digests}',
        ]
    for receiver in work.listening.receivers:
        name = type(receiver).__name__.removesuffix("Receiver").lower()
        stats = receiver.stats.snapshot()
        for key in ("received", "parsed", "dropped_rate_limited", "malformed"):
            if key in stats:
                labels = f'receiver="{name}",outcome="{key}"'
                lines.append(f"branchops_receiver_messages_total{{{labels}}} {stats[key]}")
    return lines
