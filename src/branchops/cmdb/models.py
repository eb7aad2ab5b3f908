"""The estate: regions, sites, devices, links, information systems, contacts and contracts.

Dependencies are modelled for alert correlation: inside a site each device names the one
device it hangs off (``depends_on``), and the site's edge device (the branch firewall)
reaches the data centres through its links, each ending on a concentrator there. A VPN
tunnel also names the internet line it runs over (``underlay``). See
docs/decisions/0004-topology-for-correlation.md.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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
from branchops.core.models import BilingualName, BusinessCalendar

CONTRACT_EXPIRING_DAYS = 60

# The level a region's parent must have; a top-level region has none.
PARENT_LEVEL = {
    RegionLevel.REGION: None,
    RegionLevel.PROVINCE: RegionLevel.REGION,
    RegionLevel.CITY: RegionLevel.PROVINCE,
}


class Region(BilingualName):
    """A node of the region tree: sales region (华东), province (浙江) or city (杭州)."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    level = models.CharField(_("level"), max_length=16, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent region"),
    )
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="region_name_unique_in_parent"),
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(parent__isnull=True),
                name="region_top_name_unique",
                violation_error_code="unique",
                violation_error_message=_("A top-level region with this name already exists."),
            ),
            models.CheckConstraint(
                condition=~Q(parent=models.F("id")), name="region_not_own_parent"
            ),
        ]

    def get_absolute_url(self) -> str:
        return reverse("cmdb:region_detail", args=[self.pk])

    def clean(self) -> None:
        expected = PARENT_LEVEL.get(RegionLevel(self.level)) if self.level else None
        parent_level = self.parent.level if self.parent_id and self.parent else None
        if self.level and parent_level != expected:
            if expected is None:
                raise ValidationError({"parent": _("A top-level region has no parent.")})
            raise ValidationError(
                {
                    "parent": _("The parent of a %(level)s must be a %(parent)s.")
                    % {
                        "level": RegionLevel(self.level).label,
                        "parent": RegionLevel(expected).label,
                    }
                }
            )


