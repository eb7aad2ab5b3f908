"""The alerts API as scripts use it: list and filter alerts, acknowledge and assign, create
and end silences, and hand alerts over from Alertmanager, Zabbix or any JSON sender."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from branchops.alerts import inbound
from branchops.alerts.choices import AlertSource
from branchops.alerts.models import Alert, AlertEvent, InboundEvent, Silence
from branchops.core.choices import Role, TokenScope
from branchops.core.testing import ApiClient, make_site, make_user

pytestmark = pytest.mark.django_db


def alert(title: str, *, root: Alert | None = None, severity: int = 2, **kw: Any) -> Alert:
    now = timezone.now()
    return Alert.objects.create(
        fingerprint=title, source="check", name="device-down", severity=severity, title=title,
        started_at=now, last_seen_at=now, root=root, **kw,
    )  # fmt: skip


def test_alerts_list_with_root_and_symptoms_and_every_filter() -> None:
    site = make_site(code="BR-0042")
    root = alert("HQ VPN concentrator unreachable", severity=1, affected_sites=2)
    alert("tunnel 1 down", root=root, site=site)
    alert("tunnel 2 down", root=root)
    alert("disk full", severity=3)
    api = ApiClient(make_user(Role.NOC_OPERATOR))

    roots = api.get("/api/v1/alerts/", root="true").json()
    assert [a["title"] for a in roots["items"]] == ["disk full", "HQ VPN concentrator unreachable"]
    hq = next(a for a in roots["items"] if a["severity"] == 1)
    assert (hq["is_root"], hq["symptoms"], hq["affected_sites"]) == (True, 2, 2)
    symptoms = api.get("/api/v1/alerts/", root_id=root.pk).json()["items"]
    assert {a["root_id"] for a in symptoms} == {root.pk}
    assert [a["title"] for a in api.get("/api/v1/alerts/", site="BR-0042").json()["items"]] == [
        "tunnel 1 down"
    ]
    assert api.get("/api/v1/alerts/", severity=3).json()["count"] == 1
    assert api.get("/api/v1/alerts/", acknowledged="true").json()["count"] == 0
    assert api.get("/api/v1/alerts/", q="CONCENTRATOR").json()["count"] == 1


def test_acknowledge_once_then_it_says_it_already_was() -> None:
    down = alert("FW down")
    api = ApiClient(make_user(Role.NOC_OPERATOR))
    first = api.post(f"/api/v1/alerts/{down.pk}/acknowledge/", {})
    again = api.post(f"/api/v1/alerts/{down.pk}/acknowledge/", {})
    assert first.status_code == 200
    assert first.json()["acknowledged"] is True
    assert first.json()["alert"]["acknowledged_by"] == api.user.username
    assert again.json()["acknowledged"] is False
    assert AlertEvent.objects.filter(alert=down, kind="acknowledged").count() == 1


def test_an_auditor_may_read_but_not_acknowledge() -> None:
    down = alert("FW down")
    api = ApiClient(make_user(Role.AUDITOR))
    assert api.get(f"/api/v1/alerts/{down.pk}/").status_code == 200
    refused = api.post(f"/api/v1/alerts/{down.pk}/acknowledge/", {})
    assert refused.status_code == 403
    assert "error" in refused.json()


def test_a_liaison_sees_only_the_alerts_of_their_own_sites() -> None:
    own, other = make_site(), make_site()
    alert("mine", site=own)
    alert("not mine", site=other)
    api = ApiClient(make_user(Role.BRANCH_LIAISON, sites=(own,)))
    assert [a["title"] for a in api.get("/api/v1/alerts/").json()["items"]] == ["mine"]


def test_assign_to_a_person_or_to_nobody() -> None:
    down = alert("FW down")
    engineer = make_user(Role.OPS_ENGINEER)
    api = ApiClient(make_user(Role.NOC_OPERATOR))
    assigned = api.post(f"/api/v1/alerts/{down.pk}/assign/", {"assignee": engineer.username})
    assert assigned.json()["assignee"] == engineer.username
    nobody = api.post(f"/api/v1/alerts/{down.pk}/assign/", {"assignee": "no-such-person"})
    assert nobody.status_code == 400


def test_silences_are_created_listed_and_ended() -> None:
    site = make_site(code="BR-0007")
    api = ApiClient(make_user(Role.NOC_OPERATOR))
    ends = (timezone.now() + dt.timedelta(hours=4)).isoformat()
    made = api.post("/api/v1/silences/", {"reason": "line swap", "sites": ["BR-0007"],
                                          "ends_at": ends})  # fmt: skip
    assert made.status_code == 201, made.json()
    body = made.json()
    assert (body["sites"], body["active"], body["author"]) == (["BR-0007"], True, api.user.username)
    assert [s["id"] for s in api.get("/api/v1/silences/", active="true").json()] == [body["id"]]
    ended = api.post(f"/api/v1/silences/{body['id']}/end/", {})
    assert ended.json()["active"] is False
    assert Silence.objects.get().ended_by == api.user
    assert site.pk in Silence.objects.get().sites.values_list("pk", flat=True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "x", "sites": ["NOPE"], "ends_at": "2030-01-01T00:00:00Z"}, None),
        ({"reason": "x", "sites": [], "ends_at": "2030-01-01T00:00:00Z"}, "sites"),
        (
            {"reason": "x", "matchers": {"site": "~("}, "ends_at": "2030-01-01T00:00:00Z"},
            "matchers",
        ),
        ({"reason": "x", "matchers": {"a": "b"}}, None),
    ],
)
def test_a_bad_silence_is_refused_with_a_reason(body: dict[str, Any], field: str | None) -> None:
    api = ApiClient(make_user(Role.NOC_OPERATOR))
    refused = api.post("/api/v1/silences/", body)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["message"]
    if field:
        assert field in error["fields"]
    assert not Silence.objects.exists()


ALERTMANAGER = {
    "version": "4",
    "status": "firing",
    "receiver": "branchops",
    "groupLabels": {"alertname": "NodeDown"},
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "NodeDown",
                "instance": "10.9.9.9:9100",
                "severity": "critical",
            },
            "annotations": {"summary": "node down", "description": "no scrape for 5m"},
            "startsAt": "2026-11-22T06:00:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "c0ffee",
            "unknownField": True,
        }
    ],
}


def test_alertmanager_webhook_is_accepted_and_queued_for_the_engine() -> None:
    api = ApiClient(make_user(Role.OPS_ENGINEER))
    accepted = api.post("/api/v1/ingest/alertmanager", ALERTMANAGER)
    assert accepted.status_code == 202
    assert accepted.json() == {"accepted": 1}
    (signal,) = inbound.take()
    assert (signal.source, signal.name, signal.severity, signal.firing) == (
        AlertSource.ALERTMANAGER, "NodeDown", 1, True,
    )  # fmt: skip
    assert signal.title == "node down"
    assert not InboundEvent.objects.exists()  # taken once


def test_zabbix_problem_and_its_recovery_share_a_fingerprint() -> None:
    api = ApiClient(make_user(Role.OPS_ENGINEER))
    problem = {
        "event_id": "9001", "host": "DC-SH-HQ-DB01", "status": "PROBLEM", "severity": "High",
        "trigger_name": "Disk /data 95%", "tags": {"team": "dba"},
    }  # fmt: skip
    assert api.post("/api/v1/ingest/zabbix", problem).status_code == 202
    assert api.post("/api/v1/ingest/zabbix", {**problem, "status": "RESOLVED"}).status_code == 202
    fired, resolved = inbound.take()
    assert fired.fingerprint == resolved.fingerprint
    assert (fired.firing, resolved.firing, fired.severity) == (True, False, 1)
    assert fired.labels["team"] == "dba"


@pytest.mark.parametrize(
    ("path", "body", "problem"),
    [
        ("alertmanager", {"alerts": "no"}, "alerts"),
        ("alertmanager", {"alerts": [{"labels": {}}]}, "alertname"),
        ("zabbix", {"host": "x"}, "event_id"),
        ("events", {"status": "firing"}, "name"),
        ("events", {"name": "x", "severity": "apocalyptic"}, "severity"),
        ("events", {"events": [{"name": "ok"}, {"name": "x", "at": "yesterday"}]}, "events[1]"),
    ],
)
def test_bad_alerts_are_refused_naming_the_problem_and_nothing_is_queued(
    path: str, body: Any, problem: str
) -> None:
    api = ApiClient(make_user(Role.OPS_ENGINEER))
    refused = api.post(f"/api/v1/ingest/{path}", body)
    assert refused.status_code == 400
    assert problem in str(refused.json()["error"])
    assert not InboundEvent.objects.exists()


def test_oversized_and_non_json_bodies_are_refused() -> None:
    api = ApiClient(make_user(Role.OPS_ENGINEER))
    huge = {"name": "x", "message": "y" * (1024 * 1024 + 1)}
    assert api.post("/api/v1/ingest/events", huge).status_code == 413
    garbage = api.client.post(
        "/api/v1/ingest/events", b"{nope", content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
    )  # fmt: skip
    assert garbage.status_code == 400


def test_a_read_only_token_cannot_send_alerts() -> None:
    api = ApiClient(make_user(Role.OPS_ENGINEER), scope=TokenScope.READ)
    assert api.post("/api/v1/ingest/events", {"name": "x"}).status_code == 403


def test_rules_made_and_changed_through_the_api_are_in_the_audit_trail() -> None:
    from branchops.alerts.models import AlertRule
    from branchops.core.models import AuditEvent

    api = ApiClient(make_user(Role.OPS_ENGINEER))
    made = api.post(
        "/api/v1/alert-rules/",
        {"name": "WAN errors", "kind": "rate", "metric": "branchops_if_in_errors_per_second",
         "params": {"per_s": 5}},
    )  # fmt: skip
    assert made.status_code == 201, made.json()
    rule_id = made.json()["id"]
    changed = api.patch(f"/api/v1/alert-rules/{rule_id}/", {"enabled": False})
    assert changed.json()["enabled"] is False
    assert AlertRule.objects.get(pk=rule_id).severity == 2  # untouched by a partial change
    actions = list(
        AuditEvent.objects.filter(object_id=str(rule_id), source="api").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["create", "update"]
    duplicate = api.post("/api/v1/alert-rules/", {"name": "WAN errors", "kind": "rate"})
    assert duplicate.status_code == 409
