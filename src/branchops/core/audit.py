"""The audit trail: every create, update and delete, with who, when, before and after.

Services call :func:`record` inside the same transaction as the change, so a change and its
audit row are written together or not at all.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import ipaddress
from collections.abc import Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from branchops.core.choices import AuditAction, ChangeSource
from branchops.core.models import AuditEvent, User


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    return value


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The object's own field values (foreign keys as ids, many-to-many as sorted id lists)."""
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        value = getattr(obj, field.attname)
        if field.attname.endswith("_sealed"):
            # A secret: even sealed, it has no business in the audit trail; that it was
            # set or changed is what an auditor needs.
            value = f"sealed:{hashlib.sha256(value.encode()).hexdigest()[:8]}" if value else ""
        data[field.attname] = _plain(value)
    if obj.pk is not None:
        for m2m in obj._meta.many_to_many:
            data[m2m.name] = sorted(getattr(obj, m2m.name).values_list("pk", flat=True))
    return data


def _actor_name(actor: User | None) -> str:
    return actor.username if actor is not None else "system"


def record(
    *,
    actor: User | None,
    action: AuditAction,
    source: ChangeSource,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    message: str = "",
) -> AuditEvent:
    event = AuditEvent(
        actor=actor,
        actor_name=_actor_name(actor),
        action=action,
        source=source,
        before=before,
        after=after,
        message=message[:500],
    )
    if obj is not None:
        event.content_type = ContentType.objects.get_for_model(obj)
        event.object_id = str(obj.pk)
        event.object_repr = str(obj)[:200]
    event.save()
    return event


def record_saved(
    obj: models.Model,
    *,
    actor: User | None,
    source: ChangeSource,
    before: dict[str, Any] | None = None,
    message: str = "",
) -> AuditEvent:
    """The audit row of an object just written: a creation when there was no ``before``
    snapshot, else a change from ``before`` to what it is now."""
    return record(
        actor=actor,
        action=AuditAction.CREATE if before is None else AuditAction.UPDATE,
        source=source,
        obj=obj,
        before=before,
        after=snapshot(obj),
        message=message,
    )


def record_many(
    *,
    actor: User | None,
    source: ChangeSource,
    changes: Iterable[
        tuple[AuditAction, models.Model, dict[str, Any] | None, dict[str, Any] | None]
    ],
) -> int:
    """Write audit rows for a batch (bulk import) in one statement per 1,000 rows."""
    rows = []
    for action, obj, before, after in changes:
        rows.append(
            AuditEvent(
                actor=actor,
                actor_name=_actor_name(actor),
                action=action,
                source=source,
                content_type=ContentType.objects.get_for_model(obj),
                object_id=str(obj.pk),
                object_repr=str(obj)[:200],
                before=before,
                after=after,
            )
        )
    AuditEvent.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def history(obj: models.Model) -> models.QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).select_related("actor")
