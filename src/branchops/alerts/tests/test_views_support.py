"""Builders shared by the tests of the alert pages (no tests here).

Two branches (one of them a liaison's) with a firewall each, and alerts made directly, as
the pipeline would have written them.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.test import Client
from django.utils import timezone

from branchops.alerts.models import Alert
from branchops.cmdb.models import Device, Site
from branchops.core.models import User
from branchops.core.testing import make_device, make_region, make_site

XSS = "<script>alert('x')</script>"
XSS_ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
HTMX = {"hx-request": "true", "hx-target": "object-list"}

_fingerprints = itertools.count(1)


def client_for(user: User, language: str = "en") -> Client:
    # enforce_csrf_checks: the pages' forms must carry their token, as in a browser.
    client = Client(enforce_csrf_checks=True, headers={"accept-language": language})
    client.force_login(user)
    return client


def csrf_post(client: Client, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
    """POST as the page's form does: with the token the page handed out."""
    client.get("/alerts/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    return client.post(url, {**(data or {}), "csrfmiddlewaretoken": token}, **kw)


def build_estate() -> dict[str, Any]:
    own = make_site(code="BR-OWN", name="Own branch", region=make_region(name="Hangzhou"))
    other = make_site(code="BR-OTHER", name="Other branch", region=make_region(name="Wuhan"))
    return {
        "own": own,
        "other": other,
        "own_fw": make_device(own, name="own-fw", management_ip="127.20.0.10"),
        "other_fw": make_device(other, name="other-fw", management_ip="127.20.1.10"),
    }


def make_alert(
    *,
    site: Site | None = None,
    device: Device | None = None,
    title: str = "",
    severity: int = 2,
    minutes_ago: float = 5,
    **kw: Any,
) -> Alert:
    started = timezone.now() - dt.timedelta(minutes=minutes_ago)
    number = next(_fingerprints)
    return Alert.objects.create(
        fingerprint=kw.pop("fingerprint", f"fp-{number}"),
        source=kw.pop("source", "check"),
        name=kw.pop("name", "DeviceDown"),
        severity=severity,
        title=title or f"Alert {number}",
        site=site,
        device=device,
        started_at=started,
        last_seen_at=started,
        **kw,
    )
