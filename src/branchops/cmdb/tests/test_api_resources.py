"""Every estate resource of the REST API behaves the same way: a declaration per resource
drives the same CRUD, validation and permission specification."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from branchops.cmdb import models as m
from branchops.cmdb.choices import RegionLevel
from branchops.core.choices import AuditAction, Role, TokenScope
from branchops.core.models import ApiToken, AuditEvent, BusinessCalendar
from branchops.core.testing import (
    ApiClient,
    make_device,
    make_model,
    make_region,
    make_site,
    make_user,
    unique,
)

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Case:
    resource: str
    model: type[Any]
    valid: Callable[[], dict[str, Any]]  # a valid create body; builds what it refers to
    change: dict[str, Any]  # a PATCH that must stick
    invalid: dict[str, Any]  # merged into a valid body, makes it invalid ...
    invalid_field: str  # ... and the error must name this field

    def __str__(self) -> str:
        return self.resource


def _vendor_id() -> int:
    return m.Manufacturer.objects.create(slug=unique("v"), name=unique("Vendor ")).pk


def _device_body() -> dict[str, Any]:
    site = make_site()
    return {
        "name": unique("SH-FW"),
        "site_id": site.pk,
        "role_id": m.DeviceRole.objects.get(slug="firewall").pk,
        "device_model_id": make_model().pk,
        "serial": unique("SN"),
        "management_ip": "127.10.0.1",
    }


def _link_body() -> dict[str, Any]:
    branch_fw, concentrator = make_device(), make_device(role="vpn-concentrator")
    return {
        "name": unique("VPN-"),
        "kind": "vpn",
        "a_site_id": branch_fw.site_id,
        "a_device_id": branch_fw.pk,
        "b_site_id": concentrator.site_id,
        "b_device_id": concentrator.pk,
        "carrier": "中国电信",
        "bandwidth_mbps": 100,
    }


def _contract_body() -> dict[str, Any]:
    today = timezone.localdate()
    return {
        "number": unique("HT-"),
        "name": "防火墙维保",
        "provider": "Hillstone",
        "coverage": "7x24x4",
        "starts_on": str(today - dt.timedelta(days=30)),
        "ends_on": str(today + dt.timedelta(days=335)),
        "cost": "120000.00",
        "devices": [make_device().pk],
    }


CASES = [
    Case(
        "regions",
        m.Region,
        lambda: {"code": unique("east-"), "name": unique("华东"), "level": "region"},
        {"name_en": "East China"},
        {"level": "galaxy"},
        "level",
    ),
    Case(
        "manufacturers",
        m.Manufacturer,
        lambda: {"slug": unique("huawei-"), "name": unique("Huawei ")},
        {"name": "Huawei 华为"},
        {"slug": "not a slug!"},
        "slug",
    ),
    Case(
        "platforms",
        m.Platform,
        lambda: {"slug": unique("vrp-"), "name": unique("VRP "), "manufacturer_id": _vendor_id()},
        {"name": "VRP 8"},
        {"manufacturer_id": 999_999},
        "manufacturer_id",
    ),
    Case(
        "device-roles",
        m.DeviceRole,
        lambda: {"slug": unique("ids-"), "name": unique("入侵检测"), "is_network": True},
        {"name_en": "Intrusion detection"},
        {"name": ""},
        "name",
    ),
    Case(
        "device-models",
        m.DeviceModel,
        lambda: {"manufacturer_id": _vendor_id(), "name": unique("S5735-")},
        {"end_of_support": "2030-12-31"},
        {"end_of_sale": "not a date"},
        "end_of_sale",
    ),
    Case(
        "sites",
        m.Site,
        lambda: {
            "code": unique("BR-"),
            "name": unique("示例证券杭州解放路营业部"),
            "kind": "branch",
            "region_id": make_region().pk,
            "calendar_id": BusinessCalendar.objects.get(code="xshg-trading").pk,
            "latitude": "30.25",
            "longitude": "120.17",
        },
        {"status": "suspended"},
        {"latitude": "95"},
        "latitude",
    ),
    Case(
        "devices",
        m.Device,
        _device_body,
        {"firmware_version": "5.5R9P3"},
        {"management_ip": "999.1.1.1"},
        "management_ip",
    ),
    Case("links", m.Link, _link_body, {"bandwidth_mbps": 200}, {"b_site_id": None}, "b_site_id"),
    Case(
        "contacts",
        m.Contact,
        lambda: {
            "name": unique("张伟"),
            "role": "branch_it",
            "mobile": "13900000000",
            "sites": [make_site().pk],
        },
        {"title": "IT 联络人"},
        {"email": "not-an-email"},
        "email",
    ),
    Case(
        "systems",
        m.InformationSystem,
        lambda: {
            "code": unique("trading-"),
            "name": unique("集中交易系统"),
            "category": "real_time",
        },
        {"owner": "信息技术部"},
        {"required_capability": {"fault": 9}},
        "required_capability",
    ),
    Case(
        "system-deployments",
        m.SystemDeployment,
        lambda: {
            "system_id": m.InformationSystem.objects.create(
                code=unique("sys-"), name=unique("估值系统"), category="non_real_time"
            ).pk,
            "site_id": make_site().pk,
            "role": "production",
        },
        {"description": "主机房 A 区"},
        {"device_id": 999_999},
        "device_id",
    ),
    Case(
        "contracts",
        m.MaintenanceContract,
        _contract_body,
        {"notes": "续签中"},
        {"ends_on": "2000-01-01"},
        "ends_on",
    ),
]


def url(case: Case, pk: int | None = None) -> str:
    return f"/api/v1/{case.resource}/" + (f"{pk}/" if pk is not None else "")


def audit_actions(model: type[Any], pk: int) -> list[str]:
    ct = ContentType.objects.get_for_model(model)
    events = AuditEvent.objects.filter(content_type=ct, object_id=str(pk)).order_by("at", "id")
    return list(events.values_list("action", flat=True))


@pytest.fixture
def admin_api() -> ApiClient:
    return ApiClient(make_user(Role.ADMIN))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_create_read_change_delete_with_an_audit_trail(case: Case, admin_api: ApiClient) -> None:
    created = admin_api.post(url(case), case.valid())
    assert created.status_code == 201, created.content
    pk = created.json()["id"]

    assert admin_api.get(url(case, pk)).json() == created.json()

    patched = admin_api.patch(url(case, pk), case.change)
    assert patched.status_code == 200, patched.content
    for key, value in case.change.items():
        assert str(patched.json()[key]) == str(value) or patched.json()[key] == value

    assert admin_api.delete(url(case, pk)).status_code == 204
    assert admin_api.get(url(case, pk)).status_code == 404
    assert not case.model.objects.filter(pk=pk).exists()
    create, update = AuditAction.CREATE.value, AuditAction.UPDATE.value
    assert audit_actions(case.model, pk)[:2] == [create, update]
    assert AuditEvent.objects.filter(action=AuditAction.DELETE, before__id=pk).exists()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_put_replaces_the_whole_object(case: Case, admin_api: ApiClient) -> None:
    body = case.valid()
    pk = admin_api.post(url(case), body).json()["id"]
    replaced = admin_api.put(url(case, pk), {**body, **case.change})
    assert replaced.status_code == 200, replaced.content


@pytest.mark.parametrize("case", CASES, ids=str)
def test_list_pages_and_counts(case: Case, admin_api: ApiClient) -> None:
    for _ in range(3):
        assert admin_api.post(url(case), case.valid()).status_code == 201
    total = case.model.objects.count()

    page = admin_api.get(url(case), limit=2, offset=1).json()

    assert page["count"] == total
    assert (page["limit"], page["offset"]) == (2, 1)
    assert len(page["results"]) == 2


@pytest.mark.parametrize("case", CASES, ids=str)
def test_invalid_body_is_400_naming_the_field_and_writes_nothing(
    case: Case, admin_api: ApiClient
) -> None:
    body = {**case.valid(), **case.invalid}
    before = case.model.objects.count()

    answer = admin_api.post(url(case), body)

    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    assert case.invalid_field in error["fields"], error
    assert case.model.objects.count() == before


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bulk_create_is_all_or_none(case: Case, admin_api: ApiClient) -> None:
    before = case.model.objects.count()
    good, bad = case.valid(), {**case.valid(), **case.invalid}

    refused = admin_api.post(url(case) + "bulk/", [good, bad])

    assert refused.status_code == 400, refused.content
    assert refused.json()["error"]["code"] == "invalid_rows"
    assert [row["index"] for row in refused.json()["error"]["rows"]] == [1]
    assert case.model.objects.count() == before

    accepted = admin_api.post(url(case) + "bulk/", [case.valid(), case.valid()])
    assert accepted.status_code == 201, accepted.content
    assert case.model.objects.count() == before + 2


@pytest.mark.parametrize("case", CASES, ids=str)
def test_missing_object_is_404(case: Case, admin_api: ApiClient) -> None:
    answer = admin_api.get(url(case, 987_654))
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer nonsense", "Token abc", "Bearer bo_000000000000_" + "x" * 43],
)
def test_missing_or_malformed_credentials_are_401(case: Case, authorization: str) -> None:
    from django.test import Client

    headers = {"Authorization": authorization} if authorization else {}
    answer = Client().get(url(case), headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_expired_and_revoked_tokens_are_401(case: Case) -> None:
    client = ApiClient(make_user(Role.ADMIN))
    token = ApiToken.objects.get(user=client.user)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(1))
    assert client.get(url(case)).status_code == 401

    ApiToken.objects.filter(pk=token.pk).update(expires_at=None, revoked_at=timezone.now())
    assert client.get(url(case)).status_code == 401


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("role", [Role.AUDITOR, Role.NOC_OPERATOR])
def test_read_only_roles_read_but_cannot_write(
    case: Case, role: Role, admin_api: ApiClient
) -> None:
    pk = admin_api.post(url(case), case.valid()).json()["id"]
    reader = ApiClient(make_user(role))

    assert reader.get(url(case)).status_code == 200
    assert reader.get(url(case, pk)).status_code == 200
    for answer in (
        reader.post(url(case), case.valid()),
        reader.patch(url(case, pk), case.change),
        reader.delete(url(case, pk)),
    ):
        assert answer.status_code == 403, answer.content
        assert answer.json()["error"]["code"] == "forbidden"
    assert case.model.objects.filter(pk=pk).exists()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_read_only_token_cannot_write(case: Case) -> None:
    client = ApiClient(make_user(Role.ADMIN), scope=TokenScope.READ)
    assert client.get(url(case)).status_code == 200
    assert client.post(url(case), case.valid()).status_code == 403
    # Refused for the token before the body is even read: a bad body is still 403.
    assert client.post(url(case), {"nonsense": True}).status_code == 403
    assert client.post(url(case) + "bulk/", [case.valid()]).status_code == 403


def test_region_filter_includes_everything_below_it(admin_api: ApiClient) -> None:
    east = make_region(RegionLevel.REGION, code="east")
    zhejiang = make_region(RegionLevel.PROVINCE, code="zhejiang", parent=east)
    hangzhou = make_region(RegionLevel.CITY, code="hangzhou", parent=zhejiang)
    inside = make_device(make_site(region=hangzhou))
    make_device(make_site())  # elsewhere

    for region in ("east", str(zhejiang.pk), "hangzhou"):
        found = admin_api.get("/api/v1/devices/", region=region).json()
        assert [d["id"] for d in found["results"]] == [inside.pk], region
    assert admin_api.get("/api/v1/devices/", region="nowhere").json()["count"] == 0


def test_device_filters_and_search_combine(admin_api: ApiClient) -> None:
    site = make_site(code="BR-0042")
    firewall = make_device(site, serial="HS2023XYZ", status="active")
    make_device(site, role="access-switch")
    make_device(role="firewall")

    by_site_and_role = admin_api.get("/api/v1/devices/", site="BR-0042", role="firewall").json()
    assert [d["id"] for d in by_site_and_role["results"]] == [firewall.pk]
    assert admin_api.get("/api/v1/devices/", q="xyz").json()["results"][0]["id"] == firewall.pk
    assert admin_api.get("/api/v1/devices/", vendor="hillstone").json()["count"] == 3


def test_ordering_is_checked(admin_api: ApiClient) -> None:
    assert admin_api.get("/api/v1/devices/", ordering="-name").status_code == 200
    refused = admin_api.get("/api/v1/devices/", ordering="password")
    assert refused.status_code == 400
    assert "password" in refused.json()["error"]["message"]


def test_deleting_a_site_in_use_is_409_and_says_why(admin_api: ApiClient) -> None:
    device = make_device()
    answer = admin_api.delete(f"/api/v1/sites/{device.site_id}/")
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "conflict"
    assert m.Site.objects.filter(pk=device.site_id).exists()


def test_unparseable_json_is_400(admin_api: ApiClient) -> None:
    answer = admin_api.client.post(
        "/api/v1/devices/",
        "{not json",
        content_type="application/json",
        headers=admin_api._headers(),
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] in {"bad_request", "invalid"}


def test_unknown_fields_are_ignored_and_unknown_endpoints_are_json_404(
    admin_api: ApiClient,
) -> None:
    body = {**_device_body(), "colour": "blue"}
    assert admin_api.post("/api/v1/devices/", body).status_code == 201
    missing = admin_api.get("/api/v1/no-such-thing/")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_openapi_document_lists_every_resource(admin_api: ApiClient) -> None:
    schema = admin_api.get("/api/v1/openapi.json").json()
    for case in CASES:
        assert f"/api/v1/{case.resource}/" in schema["paths"]
    docs = admin_api.client.get("/api/docs")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()


def test_a_page_past_the_end_is_empty_but_still_counts(admin_api: ApiClient) -> None:
    for _ in range(3):
        make_device()
    page = admin_api.get("/api/v1/devices/", offset=10, limit=5).json()
    assert (page["count"], page["results"]) == (3, [])
    assert admin_api.get("/api/v1/devices/", role="no-such-role").json()["count"] == 0
