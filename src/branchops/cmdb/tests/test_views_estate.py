"""The estate pages: every page renders, lists filter and sort, edits go through the services
(permission, validation, audit), liaisons see only their sites, and user data is escaped."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from branchops.cmdb.choices import LinkKind, RegionLevel, SiteKind
from branchops.cmdb.models import (
    Contact,
    Device,
    DeviceRole,
    InformationSystem,
    MaintenanceContract,
    Region,
    Site,
    SystemDeployment,
)
from branchops.core.choices import AuditAction, Role
from branchops.core.models import AuditEvent, User
from branchops.core.testing import make_device, make_link, make_region, make_site, make_user

pytestmark = pytest.mark.django_db

XSS = "<script>alert('x')</script>"
XSS_ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
HTMX = {"hx-request": "true", "hx-target": "object-list"}


def client_for(user: User) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


@pytest.fixture
def estate() -> dict[str, Any]:
    city = make_region(RegionLevel.CITY, name="Hangzhou")
    own = make_site(
        code="BR-OWN", name="Own branch", region=city, latitude="30.27", longitude="120.15"
    )
    other = make_site(code="BR-OTHER", name="Other branch", region=city)
    hq = make_site(SiteKind.HQ_DATA_CENTRE, code="DC-HQ", name="HQ", region=city)
    own_fw = make_device(own, name="own-fw", serial="SN-OWN", management_ip="10.1.0.1")
    own_sw = make_device(own, role="access-switch", name="own-sw", depends_on=own_fw)
    other_fw = make_device(other, name="other-fw", serial="SN-OTHER")
    concentrator = make_device(hq, role="vpn-concentrator", name="hq-vpn")
    internet = make_link(own_fw, None, kind=LinkKind.INTERNET, name="own-inet", carrier="CT")
    system = InformationSystem.objects.create(
        code="trading", name="集中交易", name_en="Central trading", category="real_time"
    )
    deployment = SystemDeployment.objects.create(system=system, site=hq, device=concentrator)
    today = timezone.localdate()
    contract = MaintenanceContract.objects.create(
        number="MC-1",
        name="Firewall care",
        provider="Hillstone",
        coverage="7x24x4",
        starts_on=today - dt.timedelta(days=300),
        ends_on=today + dt.timedelta(days=30),
    )
    contract.devices.set([own_fw, other_fw])
    contact = Contact.objects.create(name="Wang Wu", role="branch_it")
    contact.sites.set([own])
    return {
        "region": city,
        "own": own,
        "other": other,
        "hq": hq,
        "own_fw": own_fw,
        "own_sw": own_sw,
        "other_fw": other_fw,
        "concentrator": concentrator,
        "own_link": make_link(own_fw, concentrator, name="own-vpn", underlay=internet),
        "other_link": make_link(other_fw, concentrator, name="other-vpn"),
        "internet": internet,
        "system": system,
        "deployment": deployment,
        "contract": contract,
        "contact": contact,
    }


OBJECTS = {
    "region": "region",
    "site": "own",
    "device": "own_fw",
    "link": "own_link",
    "system": "system",
    "contract": "contract",
    "contact": "contact",
}


@pytest.mark.parametrize("kind", OBJECTS)
def test_every_page_renders_for_an_admin(estate: dict[str, Any], kind: str) -> None:
    client = client_for(make_user())
    pk = estate[OBJECTS[kind]].pk
    for name, args in (
        ("list", []),
        ("add", []),
        ("detail", [pk]),
        ("edit", [pk]),
        ("delete", [pk]),
    ):
        response = client.get(reverse(f"cmdb:{kind}_{name}", args=args))
        assert response.status_code == 200, (kind, name)
    detail = client.get(reverse(f"cmdb:{kind}_detail", args=[pk])).content.decode()
    assert reverse(f"cmdb:{kind}_edit", args=[pk]) in detail
    assert reverse(f"cmdb:{kind}_delete", args=[pk]) in detail


def test_every_page_needs_sign_in(estate: dict[str, Any]) -> None:
    response = Client().get(reverse("cmdb:site_detail", args=[estate["own"].pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("core:login"))


def test_region_tree_counts_sites_below(estate: dict[str, Any]) -> None:
    response = client_for(make_user()).get(reverse("cmdb:region_list"))
    rows = {row["region"].pk: row for row in response.context["rows"]}
    city = estate["region"]
    assert rows[city.pk]["own"] == 3
    assert rows[city.parent_id]["total"] == 3
    assert rows[city.parent.parent_id]["depth"] == 0


def test_site_page_shows_devices_links_systems_contracts_and_contacts(
    estate: dict[str, Any],
) -> None:
    response = client_for(make_user()).get(reverse("cmdb:site_detail", args=[estate["own"].pk]))
    page = response.content.decode()
    roles = [role.slug for role, _ in response.context["device_groups"]]
    assert roles == ["firewall", "access-switch"]  # the way traffic enters the site
    for text in ("own-fw", "own-sw", "own-vpn", "own-inet", "MC-1", "Wang Wu", "site-map-data"):
        assert text in page, text
    assert [p["lon"] for p in response.context["map_data"]["points"]] == [120.15]
    hq = client_for(make_user()).get(reverse("cmdb:site_detail", args=[estate["hq"].pk]))
    assert "Central trading" in hq.content.decode()  # the English name in an English UI


def test_device_page_shows_dependencies_both_ways(estate: dict[str, Any]) -> None:
    client = client_for(make_user())
    fw = client.get(reverse("cmdb:device_detail", args=[estate["own_fw"].pk]))
    assert [d.name for d in fw.context["dependants"]] == ["own-sw"]
    assert {link.name for link in fw.context["links"]} == {"own-vpn", "own-inet"}
    assert [c.number for c in fw.context["contracts"]] == ["MC-1"]
    sw = client.get(reverse("cmdb:device_detail", args=[estate["own_sw"].pk]))
    assert [d.name for d in sw.context["upstream"]] == ["own-fw"]


# ---- lists: filters, sorting, htmx -------------------------------------------------------


def test_lists_filter_search_and_sort(estate: dict[str, Any]) -> None:
    client = client_for(make_user())
    url = reverse("cmdb:device_list")
    names = [d.name for d in client.get(url, {"ordering": "-name"}).context["page_obj"]]
    assert names == sorted(names, reverse=True)
    found = client.get(url, {"q": "10.1.0"}).context["page_obj"]
    assert [d.name for d in found] == ["own-fw"]
    found = client.get(url, {"role": DeviceRole.objects.get(slug="access-switch").pk})
    assert [d.name for d in found.context["page_obj"]] == ["own-sw"]
    found = client.get(url, {"region": estate["region"].parent.parent_id, "site": estate["own"].pk})
    assert {d.name for d in found.context["page_obj"]} == {"own-fw", "own-sw"}
    sites = client.get(reverse("cmdb:site_list"), {"kind": "hq_dc"}).context["page_obj"]
    assert [s.code for s in sites] == ["DC-HQ"]
    contracts = client.get(reverse("cmdb:contract_list"), {"state": "expiring"})
    assert [c.number for c in contracts.context["page_obj"]] == ["MC-1"]
    assert (
        client.get(reverse("cmdb:contract_list"), {"state": "expired"})
        .context["page_obj"]
        .paginator.count
        == 0
    )


def test_unknown_ordering_is_ignored(estate: dict[str, Any]) -> None:
    response = client_for(make_user()).get(reverse("cmdb:site_list"), {"ordering": "password"})
    assert response.status_code == 200
    assert response.context["table"].ordering == ""


def test_lists_page_by_fifty(estate: dict[str, Any]) -> None:
    region = estate["region"]
    Site.objects.bulk_create(
        Site(code=f"BR-{n:03}", name=f"B{n}", kind="branch", region=region) for n in range(60)
    )
    client = client_for(make_user())
    first = client.get(reverse("cmdb:site_list"))
    assert len(first.context["page_obj"]) == 50
    second = client.get(reverse("cmdb:site_list"), {"page": 2})
    assert len(second.context["page_obj"]) == 13


def test_htmx_gets_only_the_list(estate: dict[str, Any]) -> None:
    response = client_for(make_user()).get(reverse("cmdb:site_list"), {"q": "own"}, headers=HTMX)
    page = response.content.decode()
    assert page.startswith('<div id="object-list"')
    assert "BR-OWN" in page
    assert "BR-OTHER" not in page
    assert "<html" not in page


# ---- branch liaisons ---------------------------------------------------------------------


def test_liaison_lists_show_only_their_sites(estate: dict[str, Any]) -> None:
    client = client_for(make_user(Role.BRANCH_LIAISON, sites=(estate["own"],)))
    sites = client.get(reverse("cmdb:site_list")).content.decode()
    assert "BR-OWN" in sites
    assert "BR-OTHER" not in sites
    assert "DC-HQ" not in sites
    devices = client.get(reverse("cmdb:device_list")).content.decode()
    assert "own-fw" in devices
    assert "other-fw" not in devices
    contract = client.get(reverse("cmdb:contract_detail", args=[estate["contract"].pk]))
    assert [d.name for d in contract.context["devices"]] == ["own-fw"]


def test_liaison_gets_404_for_other_sites(estate: dict[str, Any]) -> None:
    client = client_for(make_user(Role.BRANCH_LIAISON, sites=(estate["own"],)))
    for name, key in (
        ("site_detail", "other"),
        ("site_edit", "other"),
        ("device_detail", "other_fw"),
        ("device_edit", "other_fw"),
        ("device_delete", "other_fw"),
        ("link_detail", "other_link"),
    ):
        response = client.get(reverse(f"cmdb:{name}", args=[estate[key].pk]))
        assert response.status_code == 404, name
    response = client.post(
        reverse("cmdb:device_edit", args=[estate["other_fw"].pk]), {"name": "taken-over"}
    )
    assert response.status_code == 404
    assert Device.objects.get(pk=estate["other_fw"].pk).name == "other-fw"


def test_liaison_edits_their_device_but_not_the_contract(estate: dict[str, Any]) -> None:
    liaison = make_user(Role.BRANCH_LIAISON, sites=(estate["own"],))
    client = client_for(liaison)
    device = client.get(reverse("cmdb:device_detail", args=[estate["own_fw"].pk]))
    assert reverse("cmdb:device_edit", args=[estate["own_fw"].pk]) in device.content.decode()
    contract = client.get(reverse("cmdb:contract_detail", args=[estate["contract"].pk]))
    assert reverse("cmdb:contract_edit", args=[estate["contract"].pk]) not in (
        contract.content.decode()
    )
    response = client.get(reverse("cmdb:contract_edit", args=[estate["contract"].pk]))
    assert response.status_code == 403
    assert "may not" in response.content.decode()
    # A device form offers only the liaison's own sites.
    form = client.get(reverse("cmdb:device_add")).context["form"]
    assert list(form.fields["site"].queryset) == [estate["own"]]
    # Moving their device to another branch is refused.
    data = device_data(estate["own_fw"], site=estate["other"].pk)
    response = client.post(reverse("cmdb:device_edit", args=[estate["own_fw"].pk]), data)
    assert response.context["form"].errors["site"]
    assert Device.objects.get(pk=estate["own_fw"].pk).site == estate["own"]


# ---- auditors and the 403 page -----------------------------------------------------------


def test_auditor_sees_no_edit_buttons_and_cannot_post(estate: dict[str, Any]) -> None:
    client = client_for(make_user(Role.AUDITOR))
    site = estate["own"]
    page = client.get(reverse("cmdb:site_detail", args=[site.pk])).content.decode()
    assert reverse("cmdb:site_edit", args=[site.pk]) not in page
    assert reverse("cmdb:site_delete", args=[site.pk]) not in page
    assert reverse("cmdb:site_add") not in client.get(reverse("cmdb:site_list")).content.decode()
    response = client.post(reverse("cmdb:site_edit", args=[site.pk]), site_data(site, name="x"))
    assert response.status_code == 403
    assert client.post(reverse("cmdb:device_delete", args=[estate["own_sw"].pk])).status_code == 403
    assert client.post(reverse("cmdb:site_add"), site_data(site, code="NEW")).status_code == 403
    assert Site.objects.get(pk=site.pk).name == "Own branch"
    assert Device.objects.filter(pk=estate["own_sw"].pk).exists()


# ---- editing -----------------------------------------------------------------------------


def site_data(site: Site, **changes: Any) -> dict[str, Any]:
    data = {
        "code": site.code,
        "name": site.name,
        "kind": site.kind,
        "status": site.status,
        "region": site.region_id,
        "address": site.address,
    }
    data.update(changes)
    return data


def device_data(device: Device, **changes: Any) -> dict[str, Any]:
    data = {
        "name": device.name,
        "site": device.site_id,
        "role": device.role_id,
        "device_model": device.device_model_id,
        "status": device.status,
        "criticality": device.criticality,
        "management_ip": device.management_ip or "",
    }
    data.update(changes)
    return data


def test_edit_saves_through_the_service_and_shows_in_the_audit_trail(
    estate: dict[str, Any],
) -> None:
    admin = make_user()
    client = client_for(admin)
    site = estate["own"]
    response = client.post(
        reverse("cmdb:site_edit", args=[site.pk]), site_data(site, name="Renamed branch")
    )
    assert response.status_code == 302
    assert response.url == site.get_absolute_url()
    assert Site.objects.get(pk=site.pk).name == "Renamed branch"
    event = AuditEvent.objects.get(action=AuditAction.UPDATE, object_id=str(site.pk))
    assert event.actor == admin
    assert event.source == "ui"
    audit_page = client.get(reverse("core:audit_list")).content.decode()
    assert "Renamed branch" in audit_page
    assert "Own branch" in audit_page
    detail = client.get(site.get_absolute_url())
    assert [h.event.pk for h in detail.context["history"]] == [event.pk]


def test_create_redirects_to_the_new_object(estate: dict[str, Any]) -> None:
    client = client_for(make_user())
    response = client.post(
        reverse("cmdb:device_add"),
        device_data(estate["own_fw"], name="own-ap1", depends_on=estate["own_sw"].pk),
    )
    device = Device.objects.get(name="own-ap1")
    assert response.url == device.get_absolute_url()
    assert device.depends_on == estate["own_sw"]
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, object_id=str(device.pk)).exists()


def test_bad_input_shows_the_field_error_and_writes_nothing(estate: dict[str, Any]) -> None:
    client = client_for(make_user())
    before = AuditEvent.objects.count()
    # Parsing error (form) ...
    response = client.post(reverse("cmdb:site_add"), site_data(estate["own"], code="", name=""))
    assert response.status_code == 200
    assert set(response.context["form"].errors) >= {"code", "name"}
    # ... and a rule the service enforces (one end of the coordinates only).
    response = client.post(
        reverse("cmdb:site_add"), site_data(estate["own"], code="BR-NEW", latitude="30.1")
    )
    assert response.status_code == 200
    assert "longitude" in response.context["form"].errors
    assert "is-invalid" in response.content.decode()
    # ... and a duplicate serial number, found by the service's constraint check and
    # shown on the serial field.
    response = client.post(
        reverse("cmdb:device_add"),
        device_data(estate["own_fw"], name="own-fw2", serial="SN-OWN"),
    )
    assert "serial" in response.context["form"].errors
    assert not Site.objects.filter(code="BR-NEW").exists()
    assert not Device.objects.filter(name="own-fw2").exists()
    assert AuditEvent.objects.count() == before


def test_dependency_choices_follow_the_site(estate: dict[str, Any]) -> None:
    client = client_for(make_user())
    response = client.get(reverse("cmdb:device_add"), {"site": estate["other"].pk})
    choices = list(response.context["form"].fields["depends_on"].queryset)
    assert choices == [estate["other_fw"]]
    page = response.content.decode()
    assert 'hx-select-oob="#field-depends_on"' in page
    assert 'id="field-depends_on"' in page
    edit = client.get(reverse("cmdb:device_edit", args=[estate["own_fw"].pk]))
    assert list(edit.context["form"].fields["depends_on"].queryset) == [estate["own_sw"]]


def test_delete_in_use_explains_what_uses_it(estate: dict[str, Any]) -> None:
    client = client_for(make_user())
    site = estate["own"]
    response = client.post(reverse("cmdb:site_delete", args=[site.pk]))
    assert response.status_code == 409
    assert "still used by" in response.content.decode()
    assert Site.objects.filter(pk=site.pk).exists()


def test_delete_removes_and_records(estate: dict[str, Any]) -> None:
    client = client_for(make_user())
    contact = estate["contact"]
    response = client.post(reverse("cmdb:contact_delete", args=[contact.pk]))
    assert response.url == reverse("cmdb:contact_list")
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert AuditEvent.objects.filter(action=AuditAction.DELETE, message=str(contact)).exists()


def test_system_deployments_are_added_and_removed(estate: dict[str, Any]) -> None:
    client = client_for(make_user())
    system = estate["system"]
    response = client.post(
        reverse("cmdb:deployment_add", args=[system.pk]),
        {"site": estate["own"].pk, "role": "production", "description": "branch terminal"},
    )
    assert response.url == system.get_absolute_url()
    added = SystemDeployment.objects.get(system=system, site=estate["own"])
    page = client.get(system.get_absolute_url()).content.decode()
    assert "branch terminal" in page
    client.post(reverse("cmdb:deployment_delete", args=[added.pk]))
    assert not SystemDeployment.objects.filter(pk=added.pk).exists()


def test_contract_covers_the_devices_of_a_site(estate: dict[str, Any]) -> None:
    client = client_for(make_user())
    contract = estate["contract"]
    url = reverse("cmdb:contract_devices", args=[contract.pk])
    client.post(url, {"site": estate["own"].pk})
    assert set(contract.devices.values_list("name", flat=True)) == {"own-fw", "own-sw", "other-fw"}
    client.post(url, {"remove": estate["other_fw"].pk})
    assert set(contract.devices.values_list("name", flat=True)) == {"own-fw", "own-sw"}
    assert AuditEvent.objects.filter(object_id=str(contract.pk), action="update").count() == 2


# ---- escaping ----------------------------------------------------------------------------


def test_html_in_names_is_escaped_everywhere(estate: dict[str, Any]) -> None:
    site = estate["own"]
    Site.objects.filter(pk=site.pk).update(name=XSS, address=XSS)
    Region.objects.filter(pk=estate["region"].pk).update(name=XSS)
    client = client_for(make_user())
    pages = [
        client.get(reverse("cmdb:site_list")),
        client.get(reverse("cmdb:site_detail", args=[site.pk])),
        client.get(reverse("cmdb:region_list")),
        client.get(reverse("cmdb:device_detail", args=[estate["own_fw"].pk])),
        client.get(reverse("core:search"), {"q": "script"}),
        client.get(reverse("core:home")),
    ]
    for response in pages:
        page = response.content.decode()
        assert XSS not in page, response.request["PATH_INFO"]
    for response in pages[:3]:
        assert XSS_ESCAPED in response.content.decode()


def test_links_and_contacts_filter_by_site(estate: dict[str, Any]) -> None:
    client = client_for(make_user())
    links = client.get(reverse("cmdb:link_list"), {"site": estate["own"].pk}).context["page_obj"]
    assert {link.name for link in links} == {"own-vpn", "own-inet"}
    contacts = client.get(reverse("cmdb:contact_list"), {"site": estate["other"].pk})
    assert contacts.context["page_obj"].paginator.count == 0


def test_liaison_cannot_change_contract_coverage(estate: dict[str, Any]) -> None:
    client = client_for(make_user(Role.BRANCH_LIAISON, sites=(estate["own"],)))
    contract = estate["contract"]
    response = client.post(
        reverse("cmdb:contract_devices", args=[contract.pk]), {"remove": estate["own_fw"].pk}
    )
    assert response.status_code == 403
    assert contract.devices.filter(pk=estate["own_fw"].pk).exists()


def test_liaison_edits_their_site_but_not_who_looks_after_it(estate: dict[str, Any]) -> None:
    site = estate["own"]
    centre = make_site(SiteKind.REGIONAL_CENTRE, code="RC-ZJ", region=estate["region"])
    Site.objects.filter(pk=site.pk).update(support_centre=centre)
    site.refresh_from_db()
    liaison = make_user(Role.BRANCH_LIAISON, sites=(site,))
    client = client_for(liaison)
    form = client.get(reverse("cmdb:site_edit", args=[site.pk])).context["form"]
    assert "liaisons" not in form.fields
    response = client.post(
        reverse("cmdb:site_edit", args=[site.pk]),
        site_data(site, name="Own branch (moved)", support_centre=centre.pk, liaisons=[]),
    )
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.name == "Own branch (moved)"
    assert site.support_centre == centre
    assert list(site.liaisons.all()) == [liaison]
