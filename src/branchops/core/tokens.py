"""API tokens: ``bo_<prefix>_<secret>``; only the prefix and a SHA-256 of the secret are kept.

The secret has 256 bits of entropy, so a fast digest is the right tool here (a slow password
hash would only slow every API call down); the prefix finds the row without a table scan.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from branchops.core import audit
from branchops.core.choices import AuditAction, ChangeSource, TokenScope
from branchops.core.models import ApiToken, User

TOKEN_RE = re.compile(r"^bo_(?P<prefix>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")
LAST_USED_GRANULARITY = dt.timedelta(minutes=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_token(
    *,
    user: User,
    name: str,
    scope: TokenScope = TokenScope.WRITE,
    expires_days: int | None = None,
    actor: User | None = None,
    source: ChangeSource = ChangeSource.CLI,
) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the row and the plain token, shown only once."""
    days = settings.API_TOKEN_DEFAULT_DAYS if expires_days is None else expires_days
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=prefix,
            digest=_digest(secret),
            scope=scope,
            created_at=now,
            expires_at=now + dt.timedelta(days=days) if days > 0 else None,
        )
        audit.record(
            actor=actor or user,
            action=AuditAction.TOKEN_CREATED,
            source=source,
            obj=token,
            message=f"scope {scope}, expires {token.expires_at or 'never'}",
        )
    return token, f"bo_{prefix}_{secret}"


def authenticate(raw: str, now: dt.datetime | None = None) -> ApiToken | None:
    """The usable token for a presented string, or None (malformed, unknown, expired, revoked)."""
    match = TOKEN_RE.match(raw.strip())
    if match is None:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=match["prefix"]).first()
    if token is None or not hmac.compare_digest(token.digest, _digest(match["secret"])):
        return None
    now = now or timezone.now()
    if not token.is_usable(now) or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
        # Written at most once a minute: a busy script must not turn every read into a write.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def revoke_token(token: ApiToken, *, actor: User, source: ChangeSource) -> None:
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if updated:
            audit.record(actor=actor, action=AuditAction.TOKEN_REVOKED, source=source, obj=token)
