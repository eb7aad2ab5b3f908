"""The pages that shape alerting: silences (created through alerts.services, its problems
shown on their fields, ended by hand), rules and overrides (shipped rules cannot be
deleted), channels (settings checked by the transports, secrets write-only), escalation
policies, routes and the notification log; who may see and change each."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from branchops.alerts.choices import NotificationStatus
from branchops.alerts.models import (
    AlertRule,
    Channel,
    EscalationPolicy,
    EscalationStep,
    Notification,
    Route,
    RuleOverride,
    Silence,
)
from branchops.alerts.tests.test_views_support import (
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

SILENCES = reverse("alerts:silence_list")
SILENCE_ADD = reverse("alerts:silence_add")
CHANNELS = reverse("alerts:channel_list")


@pytest.fixture
def estate() -> dict[str, Any]:
    return build_estate()


@pytest.fixture
def noc() -> Any:
    return make_user(Role.NOC_OPERATOR, username="noc")


@pytest.fixture
def engineer() -> Any:
    return make_user(Role.OPS_ENGINEER, username="engineer")


def local(when: dt.datetime) -> str:
    return timezone.localtime(when).strftime("%Y-%m-%dT%H:%M")


def field_errors(response: Any) -> dict[str, list[str]]:
    return {k: [str(m) for m in v] for k, v in response.context["form"].errors.items()}


# ---- silences ------------------------------------------------------------------------------


def test_the_silence_form_comes_prefilled_from_the_console(
    estate: dict[str, Any], noc: Any
) -> None:
    site, device = estate["own"], estate["own_fw"]
    client = client_for(noc)
    response = client.get(SILENCE_ADD, {"sites": site.pk, "devices": device.pk, "reason": XSS})
    page = response.content.decode()
    assert response.status_code == 200
    assert f'<option value="{site.pk}" selected>' in page
    assert f'<option value="{device.pk}" selected>' in page
    assert XSS not in page
    assert XSS_ESCAPED in page


def test_a_noc_operator_silences_a_site_and_ends_it(estate: dict[str, Any], noc: Any) -> None:
    client = client_for(noc)
    now = timezone.now()
    data = {
        "reason": "Line works at the branch",
        "starts_at": local(now - dt.timedelta(minutes=1)),
        "ends_at": local(now + dt.timedelta(hours=2)),
        "sites": [estate["own"].pk],
    }
    assert client.post(SILENCE_ADD, data).status_code == 403  # no CSRF token
    response = csrf_post(client, SILENCE_ADD, data)
    assert response.status_code == 302
    silence = Silence.objects.get()
    assert silence.author == noc
    assert list(silence.sites.all()) == [estate["own"]]
    page = client.get(SILENCES).content.decode()
    assert "Line works at the branch" in page
    assert "active now" in page
    response = csrf_post(client, reverse("alerts:silence_end", args=[silence.pk]))
    assert response.status_code == 302
    silence.refresh_from_db()
    assert silence.ended_by == noc
    ended = client.get(SILENCES, {"state": "ended"}).content.decode()
    assert "Line works at the branch" in ended
    again = csrf_post(client, reverse("alerts:silence_end", args=[silence.pk]), follow=True)
    assert "This silence had already ended." in again.content.decode()


def test_a_weekly_maintenance_window(estate: dict[str, Any], noc: Any) -> None:
    now = timezone.now()
    response = csrf_post(
        client_for(noc),
        SILENCE_ADD,
        {
            "reason": "Sunday night patching",
            "starts_at": local(now + dt.timedelta(days=1)),
            "ends_at": "",
            "devices": [estate["own_fw"].pk],
            "matchers": '{"interface": "~wan.*"}',
            "weekdays": ["6"],
            "daily_start": "22:00",
            "duration_minutes": "240",
        },
    )
    assert response.status_code == 302
    silence = Silence.objects.get()
    assert (silence.weekdays, silence.duration_minutes) == ([6], 240)
    assert silence.matchers == {"interface": "~wan.*"}
    scheduled = client_for(noc).get(SILENCES, {"state": "scheduled"}).content.decode()
    assert "Sunday night patching" in scheduled
    assert "Sun 22:00 +240 min" in scheduled


def test_silence_problems_are_shown_on_their_fields(estate: dict[str, Any], noc: Any) -> None:
    now = timezone.now()
    client = client_for(noc)
    response = csrf_post(
        client,
        SILENCE_ADD,
        {
            "reason": "   ",
            "starts_at": local(now),
            "ends_at": local(now - dt.timedelta(hours=1)),
            "weekdays": ["1"],
        },
    )
    assert response.status_code == 200
    errors = field_errors(response)
    assert "reason" in errors  # blank after stripping: the form's own check
    response = csrf_post(
        client,
        SILENCE_ADD,
        {
            "reason": "works",
            "starts_at": local(now),
            "ends_at": local(now - dt.timedelta(hours=1)),
            "weekdays": ["1"],
        },
    )
    errors = field_errors(response)
    assert errors["sites"] == ["Name at least one site, device, system or label matcher."]
    assert errors["ends_at"] == ["The end must be after the start."]
    assert errors["weekdays"] == ["A weekly window needs weekdays, a start time and a duration."]
    page = response.content.decode()
    assert "The end must be after the start." in page
    assert 'class="form-control is-invalid"' in page
    bad_regex = csrf_post(
        client,
        SILENCE_ADD,
        {"reason": "x", "starts_at": local(now), "matchers": '{"site": "~("}'},
    )
    assert "bad regular expression" in field_errors(bad_regex)["matchers"][0]
    assert not Silence.objects.exists()


def test_who_may_silence(estate: dict[str, Any]) -> None:
    liaison = make_user(Role.BRANCH_LIAISON, sites=(estate["own"],))
    for user in (make_user(Role.AUDITOR), liaison):
        client = client_for(user)
        assert client.get(SILENCES).status_code == 200
        assert client.get(SILENCE_ADD).status_code == 403
        silence = Silence.objects.create(
            author=make_user(Role.ADMIN), reason="r", starts_at=timezone.now()
        )
        assert (
            csrf_post(client, reverse("alerts:silence_end", args=[silence.pk])).status_code == 403
        )
        assert "End now" not in client.get(SILENCES).content.decode()


# ---- rules -----------------------------------------------------------------------------------


def rule_data(**kw: Any) -> dict[str, Any]:
    return {
        "name": "WAN errors",
        "kind": "threshold",
        "severity": "2",
        "enabled": "on",
        "metric": "branchops_if_in_errors",
        "matchers": '{"interface": "~wan.*"}',
        "params": '{"above": 10}',
        "raise_when": "always",
        "raised_severity": "",
        **kw,
    }


def test_an_engineer_adds_a_rule_and_an_override(estate: dict[str, Any], engineer: Any) -> None:
    client = client_for(engineer)
    response = csrf_post(client, reverse("alerts:rule_add"), rule_data(check_kinds=["icmp"]))
    assert response.status_code == 302
    rule = AlertRule.objects.get(name="WAN errors")
    assert rule.matchers == {"interface": "~wan.*"}
    assert rule.check_kinds == ["icmp"]
    assert response.url == rule.get_absolute_url()
    response = csrf_post(
        client,
        reverse("alerts:override_add"),
        {"rule": rule.pk, "site": estate["own"].pk, "enabled": "on", "params": '{"above": 50}'},
    )
    assert response.status_code == 302
    override = RuleOverride.objects.get()
    assert (override.site, override.params) == (estate["own"], {"above": 50})
    page = client.get(rule.get_absolute_url()).content.decode()
    assert "BR-OWN" in page
    assert "&quot;above&quot;: 50" in page
    listing = client.get(reverse("alerts:rule_list"), {"q": "WAN"})
    assert [r.name for r in listing.context["page_obj"]] == ["WAN errors"]


def test_rule_form_errors_are_shown_per_field(engineer: Any) -> None:
    client = client_for(engineer)
    response = csrf_post(
        client,
        reverse("alerts:rule_add"),
        rule_data(matchers='{"interface": "~("}', raise_when="trading", params="[1]"),
    )
    assert response.status_code == 200
    errors = field_errors(response)
    assert "bad regular expression" in errors["matchers"][0]
    assert errors["raised_severity"] == ["Say which severity applies at those times."]
    assert errors["params"] == ["Give a JSON object, for example {}."]
    assert not AlertRule.objects.filter(name="WAN errors").exists()


def test_shipped_rules_can_be_disabled_but_not_deleted(engineer: Any) -> None:
    rule = AlertRule.objects.create(name="Device down", kind="check_state", shipped=True)
    client = client_for(engineer)
    page = client.get(rule.get_absolute_url()).content.decode()
    assert reverse("alerts:rule_delete", args=[rule.pk]) not in page
    data = rule_data(name="Device down", kind="check_state", matchers="", params="")
    del data["enabled"]
    assert csrf_post(client, reverse("alerts:rule_edit", args=[rule.pk]), data).status_code == 302
    rule.refresh_from_db()
    assert not rule.enabled
    assert rule.shipped
    delete = reverse("alerts:rule_delete", args=[rule.pk])
    assert "cannot be deleted" in client.get(delete).content.decode()
    assert csrf_post(client, delete).status_code == 409
    assert AlertRule.objects.filter(pk=rule.pk).exists()
    own = AlertRule.objects.create(name="Mine", kind="threshold")
    assert csrf_post(client, reverse("alerts:rule_delete", args=[own.pk])).status_code == 302
    assert not AlertRule.objects.filter(pk=own.pk).exists()


def test_a_noc_operator_reads_rules_but_may_not_change_them(noc: Any) -> None:
    rule = AlertRule.objects.create(name=XSS, kind="threshold")
    client = client_for(noc)
    page = client.get(rule.get_absolute_url()).content.decode()
    assert XSS not in page
    assert XSS_ESCAPED in page
    assert reverse("alerts:rule_edit", args=[rule.pk]) not in page
    assert client.get(reverse("alerts:rule_edit", args=[rule.pk])).status_code == 403
    assert csrf_post(client, reverse("alerts:rule_add"), rule_data()).status_code == 403


# ---- channels, policies, routes -----------------------------------------------------------


def test_channel_secrets_are_stored_sealed_and_never_shown_again(engineer: Any) -> None:
    client = client_for(engineer)
    url = "https://oapi.dingtalk.com/robot/send?access_token=TOKEN-SECRET-123"
    response = csrf_post(
        client,
        reverse("alerts:channel_add"),
        {
            "name": "NOC group",
            "kind": "dingtalk",
            "enabled": "on",
            "per_minute": "20",
            "config": '{"at_all": true}',
            "secret_url": url,
            "secret_secret": "SECabcdef",
        },
    )
    assert response.status_code == 302
    channel = Channel.objects.get()
    assert channel.config == {"at_all": True}
    assert channel.secrets() == {"url": url, "secret": "SECabcdef"}
    assert "TOKEN-SECRET-123" not in channel.sealed_secrets
    edit = reverse("alerts:channel_edit", args=[channel.pk])
    for page in (client.get(edit), client.get(CHANNELS)):
        text = page.content.decode()
        assert "TOKEN-SECRET-123" not in text
        assert "SECabcdef" not in text
    assert "Set. Leave empty to keep it" in client.get(edit).content.decode()
    # Blank keeps what is stored; an error elsewhere does not echo a typed secret back.
    response = csrf_post(
        client,
        edit,
        {
            "name": "NOC group",
            "kind": "dingtalk",
            "per_minute": "0x",
            "config": "{}",
            "secret_secret": "SECnew-typed",
        },
    )
    assert response.status_code == 200
    assert "SECnew-typed" not in response.content.decode()
    response = csrf_post(
        client, edit, {"name": "NOC group", "kind": "dingtalk", "per_minute": "30", "config": "{}"}
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.secrets() == {"url": url, "secret": "SECabcdef"}
    assert channel.per_minute == 30


def test_channel_settings_are_checked_by_the_transport(engineer: Any) -> None:
    client = client_for(engineer)
    add = reverse("alerts:channel_add")
    base = {"name": "Hook", "kind": "webhook", "enabled": "on", "per_minute": "20"}
    response = csrf_post(client, add, {**base, "config": '{"url": "not a url"}'})
    assert response.status_code == 200
    assert field_errors(response)["config"][0].startswith("url:")
    response = csrf_post(
        client, add, {**base, "config": '{"url": "https://x.example/h", "secret": "plain"}'}
    )
    assert field_errors(response)["config"] == ["Put secret in its own field below."]
    response = csrf_post(
        client,
        add,
        {**base, "config": '{"url": "https://x.example/h"}', "secret_headers": "not json"},
    )
    assert field_errors(response)["secret_headers"] == ["Give a JSON object."]
    response = csrf_post(
        client,
        add,
        {
            **base,
            "config": '{"url": "https://x.example/h"}',
            "secret_headers": json.dumps({"Authorization": "Bearer abc"}),
        },
    )
    assert response.status_code == 302
    assert Channel.objects.get().secrets() == {"headers": {"Authorization": "Bearer abc"}}
    robot = csrf_post(
        client,
        add,
        {"name": "Robot", "kind": "wecom", "per_minute": "20", "secret_url": "ftp://nope"},
    )
    assert "secret_url" in field_errors(robot)


def test_changing_the_kind_reloads_the_secret_fields(engineer: Any) -> None:
    page = client_for(engineer).get(reverse("alerts:channel_add"), {"kind": "email"})
    text = page.content.decode()
    assert 'name="secret_password"' in text
    assert 'name="secret_url"' not in text
    assert 'hx-select-oob="#field-secrets,#field-settings-help"' in text
    assert "sender" not in text  # the alias is listed, not the attribute
    assert ">from" in text


def test_the_channel_page_marks_failing_channels_and_lists_policies_and_routes(
    engineer: Any,
) -> None:
    failing = Channel.objects.create(
        name="Mail",
        kind="email",
        failing_since=timezone.now(),
        consecutive_failures=4,
        last_error=XSS,
    )
    Channel.objects.create(name="Robot", kind="wecom")
    client = client_for(engineer)
    response = csrf_post(
        client, reverse("alerts:policy_add"), {"name": "Branch outages", "notify_resolved": "on"}
    )
    assert response.status_code == 302
    policy = EscalationPolicy.objects.get()
    response = csrf_post(
        client,
        reverse("alerts:step_add"),
        {"policy": policy.pk, "level": "1", "delay_minutes": "0", "channels": [failing.pk]},
    )
    assert response.status_code == 302
    assert EscalationStep.objects.get().policy == policy
    response = csrf_post(
        client,
        reverse("alerts:route_add"),
        {
            "name": "Severity 1 anywhere",
            "order": "10",
            "enabled": "on",
            "max_severity": "1",
            "policy": policy.pk,
            "when": "always",
            "matchers": '{"site": "~BR-.*"}',
        },
    )
    assert response.status_code == 302
    assert Route.objects.get().matchers == {"site": "~BR-.*"}
    page = client.get(CHANNELS).content.decode()
    assert page.count("data-bo-failing") == 1
    assert "failing since" in page
    assert XSS not in page
    assert XSS_ESCAPED in page
    assert "Branch outages" in page
    assert "Severity 1 anywhere" in page
    # A policy in use by a route is not deleted from under it.
    assert csrf_post(client, reverse("alerts:policy_delete", args=[policy.pk])).status_code == 409


def test_a_channel_with_a_log_is_disabled_not_deleted(
    estate: dict[str, Any], engineer: Any
) -> None:
    channel = Channel.objects.create(name="Mail", kind="email")
    Notification.objects.create(
        alert=make_alert(site=estate["own"]), channel=channel, kind="firing"
    )
    client = client_for(engineer)
    assert csrf_post(client, reverse("alerts:channel_delete", args=[channel.pk])).status_code == 409
    assert Channel.objects.filter(pk=channel.pk).exists()


def test_a_noc_operator_reads_channels_but_may_not_change_them(noc: Any) -> None:
    Channel.objects.create(name="Mail", kind="email")
    client = client_for(noc)
    page = client.get(CHANNELS).content.decode()
    assert "Mail" in page
    assert reverse("alerts:channel_add") not in page
    assert client.get(reverse("alerts:channel_add")).status_code == 403


# ---- the notification log -----------------------------------------------------------------


def test_the_notification_log_filters_by_status_and_channel(
    estate: dict[str, Any], noc: Any
) -> None:
    mail = Channel.objects.create(name="Mail", kind="email")
    robot = Channel.objects.create(name="Robot", kind="wecom")
    alert = make_alert(site=estate["own"], title="WAN down")
    Notification.objects.create(alert=alert, channel=mail, kind="firing", status="sent")
    Notification.objects.create(
        alert=alert,
        channel=robot,
        kind="firing",
        status=NotificationStatus.DEAD,
        attempts=5,
        last_error="HTTP 403 errcode=310000",
    )
    client = client_for(noc)
    url = reverse("alerts:notification_log")

    def channels(**query: Any) -> list[str]:
        return [n.channel.name for n in client.get(url, query).context["page_obj"]]

    assert sorted(channels()) == ["Mail", "Robot"]
    assert channels(status="dead") == ["Robot"]
    assert channels(channel=mail.pk) == ["Mail"]
    assert channels(alert=alert.pk, status="sent") == ["Mail"]
    assert "HTTP 403 errcode=310000" in client.get(url).content.decode()
