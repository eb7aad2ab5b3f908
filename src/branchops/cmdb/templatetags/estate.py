"""Template helpers of the estate pages."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from branchops.cmdb.forms import CONTRACT_STATES
from branchops.cmdb.models import MaintenanceContract
from branchops.core.templatetags.branchops import badge

register = template.Library()

CONTRACT_STATE_LABELS = dict(CONTRACT_STATES)


@register.simple_tag
def contract_state(contract: MaintenanceContract) -> SafeString:
    """The contract's state today as a coloured badge."""
    state = contract.state()
    return badge(state, CONTRACT_STATE_LABELS[state])


@register.filter
def bandwidth(mbps: int | None) -> str:
    """``100 Mbit/s``, ``10 Gbit/s``; empty when unknown."""
    if mbps is None:
        return ""
    if mbps >= 1000 and mbps % 1000 == 0:
        return f"{mbps // 1000} Gbit/s"
    return f"{mbps} Mbit/s"
