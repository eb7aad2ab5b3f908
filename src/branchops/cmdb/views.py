"""The estate pages: lists, detail pages, and create / edit / delete forms.

Views stay thin. Reads go through ``scoping.visible`` (a branch liaison sees only their
sites; anything else is a 404), writes through ``cmdb.services`` (permission, validation,
audit), and a refused change raises PermissionDenied, which Django shows as the 403 page.
The generic list, detail, edit and delete views are ``core.views_generic``'s, with the
estate's URL namespace and templates.
"""

from __future__ import annotations

from functools import cached_property
from itertools import groupby
from typing import Any, ClassVar

from django.contrib import messages
from django.db import models
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from branchops.cmdb import capability, scoping, services
from branchops.cmdb import forms as f
from branchops.cmdb import models as m
from branchops.cmdb import tables as t
from branchops.core import views_generic as generic
from branchops.core.choices import ChangeSource
from branchops.core.permissions import Action
from branchops.core.views import map_points, status_labels
from branchops.core.views_generic import may, may_add

SOURCE = ChangeSource.UI
DETAIL_ROWS = 100  # rows of a related list shown on a detail page before "show all"


class EstateView(generic.ObjectView):
    namespace = "cmdb"
    services: ClassVar[generic.ObjectServices] = services


# ---- generic list, detail, edit and delete (core.views_generic with the estate's templates)


class ObjectListView(EstateView, generic.ObjectListView):
    template_name = "cmdb/object_list.html"
    fragment_template = "includes/list_results.html"


class ObjectDetailView(EstateView, generic.ObjectDetailView):
    pass


class ObjectEditView(EstateView, generic.ObjectEditView):
    template_name = "cmdb/object_form.html"


class ObjectDeleteView(EstateView, generic.ObjectDeleteView):
    template_name = "cmdb/object_confirm_delete.html"


# ---- regions -----------------------------------------------------------------------------


class RegionMixin(EstateView):
    model = m.Region
    url_prefix = "region"
    title = gettext_lazy("Regions")


def _site_counts(sites: models.QuerySet[m.Site]) -> dict[int, int]:
    return dict(sites.values_list("region_id").annotate(n=Count("pk")).order_by())


def region_tree(sites: models.QuerySet[m.Site]) -> list[dict[str, Any]]:
    """Regions in tree order with their depth and site counts (own and with everything below)."""
    regions = list(m.Region.objects.order_by("code"))
    own = _site_counts(sites)
    children: dict[int | None, list[m.Region]] = {}
    for region in regions:
        children.setdefault(region.parent_id, []).append(region)
    rows: list[dict[str, Any]] = []

    def walk(parent: int | None, depth: int) -> int:
        subtotal = 0
        for region in children.get(parent, []):
            row: dict[str, Any] = {"region": region, "depth": depth, "own": own.get(region.pk, 0)}
            rows.append(row)
            total: int = row["own"] + walk(region.pk, depth + 1)
            row["total"] = total
            subtotal += total
        return subtotal

    walk(None, 0)
    return rows


class RegionListView(RegionMixin, EstateView):
    def get(self, request: HttpRequest) -> HttpResponse:
        context = {
            **self.base_context(),
            "rows": region_tree(self.visible(m.Site)),
            "can_add": may_add(self.user, m.Region),
        }
        return render(request, "cmdb/region_list.html", context)


class RegionDetailView(RegionMixin, ObjectDetailView):
    template_name = "cmdb/region_detail.html"

    def extra_context(self, obj: Any) -> dict[str, Any]:
        ancestors: list[m.Region] = []
        parent = obj.parent
        while parent is not None and len(ancestors) < 5:
            ancestors.insert(0, parent)
            parent = parent.parent
        sites = (
            self.visible(m.Site)
            .filter(region_id__in=services.region_subtree_ids(obj.pk))
            .select_related("region")
        )
        return {
            "ancestors": ancestors,
            "children": obj.children.annotate(site_count=Count("sites")).order_by("code"),
            "sites": sites[:DETAIL_ROWS],
            "site_count": sites.count(),
        }


class RegionEditView(RegionMixin, ObjectEditView):
    form_class = f.RegionForm


class RegionDeleteView(RegionMixin, ObjectDeleteView):
    pass


# ---- sites -------------------------------------------------------------------------------


class SiteMixin(EstateView):
    model = m.Site
    url_prefix = "site"
    title = gettext_lazy("Sites")
    detail_related = ("region__parent__parent", "calendar", "support_centre")


class SiteListView(SiteMixin, ObjectListView):
    table = t.SiteTable
    filter_form = f.SiteFilterForm


def _grouped_devices(devices: list[m.Device]) -> list[tuple[m.DeviceRole, list[Any]]]:
    # Roles in the order they were defined (firewall, switches, WiFi, servers, ...), which
    # follows the way traffic enters a site.
    rows = sorted(devices, key=lambda d: (d.role_id, d.name))
    return [(role, list(items)) for role, items in groupby(rows, key=lambda d: d.role)]


