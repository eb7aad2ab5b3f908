"""API tokens: shown once, stored as a digest, expiring and revocable."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from branchops.cli import main
from branchops.core import tokens
from branchops.core.choices import ChangeSource, Role, TokenScope
from branchops.core.models import ApiToken
from branchops.core.testing import make_user

pytestmark = pytest.mark.django_db


def test_only_a_digest_of_the_secret_is_stored() -> None:
    user = make_user(Role.OPS_ENGINEER)
    token, plain = tokens.create_token(user=user, name="ci")
    secret = plain.split("_", 2)[2]
    assert secret not in (token.digest, token.prefix)
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert tokens.authenticate(plain) == token


def test_default_expiry_and_never_expiring_tokens(settings: object) -> None:
    user = make_user(Role.OPS_ENGINEER)
    token, _ = tokens.create_token(user=user, name="a")
    days = (token.expires_at - timezone.now()).days  # type: ignore[operator]
    assert days == settings.API_TOKEN_DEFAULT_DAYS - 1  # type: ignore[attr-defined]
    forever, _ = tokens.create_token(user=user, name="b", expires_days=0)
    assert forever.expires_at is None


@pytest.mark.parametrize(
    "presented",
    ["", "bo_", "bo_zzzzzzzzzzzz_" + "a" * 43, "Bearer x", "bo_0123456789ab_short"],
)
def test_malformed_tokens_are_refused(presented: str) -> None:
    assert tokens.authenticate(presented) is None


def test_a_wrong_secret_with_a_real_prefix_is_refused() -> None:
    user = make_user(Role.OPS_ENGINEER)
    token, _ = tokens.create_token(user=user, name="ci")
    forged = f"bo_{token.prefix}_" + "A" * 43
    assert tokens.authenticate(forged) is None


def test_expired_revoked_and_disabled_user_tokens_are_refused() -> None:
    user = make_user(Role.OPS_ENGINEER)
    token, plain = tokens.create_token(user=user, name="ci", expires_days=1)
    assert tokens.authenticate(plain, now=timezone.now() + dt.timedelta(days=2)) is None

    tokens.revoke_token(token, actor=user, source=ChangeSource.API)
    assert tokens.authenticate(plain) is None

    _, plain_other = tokens.create_token(user=make_user(is_active=False), name="x")
    assert tokens.authenticate(plain_other) is None


def test_last_use_is_recorded_at_most_once_a_minute() -> None:
    token, plain = tokens.create_token(user=make_user(), name="ci")
    now = timezone.now()
    tokens.authenticate(plain, now=now)
    tokens.authenticate(plain, now=now + dt.timedelta(seconds=30))
    token.refresh_from_db()
    assert token.last_used_at == now


def test_cli_prints_a_working_token(capsys: pytest.CaptureFixture[str]) -> None:
    user = make_user(Role.AUDITOR, username="reporting")
    assert main(["token", "create", "--user", "reporting", "--scope", "read"]) == 0
    plain = capsys.readouterr().out.strip()
    token = tokens.authenticate(plain)
    assert token is not None
    assert (token.user, token.scope) == (user, TokenScope.READ)


def test_cli_refuses_an_unknown_user(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "create", "--user", "ghost"]) == 2
    assert "no user named 'ghost'" in capsys.readouterr().err
    assert not ApiToken.objects.exists()
