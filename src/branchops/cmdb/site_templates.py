"""Site templates: a new branch with its devices, dependencies and VPN links in one step.

A template (YAML data, like the other profiles) lists the devices a standard branch has and
the links its firewall needs (internet line, primary VPN to the HQ concentrator, backup VPN
to the DR concentrator). ``create_site`` makes all of it through the audited changes, in one
transaction; monitoring then generates the checks for every new device and link at once.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, model_validator

from branchops.cmdb.choices import DeviceStatus, LinkKind, LinkRole, SiteKind
from branchops.cmdb.models import Device, DeviceModel, DeviceRole, Link, Platform, Region, Site
from branchops.core import changes
from branchops.core.choices import ChangeSource
from branchops.core.models import BusinessCalendar, User
from branchops.core.profiles import load_yaml_model

SHIPPED_DIR = Path(__file__).resolve().parent / "profiles" / "site_templates"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceSpec(_Strict):
    suffix: str = Field(pattern=r"^[A-Za-z0-9-]+$", max_length=20)
    role: str
    manufacturer: str
    model: str
    platform: str | None = None
    criticality: int = Field(3, ge=1, le=4)
    ip_offset: int = Field(ge=1, le=254)
    depends_on: str | None = None


class FarEnd(_Strict):
    site_kind: SiteKind
    role: str


class LinkSpec(_Strict):
    name: str = Field(description="May contain {site}.")
    kind: LinkKind
    role: LinkRole = LinkRole.PRIMARY
    device: str
    far_end: FarEnd | None = None
    underlay: str | None = None
    carrier: str = ""
    bandwidth_mbps: int | None = Field(None, ge=1, le=400_000)


class SiteTemplate(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    kind: SiteKind = SiteKind.BRANCH
    calendar: str | None = None
    devices: list[DeviceSpec] = Field(min_length=1)
    links: list[LinkSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> SiteTemplate:
        seen: set[str] = set()
        for d in self.devices:
            if d.suffix in seen:
                raise ValueError(f"device {d.suffix} appears twice")
            if d.depends_on is not None and d.depends_on not in seen:
                raise ValueError(f"{d.suffix} depends on {d.depends_on}, which must come first")
            seen.add(d.suffix)
        offsets = [d.ip_offset for d in self.devices]
        if len(set(offsets)) != len(offsets):
            raise ValueError("two devices share an ip_offset")
        names: set[str] = set()
        for link in self.links:
            if link.device not in seen:
                raise ValueError(f"link {link.name}: no device {link.device} in the template")
            if link.underlay is not None and link.underlay not in names:
                raise ValueError(f"link {link.name} runs over {link.underlay}, not defined before")
            names.add(link.name)
        return self


def load_all() -> dict[str, SiteTemplate]:
    found: dict[str, SiteTemplate] = {}
    for folder in (SHIPPED_DIR, Path(settings.HOME) / "profiles" / "site_templates"):
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                template = load_yaml_model(path, SiteTemplate)
                found[template.name] = template
    return found


def create_site(
    template: SiteTemplate,
    *,
    code: str,
    name: str,
    region: Region,
    management_base: str,
    actor: User,
    source: ChangeSource,
    address: str = "",
    latitude: Any = None,
    longitude: Any = None,
) -> Site:
    """The site, its devices and its links, all or nothing, every row audited."""
    base = _base_address(management_base)
    with transaction.atomic():
        refs = _references(template)
        calendar = BusinessCalendar.objects.filter(code=template.calendar).first()
        site = changes.create(
            Site,
            {
                "code": code,
                "name": name,
                "kind": template.kind,
                "region_id": region.pk,
                "address": address,
                "latitude": latitude,
                "longitude": longitude,
                "calendar_id": calendar.pk if calendar else None,
            },
            actor=actor,
            source=source,
        )
        devices = _create_devices(template, site, base, refs, actor=actor, source=source)
        _create_links(template, site, devices, actor, source)
    return site


def _base_address(text: str) -> ipaddress.IPv4Address:
    try:
        base = ipaddress.IPv4Address(text)
    except ValueError as exc:
        raise ValidationError({"management_base": _("Enter an IPv4 address.")}) from exc
    if int(base) % 256 != 0:
        raise ValidationError({"management_base": _("Give the first address of a /24, x.y.z.0.")})
    return base


def _references(template: SiteTemplate) -> dict[str, Any]:
    """Roles, models and platforms the template names; every missing one is reported."""
    missing: list[str] = []
    roles = {r.slug: r for r in DeviceRole.objects.all()}
    refs: dict[str, Any] = {}
    for d in template.devices:
        if d.role not in roles:
            missing.append(_("role %(x)s") % {"x": d.role})
        model = DeviceModel.objects.filter(manufacturer__slug=d.manufacturer, name=d.model).first()
        if model is None:
            missing.append(_("model %(m)s %(x)s") % {"m": d.manufacturer, "x": d.model})
        platform = Platform.objects.filter(slug=d.platform).first() if d.platform else None
        if d.platform and platform is None:
            missing.append(_("platform %(x)s") % {"x": d.platform})
        refs[d.suffix] = (roles.get(d.role), model, platform)
    if missing:
        raise ValidationError(
            {
                "template": _("These are missing from the estate: %(list)s")
                % {"list": ", ".join(missing)}
            }
        )
    return refs


def _create_devices(
    template: SiteTemplate,
    site: Site,
    base: ipaddress.IPv4Address,
    refs: dict[str, Any],
    *,
    actor: User,
    source: ChangeSource,
) -> dict[str, Device]:
    made: dict[str, Device] = {}
    for d in template.devices:
        role, model, platform = refs[d.suffix]
        made[d.suffix] = changes.create(
            Device,
            {
                "name": f"{site.code}-{d.suffix}",
                "site_id": site.pk,
                "role_id": role.pk,
                "device_model_id": model.pk,
                "platform_id": platform.pk if platform else None,
                "status": DeviceStatus.ACTIVE,
                "criticality": d.criticality,
                "management_ip": str(base + d.ip_offset),
                "depends_on_id": made[d.depends_on].pk if d.depends_on else None,
            },
            actor=actor,
            source=source,
        )
    return made


def _create_links(
    template: SiteTemplate,
    site: Site,
    devices: dict[str, Device],
    actor: User,
    source: ChangeSource,
) -> None:
    made: dict[str, Link] = {}
    for spec in template.links:
        name = spec.name.format(site=site.code)
        far = _far_end(spec.far_end) if spec.far_end else None
        underlay = made.get(spec.underlay.format(site=site.code)) if spec.underlay else None
        made[name] = changes.create(
            Link,
            {
                "name": name,
                "kind": spec.kind,
                "role": spec.role,
                "a_site_id": site.pk,
                "a_device_id": devices[spec.device].pk,
                "b_site_id": far.site_id if far else None,
                "b_device_id": far.pk if far else None,
                "underlay_id": underlay.pk if underlay else None,
                "carrier": spec.carrier,
                "bandwidth_mbps": spec.bandwidth_mbps,
            },
            actor=actor,
            source=source,
        )


def _far_end(far: FarEnd) -> Device:
    device = (
        Device.objects.filter(
            site__kind=far.site_kind, role__slug=far.role, status=DeviceStatus.ACTIVE
        )
        .order_by("pk")
        .first()
    )
    if device is None:
        raise ValidationError(
            {
                "template": _("No active %(role)s at a %(kind)s to connect to.")
                % {"role": far.role, "kind": SiteKind(far.site_kind).label}
            }
        )
    return device