class SiteDetailView(SiteMixin, ObjectDetailView):
    template_name = "cmdb/site_detail.html"

    def extra_context(self, obj: Any) -> dict[str, Any]:
        devices = list(
            obj.devices.select_related("role", "device_model__manufacturer", "depends_on")
        )
        links = (
            self.visible(m.Link)
            .filter(Q(a_site=obj) | Q(b_site=obj))
            .select_related("a_site", "a_device", "b_site", "b_device")
        )
        contracts = self.visible(m.MaintenanceContract).filter(
            pk__in=m.MaintenanceContract.objects.filter(devices__site=obj).values("pk")
        )
        point = map_points(m.Site.objects.filter(pk=obj.pk))
        return {
            "device_groups": _grouped_devices(devices),
            "device_count": len(devices),
            "links": links[:DETAIL_ROWS],
            "link_count": links.count(),
            "contacts": obj.contacts.all(),
            "deployments": obj.deployments.select_related("system", "device"),
            "contracts": contracts,
            "region_path": _region_path(obj.region),
            "map_data": {
                "points": point,
                "labels": status_labels(),
                "legend": False,
                "center": [point[0]["lon"], point[0]["lat"]] if point else None,
                "zoom": 3,
                "symbolSize": 12,
            },
            "can_add_device": may_add(self.user, m.Device),
        }


def _region_path(region: m.Region) -> list[m.Region]:
    path = [region]
    while path[0].parent_id is not None and len(path) < 5:
        parent = path[0].parent
        if parent is None:
            break
        path.insert(0, parent)
    return path


class SiteEditView(SiteMixin, ObjectEditView):
    form_class = f.SiteForm


class SiteDeleteView(SiteMixin, ObjectDeleteView):
    pass


# ---- devices -----------------------------------------------------------------------------


class DeviceMixin(EstateView):
    model = m.Device
    url_prefix = "device"
    title = gettext_lazy("Devices")


class DeviceListView(DeviceMixin, ObjectListView):
    table = t.DeviceTable
    filter_form = f.DeviceFilterForm


class DeviceDetailView(DeviceMixin, ObjectDetailView):
    template_name = "cmdb/device_detail.html"

    def extra_context(self, obj: Any) -> dict[str, Any]:
        upstream: list[m.Device] = []
        current = obj.depends_on
        while current is not None and len(upstream) < 10:
            upstream.append(current)
            current = current.depends_on
        return {
            "upstream": upstream,
            "dependants": obj.dependants.select_related("role").order_by("name"),
            "links": self.visible(m.Link)
            .filter(Q(a_device=obj) | Q(b_device=obj))
            .select_related("a_site", "a_device", "b_site", "b_device"),
            "contracts": self.visible(m.MaintenanceContract).filter(devices=obj),
            "deployments": obj.deployments.select_related("system"),
        }


class DeviceEditView(DeviceMixin, ObjectEditView):
    form_class = f.DeviceForm


class DeviceDeleteView(DeviceMixin, ObjectDeleteView):
    pass


# ---- links -------------------------------------------------------------------------------


class LinkMixin(EstateView):
    model = m.Link
    url_prefix = "link"
    title = gettext_lazy("Links")


class LinkListView(LinkMixin, ObjectListView):
    table = t.LinkTable
    filter_form = f.LinkFilterForm


class LinkDetailView(LinkMixin, ObjectDetailView):
    template_name = "cmdb/link_detail.html"

    def extra_context(self, obj: Any) -> dict[str, Any]:
        return {"overlays": self.visible(m.Link).filter(underlay=obj).select_related("b_site")}


class LinkEditView(LinkMixin, ObjectEditView):
    form_class = f.LinkForm


class LinkDeleteView(LinkMixin, ObjectDeleteView):
    pass


# ---- information systems and their deployments -------------------------------------------


class SystemMixin(EstateView):
    model = m.InformationSystem
    url_prefix = "system"
    title = gettext_lazy("Information systems")


class SystemListView(SystemMixin, ObjectListView):
    table = t.SystemTable
    filter_form = f.SystemFilterForm


class SystemDetailView(SystemMixin, ObjectDetailView):
    template_name = "cmdb/system_detail.html"

    def extra_context(self, obj: Any) -> dict[str, Any]:
        deployments = (
            self.visible(m.SystemDeployment)
            .filter(system=obj)
            .select_related("site", "device")
            .order_by("role", "site__code")
        )
        return {
            "deployments": [(d, may(self.user, Action.DELETE, d)) for d in deployments],
            "can_add_deployment": may_add(self.user, m.SystemDeployment),
            "capability": _capability_rows(obj.required_capability),
        }


