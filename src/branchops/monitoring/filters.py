"""Query filters of the monitoring API."""

from django.db.models import Q
from django.utils import timezone
from ninja import Field

from branchops.cmdb.choices import LinkKind
from branchops.core.crud import Filters
from branchops.monitoring.choices import CheckKind, CheckState, TargetKind

FAILING = (CheckState.DOWN, CheckState.UNKNOWN, CheckState.DEGRADED)


def _id_or(value: str, id_lookup: str, name_lookup: str) -> Q:
    return Q(**{id_lookup: int(value)}) if value.isdigit() else Q(**{name_lookup: value})


class CheckFilter(Filters):
    site: str | None = Field(None, description="Site id or code.")
    device: str | None = Field(None, description="Device id or name.")
    link: str | None = Field(None, description="Link id or name.")
    kind: CheckKind | None = None
    state: CheckState | None = None
    enabled: bool | None = None
    failing: bool | None = Field(None, description="true: down, degraded or unknown.")
    late: bool | None = Field(None, description="true: not run for two intervals.")
    generated: bool | None = Field(None, description="true: made from a template.")

    def filter_site(self, value: str) -> Q:
        return _id_or(value, "site_id", "site__code")

    def filter_device(self, value: str) -> Q:
        return _id_or(value, "device_id", "device__name")

    def filter_link(self, value: str) -> Q:
        return _id_or(value, "link_id", "link__name")

    def filter_state(self, value: str) -> Q:
        return Q(status__state=value)

    def filter_failing(self, value: bool) -> Q:
        condition = Q(status__state__in=FAILING)
        return condition if value else ~condition

    def filter_late(self, value: bool) -> Q:
        condition = Q(status__overdue_at__lt=timezone.now(), enabled=True)
        return condition if value else ~condition

    def filter_generated(self, value: bool) -> Q:
        return Q(template__isnull=not value)


class TemplateFilter(Filters):
    kind: CheckKind | None = None
    target_kind: TargetKind | None = None
    role: str | None = Field(None, description="Device role id or code.")
    link_kind: LinkKind | None = None

    def filter_role(self, value: str) -> Q:
        return _id_or(value, "role_id", "role__slug")


class CredentialFilter(Filters):
    version: str | None = Field(None, pattern="^(2c|3)$")
