"""The registry, settings validation, and the text rules every channel relies on."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from branchops.alerts.transports import (
    KINDS,
    SECRET_FIELDS,
    build,
    transport_class,
    validate_config,
)
from branchops.alerts.transports.base import ConfigError, Notice
from branchops.alerts.transports.markdown import WECOM, render
from branchops.alerts.transports.text import cut_bytes, neutral

VALID = {
    "email": {"host": "smtp.example.cn", "from": "noc@example.cn", "to": ["a@example.cn"]},
    "webhook": {"url": "https://hooks.example.cn/x"},
    "dingtalk": {"url": "https://oapi.dingtalk.com/robot/send?access_token=t"},
    "feishu": {"url": "https://open.feishu.cn/open-apis/bot/v2/hook/t"},
    "wecom": {"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"},
    "sms": {
        "url": "https://sms.example.cn/send",
        "body_template": '{"to": "{phone}", "text": "{text}"}',
        "phones": ["13800000000"],
    },
}


def test_every_kind_is_listed_builds_lazily_and_names_its_secrets() -> None:
    assert set(KINDS) == set(VALID) == set(SECRET_FIELDS)
    client = httpx.AsyncClient(trust_env=False)
    for kind, raw in VALID.items():
        transport = build(kind, raw, client=client)
        assert transport.kind == kind
        fields = transport_class(kind).config_model.model_fields
        assert set(SECRET_FIELDS[kind]) <= set(fields), kind
    asyncio.run(client.aclose())


def test_unknown_kind_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no notification channel of kind 'pager'"):
        validate_config("pager", {})


def test_unknown_settings_are_ignored_so_old_rows_still_load() -> None:
    config = validate_config("wecom", VALID["wecom"] | {"retired_option": 1})
    assert not hasattr(config, "retired_option")


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        ("email", {**VALID["email"], "to": []}, "to: List should have at least 1 item"),
        ("email", {**VALID["email"], "to": ["nobody"]}, "to: 'nobody' is not an e-mail address"),
        ("email", {**VALID["email"], "from": "a@b.cn\r\nBcc: x@y"}, "from: an address must be"),
        ("email", {**VALID["email"], "username": "u"}, "username and password go together"),
        ("dingtalk", {"url": "ftp://x/robot"}, "url: must be an http:// or https:// URL"),
        ("dingtalk", {**VALID["dingtalk"], "at_mobiles": ["call me"]}, "at_mobiles.0: 'callme'"),
        (
            "webhook",
            {"url": "https://h/x", "headers": {"X-A": "1\r\nX-B: 2"}},
            "headers: the value",
        ),
        ("feishu", {**VALID["feishu"], "message": "text"}, "message: Input should be 'card'"),
        ("sms", {**VALID["sms"], "body_template": '{"to": {phone}}'}, "body_template must be"),
        ("sms", {**VALID["sms"], "body_template": ""}, "body_template is needed for POST"),
        ("sms", {**VALID["sms"], "phones": ["12"]}, "phones.0: '12' is not a phone number"),
        ("sms", {**VALID["sms"], "max_length": 5}, "max_length: Input should be greater"),
    ],
)
def test_bad_settings_are_config_errors_naming_the_field(
    kind: str, raw: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config(kind, raw)
    assert message in str(caught.value)
    assert caught.value.retryable is False


@given(st.text(), st.integers(min_value=0, max_value=200))
def test_cut_bytes_never_splits_a_character_nor_leaves_a_lone_backslash(
    text: str, limit: int
) -> None:
    cut = cut_bytes(text, limit)
    assert len(cut.encode()) <= max(limit, 0)
    if cut != text and cut:
        assert cut.endswith("…")
        kept = cut.removesuffix("…")
        assert (len(kept) - len(kept.rstrip("\\"))) % 2 == 0
        assert text.startswith(kept)


@given(st.text())
def test_neutral_text_has_no_mention_and_no_bare_link(text: str) -> None:
    out = neutral(text)
    assert "@" not in out
    assert "://" not in out
    assert not re.search(r"(?i)www\.", out)


hostile_text = st.text(alphabet=st.sampled_from("@[]()<>*_`#!|\\-+.:/wh \n长ab1"), max_size=300)


@settings(max_examples=150, deadline=None)
@given(
    title=hostile_text,
    body=hostile_text,
    items=st.lists(hostile_text, max_size=30),
    fields=st.lists(st.tuples(hostile_text, hostile_text), max_size=8),
    limit=st.integers(min_value=600, max_value=5000),
)
def test_markdown_stays_within_its_limit_and_links_only_ours(
    title: str, body: str, items: list[str], fields: list[tuple[str, str]], limit: int
) -> None:
    notice = Notice(
        kind="digest",
        severity=3,
        severity_label="三级",
        title=title,
        body=body,
        fields=tuple(fields),
        items=tuple(items),
        link="https://ops.example.cn/a/1",
        ack_link="https://ops.example.cn/a/1/ack",
    )
    text = render(notice, limit=limit, max_items=10, style=WECOM)
    assert len(text.encode()) <= limit
    links = re.findall(r"(?<!\\)\[[^\]\n]*(?<!\\)\]\(([^)]*)\)", text)
    assert links == [notice.link, notice.ack_link]
    assert "@" not in text.replace(notice.link, "").replace(notice.ack_link, "")
    assert "<" not in text