class Site(models.Model):
    """A place the firm runs: a branch (营业部), a regional centre or a data centre."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=SiteKind.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=SiteStatus.choices, default=SiteStatus.ACTIVE
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="sites", verbose_name=_("region")
    )
    support_centre = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="supported_sites",
        limit_choices_to={"kind": SiteKind.REGIONAL_CENTRE},
        verbose_name=_("support centre"),
        help_text=_("The regional centre that holds this site's spare parts and engineers."),
    )
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sites",
        verbose_name=_("business calendar"),
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    opened_on = models.DateField(_("opened on"), null=True, blank=True)
    liaisons = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="liaison_sites",
        verbose_name=_("branch liaisons"),
        help_text=_("Users with the branch liaison role who look after this site."),
    )
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["code"]
        indexes = [models.Index(fields=["kind", "status"], name="site_kind_status_idx")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("cmdb:site_detail", args=[self.pk])

    def clean(self) -> None:
        if (
            self.support_centre_id is not None
            and self.support_centre is not None
            and self.support_centre.kind != SiteKind.REGIONAL_CENTRE
        ):
            raise ValidationError({"support_centre": _("Choose a regional centre.")})
        if (self.latitude is None) != (self.longitude is None):
            raise ValidationError({"longitude": _("Give both latitude and longitude, or neither.")})


class Manufacturer(models.Model):
    """A vendor whose devices run in the estate (Hillstone, Huawei, H3C, ...)."""

    slug = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("manufacturer")
        verbose_name_plural = _("manufacturers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Platform(models.Model):
    """The operating system a device runs (StoneOS, VRP, Comware, ESXi, ...)."""

    slug = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100, unique=True)
    manufacturer = models.ForeignKey(
        Manufacturer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="platforms",
        verbose_name=_("manufacturer"),
    )

    class Meta:
        verbose_name = _("platform")
        verbose_name_plural = _("platforms")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DeviceRole(BilingualName):
    """What a device does: firewall, VPN concentrator, access switch, WiFi AP, server, ..."""

    slug = models.SlugField(_("code"), max_length=50, unique=True)
    is_network = models.BooleanField(
        _("network device"), default=True, help_text=_("Forwards traffic for other devices.")
    )

    class Meta:
        verbose_name = _("device role")
        verbose_name_plural = _("device roles")
        ordering = ["slug"]
        constraints = [models.UniqueConstraint(fields=["name"], name="devicerole_name_unique")]


class DeviceModel(models.Model):
    """A product of a manufacturer (Hillstone SG-6000-E2300, Huawei S5735-L24T4S-A, ...)."""

    manufacturer = models.ForeignKey(
        Manufacturer,
        on_delete=models.PROTECT,
        related_name="device_models",
        verbose_name=_("manufacturer"),
    )
    name = models.CharField(_("model"), max_length=100)
    default_role = models.ForeignKey(
        DeviceRole,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("default role"),
    )
    end_of_sale = models.DateField(_("end of sale"), null=True, blank=True)
    end_of_support = models.DateField(_("end of support"), null=True, blank=True)

    class Meta:
        verbose_name = _("device model")
        verbose_name_plural = _("device models")
        ordering = ["manufacturer__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["manufacturer", "name"], name="devicemodel_unique_per_manufacturer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.manufacturer.name} {self.name}"


class Device(models.Model):
    """A box, appliance or server at a site."""

    name = models.CharField(_("name"), max_length=64)
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="devices", verbose_name=_("site")
    )
    role = models.ForeignKey(
        DeviceRole, on_delete=models.PROTECT, related_name="devices", verbose_name=_("role")
    )
    device_model = models.ForeignKey(
        DeviceModel, on_delete=models.PROTECT, related_name="devices", verbose_name=_("model")
    )
    platform = models.ForeignKey(
        Platform,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="devices",
        verbose_name=_("platform"),
    )
    serial = models.CharField(_("serial number"), max_length=64, blank=True)
    asset_tag = models.CharField(_("asset tag"), max_length=64, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=DeviceStatus.choices, default=DeviceStatus.ACTIVE
    )
    management_ip = models.GenericIPAddressField(_("management IP"), null=True, blank=True)
    firmware_version = models.CharField(_("firmware version"), max_length=64, blank=True)
    criticality = models.PositiveSmallIntegerField(
        _("criticality"), choices=Criticality.choices, default=Criticality.MEDIUM
    )
    depends_on = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="dependants",
        verbose_name=_("depends on"),
        help_text=_("The upstream device this one is reached through."),
    )
    installed_on = models.DateField(_("installed on"), null=True, blank=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["site__code", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="device_name_unique_in_site"),
            models.UniqueConstraint(
                fields=["serial"],
                condition=~Q(serial=""),
                name="device_serial_unique",
                violation_error_code="unique",
                violation_error_message=_("Another device has this serial number."),
            ),
            models.UniqueConstraint(
                fields=["asset_tag"],
                condition=~Q(asset_tag=""),
                name="device_asset_tag_unique",
                violation_error_code="unique",
                violation_error_message=_("Another device has this asset tag."),
            ),
            models.CheckConstraint(
                condition=~Q(depends_on=models.F("id")), name="device_not_own_dependency"
            ),
        ]
        indexes = [
            models.Index(fields=["status"], name="device_status_idx"),
            models.Index(fields=["management_ip"], name="device_mgmt_ip_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("cmdb:device_detail", args=[self.pk])

    def clean(self) -> None:
        if self.depends_on_id is not None and self.pk is not None:
            self._check_dependency_cycle()

    def _check_dependency_cycle(self) -> None:
        seen = {self.pk}
        current = self.depends_on_id
        while current is not None:
            if current in seen:
                raise ValidationError({"depends_on": _("This would make a dependency loop.")})
            seen.add(current)
            current = (
                Device.objects.filter(pk=current).values_list("depends_on_id", flat=True).first()
            )


class Link(models.Model):
    """A WAN connection from a site: a VPN tunnel, a leased line or an internet line.

    The A end is the site's own device; the B end is the far device (a concentrator in a
    data centre) or, for an internet line, the carrier, left empty.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=LinkKind.choices)
    role = models.CharField(
        _("role"), max_length=8, choices=LinkRole.choices, default=LinkRole.PRIMARY
    )
    status = models.CharField(
        _("status"), max_length=16, choices=LinkStatus.choices, default=LinkStatus.ACTIVE
    )
    a_site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="links_a", verbose_name=_("A site")
    )
    a_device = models.ForeignKey(
        Device,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="links_a",
        verbose_name=_("A device"),
    )
    b_site = models.ForeignKey(
        Site,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="links_b",
        verbose_name=_("B site"),
    )
    b_device = models.ForeignKey(
        Device,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="links_b",
        verbose_name=_("B device"),
    )
    underlay = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="overlays",
        verbose_name=_("runs over"),
        help_text=_("For a VPN tunnel: the internet line it rides on."),
    )
    carrier = models.CharField(_("carrier"), max_length=64, blank=True)
    circuit_id = models.CharField(_("circuit ID"), max_length=64, blank=True)
    bandwidth_mbps = models.PositiveIntegerField(
        _("bandwidth (Mbit/s)"), null=True, blank=True, validators=[MaxValueValidator(400_000)]
    )
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("link")
        verbose_name_plural = _("links")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(a_site=models.F("b_site")) | Q(kind="internet"),
                name="link_ends_differ",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("cmdb:link_detail", args=[self.pk])

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.a_device_id and self.a_device and self.a_device.site_id != self.a_site_id:
            errors["a_device"] = str(_("The A device must be at the A site."))
        if self.b_device_id and self.b_device and self.b_device.site_id != self.b_site_id:
            errors["b_device"] = str(_("The B device must be at the B site."))
        if self.kind != LinkKind.INTERNET and self.b_site_id is None:
            errors["b_site"] = str(_("A VPN tunnel or leased line needs a far end."))
        if self.b_site_id is not None and self.b_site_id == self.a_site_id:
            errors["b_site"] = str(_("The two ends must be different sites."))
        if self.underlay_id is not None and self.kind != LinkKind.VPN:
            errors["underlay"] = str(_("Only a VPN tunnel runs over another line."))
        elif self.underlay_id and self.underlay and self.underlay.kind != LinkKind.INTERNET:
            errors["underlay"] = str(_("A VPN tunnel runs over an internet line."))
        if errors:
            raise ValidationError(errors)


