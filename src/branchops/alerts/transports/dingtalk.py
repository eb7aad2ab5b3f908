"""DingTalk (钉钉) custom group robot: a markdown message, optionally signed (加签).

Signing, as DingTalk documents it: ``timestamp`` is the time in milliseconds (DingTalk
refuses one more than an hour off) and ``sign`` is the Base64 of HMAC-SHA256 keyed with the
secret over ``"{timestamp}\\n{secret}"``; both go into the query string, URL-encoded (a
``+`` left raw would reach DingTalk as a space). The answer is JSON: ``errcode`` 0 is
success, 130101 is "send too fast" (20 messages a minute per robot), worth retrying later;
other codes (310000 for a wrong keyword, signature or IP) need an operator.

Mentions come only from the settings (``at_mobiles``, ``at_all``); DingTalk shows a mention
only when the text also contains ``@<mobile>``, which we add ourselves.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import ClassVar, Final

import httpx
from pydantic import Field, field_validator

from branchops.alerts.transports import markdown
from branchops.alerts.transports.base import ChannelConfig, Delivery, Notice, Transport
from branchops.alerts.transports.httpio import exchange, robot_delivery
from branchops.alerts.transports.text import cut_chars, headline
from branchops.alerts.transports.urls import HttpUrl, Mobile

# DingTalk does not document a markdown size limit; 20,000 bytes is what its text type
# accepts, and we keep well under it.
TEXT_LIMIT: Final = 15_000
RETRYABLE_CODES: Final = frozenset({130101})


class DingTalkConfig(ChannelConfig):
    url: HttpUrl = Field(description="The robot's webhook URL, with its access_token.")
    secret: str = Field("", description="The signing secret (SEC…), when signing is on.")
    at_mobiles: list[Mobile] = Field(default_factory=list, max_length=20)
    at_all: bool = False

    @field_validator("secret")
    @classmethod
    def _secret_has_no_spaces(cls, value: str) -> str:
        if value != value.strip():
            raise ValueError("the secret must not start or end with spaces")
        return value


def sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature, Base64 (the caller URL-encodes it)."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


class DingTalkTransport(Transport[DingTalkConfig]):
    kind: ClassVar[str] = "dingtalk"
    config_model: ClassVar[type[ChannelConfig]] = DingTalkConfig

    async def send(self, notice: Notice) -> Delivery:
        config = self.config
        payload = self.payload(notice)
        params: dict[str, str] = {}
        if config.secret:
            timestamp = int(self.clock() * 1000)
            params = {"timestamp": str(timestamp), "sign": sign(config.secret, timestamp)}
        # Merged into the configured URL, which already holds the access_token (httpx's
        # own ``params=`` would replace that query instead).
        url = httpx.URL(config.url).copy_merge_params(params) if params else config.url
        request = self.client.build_request(
            "POST",
            url,
            content=json.dumps(payload, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        answer = await exchange(self.client, request, timeout=config.timeout_s)
        return robot_delivery(answer, code_names=("errcode",), retryable=RETRYABLE_CODES)

    def payload(self, notice: Notice) -> dict[str, object]:
        config = self.config
        mentions = " ".join(f"@{mobile}" for mobile in config.at_mobiles)
        room = TEXT_LIMIT - len(mentions.encode()) - 2
        text = markdown.render(
            notice, limit=room, max_items=config.max_items, style=markdown.DINGTALK
        )
        return {
            "msgtype": "markdown",
            # The title is what the conversation list and the notification show.
            "markdown": {
                "title": cut_chars(headline(notice), 100),
                "text": f"{text}\n\n{mentions}" if mentions else text,
            },
            "at": {"atMobiles": list(config.at_mobiles), "isAtAll": config.at_all},
        }
