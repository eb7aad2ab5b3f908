"""Builders for the reportable-incident tests: the demo's important systems and outages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from branchops.cmdb.models import InformationSystem
from branchops.core.choices import Role
from branchops.core.models import User
from branchops.core.testing import make_user
from branchops.servicedesk import services
from branchops.servicedesk.models import Ticket
from branchops.servicedesk.tests.support import make_ticket

SYSTEMS = {
    "central-trading": ("集中交易系统", "Central trading system", "real_time"),
    "online-trading": ("网上交易系统", "Online trading system", "real_time"),
    "margin-trading": ("融资融券系统", "Margin trading system", "real_time"),
    "third-party-depository": ("第三方存管系统", "Third-party depository system", "real_time"),
    "market-data": ("行情系统", "Market data system", "real_time"),
    "valuation": ("估值系统", "Valuation system", "non_real_time"),
}


def system(code: str) -> InformationSystem:
    name, name_en, category = SYSTEMS[code]
    found, _ = InformationSystem.objects.get_or_create(
        code=code, defaults={"name": name, "name_en": name_en, "category": category}
    )
    return found


def outage(*codes: str, minutes_ago: float, by: User | None = None, **kw: Any) -> Ticket:
    """An incident about these systems, reported ``minutes_ago`` (still open)."""
    started = timezone.now() - dt.timedelta(minutes=minutes_ago)
    return make_ticket(
        by=by,
        systems=[system(c) for c in codes],
        created_at=started,
        impact=1,
        urgency=1,
        **kw,
    )


def resolve(ticket: Ticket, at: dt.datetime, note: str = "Switched to the standby") -> Ticket:
    admin = make_user(Role.OPS_ENGINEER)
    return services.move(ticket, "resolved", by=admin, note=note, at=at)
