"""Builders shared by the tests of the monitoring pages (no tests here).

Two branches with a firewall each (the shipped templates give every firewall its checks),
an access point at the first, and a VPN link from the first firewall to an HQ concentrator.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import Client
from django.utils import timezone

from branchops.cmdb.choices import Criticality, LinkKind, SiteKind
from branchops.core.models import User
from branchops.core.testing import make_device, make_link, make_region, make_site
from branchops.monitoring import services
from branchops.monitoring.models import Check, CheckStatus

XSS = "<script>alert('x')</script>"
XSS_ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
HTMX = {"hx-request": "true", "hx-target": "object-list"}


def client_for(user: User, language: str = "en") -> Client:
    client = Client(headers={"accept-language": language})
    client.force_login(user)
    return client


def build_estate() -> dict[str, Any]:
    region = make_region(name="Hangzhou")
    own = make_site(code="BR-OWN", name="Own branch", region=region)
    other = make_site(code="BR-OTHER", name="Other branch", region=make_region(name="Wuhan"))
    hq = make_site(SiteKind.HQ_DATA_CENTRE, code="DC-HQ", name="HQ", region=region)
    fw = make_device(
        own, name="own-fw", management_ip="127.20.0.10", criticality=Criticality.CRITICAL
    )
    ap = make_device(
        own, role="wifi-ap", name="own-ap", management_ip="127.20.0.20", criticality=Criticality.LOW
    )
    other_fw = make_device(
        other, name="other-fw", management_ip="127.20.1.10", criticality=Criticality.CRITICAL
    )
    concentrator = make_device(
        hq, role="vpn-concentrator", name="hq-vpn", management_ip="127.0.0.1"
    )
    vpn = make_link(fw, concentrator, kind=LinkKind.VPN, name="own-vpn")
    services.sync()
    return {
        "region": region,
        "own": own,
        "other": other,
        "hq": hq,
        "fw": fw,
        "ap": ap,
        "other_fw": other_fw,
        "vpn": vpn,
    }


def check_of(device_name: str, kind: str) -> Check:
    return Check.objects.get(device__name=device_name, kind=kind)


def set_state(
    check: Check,
    state: str,
    *,
    error: str = "",
    summary: str = "",
    overdue_minutes: float = 5,
    ran_seconds_ago: float = 12,
) -> Check:
    now = timezone.now()
    CheckStatus.objects.filter(for_check=check).update(
        state=state,
        last_error=error,
        summary=summary,
        last_run_at=now - dt.timedelta(seconds=ran_seconds_ago),
        overdue_at=now + dt.timedelta(minutes=overdue_minutes),
    )
    return check
