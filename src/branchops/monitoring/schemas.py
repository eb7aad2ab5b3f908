"""Request and response shapes of the monitoring API."""

import datetime as dt
from typing import Any

from django.utils import timezone
from ninja import Field, Schema

from branchops.cmdb.choices import LinkKind
from branchops.monitoring.choices import (
    AuthProtocol,
    CheckKind,
    CheckState,
    PrivProtocol,
    SnmpVersion,
    TargetKind,
)

Interval = Field(60, ge=5, le=86_400, description="Seconds between runs.")
Timeout = Field(5.0, gt=0, le=300, description="Seconds a run may take.")


class StatusOut(Schema):
    state: CheckState
    since: dt.datetime
    last_run_at: dt.datetime | None
    last_duration_ms: float | None
    last_error: str
    summary: str
    late: bool

    @staticmethod
    def resolve_late(obj: Any) -> bool:
        return obj.overdue_at is not None and obj.overdue_at < timezone.now()


class CheckIn(Schema):
    name: str = Field(..., min_length=1, max_length=150)
    kind: CheckKind
    device_id: int | None = Field(None, description="The device watched; or give link_id.")
    link_id: int | None = None
    interval_s: int = Interval
    timeout_s: float = Timeout
    params: dict[str, Any] = Field(default_factory=dict, description="See docs/collectors.md.")
    enabled: bool = True


class CheckOut(CheckIn):
    id: int
    site_id: int
    template_id: int | None
    customised: bool
    updated_at: dt.datetime
    status: StatusOut | None

    @staticmethod
    def resolve_status(obj: Any) -> Any:
        return getattr(obj, "status", None)


class StateChangeOut(Schema):
    at: dt.datetime
    previous: CheckState
    state: CheckState
    error: str


class TemplateIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    kind: CheckKind
    target_kind: TargetKind = TargetKind.DEVICE
    role_id: int | None = Field(None, description="Device role, for device templates.")
    link_kind: LinkKind | None = Field(None, description="Link kind, for link templates.")
    interval_s: int = Interval
    timeout_s: float = Timeout
    params: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


class TemplateOut(TemplateIn):
    id: int
    updated_at: dt.datetime
    link_kind: str | None  # type: ignore[assignment]

    @staticmethod
    def resolve_link_kind(obj: Any) -> str | None:
        return obj.link_kind or None


class CredentialIn(Schema):
    name: str = Field(..., min_length=1, max_length=50, pattern=r"^[-a-zA-Z0-9_]+$")
    version: SnmpVersion = SnmpVersion.V2C
    port: int = Field(161, ge=1, le=65535)
    community: str | None = Field(None, max_length=200, description="Write-only.")
    username: str = Field("", max_length=64)
    auth_protocol: AuthProtocol = AuthProtocol.NONE
    auth_password: str | None = Field(None, max_length=200, description="Write-only.")
    priv_protocol: PrivProtocol = PrivProtocol.NONE
    priv_password: str | None = Field(None, max_length=200, description="Write-only.")
    timeout_s: float = Field(2.0, gt=0, le=300)
    retries: int = Field(1, ge=0, le=5)


class CredentialOut(Schema):
    id: int
    name: str
    version: SnmpVersion
    port: int
    username: str
    auth_protocol: str
    priv_protocol: str
    timeout_s: float
    retries: int
    has_community: bool
    has_auth_password: bool
    has_priv_password: bool
    updated_at: dt.datetime

    @staticmethod
    def resolve_has_community(obj: Any) -> bool:
        return bool(obj.community_sealed)

    @staticmethod
    def resolve_has_auth_password(obj: Any) -> bool:
        return bool(obj.auth_password_sealed)

    @staticmethod
    def resolve_has_priv_password(obj: Any) -> bool:
        return bool(obj.priv_password_sealed)


class PointOut(Schema):
    ts: float
    value: float
    low: float | None = None
    high: float | None = None


class SeriesOut(Schema):
    name: str
    labels: dict[str, str]
    resolution_s: int
    points: list[PointOut]
