"""Choices of the estate (CMDB)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionLevel(models.TextChoices):
    REGION = "region", _("Region")
    PROVINCE = "province", _("Province")
    CITY = "city", _("City")


class SiteKind(models.TextChoices):
    HQ_DATA_CENTRE = "hq_dc", _("HQ data centre")
    SAME_CITY_DR = "dr_same_city", _("Same-city DR centre")
    REMOTE_DR = "dr_remote", _("Remote DR centre")
    REGIONAL_CENTRE = "regional_centre", _("Regional centre")
    BRANCH = "branch", _("Branch")


DATA_CENTRE_KINDS = frozenset({SiteKind.HQ_DATA_CENTRE, SiteKind.SAME_CITY_DR, SiteKind.REMOTE_DR})


class SiteStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    CLOSED = "closed", _("Closed")


class DeviceStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    ACTIVE = "active", _("Active")
    MAINTENANCE = "maintenance", _("Maintenance")
    FAILED = "failed", _("Failed")
    DECOMMISSIONED = "decommissioned", _("Decommissioned")


class Criticality(models.IntegerChoices):
    CRITICAL = 1, _("Critical")
    HIGH = 2, _("High")
    MEDIUM = 3, _("Medium")
    LOW = 4, _("Low")


class LinkKind(models.TextChoices):
    VPN = "vpn", _("VPN tunnel over internet")
    LEASED_LINE = "leased_line", _("Leased line / MPLS")
    INTERNET = "internet", _("Internet line")


class LinkRole(models.TextChoices):
    PRIMARY = "primary", _("Primary")
    BACKUP = "backup", _("Backup")


class LinkStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    ACTIVE = "active", _("Active")
    FAILED = "failed", _("Failed")
    DECOMMISSIONED = "decommissioned", _("Decommissioned")


class SystemCategory(models.TextChoices):
    REAL_TIME = "real_time", _("Real-time system")
    NON_REAL_TIME = "non_real_time", _("Non-real-time system")


class DeploymentRole(models.TextChoices):
    PRODUCTION = "production", _("Production")
    SAME_CITY_DR = "dr_same_city", _("Same-city DR")
    REMOTE_DR = "dr_remote", _("Remote DR")
    TEST = "test", _("Test")


class ContactRole(models.TextChoices):
    BRANCH_MANAGER = "branch_manager", _("Branch manager")
    BRANCH_IT = "branch_it", _("Branch IT liaison")
    OPS_STAFF = "ops_staff", _("Operations staff")
    SYSTEM_OWNER = "system_owner", _("System owner")
    VENDOR_ENGINEER = "vendor_engineer", _("Vendor engineer")
    CARRIER_SUPPORT = "carrier_support", _("Carrier support")
    OTHER = "other", _("Other")


class ProviderKind(models.TextChoices):
    VENDOR = "vendor", _("Original vendor")
    THIRD_PARTY = "third_party", _("Third-party maintainer")


class Coverage(models.TextChoices):
    H24_4H = "7x24x4", _("7x24, on site within 4 h")
    H24_NBD = "7x24xNBD", _("7x24, next business day")
    H8_NBD = "5x8xNBD", _("5x8, next business day")
    PARTS_ONLY = "parts", _("Parts replacement only")
    SOFTWARE = "software", _("Software support and upgrades")
