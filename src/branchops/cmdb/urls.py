from django.urls import URLPattern, URLResolver, include, path
from django.views import View

from branchops.cmdb import views as v

app_name = "cmdb"


def _crud(prefix: str, name: str, views: tuple[type[View], ...]) -> list[URLPattern]:
    """list, add, detail, edit and delete pages of one kind of object."""
    list_view, detail_view, edit_view, delete_view = views
    return [
        path(f"{prefix}/", list_view.as_view(), name=f"{name}_list"),
        path(f"{prefix}/add/", edit_view.as_view(), name=f"{name}_add"),
        path(f"{prefix}/<int:pk>/", detail_view.as_view(), name=f"{name}_detail"),
        path(f"{prefix}/<int:pk>/edit/", edit_view.as_view(), name=f"{name}_edit"),
        path(f"{prefix}/<int:pk>/delete/", delete_view.as_view(), name=f"{name}_delete"),
    ]


def _import_pages() -> list[URLResolver]:
    # The import and export pages (cmdb.importing) are written alongside these pages and may
    # not be installed yet; the estate pages must work without them, and the navigation
    # hides the item while "cmdb:import" does not resolve.
    try:
        return [path("import/", include("branchops.cmdb.importing.urls"))]
    except ModuleNotFoundError as exc:
        if exc.name not in {"branchops.cmdb.importing", "branchops.cmdb.importing.urls"}:
            raise
        return []


urlpatterns: list[URLPattern | URLResolver] = [
    *_crud(
        "regions",
        "region",
        (v.RegionListView, v.RegionDetailView, v.RegionEditView, v.RegionDeleteView),
    ),
    *_crud("sites", "site", (v.SiteListView, v.SiteDetailView, v.SiteEditView, v.SiteDeleteView)),
    *_crud(
        "devices",
        "device",
        (v.DeviceListView, v.DeviceDetailView, v.DeviceEditView, v.DeviceDeleteView),
    ),
    *_crud("links", "link", (v.LinkListView, v.LinkDetailView, v.LinkEditView, v.LinkDeleteView)),
    *_crud(
        "systems",
        "system",
        (v.SystemListView, v.SystemDetailView, v.SystemEditView, v.SystemDeleteView),
    ),
    path(
        "systems/<int:system_pk>/deployments/add/",
        v.DeploymentAddView.as_view(),
        name="deployment_add",
    ),
    path(
        "deployments/<int:pk>/delete/",
        v.DeploymentDeleteView.as_view(),
        name="deployment_delete",
    ),
    *_crud(
        "contracts",
        "contract",
        (v.ContractListView, v.ContractDetailView, v.ContractEditView, v.ContractDeleteView),
    ),
    path(
        "contracts/<int:pk>/devices/",
        v.ContractDevicesView.as_view(),
        name="contract_devices",
    ),
    *_crud(
        "contacts",
        "contact",
        (v.ContactListView, v.ContactDetailView, v.ContactEditView, v.ContactDeleteView),
    ),
    *_import_pages(),
]
