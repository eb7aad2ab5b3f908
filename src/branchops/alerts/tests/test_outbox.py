"""The outbox against a real webhook receiver on loopback: delivered once, retried with
backoff, given up when retrying cannot help, rate-limited into digests, and a crashed
engine's half-sent rows picked up again."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from django.utils import timezone

from branchops.alerts.choices import EventKind, NotificationStatus
from branchops.alerts.models import Alert, AlertEvent, Channel, DeliveryAttempt, Notification
from branchops.alerts.outbox import Outbox
from branchops.alerts.transports.testing import Received, http_peer, json_answer
from branchops.core.db import in_thread

pytestmark = pytest.mark.django_db(transaction=True)  # the outbox works in its own threads


def alert(n: int = 1) -> Alert:
    now = timezone.now()
    return Alert.objects.create(
        fingerprint=f"fp-{n}", source="generic", name="disk-full", severity=2,
        title=f"disk full on S{n}", started_at=now, last_seen_at=now,
    )  # fmt: skip


def queue(channel: Channel, count: int = 1) -> list[Notification]:
    return [
        Notification.objects.create(alert=alert(n), channel=channel, kind="firing", level=1)
        for n in range(count)
    ]


def run(
    answer: Callable[[Received], Any],
    prepare: Callable[[str], Channel],
    passes: int = 1,
    **outbox: Any,
) -> tuple[list[Received], Outbox]:
    async def scenario() -> tuple[list[Received], Outbox]:
        async with http_peer(answer) as peer, httpx.AsyncClient(trust_env=False) as client:
            await in_thread(prepare, peer.url)
            box = Outbox(client, **outbox)
            await in_thread(box.recover_stale)  # as the engine does when it starts
            for _ in range(passes):
                await box.deliver_due()
            return peer.received, box

    return asyncio.run(scenario())


def webhook(url: str, **fields: Any) -> Channel:
    channel = Channel.objects.create(name="hook", kind="webhook", config={"url": f"{url}/hook"},
                                     **fields)  # fmt: skip
    return channel


def ok(_: Received) -> Any:
    return json_answer({"ok": True})


def test_a_due_notification_is_delivered_once_and_logged() -> None:
    rows: list[Notification] = []
    received, _ = run(ok, lambda url: rows.extend(queue(webhook(url))) or rows[0].channel, passes=2)
    assert len(received) == 1
    assert received[0].headers["idempotency-key"] == str(rows[0].pk)
    row = Notification.objects.get()
    assert row.status == NotificationStatus.SENT
    assert DeliveryAttempt.objects.filter(notification=row, ok=True).count() == 1
    assert AlertEvent.objects.filter(kind=EventKind.NOTIFIED).count() == 1


def test_a_failing_receiver_is_retried_later_and_the_channel_marked_failing() -> None:
    def unavailable(_: Received) -> Any:
        return json_answer({"error": "busy"}, status=503)

    def prepare(url: str) -> Channel:
        channel = webhook(url)
        queue(channel, 3)
        return channel

    received, _ = run(unavailable, prepare, failing_after=3)
    assert len(received) == 3
    rows = Notification.objects.all()
    assert {r.status for r in rows} == {NotificationStatus.RETRYING}
    assert all(r.due_at > timezone.now() for r in rows)  # backoff: not again at once
    channel = Channel.objects.get()
    assert channel.consecutive_failures == 3
    assert channel.failing_since is not None
    assert "503" in channel.last_error


def test_it_gives_up_after_the_last_attempt_and_says_so_on_the_alert() -> None:
    def unavailable(_: Received) -> Any:
        return json_answer({}, status=503)

    def prepare(url: str) -> Channel:
        channel = webhook(url)
        (row,) = queue(channel)
        Notification.objects.filter(pk=row.pk).update(attempts=7)
        return channel

    run(unavailable, prepare, max_attempts=8)
    assert Notification.objects.get().status == NotificationStatus.DEAD
    assert AlertEvent.objects.filter(kind=EventKind.NOTIFY_FAILED).count() == 1


def test_a_refusal_that_retrying_cannot_fix_gives_up_at_once() -> None:
    def gone(_: Received) -> Any:
        return json_answer({"error": "no such hook"}, status=404)

    run(gone, lambda url: queue(webhook(url))[0].channel)
    assert Notification.objects.get().status == NotificationStatus.DEAD


def test_more_than_the_channel_may_send_goes_out_as_one_digest() -> None:
    def prepare(url: str) -> Channel:
        channel = webhook(url, per_minute=3)
        queue(channel, 10)
        return channel

    received, box = run(ok, prepare)
    assert len(received) == 3  # two alone, the other eight together
    digest = [r.json() for r in received if len(r.json().get("items", [])) == 8]
    assert len(digest) == 1
    statuses = sorted(Notification.objects.values_list("status", flat=True))
    assert statuses.count(NotificationStatus.SENT) == 2
    assert statuses.count(NotificationStatus.DIGESTED) == 8
    assert box.stats.digests == 1


def test_a_flood_larger_than_one_pass_still_costs_one_digest() -> None:
    def prepare(url: str) -> Channel:
        channel = webhook(url, per_minute=3)
        queue(channel, 30)
        return channel

    received, _ = run(ok, prepare, batch=5)
    assert len(received) == 3  # two alone, and the other 28 together, not 5 at a time
    assert sorted(len(r.json()["items"]) for r in received) == [0, 0, 28]
    statuses = list(Notification.objects.values_list("status", flat=True))
    assert statuses.count(NotificationStatus.DIGESTED) == 28
    assert statuses.count(NotificationStatus.SENT) == 2


def test_a_failed_digest_puts_every_row_it_carried_back_in_line() -> None:
    def unavailable(_: Received) -> Any:
        return json_answer({"error": "busy"}, status=503)

    def prepare(url: str) -> Channel:
        channel = webhook(url, per_minute=1)
        queue(channel, 12)
        return channel

    received, _ = run(unavailable, prepare, batch=4)
    assert len(received) == 1  # the bucket allowed one message: the digest of all twelve
    rows = Notification.objects.all()
    assert {r.status for r in rows} == {NotificationStatus.RETRYING}
    assert all(r.due_at > timezone.now() and "503" in r.last_error for r in rows)


def test_rows_a_crashed_engine_left_half_sent_are_sent_again() -> None:
    def prepare(url: str) -> Channel:
        channel = webhook(url)
        (row,) = queue(channel)
        stale = timezone.now() - dt.timedelta(minutes=10)
        Notification.objects.filter(pk=row.pk).update(
            status=NotificationStatus.SENDING, claimed_at=stale
        )
        return channel

    received, _ = run(ok, prepare)
    assert len(received) == 1
    assert Notification.objects.get().status == NotificationStatus.SENT
