"""Syslog messages as devices really send them: RFC 5424, RFC 3164 and what lies between.

The parser never gives up on a message with text in it: a header it cannot read stays in
the text, because the parse rules search the whole line anyway. What it does recognise:

* PRI ``<n>`` (missing: RFC 3164 section 4.3.3 says assume 13, user.notice);
* RFC 5424: version, timestamp, hostname, app-name, procid, msgid, structured data, and a
  message that may start with a UTF-8 BOM;
* RFC 3164 timestamps ``Mmm dd hh:mm:ss``, with the year after the time (H3C) or before it,
  and ISO 8601 ``2024-05-01 10:00:00`` or ``2024-05-01T10:00:00+08:00`` (Huawei), or none
  at all (FortiOS key=value lines);
* a missing hostname (the next token is already the tag);
* text in UTF-8 or, failing that, GB18030 (Huawei firewalls default to GBK).

Timestamps are kept as sent: devices disagree about time zones, so the event's time is
when we received it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

DEFAULT_PRI: Final = 13
_PRI = re.compile(r"<(\d{1,3})>")
_V5424_HEAD = re.compile(r"1 (\S+) (\S+) (\S+) (\S+) (\S+) ")
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_TIMESTAMPS: Final = (
    # Mmm dd [yyyy] hh:mm:ss[.fff] [yyyy]
    re.compile(rf"(?:{_MONTHS}) [ \d]?\d (?:\d{{4}} )?\d\d:\d\d:\d\d(?:\.\d+)?(?: \d{{4}})?(?= )"),
    # ISO 8601 with a space or a T, optional fraction and zone
    re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?(?= )", re.ASCII),
)
_TAG = re.compile(r"([^\s:\[\]=]{1,64})(?:\[([^\]\s]{1,32})\])?: ?")
_HOSTNAME = re.compile(r"\w[\w.\-]{0,254}")  # Chinese sysnames happen
_SD_NAME = re.compile(r'[^\s=\]"]{1,32}')
_SEVERITY_NAMES: Final = (
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
)  # fmt: skip


class SyslogParseError(ValueError):
    """Nothing usable in the datagram or frame (empty, or binary noise)."""


@dataclass(frozen=True, slots=True)
class SyslogMessage:
    """A parsed syslog message. ``line`` is the decoded message after PRI, header included:
    what parse rules search."""

    facility: int
    severity: int
    timestamp: str
    hostname: str
    app: str
    procid: str
    msgid: str
    text: str
    line: str
    structured_data: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    rfc: str = "3164"

    @property
    def severity_name(self) -> str:
        return _SEVERITY_NAMES[self.severity]


def decode(raw: bytes) -> str:
    """Bytes to text: UTF-8 (BOM dropped), else GB18030, else UTF-8 with replacements."""
    for encoding in ("utf-8", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = raw.decode("utf-8", errors="replace")
    return text.replace("\ufeff", "")


def parse(raw: bytes) -> SyslogMessage:
    """One syslog message (a datagram, or one frame of a stream)."""
    text = decode(raw).strip("\r\n\x00 ")
    if not text or _mostly_noise(text):
        raise SyslogParseError("empty or binary message")
    pri = DEFAULT_PRI
    match = _PRI.match(text)
    if match and int(match.group(1)) <= 191:
        pri = int(match.group(1))
        text = text[match.end() :]
    facility, severity = divmod(pri, 8)
    head = _V5424_HEAD.match(text)
    if head:
        return _parse_5424(text, head, facility, severity)
    return _parse_3164(text, facility, severity)


def _mostly_noise(text: str) -> bool:
    """True for binary garbage: many control or undecodable characters."""
    sample = text[:512]
    bad = sum(1 for ch in sample if (ch < " " and ch not in "\t\r\n") or ch == "\ufffd")
    return bad * 4 > len(sample)


def _nil(value: str) -> str:
    return "" if value == "-" else value


def _parse_5424(text: str, head: re.Match[str], facility: int, severity: int) -> SyslogMessage:
    timestamp, hostname, app, procid, msgid = (_nil(g) for g in head.groups())
    rest = text[head.end() :]
    structured, rest = _structured_data(rest)
    return SyslogMessage(
        facility, severity, timestamp, hostname, app, procid, msgid,
        text=rest.lstrip(" "), line=text, structured_data=structured, rfc="5424",
    )  # fmt: skip


def _structured_data(text: str) -> tuple[dict[str, dict[str, str]], str]:
    """SD-ELEMENTs at the start of ``text`` and the rest; unreadable SD stays in the text."""
    if text.startswith("-"):
        return {}, text[1:]
    elements: dict[str, dict[str, str]] = {}
    pos = 0
    while pos < len(text) and text[pos] == "[":
        parsed = _sd_element(text, pos + 1)
        if parsed is None:
            return elements, text[pos:]
        name, params, pos = parsed
        elements[name] = params
    return elements, text[pos:]


def _sd_element(text: str, pos: int) -> tuple[str, dict[str, str], int] | None:
    name = _SD_NAME.match(text, pos)
    if name is None:
        return None
    params: dict[str, str] = {}
    pos = name.end()
    while pos < len(text) and text[pos] == " ":
        param = _SD_NAME.match(text, pos + 1)
        if param is None or not text.startswith('="', param.end()):
            return None
        value, pos = _sd_value(text, param.end() + 2)
        if pos < 0:
            return None
        params[param.group()] = value
    if not text.startswith("]", pos):
        return None
    return name.group(), params, pos + 1


def _sd_value(text: str, pos: int) -> tuple[str, int]:
    """A PARAM-VALUE up to its closing quote (RFC 5424 6.3.3 escapes), and the offset after."""
    out: list[str] = []
    while pos < len(text):
        ch = text[pos]
        if ch == "\\" and pos + 1 < len(text) and text[pos + 1] in '"\\]':
            out.append(text[pos + 1])
            pos += 2
        elif ch == '"':
            return "".join(out), pos + 1
        else:
            out.append(ch)
            pos += 1
    return "", -1


def _parse_3164(text: str, facility: int, severity: int) -> SyslogMessage:
    line = text
    timestamp = ""
    for pattern in _TIMESTAMPS:
        match = pattern.match(text)
        if match:
            timestamp, text = match.group(), text[match.end() + 1 :]
            break
    hostname = ""
    token = text.split(" ", 1)[0]
    # A hostname only follows a timestamp, and a token like "su:" or "app[12]:" is already
    # the tag: the sender left the hostname out.
    if timestamp and " " in text and _HOSTNAME.fullmatch(token):
        hostname, text = token, text[len(token) + 1 :]
    app = procid = ""
    tag = _TAG.match(text)
    if tag and "=" not in tag.group(1):
        app, procid = tag.group(1), tag.group(2) or ""
        text = text[tag.end() :]
    return SyslogMessage(
        facility, severity, timestamp, hostname, app, procid, "", text=text.strip(), line=line
    )