def _capability_rows(required: dict[str, int]) -> list[dict[str, Any]]:
    """Scenario name (in the UI language), required level and what that level means."""
    prof = capability.profile()
    english = (get_language() or "").startswith("en")
    rows = []
    for key, level in required.items():
        scenario = prof.scenarios.get(key)
        name = (scenario.name_en if english else scenario.name) if scenario else key
        meaning = prof.levels.get(level)
        rows.append(
            {
                "scenario": name,
                "level": level,
                "rto": meaning.rto if meaning else "",
                "rpo": meaning.rpo if meaning else "",
            }
        )
    return rows


class SystemEditView(SystemMixin, ObjectEditView):
    form_class = f.SystemForm


class SystemDeleteView(SystemMixin, ObjectDeleteView):
    pass


class DeploymentAddView(ObjectEditView):
    """Adds a deployment to the system in the address; the system is not a form field."""

    model = m.SystemDeployment
    url_prefix = "system"
    title = gettext_lazy("Information systems")
    form_class = f.DeploymentForm
    template_name = "cmdb/deployment_form.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        self.system_pk = kwargs.pop("system_pk")
        return super().dispatch(request, *args, **kwargs)

    def base_context(self) -> dict[str, Any]:
        return {**super().base_context(), "system": self.system}

    @cached_property
    def system(self) -> m.InformationSystem:
        system: m.InformationSystem = get_object_or_404(
            self.visible(m.InformationSystem), pk=self.system_pk
        )
        return system

    def save(self, form: f.EstateForm, obj: Any) -> Any:
        data = {**form.service_data(), "system": self.system}
        return services.create(m.SystemDeployment, data, actor=self.user, source=SOURCE)

    def success_url(self, obj: Any) -> str:
        return str(obj.system.get_absolute_url())


class DeploymentDeleteView(ObjectDeleteView):
    model = m.SystemDeployment
    url_prefix = "system"
    title = gettext_lazy("Information systems")

    def success_url(self, obj: Any) -> str:
        return str(obj.system.get_absolute_url())


# ---- maintenance contracts ---------------------------------------------------------------


class ContractMixin(EstateView):
    model = m.MaintenanceContract
    url_prefix = "contract"
    title = gettext_lazy("Maintenance contracts")


class ContractListView(ContractMixin, ObjectListView):
    table = t.ContractTable
    filter_form = f.ContractFilterForm


class ContractDetailView(ContractMixin, ObjectDetailView):
    template_name = "cmdb/contract_detail.html"

    def extra_context(self, obj: Any) -> dict[str, Any]:
        devices = (
            self.visible(m.Device)
            .filter(contracts=obj)
            .select_related("site", "role", "device_model__manufacturer")
            .order_by("site__code", "name")
        )
        return {
            "devices": devices[: DETAIL_ROWS * 2],
            "device_count": devices.count(),
            "cover_form": f.CoverDevicesForm(user=self.user),
        }


class ContractDevicesView(ContractMixin, EstateView):
    """Adds the devices of a site to a contract, or takes one device off it."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        contract = self.get_object(pk)
        scoping.require_change(self.user, Action.CHANGE, contract)
        covered = set(contract.devices.values_list("pk", flat=True))
        if "remove" in request.POST:
            covered.discard(_int(request.POST.get("remove")))
        else:
            form = f.CoverDevicesForm(request.POST, user=self.user)
            if not form.is_valid():
                messages.error(request, _("Choose a site to add its devices."))
                return redirect(contract.get_absolute_url())
            devices = self.visible(m.Device).filter(site=form.cleaned_data["site"])
            if form.cleaned_data["role"] is not None:
                devices = devices.filter(role=form.cleaned_data["role"])
            covered |= set(devices.values_list("pk", flat=True))
        services.update(contract, {"devices": sorted(covered)}, actor=self.user, source=SOURCE)
        return redirect(contract.get_absolute_url())


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ContractEditView(ContractMixin, ObjectEditView):
    form_class = f.ContractForm


class ContractDeleteView(ContractMixin, ObjectDeleteView):
    pass


# ---- contacts ----------------------------------------------------------------------------


class ContactMixin(EstateView):
    model = m.Contact
    url_prefix = "contact"
    title = gettext_lazy("Contacts")


class ContactListView(ContactMixin, ObjectListView):
    table = t.ContactTable
    filter_form = f.ContactFilterForm


class ContactDetailView(ContactMixin, ObjectDetailView):
    template_name = "cmdb/contact_detail.html"

    def extra_context(self, obj: Any) -> dict[str, Any]:
        return {
            "sites": self.visible(m.Site).filter(contacts=obj).select_related("region"),
            "systems": self.visible(m.InformationSystem).filter(owner_contact=obj),
            "contracts": self.visible(m.MaintenanceContract).filter(contact=obj),
        }


class ContactEditView(ContactMixin, ObjectEditView):
    form_class = f.ContactForm


class ContactDeleteView(ContactMixin, ObjectDeleteView):
    pass
