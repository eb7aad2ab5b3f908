"""Generic webhook: the notice as a stable JSON document, optionally HMAC-signed.

The document (schema version 1, see docs/notifications-channels.md) carries the notice's
text verbatim: the receiver is a program, and escaping for its display is its business.

With a secret, ``X-BranchOps-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
HMAC-SHA256 keyed with the secret over ``"<t>.<raw body>"``; the time inside the signed
text lets receivers refuse replays. ``Idempotency-Key`` carries the notice's key, the same
on every retry, so a receiver can drop duplicates. A 2xx answer is success; 408, 425, 429,
5xx and connection failures are retryable; any other status is not.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, ClassVar, Final

from pydantic import Field

from branchops.alerts.transports.base import ChannelConfig, Delivery, Notice, Transport, excerpt
from branchops.alerts.transports.httpio import check_status, exchange
from branchops.alerts.transports.urls import Headers, HttpUrl

SCHEMA_VERSION: Final = 1
SIGNATURE_HEADER: Final = "X-BranchOps-Signature"
_OWN_HEADERS: Final = frozenset({"content-type", "idempotency-key", SIGNATURE_HEADER.lower()})


class WebhookConfig(ChannelConfig):
    url: HttpUrl = Field(description="Where to POST the notice.")
    headers: Headers = Field(default_factory=dict, description="Extra headers (e.g. a token).")
    secret: str = Field("", description="HMAC-SHA256 signing secret; empty: unsigned.")


def document(notice: Notice, sent_at: int) -> dict[str, Any]:
    """The JSON document of schema version 1."""
    return {
        "version": SCHEMA_VERSION,
        "key": notice.key,
        "kind": notice.kind,
        "severity": notice.severity,
        "severity_label": notice.severity_label,
        "title": notice.title,
        "body": notice.body,
        "fields": [{"label": label, "value": value} for label, value in notice.fields],
        "items": list(notice.items),
        "link": notice.link,
        "ack_link": notice.ack_link,
        "sent_at": sent_at,
    }


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class WebhookTransport(Transport[WebhookConfig]):
    kind: ClassVar[str] = "webhook"
    config_model: ClassVar[type[ChannelConfig]] = WebhookConfig

    async def send(self, notice: Notice) -> Delivery:
        config = self.config
        now = int(self.clock())
        body = json.dumps(document(notice, now), ensure_ascii=False).encode()
        # Our own headers win: an extra header must not be able to forge the signature.
        headers = {k: v for k, v in config.headers.items() if k.lower() not in _OWN_HEADERS}
        headers["Content-Type"] = "application/json; charset=utf-8"
        key = "".join(c for c in notice.key if c.isprintable())  # a header is one line
        if key:
            headers["Idempotency-Key"] = key
        if config.secret:
            headers[SIGNATURE_HEADER] = signature(config.secret, now, body)
        request = self.client.build_request("POST", config.url, content=body, headers=headers)
        answer = await exchange(self.client, request, timeout=config.timeout_s)
        check_status(answer)
        return Delivery(True, answer.label, excerpt(answer.text))
