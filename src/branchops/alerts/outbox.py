"""The outbox: deliver queued notifications, retry with backoff, never without bound.

Rows are claimed compare-and-set (pending → sending), so two engines never send one row.
A row left in ``sending`` by a crash is tried again after ``stale_s`` with the same
idempotency key (the row id); that is the one case where a receiver may see a message
twice, and webhook receivers can drop it by the key. Each channel has a rate limit: when
more is due than it may send, the rest goes out as one digest. A channel that keeps
failing is marked, and each row gives up after ``max_attempts``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.db import OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from branchops.alerts.choices import EventKind, NotificationStatus
from branchops.alerts.models import AlertEvent, Channel, DeliveryAttempt, Notification
from branchops.alerts.notices import digest_for, notices_for
from branchops.alerts.transports import Notice, Transport, TransportError, build
from branchops.core.db import in_thread

log = logging.getLogger(__name__)
DUE = (NotificationStatus.PENDING, NotificationStatus.RETRYING)
RECORD_TRIES = 3
DIGEST_MAX = 5000  # rows in one digest message; more waits for the next refill
CHUNK = 500  # ids in one ``IN (...)``: SQLite bounds a statement's variables


@dataclass
class OutboxStats:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    digests: int = 0
    passes: int = 0


@dataclass
class _Bucket:
    """Per-channel token bucket: ``per_minute`` messages, refilled continuously."""

    per_minute: int
    tokens: float = -1.0
    at: float = 0.0

    def take(self, now: float, wanted: int) -> int:
        if self.tokens < 0:
            self.tokens, self.at = float(self.per_minute), now
        self.tokens = min(self.per_minute, self.tokens + (now - self.at) * self.per_minute / 60)
        self.at = now
        granted = min(wanted, int(self.tokens))
        self.tokens -= granted
        return granted


@dataclass
class _Outcome:
    rows: list[Notification]
    ok: bool
    status: str
    detail: str
    retryable: bool
    duration_ms: float


@dataclass
class Outbox:
    client: httpx.AsyncClient
    clock: Callable[[], float] = time.time
    batch: int = 500
    max_attempts: int = 8
    backoff_s: float = 15.0
    stale_s: float = 120.0
    failing_after: int = 3
    # Sends in flight at once. httpx's pool scans every queued request for every free
    # connection: hundreds queued at once made delivery quadratic (86 messages/s measured).
    concurrency: int = 16
    stats: OutboxStats = field(default_factory=OutboxStats)

    def __post_init__(self) -> None:
        self._buckets: dict[int, _Bucket] = {}
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(self.concurrency)

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event, every_s: float = 1.0) -> None:
        await in_thread(self.recover_stale)
        last_recovery = time.monotonic()
        while not stop.is_set():
            if time.monotonic() - last_recovery >= self.stale_s:
                last_recovery = time.monotonic()
                await in_thread(self.recover_stale)  # rows a failed pass left half-recorded
            try:
                await self.deliver_due()
            except Exception:
                log.exception("outbox pass failed; will retry")
            self._wake.clear()
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waits, timeout=every_s, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()

    def recover_stale(self) -> int:
        """Rows a crashed engine left in ``sending`` are due again."""
        cutoff = timezone.now() - dt.timedelta(seconds=self.stale_s)
        return Notification.objects.filter(
            status=NotificationStatus.SENDING, claimed_at__lt=cutoff
        ).update(status=NotificationStatus.RETRYING)

    async def deliver_due(self) -> int:
        self.stats.passes += 1
        rows = await in_thread(self._claim)
        if not rows:
            return 0
        by_channel: dict[int, list[Notification]] = defaultdict(list)
        for row in rows:
            by_channel[row.channel_id].append(row)
        jobs = [self._channel_pass(group) for group in by_channel.values()]
        outcomes = [o for result in await asyncio.gather(*jobs) for o in result]
        await in_thread(self._record, outcomes)
        return sum(len(o.rows) for o in outcomes)

    # ---- claiming ----------------------------------------------------------------------------

    def _claim(self, channel_id: int | None = None, limit: int | None = None) -> list[Notification]:
        """Due rows, oldest first, marked ``sending``: of every channel, or of one."""
        now = timezone.now()
        due = Notification.objects.filter(status__in=DUE, due_at__lte=now)
        if channel_id is not None:
            due = due.filter(channel_id=channel_id)
        with transaction.atomic():
            ids = list(
                due.order_by("due_at", "id").values_list("id", flat=True)[: limit or self.batch]
            )
            if not ids:
                return []
            for chunk in _chunks(ids):
                Notification.objects.filter(pk__in=chunk, status__in=DUE).update(
                    status=NotificationStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
                )
        claimed: list[Notification] = []
        for chunk in _chunks(ids):
            claimed += Notification.objects.filter(
                pk__in=chunk, status=NotificationStatus.SENDING, claimed_at=now
            ).select_related("alert__site", "alert__device", "channel")
        claimed.sort(key=lambda row: (row.due_at, row.pk))
        return claimed

    # ---- sending -----------------------------------------------------------------------------

    async def _channel_pass(self, rows: list[Notification]) -> list[_Outcome]:
        channel = rows[0].channel
        bucket = self._buckets.setdefault(channel.pk, _Bucket(channel.per_minute))
        bucket.per_minute = channel.per_minute
        granted = bucket.take(self.clock(), len(rows))
        if granted == 0:
            return [_Outcome(rows, False, "rate limited", "", True, 0.0)]
        try:
            transport = await in_thread(_transport, channel, self.client, self.clock)
        except TransportError as exc:
            return [_Outcome(rows, False, "bad settings", str(exc), False, 0.0)]
        if granted >= len(rows):
            # The words are made in a thread that may use the ORM.
            notices = await in_thread(notices_for, rows)
            singles = [self._send(transport, [r], n) for r, n in zip(rows, notices, strict=True)]
            return list(await asyncio.gather(*singles))
        # More is due than the channel may take: the first ones alone, and everything else
        # due for this channel (not only this pass's share) as one digest, so that a flood
        # costs one message per refill of the bucket, not one per claimed batch.
        alone, rest = rows[: granted - 1], rows[granted - 1 :]
        if len(rest) < DIGEST_MAX:
            rest += await in_thread(self._claim, channel.pk, DIGEST_MAX - len(rest))
        notices = await in_thread(notices_for, alone)
        digest = await in_thread(digest_for, rest)
        self.stats.digests += 1
        jobs = [self._send(transport, [r], n) for r, n in zip(alone, notices, strict=True)]
        jobs.append(self._send(transport, rest, digest))
        return list(await asyncio.gather(*jobs))

    async def _send(
        self, transport: Transport[Any], rows: list[Notification], notice: Notice
    ) -> _Outcome:
        async with self._slots:
            return await self._send_now(transport, rows, notice)

    async def _send_now(
        self, transport: Transport[Any], rows: list[Notification], notice: Notice
    ) -> _Outcome:
        began = time.perf_counter()
        try:
            delivery = await transport.send(notice)
        except TransportError as exc:
            took = (time.perf_counter() - began) * 1000
            return _Outcome(rows, False, str(exc)[:100], exc.detail, exc.retryable, took)
        except Exception as exc:  # a transport bug must not stop the outbox
            log.exception("channel %s raised", rows[0].channel_id)
            took = (time.perf_counter() - began) * 1000
            return _Outcome(rows, False, type(exc).__name__, str(exc), True, took)
        took = (time.perf_counter() - began) * 1000
        return _Outcome(rows, delivery.ok, delivery.status, delivery.detail, True, took)

    # ---- recording ---------------------------------------------------------------------------

    def _record(self, outcomes: list[_Outcome]) -> None:
        """One pass's outcomes in a few bulk statements; retried when SQLite is busy (the
        messages went out: losing their record would send them again after a restart)."""
        for attempt in range(RECORD_TRIES):
            try:
                self._record_once(outcomes)
                return
            except OperationalError:
                if attempt == RECORD_TRIES - 1:
                    raise
                log.warning("recording deliveries: database busy, trying again")
                time.sleep(1.0 + attempt)

    def _record_once(self, outcomes: list[_Outcome]) -> None:
        now = timezone.now()
        with transaction.atomic():
            waiting = [o for o in outcomes if o.status == "rate limited"]
            for outcome in waiting:
                self._postpone(outcome.rows, now)
            done = [o for o in outcomes if o.status != "rate limited"]
            self._log(done, now)
            self._sent([o for o in done if o.ok], now)
            for outcome in done:
                if not outcome.ok:
                    self._failed(outcome, now)
            self._channel_health(done, now)

    def _postpone(self, rows: list[Notification], now: dt.datetime) -> None:
        for chunk in _chunks([r.pk for r in rows]):
            Notification.objects.filter(pk__in=chunk).update(
                status=NotificationStatus.PENDING,
                due_at=now + dt.timedelta(seconds=5),
                attempts=F("attempts") - 1,
            )

    def _log(self, outcomes: list[_Outcome], now: dt.datetime) -> None:
        DeliveryAttempt.objects.bulk_create(
            [
                DeliveryAttempt(
                    notification=row,
                    at=now,
                    ok=outcome.ok,
                    status=outcome.status[:100],
                    detail=outcome.detail[:500],
                    duration_ms=round(outcome.duration_ms, 1),
                )
                for outcome in outcomes
                for row in outcome.rows
            ],
            batch_size=1000,
        )

    def _sent(self, outcomes: list[_Outcome], now: dt.datetime) -> None:
        alone = [o.rows[0].pk for o in outcomes if len(o.rows) == 1]
        for chunk in _chunks(alone):
            Notification.objects.filter(pk__in=chunk).update(
                status=NotificationStatus.SENT, sent_at=now, last_error=""
            )
        for outcome in outcomes:
            if len(outcome.rows) == 1:
                continue
            for chunk in _chunks([r.pk for r in outcome.rows]):
                Notification.objects.filter(pk__in=chunk).update(
                    status=NotificationStatus.DIGESTED, sent_at=now, digest=outcome.rows[0],
                    last_error="",
                )  # fmt: skip
        rows = [r for o in outcomes for r in o.rows]
        AlertEvent.objects.bulk_create(
            [
                AlertEvent(
                    alert_id=r.alert_id,
                    at=now,
                    kind=EventKind.NOTIFIED,
                    detail=f"{r.kind} L{r.level} → {r.channel.name}",
                )
                for r in rows
            ],
            batch_size=1000,
        )
        self.stats.sent += len(rows)

    def _failed(self, outcome: _Outcome, now: dt.datetime) -> None:
        """Each row retries later with backoff by its attempts, or gives up; rows with the
        same fate are updated together (a failed digest may carry thousands)."""
        fates: dict[tuple[bool, int], list[Notification]] = defaultdict(list)
        for row in outcome.rows:
            attempts = row.attempts  # counted when the row was claimed
            give_up = not outcome.retryable or attempts >= self.max_attempts
            fates[(give_up, min(attempts - 1, 8))].append(row)
        error = f"{outcome.status}: {outcome.detail}"[:500]
        for (give_up, doubling), rows in fates.items():
            for chunk in _chunks([r.pk for r in rows]):
                Notification.objects.filter(pk__in=chunk).update(
                    status=NotificationStatus.DEAD if give_up else NotificationStatus.RETRYING,
                    due_at=now + dt.timedelta(seconds=self.backoff_s * 2**doubling),
                    last_error=error,
                )
            if give_up:
                self.stats.dead += len(rows)
                AlertEvent.objects.bulk_create(
                    [
                        AlertEvent(
                            alert_id=row.alert_id,
                            at=now,
                            kind=EventKind.NOTIFY_FAILED,
                            detail=f"{row.channel.name}: {outcome.status}"[:500],
                        )
                        for row in rows
                    ],
                    batch_size=1000,
                )
        self.stats.failed += len(outcome.rows)

    def _channel_health(self, outcomes: list[_Outcome], now: dt.datetime) -> None:
        """Per channel: any delivery in this pass means it works; only failures count up."""
        by_channel: dict[int, list[_Outcome]] = defaultdict(list)
        for outcome in outcomes:
            by_channel[outcome.rows[0].channel_id].append(outcome)
        for channel_id, results in by_channel.items():
            if any(o.ok for o in results):
                Channel.objects.filter(pk=channel_id).update(
                    consecutive_failures=0, failing_since=None, last_error=""
                )
                continue
            last = results[-1]
            Channel.objects.filter(pk=channel_id).update(
                consecutive_failures=F("consecutive_failures") + len(results),
                last_error=f"{last.status}: {last.detail}"[:500],
            )
            Channel.objects.filter(
                Q(pk=channel_id), Q(failing_since__isnull=True),
                consecutive_failures__gte=self.failing_after,
            ).update(failing_since=now)  # fmt: skip


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[k : k + CHUNK] for k in range(0, len(ids), CHUNK)]


def _transport(
    channel: Channel, client: httpx.AsyncClient, clock: Callable[[], float]
) -> Transport[Any]:
    return build(channel.kind, {**channel.config, **channel.secrets()}, client=client, clock=clock)
