"""Query filters of the estate API: by region (with everything below it), site, role, vendor."""

import datetime as dt

from django.db.models import Q
from django.utils import timezone
from ninja import Field

from branchops.cmdb.choices import (
    ContactRole,
    Criticality,
    DeploymentRole,
    DeviceStatus,
    LinkKind,
    LinkRole,
    LinkStatus,
    RegionLevel,
    SiteKind,
    SiteStatus,
    SystemCategory,
)
from branchops.cmdb.models import CONTRACT_EXPIRING_DAYS
from branchops.cmdb.services import region_subtree_ids
from branchops.core.crud import Filters

REGION_HELP = "Region id or code; includes every province and city below it."
SITE_HELP = "Site id or code."


def _id_or(value: str, id_lookup: str, code_lookup: str) -> Q:
    return Q(**{id_lookup: int(value)}) if value.isdigit() else Q(**{code_lookup: value})


def _region_ids(value: str) -> list[int]:
    return region_subtree_ids(value)


class RegionFilter(Filters):
    level: RegionLevel | None = None
    parent: int | None = Field(None, description="Parent region id.")

    def filter_parent(self, value: int) -> Q:
        return Q(parent_id=value)


class ManufacturerFilter(Filters):
    slug: str | None = Field(None, max_length=50)


class DeviceRoleFilter(Filters):
    is_network: bool | None = Field(None, description="Network devices (true) or hosts (false).")


class PlatformFilter(Filters):
    vendor: str | None = Field(None, description="Manufacturer id or code.")

    def filter_vendor(self, value: str) -> Q:
        return _id_or(value, "manufacturer_id", "manufacturer__slug")


DeviceModelFilter = PlatformFilter


class SiteFilter(Filters):
    kind: SiteKind | None = None
    status: SiteStatus | None = None
    region: str | None = Field(None, description=REGION_HELP)

    def filter_region(self, value: str) -> Q:
        return Q(region_id__in=_region_ids(value))


class DeviceFilter(Filters):
    region: str | None = Field(None, description=REGION_HELP)
    site: str | None = Field(None, description=SITE_HELP)
    role: str | None = Field(None, description="Device role id or code, e.g. firewall.")
    vendor: str | None = Field(None, description="Manufacturer id or code, e.g. hillstone.")
    status: DeviceStatus | None = None
    criticality: Criticality | None = None
    management_ip: str | None = Field(None, max_length=45)

    def filter_region(self, value: str) -> Q:
        return Q(site__region_id__in=_region_ids(value))

    def filter_site(self, value: str) -> Q:
        return _id_or(value, "site_id", "site__code")

    def filter_role(self, value: str) -> Q:
        return _id_or(value, "role_id", "role__slug")

    def filter_vendor(self, value: str) -> Q:
        return _id_or(value, "device_model__manufacturer_id", "device_model__manufacturer__slug")


class LinkFilter(Filters):
    kind: LinkKind | None = None
    role: LinkRole | None = None
    status: LinkStatus | None = None
    site: str | None = Field(None, description="Site id or code at either end.")
    device: int | None = Field(None, description="Device id at either end.")
    region: str | None = Field(None, description="Region of the A site. " + REGION_HELP)

    def filter_site(self, value: str) -> Q:
        return _id_or(value, "a_site_id", "a_site__code") | _id_or(
            value, "b_site_id", "b_site__code"
        )

    def filter_device(self, value: int) -> Q:
        return Q(a_device_id=value) | Q(b_device_id=value)

    def filter_region(self, value: str) -> Q:
        return Q(a_site__region_id__in=_region_ids(value))


class ContactFilter(Filters):
    role: ContactRole | None = None
    site: str | None = Field(None, description=SITE_HELP)

    def filter_site(self, value: str) -> Q:
        return Q(pk__in=_contact_ids_at(value))


def _contact_ids_at(value: str) -> list[int]:
    from branchops.cmdb.models import Contact

    return list(
        Contact.objects.filter(_id_or(value, "sites__id", "sites__code")).values_list(
            "pk", flat=True
        )
    )


class SystemFilter(Filters):
    category: SystemCategory | None = None


class DeploymentFilter(Filters):
    system: str | None = Field(None, description="System id or code.")
    site: str | None = Field(None, description=SITE_HELP)
    role: DeploymentRole | None = None

    def filter_system(self, value: str) -> Q:
        return _id_or(value, "system_id", "system__code")

    def filter_site(self, value: str) -> Q:
        return _id_or(value, "site_id", "site__code")


class ContractFilter(Filters):
    state: str | None = Field(
        None,
        pattern="^(future|active|expiring|expired)$",
        description="future, active, expiring (within 60 days) or expired.",
    )
    provider: str | None = Field(None, max_length=100)

    def filter_state(self, value: str) -> Q:
        today = timezone.localdate()
        soon = today + dt.timedelta(days=CONTRACT_EXPIRING_DAYS)
        return {
            "future": Q(starts_on__gt=today),
            "expired": Q(ends_on__lt=today),
            "expiring": Q(starts_on__lte=today, ends_on__gte=today, ends_on__lte=soon),
            "active": Q(starts_on__lte=today, ends_on__gt=soon),
        }[value]

    def filter_provider(self, value: str) -> Q:
        return Q(provider__icontains=value)
