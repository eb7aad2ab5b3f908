"""The alert lists: the console, rules, silences, channels and the notification log (see
core.tables)."""

from __future__ import annotations

from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.utils.translation import gettext_lazy as _

from branchops.alerts.choices import AlertStatus
from branchops.core.tables import Column, Table


class AlertTable(Table):
    """Roots (and standalone alerts) before symptoms, then the most urgent, then the newest."""

    columns = (
        Column("select", ""),
        Column("severity", _("Severity"), ("severity", "-started_at")),
        Column("title", _("Alert"), ("title",)),
        Column("site", _("Site"), ("site__code", "severity")),
        Column("device", _("Device"), ("device__name", "severity")),
        Column("started", _("Started"), ("started_at",)),
        Column("acknowledged", _("Acknowledged by"), ("acknowledged_at",)),
        Column("assignee", _("Assignee"), ("assignee__username",)),
        Column("actions", ""),
    )
    row_template = "alerts/rows/alert.html"
    select_related = ("site", "device", "system", "root", "acknowledged_by", "assignee")
    annotations = {
        "symptom_order": Case(
            When(root__isnull=True, then=Value(0)), default=Value(1), output_field=IntegerField()
        ),
        "symptom_count": Count("symptoms", filter=Q(symptoms__status=AlertStatus.FIRING)),
    }
    default_ordering = ("symptom_order", "severity", "-started_at")


class RuleTable(Table):
    columns = (
        Column("name", _("Name"), ("name",)),
        Column("kind", _("Kind"), ("kind", "name")),
        Column("severity", _("Severity"), ("severity", "name")),
        Column("metric", _("Metric"), ("metric", "name")),
        Column("bindings", _("Applies to")),
        Column("overrides", _("Overrides"), ("override_count", "name"), "text-end"),
        Column("enabled", _("Enabled"), ("enabled", "name")),
    )
    row_template = "alerts/rows/rule.html"
    prefetch_related = ("roles", "sites", "systems")
    annotations = {"override_count": Count("overrides", distinct=True)}


class NotificationTable(Table):
    columns = (
        Column("created", _("Queued"), ("created_at",)),
        Column("status", _("Status"), ("status", "-created_at")),
        Column("alert", _("Alert")),
        Column("channel", _("Channel"), ("channel__name", "-created_at")),
        Column("kind", _("Kind"), ("kind", "-created_at")),
        Column("level", _("Level"), ("level", "-created_at"), "text-end"),
        Column("attempts", _("Attempts"), ("attempts", "-created_at"), "text-end"),
        Column("sent", _("Sent"), ("sent_at",)),
        Column("last_error", _("Last error")),
    )
    row_template = "alerts/rows/notification.html"
    select_related = ("alert", "alert__site", "channel")
    prefetch_related = ("attempt_log",)
