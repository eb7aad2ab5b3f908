"""The pipeline's writes: one transaction per batch, bulk statements only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from branchops.alerts.choices import AlertStatus, EventKind, NotificationKind
from branchops.alerts.models import Alert, AlertEvent, Notification
from branchops.alerts.pipeline.signal import Signal


def aware(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC)


def new_row(signal: Signal, severity: int) -> Alert:
    return Alert(
        fingerprint=signal.fingerprint,
        source=signal.source,
        name=signal.name,
        rule_id=signal.rule_id,
        for_check_id=signal.check_id,
        severity=severity,
        status=AlertStatus.FIRING,
        title=signal.title,
        summary=signal.summary,
        labels=dict(signal.labels),
        site_id=signal.site_id,
        device_id=signal.device_id,
        system_id=signal.system_id,
        link_id=signal.link_id,
        started_at=aware(signal.at),
        last_seen_at=aware(signal.at),
    )


@dataclass
class Batch:
    """What one pass of the pipeline will write."""

    created: list[tuple[Alert, Signal]] = field(default_factory=list)
    changed: dict[int, dict[str, object]] = field(default_factory=dict)  # alert id -> fields
    events: list[AlertEvent] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    def event(self, alert_id: int, kind: EventKind, at: float, detail: str = "") -> None:
        self.events.append(
            AlertEvent(alert_id=alert_id, kind=kind, at=aware(at), detail=detail[:500])
        )

    def change(self, alert_id: int, **values: object) -> None:
        self.changed.setdefault(alert_id, {}).update(values)

    def notify(
        self, alert_id: int, channel_id: int, kind: NotificationKind, level: int, due: float
    ) -> None:
        self.notifications.append(
            Notification(
                alert_id=alert_id, channel_id=channel_id, kind=kind, level=level, due_at=aware(due)
            )
        )

    def __bool__(self) -> bool:
        return bool(self.created or self.changed or self.events or self.notifications)


def insert_new(batch: Batch) -> None:
    """Create the batch's new alerts so they have ids (correlation links by id)."""
    if batch.created:
        Alert.objects.bulk_create([row for row, _ in batch.created], batch_size=500)


def write_changes(batch: Batch) -> None:
    """The changes to existing alerts so far (then forgotten). Resolutions must be written
    before a new alert with the same fingerprint fires in the same pass."""
    # One UPDATE statement per set of changed columns, run with executemany: Django's
    # bulk_update builds CASE expressions that cost more than the writes themselves.
    by_fields: dict[tuple[str, ...], list[list[Any]]] = {}
    for alert_id, values in batch.changed.items():
        names = tuple(sorted(values))
        by_fields.setdefault(names, []).append([*(values[n] for n in names), alert_id])
    table = Alert._meta.db_table
    with connection.cursor() as cursor:
        for names, rows in by_fields.items():
            columns = ", ".join(f"{_column(n)} = %s" for n in names)
            prepared = [[_db_value(v) for v in row] for row in rows]
            cursor.executemany(f"UPDATE {table} SET {columns} WHERE id = %s", prepared)  # noqa: S608
    batch.changed.clear()


def _column(name: str) -> str:
    field = Alert._meta.get_field(name.removesuffix("_id"))
    return str(getattr(field, "column", name))


def _db_value(value: object) -> Any:
    """What the database adapter takes: datetimes as Django would store them."""
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def write(batch: Batch) -> None:
    """Everything else of the batch, in one transaction."""
    with transaction.atomic():
        write_changes(batch)
        if batch.events:
            AlertEvent.objects.bulk_create(batch.events, batch_size=1000)
        if batch.notifications:
            # The unique (alert, channel, kind, level) makes a repeat a no-op, not a resend.
            Notification.objects.bulk_create(
                batch.notifications, batch_size=1000, ignore_conflicts=True
            )
