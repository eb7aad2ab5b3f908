"""The generic webhook and the SMS gateway against real HTTP peers on 127.0.0.1.

The webhook receiver checks ``X-BranchOps-Signature`` the way a receiver following our
documentation would; the SMS gateway parses what it gets as JSON or as a form, so that
template expansion is tested on what actually arrives, hostile text included.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from branchops.alerts.transports import build
from branchops.alerts.transports.base import Notice, TransportError
from branchops.alerts.transports.testing import (
    HOSTILE,
    NOW,
    Answer,
    Handler,
    Received,
    closed_port,
    delivered,
    http_peer,
    refused,
)

SECRET = "whsec-3f9a"
NOTICE = Notice(
    kind="resolved",
    severity=2,
    severity_label="二级",
    title="上海徐汇支行 reachable again",
    body="down for 12 minutes",
    fields=(("站点", "上海徐汇"),),
    link="https://ops.example.cn/alerts/12",
    items=("icmp ok",),
    key="outbox-12",
)


# ---- webhook ----------------------------------------------------------------------------


def verifying_receiver(secret: str = SECRET, status: int = 204) -> Handler:
    """A receiver as docs/notifications-channels.md tells people to write one."""

    def handle(request: Received) -> Answer:
        header = request.headers.get("x-branchops-signature", "")
        parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        signed = parts.get("t", "").encode() + b"." + request.body
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(parts.get("v1", ""), expected):
            return 401, b'{"error": "bad signature"}'
        if abs(int(parts["t"]) - NOW) > 300:
            return 401, b'{"error": "stale"}'
        return status, b""

    return handle


def webhook(secret: str = SECRET, **extra: Any) -> Any:
    return lambda base: {"url": f"{base}/hooks/branchops", "secret": secret} | extra


def test_webhook_posts_the_versioned_document_signed_and_with_idempotency_key() -> None:
    delivery, [request] = delivered("webhook", webhook(), verifying_receiver(), NOTICE)
    assert delivery.ok
    assert delivery.status == "HTTP 204"
    assert request.headers["idempotency-key"] == "outbox-12"
    assert request.json() == {
        "version": 1,
        "key": "outbox-12",
        "kind": "resolved",
        "severity": 2,
        "severity_label": "二级",
        "title": "上海徐汇支行 reachable again",
        "body": "down for 12 minutes",
        "fields": [{"label": "站点", "value": "上海徐汇"}],
        "items": ["icmp ok"],
        "link": "https://ops.example.cn/alerts/12",
        "ack_link": "",
        "sent_at": int(NOW),
    }


def test_webhook_with_the_wrong_secret_is_refused_and_not_retryable() -> None:
    error, _ = refused("webhook", webhook(secret="other"), verifying_receiver(), NOTICE)
    assert not error.retryable
    assert str(error) == "HTTP 401"
    assert "bad signature" in error.detail


def test_webhook_extra_headers_are_sent_but_cannot_replace_ours() -> None:
    headers = {"Authorization": "Bearer t0k", "X-BranchOps-Signature": "t=1,v1=forged"}
    delivery, [request] = delivered(
        "webhook", webhook(headers=headers), verifying_receiver(), NOTICE
    )
    assert delivery.ok
    assert request.headers["authorization"] == "Bearer t0k"


def test_webhook_without_secret_is_unsigned() -> None:
    delivery, [request] = delivered("webhook", webhook(secret=""), lambda r: (200, b"ok"), NOTICE)
    assert delivery.ok
    assert "x-branchops-signature" not in request.headers


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(408, True), (429, True), (500, True), (503, True), (400, False), (404, False), (410, False)],
)
def test_webhook_status_decides_whether_retrying_helps(status: int, retryable: bool) -> None:
    error, _ = refused("webhook", webhook(), lambda r: (status, b"nope"), NOTICE)
    assert error.retryable is retryable
    assert str(error) == f"HTTP {status}"


def test_webhook_connection_refused_is_retryable() -> None:
    url = f"http://127.0.0.1:{closed_port()}/hook"

    async def main() -> TransportError:
        async with httpx.AsyncClient(trust_env=False) as client:
            transport = build("webhook", {"url": url}, client=client)
            with pytest.raises(TransportError) as caught:
                await transport.send(NOTICE)
            return caught.value

    error = asyncio.run(main())
    assert error.retryable
    assert str(error).startswith("connection failed")


def test_webhook_silent_peer_times_out_as_retryable() -> None:
    async def silent(request: Received) -> Answer:
        await asyncio.sleep(30)
        return 200, b""

    async def main() -> TransportError:
        async with http_peer(silent) as peer, httpx.AsyncClient(trust_env=False) as client:
            config = {"url": peer.url, "timeout_s": 0.2}
            with pytest.raises(TransportError) as caught:
                await build("webhook", config, client=client).send(NOTICE)
            return caught.value

    error = asyncio.run(main())
    assert error.retryable
    assert str(error) == "no answer within 0.2 s"


def test_webhook_answer_is_read_only_up_to_a_bound() -> None:
    delivery, _ = delivered("webhook", webhook(), lambda r: (200, b"x" * 5_000_000), NOTICE)
    assert delivery.ok
    assert len(delivery.detail) == 500


# ---- SMS gateway ------------------------------------------------------------------------


def gateway(answer: Answer = (200, b'{"result": "OK"}')) -> Handler:
    return lambda request: answer


def sms(**settings: Any) -> Any:
    base_settings = {
        "body_template": '{"to": "{phone}", "msg": "【BranchOps】{text}", "sign": "x"}',
        "phones": ["+8613800000001"],
    }
    return lambda base: {"url": f"{base}/sms/send"} | base_settings | settings


def test_sms_json_template_is_expanded_with_json_escaping() -> None:
    delivery, [request] = delivered("sms", sms(), gateway(), NOTICE)
    assert delivery.ok
    assert request.json() == {
        "to": "+8613800000001",
        "msg": "【BranchOps】[二级] Resolved: 上海徐汇支行 reachable again; 站点: 上海徐汇",
        "sign": "x",
    }


def test_sms_hostile_text_cannot_break_out_of_the_json_template() -> None:
    evil = Notice(
        kind="firing",
        severity=1,
        severity_label="一级",
        title='x", "to": "+10000000000", "y": "{phone} \\',
    )
    _, [request] = delivered("sms", sms(max_length=200), gateway(), evil)
    body = request.json()
    assert set(body) == {"to", "msg", "sign"}
    assert body["to"] == "+8613800000001"
    assert body["msg"].endswith('x", "to": "+10000000000", "y": "{phone} \\')


def test_sms_form_template_and_url_placeholders_are_url_encoded() -> None:
    evil = Notice(kind="firing", severity=1, severity_label="一级", title="a&to=666 b=c #1 +")
    settings = sms(
        body_format="form",
        body_template="mobile={phone}&content={text}",
        max_length=100,
    )
    _, [request] = delivered("sms", settings, gateway(), evil)
    form = parse_qs(request.body.decode(), strict_parsing=True)
    assert form == {
        "mobile": ["+8613800000001"],
        "content": ["[一级] Firing: a&to=666 b=c #1 +"],
    }
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


def test_sms_get_puts_placeholders_in_the_query_encoded() -> None:
    evil = Notice(kind="firing", severity=1, severity_label="一级", title="x&phone=1/../?")

    def config(base: str) -> dict[str, Any]:
        return {
            "url": f"{base}/send?to={{phone}}&text={{text}}&key=k",
            "method": "GET",
            "phones": ["13800000001"],
        }

    _, [request] = delivered("sms", config, gateway(), evil)
    assert request.method == "GET"
    assert request.path == "/send"
    assert request.query() == {
        "to": ["13800000001"],
        "text": ["[一级] Firing: x&phone=1/../?"],
        "key": ["k"],
    }


def test_sms_text_is_cut_to_max_length_counting_chinese_as_one() -> None:
    long = Notice(kind="firing", severity=1, severity_label="一级", title="长" * 200)
    _, [request] = delivered("sms", sms(body_template='{"m": "{text}"}'), gateway(), long)
    text = request.json()["m"]
    assert len(text) == 70
    assert text.endswith("长…")


def test_sms_link_is_kept_whole_when_asked_for() -> None:
    long = Notice(
        kind="firing", severity=1, severity_label="一级", title="长" * 200, link=NOTICE.link
    )
    settings = sms(body_template='{"m": "{text}"}', include_link=True, max_length=80)
    _, [request] = delivered("sms", settings, gateway(), long)
    text = request.json()["m"]
    assert len(text) == 80
    assert text.endswith("… https://ops.example.cn/alerts/12")


def test_sms_one_request_per_phone_or_one_with_joined_phones() -> None:
    phones = ["13800000001", "13800000002", "13800000003"]
    delivery, received = delivered("sms", sms(phones=phones), gateway(), NOTICE)
    assert [r.json()["to"] for r in received] == phones
    assert delivery.status == "HTTP 200 x3"
    settings = sms(phones=phones, per_phone=False, phone_separator=";")
    _, [request] = delivered("sms", settings, gateway(), NOTICE)
    assert request.json()["to"] == "13800000001;13800000002;13800000003"


def test_sms_success_needs_the_configured_text_in_the_answer() -> None:
    settings = sms(success_contains='"result": "OK"')
    delivery, _ = delivered("sms", settings, gateway(), NOTICE)
    assert delivery.ok
    error, _ = refused("sms", settings, gateway((200, b'{"result": "NO_BALANCE"}')), NOTICE)
    assert not error.retryable
    assert "NO_BALANCE" in error.detail


def test_sms_partial_delivery_is_reported_not_raised_so_nobody_gets_it_twice() -> None:
    def flaky(request: Received) -> Answer:
        return (503, b"busy") if request.json()["to"].endswith("2") else (200, b"ok")

    phones = ["13800000001", "13800000002"]
    delivery, received = delivered("sms", sms(phones=phones), flaky, NOTICE)
    assert len(received) == 2
    assert not delivery.ok
    assert delivery.status == "sent 1 of 2"
    assert "…0002: HTTP 503" in delivery.detail
    assert "13800000002" not in delivery.detail  # phone numbers are masked in the log


def test_sms_all_phones_failing_raises_retryable_when_the_gateway_is_busy() -> None:
    error, _ = refused("sms", sms(), gateway((503, b"busy")), NOTICE)
    assert error.retryable


def test_hostile_sms_text_has_no_live_link_or_mention() -> None:
    _, [request] = delivered("sms", sms(max_length=1000), gateway(), HOSTILE)
    text = json.loads(request.body)["msg"]
    assert "@" not in text
    assert "://" not in text
