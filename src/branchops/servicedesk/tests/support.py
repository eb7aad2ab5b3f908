"""Builders for the service desk's tests."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from branchops.core import calendars
from branchops.core.choices import Role
from branchops.core.models import BusinessCalendar, User
from branchops.core.testing import make_site, make_user, unique
from branchops.servicedesk import services
from branchops.servicedesk.models import AssignmentGroup, SlaPolicy, Ticket

TZ = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TZ)  # type: ignore[misc]


def workdays(*years: int) -> calendars.Calendar:
    """The Chinese 5x8 calendar with the real holidays and make-up workdays, no database."""
    years = years or (2025,)
    return calendars.build(
        code="cn-workdays",
        kind="workdays",
        known_from=dt.date(min(years), 1, 1),
        known_until=dt.date(max(years), 12, 31),
        days=[d for y in years for d in calendars.library_days("workdays", y)],
    )


def always() -> calendars.Calendar:
    return calendars.build(code="24x7", kind="24x7")


def trading() -> calendars.Calendar:
    return calendars.build(
        code="xshg-trading",
        kind="trading",
        opens_at=dt.time(9, 30),
        closes_at=dt.time(15),
        break_starts_at=dt.time(11, 30),
        break_ends_at=dt.time(13),
        known_from=dt.date(2025, 1, 1),
        known_until=dt.date(2025, 12, 31),
        days=calendars.library_days("trading", 2025),
    )


def engineer(group: AssignmentGroup | None = None, role: Role = Role.OPS_ENGINEER) -> User:
    user = make_user(role)
    if group is not None:
        group.members.add(user)
    return user


def make_group(**kw: Any) -> AssignmentGroup:
    return AssignmentGroup.objects.create(name=kw.pop("name", unique("group-")), **kw)


def make_ticket(by: User | None = None, **kw: Any) -> Ticket:
    values: dict[str, Any] = {
        "kind": "incident",
        "title": "Branch firewall down",
        "source": "phone",
        "impact": 2,
        "urgency": 2,
        "site": kw.pop("site", None) or make_site(),
    }
    values.update(kw)
    return services.open_ticket(by=by or make_user(Role.NOC_OPERATOR), **values)


def policy(priority: int, calendar: str, response: int, resolution: int, **kw: Any) -> SlaPolicy:
    """Replace the shipped policy of a priority (for examples with round numbers)."""
    SlaPolicy.objects.filter(priority=priority, category__isnull=True, site_kind="").delete()
    return SlaPolicy.objects.create(
        name=kw.pop("name", unique("policy-")),
        priority=priority,
        calendar=BusinessCalendar.objects.get(code=calendar),
        response_minutes=response,
        resolution_minutes=resolution,
        **kw,
    )
