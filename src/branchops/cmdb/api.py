"""The estate's REST resources, declared once and served by core.crud."""

from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from branchops.cmdb import filters as f
from branchops.cmdb import models as m
from branchops.cmdb import schemas as s
from branchops.cmdb import services
from branchops.cmdb import site_templates as site_templates_module
from branchops.cmdb.capability import default_for
from branchops.core.api import SOURCE, actor
from branchops.core.crud import Resource, crud_router


def _system_to_model(data: dict[str, Any]) -> dict[str, Any]:
    if "required_capability" in data and data["required_capability"] is None:
        data["required_capability"] = default_for(data.get("category") or "")
    return data


RESOURCES = [
    Resource(
        "regions",
        m.Region,
        s.RegionOut,
        s.RegionIn,
        f.RegionFilter,
        services,
        search=("code", "name", "name_en"),
        orderable=("id", "code", "name", "level"),
    ),
    Resource(
        "manufacturers",
        m.Manufacturer,
        s.ManufacturerOut,
        s.ManufacturerIn,
        f.ManufacturerFilter,
        services,
        search=("slug", "name"),
        orderable=("id", "name"),
    ),
    Resource(
        "platforms",
        m.Platform,
        s.PlatformOut,
        s.PlatformIn,
        f.PlatformFilter,
        services,
        search=("slug", "name"),
        orderable=("id", "name"),
    ),
    Resource(
        "device-roles",
        m.DeviceRole,
        s.DeviceRoleOut,
        s.DeviceRoleIn,
        f.DeviceRoleFilter,
        services,
        search=("slug", "name", "name_en"),
        orderable=("id", "slug", "name"),
    ),
    Resource(
        "device-models",
        m.DeviceModel,
        s.DeviceModelOut,
        s.DeviceModelIn,
        f.DeviceModelFilter,
        services,
        search=("name", "manufacturer__name"),
        orderable=("id", "name"),
        select_related=("manufacturer",),
    ),
    Resource(
        "sites",
        m.Site,
        s.SiteOut,
        s.SiteIn,
        f.SiteFilter,
        services,
        search=("code", "name", "address"),
        orderable=("id", "code", "name", "kind"),
        select_related=("region",),
        prefetch_related=("liaisons",),
    ),
    Resource(
        "devices",
        m.Device,
        s.DeviceOut,
        s.DeviceIn,
        f.DeviceFilter,
        services,
        search=("name", "serial", "asset_tag", "management_ip", "firmware_version"),
        orderable=("id", "name", "status", "criticality", "site__code"),
        select_related=("site", "role", "device_model__manufacturer"),
        plain=True,
    ),
    Resource(
        "links",
        m.Link,
        s.LinkOut,
        s.LinkIn,
        f.LinkFilter,
        services,
        search=("name", "carrier", "circuit_id"),
        orderable=("id", "name", "kind"),
    ),
    Resource(
        "contacts",
        m.Contact,
        s.ContactOut,
        s.ContactIn,
        f.ContactFilter,
        services,
        search=("name", "organisation", "phone", "mobile", "email"),
        orderable=("id", "name"),
        prefetch_related=("sites",),
    ),
    Resource(
        "systems",
        m.InformationSystem,
        s.SystemOut,
        s.SystemIn,
        f.SystemFilter,
        services,
        search=("code", "name", "name_en", "owner"),
        orderable=("id", "code", "name"),
        to_model=_system_to_model,
    ),
    Resource(
        "system-deployments",
        m.SystemDeployment,
        s.DeploymentOut,
        s.DeploymentIn,
        f.DeploymentFilter,
        services,
        orderable=("id",),
    ),
    Resource(
        "contracts",
        m.MaintenanceContract,
        s.ContractOut,
        s.ContractIn,
        f.ContractFilter,
        services,
        search=("number", "name", "provider"),
        orderable=("id", "number", "ends_on", "starts_on"),
        prefetch_related=("devices",),
    ),
]


class FromTemplateIn(Schema):
    template: str = Field("standard-branch", description="Name of a site template.")
    code: str = Field(..., min_length=1, max_length=32, pattern=r"^[-a-zA-Z0-9_]+$")
    name: str = Field(..., min_length=1, max_length=100)
    region_id: int
    management_base: str = Field(..., description="First address of the site's /24, x.y.z.0.")
    address: str = Field("", max_length=200)
    latitude: Decimal | None = Field(None, ge=-90, le=90)
    longitude: Decimal | None = Field(None, ge=-180, le=180)


class SiteTemplateOut(Schema):
    name: str
    description: str
    kind: str
    devices: int
    links: int


def _template_routes() -> Router:
    extra = Router(tags=["sites"])

    @extra.get(
        "/site-templates/",
        response=list[SiteTemplateOut],
        operation_id="site_templates_list",
        summary="Site templates",
    )
    def site_templates(request: HttpRequest) -> Any:
        return [
            {
                "name": t.name,
                "description": t.description,
                "kind": t.kind,
                "devices": len(t.devices),
                "links": len(t.links),
            }
            for t in site_templates_module.load_all().values()
        ]

    @extra.post(
        "/sites/from-template/",
        response={201: s.SiteOut},
        operation_id="sites_create_from_template",
        summary="Create a site with its devices and links from a template",
    )
    def create_from_template(request: HttpRequest, payload: FromTemplateIn) -> Any:
        template = site_templates_module.load_all().get(payload.template)
        if template is None:
            raise HttpError(400, _("No site template named %(t)s.") % {"t": payload.template})
        region = get_object_or_404(m.Region, pk=payload.region_id)
        site = site_templates_module.create_site(
            template,
            code=payload.code,
            name=payload.name,
            region=region,
            management_base=payload.management_base,
            address=payload.address,
            latitude=payload.latitude,
            longitude=payload.longitude,
            actor=actor(request),
            source=SOURCE,
        )
        return Status(201, m.Site.objects.select_related("region").get(pk=site.pk))

    return extra


def router() -> Router:
    root = Router()
    for resource in RESOURCES:
        root.add_router(f"/{resource.name}/", crud_router(resource))
    root.add_router("/", _template_routes())
    return root
