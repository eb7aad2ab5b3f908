"""The alerts' part of ``branchops engine``: the pipeline's thread and the outbox's task.

The pipeline hears every result through ingest; when it queues notifications it wakes the
outbox on the engine's loop, so a root alert goes out within moments, not at the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable

import httpx

from branchops.alerts.outbox import Outbox
from branchops.alerts.pipeline.core import AlertPipeline, PipelineOptions
from branchops.core.db import in_thread


class AlertWork:
    def __init__(
        self,
        clock: Callable[[], float],
        expedite: Callable[[Iterable[int]], None] | None = None,
        options: PipelineOptions | None = None,
    ) -> None:
        self.pipeline = AlertPipeline(options, clock=clock, expedite=expedite)
        self.client: httpx.AsyncClient | None = None
        self.outbox: Outbox | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def load(self) -> None:
        """In a worker thread: configuration, firing alerts, and what changed while away."""
        self.pipeline.load()
        self.pipeline.resync_from_database()

    async def start(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        # Notification endpoints are configured addresses: no proxies from the environment.
        self.client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        self.outbox = Outbox(self.client)
        self.pipeline.on_notifications = self._wake_outbox
        self.pipeline.start()
        self._task = asyncio.create_task(self.outbox.run(stop), name="outbox")

    def _wake_outbox(self) -> None:
        if self._loop is not None and self.outbox is not None:
            self._loop.call_soon_threadsafe(self.outbox.wake)

    async def stop(self) -> None:
        await in_thread(self.pipeline.stop)
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=15)
        if self.client is not None:
            await self.client.aclose()
