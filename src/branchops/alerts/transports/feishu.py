"""Feishu / Lark (飞书) custom bot: an interactive card or a rich-text post, optionally signed.

Signing, as Feishu documents it (and unlike DingTalk): ``timestamp`` is in seconds and
``sign`` is the Base64 of HMAC-SHA256 *keyed with* ``"{timestamp}\\n{secret}"`` over an
empty message; both go into the JSON body. The answer's ``code`` (``StatusCode`` on old
bots) 0 is success; 11232 is the bot's frequency limit (100 a minute, 5 a second), worth
retrying; 19021 (signature or clock), 19022 (IP), 19024 (keyword) and 9499 (bad request)
need an operator. Request bodies are limited to 20 KB.

Hostile text only ever goes into ``plain_text`` card elements and ``text`` post elements,
which Feishu shows as typed (no ``<at>``, no links); the buttons and ``a`` elements carry
our own two links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any, ClassVar, Final, Literal

from pydantic import Field

from branchops.alerts.transports.base import ChannelConfig, Delivery, Notice, Transport
from branchops.alerts.transports.httpio import exchange, robot_delivery
from branchops.alerts.transports.text import (
    ack_label,
    cut_bytes,
    cut_chars,
    headline,
    more_line,
    neutral,
    one_line,
    open_label,
    safe_link,
    shown_items,
)
from branchops.alerts.transports.urls import HttpUrl

BODY_LIMIT: Final = 19_000  # bytes of JSON; Feishu's limit is 20 KB
RETRYABLE_CODES: Final = frozenset({11232})
_COLOURS: Final = {1: "red", 2: "orange", 3: "yellow"}


class FeishuConfig(ChannelConfig):
    url: HttpUrl = Field(description="The bot's webhook URL (…/open-apis/bot/v2/hook/<token>).")
    secret: str = Field("", description="The signing secret, when signature checking is on.")
    message: Literal["card", "post"] = Field("card", description="Interactive card or post.")


def sign(secret: str, timestamp_s: int) -> str:
    """Feishu's signature: the key is timestamp and secret, the message is empty."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class FeishuTransport(Transport[FeishuConfig]):
    kind: ClassVar[str] = "feishu"
    config_model: ClassVar[type[ChannelConfig]] = FeishuConfig

    async def send(self, notice: Notice) -> Delivery:
        payload = self.payload(notice)
        if self.config.secret:
            timestamp = int(self.clock())
            signature = sign(self.config.secret, timestamp)
            payload = {"timestamp": str(timestamp), "sign": signature, **payload}
        request = self.client.build_request(
            "POST",
            self.config.url,
            content=_dumps(payload),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        answer = await exchange(self.client, request, timeout=self.config.timeout_s)
        return robot_delivery(answer, code_names=("code", "StatusCode"), retryable=RETRYABLE_CODES)

    def payload(self, notice: Notice) -> dict[str, Any]:
        """The message within BODY_LIMIT: the free text is cut, then fields are dropped."""
        fields = [(one_line(k), one_line(v)) for k, v in notice.fields]
        free = _free_text(notice, self.config.max_items)
        build = _card if self.config.message == "card" else _post
        room = BODY_LIMIT - len(_dumps(build(notice, fields, "")))
        while room <= 0 and fields:
            fields.pop()
            room = BODY_LIMIT - len(_dumps(build(notice, fields, "")))
        text = cut_bytes(free, room)
        for _ in range(4):  # JSON escaping makes the text longer than its UTF-8 bytes
            payload = build(notice, fields, text)
            over = len(_dumps(payload)) - BODY_LIMIT
            if over <= 0:
                break
            text = cut_bytes(text, len(text.encode()) - over)
        return payload


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


def _free_text(notice: Notice, max_items: int) -> str:
    items, more = shown_items(notice.items, max_items)
    lines = [f"• {cut_chars(one_line(item), 300)}" for item in items]
    if more:
        lines.append(more_line(more))
    parts = [neutral(notice.body).strip(), "\n".join(lines)]
    return "\n\n".join(part for part in parts if part)


def _links(notice: Notice) -> list[tuple[str, str]]:
    pairs = [(open_label(), safe_link(notice.link)), (ack_label(), safe_link(notice.ack_link))]
    return [(label, url) for label, url in pairs if url]


def _plain(text: str) -> dict[str, str]:
    return {"tag": "plain_text", "content": text}


def _card(notice: Notice, fields: list[tuple[str, str]], text: str) -> dict[str, Any]:
    colour = "green" if notice.kind == "resolved" else _COLOURS.get(notice.severity, "blue")
    elements: list[dict[str, Any]] = []
    if fields:
        shown = [{"is_short": True, "text": _plain(f"{k}: {cut_chars(v, 300)}")} for k, v in fields]
        elements.append({"tag": "div", "fields": shown})
    if text:
        elements.append({"tag": "div", "text": _plain(text)})
    buttons = [
        {"tag": "button", "text": _plain(label), "url": url, "type": "primary" if i else "default"}
        for i, (label, url) in enumerate(_links(notice))
    ]
    if buttons:
        elements.append({"tag": "action", "actions": buttons})
    header = {"template": colour, "title": _plain(cut_chars(headline(notice), 200))}
    card = {"config": {"wide_screen_mode": True}, "header": header, "elements": elements}
    return {"msg_type": "interactive", "card": card}


def _post(notice: Notice, fields: list[tuple[str, str]], text: str) -> dict[str, Any]:
    rows: list[list[dict[str, str]]] = [
        [{"tag": "text", "text": f"{k}: {cut_chars(v, 300)}"}] for k, v in fields
    ]
    rows += [[{"tag": "text", "text": line}] for line in text.split("\n")] if text else []
    rows.append([{"tag": "a", "text": label, "href": url} for label, url in _links(notice)])
    post = {"title": cut_chars(headline(notice), 200), "content": [r for r in rows if r]}
    # One language entry: the notice is already worded for its readers.
    return {"msg_type": "post", "content": {"post": {"zh_cn": post}}}
