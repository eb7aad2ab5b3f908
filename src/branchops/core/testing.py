"""Builders for tests: small functions that create real rows with sensible defaults.

Objects are built explicitly (no fixtures hidden in JSON); each builder takes keyword
overrides for whatever a test cares about.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from django.test import Client

from branchops.cmdb.choices import LinkKind, RegionLevel, SiteKind
from branchops.cmdb.models import (
    Device,
    DeviceModel,
    DeviceRole,
    Link,
    Manufacturer,
    Region,
    Site,
)
from branchops.core.choices import Role, TokenScope
from branchops.core.models import User
from branchops.core.tokens import create_token

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery"


def unique(prefix: str) -> str:
    return f"{prefix}{next(_seq)}"


def make_user(role: Role = Role.ADMIN, *, sites: tuple[Site, ...] = (), **kw: Any) -> User:
    username = kw.pop("username", unique(role.value + "-"))
    user = User.objects.create_user(username=username, password=PASSWORD, role=role, **kw)
    if sites:
        user.liaison_sites.set(sites)
    return user


def make_region(level: RegionLevel = RegionLevel.CITY, **kw: Any) -> Region:
    if "parent" not in kw and level != RegionLevel.REGION:
        parent_level = RegionLevel.PROVINCE if level == RegionLevel.CITY else RegionLevel.REGION
        kw["parent"] = make_region(parent_level)
    code = kw.pop("code", unique(f"{level.value}-"))
    return Region.objects.create(code=code, name=kw.pop("name", code), level=level, **kw)


def make_site(kind: SiteKind = SiteKind.BRANCH, **kw: Any) -> Site:
    code = kw.pop("code", unique("S"))
    region = kw.pop("region", None) or make_region()
    return Site.objects.create(
        code=code, name=kw.pop("name", f"Site {code}"), kind=kind, region=region, **kw
    )


def make_model(**kw: Any) -> DeviceModel:
    vendor = (
        kw.pop("manufacturer", None)
        or Manufacturer.objects.get_or_create(slug="hillstone", defaults={"name": "Hillstone"})[0]
    )
    return DeviceModel.objects.get_or_create(
        manufacturer=vendor, name=kw.pop("name", "SG-6000-E2300"), defaults=kw
    )[0]


def make_device(site: Site | None = None, role: str = "firewall", **kw: Any) -> Device:
    return Device.objects.create(
        name=kw.pop("name", unique("dev-")),
        site=site or make_site(),
        role=DeviceRole.objects.get(slug=role),
        device_model=kw.pop("device_model", None) or make_model(),
        **kw,
    )


def make_link(a: Device, b: Device | None, kind: LinkKind = LinkKind.VPN, **kw: Any) -> Link:
    return Link.objects.create(
        name=kw.pop("name", unique("link-")),
        kind=kind,
        a_site=a.site,
        a_device=a,
        b_site=b.site if b else None,
        b_device=b,
        **kw,
    )


class ApiClient:
    """A Django test client that speaks JSON with a bearer token."""

    def __init__(self, user: User, scope: TokenScope = TokenScope.WRITE) -> None:
        self.user = user
        _, self.token = create_token(user=user, name="test", scope=scope)
        self.client = Client()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params, headers=self._headers())

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(
            path, json.dumps(body), content_type="application/json", headers=self._headers()
        )

    def put(self, path: str, body: Any) -> Any:
        return self.client.put(
            path, json.dumps(body), content_type="application/json", headers=self._headers()
        )

    def patch(self, path: str, body: Any) -> Any:
        return self.client.patch(
            path, json.dumps(body), content_type="application/json", headers=self._headers()
        )

    def delete(self, path: str) -> Any:
        return self.client.delete(path, headers=self._headers())
