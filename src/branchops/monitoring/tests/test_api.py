"""The monitoring API: checks with their live status, templates, write-only credentials,
state history and metric series, under the same permissions as the estate."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from branchops.core.choices import Role
from branchops.core.testing import ApiClient, make_device, make_site, make_user
from branchops.monitoring import services
from branchops.monitoring.metrics.base import TimedSample
from branchops.monitoring.metrics.sqlite import SqliteMetricStore
from branchops.monitoring.models import (
    Check,
    CheckStatus,
    CheckTemplate,
    SnmpCredential,
    StateChange,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate() -> dict[str, Any]:
    own, other = make_site(code="BR-OWN"), make_site(code="BR-OTHER")
    fw = make_device(own, name="own-fw", management_ip="127.20.0.10")
    other_fw = make_device(other, name="other-fw", management_ip="127.20.1.10")
    services.sync()  # the shipped templates give every firewall its checks
    return {"own": own, "other": other, "fw": fw, "other_fw": other_fw}


@pytest.fixture
def admin() -> ApiClient:
    return ApiClient(make_user(Role.ADMIN))


def set_state(device_name: str, kind: str, state: str, *, overdue_minutes: int = 5) -> Check:
    check = Check.objects.get(device__name=device_name, kind=kind)
    CheckStatus.objects.filter(for_check=check).update(
        state=state, overdue_at=timezone.now() + dt.timedelta(minutes=overdue_minutes)
    )
    return check


def test_generated_checks_are_listed_with_their_status(admin: ApiClient, estate: dict) -> None:
    page = admin.get("/api/v1/checks/", device="own-fw").json()
    kinds = sorted(c["kind"] for c in page["results"])
    assert kinds == ["icmp", "snmp_interfaces", "snmp_profile", "snmp_system"]
    first = page["results"][0]
    assert first["status"]["state"] == "pending"
    assert first["template_id"] is not None
    assert first["site_id"] == estate["own"].pk


def test_filters_for_failing_late_state_and_kind(admin: ApiClient, estate: dict) -> None:
    down = set_state("own-fw", "icmp", "down")
    late = set_state("other-fw", "icmp", "up", overdue_minutes=-1)
    failing = admin.get("/api/v1/checks/", failing="true").json()["results"]
    assert [c["id"] for c in failing] == [down.pk]
    assert [c["id"] for c in admin.get("/api/v1/checks/", late="true").json()["results"]] == [
        late.pk
    ]
    by_state = admin.get("/api/v1/checks/", state="down", kind="icmp").json()
    assert by_state["count"] == 1
    assert admin.get("/api/v1/checks/", site="BR-OTHER").json()["count"] == 4


def test_hand_made_check_is_validated_and_gets_a_status(admin: ApiClient, estate: dict) -> None:
    body = {
        "name": "web portal",
        "kind": "tcp",
        "device_id": estate["fw"].pk,
        "params": {"port": 443},
        "interval_s": 30,
    }
    made = admin.post("/api/v1/checks/", body)
    assert made.status_code == 201, made.content
    assert made.json()["status"]["state"] == "pending"
    assert made.json()["site_id"] == estate["own"].pk

    bad = admin.post("/api/v1/checks/", {**body, "params": {"port": 70000}})
    assert bad.status_code == 400
    assert "params.port" in bad.json()["error"]["fields"]
    neither = admin.post("/api/v1/checks/", {**body, "device_id": None})
    assert neither.status_code == 400
    unknown_kind_params = admin.post("/api/v1/checks/", {**body, "params": {"colour": 1}})
    assert "params.colour" in unknown_kind_params.json()["error"]["fields"]


def test_editing_a_generated_check_customises_it_and_deleting_it_is_refused(
    admin: ApiClient, estate: dict
) -> None:
    check = Check.objects.get(device=estate["fw"], kind="icmp")
    assert admin.delete(f"/api/v1/checks/{check.pk}/").status_code == 409

    edited = admin.patch(f"/api/v1/checks/{check.pk}/", {"interval_s": 10})
    assert edited.json()["customised"] is True
    services.sync()  # the template no longer overwrites it
    check.refresh_from_db()
    assert check.interval_s == 10
    assert admin.delete(f"/api/v1/checks/{check.pk}/").status_code == 204


def test_template_changes_reach_the_checks_that_follow_them(
    admin: ApiClient, estate: dict, django_capture_on_commit_callbacks: Any
) -> None:
    template = CheckTemplate.objects.get(name="Firewall: reachability")
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin.patch(f"/api/v1/check-templates/{template.pk}/", {"interval_s": 15})
    assert answer.status_code == 200
    assert set(Check.objects.filter(template=template).values_list("interval_s", flat=True)) == {15}
    bad = admin.patch(f"/api/v1/check-templates/{template.pk}/", {"params": {"count": 0}})
    assert bad.status_code == 400
    assert "params.count" in bad.json()["error"]["fields"]


def test_credential_secrets_are_write_only_and_sealed(admin: ApiClient) -> None:
    body = {
        "name": "branches-v3",
        "version": "3",
        "username": "monitor",
        "auth_protocol": "sha",
        "auth_password": "auth-secret-1",
        "priv_protocol": "aes",
        "priv_password": "priv-secret-1",
    }
    made = admin.post("/api/v1/snmp-credentials/", body)
    assert made.status_code == 201, made.content
    shown = made.json()
    assert (shown["has_auth_password"], shown["has_priv_password"]) == (True, True)
    assert "auth-secret-1" not in made.content.decode()

    stored = SnmpCredential.objects.get(name="branches-v3")
    assert "auth-secret-1" not in stored.auth_password_sealed
    assert stored.secrets()[1:] == ("auth-secret-1", "priv-secret-1")

    admin.patch(f"/api/v1/snmp-credentials/{stored.pk}/", {"port": 1161})  # secrets untouched
    stored.refresh_from_db()
    assert (stored.port, stored.secrets()[1]) == (1161, "auth-secret-1")


@pytest.mark.parametrize("role", [Role.NOC_OPERATOR, Role.BRANCH_LIAISON])
def test_who_may_not_see_credentials_gets_none(role: Role, estate: dict) -> None:
    reader = ApiClient(make_user(role, sites=(estate["own"],)))
    assert reader.get("/api/v1/snmp-credentials/").json()["count"] == 0
    assert reader.get("/api/v1/checks/").status_code == 200


def test_a_liaison_sees_only_the_checks_of_their_sites(estate: dict) -> None:
    liaison = ApiClient(make_user(Role.BRANCH_LIAISON, sites=(estate["own"],)))
    sites = {c["site_id"] for c in liaison.get("/api/v1/checks/").json()["results"]}
    assert sites == {estate["own"].pk}
    other = Check.objects.filter(device=estate["other_fw"]).first()
    assert other is not None
    assert liaison.get(f"/api/v1/checks/{other.pk}/").status_code == 404
    own = Check.objects.filter(device=estate["fw"]).first()
    assert own is not None
    assert liaison.patch(f"/api/v1/checks/{own.pk}/", {"enabled": False}).status_code == 403


def test_state_history_newest_first(admin: ApiClient, estate: dict) -> None:
    check = Check.objects.get(device=estate["fw"], kind="icmp")
    t0 = timezone.now() - dt.timedelta(hours=1)
    StateChange.objects.create(for_check=check, at=t0, previous="pending", state="up")
    StateChange.objects.create(
        for_check=check,
        at=t0 + dt.timedelta(minutes=5),
        previous="up",
        state="down",
        error="100 % loss",
    )
    states = admin.get(f"/api/v1/checks/{check.pk}/states/").json()
    assert [(x["previous"], x["state"]) for x in states] == [("up", "down"), ("pending", "up")]


@pytest.fixture
def metrics(settings: Any, tmp_path: Path) -> SqliteMetricStore:
    settings.METRICS_URL = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    return SqliteMetricStore(tmp_path / "m.sqlite3")


def test_metric_series_for_charts(
    admin: ApiClient, estate: dict, metrics: SqliteMetricStore
) -> None:
    now = timezone.now().timestamp()
    labels = (("device", "own-fw"), ("site", "BR-OWN"), ("stat", "avg"))
    metrics.write(
        [
            TimedSample("branchops_icmp_rtt_seconds", labels, now - 60 * i, 0.001 * i)
            for i in range(10)
        ]
    )
    series = admin.get(
        "/api/v1/metrics/query_range/", name="branchops_icmp_rtt_seconds", device="own-fw"
    ).json()
    assert len(series) == 1
    assert series[0]["labels"]["stat"] == "avg"
    assert len(series[0]["points"]) == 10
    refused = admin.get("/api/v1/metrics/query_range/", name="x", start=10, end=5)
    assert refused.status_code == 400


def test_a_liaison_reads_series_of_their_own_sites_only(estate: dict, metrics: Any) -> None:
    liaison = ApiClient(make_user(Role.BRANCH_LIAISON, sites=(estate["own"],)))
    path = "/api/v1/metrics/query_range/"
    assert liaison.get(path, name="branchops_check_up", site="BR-OWN").status_code == 200
    assert liaison.get(path, name="branchops_check_up", device="own-fw").status_code == 200
    assert liaison.get(path, name="branchops_check_up", site="BR-OTHER").status_code == 403
    assert liaison.get(path, name="branchops_check_up").status_code == 403


def test_a_liaison_may_read_the_templates(estate: dict) -> None:
    liaison = ApiClient(make_user(Role.BRANCH_LIAISON, sites=(estate["own"],)))
    answer = liaison.get("/api/v1/check-templates/")
    assert answer.status_code == 200
    assert answer.json()["count"] == CheckTemplate.objects.count()


def test_deleting_a_template_takes_its_generated_checks_but_not_customised_ones(
    admin: ApiClient, estate: dict
) -> None:
    template = CheckTemplate.objects.get(name="Firewall: reachability")
    tuned = Check.objects.get(device=estate["fw"], template=template)
    admin.patch(f"/api/v1/checks/{tuned.pk}/", {"interval_s": 10})
    assert admin.delete(f"/api/v1/check-templates/{template.pk}/").status_code == 204
    remaining = Check.objects.filter(kind="icmp")
    assert list(remaining.values_list("pk", "template")) == [(tuned.pk, None)]


def test_credential_secrets_never_reach_the_audit_trail(admin: ApiClient) -> None:
    from branchops.core.models import AuditEvent

    admin.post("/api/v1/snmp-credentials/", {"name": "b", "community": "s3cret-community"})
    event = AuditEvent.objects.get(action="create", object_repr__startswith="b ")
    assert event.after is not None
    assert event.after["community_sealed"].startswith("sealed:")
    assert "s3cret" not in str(event.after)
    stored = SnmpCredential.objects.get(name="b").community_sealed
    assert stored not in str(event.after)
