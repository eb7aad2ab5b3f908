"""How the estate's models are scoped: their area of the role matrix and their way to a site.

The rules themselves live in ``branchops.core.scoping``; this module registers the estate's
models with it (from CmdbConfig.ready) and re-exports the functions the estate code uses.
"""

from __future__ import annotations

from branchops.cmdb import models as m
from branchops.core.permissions import Area
from branchops.core.scoping import (
    AREA,
    OWNER_PATHS,
    VIEW_PATHS,
    own_site_ids,
    register,
    require_change,
    site_ids_of,
    visible,
)

__all__ = [
    "AREA",
    "OWNER_PATHS",
    "VIEW_PATHS",
    "own_site_ids",
    "register_estate",
    "require_change",
    "site_ids_of",
    "visible",
]


def register_estate() -> None:
    for model in (m.Region, m.Manufacturer, m.Platform, m.DeviceRole, m.DeviceModel):
        register(model, Area.REFERENCE)
    register(m.Site, Area.SITES, view=("id",), owner=("id",))
    register(m.Device, Area.ESTATE, view=("site",), owner=("site",))
    register(m.Link, Area.ESTATE, view=("a_site", "b_site"), owner=("a_site",))
    register(m.Contact, Area.ESTATE, view=("sites",), owner=("sites",))
    register(m.SystemDeployment, Area.ESTATE, view=("site",), owner=("site",))
    register(m.InformationSystem, Area.SYSTEMS, view=("deployments__site",))
    register(m.MaintenanceContract, Area.CONTRACTS, view=("devices__site",))
