"""Builders shared by the tests of the ticket pages (no tests here).

Two branches (one of them a liaison's), a network group with an engineer in it, and
tickets opened through the services, as the pages would.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.test import Client
from django.utils import timezone

from branchops.core.choices import Role
from branchops.core.models import User
from branchops.core.testing import make_device, make_region, make_site, make_user
from branchops.servicedesk import services
from branchops.servicedesk.models import Ticket
from branchops.servicedesk.tests.support import make_group

XSS = "<script>alert('x')</script>"
XSS_ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
HTMX = {"hx-request": "true", "hx-target": "object-list"}


def client_for(user: User, language: str = "en") -> Client:
    # enforce_csrf_checks: the pages' forms must carry their token, as in a browser.
    client = Client(enforce_csrf_checks=True, headers={"accept-language": language})
    client.force_login(user)
    return client


def csrf_post(client: Client, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
    """POST as the page's form does: with the token the page handed out."""
    client.get("/servicedesk/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    return client.post(url, {**(data or {}), "csrfmiddlewaretoken": token}, **kw)


def build_desk() -> dict[str, Any]:
    own = make_site(code="BR-OWN", name="Own branch", region=make_region(name="Hangzhou"))
    other = make_site(code="BR-OTHER", name="Other branch", region=make_region(name="Wuhan"))
    network = make_group(name="Network")
    engineer = make_user(Role.OPS_ENGINEER, username="li.eng")
    network.members.add(engineer)
    return {
        "own": own,
        "other": other,
        "own_fw": make_device(own, name="own-fw", management_ip="127.21.0.10"),
        "other_fw": make_device(other, name="other-fw", management_ip="127.21.1.10"),
        "network": network,
        "engineer": engineer,
        "noc": make_user(Role.NOC_OPERATOR, username="noc"),
    }


def open_ticket(
    desk: dict[str, Any], *, minutes_ago: float = 0, site: str = "own", **kw: Any
) -> Ticket:
    values: dict[str, Any] = {
        "kind": "incident",
        "title": "Trading terminals frozen",
        "source": "phone",
        "impact": 2,
        "urgency": 2,
        "site": desk[site],
    }
    values.update(kw)
    created = timezone.now() - dt.timedelta(minutes=minutes_ago) if minutes_ago else None
    return services.open_ticket(by=desk["noc"], created_at=created, **values)


def clock_states(page: str, ticket: Ticket) -> dict[str, str]:
    """{clock: look} read from the SLA badges of a ticket's row in the list."""
    row = re.search(rf'<tr data-ticket="{ticket.pk}">(.*?)</tr>', page, re.S)
    assert row is not None, f"no row for {ticket.number}"
    found = re.findall(r'data-bo-clock="(\w+)" data-bo-clock-state="(\w+)"', row.group(1))
    return dict(found)
