"""The core pages: sign-in and lockout, language, dashboard, search, audit, users, tokens."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from branchops.cmdb.models import Region, Site
from branchops.cmdb.services import delete, update
from branchops.core.choices import AuditAction, ChangeSource, Role
from branchops.core.models import ApiToken, AuditEvent, User
from branchops.core.testing import PASSWORD, make_device, make_site, make_user

pytestmark = pytest.mark.django_db


def client_for(user: User | None = None, language: str = "en") -> Client:
    client = Client(headers={"accept-language": language})
    if user is not None:
        client.force_login(user)
    return client


def form_error_codes(response: object) -> list[str]:
    form = response.context["form"]  # type: ignore[attr-defined]
    return [e.code for e in form.non_field_errors().as_data()]


# ---- sign-in -----------------------------------------------------------------------------


def test_every_page_needs_sign_in() -> None:
    client = client_for()
    for name in ("core:home", "core:search", "core:audit_list", "core:user_list"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response.url.startswith(reverse("core:login"))


def test_sign_in_with_the_right_password() -> None:
    user = make_user(Role.NOC_OPERATOR)
    client = client_for()
    response = client.post(reverse("core:login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("core:home")
    assert client.get(reverse("core:home")).status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, actor=user).exists()


def test_wrong_password_is_refused_with_a_message() -> None:
    user = make_user(Role.NOC_OPERATOR)
    response = client_for().post(
        reverse("core:login"), {"username": user.username, "password": "wrong"}
    )
    assert response.status_code == 200
    assert form_error_codes(response) == ["invalid_login"]
    assert "correct username and password" in response.content.decode()
    assert "_auth_user_id" not in response.client.session


def test_lockout_says_so_and_until_when() -> None:
    user = make_user(Role.NOC_OPERATOR)
    client = client_for()
    codes = []
    for _ in range(settings.LOGIN_MAX_FAILURES):
        response = client.post(
            reverse("core:login"), {"username": user.username, "password": "wrong"}
        )
        codes.append(form_error_codes(response))
    assert codes[0] == ["invalid_login"]
    assert codes[-1] == ["locked"]
    user.refresh_from_db()
    assert user.locked_until is not None
    page = response.content.decode()
    assert "locked" in page
    until = timezone.localtime(user.locked_until).strftime("%Y-%m-%d %H:%M")
    assert until in page
    # Even the right password is refused while locked, with the same explanation.
    response = client.post(reverse("core:login"), {"username": user.username, "password": PASSWORD})
    assert form_error_codes(response) == ["locked"]


def test_sign_out_is_a_post() -> None:
    client = client_for(make_user())
    assert client.get(reverse("core:logout")).status_code == 405
    response = client.post(reverse("core:logout"))
    assert response.status_code == 302
    assert client.get(reverse("core:home")).status_code == 302


# ---- language ----------------------------------------------------------------------------


def test_language_choice_is_kept_on_the_user_and_wins_over_the_browser() -> None:
    user = make_user(Role.NOC_OPERATOR)
    client = client_for(user, language="en")
    home = reverse("core:home")
    response = client.post(reverse("core:set_language"), {"language": "zh-hans", "next": home})
    assert response.status_code == 302
    assert response.url == home
    user.refresh_from_db()
    assert user.language == "zh-hans"
    page = client.get(home).content.decode()
    assert "仪表盘" in page
    assert '<html lang="zh-hans">' in page

    client.post(reverse("core:set_language"), {"language": "en", "next": home})
    user.refresh_from_db()
    assert user.language == "en"
    page = client_for(user, language="zh-hans").get(home).content.decode()
    assert "Dashboard" in page
    assert "仪表盘" not in page


def test_language_switch_refuses_unknown_languages_and_foreign_redirects() -> None:
    user = make_user()
    client = client_for(user)
    assert client.post(reverse("core:set_language"), {"language": "xx"}).status_code == 400
    response = client.post(
        reverse("core:set_language"), {"language": "en", "next": "https://evil.example/"}
    )
    assert response.url == reverse("core:home")


# ---- dashboard and search ----------------------------------------------------------------


def test_dashboard_counts_and_map_for_admin() -> None:
    site = make_site(latitude="31.230000", longitude="121.470000")
    make_device(site, status="failed")
    response = client_for(make_user()).get(reverse("core:home"))
    assert response.status_code == 200
    points = response.context["map_data"]["points"]
    assert [p["name"] for p in points] == [f"{site.code} {site.name}"]
    statuses = {s["value"]: s["count"] for s in response.context["device_statuses"]}
    assert statuses["failed"] == 1
    assert 'id="map-data"' in response.content.decode()


def test_search_groups_results_and_finds_devices_by_ip_serial_and_tag() -> None:
    site = make_site(name="Hangzhou Wulin")
    make_device(site, name="hz-fw1", management_ip="10.20.30.1", serial="SN-XYZ", asset_tag="AT9")
    client = client_for(make_user())
    for text in ("10.20.30", "sn-xyz", "AT9", "hz-fw1"):
        response = client.get(reverse("core:search"), {"q": text})
        labels = [str(g["label"]) for g in response.context["groups"]]
        assert labels == ["Devices"], text
    response = client.get(reverse("core:search"), {"q": "wulin"})
    assert [str(g["label"]) for g in response.context["groups"]] == ["Sites"]
    # A city finds its branches, in Chinese or English.
    Region.objects.filter(pk=site.region_id).update(name="杭州", name_en="Hangzhou")
    for text in ("hangzhou", "杭州"):
        response = client.get(reverse("core:search"), {"q": text})
        assert [str(g["label"]) for g in response.context["groups"]] == ["Sites"], text


def test_search_shows_a_liaison_only_their_sites() -> None:
    own = make_site(name="Branch Alpha")
    make_site(name="Branch Beta")
    liaison = make_user(Role.BRANCH_LIAISON, sites=(own,))
    response = client_for(liaison).get(reverse("core:search"), {"q": "Branch"})
    page = response.content.decode()
    assert "Branch Alpha" in page
    assert "Branch Beta" not in page


def test_search_answers_htmx_with_the_results_only() -> None:
    make_site(name="Branch Alpha")
    response = client_for(make_user()).get(
        reverse("core:search"),
        {"q": "Alpha"},
        headers={"hx-request": "true", "hx-target": "object-list"},
    )
    page = response.content.decode()
    assert "Branch Alpha" in page
    assert "<html" not in page
    assert "HX-Request" in response["Vary"]


# ---- audit trail -------------------------------------------------------------------------


def test_audit_trail_shows_changes_with_before_and_after() -> None:
    admin = make_user()
    site = make_site(name="Old name")
    update(site, {"name": "New name"}, actor=admin, source=ChangeSource.UI)
    client = client_for(admin)
    response = client.get(reverse("core:audit_list"), {"action": "update"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Old name" in page
    assert "New name" in page
    assert [e.url for e in response.context["events"]] == [site.get_absolute_url()]
    response = client.get(reverse("core:audit_list"), {"action": "delete"})
    assert "New name" not in response.content.decode()
    # Once the object is gone, its rows no longer link to it.
    delete(site, actor=admin, source=ChangeSource.UI)
    events = client.get(reverse("core:audit_list")).context["events"]
    assert [e.url for e in events] == [None, None]


def test_audit_trail_filters_by_user_type_and_date() -> None:
    admin, other = make_user(), make_user()
    site = make_site()
    update(site, {"name": "by admin"}, actor=admin, source=ChangeSource.UI)
    update(site, {"name": "by other"}, actor=other, source=ChangeSource.UI)
    client = client_for(admin)
    events = client.get(reverse("core:audit_list"), {"actor": other.pk}).context["events"]
    assert {e.event.actor_name for e in events} == {other.username}
    site_type = AuditEvent.objects.filter(action="update").first().content_type_id  # type: ignore[union-attr]
    events = client.get(
        reverse("core:audit_list"), {"object_type": site_type, "date_from": "2000-01-01"}
    ).context["events"]
    assert len(events) == 2
    events = client.get(reverse("core:audit_list"), {"date_to": "2000-01-01"}).context["events"]
    assert events == []


@pytest.mark.parametrize("role", [Role.NOC_OPERATOR, Role.BRANCH_LIAISON])
def test_audit_trail_is_closed_to_roles_without_it(role: Role) -> None:
    response = client_for(make_user(role)).get(reverse("core:audit_list"))
    assert response.status_code == 403
    assert "may not" in response.content.decode()


# ---- users -------------------------------------------------------------------------------


def test_admin_creates_a_liaison_and_sees_the_password_once() -> None:
    admin = make_user()
    site = make_site()
    client = client_for(admin)
    response = client.post(
        reverse("core:user_add"),
        {"username": "zhang.san", "role": Role.BRANCH_LIAISON, "liaison_sites": [site.pk]},
    )
    assert response.status_code == 200
    created = User.objects.get(username="zhang.san")
    assert list(created.liaison_sites.all()) == [site]
    password = response.context["password"]
    assert password in response.content.decode()
    assert created.check_password(password)
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, object_id=str(created.pk)).exists()
    assert password not in client.get(reverse("core:user_list")).content.decode()


def test_liaison_sites_need_the_liaison_role() -> None:
    site = make_site()
    response = client_for(make_user()).post(
        reverse("core:user_add"),
        {"username": "li.si", "role": Role.NOC_OPERATOR, "liaison_sites": [site.pk]},
    )
    assert response.context["form"].errors["liaison_sites"]
    assert not User.objects.filter(username="li.si").exists()


def test_admin_disables_resets_and_unlocks() -> None:
    admin = make_user()
    target = make_user(Role.NOC_OPERATOR, failed_logins=3)
    client = client_for(admin)
    client.post(reverse("core:user_set_active", args=[target.pk]), {"active": "0"})
    target.refresh_from_db()
    assert not target.is_active
    response = client.post(reverse("core:user_reset_password", args=[target.pk]))
    target.refresh_from_db()
    assert target.check_password(response.context["password"])
    assert target.failed_logins == 0
    # An administrator cannot lock themselves out by mistake.
    client.post(reverse("core:user_set_active", args=[admin.pk]), {"active": "0"})
    admin.refresh_from_db()
    assert admin.is_active


def test_auditor_reads_users_but_changes_nothing() -> None:
    auditor = make_user(Role.AUDITOR)
    target = make_user(Role.NOC_OPERATOR)
    client = client_for(auditor)
    page = client.get(reverse("core:user_list")).content.decode()
    assert target.username in page
    assert reverse("core:user_edit", args=[target.pk]) not in page
    assert reverse("core:user_add") not in page
    assert (
        client.post(reverse("core:user_add"), {"username": "x", "role": "admin"}).status_code == 403
    )
    assert (
        client.post(reverse("core:user_set_active", args=[target.pk]), {"active": "0"}).status_code
        == 403
    )
    target.refresh_from_db()
    assert target.is_active


def test_users_page_is_closed_to_operators() -> None:
    assert (
        client_for(make_user(Role.NOC_OPERATOR)).get(reverse("core:user_list")).status_code == 403
    )


# ---- API tokens --------------------------------------------------------------------------

TOKEN = re.compile(r"bo_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def test_a_new_token_is_shown_once_and_revoking_works() -> None:
    user = make_user(Role.NOC_OPERATOR)
    client = client_for(user)
    response = client.post(
        reverse("core:token_list"), {"name": "backup script", "scope": "read", "expires_days": 30}
    )
    shown = TOKEN.findall(response.content.decode())
    assert len(shown) == 1
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(user=user)
    assert token.scope == "read"
    api = Client().get("/api/v1/sites/", headers={"authorization": f"Bearer {shown[0]}"})
    assert api.status_code == 200

    page = client.get(reverse("core:token_list")).content.decode()
    assert "backup script" in page
    assert TOKEN.findall(page) == []

    client.post(reverse("core:token_revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_at is not None
    api = Client().get("/api/v1/sites/", headers={"authorization": f"Bearer {shown[0]}"})
    assert api.status_code == 401


def test_nobody_revokes_another_users_token() -> None:
    owner, other = make_user(), make_user()
    client_for(owner).post(
        reverse("core:token_list"), {"name": "mine", "scope": "write", "expires_days": 7}
    )
    token = ApiToken.objects.get(user=owner)
    assert client_for(other).post(reverse("core:token_revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_site_names_with_html_are_escaped_in_search() -> None:
    make_site(name="<script>alert(1)</script>")
    page = client_for(make_user()).get(reverse("core:search"), {"q": "script"}).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert Site.objects.count() == 1


# ---- navigation and error pages ----------------------------------------------------------


def test_navigation_follows_the_role_and_hides_pages_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from branchops.core import context_processors as cp
    from branchops.core.permissions import Area

    missing = cp.NavModule("Lab", "flask", (cp.NavItem("Nowhere", "cmdb:nowhere", Area.ESTATE),))
    monkeypatch.setattr(cp, "NAVIGATION", (*cp.NAVIGATION, missing))
    admin_nav = client_for(make_user()).get(reverse("core:home")).context["navigation"]
    labels = [str(i["label"]) for m in admin_nav for i in m["items"]]
    assert "Users" in labels
    assert "Audit trail" in labels
    assert "Nowhere" not in labels
    noc_nav = (
        client_for(make_user(Role.NOC_OPERATOR)).get(reverse("core:home")).context["navigation"]
    )
    labels = [str(i["label"]) for m in noc_nav for i in m["items"]]
    assert "Sites" in labels
    assert "Users" not in labels
    assert "Audit trail" not in labels


def test_a_form_without_csrf_token_gets_the_friendly_page() -> None:
    client = Client(enforce_csrf_checks=True, headers={"accept-language": "en"})
    client.force_login(make_user())
    response = client.post(reverse("core:set_language"), {"language": "en"})
    assert response.status_code == 403
    assert "Reload the page" in response.content.decode()


def test_users_filter_by_role_and_text() -> None:
    admin = make_user(username="boss")
    make_user(Role.AUDITOR, username="checker", first_name="Mei")
    client = client_for(admin)
    found = client.get(reverse("core:user_list"), {"role": Role.AUDITOR}).context["page_obj"]
    assert [u.username for u in found] == ["checker"]
    found = client.get(reverse("core:user_list"), {"q": "mei"}).context["page_obj"]
    assert [u.username for u in found] == ["checker"]
