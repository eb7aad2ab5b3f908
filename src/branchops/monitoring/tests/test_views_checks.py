"""The checks pages: the list filters and counts like the API, problems first; a check's page
shows its status, history and charts; edits go through CheckServices (a generated check
becomes customised, and cannot be deleted until it is); liaisons see their own sites only;
readers see no buttons and are refused; user data is escaped."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from branchops.core.choices import AuditAction, Role
from branchops.core.models import AuditEvent
from branchops.core.testing import make_user
from branchops.monitoring import services
from branchops.monitoring.models import Check, CheckStatus, StateChange
from branchops.monitoring.tests.test_views_support import (
    HTMX,
    XSS,
    XSS_ESCAPED,
    build_estate,
    check_of,
    client_for,
    set_state,
)

pytestmark = pytest.mark.django_db

LIST = reverse("monitoring:check_list")


@pytest.fixture
def estate() -> dict[str, Any]:
    return build_estate()


@pytest.fixture
def admin() -> Client:
    return client_for(make_user(Role.ADMIN))


def names(response: Any) -> list[str]:
    return [c.name for c in response.context["page_obj"]]


def test_every_page_needs_sign_in(estate: dict[str, Any]) -> None:
    check = check_of("own-fw", "icmp")
    for url in (
        LIST,
        reverse("monitoring:check_detail", args=[check.pk]),
        reverse("monitoring:check_edit", args=[check.pk]),
        reverse("monitoring:device_panel", args=[estate["fw"].pk]),
        reverse("monitoring:site_health_list"),
    ):
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("core:login"))


def test_the_list_shows_problems_first_with_counts_by_state(
    admin: Client, estate: dict[str, Any]
) -> None:
    down = set_state(check_of("own-fw", "icmp"), "down", error="no echo reply (0 of 5 answered)")
    degraded = set_state(check_of("other-fw", "icmp"), "degraded", summary="loss 40 %")
    set_state(check_of("own-fw", "snmp_system"), "up", summary="cpu 12 %")
    response = admin.get(LIST)
    assert response.status_code == 200
    rows = names(response)
    assert rows[:2] == [down.name, degraded.name]
    counts = dict(response.context["state_counts"])
    assert (counts["down"], counts["degraded"], counts["up"]) == (1, 1, 1)
    assert counts["pending"] == Check.objects.count() - 3
    page = response.content.decode()
    assert "no echo reply (0 of 5 answered)" in page
    assert "12 s ago" in page
    # The refresh asks for the same address every 30 s, without pushing it.
    assert 'hx-trigger="every 30s"' in page
    assert f'hx-get="{LIST}"' in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"state": "down"}, {("own-fw", "icmp")}),
        ({"failing": "on"}, {("own-fw", "icmp"), ("other-fw", "icmp")}),
        ({"late": "on"}, {("own-fw", "snmp_system")}),
        ({"disabled": "on"}, {("other-fw", "snmp_profile")}),
        ({"kind": "icmp", "q": "other"}, {("other-fw", "icmp")}),
    ],
)
def test_filters(
    admin: Client, estate: dict[str, Any], query: dict[str, str], expected: set[tuple[str, str]]
) -> None:
    set_state(check_of("own-fw", "icmp"), "down")
    set_state(check_of("other-fw", "icmp"), "unknown", error="no collector for icmp")
    set_state(check_of("own-fw", "snmp_system"), "up", overdue_minutes=-1)
    Check.objects.filter(pk=check_of("other-fw", "snmp_profile").pk).update(enabled=False)
    response = admin.get(LIST, query)
    found = {
        (c.device.name if c.device else c.link.name, c.kind) for c in response.context["page_obj"]
    }
    assert found == expected


def test_site_region_and_device_filters(admin: Client, estate: dict[str, Any]) -> None:
    by_site = admin.get(LIST, {"site": estate["other"].pk})
    assert {c.site_id for c in by_site.context["page_obj"]} == {estate["other"].pk}
    by_region = admin.get(LIST, {"region": estate["region"].parent_id})
    assert {c.site.code for c in by_region.context["page_obj"]} == {"BR-OWN", "DC-HQ"}
    by_device = admin.get(LIST, {"device": estate["fw"].pk})
    assert {c.device_id or c.link.a_device_id for c in by_device.context["page_obj"]} == {
        estate["fw"].pk
    }
    # the VPN link's check counts as the firewall's
    assert any(c.link_id == estate["vpn"].pk for c in by_device.context["page_obj"])


def test_htmx_gets_only_the_list_and_counts(admin: Client, estate: dict[str, Any]) -> None:
    response = admin.get(LIST, {"state": "pending"}, headers=HTMX)
    page = response.content.decode()
    assert page.startswith('<div id="object-list"')
    assert "<html" not in page
    assert "HX-Request" in response["Vary"]
    # The counts keep every other filter: here none, so every check is counted.
    assert sum(n for _, n in response.context["state_counts"]) == Check.objects.count()


def test_a_liaison_sees_only_their_sites_checks(estate: dict[str, Any]) -> None:
    liaison = client_for(make_user(Role.BRANCH_LIAISON, sites=(estate["own"],)))
    listed = liaison.get(LIST)
    assert {c.site.code for c in listed.context["page_obj"]} == {"BR-OWN"}
    assert "other-fw" not in listed.content.decode()
    other = check_of("other-fw", "icmp")
    for name in ("check_detail", "check_edit", "check_delete"):
        assert liaison.get(reverse(f"monitoring:{name}", args=[other.pk])).status_code == 404
    assert liaison.post(reverse("monitoring:check_edit", args=[other.pk])).status_code == 404
    assert (
        liaison.get(reverse("monitoring:device_panel", args=[estate["other_fw"].pk])).status_code
        == 404
    )
    own = liaison.get(reverse("monitoring:check_detail", args=[check_of("own-fw", "icmp").pk]))
    assert own.status_code == 200


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.NOC_OPERATOR, Role.BRANCH_LIAISON])
def test_readers_see_no_buttons_and_are_refused(role: Role, estate: dict[str, Any]) -> None:
    client = client_for(make_user(role, sites=(estate["own"],)))
    check = check_of("own-fw", "icmp")
    edit = reverse("monitoring:check_edit", args=[check.pk])
    delete = reverse("monitoring:check_delete", args=[check.pk])
    page = client.get(reverse("monitoring:check_detail", args=[check.pk])).content.decode()
    assert edit not in page
    assert delete not in page
    panel = client.get(reverse("monitoring:device_panel", args=[estate["fw"].pk])).content.decode()
    assert reverse("monitoring:check_add") not in panel
    assert client.get(edit).status_code == 403
    assert client.post(edit, {"name": "x", "interval_s": 10, "timeout_s": 1}).status_code == 403
    assert client.post(delete).status_code == 403
    add = reverse("monitoring:check_add") + f"?device={estate['fw'].pk}"
    assert client.post(add, {"name": "x", "kind": "tcp"}).status_code == 403
    check.refresh_from_db()
    assert check.name.endswith("reachability")


def test_an_engineer_sees_the_buttons(estate: dict[str, Any]) -> None:
    client = client_for(make_user(Role.OPS_ENGINEER))
    check = check_of("own-fw", "icmp")
    page = client.get(reverse("monitoring:check_detail", args=[check.pk])).content.decode()
    assert reverse("monitoring:check_edit", args=[check.pk]) in page
    panel = client.get(reverse("monitoring:device_panel", args=[estate["fw"].pk])).content.decode()
    assert f"{reverse('monitoring:check_add')}?device={estate['fw'].pk}" in panel


def edit_data(check: Check, **changes: Any) -> dict[str, Any]:
    data = {
        "name": check.name,
        "interval_s": check.interval_s,
        "timeout_s": check.timeout_s,
        "params": json.dumps(check.params),
        "enabled": "on" if check.enabled else "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_editing_a_generated_check_customises_it(admin: Client, estate: dict[str, Any]) -> None:
    check = check_of("own-fw", "icmp")
    assert not check.customised
    form = admin.get(reverse("monitoring:check_edit", args=[check.pk])).content.decode()
    assert "Saving a change here customises it" in form
    response = admin.post(
        reverse("monitoring:check_edit", args=[check.pk]),
        edit_data(check, interval_s=10, params=json.dumps({"count": 3})),
    )
    assert response.status_code == 302
    check.refresh_from_db()
    assert (check.interval_s, check.params, check.customised) == (10, {"count": 3}, True)
    services.sync()  # the template no longer overwrites it
    check.refresh_from_db()
    assert check.interval_s == 10
    event = AuditEvent.objects.get(action=AuditAction.UPDATE, object_id=str(check.pk))
    assert event.after["customised"] is True


def test_bad_parameters_are_shown_on_the_field_and_nothing_is_written(
    admin: Client, estate: dict[str, Any]
) -> None:
    check = check_of("own-fw", "icmp")
    url = reverse("monitoring:check_edit", args=[check.pk])
    response = admin.post(url, edit_data(check, params=json.dumps({"count": 0, "colour": 1})))
    assert response.status_code == 200
    errors = response.context["form"].errors["params"]
    assert any(e.startswith("count:") for e in errors)
    assert any(e.startswith("colour:") for e in errors)
    not_json = admin.post(url, edit_data(check, params="{count: 3"))
    assert "params" in not_json.context["form"].errors
    a_list = admin.post(url, edit_data(check, params="[1, 2]"))
    assert "JSON object" in str(a_list.context["form"].errors["params"])
    check.refresh_from_db()
    assert (check.params, check.customised) == ({}, False)
    assert not AuditEvent.objects.filter(object_id=str(check.pk)).exists()


def test_deleting_a_generated_check_is_refused_with_a_message(
    admin: Client, estate: dict[str, Any]
) -> None:
    check = check_of("own-fw", "icmp")
    url = reverse("monitoring:check_delete", args=[check.pk])
    confirm = admin.get(url).content.decode()
    assert "would come back; disable it" in confirm
    assert 'type="submit"' not in confirm.split('class="card-footer')[1]
    refused = admin.post(url)
    assert refused.status_code == 409
    assert "would come back; disable it" in refused.content.decode()
    assert Check.objects.filter(pk=check.pk).exists()
    # Once customised it is the user's own, and may go.
    Check.objects.filter(pk=check.pk).update(customised=True)
    assert admin.post(url).status_code == 302
    assert not Check.objects.filter(pk=check.pk).exists()


def test_adding_a_check_by_hand_from_the_device(admin: Client, estate: dict[str, Any]) -> None:
    url = reverse("monitoring:check_add") + f"?device={estate['fw'].pk}"
    form = admin.get(url)
    assert form.status_code == 200
    assert "own-fw" in form.content.decode()
    # Choosing a kind shows its parameters (htmx reloads that card).
    tcp = admin.get(url + "&kind=tcp")
    assert [p["name"] for p in tcp.context["params_help"]] == ["port"]
    response = admin.post(
        url,
        {
            "name": "web portal",
            "kind": "tcp",
            "device": estate["fw"].pk,
            "interval_s": 30,
            "timeout_s": 2,
            "params": json.dumps({"port": 443}),
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    made = Check.objects.get(name="web portal")
    assert (made.site, made.template, made.params) == (estate["own"], None, {"port": 443})
    assert CheckStatus.objects.get(for_check=made).state == "pending"
    # The kind's parameters are required.
    missing = admin.post(
        url,
        {"name": "x", "kind": "tcp", "device": estate["fw"].pk, "interval_s": 30, "timeout_s": 2},
    )
    assert any(e.startswith("port:") for e in missing.context["form"].errors["params"])
    # A liaison cannot aim a check at another site's device through the hidden field.
    liaison = client_for(make_user(Role.BRANCH_LIAISON, sites=(estate["own"],)))
    sneaky = liaison.post(
        url, {"name": "x", "kind": "icmp", "device": estate["other_fw"].pk, "interval_s": 30}
    )
    assert sneaky.status_code == 403  # liaisons may not add checks at all
    no_target = admin.get(reverse("monitoring:check_add"))
    assert no_target.status_code == 200


def test_the_check_page_shows_status_history_and_charts(
    admin: Client, estate: dict[str, Any]
) -> None:
    check = set_state(check_of("own-fw", "icmp"), "down", error="no echo reply (0 of 5 answered)")
    t0 = timezone.now() - dt.timedelta(hours=2)
    StateChange.objects.create(for_check=check, at=t0, previous="pending", state="up")
    StateChange.objects.create(
        for_check=check,
        at=t0 + dt.timedelta(minutes=90),
        previous="up",
        state="down",
        error="no echo reply",
    )
    response = admin.get(reverse("monitoring:check_detail", args=[check.pk]))
    history = response.context["state_history"]
    assert [(r["change"].previous, r["change"].state) for r in history] == [
        ("up", "down"),
        ("pending", "up"),
    ]
    assert history[1]["lasted"] == dt.timedelta(minutes=90)
    assert history[0]["ongoing"]
    page = response.content.decode()
    assert "1 h 30 min" in page
    assert "no echo reply (0 of 5 answered)" in page
    config = response.context["chart_config"]
    assert config["matchers"] == {"device": "own-fw"}
    assert config["api"] == "/api/v1/metrics/query_range/"
    assert {c["key"] for c in config["charts"]} >= {"latency", "loss", "jitter", "check_up"}
    assert 'id="check-charts-config"' in page
    # A link's check draws the series of the link's A-end device and the link.
    vpn = Check.objects.get(link=estate["vpn"])
    link_page = admin.get(reverse("monitoring:check_detail", args=[vpn.pk]))
    assert link_page.context["chart_config"]["matchers"] == {"device": "own-fw", "link": "own-vpn"}


def test_user_data_is_escaped(admin: Client, estate: dict[str, Any]) -> None:
    check = check_of("own-fw", "icmp")
    Check.objects.filter(pk=check.pk).update(name=XSS, params={"count": XSS})
    set_state(check, "down", error=XSS, summary=XSS)
    pages = [
        admin.get(LIST),
        admin.get(reverse("monitoring:check_detail", args=[check.pk])),
        admin.get(reverse("monitoring:check_edit", args=[check.pk])),
        admin.get(reverse("monitoring:device_panel", args=[estate["fw"].pk])),
        admin.get(reverse("monitoring:site_panel", args=[estate["own"].pk])),
    ]
    for response in pages:
        page = response.content.decode()
        assert XSS not in page, response.request["PATH_INFO"]
    assert XSS_ESCAPED in pages[0].content.decode()


def test_chinese_labels(estate: dict[str, Any]) -> None:
    set_state(check_of("own-fw", "icmp"), "down")
    client = client_for(make_user(Role.ADMIN), language="zh-hans")
    page = client.get(LIST).content.decode()
    assert "检查项" in page
    assert "故障" in page
    detail = client.get(reverse("monitoring:check_detail", args=[check_of("own-fw", "icmp").pk]))
    labels = {c["title"] for c in detail.context["chart_config"]["charts"]}
    assert "延迟" in labels
