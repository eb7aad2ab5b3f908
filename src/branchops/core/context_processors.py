"""Template context shared by every page: the navigation, filtered by what the user may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from branchops.core.permissions import Action, Area, can, is_site_scoped


@dataclass(frozen=True)
class NavItem:
    label: str | Promise
    url_name: str
    area: Area
    icon: str = ""
    # Shared settings with no site to scope them by (check templates): hidden from users
    # who see only their own sites in the area.
    unscoped_only: bool = False

    @property
    def url(self) -> str:
        return reverse(self.url_name)


@dataclass(frozen=True)
class NavModule:
    label: str | Promise
    icon: str
    items: tuple[NavItem, ...]


NAVIGATION = (
    NavModule(
        _("Estate"),
        "building",
        (
            NavItem(_("Regions"), "cmdb:region_list", Area.REFERENCE, "sitemap"),
            NavItem(_("Sites"), "cmdb:site_list", Area.SITES, "building-community"),
            NavItem(_("Devices"), "cmdb:device_list", Area.ESTATE, "server-2"),
            NavItem(_("Links"), "cmdb:link_list", Area.ESTATE, "route"),
            NavItem(_("Information systems"), "cmdb:system_list", Area.SYSTEMS, "box-multiple"),
            NavItem(
                _("Maintenance contracts"),
                "cmdb:contract_list",
                Area.CONTRACTS,
                "file-certificate",
            ),
            NavItem(_("Contacts"), "cmdb:contact_list", Area.ESTATE, "address-book"),
            NavItem(_("Import and export"), "cmdb:import", Area.ESTATE, "file-import"),
        ),
    ),
    NavModule(
        _("Monitoring"),
        "heartbeat",
        (
            NavItem(_("Checks"), "monitoring:check_list", Area.MONITORING, "list-check"),
            NavItem(_("Site health"), "monitoring:site_health_list", Area.MONITORING, "activity"),
            NavItem(
                _("Check templates"),
                "monitoring:template_list",
                Area.MONITORING,
                "template",
                unscoped_only=True,
            ),
            NavItem(_("SNMP credentials"), "monitoring:credential_list", Area.CREDENTIALS, "key"),
        ),
    ),
    NavModule(
        _("Administration"),
        "settings",
        (
            NavItem(_("Audit trail"), "core:audit_list", Area.AUDIT, "history"),
            NavItem(_("Users"), "core:user_list", Area.USERS, "users"),
        ),
    ),
)


def _url(item: NavItem) -> str | None:
    """The item's address, or None while its page is not installed (e.g. import)."""
    try:
        return item.url
    except NoReverseMatch:
        return None


def _shown(user: Any, item: NavItem) -> bool:
    if not can(user, Action.VIEW, item.area):
        return False
    return not (item.unscoped_only and is_site_scoped(user, item.area))


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": []}
    modules = []
    for module in NAVIGATION:
        items = []
        for item in module.items:
            url = _url(item) if _shown(user, item) else None
            if url is None:
                continue
            items.append(
                {
                    "label": item.label,
                    "url": url,
                    "icon": item.icon,
                    "active": request.path.startswith(url),
                }
            )
        if items:
            modules.append({"label": module.label, "icon": module.icon, "items": items})
    return {"navigation": modules}
