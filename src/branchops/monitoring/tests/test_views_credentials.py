"""SNMP credentials in the UI: secrets are write-only (an empty field keeps them, pages say
"set" or "not set" and never show them, not even sealed), and only those who may change
credentials do."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from branchops.core.choices import Role
from branchops.core.testing import make_user
from branchops.monitoring.models import SnmpCredential
from branchops.monitoring.tests.test_views_support import XSS, client_for

pytestmark = pytest.mark.django_db

COMMUNITY = "c0mmunity-s3cret"
AUTH = "auth-pass-s3cret"
PRIV = "priv-pass-s3cret"


def v3_data(**changes: Any) -> dict[str, Any]:
    data = {
        "name": "branches-v3",
        "version": "3",
        "port": 161,
        "username": "monitor",
        "auth_protocol": "sha",
        "auth_password": AUTH,
        "priv_protocol": "aes",
        "priv_password": PRIV,
        "timeout_s": 2,
        "retries": 1,
    }
    data.update(changes)
    return data


def test_secrets_are_write_only_and_never_shown() -> None:
    admin = make_user(Role.ADMIN)
    client = client_for(admin)
    made = client.post(reverse("monitoring:credential_add"), v3_data(community=COMMUNITY))
    assert made.status_code == 302, made.context["form"].errors
    credential = SnmpCredential.objects.get(name="branches-v3")
    assert credential.secrets() == (COMMUNITY, AUTH, PRIV)

    edit = reverse("monitoring:credential_edit", args=[credential.pk])
    # An empty secret field keeps what is stored; the other fields change.
    kept = client.post(edit, v3_data(port=1161, auth_password="", priv_password=""))
    assert kept.status_code == 302
    credential.refresh_from_db()
    assert (credential.port, credential.secrets()) == (1161, (COMMUNITY, AUTH, PRIV))
    # A form sent back with an error does not echo a typed secret either.
    invalid = client.post(edit, v3_data(port=0, auth_password="typed-n0w"))
    assert invalid.status_code == 200

    pages = [
        client.get(reverse("monitoring:credential_list")),
        client.get(edit),
        invalid,
        client.get(reverse("core:audit_list")),
    ]
    for response in pages:
        page = response.content.decode()
        for secret in (COMMUNITY, AUTH, PRIV, "typed-n0w"):
            assert secret not in page, (response.request["PATH_INFO"], secret)
    form_page = pages[1].content.decode()
    assert "Set. Leave empty to keep it" in form_page
    # Sealed values are ciphertext; the history panel shows that a secret changed, not it.
    assert credential.auth_password_sealed not in form_page
    assert "fernet:" not in form_page
    listing = pages[0].content.decode()
    assert listing.count("ti-lock") >= 3  # community, auth and priv of this one are "set"


def test_v3_and_v2c_need_their_secrets() -> None:
    client = client_for(make_user(Role.ADMIN))
    missing = client.post(
        reverse("monitoring:credential_add"), v3_data(username="", auth_password="")
    )
    errors = missing.context["form"].errors
    assert set(errors) >= {"username", "auth_password"}
    v2c = client.post(
        reverse("monitoring:credential_add"),
        {"name": "plain", "version": "2c", "port": 161, "timeout_s": 2, "retries": 1},
    )
    assert "community" in v2c.context["form"].errors
    assert not SnmpCredential.objects.filter(name__in=["branches-v3", "plain"]).exists()


@pytest.mark.parametrize("role", [Role.TECHNICAL_EXPERT, Role.AUDITOR])
def test_readers_of_credentials_cannot_change_them(role: Role) -> None:
    credential = SnmpCredential.objects.get(name="default")
    client = client_for(make_user(role))
    listing = client.get(reverse("monitoring:credential_list"))
    assert listing.status_code == 200
    page = listing.content.decode()
    assert reverse("monitoring:credential_edit", args=[credential.pk]) not in page
    assert reverse("monitoring:credential_add") not in page
    edit = reverse("monitoring:credential_edit", args=[credential.pk])
    assert client.get(edit).status_code == 403
    assert client.post(edit, v3_data(name="default")).status_code == 403
    assert client.post(reverse("monitoring:credential_add"), v3_data()).status_code == 403
    credential.refresh_from_db()
    assert credential.version == "2c"


@pytest.mark.parametrize("role", [Role.NOC_OPERATOR, Role.BRANCH_LIAISON])
def test_who_has_no_credentials_area_is_refused(role: Role) -> None:
    client = client_for(make_user(role))
    assert client.get(reverse("monitoring:credential_list")).status_code == 403
    credential = SnmpCredential.objects.get(name="default")
    edit = reverse("monitoring:credential_edit", args=[credential.pk])
    assert client.get(edit).status_code == 403


def test_names_are_escaped() -> None:
    SnmpCredential.objects.filter(name="default").update(username=XSS)
    page = client_for(make_user(Role.ADMIN)).get(reverse("monitoring:credential_list"))
    assert XSS not in page.content.decode()
