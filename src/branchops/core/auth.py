"""Password sign-in with lockout after repeated failures."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from branchops.core import audit
from branchops.core.choices import AuditAction, ChangeSource
from branchops.core.models import User


class LockoutBackend(ModelBackend):
    """Django's model backend, plus a per-account lock after too many wrong passwords.

    The lock is per account, not per address: branch networks sit behind NAT, so one
    address is many people, and an attacker rotates addresses anyway.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None or password is None:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            # Hash anyway so a missing account takes as long as a wrong password.
            User().set_password(password)
            return None
        if user.is_locked():
            audit.record(
                actor=user,
                action=AuditAction.LOCKED_OUT,
                source=ChangeSource.UI,
                obj=user,
                message="sign-in refused: account locked",
            )
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            if user.failed_logins or user.locked_until:
                User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
            return user
        register_failure(user)
        return None


def register_failure(user: User, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(failed_logins=F("failed_logins") + 1)
        user.refresh_from_db(fields=["failed_logins", "locked_until"])
        locked = user.failed_logins >= settings.LOGIN_MAX_FAILURES
        if locked:
            until = now + dt.timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
            User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=until)
        audit.record(
            actor=user,
            action=AuditAction.LOCKED_OUT if locked else AuditAction.LOGIN_FAILED,
            source=ChangeSource.UI,
            obj=user,
            message="wrong password" + ("; account locked" if locked else ""),
        )
