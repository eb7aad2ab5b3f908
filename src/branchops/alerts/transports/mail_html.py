"""The HTML part of notice e-mails: every piece of text escaped, only our links linked.

Inline styles only: mail clients drop style sheets. Text is neutralised as for the chat
channels, so that clients which link bare URLs in HTML do not link a hostile one either.
"""

from __future__ import annotations

from html import escape
from typing import Final

from branchops.alerts.transports.base import Notice
from branchops.alerts.transports.text import (
    ack_label,
    headline,
    more_line,
    neutral,
    one_line,
    open_label,
    safe_link,
    shown_items,
)

_COLOURS: Final = {1: "#c0392b", 2: "#d35400", 3: "#b7950b"}
_RESOLVED: Final = "#1e8449"


def html_body(notice: Notice, max_items: int) -> str:
    colour = _RESOLVED if notice.kind == "resolved" else _COLOURS.get(notice.severity, "#2e4053")
    parts = [
        "<!DOCTYPE html>",
        '<html><body style="font-family: sans-serif; font-size: 14px;">',
        f'<h2 style="color: {colour};">{escape(headline(notice))}</h2>',
        _fields(notice),
        _body(notice),
        _items(notice, max_items),
        _links(notice),
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _fields(notice: Notice) -> str:
    rows = "".join(
        f'<tr><th style="text-align: left; padding-right: 1em;">{escape(one_line(label))}</th>'
        f"<td>{escape(one_line(value))}</td></tr>"
        for label, value in notice.fields
    )
    return f"<table>{rows}</table>" if rows else ""


def _body(notice: Notice) -> str:
    body = neutral(notice.body).strip("\n")
    return f'<p style="white-space: pre-wrap;">{escape(body)}</p>' if body else ""


def _items(notice: Notice, max_items: int) -> str:
    items, more = shown_items(notice.items, max_items)
    if not items:
        return ""
    lines = "".join(f"<li>{escape(one_line(item))}</li>" for item in items)
    tail = f"<p>{escape(more_line(more))}</p>" if more else ""
    return f"<ul>{lines}</ul>{tail}"


def _links(notice: Notice) -> str:
    pairs = [(open_label(), safe_link(notice.link)), (ack_label(), safe_link(notice.ack_link))]
    anchors = [f'<a href="{escape(url)}">{escape(label)}</a>' for label, url in pairs if url]
    return f"<p>{' · '.join(anchors)}</p>" if anchors else ""
