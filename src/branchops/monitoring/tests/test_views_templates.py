"""The template editor: a list grouped by role and link kind with the checks following each
template, a form whose parameter errors come from the model ("params.<field>") and write
nothing, and a save that reaches the checks that follow the template."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from branchops.cmdb.models import DeviceRole
from branchops.core.choices import Role
from branchops.core.models import AuditEvent
from branchops.core.testing import make_user
from branchops.monitoring.models import Check, CheckTemplate
from branchops.monitoring.tests.test_views_support import build_estate, check_of, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate() -> dict[str, Any]:
    return build_estate()


@pytest.fixture
def reachability() -> CheckTemplate:
    return CheckTemplate.objects.get(name="Firewall: reachability")


def form_data(template: CheckTemplate, **changes: Any) -> dict[str, Any]:
    data = {
        "name": template.name,
        "kind": template.kind,
        "target_kind": template.target_kind,
        "role": template.role_id or "",
        "link_kind": template.link_kind,
        "interval_s": template.interval_s,
        "timeout_s": template.timeout_s,
        "params": json.dumps(template.params),
        "enabled": "on" if template.enabled else "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_the_list_groups_templates_and_counts_their_checks(
    estate: dict[str, Any], reachability: CheckTemplate
) -> None:
    client = client_for(make_user(Role.ADMIN))
    response = client.get(reverse("monitoring:template_list"))
    assert response.status_code == 200
    rows = {t.name: t for t in response.context["page_obj"]}
    assert rows["Firewall: reachability"].following == 2  # own-fw and other-fw
    assert rows["VPN tunnel: state and latency"].following == 1
    page = response.content.decode()
    assert f"{reverse('monitoring:check_list')}?template={reachability.pk}" in page
    filtered = client.get(reverse("monitoring:template_list"), {"target_kind": "link"})
    assert {t.target_kind for t in filtered.context["page_obj"]} == {"link"}
    detail = client.get(reverse("monitoring:template_detail", args=[reachability.pk]))
    assert detail.status_code == 200
    assert detail.context["following"] == 2
    checks = client.get(reverse("monitoring:check_list"), {"template": reachability.pk})
    assert {c.device.name for c in checks.context["page_obj"]} == {"own-fw", "other-fw"}


def test_bad_parameters_show_on_the_field_and_write_nothing(
    estate: dict[str, Any], reachability: CheckTemplate
) -> None:
    client = client_for(make_user(Role.OPS_ENGINEER))
    url = reverse("monitoring:template_edit", args=[reachability.pk])
    response = client.post(
        url, form_data(reachability, interval_s=15, params=json.dumps({"count": 0}))
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["params"]
    assert any(e.startswith("count:") for e in errors)
    assert "count:" in response.content.decode()
    reachability.refresh_from_db()
    assert (reachability.interval_s, reachability.params) == (30, {})
    assert not AuditEvent.objects.filter(object_id=str(reachability.pk)).exists()
    assert set(
        Check.objects.filter(template=reachability).values_list("interval_s", flat=True)
    ) == {30}


def test_a_device_template_needs_a_role(estate: dict[str, Any]) -> None:
    client = client_for(make_user(Role.ADMIN))
    response = client.post(
        reverse("monitoring:template_add"),
        {"name": "Firewall: web", "kind": "tcp", "target_kind": "device", "interval_s": 60,
         "timeout_s": 5, "params": json.dumps({"port": 443})},
    )  # fmt: skip
    assert "role" in response.context["form"].errors
    assert not CheckTemplate.objects.filter(name="Firewall: web").exists()


def test_saving_reaches_the_checks_that_follow_it(
    estate: dict[str, Any],
    reachability: CheckTemplate,
    django_capture_on_commit_callbacks: Any,
) -> None:
    customised = check_of("other-fw", "icmp")
    Check.objects.filter(pk=customised.pk).update(customised=True, interval_s=45)
    client = client_for(make_user(Role.OPS_ENGINEER))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("monitoring:template_edit", args=[reachability.pk]),
            form_data(reachability, interval_s=15, params=json.dumps({"count": 3})),
        )
    assert response.status_code == 302
    assert check_of("own-fw", "icmp").interval_s == 15
    assert check_of("own-fw", "icmp").params == {"count": 3}
    assert check_of("other-fw", "icmp").interval_s == 45  # customised: left alone
    page = client.get(response.url).content.decode()
    assert "take the change now" in page


def test_adding_a_template_gives_matching_devices_their_checks(
    estate: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(make_user(Role.ADMIN))
    firewall = DeviceRole.objects.get(slug="firewall")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("monitoring:template_add"),
            {"name": "Firewall: web", "kind": "tcp", "target_kind": "device",
             "role": firewall.pk, "interval_s": 60, "timeout_s": 5,
             "params": json.dumps({"port": 443}), "enabled": "on"},
        )  # fmt: skip
    assert response.status_code == 302, response.context["form"].errors
    assert Check.objects.filter(template__name="Firewall: web").count() == 2


@pytest.mark.parametrize("role", [Role.NOC_OPERATOR, Role.AUDITOR])
def test_readers_see_no_buttons_and_are_refused(
    role: Role, estate: dict[str, Any], reachability: CheckTemplate
) -> None:
    client = client_for(make_user(role))
    edit = reverse("monitoring:template_edit", args=[reachability.pk])
    listed = client.get(reverse("monitoring:template_list")).content.decode()
    assert reverse("monitoring:template_add") not in listed
    detail = client.get(reverse("monitoring:template_detail", args=[reachability.pk]))
    assert edit not in detail.content.decode()
    assert client.get(edit).status_code == 403
    assert client.post(edit, form_data(reachability, interval_s=5)).status_code == 403
    delete = reverse("monitoring:template_delete", args=[reachability.pk])
    assert client.post(delete).status_code == 403
    reachability.refresh_from_db()
    assert reachability.interval_s == 30


def test_a_technical_expert_edits_but_does_not_delete(
    estate: dict[str, Any], reachability: CheckTemplate
) -> None:
    client = client_for(make_user(Role.TECHNICAL_EXPERT))
    detail = client.get(reverse("monitoring:template_detail", args=[reachability.pk]))
    page = detail.content.decode()
    assert reverse("monitoring:template_edit", args=[reachability.pk]) in page
    assert reverse("monitoring:template_delete", args=[reachability.pk]) not in page


def test_templates_are_not_for_branch_liaisons(
    estate: dict[str, Any], reachability: CheckTemplate
) -> None:
    client = client_for(make_user(Role.BRANCH_LIAISON, sites=(estate["own"],)))
    assert client.get(reverse("monitoring:template_list")).status_code == 403
    assert (
        client.get(reverse("monitoring:template_detail", args=[reachability.pk])).status_code == 403
    )
    home = client.get(reverse("core:home")).content.decode()
    assert reverse("monitoring:check_list") in home
    assert reverse("monitoring:template_list") not in home
    # ... and a check of theirs names its template without linking to it.
    page = client.get(
        reverse("monitoring:check_detail", args=[check_of("own-fw", "icmp").pk])
    ).content.decode()
    assert "Firewall: reachability" in page
    assert reverse("monitoring:template_detail", args=[reachability.pk]) not in page


def test_navigation_follows_the_role(estate: dict[str, Any]) -> None:
    noc = Client()
    noc.force_login(make_user(Role.NOC_OPERATOR))
    page = noc.get(reverse("core:home")).content.decode()
    assert reverse("monitoring:check_list") in page
    assert reverse("monitoring:template_list") in page
    assert reverse("monitoring:credential_list") not in page  # no credentials area
    engineer = Client()
    engineer.force_login(make_user(Role.OPS_ENGINEER))
    assert (
        reverse("monitoring:credential_list") in engineer.get(reverse("core:home")).content.decode()
    )
