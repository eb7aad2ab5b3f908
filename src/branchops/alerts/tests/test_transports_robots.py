"""DingTalk, Feishu and WeCom robots against real HTTP peers on 127.0.0.1.

Each peer checks what the vendor checks, with its own implementation of the vendor's
documented algorithm (not the transport's): DingTalk's signature in the URL-decoded query,
Feishu's in the JSON body, both against the same frozen clock. Peers answer with the
vendors' own JSON for success, rate limits and refusals, so the retryable mapping is tested
on real answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

from branchops.alerts.transports.base import Notice
from branchops.alerts.transports.testing import (
    HOSTILE,
    NOW,
    OUR_LINKS,
    Answer,
    Handler,
    Received,
    delivered,
    json_answer,
    refused,
)

TOKEN = "d41d8cd98f00b204e9800998ecf8427e"
SECRET = "SEC6cd99f5d8e817df66c5759c246897b51c6be82a4df8f2ce6b8b39a7adfa3bf"
NOTICE = Notice(
    kind="firing",
    severity=1,
    severity_label="一级",
    title="上海徐汇支行 unreachable",
    body="ICMP loss 100 % for 5 minutes\nlast seen 08:21",
    fields=(("站点", "上海徐汇"), ("device", "sh-xh-r1")),
    link="https://ops.example.cn/alerts/12",
    ack_link="https://ops.example.cn/alerts/12/ack?t=s1gn",
    items=tuple(f"symptom {i}" for i in range(14)),
    key="outbox-12",
)
DINGTALK_OK = {"errcode": 0, "errmsg": "ok"}
DINGTALK_TOO_FAST = {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
FEISHU_OK = {"code": 0, "msg": "success", "data": {}}


def markdown_links(text: str) -> list[str]:
    """Targets of markdown links (``[label](target)`` with an unescaped ``[``)."""
    return re.findall(r"(?<!\\)\[[^\]]*(?<!\\)\]\(([^)]*)\)", text)


# ---- DingTalk ---------------------------------------------------------------------------


def dingtalk_robot(secret: str = SECRET, answer: Answer | None = None) -> Handler:
    """DingTalk as documented: token in the query; with 加签, timestamp (ms, within an hour)
    and sign = Base64(HMAC-SHA256(secret, "timestamp\\nsecret")), URL-encoded."""

    def handle(request: Received) -> Answer:
        query = request.query()
        if query.get("access_token") != [TOKEN]:
            return json_answer({"errcode": 300001, "errmsg": "token is not exist"})
        if secret:
            timestamp, sign = query["timestamp"][0], query["sign"][0]
            string_to_sign = f"{timestamp}\n{secret}".encode()
            mac = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
            fresh = abs(int(timestamp) - NOW * 1000) < 3_600_000
            if not (fresh and hmac.compare_digest(sign, base64.b64encode(mac).decode())):
                return json_answer({"errcode": 310000, "errmsg": "sign not match"})
        return answer or json_answer(DINGTALK_OK)

    return handle


def dingtalk(secret: str = SECRET, **extra: Any) -> Any:
    return lambda base: {"url": f"{base}/robot/send?access_token={TOKEN}", "secret": secret} | extra


def test_dingtalk_signed_markdown_is_accepted_by_a_verifying_robot() -> None:
    delivery, [request] = delivered("dingtalk", dingtalk(), dingtalk_robot(), NOTICE)
    assert delivery.ok
    assert delivery.status == "HTTP 200 errcode=0"
    body = request.json()
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "[一级] Firing: 上海徐汇支行 unreachable"
    assert "… and 4 more" in body["markdown"]["text"]
    assert body["at"] == {"atMobiles": [], "isAtAll": False}
    assert request.headers["content-type"].startswith("application/json")


def test_dingtalk_sign_is_url_encoded_so_plus_and_slash_survive() -> None:
    # A timestamp whose signature has "+" or "/": sent raw, "+" would arrive as a space.
    def signature(ms: int) -> str:
        mac = hmac.new(SECRET.encode(), f"{ms}\n{SECRET}".encode(), hashlib.sha256).digest()
        return base64.b64encode(mac).decode()

    assert any(c in signature(int(NOW * 1000)) for c in "+/")
    delivery, [request] = delivered("dingtalk", dingtalk(), dingtalk_robot(), NOTICE)
    assert delivery.ok
    assert "+" not in request.raw_query


def test_dingtalk_wrong_secret_is_refused_and_not_retryable() -> None:
    robot = dingtalk_robot(secret="SECthe-other-one")
    error, _ = refused("dingtalk", dingtalk(), robot, NOTICE)
    assert not error.retryable
    assert str(error) == "HTTP 200 errcode=310000 sign not match"


def test_dingtalk_unsigned_robot_gets_no_signature() -> None:
    delivery, [request] = delivered("dingtalk", dingtalk(secret=""), dingtalk_robot(""), NOTICE)
    assert delivery.ok
    assert set(request.query()) == {"access_token"}


def test_dingtalk_rate_limit_is_retryable() -> None:
    robot = dingtalk_robot(answer=json_answer(DINGTALK_TOO_FAST))
    error, _ = refused("dingtalk", dingtalk(), robot, NOTICE)
    assert error.retryable
    assert "130101" in str(error)
    assert "send too fast" in error.detail


def test_dingtalk_mentions_come_only_from_settings() -> None:
    config = dingtalk(at_mobiles=["13900001111"])
    _, [request] = delivered("dingtalk", config, dingtalk_robot(), HOSTILE)
    body = request.json()
    text = body["markdown"]["text"]
    assert body["at"] == {"atMobiles": ["13900001111"], "isAtAll": False}
    assert re.findall(r"@\S+", text) == ["@13900001111"]  # only ours, at the end
    assert markdown_links(text) == list(OUR_LINKS)
    assert "http://evil" not in text
    assert "https://evil" not in text


def test_dingtalk_error_messages_do_not_leak_the_access_token() -> None:
    robot = dingtalk_robot(answer=(502, b"<html>bad gateway</html>"))
    error, _ = refused("dingtalk", dingtalk(), robot, NOTICE)
    assert error.retryable
    assert str(error) == "HTTP 502"
    assert TOKEN not in str(error)
    assert TOKEN not in error.detail


# ---- Feishu -----------------------------------------------------------------------------


def feishu_bot(secret: str = SECRET, answer: Answer | None = None) -> Handler:
    """Feishu as documented: timestamp (s, within an hour) and sign in the body, where sign =
    Base64(HMAC-SHA256 keyed with "timestamp\\nsecret" over nothing)."""

    def handle(request: Received) -> Answer:
        if request.path != f"/open-apis/bot/v2/hook/{TOKEN}":
            return json_answer(
                {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}, 400
            )
        body = request.json()
        if secret:
            timestamp = body.get("timestamp", "")
            key = f"{timestamp}\n{secret}".encode()
            expected = base64.b64encode(hmac.new(key, digestmod=hashlib.sha256).digest()).decode()
            fresh = timestamp.isdigit() and abs(int(timestamp) - NOW) < 3600
            if not (fresh and hmac.compare_digest(body.get("sign", ""), expected)):
                message = "sign match fail or timestamp is not within one hour from current time"
                return json_answer({"code": 19021, "data": {}, "msg": message})
        return answer or json_answer(FEISHU_OK)

    return handle


def feishu(secret: str = SECRET, **extra: Any) -> Any:
    return lambda base: {"url": f"{base}/open-apis/bot/v2/hook/{TOKEN}", "secret": secret} | extra


def texts_and_links(node: Any) -> tuple[list[str], list[str]]:
    """Every text shown and every link target in a card or post, wherever it is."""
    texts: list[str] = []
    links: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("url", "href"):
                links.append(value)
            elif key in ("content", "text", "title") and isinstance(value, str):
                texts.append(value)
            else:
                more_texts, more_links = texts_and_links(value)
                texts += more_texts
                links += more_links
    elif isinstance(node, list):
        for value in node:
            more_texts, more_links = texts_and_links(value)
            texts += more_texts
            links += more_links
    return texts, links


def test_feishu_signed_card_is_accepted_by_a_verifying_bot() -> None:
    delivery, [request] = delivered("feishu", feishu(), feishu_bot(), NOTICE)
    assert delivery.ok
    assert delivery.status == "HTTP 200 code=0"
    card = request.json()["card"]
    assert request.json()["msg_type"] == "interactive"
    assert card["header"]["template"] == "red"
    assert card["header"]["title"] == {
        "tag": "plain_text",
        "content": "[一级] Firing: 上海徐汇支行 unreachable",
    }
    assert texts_and_links(card)[1] == list(NOTICE_LINKS)


NOTICE_LINKS = (NOTICE.link, NOTICE.ack_link)


def test_feishu_post_carries_text_and_our_links() -> None:
    delivery, [request] = delivered("feishu", feishu(message="post"), feishu_bot(), NOTICE)
    assert delivery.ok
    post = request.json()["content"]["post"]["zh_cn"]
    texts, links = texts_and_links(post)
    assert links == list(NOTICE_LINKS)
    assert "站点: 上海徐汇" in texts
    assert "… and 4 more" in texts


def test_feishu_wrong_secret_is_refused_and_not_retryable() -> None:
    error, _ = refused("feishu", feishu(secret="other"), feishu_bot(), NOTICE)
    assert not error.retryable
    assert str(error).startswith("HTTP 200 code=19021 sign match fail")


def test_feishu_frequency_limit_is_retryable() -> None:
    limited = json_answer(
        {"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]"}
    )
    error, _ = refused("feishu", feishu(), feishu_bot(answer=limited), NOTICE)
    assert error.retryable


def test_feishu_old_status_code_answer_counts() -> None:
    old = json_answer({"Extra": None, "StatusCode": 0, "StatusMessage": "success"})
    delivery, _ = delivered("feishu", feishu(), feishu_bot(answer=old), NOTICE)
    assert delivery.ok
    assert delivery.status == "HTTP 200 code=0"


def test_feishu_bad_token_answered_with_400_is_not_retryable() -> None:
    config = lambda base: {"url": f"{base}/open-apis/bot/v2/hook/wrong"}  # noqa: E731
    error, _ = refused("feishu", config, feishu_bot(secret=""), NOTICE)
    assert not error.retryable
    assert str(error).startswith("HTTP 400 code=19001")


def test_feishu_hostile_text_stays_plain_and_links_stay_ours() -> None:
    for message in ("card", "post"):
        _, [request] = delivered("feishu", feishu(message=message), feishu_bot(), HOSTILE)
        body = request.json()
        texts, links = texts_and_links(body)
        assert links == list(OUR_LINKS)
        tags = re.findall(r'"tag": "(\w+)"', json.dumps(body))
        assert set(tags) <= {"plain_text", "div", "action", "button", "text", "a"}
        assert not any("@" in text or "://" in text for text in texts if text not in OUR_LINKS)


def test_feishu_huge_body_is_cut_under_20_kb() -> None:
    huge = Notice(
        kind="digest", severity=3, severity_label="三级", title="日报", body="长" * 30_000
    )
    _, [request] = delivered("feishu", feishu(), feishu_bot(), huge)
    assert len(request.body) <= 20 * 1024
    assert "长…" in request.body.decode()


# ---- WeCom ------------------------------------------------------------------------------


def wecom_robot(answer: Answer | None = None) -> Handler:
    def handle(request: Received) -> Answer:
        if request.query().get("key") != [TOKEN]:
            return json_answer({"errcode": 93000, "errmsg": "invalid webhook url"})
        content = request.json()["markdown"]["content"]
        if len(content.encode()) > 4096:
            return json_answer(
                {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}
            )
        return answer or json_answer({"errcode": 0, "errmsg": "ok"})

    return handle


def wecom(key: str = TOKEN) -> Any:
    return lambda base: {"url": f"{base}/cgi-bin/webhook/send?key={key}"}


def test_wecom_markdown_is_accepted() -> None:
    delivery, [request] = delivered("wecom", wecom(), wecom_robot(), NOTICE)
    assert delivery.ok
    assert delivery.status == "HTTP 200 errcode=0"
    content = request.json()["markdown"]["content"]
    assert content.startswith(
        "#### \\[一级\\] Firing: 上海徐汇支行 unreachable\n**站点**: 上海徐汇"
    )
    assert markdown_links(content) == list(NOTICE_LINKS)


def test_wecom_rate_limit_is_retryable_and_bad_key_is_not() -> None:
    limited = json_answer({"errcode": 45009, "errmsg": "api freq out of limit"})
    error, _ = refused("wecom", wecom(), wecom_robot(limited), NOTICE)
    assert error.retryable
    error, _ = refused("wecom", wecom("nope"), wecom_robot(), NOTICE)
    assert not error.retryable
    assert "93000" in str(error)


def test_wecom_huge_chinese_body_is_cut_to_4096_bytes_keeping_the_links() -> None:
    huge = Notice(
        kind="firing",
        severity=2,
        severity_label="二级",
        title="日志",
        body="错误" * 5000,
        link=NOTICE.link,
        ack_link=NOTICE.ack_link,
    )
    delivery, [request] = delivered("wecom", wecom(), wecom_robot(), huge)
    content = request.json()["markdown"]["content"]
    assert delivery.ok
    assert 4000 < len(content.encode()) <= 4096
    assert markdown_links(content) == list(NOTICE_LINKS)


def test_wecom_hostile_text_cannot_mention_or_link() -> None:
    _, [request] = delivered("wecom", wecom(), wecom_robot(), HOSTILE)
    content = request.json()["markdown"]["content"]
    assert "<@" not in content
    assert "@" not in content.replace(HOSTILE.link, "")
    assert "<" not in content  # no <font>, no <@userid>: angle brackets are look-alikes
    assert markdown_links(content) == list(OUR_LINKS)
