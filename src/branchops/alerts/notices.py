"""Wording a notification: from an outbox row to a Notice in the product's language."""

from __future__ import annotations

import logging

from django.apps import apps
from django.conf import settings
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from branchops.alerts.choices import NotificationKind
from branchops.alerts.models import Alert, EscalationStep, Notification
from branchops.alerts.services import ack_token
from branchops.alerts.transports import Notice

log = logging.getLogger(__name__)
SYMPTOMS_LISTED = 50


def severity_label(severity: int) -> str:
    names = settings.ALERT_SEVERITY_NAMES
    if names:
        return str(names[severity - 1])
    return {1: _("Severity 1"), 2: _("Severity 2"), 3: _("Severity 3")}.get(severity, str(severity))


def notice_for(row: Notification) -> Notice:
    return notices_for([row])[0]


def notices_for(rows: list[Notification]) -> list[Notice]:
    """The notices of a batch of outbox rows, with a few queries for the whole batch (the
    symptoms of roots, who is on call per level and channel), not a few per message."""
    symptoms = _symptoms_of([r.alert_id for r in rows])
    on_call: dict[tuple[int, int], list[tuple[str, str]]] = {}
    notices = []
    with translation.override(settings.LANGUAGE_CODE):
        for row in rows:
            key = (row.level, row.channel_id)
            if key not in on_call:
                on_call[key] = _on_call(row)
            notices.append(_notice(row, symptoms.get(row.alert_id, (0, [])), on_call[key]))
    return notices


def _symptoms_of(alert_ids: list[int]) -> dict[int, tuple[int, list[str]]]:
    """Firing symptoms per root: how many, and the first SYMPTOMS_LISTED as site + title."""
    counts = dict(
        Alert.objects.filter(root_id__in=alert_ids, status="firing")
        .values_list("root_id")
        .annotate(n=Count("id"))
        .values_list("root_id", "n")
    )
    listed: dict[int, tuple[int, list[str]]] = {}
    for root_id, count in counts.items():
        first = Alert.objects.filter(root_id=root_id, status="firing").select_related("site")
        items = [
            f"{a.site.code if a.site else ''} {a.title}".strip() for a in first[:SYMPTOMS_LISTED]
        ]
        listed[root_id] = (count, items)
    return listed


def digest_for(rows: list[Notification]) -> Notice:
    """Many notifications for one channel at once: one message that lists them."""
    with translation.override(settings.LANGUAGE_CODE):
        worst = min(r.alert.severity for r in rows)
        return Notice(
            kind=NotificationKind.DIGEST,
            severity=worst,
            severity_label=severity_label(worst),
            title=_("%(count)d alert notifications") % {"count": len(rows)},
            body=_("Too many messages for this channel at once; here they are together."),
            items=[
                f"[{severity_label(r.alert.severity)}] {_prefix(r)}{r.alert.title}" for r in rows
            ],
            link=settings.BASE_URL + reverse("alerts:console"),
            key=f"digest-{rows[0].pk}",
        )


def _prefix(row: Notification) -> str:
    if row.kind == NotificationKind.RESOLVED:
        return _("Resolved: ")
    if row.kind == NotificationKind.ESCALATION:
        return _("Escalated: ")
    return ""


def _notice(
    row: Notification, symptoms: tuple[int, list[str]], on_call: list[tuple[str, str]]
) -> Notice:
    alert: Alert = row.alert
    fields = _fields(alert)
    count, items = symptoms
    items = list(items)
    if count:
        fields.append((_("Symptoms"), str(count)))
        items += (
            [_("… and %(count)d more") % {"count": count - SYMPTOMS_LISTED}]
            if count > SYMPTOMS_LISTED
            else []
        )
    firing = row.kind != NotificationKind.RESOLVED
    title = alert.title  # the channel says "firing", "resolved" or "escalation" by the kind
    if row.kind == NotificationKind.ESCALATION:
        fields.insert(0, (_("Escalation level"), str(row.level)))
    if firing:
        fields += on_call
    return Notice(
        kind=row.kind,
        severity=alert.severity,
        severity_label=severity_label(alert.severity),
        title=title,
        body=alert.summary,
        fields=fields,
        link=settings.BASE_URL + alert.get_absolute_url(),
        ack_link=_ack_link(alert, row) if firing and alert.acknowledged_at is None else "",
        items=items,
        key=str(row.pk),
    )


def _fields(alert: Alert) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    if alert.site is not None:
        fields.append((_("Site"), f"{alert.site.code} {alert.site.name}"))
    if alert.device is not None:
        fields.append((_("Device"), alert.device.name))
    if alert.affected_sites > 1:
        fields.append((_("Sites affected"), str(alert.affected_sites)))
    started = timezone.localtime(alert.started_at).strftime("%Y-%m-%d %H:%M:%S")
    fields.append((_("Started"), started))
    if alert.resolved_at is not None:
        resolved = timezone.localtime(alert.resolved_at).strftime("%Y-%m-%d %H:%M:%S")
        fields.append((_("Resolved"), resolved))
    return fields


def _on_call(row: Notification) -> list[tuple[str, str]]:
    """Who is on call in the on-call group of the step that sent this (service desk); a
    group nobody created says nothing, and a failure here never stops the message."""
    if not apps.is_installed("branchops.servicedesk"):
        return []
    try:
        from branchops.servicedesk.oncall import on_call_line

        groups = (
            EscalationStep.objects.filter(level=row.level, channels=row.channel_id)
            .exclude(oncall_group="")
            .values_list("oncall_group", flat=True)
            .distinct()
        )
        lines = [on_call_line(name) for name in sorted(set(groups))]
    except Exception:
        log.exception("could not look up who is on call for notification %s", row.pk)
        return []
    return [(_("On call"), line) for line in lines if line is not None]


def _ack_link(alert: Alert, row: Notification) -> str:
    token = ack_token(alert.pk, row.channel_id)
    return settings.BASE_URL + reverse("alerts:ack_link", args=[token])
