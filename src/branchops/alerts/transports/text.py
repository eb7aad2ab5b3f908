"""Wording and safety shared by the channels: words, neutralising, cutting.

Everything in a :class:`Notice` except its two links is operator- or device-controlled.
:func:`neutral` makes such text inert on every chat client we know: control and
bidirectional-override characters go, ``@`` becomes the full-width at sign U+FF20 (no client turns
that into a mention, ``@all`` included), and ``://`` and ``www.`` get an invisible
zero-width space so that clients which link bare URLs do not link a hostile one. Channel
markup (markdown, HTML, JSON) is escaped on top of this by each channel.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from django.utils.translation import gettext, gettext_noop

from branchops.alerts.transports.base import Notice

ELLIPSIS: Final = "…"
ZWSP: Final = "\u200b"
FULLWIDTH_AT: Final = "\uff20"

_KIND_WORDS: Final = {
    "firing": gettext_noop("Firing"),
    "resolved": gettext_noop("Resolved"),
    "escalation": gettext_noop("Escalation"),
    "digest": gettext_noop("Digest"),
    "test": gettext_noop("Test"),
}
# C0/C1 controls except tab and newline, and the bidi overrides that can make text read
# differently from what it is (an "evil.com" shown as "moc.live").
_INVISIBLE: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_AUTOLINK: Final = re.compile(r"(:)(//)|(?i:(www)(\.))")
_SAFE_SCHEMES: Final = ("http://", "https://")


def kind_word(kind: str) -> str:
    msgid = _KIND_WORDS.get(kind)
    return gettext(msgid) if msgid else kind.capitalize()


def open_label() -> str:
    return gettext("Open alert")


def ack_label() -> str:
    return gettext("Acknowledge")


def more_line(count: int) -> str:
    return gettext("… and %(n)d more") % {"n": count}


def clean(text: str) -> str:
    """``text`` with one kind of line break and no invisible control characters."""
    return _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def neutral(text: str) -> str:
    """``text`` that cannot mention anyone or become a link on any channel."""
    text = clean(text).replace("@", FULLWIDTH_AT)
    return _AUTOLINK.sub(lambda m: ZWSP.join(g for g in m.groups() if g), text)


def one_line(text: str) -> str:
    """For titles and labels: neutral, on one line."""
    return " ".join(neutral(text).split())


def safe_link(url: str) -> str:
    """A BranchOps link as given if it is http(s) and has no whitespace, else ""."""
    if not url.startswith(_SAFE_SCHEMES) or any(c.isspace() for c in url) or clean(url) != url:
        return ""
    return url


def cut_chars(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending in "…" when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS if limit > 0 else ""


def cut_bytes(text: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes, never half a character, ending in "…" when cut.

    A trailing lone backslash is dropped too: it would escape whatever the channel puts
    after the text.
    """
    data = text.encode()
    if len(data) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode())
    if room <= 0:
        return ""
    kept = data[:room].decode("utf-8", "ignore")
    trailing = len(kept) - len(kept.rstrip("\\"))
    if trailing % 2:
        kept = kept[:-1]
    return kept + ELLIPSIS


def shown_items(items: Sequence[str], limit: int) -> tuple[list[str], int]:
    """The first ``limit`` items and how many more there are."""
    return list(items[:limit]), max(len(items) - limit, 0)


def headline(notice: Notice) -> str:
    """The one-line summary, "[一级] Firing: Branch 0412 unreachable"; the mail subject."""
    label = one_line(notice.severity_label)
    return f"[{label}] {kind_word(notice.kind)}: {one_line(notice.title)}"


def plain_lines(notice: Notice, max_items: int) -> list[str]:
    """The notice as neutral plain-text lines: headline, fields, body, items, links."""
    lines = [headline(notice)]
    lines += [f"{one_line(label)}: {one_line(value)}" for label, value in notice.fields]
    body = neutral(notice.body).strip("\n")
    if body:
        lines += ["", *body.split("\n")]
    items, more = shown_items(notice.items, max_items)
    if items:
        lines += ["", *(f"- {one_line(item)}" for item in items)]
        if more:
            lines.append(more_line(more))
    links = [(open_label(), safe_link(notice.link)), (ack_label(), safe_link(notice.ack_link))]
    links = [(label, url) for label, url in links if url]
    if links:
        lines += ["", *(f"{label}: {url}" for label, url in links)]
    return lines
