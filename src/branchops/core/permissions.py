"""Who may do what: a role-by-area matrix, plus site scoping for branch liaisons.

The matrix is deliberately small and explicit. An *area* groups resources that share a
rule (``estate`` holds devices, links and contacts). Branch liaisons get the same verbs as
in the matrix but only on objects at their own sites; each app says how its objects reach a
site (see ``cmdb.scoping``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from branchops.core.choices import Role

if TYPE_CHECKING:
    from branchops.core.models import User


class Action(StrEnum):
    VIEW = "view"
    ADD = "add"
    CHANGE = "change"
    DELETE = "delete"


class Area(StrEnum):
    REFERENCE = "reference"  # regions, manufacturers, platforms, models, roles, calendars
    SITES = "sites"
    ESTATE = "estate"  # devices, links, contacts, system deployments
    SYSTEMS = "systems"
    CONTRACTS = "contracts"
    MONITORING = "monitoring"  # checks, templates, metrics
    CREDENTIALS = "credentials"  # SNMP and other device credentials
    AUDIT = "audit"
    USERS = "users"
    ALERTS = "alerts"  # alerts (acknowledge, assign = change), silences
    ALERT_RULES = "alert_rules"  # rules, inhibitions
    NOTIFICATIONS = "notifications"  # channels, escalation policies, routes, the log
    SERVICE_DESK = "service_desk"  # tickets: open, assign, move, worklog, visits


_ALL = frozenset(Action)
_VIEW = frozenset({Action.VIEW})
_EDIT = frozenset({Action.VIEW, Action.ADD, Action.CHANGE})
_VIEW_CHANGE = frozenset({Action.VIEW, Action.CHANGE})
_VIEW_ADD = frozenset({Action.VIEW, Action.ADD})

MATRIX: dict[Role, dict[Area, frozenset[Action]]] = {
    Role.ADMIN: dict.fromkeys(Area, _ALL),
    Role.OPS_ENGINEER: {
        Area.REFERENCE: _ALL,
        Area.SITES: _ALL,
        Area.ESTATE: _ALL,
        Area.SYSTEMS: _ALL,
        Area.CONTRACTS: _ALL,
        Area.MONITORING: _ALL,
        Area.CREDENTIALS: _ALL,
        Area.AUDIT: _VIEW,
        Area.ALERTS: _ALL,
        Area.ALERT_RULES: _ALL,
        Area.NOTIFICATIONS: _ALL,
        Area.SERVICE_DESK: _EDIT,
    },
    Role.TECHNICAL_EXPERT: {
        Area.REFERENCE: _VIEW,
        Area.SITES: _VIEW,
        Area.ESTATE: _EDIT,
        Area.SYSTEMS: _EDIT,
        Area.CONTRACTS: _VIEW,
        Area.MONITORING: _EDIT,
        Area.CREDENTIALS: _VIEW,
        Area.AUDIT: _VIEW,
        Area.ALERTS: _EDIT,
        Area.ALERT_RULES: _EDIT,
        Area.NOTIFICATIONS: _VIEW,
        Area.SERVICE_DESK: _VIEW_CHANGE,
    },
    Role.NOC_OPERATOR: {
        Area.REFERENCE: _VIEW,
        Area.SITES: _VIEW,
        Area.ESTATE: _VIEW,
        Area.SYSTEMS: _VIEW,
        Area.CONTRACTS: _VIEW,
        Area.MONITORING: _VIEW,
        Area.ALERTS: _EDIT,
        Area.ALERT_RULES: _VIEW,
        Area.NOTIFICATIONS: _VIEW,
        Area.SERVICE_DESK: _EDIT,
    },
    Role.BRANCH_LIAISON: {
        Area.REFERENCE: _VIEW,
        Area.SITES: frozenset({Action.VIEW, Action.CHANGE}),
        Area.ESTATE: _ALL,
        Area.SYSTEMS: _VIEW,
        Area.CONTRACTS: _VIEW,
        Area.MONITORING: _VIEW,
        Area.ALERTS: _VIEW,
        Area.SERVICE_DESK: _VIEW_ADD,
    },
    Role.AUDITOR: {
        Area.REFERENCE: _VIEW,
        Area.SITES: _VIEW,
        Area.ESTATE: _VIEW,
        Area.SYSTEMS: _VIEW,
        Area.CONTRACTS: _VIEW,
        Area.MONITORING: _VIEW,
        Area.CREDENTIALS: _VIEW,
        Area.AUDIT: _VIEW,
        Area.USERS: _VIEW,
        Area.ALERTS: _VIEW,
        Area.ALERT_RULES: _VIEW,
        Area.NOTIFICATIONS: _VIEW,
        Area.SERVICE_DESK: _VIEW,
    },
}

ACTION_LABELS = {
    Action.VIEW: gettext_lazy("view"),
    Action.ADD: gettext_lazy("add"),
    Action.CHANGE: gettext_lazy("change"),
    Action.DELETE: gettext_lazy("delete"),
}
AREA_LABELS = {
    Area.REFERENCE: gettext_lazy("reference data"),
    Area.SITES: gettext_lazy("sites"),
    Area.ESTATE: gettext_lazy("devices, links and contacts"),
    Area.SYSTEMS: gettext_lazy("information systems"),
    Area.CONTRACTS: gettext_lazy("maintenance contracts"),
    Area.MONITORING: gettext_lazy("checks and their templates"),
    Area.CREDENTIALS: gettext_lazy("device credentials"),
    Area.AUDIT: gettext_lazy("the audit trail"),
    Area.USERS: gettext_lazy("users"),
    Area.ALERTS: gettext_lazy("alerts and silences"),
    Area.ALERT_RULES: gettext_lazy("alert rules"),
    Area.NOTIFICATIONS: gettext_lazy("notification channels and routes"),
    Area.SERVICE_DESK: gettext_lazy("tickets"),
}

# Reference data is shared by everyone; a liaison's scope applies to the other areas.
SCOPED_AREAS = frozenset(
    {
        Area.SITES,
        Area.ESTATE,
        Area.SYSTEMS,
        Area.CONTRACTS,
        Area.MONITORING,
        Area.ALERTS,
        Area.SERVICE_DESK,
    }
)


def can(user: User, action: Action, area: Area) -> bool:
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    return action in MATRIX.get(Role(user.role), {}).get(area, frozenset())


def require(user: User, action: Action, area: Area) -> None:
    if not can(user, action, area):
        raise PermissionDenied(
            _("Your role may not %(action)s %(area)s.")
            % {"action": ACTION_LABELS[action], "area": AREA_LABELS[area]}
        )


def is_site_scoped(user: User, area: Area) -> bool:
    """True when the user sees only objects at their own sites in this area."""
    return not user.is_superuser and user.role == Role.BRANCH_LIAISON and area in SCOPED_AREAS
