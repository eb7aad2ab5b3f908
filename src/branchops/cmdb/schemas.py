"""Request and response shapes of the estate API.

Foreign keys go in as ``<name>_id`` and come out both as the id and, where it helps a
reader, as a short ``{"id", "code", "name"}`` object.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Field, Schema

from branchops.cmdb.choices import (
    ContactRole,
    Coverage,
    Criticality,
    DeploymentRole,
    DeviceStatus,
    LinkKind,
    LinkRole,
    LinkStatus,
    ProviderKind,
    RegionLevel,
    SiteKind,
    SiteStatus,
    SystemCategory,
)

Code = Field(..., min_length=1, max_length=50, pattern=r"^[-a-zA-Z0-9_]+$")
Name = Field(..., min_length=1, max_length=100)
Latitude = Field(None, ge=-90, le=90)
Longitude = Field(None, ge=-180, le=180)


class Brief(Schema):
    id: int
    code: str = ""
    name: str


# ---- reference data -------------------------------------------------------------------


class RegionIn(Schema):
    code: str = Code
    name: str = Name
    name_en: str = Field("", max_length=100)
    level: RegionLevel
    parent_id: int | None = None
    latitude: Decimal | None = Latitude
    longitude: Decimal | None = Longitude


class RegionOut(RegionIn):
    id: int


class ManufacturerIn(Schema):
    slug: str = Code
    name: str = Name


class ManufacturerOut(ManufacturerIn):
    id: int


class PlatformIn(Schema):
    slug: str = Code
    name: str = Name
    manufacturer_id: int | None = None


class PlatformOut(PlatformIn):
    id: int


class DeviceRoleIn(Schema):
    slug: str = Code
    name: str = Name
    name_en: str = Field("", max_length=100)
    is_network: bool = True


class DeviceRoleOut(DeviceRoleIn):
    id: int


class DeviceModelIn(Schema):
    manufacturer_id: int
    name: str = Name
    default_role_id: int | None = None
    end_of_sale: dt.date | None = None
    end_of_support: dt.date | None = None


class DeviceModelOut(DeviceModelIn):
    id: int
    manufacturer: str

    @staticmethod
    def resolve_manufacturer(obj: Any) -> str:
        return str(obj.manufacturer.name)


# ---- sites ----------------------------------------------------------------------------


class SiteIn(Schema):
    code: str = Field(..., min_length=1, max_length=32, pattern=r"^[-a-zA-Z0-9_]+$")
    name: str = Name
    kind: SiteKind
    status: SiteStatus = SiteStatus.ACTIVE
    region_id: int
    support_centre_id: int | None = None
    calendar_id: int | None = None
    address: str = Field("", max_length=200)
    latitude: Decimal | None = Latitude
    longitude: Decimal | None = Longitude
    opened_on: dt.date | None = None
    liaisons: list[int] = Field(default_factory=list, description="User ids of branch liaisons.")
    description: str = ""


class SiteOut(SiteIn):
    id: int
    region: Brief

    @staticmethod
    def resolve_region(obj: Any) -> dict[str, Any]:
        return {"id": obj.region_id, "code": obj.region.code, "name": obj.region.name}

    @staticmethod
    def resolve_liaisons(obj: Any) -> list[int]:
        return [u.pk for u in obj.liaisons.all()]


# ---- devices --------------------------------------------------------------------------


class DeviceIn(Schema):
    name: str = Field(..., min_length=1, max_length=64)
    site_id: int
    role_id: int
    device_model_id: int
    platform_id: int | None = None
    serial: str = Field("", max_length=64)
    asset_tag: str = Field("", max_length=64)
    status: DeviceStatus = DeviceStatus.ACTIVE
    management_ip: str | None = Field(None, max_length=45)
    firmware_version: str = Field("", max_length=64)
    criticality: Criticality = Criticality.MEDIUM
    depends_on_id: int | None = None
    installed_on: dt.date | None = None
    description: str = ""


class DeviceOut(DeviceIn):
    id: int
    site: Brief
    role: str
    vendor: str
    model: str

    @staticmethod
    def resolve_site(obj: Any) -> dict[str, Any]:
        return {"id": obj.site_id, "code": obj.site.code, "name": obj.site.name}

    @staticmethod
    def resolve_role(obj: Any) -> str:
        return str(obj.role.slug)

    @staticmethod
    def resolve_vendor(obj: Any) -> str:
        return str(obj.device_model.manufacturer.name)

    @staticmethod
    def resolve_model(obj: Any) -> str:
        return str(obj.device_model.name)


# ---- links ----------------------------------------------------------------------------


class LinkIn(Schema):
    name: str = Name
    kind: LinkKind
    role: LinkRole = LinkRole.PRIMARY
    status: LinkStatus = LinkStatus.ACTIVE
    a_site_id: int
    a_device_id: int | None = None
    b_site_id: int | None = None
    b_device_id: int | None = None
    underlay_id: int | None = None
    carrier: str = Field("", max_length=64)
    circuit_id: str = Field("", max_length=64)
    bandwidth_mbps: int | None = Field(None, ge=0, le=400_000)
    description: str = ""


class LinkOut(LinkIn):
    id: int


# ---- contacts, systems, contracts -----------------------------------------------------


class ContactIn(Schema):
    name: str = Name
    role: ContactRole = ContactRole.OTHER
    organisation: str = Field("", max_length=100)
    title: str = Field("", max_length=100)
    phone: str = Field("", max_length=32)
    mobile: str = Field("", max_length=32)
    email: str = Field("", max_length=254)
    sites: list[int] = Field(default_factory=list)
    notes: str = ""


class ContactOut(ContactIn):
    id: int

    @staticmethod
    def resolve_sites(obj: Any) -> list[int]:
        return [s.pk for s in obj.sites.all()]


class SystemIn(Schema):
    code: str = Code
    name: str = Name
    name_en: str = Field("", max_length=100)
    category: SystemCategory
    owner: str = Field("", max_length=100)
    owner_contact_id: int | None = None
    required_capability: dict[str, int] | None = Field(
        None, description="Level per scenario; omit for the profile's default for the category."
    )
    description: str = ""


class SystemOut(SystemIn):
    id: int
    required_capability: dict[str, int] | None


class DeploymentIn(Schema):
    system_id: int
    site_id: int
    device_id: int | None = None
    role: DeploymentRole = DeploymentRole.PRODUCTION
    description: str = Field("", max_length=200)


class DeploymentOut(DeploymentIn):
    id: int


class ContractIn(Schema):
    number: str = Field(..., min_length=1, max_length=64)
    name: str = Field(..., min_length=1, max_length=150)
    provider: str = Name
    provider_kind: ProviderKind = ProviderKind.VENDOR
    coverage: Coverage
    starts_on: dt.date
    ends_on: dt.date
    cost: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    contact_id: int | None = None
    devices: list[int] = Field(default_factory=list)
    notes: str = ""


class ContractOut(ContractIn):
    id: int
    state: str

    @staticmethod
    def resolve_devices(obj: Any) -> list[int]:
        return [d.pk for d in obj.devices.all()]

    @staticmethod
    def resolve_state(obj: Any) -> str:
        return str(obj.state())
