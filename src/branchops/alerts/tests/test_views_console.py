"""The alert console and an alert's page: firing alerts, roots first with their symptom
count; filters and the live htmx refresh; acknowledge, assign and silence through the pages
(CSRF on); liaisons see their own sites only; readers see no buttons and are refused;
whatever devices and other systems put in titles and labels is escaped."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from branchops.alerts.choices import EventKind, NotificationStatus
from branchops.alerts.models import Alert, AlertEvent, Channel, DeliveryAttempt, Notification
from branchops.alerts.notices import severity_label
from branchops.alerts.tests.test_views_support import (
    HTMX,
    XSS,
    XSS_ESCAPED,
    build_estate,
    client_for,
    csrf_post,
    make_alert,
)
from branchops.core.choices import Role
from branchops.core.testing import make_user

pytestmark = pytest.mark.django_db

CONSOLE = reverse("alerts:console")


@pytest.fixture
def estate() -> dict[str, Any]:
    return build_estate()


@pytest.fixture
def noc() -> Any:
    return make_user(Role.NOC_OPERATOR, username="noc")


def titles(response: Any) -> list[str]:
    return [a.title for a in response.context["page_obj"]]


def test_every_page_needs_sign_in(estate: dict[str, Any]) -> None:
    alert = make_alert(site=estate["own"])
    for url in (
        CONSOLE,
        reverse("alerts:alert_detail", args=[alert.pk]),
        reverse("alerts:silence_list"),
        reverse("alerts:rule_list"),
        reverse("alerts:channel_list"),
        reverse("alerts:notification_log"),
    ):
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("core:login"))


def test_the_console_shows_firing_roots_first_with_their_symptoms(
    estate: dict[str, Any], noc: Any
) -> None:
    root = make_alert(site=estate["own"], title="HQ concentrator down", severity=1, minutes_ago=9)
    for _ in range(3):
        make_alert(site=estate["other"], title="Tunnel down", severity=2, root=root, minutes_ago=1)
    make_alert(site=estate["own"], title="CPU high", severity=3, minutes_ago=2)
    make_alert(
        site=estate["own"], title="Old trouble", status="resolved", resolved_at=timezone.now()
    )
    response = client_for(noc).get(CONSOLE)
    assert response.status_code == 200
    assert titles(response) == ["HQ concentrator down", "CPU high", *["Tunnel down"] * 3]
    page = response.content.decode()
    assert "+3 symptoms" in page
    assert "Old trouble" not in page
    assert "9 min ago" in page
    summary = response.context["summary"]
    assert [n for _s, _l, n in summary["by_severity"]] == [1, 3, 1]
    assert summary["unacknowledged"] == 2  # the root and CPU high; symptoms do not count
    assert "Severity 1" in page  # severity_label, 一级 in Chinese


def test_the_console_speaks_chinese(estate: dict[str, Any], noc: Any) -> None:
    make_alert(site=estate["own"], severity=1)
    page = client_for(noc, "zh-hans").get(CONSOLE).content.decode()
    assert '<html lang="zh-hans">' in page
    assert "站点" in page  # the Site column
    with translation.override("zh-hans"):
        assert severity_label(1) in page  # 一级 once translated


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "resolved"}, ["resolved one"]),
        ({"status": "all"}, ["sev1 own", "symptom other", "sev3 other acked", "resolved one"]),
        ({"severity": "1"}, ["sev1 own"]),
        ({"acknowledged": "yes"}, ["sev3 other acked"]),
        ({"acknowledged": "no"}, ["sev1 own", "symptom other"]),
        ({"symptom": "no"}, ["sev1 own", "sev3 other acked"]),
        ({"symptom": "yes"}, ["symptom other"]),
        ({"source": "syslog"}, ["sev3 other acked"]),
        ({"q": "acked"}, ["sev3 other acked"]),
        ({"q": "own-fw"}, ["sev1 own"]),
    ],
)
def test_console_filters(
    estate: dict[str, Any], noc: Any, query: dict[str, str], expected: list[str]
) -> None:
    root = make_alert(site=estate["own"], device=estate["own_fw"], title="sev1 own", severity=1)
    make_alert(site=estate["other"], title="symptom other", root=root)
    make_alert(
        site=estate["other"],
        title="sev3 other acked",
        severity=3,
        source="syslog",
        acknowledged_at=timezone.now(),
    )
    make_alert(
        site=estate["own"], title="resolved one", status="resolved", resolved_at=timezone.now()
    )
    response = client_for(noc).get(CONSOLE, query)
    assert sorted(titles(response)) == sorted(expected)


def test_console_filters_by_site_and_region(estate: dict[str, Any], noc: Any) -> None:
    make_alert(site=estate["own"], title="own")
    make_alert(site=estate["other"], title="other")
    client = client_for(noc)
    assert titles(client.get(CONSOLE, {"site": estate["other"].pk})) == ["other"]
    region = estate["own"].region_id
    assert titles(client.get(CONSOLE, {"region": region})) == ["own"]


def test_the_htmx_refresh_answers_the_table_only_and_keeps_the_filters(
    estate: dict[str, Any], noc: Any
) -> None:
    make_alert(site=estate["own"], title="sev1", severity=1)
    make_alert(site=estate["own"], title="sev2", severity=2)
    response = client_for(noc).get(CONSOLE, {"severity": "1"}, headers=HTMX)
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page
    assert page.startswith('<div id="object-list"')
    assert "sev1" in page
    assert "sev2" not in page
    # The poller asks again for the same address, so the filters survive every refresh ...
    assert 'hx-get="/alerts/?severity=1"' in page
    assert 'hx-trigger="every 5s, alerts-changed from:body"' in page
    # ... and the counters above the table come along out of band.
    assert 'id="alert-summary" class="row row-cards mb-3" hx-swap-oob="true"' in page
    assert "HX-Request" in response["Vary"]


def test_a_noc_operator_acknowledges_through_the_page(estate: dict[str, Any], noc: Any) -> None:
    alert = make_alert(site=estate["own"], title="WAN down")
    client = client_for(noc)
    url = reverse("alerts:acknowledge", args=[alert.pk])
    # CSRF is on: a POST without the page's token is refused.
    assert client.post(url).status_code == 403
    response = csrf_post(client, url, {"next": f"{CONSOLE}?severity=2"})
    assert response.status_code == 302
    assert response.url == f"{CONSOLE}?severity=2"
    alert.refresh_from_db()
    assert alert.acknowledged_by == noc
    event = AlertEvent.objects.get(alert=alert, kind=EventKind.ACKNOWLEDGED)
    assert event.actor == noc
    page = client.get(CONSOLE).content.decode()
    assert "Acknowledged: WAN down" in page  # the message
    assert f'data-bo-ack="{alert.pk}"' not in page  # no button any more


def test_acknowledging_with_htmx_answers_a_notice_and_refreshes_the_console(
    estate: dict[str, Any], noc: Any
) -> None:
    alert = make_alert(site=estate["own"], title="WAN down")
    client = client_for(noc)
    url = reverse("alerts:acknowledge", args=[alert.pk])
    response = csrf_post(client, url, headers={"hx-request": "true"})
    assert response.status_code == 200
    assert response["HX-Trigger"] == "alerts-changed"
    assert "Acknowledged: WAN down" in response.content.decode()
    again = csrf_post(client, url, headers={"hx-request": "true"})
    assert "Already acknowledged" in again.content.decode()
    alert.status = "resolved"
    alert.save()
    other = make_alert(site=estate["own"], status="resolved", resolved_at=timezone.now())
    refused = csrf_post(
        client, reverse("alerts:acknowledge", args=[other.pk]), headers={"hx-request": "true"}
    )
    assert "already resolved" in refused.content.decode()


def test_assign_to_me_to_someone_and_to_nobody(estate: dict[str, Any], noc: Any) -> None:
    alert = make_alert(site=estate["own"])
    colleague = make_user(Role.OPS_ENGINEER, username="wang")
    client = client_for(noc)
    url = reverse("alerts:assign", args=[alert.pk])
    csrf_post(client, url, {"assignee": "me"})
    alert.refresh_from_db()
    assert alert.assignee == noc
    csrf_post(client, url, {"assignee": colleague.pk})
    alert.refresh_from_db()
    assert alert.assignee == colleague
    csrf_post(client, url, {"assignee": ""})
    alert.refresh_from_db()
    assert alert.assignee is None
    # Only people who may act on alerts can be assigned.
    auditor = make_user(Role.AUDITOR)
    response = csrf_post(client, url, {"assignee": auditor.pk}, follow=True)
    assert "Choose someone who may act on alerts." in response.content.decode()
    assert [e.kind for e in alert.events.all()] == [EventKind.ASSIGNED] * 3


def test_bulk_acknowledge_assign_and_silence(estate: dict[str, Any], noc: Any) -> None:
    a = make_alert(site=estate["own"], device=estate["own_fw"])
    b = make_alert(site=estate["other"])
    client = client_for(noc)
    bulk = reverse("alerts:bulk")
    response = csrf_post(
        client,
        bulk,
        {"alert": [a.pk, b.pk], "action": "acknowledge"},
        headers={"hx-request": "true"},
    )
    assert "Acknowledged 2 alerts." in response.content.decode()
    assert Alert.objects.filter(acknowledged_by=noc).count() == 2
    csrf_post(client, bulk, {"alert": [a.pk, b.pk], "action": "assign_me"})
    assert Alert.objects.filter(assignee=noc).count() == 2
    response = csrf_post(client, bulk, {"alert": [a.pk, b.pk], "action": "silence"})
    assert response.status_code == 302
    sites = sorted([estate["own"].pk, estate["other"].pk])
    assert response.url == f"{reverse('alerts:silence_add')}?sites={sites[0]}&sites={sites[1]}"
    hx = csrf_post(
        client, bulk, {"alert": [a.pk], "action": "silence"}, headers={"hx-request": "true"}
    )
    assert hx["HX-Redirect"].endswith(f"?sites={estate['own'].pk}")
    nothing = csrf_post(client, bulk, {"action": "acknowledge"}, follow=True)
    assert "Tick the alerts to act on first." in nothing.content.decode()


def test_an_auditor_reads_but_may_not_act(estate: dict[str, Any]) -> None:
    alert = make_alert(site=estate["own"], device=estate["own_fw"])
    client = client_for(make_user(Role.AUDITOR))
    page = client.get(CONSOLE).content.decode()
    assert alert.title in page
    assert 'id="bulk-form"' not in page
    assert f'data-bo-ack="{alert.pk}"' not in page
    detail = client.get(reverse("alerts:alert_detail", args=[alert.pk])).content.decode()
    assert reverse("alerts:acknowledge", args=[alert.pk]) not in detail
    for url, data in (
        (reverse("alerts:acknowledge", args=[alert.pk]), {}),
        (reverse("alerts:assign", args=[alert.pk]), {"assignee": "me"}),
        (reverse("alerts:bulk"), {"alert": alert.pk, "action": "acknowledge"}),
        (reverse("alerts:silence_add"), {"reason": "x"}),
    ):
        assert csrf_post(client, url, data).status_code == 403, url
    assert client.get(reverse("alerts:silence_add")).status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    assert alert.assignee is None


def test_a_liaison_sees_only_the_alerts_of_their_own_sites(estate: dict[str, Any]) -> None:
    own = make_alert(site=estate["own"], title="own alert")
    root = make_alert(site=estate["other"], title="other alert")
    make_alert(site=estate["own"], title="own symptom", root=root)
    liaison = make_user(Role.BRANCH_LIAISON, sites=(estate["own"],))
    client = client_for(liaison)
    response = client.get(CONSOLE)
    assert sorted(titles(response)) == ["own alert", "own symptom"]
    assert response.context["summary"]["firing"] == 2
    assert client.get(reverse("alerts:alert_detail", args=[root.pk])).status_code == 404
    detail = client.get(reverse("alerts:alert_detail", args=[own.pk]))
    assert detail.status_code == 200
    assert 'id="notifications"' not in detail.content.decode()  # not their area
    assert csrf_post(client, reverse("alerts:acknowledge", args=[own.pk])).status_code == 403
    assert csrf_post(client, reverse("alerts:acknowledge", args=[root.pk])).status_code == 404
    for url in ("alerts:rule_list", "alerts:channel_list", "alerts:notification_log"):
        assert client.get(reverse(url)).status_code == 403, url


def test_the_alert_page_shows_symptoms_timeline_and_notifications(
    estate: dict[str, Any], noc: Any
) -> None:
    root = make_alert(
        site=estate["own"],
        device=estate["own_fw"],
        title="HQ concentrator down",
        summary="No answer since 10:02",
        affected_sites=2,
    )
    for n in range(60):
        make_alert(site=estate["other"], title=f"Tunnel {n:02d} down", root=root)
    AlertEvent.objects.create(alert=root, kind=EventKind.FIRED, detail="first seen")
    channel = Channel.objects.create(name="NOC DingTalk", kind="dingtalk")
    row = Notification.objects.create(
        alert=root, channel=channel, kind="firing", status=NotificationStatus.SENT, attempts=2
    )
    DeliveryAttempt.objects.create(notification=row, ok=False, status="HTTP 502", detail="bad gw")
    DeliveryAttempt.objects.create(notification=row, ok=True, status="HTTP 200 errcode=0")
    client = client_for(noc)
    url = reverse("alerts:alert_detail", args=[root.pk])
    page = client.get(url).content.decode()
    assert "No answer since 10:02" in page
    assert "60 symptoms" in page
    assert "Tunnel 00 down" in page
    assert "Tunnel 59 down" not in page
    assert "BR-OTHER" in page
    assert "first seen" in page
    assert "NOC DingTalk" in page
    assert "HTTP 502" in page
    assert "HTTP 200 errcode=0" in page
    second = client.get(url, {"page": 2}, headers={"hx-request": "true", "hx-target": "symptoms"})
    fragment = second.content.decode()
    assert fragment.startswith('<div class="card mb-3" id="symptoms">')
    assert "Tunnel 59 down" in fragment
    symptom = Alert.objects.get(title="Tunnel 05 down")
    symptom_page = client.get(reverse("alerts:alert_detail", args=[symptom.pk])).content.decode()
    assert "HQ concentrator down" in symptom_page
    assert root.get_absolute_url() in symptom_page


def test_hostile_titles_and_labels_are_escaped(estate: dict[str, Any], noc: Any) -> None:
    alert = make_alert(
        site=estate["own"],
        title=XSS,
        summary=XSS,
        labels={XSS: XSS, "interface": "<b>wan1</b>"},
    )
    client = client_for(noc)
    for url in (CONSOLE, reverse("alerts:alert_detail", args=[alert.pk])):
        page = client.get(url).content.decode()
        assert XSS not in page, url
        assert "<b>wan1</b>" not in page
        assert XSS_ESCAPED in page


def test_the_sidebar_counts_unacknowledged_firing_roots(estate: dict[str, Any], noc: Any) -> None:
    root = make_alert(site=estate["own"])
    make_alert(site=estate["own"], root=root)
    make_alert(site=estate["own"], acknowledged_at=timezone.now())
    page = client_for(noc).get(reverse("core:home")).content.decode()
    assert 'title="Firing root alerts nobody has acknowledged">1</span>' in page
    assert reverse("alerts:rule_list") in page
    liaison_page = client_for(make_user(Role.BRANCH_LIAISON, sites=(estate["other"],))).get(
        reverse("core:home")
    )
    content = liaison_page.content.decode()
    assert CONSOLE in content
    assert reverse("alerts:rule_list") not in content


def test_the_signed_link_still_acknowledges_without_a_sign_in(estate: dict[str, Any]) -> None:
    from branchops.alerts.services import ack_token

    alert = make_alert(site=estate["own"], title="WAN down")
    channel = Channel.objects.create(name="Robot", kind="wecom")
    url = reverse("alerts:ack_link", args=[ack_token(alert.pk, channel.pk)])
    client = Client(headers={"Accept-Language": "en"})  # the wording below is English
    page = client.get(url).content.decode()
    assert "WAN down" in page
    alert.refresh_from_db()
    assert alert.acknowledged_at is None  # looking does not acknowledge
    assert "Escalation has stopped." in client.post(url).content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None
    assert client.get(reverse("alerts:ack_link", args=["forged"])).status_code == 400
