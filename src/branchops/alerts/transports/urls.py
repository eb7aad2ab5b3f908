"""Validated setting types shared by the channels: URLs, phone numbers, HTTP headers."""

from __future__ import annotations

import re
from typing import Annotated, Final

import httpx
from pydantic import AfterValidator

_MOBILE: Final = re.compile(r"\+?[0-9]{5,20}")
# RFC 9110 token characters for header names; values are visible ASCII and Unicode text
# without line breaks (a newline in a value would start a header of its own).
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_HEADERS: Final = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def check_url(value: str) -> str:
    """``value`` if it is an http(s) URL with a host; ValueError otherwise."""
    value = value.strip()
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError("the URL must not contain spaces or line breaks")
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


def _mobile(value: str) -> str:
    value = value.strip().replace(" ", "").replace("-", "")
    if not _MOBILE.fullmatch(value):
        raise ValueError(f"{value!r} is not a phone number (digits, optionally a leading +)")
    return value


def check_headers(headers: dict[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a valid header name")
        if name.lower() in _FORBIDDEN_HEADERS:
            raise ValueError(f"the {name} header is set by BranchOps itself")
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"the value of {name} must be on one line")
    return headers


HttpUrl = Annotated[str, AfterValidator(check_url)]
Mobile = Annotated[str, AfterValidator(_mobile)]
Headers = Annotated[dict[str, str], AfterValidator(check_headers)]
