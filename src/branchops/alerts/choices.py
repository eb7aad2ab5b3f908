"""Choices of the alerts app: severities, lifecycles, rule kinds, channels."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Severity(models.IntegerChoices):
    """一级/二级/三级: 1 is the most urgent. Display names are configurable (settings)."""

    CRITICAL = 1, _("Severity 1 (critical)")
    MAJOR = 2, _("Severity 2 (major)")
    MINOR = 3, _("Severity 3 (minor)")


class AlertStatus(models.TextChoices):
    FIRING = "firing", _("Firing")
    RESOLVED = "resolved", _("Resolved")


class AlertSource(models.TextChoices):
    CHECK = "check", _("Check state")
    RULE = "rule", _("Metric rule")
    ALERTMANAGER = "alertmanager", _("Prometheus Alertmanager")
    ZABBIX = "zabbix", _("Zabbix")
    GENERIC = "generic", _("Generic JSON")
    SYSLOG = "syslog", _("Syslog")
    TRAP = "snmp-trap", _("SNMP trap")
    SERVICE_DESK = "servicedesk", _("Service desk (SLA breach)")


class RuleKind(models.TextChoices):
    CHECK_STATE = "check_state", _("Check state down or unknown")
    THRESHOLD = "threshold", _("Threshold with hysteresis")
    NO_DATA = "no_data", _("No data")
    RATE = "rate", _("Rate of change")
    REBOOT = "reboot", _("Reboot (uptime went back)")
    CERT_EXPIRY = "cert_expiry", _("Certificate expiry")
    CLOCK_OFFSET = "clock_offset", _("Clock offset")
    BASELINE = "baseline", _("Deviation from baseline")


class EventKind(models.TextChoices):
    """What happened to an alert: its timeline."""

    FIRED = "fired", _("Fired")
    REFIRED = "refired", _("Fired again")
    RESOLVED = "resolved", _("Resolved")
    SEVERITY = "severity", _("Severity changed")
    SYMPTOM = "symptom", _("Linked as a symptom")
    ROOT = "root", _("Became a root cause")
    FLAPPING = "flapping", _("Flapping")
    SILENCED = "silenced", _("Silenced")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    ASSIGNED = "assigned", _("Assigned")
    NOTIFIED = "notified", _("Notification sent")
    NOTIFY_FAILED = "notify_failed", _("Notification failed")
    ESCALATED = "escalated", _("Escalated")
    NOTE = "note", _("Note")


class ChannelKind(models.TextChoices):
    EMAIL = "email", _("Email (SMTP)")
    WEBHOOK = "webhook", _("Webhook")
    DINGTALK = "dingtalk", _("DingTalk robot")
    FEISHU = "feishu", _("Feishu bot")
    WECOM = "wecom", _("WeCom robot")
    SMS = "sms", _("SMS gateway")


class NotificationKind(models.TextChoices):
    FIRING = "firing", _("Firing")
    RESOLVED = "resolved", _("Resolved")
    ESCALATION = "escalation", _("Escalation")
    DIGEST = "digest", _("Digest")
    TEST = "test", _("Test")


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    RETRYING = "retrying", _("Waiting to retry")
    DEAD = "dead", _("Gave up")
    DIGESTED = "digested", _("Sent in a digest")
    SKIPPED = "skipped", _("Skipped")


class CalendarCondition(models.TextChoices):
    """When a route applies or a rule's severity is raised."""

    ALWAYS = "always", _("Always")
    TRADING_SESSION = "trading", _("During trading sessions")
    OUTSIDE_TRADING = "non_trading", _("Outside trading sessions")
    WORKING_HOURS = "working", _("During working hours")
    OUTSIDE_WORKING = "non_working", _("Outside working hours")
