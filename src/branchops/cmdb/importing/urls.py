"""Included by the cmdb URLconf under ``estate/import/``, in its ``cmdb`` namespace."""

from django.urls import URLPattern, path

from branchops.cmdb.importing import views

urlpatterns: list[URLPattern] = [
    path("", views.ImportView.as_view(), name="import"),
    path("template/<slug:kind>.<slug:fmt>", views.template_download, name="import_template"),
    path("export/<slug:kind>.<slug:fmt>", views.export_download, name="export"),
]
