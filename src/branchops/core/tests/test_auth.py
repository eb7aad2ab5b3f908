"""Passwords are hashed with Argon2, and an account locks after repeated wrong passwords."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.utils import timezone

from branchops.core.choices import AuditAction, Role
from branchops.core.models import AuditEvent, User
from branchops.core.testing import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def test_the_product_hashes_passwords_with_argon2() -> None:
    from importlib import reload

    import branchops.settings as product_settings

    reload(product_settings)  # the test run swaps in a fast hasher; read the real setting
    assert product_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_right_password_signs_in_and_clears_failures() -> None:
    user = make_user(Role.NOC_OPERATOR)
    User.objects.filter(pk=user.pk).update(failed_logins=2)
    assert authenticate(username=user.username, password=PASSWORD) == user
    user.refresh_from_db()
    assert user.failed_logins == 0


def test_account_locks_after_too_many_failures_even_for_the_right_password() -> None:
    user = make_user(Role.NOC_OPERATOR)
    for _ in range(settings.LOGIN_MAX_FAILURES):
        assert authenticate(username=user.username, password="wrong") is None
    user.refresh_from_db()
    assert user.is_locked()
    assert authenticate(username=user.username, password=PASSWORD) is None
    actions = AuditEvent.objects.filter(object_id=str(user.pk)).values_list("action", flat=True)
    assert AuditAction.LOCKED_OUT in actions
    assert list(actions).count(AuditAction.LOGIN_FAILED) == settings.LOGIN_MAX_FAILURES - 1


def test_lock_expires() -> None:
    user = make_user(Role.NOC_OPERATOR)
    User.objects.filter(pk=user.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    assert authenticate(username=user.username, password=PASSWORD) == user


def test_unknown_user_and_disabled_user_are_refused() -> None:
    assert authenticate(username="nobody", password="x") is None
    user = make_user(Role.NOC_OPERATOR, is_active=False)
    assert authenticate(username=user.username, password=PASSWORD) is None


def test_chinese_names_read_family_name_first() -> None:
    assert User(first_name="洋", last_name="刘").get_full_name() == "刘洋"
    assert User(first_name="Yang", last_name="Liu").get_full_name() == "Yang Liu"
    assert str(User(username="liu.yang", first_name="洋", last_name="刘")) == "刘洋 (liu.yang)"
