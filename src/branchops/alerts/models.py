"""Alerts: what is wrong now (Alert), why (its rule, its root), who was told (Notification).

Alerts are written by the engine's alert pipeline only; people acknowledge, assign and
silence them through services. Rules, silences, channels and routes are data that
operators edit in the UI and the API.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from branchops.alerts.choices import (
    AlertSource,
    AlertStatus,
    CalendarCondition,
    ChannelKind,
    EventKind,
    NotificationKind,
    NotificationStatus,
    RuleKind,
    Severity,
)
from branchops.cmdb.models import Device, DeviceRole, InformationSystem, Link, Region, Site
from branchops.monitoring.models import Check


class AlertRule(models.Model):
    """When to raise an alert from what the engine measures.

    Bound to device roles, sites, systems, check kinds and label matchers; empty bindings
    mean "everything". ``params`` depend on the kind (see ``alerts.rules``).
    """

    name = models.CharField(_("name"), max_length=150, unique=True)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=RuleKind.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    severity = models.PositiveSmallIntegerField(
        _("severity"), choices=Severity.choices, default=Severity.MAJOR
    )
    metric = models.CharField(
        _("metric"), max_length=150, blank=True, help_text=_("Prometheus metric name.")
    )
    check_kinds = models.JSONField(
        _("check kinds"), default=list, blank=True, help_text=_("Empty: every kind.")
    )
    matchers = models.JSONField(
        _("label matchers"),
        default=dict,
        blank=True,
        help_text=_('Labels the series must have, e.g. {"interface": "wan1"}; "~" starts a regex.'),
    )
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    roles = models.ManyToManyField(
        DeviceRole, blank=True, related_name="alert_rules", verbose_name=_("device roles")
    )
    sites = models.ManyToManyField(
        Site, blank=True, related_name="alert_rules", verbose_name=_("sites")
    )
    systems = models.ManyToManyField(
        InformationSystem, blank=True, related_name="alert_rules", verbose_name=_("systems")
    )
    raise_when = models.CharField(
        _("raise severity"),
        max_length=16,
        choices=CalendarCondition.choices,
        default=CalendarCondition.ALWAYS,
        help_text=_("When the raised severity applies instead of the normal one."),
    )
    raised_severity = models.PositiveSmallIntegerField(
        _("raised severity"), choices=Severity.choices, null=True, blank=True
    )
    shipped = models.BooleanField(_("shipped with BranchOps"), default=False, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("alerts:rule_detail", args=[self.pk])


class RuleOverride(models.Model):
    """One device's or site's own parameters for a rule (or the rule switched off there)."""

    rule = models.ForeignKey(
        AlertRule, on_delete=models.CASCADE, related_name="overrides", verbose_name=_("rule")
    )
    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("device")
    )
    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("site")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    params = models.JSONField(_("parameters"), default=dict, blank=True)

    class Meta:
        verbose_name = _("rule override")
        verbose_name_plural = _("rule overrides")
        ordering = ["rule", "site", "device"]
        constraints = [
            models.CheckConstraint(
                condition=Q(device__isnull=False) | Q(site__isnull=False),
                name="ruleoverride_has_object",
            ),
            models.UniqueConstraint(
                fields=["rule", "device", "site"], name="ruleoverride_one_per_object"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} @ {self.device or self.site}"


class Alert(models.Model):
    """Something wrong, from its first firing to its resolution.

    One firing alert per fingerprint (the same problem seen again only counts). A symptom
    points at its root; a root's notification speaks for its symptoms.
    """

    fingerprint = models.CharField(_("fingerprint"), max_length=64)
    source = models.CharField(_("source"), max_length=16, choices=AlertSource.choices)
    name = models.CharField(_("name"), max_length=100, help_text=_("What kind of problem."))
    rule = models.ForeignKey(
        AlertRule,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alerts",
        verbose_name=_("rule"),
    )
    for_check = models.ForeignKey(
        Check,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alerts",
        verbose_name=_("check"),
    )
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=AlertStatus.choices, default=AlertStatus.FIRING
    )
    title = models.CharField(_("title"), max_length=300)
    summary = models.TextField(_("summary"), blank=True)
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    site = models.ForeignKey(
        Site, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("site")
    )
    device = models.ForeignKey(
        Device, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("device")
    )
    system = models.ForeignKey(
        InformationSystem,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("information system"),
    )
    link = models.ForeignKey(
        Link, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("link")
    )
    started_at = models.DateTimeField(_("started at"), db_index=True)
    last_seen_at = models.DateTimeField(_("last seen at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    occurrences = models.PositiveIntegerField(_("occurrences"), default=1)
    root = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="symptoms",
        verbose_name=_("root cause"),
    )
    affected_sites = models.PositiveIntegerField(
        _("affected sites"), default=0, help_text=_("Sites behind this root cause.")
    )
    unreachable = models.BooleanField(
        _("unreachable"),
        default=False,
        help_text=_("Cannot be reached because something upstream failed; not known to be down."),
    )
    flapping = models.BooleanField(_("flapping"), default=False)
    silenced_by = models.ForeignKey(
        "Silence",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alerts",
        verbose_name=_("silenced by"),
    )
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_alerts",
        verbose_name=_("assignee"),
    )

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=Q(status="firing"),
                name="alert_one_firing_per_fingerprint",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "severity"], name="alert_status_severity_idx"),
            models.Index(fields=["fingerprint"], name="alert_fingerprint_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("alerts:alert_detail", args=[self.pk])

    @property
    def is_firing(self) -> bool:
        return self.status == AlertStatus.FIRING

    @property
    def is_symptom(self) -> bool:
        return self.root_id is not None


class AlertEvent(models.Model):
    """One line of an alert's timeline; never updated or deleted."""

    alert = models.ForeignKey(
        Alert, on_delete=models.CASCADE, related_name="events", verbose_name=_("alert")
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    kind = models.CharField(_("kind"), max_length=16, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    detail = models.CharField(_("detail"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("alert event")
        verbose_name_plural = _("alert events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["alert", "at"], name="alertevent_alert_at_idx")]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"


class Silence(models.Model):
    """Keep matching alerts quiet: a maintenance window, once or every week.

    Matches when any of the listed sites, devices or systems match (or, with none listed,
    when the label matchers do). A recurring silence is active on its weekdays from
    ``daily_start`` for ``duration_minutes``, between ``starts_at`` and ``ends_at``.
    """

    reason = models.CharField(_("reason"), max_length=300)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="silences",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    weekdays = models.JSONField(
        _("weekdays"), default=list, blank=True, help_text=_("0 = Monday … 6 = Sunday.")
    )
    daily_start = models.TimeField(_("daily start"), null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), null=True, blank=True)
    sites = models.ManyToManyField(Site, blank=True, related_name="+", verbose_name=_("sites"))
    devices = models.ManyToManyField(
        Device, blank=True, related_name="+", verbose_name=_("devices")
    )
    systems = models.ManyToManyField(
        InformationSystem, blank=True, related_name="+", verbose_name=_("systems")
    )
    matchers = models.JSONField(_("label matchers"), default=dict, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ended by"),
    )

    class Meta:
        verbose_name = _("silence")
        verbose_name_plural = _("silences")
        ordering = ["-starts_at", "-id"]

    def __str__(self) -> str:
        return self.reason

    def get_absolute_url(self) -> str:
        return reverse("alerts:silence_list")

    @property
    def recurring(self) -> bool:
        return bool(self.weekdays and self.daily_start and self.duration_minutes)

    def active_at(self, at: dt.datetime) -> bool:
        from branchops.alerts.silencing import window_active

        return window_active(self, at)


class InhibitRule(models.Model):
    """While an alert matching ``source`` fires, alerts matching ``target`` with the same
    values of ``equal`` labels are not notified (e.g. a site's power alarm mutes its
    device alerts)."""

    name = models.CharField(_("name"), max_length=150, unique=True)
    source_matchers = models.JSONField(_("source matchers"), default=dict)
    target_matchers = models.JSONField(_("target matchers"), default=dict)
    equal = models.JSONField(_("equal labels"), default=list, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("inhibition rule")
        verbose_name_plural = _("inhibition rules")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Channel(models.Model):
    """Where notifications go: a DingTalk group, a mailbox list, a webhook, ..."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=ChannelKind.choices)
    config = models.JSONField(_("settings"), default=dict, blank=True)
    sealed_secrets = models.TextField(_("secrets (sealed)"), blank=True, editable=False)
    enabled = models.BooleanField(_("enabled"), default=True)
    per_minute = models.PositiveIntegerField(
        _("messages per minute"),
        default=20,
        help_text=_("Above this, notifications wait and are merged into a digest."),
    )
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("notification channel")
        verbose_name_plural = _("notification channels")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("alerts:channel_list")

    def secrets(self) -> dict[str, Any]:
        import json

        from branchops.core.secrets import unseal

        return dict(json.loads(unseal(self.sealed_secrets))) if self.sealed_secrets else {}

    def set_secrets(self, values: dict[str, Any]) -> None:
        import json

        from branchops.core.secrets import seal

        self.sealed_secrets = seal(json.dumps(values)) if values else ""


class EscalationPolicy(models.Model):
    """Who is told, in which order, while nobody acknowledges."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    notify_resolved = models.BooleanField(_("tell when resolved"), default=True)

    class Meta:
        verbose_name = _("escalation policy")
        verbose_name_plural = _("escalation policies")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EscalationStep(models.Model):
    """Level N: after ``delay_minutes`` unacknowledged, notify these channels."""

    policy = models.ForeignKey(
        EscalationPolicy, on_delete=models.CASCADE, related_name="steps", verbose_name=_("policy")
    )
    level = models.PositiveSmallIntegerField(_("level"))
    delay_minutes = models.PositiveIntegerField(_("after (minutes)"), default=0)
    channels = models.ManyToManyField(Channel, related_name="steps", verbose_name=_("channels"))
    oncall_group = models.CharField(
        _("on-call group"),
        max_length=100,
        blank=True,
        help_text=_("Whoever is on call in this group is named in the message."),
    )
    label = models.CharField(_("label"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("escalation step")
        verbose_name_plural = _("escalation steps")
        ordering = ["policy", "level"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "level"], name="escalationstep_unique_level")
        ]

    def __str__(self) -> str:
        return f"{self.policy} L{self.level}"


class Route(models.Model):
    """Which alerts go to which escalation policy; the first matching route wins unless it
    says to continue."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    order = models.PositiveIntegerField(_("order"), default=100)
    enabled = models.BooleanField(_("enabled"), default=True)
    max_severity = models.PositiveSmallIntegerField(
        _("severity at least"),
        choices=Severity.choices,
        default=Severity.MINOR,
        help_text=_("Severity 1 is the highest: 2 means severity 1 and 2."),
    )
    regions = models.ManyToManyField(
        Region, blank=True, related_name="+", verbose_name=_("regions")
    )
    sites = models.ManyToManyField(Site, blank=True, related_name="+", verbose_name=_("sites"))
    systems = models.ManyToManyField(
        InformationSystem, blank=True, related_name="+", verbose_name=_("systems")
    )
    matchers = models.JSONField(_("label matchers"), default=dict, blank=True)
    when = models.CharField(
        _("when"), max_length=16, choices=CalendarCondition.choices, default="always"
    )
    policy = models.ForeignKey(
        EscalationPolicy, on_delete=models.PROTECT, related_name="routes", verbose_name=_("policy")
    )
    continue_matching = models.BooleanField(_("continue to the next route"), default=False)

    class Meta:
        verbose_name = _("route")
        verbose_name_plural = _("routes")
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class Notification(models.Model):
    """The outbox: one message for one alert on one channel at one escalation level.

    The unique constraint is what makes "never sent twice" hold across restarts: the
    pipeline may try to queue the same message again, the database says no.
    """

    alert = models.ForeignKey(
        Alert, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("alert")
    )
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("channel")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=NotificationKind.choices)
    level = models.PositiveSmallIntegerField(_("level"), default=1)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=NotificationStatus.choices,
        default=NotificationStatus.PENDING,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    due_at = models.DateTimeField(_("due at"), default=timezone.now)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    digest = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged",
        verbose_name=_("sent in digest"),
    )

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "channel", "kind", "level"], name="notification_once"
            )
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="notification_due_idx")]

    def __str__(self) -> str:
        return f"{self.kind} of alert {self.alert_id} via {self.channel_id}"


class DeliveryAttempt(models.Model):
    """One try to deliver a notification: the notification log."""

    notification = models.ForeignKey(
        Notification,
        on_delete=models.CASCADE,
        related_name="attempt_log",
        verbose_name=_("notification"),
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    ok = models.BooleanField(_("delivered"))
    status = models.CharField(_("status"), max_length=100)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    duration_ms = models.FloatField(_("duration (ms)"), default=0)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.notification_id} {'ok' if self.ok else 'failed'} at {self.at}"


class InboundEvent(models.Model):
    """An event handed over by the web process (Alertmanager, Zabbix, generic JSON) for the
    engine's pipeline; deleted once taken in."""

    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    source = models.CharField(_("source"), max_length=16, choices=AlertSource.choices)
    payload = models.JSONField(_("event"))

    class Meta:
        verbose_name = _("inbound event")
        verbose_name_plural = _("inbound events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.source} event {self.pk}"


class Baseline(models.Model):
    """What a series usually does at this hour of the week, learned from its history."""

    rule = models.ForeignKey(
        AlertRule, on_delete=models.CASCADE, related_name="baselines", verbose_name=_("rule")
    )
    series = models.CharField(_("series"), max_length=64, help_text=_("Hash of the labels."))
    labels = models.JSONField(_("labels"), default=dict)
    hour_of_week = models.PositiveSmallIntegerField(_("hour of week"))
    mean = models.FloatField(_("mean"))
    spread = models.FloatField(_("spread"), help_text=_("Standard deviation."))
    samples = models.PositiveIntegerField(_("samples"))
    learned_at = models.DateTimeField(_("learned at"), default=timezone.now)

    class Meta:
        verbose_name = _("baseline")
        verbose_name_plural = _("baselines")
        ordering = ["rule", "series", "hour_of_week"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "series", "hour_of_week"], name="baseline_one_per_hour"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.series} h{self.hour_of_week}"


__all__ = [
    "Alert",
    "AlertEvent",
    "AlertRule",
    "Baseline",
    "Channel",
    "DeliveryAttempt",
    "EscalationPolicy",
    "EscalationStep",
    "InboundEvent",
    "InhibitRule",
    "Notification",
    "Route",
    "RuleOverride",
    "Silence",
]
