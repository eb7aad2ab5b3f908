"""Which importer and which exporter serve each kind (an explicit list, no discovery)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from branchops.cmdb.importing import contracts, devices, links, sites, systems
from branchops.cmdb.importing.engine import Importer
from branchops.core.models import User

IMPORTERS: dict[str, type[Importer[Any]]] = {
    "sites": sites.SiteImporter,
    "devices": devices.DeviceImporter,
    "links": links.LinkImporter,
    "systems": systems.SystemImporter,
    "contracts": contracts.ContractImporter,
}

EXPORTERS: dict[str, Callable[[User], Iterator[dict[str, Any]]]] = {
    "sites": sites.export_rows,
    "devices": devices.export_rows,
    "links": links.export_rows,
    "systems": systems.export_rows,
    "contracts": contracts.export_rows,
}
