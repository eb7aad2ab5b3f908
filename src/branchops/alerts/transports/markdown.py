"""The notice as chat markdown (DingTalk and WeCom robots), within a byte limit.

Hostile text is first made :func:`~branchops.alerts.transports.text.neutral` (no mentions,
no autolinks), then every character that markdown could read as markup is escaped with a
backslash, so a label like ``[click](http://x)`` or ``**`` shows as typed. The only links
are the notice's own two, written by us.

When the message is over the channel's limit, the body is cut first (it is the long,
free part), then items give way to "… and N more", then fields; the headline and the links
always stay, so every message can still be opened and acknowledged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from branchops.alerts.transports.base import Notice
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

TITLE_CHARS: Final = 200
LABEL_CHARS: Final = 60
VALUE_CHARS: Final = 300
ITEM_CHARS: Final = 300

_URL_SAFE: Final = ":/?#@!$&*+,;=%~"
_ANGLES: Final = str.maketrans({"<": "\uff1c", ">": "\uff1e"})
_INLINE: Final = re.compile(r"([\\`*_\[\]#~|!])")
_LINE_START: Final = re.compile(r"^(\s*)([-+=]|\d+[.)])", re.MULTILINE)


def escape(text: str) -> str:
    """``text`` shown literally by a markdown renderer (inline marks and block starts).

    Angle brackets become their full-width look-alikes instead of being escaped: it is not
    documented whether DingTalk and WeCom honour a backslash before ``<``, and their
    markdown takes HTML-like tags (``<font>``, WeCom's ``<@userid>`` mention).
    """
    text = text.translate(_ANGLES)
    return _LINE_START.sub(r"\1\\\2", _INLINE.sub(r"\\\1", text))


@dataclass(frozen=True, slots=True)
class Style:
    """How a client breaks lines: WeCom honours "\\n", DingTalk wants blank lines."""

    line_break: str
    group_break: str


WECOM: Final = Style(line_break="\n", group_break="\n\n")
DINGTALK: Final = Style(line_break="\n\n", group_break="\n\n")


def render(notice: Notice, *, limit: int, max_items: int, style: Style) -> str:
    """The notice as markdown of at most ``limit`` UTF-8 bytes."""
    head = [f"#### {escape(cut_chars(headline(notice), TITLE_CHARS))}"]
    fields = [
        f"**{escape(cut_chars(one_line(label), LABEL_CHARS))}**: "
        f"{escape(cut_chars(one_line(value), VALUE_CHARS))}"
        for label, value in notice.fields
    ]
    links = _links(notice)
    items = [f"- {escape(cut_chars(one_line(item), ITEM_CHARS))}" for item in notice.items]
    body = style.line_break.join(escape(line) for line in neutral(notice.body).strip().split("\n"))

    def compose(fields: list[str], items: list[str], body: str) -> str:
        groups = [head + fields, [body] if body else [], items, links]
        return style.group_break.join(style.line_break.join(g) for g in groups if g)

    shown, more = shown_items(items, max_items)
    items_part = _with_more(shown, more)
    fixed = len(compose(fields, items_part, "").encode())
    room = limit - fixed - len(style.group_break.encode())
    if body and room > 0:
        return compose(fields, items_part, cut_bytes(body, room))
    return _shrink(lambda f, i: compose(f, i, ""), fields, shown, len(items), limit)


def _shrink(
    compose: Callable[[list[str], list[str]], str],
    fields: list[str],
    items: list[str],
    total_items: int,
    limit: int,
) -> str:
    """Drop items, then fields, from the end until the message fits."""
    while True:
        text = compose(fields, _with_more(items, total_items - len(items)))
        if len(text.encode()) <= limit or not (items or fields):
            return text
        if items:
            items = items[:-1]
        else:
            fields = fields[:-1]


def _with_more(items: list[str], more: int) -> list[str]:
    return [*items, escape(more_line(more))] if more else items


def _links(notice: Notice) -> list[str]:
    pairs = [(open_label(), safe_link(notice.link)), (ack_label(), safe_link(notice.ack_link))]
    # Brackets and angle brackets would end a markdown link destination early.
    return [f"[{escape(label)}]({quote(url, safe=_URL_SAFE)})" for label, url in pairs if url]