class Contact(models.Model):
    """A person to call: branch manager, branch IT liaison, vendor engineer, carrier NOC."""

    name = models.CharField(_("name"), max_length=100)
    role = models.CharField(
        _("role"), max_length=20, choices=ContactRole.choices, default=ContactRole.OTHER
    )
    organisation = models.CharField(_("organisation"), max_length=100, blank=True)
    title = models.CharField(_("title"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    mobile = models.CharField(_("mobile"), max_length=32, blank=True)
    email = models.EmailField(_("email"), blank=True)
    sites = models.ManyToManyField(
        Site, blank=True, related_name="contacts", verbose_name=_("sites")
    )
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.organisation})" if self.organisation else self.name

    def get_absolute_url(self) -> str:
        return reverse("cmdb:contact_detail", args=[self.pk])


class InformationSystem(BilingualName):
    """An important information system (重要信息系统), such as central trading."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    category = models.CharField(_("category"), max_length=16, choices=SystemCategory.choices)
    owner = models.CharField(_("owner"), max_length=100, blank=True)
    owner_contact = models.ForeignKey(
        Contact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_systems",
        verbose_name=_("owner contact"),
    )
    required_capability = models.JSONField(
        _("required backup capability"),
        default=dict,
        blank=True,
        help_text=_('Level per scenario, for example {"fault": 4, "disaster": 5}.'),
    )
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("information system")
        verbose_name_plural = _("information systems")
        ordering = ["code"]

    def get_absolute_url(self) -> str:
        return reverse("cmdb:system_detail", args=[self.pk])

    def clean(self) -> None:
        from branchops.cmdb.capability import validate_required_capability

        validate_required_capability(self.required_capability)


class SystemDeployment(models.Model):
    """Where an information system runs: a site, optionally a device, in a role."""

    system = models.ForeignKey(
        InformationSystem,
        on_delete=models.CASCADE,
        related_name="deployments",
        verbose_name=_("information system"),
    )
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, related_name="deployments", verbose_name=_("site")
    )
    device = models.ForeignKey(
        Device,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deployments",
        verbose_name=_("device"),
    )
    role = models.CharField(
        _("role"), max_length=16, choices=DeploymentRole.choices, default=DeploymentRole.PRODUCTION
    )
    description = models.CharField(_("description"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("system deployment")
        verbose_name_plural = _("system deployments")
        ordering = ["system__code", "role", "site__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "site", "device", "role"],
                condition=Q(device__isnull=False),
                name="deployment_unique_on_device",
            ),
            models.UniqueConstraint(
                fields=["system", "site", "role"],
                condition=Q(device__isnull=True),
                name="deployment_unique_at_site",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.system.code} @ {self.site.code} ({self.get_role_display()})"

    def clean(self) -> None:
        if self.device_id and self.device and self.device.site_id != self.site_id:
            raise ValidationError({"device": _("The device must be at the chosen site.")})


class MaintenanceContract(models.Model):
    """A maintenance contract with a vendor or a third party, covering some devices."""

    number = models.CharField(_("contract number"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=150)
    provider = models.CharField(_("provider"), max_length=100)
    provider_kind = models.CharField(
        _("provider kind"), max_length=16, choices=ProviderKind.choices, default=ProviderKind.VENDOR
    )
    coverage = models.CharField(_("coverage"), max_length=16, choices=Coverage.choices)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    cost = models.DecimalField(
        _("cost (CNY)"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    contact = models.ForeignKey(
        Contact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contracts",
        verbose_name=_("provider contact"),
    )
    devices = models.ManyToManyField(
        Device, blank=True, related_name="contracts", verbose_name=_("covered devices")
    )
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("maintenance contract")
        verbose_name_plural = _("maintenance contracts")
        ordering = ["ends_on", "number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="contract_dates_ordered"
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("cmdb:contract_detail", args=[self.pk])

    def clean(self) -> None:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValidationError({"ends_on": _("The end date is before the start date.")})

    def state(self, today: dt.date | None = None) -> str:
        """``future``, ``active``, ``expiring`` (within 60 days) or ``expired``."""
        today = today or timezone.localdate()
        if today < self.starts_on:
            return "future"
        if today > self.ends_on:
            return "expired"
        if (self.ends_on - today).days <= CONTRACT_EXPIRING_DAYS:
            return "expiring"
        return "active"
