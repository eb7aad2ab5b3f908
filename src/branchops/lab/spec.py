"""The demo estate as plain, comparable data, before anything touches the database.

Rows name each other by natural keys (site code, device name, link name, contact key), so
two builds with the same seed compare equal and a test can inspect the estate without a
database. Device names start with their site code and are unique across the estate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal

HQ_CODE = "DC-SH-HQ"
SAME_CITY_DR_CODE = "DC-SH-DR"
REMOTE_DR_CODE = "DC-SZ-DR"
HQ_CONCENTRATOR = f"{HQ_CODE}-VPN01"
DR_CONCENTRATOR = f"{SAME_CITY_DR_CODE}-VPN01"


@dataclass(frozen=True)
class RegionRow:
    code: str
    name: str
    name_en: str
    level: str
    parent: str | None
    latitude: Decimal | None
    longitude: Decimal | None


@dataclass(frozen=True)
class SiteRow:
    code: str
    name: str
    kind: str
    status: str
    region: str
    province: str  # ISO code; not stored (the region tree holds it), used while building
    calendar: str
    address: str
    latitude: Decimal
    longitude: Decimal
    opened_on: dt.date
    support_centre: str | None = None
    description: str = ""


@dataclass(frozen=True)
class ManufacturerRow:
    slug: str
    name: str


@dataclass(frozen=True)
class PlatformRow:
    slug: str
    name: str
    manufacturer: str | None


@dataclass(frozen=True)
class DeviceModelRow:
    manufacturer: str
    name: str
    default_role: str
    end_of_sale: dt.date | None
    end_of_support: dt.date | None


@dataclass(frozen=True)
class DeviceRow:
    name: str
    site: str
    role: str
    manufacturer: str
    model: str
    platform: str | None
    serial: str
    asset_tag: str
    status: str
    management_ip: str
    firmware_version: str
    criticality: int
    depends_on: str | None
    installed_on: dt.date | None
    description: str = ""


@dataclass(frozen=True)
class LinkRow:
    name: str
    kind: str
    role: str
    status: str
    a_site: str
    a_device: str | None
    b_site: str | None
    b_device: str | None
    underlay: str | None = None
    carrier: str = ""
    circuit_id: str = ""
    bandwidth_mbps: int | None = None
    description: str = ""


@dataclass(frozen=True)
class ContactRow:
    key: str  # unique within the estate; people's names are not
    name: str
    role: str
    organisation: str
    title: str
    phone: str
    mobile: str
    email: str
    sites: tuple[str, ...]
    notes: str = ""


@dataclass(frozen=True)
class SystemRow:
    code: str
    name: str
    name_en: str
    category: str
    owner: str
    owner_contact: str | None
    required_capability: Mapping[str, int]
    description: str = ""


@dataclass(frozen=True)
class DeploymentRow:
    system: str
    site: str
    device: str | None
    role: str
    description: str = ""


@dataclass(frozen=True)
class ContractRow:
    number: str
    name: str
    provider: str
    provider_kind: str
    coverage: str
    starts_on: dt.date
    ends_on: dt.date
    cost: Decimal
    contact: str | None
    devices: tuple[str, ...]
    notes: str = ""


@dataclass(frozen=True)
class Estate:
    """Everything ``load`` writes, in the order it writes it."""

    seed: int
    branches: int
    today: dt.date
    regions: tuple[RegionRow, ...]
    sites: tuple[SiteRow, ...]
    manufacturers: tuple[ManufacturerRow, ...]
    platforms: tuple[PlatformRow, ...]
    device_models: tuple[DeviceModelRow, ...]
    devices: tuple[DeviceRow, ...]
    links: tuple[LinkRow, ...]
    contacts: tuple[ContactRow, ...]
    systems: tuple[SystemRow, ...]
    deployments: tuple[DeploymentRow, ...]
    contracts: tuple[ContractRow, ...]

    def sites_of_kind(self, kind: str) -> tuple[SiteRow, ...]:
        return tuple(s for s in self.sites if s.kind == kind)

    def row_count(self) -> int:
        """Rows ``load`` inserts, many-to-many rows included (for a progress bar)."""
        total = 0
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                total += len(value)
        total += sum(len(c.sites) for c in self.contacts)
        total += sum(len(c.devices) for c in self.contracts)
        return total
