"""Query filters of the alert lists (the console, rules, the notification log).

The same ``Filters`` classes as the REST API's, so a filtered page and the API agree.
"""

from __future__ import annotations

from django.db.models import Q
from ninja import Field

from branchops.alerts.choices import (
    AlertSource,
    AlertStatus,
    NotificationKind,
    NotificationStatus,
    RuleKind,
)
from branchops.core.crud import Filters


def _id_or(value: str, id_lookup: str, name_lookup: str) -> Q:
    return Q(**{id_lookup: int(value)}) if value.isdigit() else Q(**{name_lookup: value})


class AlertFilter(Filters):
    status: AlertStatus | None = None
    severity: int | None = Field(None, ge=1, le=3, description="1 is the most urgent.")
    source: AlertSource | None = None
    site: str | None = Field(None, description="Site id or code.")
    device: str | None = Field(None, description="Device id or name.")
    symptom: bool | None = Field(None, description="true: symptoms only; false: no symptoms.")
    acknowledged: bool | None = None
    root: int | None = Field(None, description="Symptoms of this root cause.")

    def filter_site(self, value: str) -> Q:
        return _id_or(value, "site_id", "site__code")

    def filter_device(self, value: str) -> Q:
        return _id_or(value, "device_id", "device__name")

    def filter_symptom(self, value: bool) -> Q:
        return Q(root__isnull=not value)

    def filter_acknowledged(self, value: bool) -> Q:
        return Q(acknowledged_at__isnull=not value)

    def filter_root(self, value: int) -> Q:
        return Q(root_id=value)


class RuleFilter(Filters):
    kind: RuleKind | None = None
    severity: int | None = Field(None, ge=1, le=3)
    enabled: bool | None = None
    shipped: bool | None = None


class NotificationFilter(Filters):
    status: NotificationStatus | None = None
    channel: str | None = Field(None, description="Channel id or name.")
    kind: NotificationKind | None = None
    alert: int | None = None

    def filter_channel(self, value: str) -> Q:
        return _id_or(value, "channel_id", "channel__name")

    def filter_alert(self, value: int) -> Q:
        return Q(alert_id=value)
