"""SMS through an HTTP gateway, described by a template instead of code per vendor.

The operator writes the gateway's request: URL, method, headers and a body template with
the placeholders ``{phone}`` and ``{text}``. Values are escaped for where they land —
JSON string escaping in a JSON body, URL encoding in a form body or in the URL — and the
template is expanded in one pass, so a ``{phone}`` inside the alert text stays text. A JSON
template must be valid JSON with its placeholders inside strings; that is checked when the
settings are saved, not at 3 a.m.

The text is the headline and the fields, cut to ``max_length`` characters (a Chinese
character counts as one, as carriers count them) with "…". Either one request per phone
(``per_phone``), or one request with the phones joined by ``phone_separator``. Success is a
2xx answer that contains ``success_contains`` when that is set. When only some phones got
the message, the delivery is reported with ``ok=False`` rather than raised, so that the
outbox does not send it again to those who already have it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import ClassVar, Final, Literal, Self
from urllib.parse import quote, quote_plus

from pydantic import Field, model_validator

from branchops.alerts.transports.base import (
    ChannelConfig,
    Delivery,
    Notice,
    Transport,
    TransportError,
    excerpt,
)
from branchops.alerts.transports.httpio import check_status, exchange
from branchops.alerts.transports.text import cut_chars, headline, one_line, safe_link
from branchops.alerts.transports.urls import Headers, Mobile, check_url

_PLACEHOLDER: Final = re.compile(r"\{(phone|text)\}")
_PROBE: Final = {"phone": "+8613800000000", "text": 'a "quoted" {text} & more'}


def expand(template: str, values: dict[str, str], escape: Callable[[str], str]) -> str:
    """``template`` with each placeholder replaced by its escaped value, in one pass."""
    return _PLACEHOLDER.sub(lambda m: escape(values[m.group(1)]), template)


def json_escape(value: str) -> str:
    """``value`` as the inside of a JSON string."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


def url_escape(value: str) -> str:
    return quote(value, safe="")


class SmsConfig(ChannelConfig):
    url: str = Field(description="Gateway URL; may contain {phone} and {text} (URL-encoded).")
    method: Literal["POST", "GET"] = "POST"
    headers: Headers = Field(default_factory=dict)
    body_format: Literal["json", "form"] = "json"
    body_template: str = Field("", description='e.g. {"to": "{phone}", "msg": "{text}"}')
    phones: list[Mobile] = Field(min_length=1, max_length=50)
    per_phone: bool = True
    phone_separator: str = Field(",", min_length=1, max_length=3)
    success_contains: str = ""
    max_length: int = Field(70, ge=10, le=1000, description="Characters of text per message.")
    include_link: bool = False

    @model_validator(mode="after")
    def _templates_expand(self) -> Self:
        check_url(expand(self.url, _PROBE, url_escape))
        if self.method == "GET" or not self.body_template:
            if self.method == "POST":
                raise ValueError("body_template is needed for POST")
            return self
        if self.body_format == "json":
            try:
                json.loads(expand(self.body_template, _PROBE, json_escape))
            except ValueError:
                raise ValueError(
                    "body_template must be valid JSON with {phone} and {text} inside strings"
                ) from None
        return self


class SmsTransport(Transport[SmsConfig]):
    kind: ClassVar[str] = "sms"
    config_model: ClassVar[type[ChannelConfig]] = SmsConfig

    async def send(self, notice: Notice) -> Delivery:
        config = self.config
        text = self.text(notice)
        if config.per_phone:
            batches = [[phone] for phone in config.phones]
        else:
            batches = [list(config.phones)]
        sent: list[str] = []
        failures: list[tuple[list[str], TransportError]] = []
        for phones in batches:
            try:
                sent.append(await self._send_one(config.phone_separator.join(phones), text))
            except TransportError as exc:
                failures.append((phones, exc))
        return _outcome(sent, failures, len(batches))

    def text(self, notice: Notice) -> str:
        """Headline and fields, cut to max_length; the link, if asked for, is never cut."""
        parts = [headline(notice), *(f"{one_line(k)}: {one_line(v)}" for k, v in notice.fields)]
        text = "; ".join(parts)
        link = safe_link(notice.link) if self.config.include_link else ""
        if link and len(link) + 11 <= self.config.max_length:
            return f"{cut_chars(text, self.config.max_length - len(link) - 1)} {link}"
        return cut_chars(text, self.config.max_length)

    async def _send_one(self, phone: str, text: str) -> str:
        config = self.config
        values = {"phone": phone, "text": text}
        url = expand(config.url, values, url_escape)
        content: bytes | None = None
        headers = dict(config.headers)
        if config.method == "POST":
            if config.body_format == "json":
                content = expand(config.body_template, values, json_escape).encode()
                headers.setdefault("Content-Type", "application/json; charset=utf-8")
            else:
                content = expand(config.body_template, values, quote_plus).encode()
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request = self.client.build_request(config.method, url, content=content, headers=headers)
        answer = await exchange(self.client, request, timeout=config.timeout_s)
        check_status(answer)
        if config.success_contains and config.success_contains not in answer.text:
            raise TransportError(
                f"{answer.label} without {config.success_contains!r}",
                retryable=False,
                detail=answer.text,
            )
        return answer.label


def _masked(phones: list[str]) -> str:
    """Phone numbers are personal data: the log shows their last four digits."""
    return ",".join("…" + phone[-4:] for phone in phones)


def _outcome(
    sent: list[str], failures: list[tuple[list[str], TransportError]], total: int
) -> Delivery:
    if not failures:
        return Delivery(True, sent[0] if total == 1 else f"{sent[0]} x{total}")
    reasons = "; ".join(f"{_masked(phones)}: {exc}" for phones, exc in failures)
    if not sent:
        retryable = any(exc.retryable for _, exc in failures)
        raise TransportError(reasons, retryable=retryable, detail=failures[0][1].detail)
    return Delivery(False, f"sent {len(sent)} of {total}", excerpt(reasons))
