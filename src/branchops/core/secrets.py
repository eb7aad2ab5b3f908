"""Secrets at rest (SNMP communities, v3 passwords): Fernet, keyed from the secret key.

The database alone does not reveal them; with the secret key they can be read, which the
engine must be able to do. Rotating BRANCHOPS_SECRET_KEY makes stored secrets unreadable:
the error says so rather than handing a collector garbage.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

_PREFIX = "fernet:"


class SecretError(ValueError):
    """A stored secret cannot be decrypted with the current secret key."""


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"branchops-secrets-v1:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(plain: str) -> str:
    if not plain:
        return ""
    return _PREFIX + _fernet().encrypt(plain.encode("utf-8")).decode("ascii")


def unseal(stored: str) -> str:
    if not stored:
        return ""
    if not stored.startswith(_PREFIX):
        raise SecretError("not a sealed secret")
    try:
        return _fernet().decrypt(stored[len(_PREFIX) :].encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise SecretError(
            "a stored secret cannot be read with the current BRANCHOPS_SECRET_KEY; "
            "was the key changed? Enter the secret again."
        ) from exc
