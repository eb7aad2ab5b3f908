"""The panels the estate's device and site pages load: state per check and charts for a
device, a health roll-up for a site, and the series the charts read, with and without data.
Also the site health list and the roll-up rules themselves."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from branchops.core.choices import Role
from branchops.core.testing import make_device, make_user
from branchops.monitoring import charts, rollup
from branchops.monitoring.metrics.base import TimedSample
from branchops.monitoring.metrics.sqlite import SqliteMetricStore
from branchops.monitoring.models import Check
from branchops.monitoring.tests.test_views_support import (
    build_estate,
    check_of,
    client_for,
    set_state,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate() -> dict[str, Any]:
    return build_estate()


@pytest.fixture
def admin() -> Client:
    return client_for(make_user(Role.ADMIN))


@pytest.fixture
def metrics(settings: Any, tmp_path: Path) -> SqliteMetricStore:
    settings.METRICS_URL = f"sqlite:///{tmp_path / 'metrics.sqlite3'}"
    return SqliteMetricStore(tmp_path / "metrics.sqlite3")


def seed(store: SqliteMetricStore, device: str = "own-fw", site: str = "BR-OWN") -> None:
    now = timezone.now().timestamp()
    base = (("device", device), ("site", site))
    samples = []
    for i in range(30):
        ts = now - 60 * i
        samples += [
            TimedSample(
                "branchops_icmp_rtt_seconds", (*base, ("stat", "avg")), ts, 0.002 + i / 1e5
            ),
            TimedSample("branchops_icmp_loss_ratio", base, ts, 0.0),
            TimedSample(
                "branchops_if_in_bits_per_second",
                tuple(sorted((*base, ("interface", "ethernet0/1")))),
                ts,
                2.5e6,
            ),
        ]
    store.write(samples)


def test_the_device_page_loads_the_panel_only_when_monitoring_is_there(
    admin: Client, estate: dict[str, Any]
) -> None:
    page = admin.get(reverse("cmdb:device_detail", args=[estate["fw"].pk])).content.decode()
    panel = reverse("monitoring:device_panel", args=[estate["fw"].pk])
    assert f'hx-get="{panel}"' in page
    assert 'hx-trigger="load, every 30s"' in page
    assert "branchops/monitoring.js" in page
    site = admin.get(reverse("cmdb:site_detail", args=[estate["own"].pk])).content.decode()
    assert f'hx-get="{reverse("monitoring:site_panel", args=[estate["own"].pk])}"' in site


def test_the_device_panel_with_data(
    admin: Client, estate: dict[str, Any], metrics: SqliteMetricStore
) -> None:
    seed(metrics)
    set_state(check_of("own-fw", "icmp"), "up", summary="loss 0 %, avg 2.10 ms")
    set_state(check_of("own-fw", "snmp_system"), "unknown", error="no collector for snmp_system")
    response = admin.get(reverse("monitoring:device_panel", args=[estate["fw"].pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "<html" not in page  # a fragment for the device page
    assert "no collector for snmp_system" in page
    assert "loss 0 %, avg 2.10 ms" in page
    # The device's worst known state: unknown beats up, pending does not count.
    assert response.context["state"] == "unknown"
    config = response.context["chart_config"]
    keys = [c["key"] for c in config["charts"]]
    assert keys[:4] == ["latency", "loss", "jitter", "traffic"]
    assert "tunnels" in keys  # the firewall's profile check and its VPN link's check
    assert config["matchers"] == {"device": "own-fw"}
    assert config["zone"] == "Asia/Shanghai"
    assert [r["key"] for r in config["ranges"]] == ["1h", "24h", "7d", "30d"]
    assert 'hx-preserve="true"' in page
    found = re.search(
        rf'<script id="device-charts-{estate["fw"].pk}-config" type="application/json">(.*?)'
        "</script>",
        page,
    )
    assert found is not None
    assert json.loads(found.group(1))["charts"][0]["title"] == "Latency"
    # The link's check shows on its A-end device.
    assert "own-vpn" in page

    # What the charts fetch, with the browser's session.
    series = admin.get(
        config["api"], {"name": "branchops_icmp_rtt_seconds", "device": "own-fw"}
    ).json()
    assert len(series[0]["points"]) == 30
    traffic = admin.get(
        config["api"], {"name": "branchops_if_in_bits_per_second", "device": "own-fw"}
    ).json()
    assert traffic[0]["labels"]["interface"] == "ethernet0/1"
    week = admin.get(
        config["api"],
        {
            "name": "branchops_icmp_rtt_seconds",
            "device": "own-fw",
            "start": timezone.now().timestamp() - 3 * 86400,
        },
    ).json()
    assert week[0]["resolution_s"] == 300


def test_the_device_panel_without_data(
    admin: Client, estate: dict[str, Any], metrics: SqliteMetricStore
) -> None:
    response = admin.get(reverse("monitoring:device_panel", args=[estate["fw"].pk]))
    assert response.status_code == 200
    assert response.context["state"] == "pending"  # nothing has run yet
    series = admin.get(
        response.context["chart_config"]["api"],
        {"name": "branchops_icmp_rtt_seconds", "device": "own-fw"},
    ).json()
    assert series == []
    # A device without checks says so and draws no charts.
    bare = make_device(estate["own"], role="wifi-ap", name="own-ap2")  # no management address
    answer = admin.get(reverse("monitoring:device_panel", args=[bare.pk]))
    assert answer.context["chart_config"] is None
    assert "Not monitored" in answer.content.decode()


def test_the_site_panel_rolls_up_devices_and_links(admin: Client, estate: dict[str, Any]) -> None:
    set_state(check_of("own-fw", "icmp"), "up")
    set_state(check_of("own-ap", "icmp"), "down", error="no echo reply")
    url = reverse("monitoring:site_panel", args=[estate["own"].pk])
    response = admin.get(url)
    health = response.context["health"]
    states = {h.obj.name: h.state for h in health.devices}
    assert states == {"own-fw": "up", "own-ap": "down"}
    # The access point is not critical: the branch is degraded, not down.
    assert response.context["state"] == "degraded"
    page = response.content.decode()
    assert reverse("cmdb:device_detail", args=[estate["ap"].pk]) in page
    assert "no echo reply" in page
    # The firewall down: the branch is down.
    set_state(check_of("own-fw", "icmp"), "down")
    assert admin.get(url).context["state"] == "down"
    # A late answer is stale: unknown.
    set_state(check_of("own-fw", "icmp"), "up", overdue_minutes=-1)
    set_state(check_of("own-ap", "icmp"), "up")
    assert admin.get(url).context["state"] == "unknown"


def test_the_site_panel_without_checks(admin: Client, estate: dict[str, Any]) -> None:
    Check.objects.filter(site=estate["own"]).delete()
    response = admin.get(reverse("monitoring:site_panel", args=[estate["own"].pk]))
    assert response.status_code == 200
    assert response.context["state"] is None
    assert "Not monitored" in response.content.decode()


def test_site_health_list_worst_first(admin: Client, estate: dict[str, Any]) -> None:
    set_state(check_of("other-fw", "icmp"), "down")
    set_state(check_of("own-fw", "icmp"), "up")
    url = reverse("monitoring:site_health_list")
    response = admin.get(url)
    rows = list(response.context["page_obj"])
    assert rows[0]["site"].code == "BR-OTHER"
    assert rows[0]["state"] == "down"
    only_down = admin.get(url, {"health": "down"})
    assert [r["site"].code for r in only_down.context["page_obj"]] == ["BR-OTHER"]
    liaison = client_for(make_user(Role.BRANCH_LIAISON, sites=(estate["own"],)))
    assert [r["site"].code for r in liaison.get(url).context["page_obj"]] == ["BR-OWN"]


def test_a_liaison_reads_their_own_panels_and_series_only(
    estate: dict[str, Any], metrics: SqliteMetricStore
) -> None:
    seed(metrics)
    client = client_for(make_user(Role.BRANCH_LIAISON, sites=(estate["own"],)))
    assert client.get(reverse("monitoring:site_panel", args=[estate["own"].pk])).status_code == 200
    assert (
        client.get(reverse("monitoring:site_panel", args=[estate["other"].pk])).status_code == 404
    )
    api = reverse("api:query_range")
    assert client.get(api, {"name": "branchops_icmp_rtt_seconds", "device": "own-fw"}).json()
    refused = client.get(api, {"name": "branchops_icmp_rtt_seconds", "device": "other-fw"})
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("devices", "links", "expected"),
    [
        ([("up", True), ("down", False)], [], "degraded"),
        ([("up", True), ("degraded", False)], ["up"], "degraded"),
        ([("down", True), ("up", False)], [], "down"),
        ([("up", True)], ["down"], "down"),
        ([("pending", True), ("up", True)], [], "up"),
        ([("pending", True)], [], "pending"),
        ([(None, True), ("down", False)], [], "down"),  # nothing critical known: all devices
        ([("unknown", True), ("degraded", True)], [], "degraded"),
        ([], [], None),
    ],
)
def test_site_state_rules(
    devices: list[tuple[str | None, bool]], links: list[str], expected: str | None
) -> None:
    assert rollup.site_state(devices, links) == expected


def test_a_concentrator_leaves_its_hundreds_of_tunnels_to_the_links() -> None:
    kinds = {"icmp", "snmp_profile"}
    assert "tunnels" in [c.key for c in charts.for_device(kinds, tunnels=2)]
    assert "tunnels" not in [c.key for c in charts.for_device(kinds, tunnels=1288)]
    assert "sessions" in [c.key for c in charts.for_device(kinds, tunnels=1288)]
