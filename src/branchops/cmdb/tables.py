"""The estate's list tables: which columns a list shows and how each one sorts.

The generic ``Column`` and ``Table`` live in ``branchops.core.tables`` (every app's lists use
them); this module declares the estate's tables.
"""

from __future__ import annotations

from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from branchops.core.tables import Column, Table

__all__ = [
    "Column",
    "ContactTable",
    "ContractTable",
    "DeviceTable",
    "LinkTable",
    "SiteTable",
    "SystemTable",
    "Table",
]


class SiteTable(Table):
    columns = (
        Column("code", _("Code"), ("code",)),
        Column("name", _("Name"), ("name",)),
        Column("kind", _("Kind"), ("kind", "code")),
        Column("status", _("Status"), ("status", "code")),
        Column("region", _("Region"), ("region__code", "code")),
        Column("support_centre", _("Support centre"), ("support_centre__code", "code")),
        Column("devices", _("Devices"), ("device_count",), "text-end"),
    )
    row_template = "cmdb/rows/site.html"
    select_related = ("region", "support_centre")
    annotations = {"device_count": Count("devices", distinct=True)}


class DeviceTable(Table):
    columns = (
        Column("name", _("Name"), ("name",)),
        Column("site", _("Site"), ("site__code", "name")),
        Column("role", _("Role"), ("role__slug", "name")),
        Column(
            "model",
            _("Model"),
            ("device_model__manufacturer__name", "device_model__name", "name"),
        ),
        Column("status", _("Status"), ("status", "name")),
        Column("management_ip", _("Management IP"), ("management_ip",)),
        Column("serial", _("Serial number"), ("serial",)),
        Column("asset_tag", _("Asset tag"), ("asset_tag",)),
        Column("criticality", _("Criticality"), ("criticality", "name")),
        Column("depends_on", _("Depends on")),
    )
    row_template = "cmdb/rows/device.html"
    select_related = ("site", "role", "device_model__manufacturer", "depends_on")


class LinkTable(Table):
    columns = (
        Column("name", _("Name"), ("name",)),
        Column("kind", _("Kind"), ("kind", "name")),
        Column("role", _("Role"), ("role", "name")),
        Column("status", _("Status"), ("status", "name")),
        Column("a_end", _("A end"), ("a_site__code", "name")),
        Column("b_end", _("B end"), ("b_site__code", "name")),
        Column("carrier", _("Carrier"), ("carrier", "name")),
        Column("bandwidth", _("Bandwidth"), ("bandwidth_mbps", "name"), "text-end"),
    )
    row_template = "cmdb/rows/link.html"
    select_related = ("a_site", "a_device", "b_site", "b_device")


class SystemTable(Table):
    columns = (
        Column("code", _("Code"), ("code",)),
        Column("name", _("Name"), ("name",)),
        Column("category", _("Category"), ("category", "code")),
        Column("owner", _("Owner"), ("owner", "code")),
        Column("deployments", _("Deployments"), ("deployment_count",), "text-end"),
    )
    row_template = "cmdb/rows/system.html"
    annotations = {"deployment_count": Count("deployments", distinct=True)}


class ContractTable(Table):
    columns = (
        Column("number", _("Contract number"), ("number",)),
        Column("name", _("Name"), ("name",)),
        Column("provider", _("Provider"), ("provider", "number")),
        Column("coverage", _("Coverage"), ("coverage", "number")),
        Column("starts_on", _("Starts on"), ("starts_on", "number")),
        Column("ends_on", _("Ends on"), ("ends_on", "number")),
        Column("state", _("State")),
        Column("devices", _("Devices"), ("device_count",), "text-end"),
    )
    row_template = "cmdb/rows/contract.html"
    annotations = {"device_count": Count("devices", distinct=True)}


class ContactTable(Table):
    columns = (
        Column("name", _("Name"), ("name",)),
        Column("role", _("Role"), ("role", "name")),
        Column("organisation", _("Organisation"), ("organisation", "name")),
        Column("phone", _("Phone")),
        Column("email", _("Email"), ("email",)),
        Column("sites", _("Sites")),
    )
    row_template = "cmdb/rows/contact.html"
    prefetch_related = ("sites",)
