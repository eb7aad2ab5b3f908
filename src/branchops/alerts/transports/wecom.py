"""WeCom (企业微信) group robot: a markdown message to the robot's webhook.

WeCom's markdown content is limited to 4096 bytes of UTF-8. The answer is JSON: ``errcode``
0 is success and 45009 is the robot's rate limit (20 messages a minute), worth retrying
later; other codes (93000 for an invalid key, 40058 for a bad body) need an operator.
WeCom's markdown mentions people with ``<@userid>``: the ``<`` and ``@`` of hostile text
are escaped and neutralised, so no notice can mention anyone.
"""

from __future__ import annotations

import json
from typing import ClassVar, Final

from pydantic import Field

from branchops.alerts.transports import markdown
from branchops.alerts.transports.base import ChannelConfig, Delivery, Notice, Transport
from branchops.alerts.transports.httpio import exchange, robot_delivery
from branchops.alerts.transports.urls import HttpUrl

CONTENT_LIMIT: Final = 4096
RETRYABLE_CODES: Final = frozenset({45009})


class WeComConfig(ChannelConfig):
    url: HttpUrl = Field(description="The robot's webhook URL, with its key.")


class WeComTransport(Transport[WeComConfig]):
    kind: ClassVar[str] = "wecom"
    config_model: ClassVar[type[ChannelConfig]] = WeComConfig

    async def send(self, notice: Notice) -> Delivery:
        request = self.client.build_request(
            "POST",
            self.config.url,
            content=json.dumps(self.payload(notice), ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        answer = await exchange(self.client, request, timeout=self.config.timeout_s)
        return robot_delivery(answer, code_names=("errcode",), retryable=RETRYABLE_CODES)

    def payload(self, notice: Notice) -> dict[str, object]:
        content = markdown.render(
            notice, limit=CONTENT_LIMIT, max_items=self.config.max_items, style=markdown.WECOM
        )
        return {"msgtype": "markdown", "markdown": {"content": content}}
