"""A branch liaison sees and changes only their own sites' objects through the API,
and nothing about other branches leaks (another branch's objects are 404, not 403)."""

from __future__ import annotations

import pytest

from branchops.cmdb.models import Contact, Device, InformationSystem, Site, SystemDeployment
from branchops.core.choices import Role
from branchops.core.testing import (
    ApiClient,
    make_device,
    make_link,
    make_model,
    make_site,
    make_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate() -> dict[str, object]:
    own, other = make_site(code="BR-OWN"), make_site(code="BR-OTHER")
    hq = make_site(code="DC-HQ", kind="hq_dc")
    own_fw, other_fw = make_device(own, name="own-fw"), make_device(other, name="other-fw")
    concentrator = make_device(hq, role="vpn-concentrator", name="hq-vpn")
    return {
        "own": own,
        "other": other,
        "own_fw": own_fw,
        "other_fw": other_fw,
        "own_link": make_link(own_fw, concentrator, name="own-vpn"),
        "other_link": make_link(other_fw, concentrator, name="other-vpn"),
        "liaison": ApiClient(make_user(Role.BRANCH_LIAISON, sites=(own,))),
    }


def ids(answer: object) -> set[int]:
    return {row["id"] for row in answer.json()["results"]}  # type: ignore[attr-defined]


def test_lists_show_only_own_sites_and_their_objects(estate: dict) -> None:
    api = estate["liaison"]
    assert ids(api.get("/api/v1/sites/")) == {estate["own"].pk}
    assert ids(api.get("/api/v1/devices/")) == {estate["own_fw"].pk}
    assert ids(api.get("/api/v1/links/")) == {estate["own_link"].pk}
    assert api.get("/api/v1/devices/", q="other").json()["count"] == 0


def test_other_branches_are_404_whether_reading_or_writing(estate: dict) -> None:
    api = estate["liaison"]
    other_fw = estate["other_fw"]
    for answer in (
        api.get(f"/api/v1/sites/{estate['other'].pk}/"),
        api.get(f"/api/v1/devices/{other_fw.pk}/"),
        api.patch(f"/api/v1/devices/{other_fw.pk}/", {"firmware_version": "hacked"}),
        api.delete(f"/api/v1/devices/{other_fw.pk}/"),
    ):
        assert answer.status_code == 404
    other_fw.refresh_from_db()
    assert other_fw.firmware_version == ""


def test_liaison_edits_devices_of_own_site(estate: dict) -> None:
    api, own_fw = estate["liaison"], estate["own_fw"]
    answer = api.patch(f"/api/v1/devices/{own_fw.pk}/", {"firmware_version": "5.5R10"})
    assert answer.status_code == 200
    own_fw.refresh_from_db()
    assert own_fw.firmware_version == "5.5R10"


def test_liaison_cannot_move_a_device_to_another_site(estate: dict) -> None:
    api, own_fw = estate["liaison"], estate["own_fw"]
    answer = api.patch(f"/api/v1/devices/{own_fw.pk}/", {"site_id": estate["other"].pk})
    assert answer.status_code == 403
    own_fw.refresh_from_db()
    assert own_fw.site_id == estate["own"].pk


def test_liaison_creates_devices_only_at_own_site(estate: dict) -> None:
    api = estate["liaison"]
    body = {
        "name": "new-switch",
        "role_id": estate["own_fw"].role_id,
        "device_model_id": make_model().pk,
    }
    assert api.post("/api/v1/devices/", {**body, "site_id": estate["own"].pk}).status_code == 201
    refused = api.post("/api/v1/devices/", {**body, "site_id": estate["other"].pk})
    assert refused.status_code == 403
    assert not Device.objects.filter(site=estate["other"], name="new-switch").exists()


def test_liaison_changes_links_from_own_branch_but_not_those_owned_by_hq(estate: dict) -> None:
    api, own_link = estate["liaison"], estate["own_link"]
    assert api.patch(f"/api/v1/links/{own_link.pk}/", {"bandwidth_mbps": 50}).status_code == 200

    concentrator = Device.objects.get(name="hq-vpn")
    hq_owned = make_link(concentrator, estate["own_fw"], kind="leased_line", name="hq-leased")
    assert api.get(f"/api/v1/links/{hq_owned.pk}/").status_code == 200
    assert api.patch(f"/api/v1/links/{hq_owned.pk}/", {"bandwidth_mbps": 1}).status_code == 403
    hq_owned.refresh_from_db()
    assert hq_owned.bandwidth_mbps is None


def test_liaison_cannot_create_sites_or_change_reference_data(estate: dict) -> None:
    api = estate["liaison"]
    region_id = estate["own"].region_id
    body = {"code": "BR-NEW", "name": "新营业部", "kind": "branch", "region_id": region_id}
    assert api.post("/api/v1/sites/", body).status_code == 403
    assert not Site.objects.filter(code="BR-NEW").exists()
    assert api.post("/api/v1/manufacturers/", {"slug": "x", "name": "X"}).status_code == 403


def test_contacts_must_belong_only_to_own_sites(estate: dict) -> None:
    api = estate["liaison"]
    own, other = estate["own"].pk, estate["other"].pk
    assert api.post("/api/v1/contacts/", {"name": "李娜", "sites": [own]}).status_code == 201
    assert api.post("/api/v1/contacts/", {"name": "王强", "sites": [own, other]}).status_code == 403
    assert api.post("/api/v1/contacts/", {"name": "赵敏", "sites": []}).status_code == 403
    assert list(Contact.objects.values_list("name", flat=True)) == ["李娜"]


def test_systems_are_visible_only_where_deployed_at_own_sites(estate: dict) -> None:
    api = estate["liaison"]
    here = InformationSystem.objects.create(code="online", name="网上交易", category="real_time")
    elsewhere = InformationSystem.objects.create(
        code="ta", name="TA 系统", category="non_real_time"
    )
    SystemDeployment.objects.create(system=here, site=estate["own"])
    SystemDeployment.objects.create(system=elsewhere, site=estate["other"])
    assert ids(api.get("/api/v1/systems/")) == {here.pk}
    assert api.patch(f"/api/v1/systems/{here.pk}/", {"owner": "x"}).status_code == 403
