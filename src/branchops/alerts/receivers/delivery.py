"""Handing events to the pipeline's callback without letting it break a receiver."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable

from branchops.alerts.receivers.events import EventCallback, InboundEvent
from branchops.alerts.receivers.limits import ReceiverStats

log = logging.getLogger(__name__)


class Delivery:
    """Calls the callback for each event; a coroutine it returns runs as a task that
    :meth:`aclose` waits for. A failing callback is logged and counted, never raised."""

    def __init__(self, callback: EventCallback, stats: ReceiverStats) -> None:
        self._callback = callback
        self._stats = stats
        self._pending: set[asyncio.Future[object]] = set()

    def __call__(self, event: InboundEvent) -> None:
        try:
            result = self._callback(event)
        except Exception:
            self._failed()
            return
        if inspect.isawaitable(result):
            future = asyncio.ensure_future(_wrap(result))
            self._pending.add(future)
            future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[object]) -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            self._failed(future.exception())

    def _failed(self, exc: BaseException | None = None) -> None:
        self._stats.callback_errors += 1
        log.error("alert receiver callback failed", exc_info=exc or True)

    async def aclose(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


async def _wrap(awaitable: Awaitable[object]) -> object:
    return await awaitable
