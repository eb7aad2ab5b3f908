"""A new branch from a site template: its devices, dependencies and VPN links in one step,
monitored at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from branchops.cmdb.choices import LinkKind, SiteKind
from branchops.cmdb.models import Device, DeviceModel, Link, Manufacturer, Platform, Site
from branchops.cmdb.site_templates import SiteTemplate, load_all
from branchops.core.choices import AuditAction, Role
from branchops.core.models import AuditEvent
from branchops.core.profiles import ProfileError, load_yaml_model
from branchops.core.testing import ApiClient, make_device, make_region, make_site, make_user
from branchops.monitoring.models import Check

pytestmark = pytest.mark.django_db


@pytest.fixture
def centre() -> dict[str, Any]:
    """The data centres with their concentrators, and the models the template names."""
    for spec in load_all()["standard-branch"].devices:
        vendor, _ = Manufacturer.objects.get_or_create(
            slug=spec.manufacturer, defaults={"name": spec.manufacturer.title()}
        )
        DeviceModel.objects.get_or_create(manufacturer=vendor, name=spec.model)
        if spec.platform:
            Platform.objects.get_or_create(slug=spec.platform, defaults={"name": spec.platform})
    hq = make_site(code="DC-HQ", kind=SiteKind.HQ_DATA_CENTRE)
    dr = make_site(code="DC-DR", kind=SiteKind.SAME_CITY_DR)
    return {
        "hq_vpn": make_device(hq, role="vpn-concentrator", name="HQ-VPN"),
        "dr_vpn": make_device(dr, role="vpn-concentrator", name="DR-VPN"),
        "region": make_region(),
    }


def body(centre: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "code": "BR-0999",
        "name": "示例证券苏州观前街营业部",
        "region_id": centre["region"].pk,
        "management_base": "127.44.3.0",
        **extra,
    }


def test_the_standard_branch_becomes_a_monitored_site(
    centre: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    api = ApiClient(make_user(Role.OPS_ENGINEER))
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post("/api/v1/sites/from-template/", body(centre))
    assert answer.status_code == 201, answer.content

    site = Site.objects.get(code="BR-0999")
    devices = {d.name: d for d in Device.objects.filter(site=site)}
    assert len(devices) == 10
    assert devices["BR-0999-SW02"].depends_on == devices["BR-0999-SW01"]
    assert devices["BR-0999-AP01"].depends_on == devices["BR-0999-WLC01"]
    assert str(devices["BR-0999-FW01"].management_ip) == "127.44.3.10"

    links = {lk.name: lk for lk in Link.objects.filter(a_site=site)}
    assert links["BR-0999 VPN HQ"].b_device == centre["hq_vpn"]
    assert links["BR-0999 VPN DR"].b_device == centre["dr_vpn"]
    assert links["BR-0999 VPN HQ"].underlay == links["BR-0999 INTERNET"]
    assert links["BR-0999 INTERNET"].kind == LinkKind.INTERNET

    checks = Check.objects.filter(site=site)
    assert checks.filter(kind="icmp").count() == 10
    assert checks.filter(kind="vpn_tunnel").count() == 2
    created = AuditEvent.objects.filter(action=AuditAction.CREATE)
    assert created.count() == 1 + 10 + 3


def test_nothing_is_created_when_anything_is_wrong(centre: dict[str, Any]) -> None:
    api = ApiClient(make_user(Role.OPS_ENGINEER))
    make_site(code="BR-0999")  # the code is taken
    answer = api.post("/api/v1/sites/from-template/", body(centre))
    assert answer.status_code == 400
    assert "code" in answer.json()["error"]["fields"]
    assert not Device.objects.filter(name__startswith="BR-0999-").exists()

    bad_base = api.post(
        "/api/v1/sites/from-template/", body(centre, code="BR-1000", management_base="127.44.3.7")
    )
    assert "management_base" in bad_base.json()["error"]["fields"]
    assert not Site.objects.filter(code="BR-1000").exists()


def test_a_missing_concentrator_is_named(centre: dict[str, Any]) -> None:
    centre["dr_vpn"].delete()
    answer = ApiClient(make_user(Role.OPS_ENGINEER)).post(
        "/api/v1/sites/from-template/", body(centre)
    )
    assert answer.status_code == 400
    assert "template" in answer.json()["error"]["fields"]
    assert not Site.objects.filter(code="BR-0999").exists()


def test_only_those_who_may_add_sites_may_use_it(centre: dict[str, Any]) -> None:
    for role in (Role.NOC_OPERATOR, Role.BRANCH_LIAISON, Role.TECHNICAL_EXPERT):
        answer = ApiClient(make_user(role)).post("/api/v1/sites/from-template/", body(centre))
        assert answer.status_code == 403
    assert not Site.objects.filter(code="BR-0999").exists()


def test_templates_are_listed_and_validated(tmp_path: Path) -> None:
    assert "standard-branch" in load_all()
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "name: broken\ndevices:\n  - {suffix: SW01, role: core-switch, manufacturer: huawei,\n"
        "     model: S5735-S24T4X, ip_offset: 11, depends_on: FW01}\n",
        encoding="utf-8",
    )
    with pytest.raises(ProfileError, match="depends on FW01, which must come first"):
        load_yaml_model(broken, SiteTemplate)
