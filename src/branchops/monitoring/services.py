"""Keeping checks in step with the estate, and changing checks and templates.

Checks are generated from templates: every device whose role has templates gets one check
per template, every link of a kind likewise. Generation is idempotent and incremental
(``sync``): it creates what is missing, updates generated checks that nobody customised
when their template changed, and removes generated checks whose template no longer
applies (the device changed role, the template was deleted or disabled). Devices that are
planned or decommissioned, or have no management address, keep their checks disabled.

Changes to single checks by people (``CheckServices``, used by the API and the pages) go
through the shared audited changes, plus what is special about checks: a new check gets its
status row, editing a generated check marks it customised, and a generated check that nobody
customised cannot be deleted (its template would bring it back).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from branchops.cmdb.choices import DeviceStatus, LinkStatus
from branchops.cmdb.models import Device, Link
from branchops.core import changes, scoping
from branchops.core.errors import Conflict
from branchops.core.models import User
from branchops.core.permissions import Action
from branchops.monitoring.choices import TargetKind
from branchops.monitoring.models import Check, CheckStatus, CheckTemplate

WATCHED_DEVICE_STATES = frozenset(
    {DeviceStatus.ACTIVE, DeviceStatus.MAINTENANCE, DeviceStatus.FAILED}
)
WATCHED_LINK_STATES = frozenset({LinkStatus.ACTIVE, LinkStatus.FAILED})
BATCH = 2000


@dataclass
class SyncSummary:
    created: int = 0
    updated: int = 0
    removed: int = 0

    def __add__(self, other: SyncSummary) -> SyncSummary:
        return SyncSummary(
            self.created + other.created,
            self.updated + other.updated,
            self.removed + other.removed,
        )


def _device_watched(device: Device) -> bool:
    return device.status in WATCHED_DEVICE_STATES and bool(device.management_ip)


def _link_watched(link: Link) -> bool:
    a_device = link.a_device
    return link.status in WATCHED_LINK_STATES and a_device is not None and _device_watched(a_device)


def _wanted_fields(template: CheckTemplate, name: str, enabled: bool) -> dict[str, Any]:
    return {
        "name": name[:150],
        "kind": template.kind,
        "interval_s": template.interval_s,
        "timeout_s": template.timeout_s,
        "params": template.params,
        "enabled": enabled and template.enabled,
    }


def _device_check(template: CheckTemplate, device: Device) -> Check:
    fields = _wanted_fields(template, f"{device.name} · {template.name}", _device_watched(device))
    return Check(template=template, device=device, site_id=device.site_id, **fields)


def _link_check(template: CheckTemplate, link: Link) -> Check:
    fields = _wanted_fields(template, f"{link.name} · {template.name}", _link_watched(link))
    return Check(template=template, link=link, site_id=link.a_site_id, **fields)


def _differs(check: Check, wanted: Check) -> bool:
    return any(
        getattr(check, f) != getattr(wanted, f)
        for f in ("name", "kind", "interval_s", "timeout_s", "params", "enabled", "site_id")
    )


def sync(
    devices: Iterable[Device] | None = None, links: Iterable[Link] | None = None
) -> SyncSummary:
    """Bring generated checks in line with the templates, for the given objects or all."""
    templates = list(CheckTemplate.objects.select_related("role"))
    device_qs = (
        Device.objects.all()
        if devices is None
        else Device.objects.filter(pk__in=[d.pk for d in devices])
    )
    link_qs = (
        Link.objects.all() if links is None else Link.objects.filter(pk__in=[lk.pk for lk in links])
    )
    wanted: dict[tuple[int, str, int], Check] = {}
    by_role: dict[int, list[CheckTemplate]] = {}
    by_link_kind: dict[str, list[CheckTemplate]] = {}
    for t in templates:
        if t.target_kind == TargetKind.DEVICE and t.role_id is not None:
            by_role.setdefault(t.role_id, []).append(t)
        elif t.target_kind == TargetKind.LINK:
            by_link_kind.setdefault(t.link_kind, []).append(t)
    for device in device_qs.only("pk", "name", "site_id", "role_id", "status", "management_ip"):
        for t in by_role.get(device.role_id, []):
            wanted[(t.pk, "device", device.pk)] = _device_check(t, device)
    for link in link_qs.select_related("a_device").only(
        "pk",
        "name",
        "kind",
        "status",
        "a_site_id",
        "a_device__status",
        "a_device__management_ip",
    ):
        for t in by_link_kind.get(link.kind, []):
            wanted[(t.pk, "link", link.pk)] = _link_check(t, link)
    return _apply(wanted, devices is None and links is None, device_qs, link_qs)


def _existing(device_qs: Any, link_qs: Any, everything: bool) -> list[Check]:
    generated = Check.objects.filter(template__isnull=False)
    if not everything:
        generated = generated.filter(
            Q(device__in=device_qs.values("pk")) | Q(link__in=link_qs.values("pk"))
        )
    return list(generated)


def _apply(
    wanted: dict[tuple[int, str, int], Check], everything: bool, device_qs: Any, link_qs: Any
) -> SyncSummary:
    summary = SyncSummary()
    now = timezone.now()
    with transaction.atomic():
        stale: list[int] = []
        changed: list[Check] = []
        for check in _existing(device_qs, link_qs, everything):
            key = (
                (check.template_id, "device", check.device_id)
                if check.device_id
                else (check.template_id, "link", check.link_id)
            )
            target = wanted.pop(key, None)  # type: ignore[arg-type]
            if target is None:
                if not check.customised:
                    stale.append(check.pk)
            elif not check.customised and _differs(check, target):
                for f in (
                    "name",
                    "kind",
                    "interval_s",
                    "timeout_s",
                    "params",
                    "enabled",
                    "site_id",
                ):
                    setattr(check, f, getattr(target, f))
                check.updated_at = now
                changed.append(check)
        summary.removed = Check.objects.filter(pk__in=stale).delete()[1].get("monitoring.Check", 0)
        Check.objects.bulk_update(
            changed,
            [
                "name",
                "kind",
                "interval_s",
                "timeout_s",
                "params",
                "enabled",
                "site_id",
                "updated_at",
            ],
            batch_size=BATCH,
        )
        summary.updated = len(changed)
        created = Check.objects.bulk_create(list(wanted.values()), batch_size=BATCH)
        CheckStatus.objects.bulk_create(
            [
                CheckStatus(
                    for_check=c,
                    since=now,
                    overdue_at=now + dt.timedelta(seconds=2 * c.interval_s),
                )
                for c in created
            ],
            batch_size=BATCH,
        )
        summary.created = len(created)
    return summary


class CheckServices:
    """Changes to checks: the shared audited changes, plus what is special about checks."""

    visible = staticmethod(scoping.visible)

    @staticmethod
    def create(model: type[Any], data: Mapping[str, Any], *, actor: User, source: Any) -> Any:
        check = changes.create(model, data, actor=actor, source=source)
        CheckStatus.objects.create(for_check=check)
        return check

    @staticmethod
    def update(obj: Any, data: Mapping[str, Any], *, actor: User, source: Any) -> Any:
        if obj.template_id is not None:
            # Edited by hand: template changes must no longer overwrite it.
            data = {**data, "customised": True}
        return changes.update(obj, data, actor=actor, source=source)

    @staticmethod
    def delete(obj: Any, *, actor: User, source: Any) -> None:
        # Permission first: someone who may not delete it learns nothing about templates.
        scoping.require_change(actor, Action.DELETE, obj)
        if obj.template_id is not None and not obj.customised:
            raise Conflict(
                _("This check comes from the template %(t)s and would come back; disable it.")
                % {"t": obj.template}
            )
        changes.delete(obj, actor=actor, source=source)

    @staticmethod
    def create_many(
        model: type[Any], rows: Sequence[Mapping[str, Any]], *, actor: User, source: Any
    ) -> list[Any]:
        made = changes.create_many(model, rows, actor=actor, source=source)
        CheckStatus.objects.bulk_create([CheckStatus(for_check=c) for c in made])
        return made
