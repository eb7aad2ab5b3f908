"""A resource served with plain pages answers exactly what ninja's schema path answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ninja import Schema

from branchops.cmdb import schemas
from branchops.cmdb.choices import DeviceStatus
from branchops.cmdb.models import Device
from branchops.core.choices import Role
from branchops.core.crud import plain_rows
from branchops.core.testing import ApiClient, make_device, make_site, make_user

pytestmark = pytest.mark.django_db


def test_a_device_page_reads_as_the_schema_would_show_it() -> None:
    site = make_site(name="<b>上海分公司</b>")
    upstream = make_device(site, role="vpn-concentrator", management_ip="127.0.0.9")
    make_device(site, depends_on=upstream, installed_on=dt.date(2024, 3, 1),
                status=DeviceStatus.MAINTENANCE, serial="SN-1", description="机房 2F")  # fmt: skip
    devices = list(Device.objects.select_related("site", "role", "device_model__manufacturer"))
    expected = [schemas.DeviceOut.from_orm(d).model_dump(mode="json") for d in devices]
    assert plain_rows(schemas.DeviceOut, devices) == expected


def test_the_device_list_serves_plain_pages_with_the_same_shape() -> None:
    site = make_site()
    make_device(site, installed_on=dt.date(2025, 1, 2))
    body = ApiClient(make_user(Role.ADMIN)).get("/api/v1/devices/").json()
    (row,) = body["results"]
    assert body["count"] == 1
    assert row["installed_on"] == "2025-01-02"
    assert row["site"] == {"id": site.pk, "code": site.code, "name": site.name}


def test_a_schema_with_a_resolver_that_needs_the_request_is_refused() -> None:
    class Contextual(Schema):
        name: str

        def resolve_name(self, obj: Any, context: Any) -> str:
            return str(obj)

    with pytest.raises(TypeError, match="resolve_name"):
        plain_rows(Contextual, [])
