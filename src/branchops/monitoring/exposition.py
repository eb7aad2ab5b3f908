"""Metrics in the Prometheus text exposition format (0.0.4) and in BranchOps' JSON push format.

Used by the ``prometheus`` scrape collector and by the push endpoint (``/api/v1/push/``).
The API is three names: :func:`parse_text`, :func:`parse_json` and :class:`ParsedSample`,
plus :class:`ExpositionError` for anything that is not valid input, which names the line
(text) or the item (JSON). Nothing else is raised, whatever the bytes.

Text format: ``# HELP`` and ``# TYPE`` lines, other comments, and samples
``name{label="value",...} value [timestamp_ms]`` with label escapes ``\\\\``, ``\\"`` and
``\\n``, values as Go writes floats (``1.5e3``, ``+Inf``, ``-Inf``, ``NaN``) and timestamps in
integer milliseconds. Histogram and summary series (``_bucket``, ``_sum``, ``_count``) belong
to their family, so keeping ``http_request_duration_seconds`` keeps its buckets too.
Every line's name and every comment are checked; the labels and value of a sample that is
not kept are not parsed (that is most of a node_exporter body, and most of the time).
:class:`TextParser` takes the body in chunks, holding only one partial line and the samples
kept, so a scrape never needs the whole body in memory.

JSON push format::

    {"metrics": [{"name": "transfer_delay_seconds", "labels": {"channel": "ctp"},
                  "value": 0.42, "timestamp": 1732234567500}]}

``timestamp`` is optional: integer milliseconds since the Unix epoch, as in the text format,
so :attr:`ParsedSample.timestamp` has one unit whatever the source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Final, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

MAX_LINE_BYTES: Final = 65_536
MAX_LABELS: Final = 30  # VictoriaMetrics' default -maxLabelsPerTimeseries
MAX_LABEL_VALUE: Final = 1024
MAX_NAME: Final = 200
MAX_JSON_ITEMS: Final = 100_000
_FAMILY_SUFFIXES: Final = ("_bucket", "_count", "_sum", "_total", "_created")
_TYPES: Final = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})

NAME_RE: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME_RE: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# One label pair; the value is the "unrolled loop" form of a quoted string with escapes,
# which Python's regex engine runs without per-character alternation.
_LABEL_PAIR: Final = re.compile(
    r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"([^"\\]*(?:\\.[^"\\]*)*)"[ \t]*(,?)[ \t]*'
)
_NUMBER: Final = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?"
    r"|[nN][aA][nN])"
)
_TIMESTAMP: Final = re.compile(r"-?\d{1,19}")
_ESCAPE: Final = re.compile(r"\\(.)")
_BLANKS: Final = re.compile(r"[ \t]+")
_JSON_LINE: Final = re.compile(r"at line (\d+) column")
_UNESCAPE: Final = {"\\": "\\", '"': '"', "n": "\n"}


class ParsedSample(NamedTuple):
    """One sample: labels sorted by name, timestamp in milliseconds since the epoch or None."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float
    timestamp: int | None


class ExpositionError(ValueError):
    """Invalid input. ``line`` is the 1-based line (text), or 0 when no line applies."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message


class Selector:
    """Which metrics to keep: exact names, or prefixes written ``name*``; empty keeps all.

    A sample is kept when its name or its family's name (from ``# TYPE``) is selected.
    """

    def __init__(self, keep: Iterable[str]) -> None:
        patterns = [k.strip() for k in keep if k.strip()]
        self.everything = not patterns
        self.names = frozenset(p for p in patterns if not p.endswith("*"))
        self.prefixes = tuple(p[:-1] for p in patterns if p.endswith("*"))
        self._decided: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        decided = self._decided.get(name)
        if decided is None:
            decided = self.everything or name in self.names or name.startswith(self.prefixes)
            if len(self._decided) < 100_000:
                self._decided[name] = decided
        return decided


class TextParser:
    """A streaming parser of the text format: ``feed`` chunks, then ``close``."""

    def __init__(self, *, keep: Iterable[str] = (), max_samples: int = 100_000) -> None:
        self.selector = Selector(keep)
        self.max_samples = max_samples
        self.samples: list[ParsedSample] = []
        self.seen = 0  # samples parsed, kept or not
        self._families: dict[str, str] = {}  # family name -> type
        self._family = ""  # the family of the latest # TYPE line
        self._line = 0
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        data = self._tail + chunk if self._tail else chunk
        end = data.rfind(b"\n")
        if end < 0:
            self._tail = data
            if len(data) > MAX_LINE_BYTES:
                raise ExpositionError(self._line + 1, f"line longer than {MAX_LINE_BYTES} bytes")
            return
        self._tail = data[end + 1 :]
        self._lines(data[: end + 1])
        if len(self._tail) > MAX_LINE_BYTES:
            raise ExpositionError(self._line + 1, f"line longer than {MAX_LINE_BYTES} bytes")

    def close(self) -> list[ParsedSample]:
        if self._tail:
            tail, self._tail = self._tail, b""
            self._lines(tail)
        return self.samples

    def _lines(self, data: bytes) -> None:
        try:
            body = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = self._line + data.count(b"\n", 0, exc.start) + 1
            raise ExpositionError(line, "not UTF-8") from None
        lines = body.split("\n")
        if lines[-1] == "":
            lines.pop()
        for text in lines:
            self._line += 1
            if len(text) > MAX_LINE_BYTES:
                raise ExpositionError(self._line, f"line longer than {MAX_LINE_BYTES} bytes")
            self._parse_line(text.rstrip("\r"))

    def _parse_line(self, text: str) -> None:
        stripped = text.lstrip(" \t")
        if not stripped:
            return
        if stripped[0] == "#":
            self._comment(stripped)
            return
        match = NAME_RE.match(stripped)
        if match is None:
            raise ExpositionError(self._line, f"invalid metric name in {stripped[:80]!r}")
        name, pos = match[0], match.end()
        self.seen += 1
        if not (self.selector(name) or (self._in_family(name) and self.selector(self._family))):
            # Not kept: its name was checked, the rest is not worth parsing (a scrape keeps
            # a few dozen of node_exporter's thousands of lines).
            return
        labels: tuple[tuple[str, str], ...] = ()
        brace = _skip_blanks(stripped, pos)
        if brace < len(stripped) and stripped[brace] == "{":
            labels, pos = self._labels(stripped, brace + 1)
        elif pos < len(stripped) and stripped[pos] not in " \t":
            raise ExpositionError(self._line, f"invalid metric name in {stripped[:80]!r}")
        self._sample(name, labels, stripped[pos:])

    def _sample(self, name: str, labels: tuple[tuple[str, str], ...], rest: str) -> None:
        parts = _BLANKS.split(rest.strip(" \t"))
        if len(parts) > 2:
            raise ExpositionError(self._line, "expected 'name[{labels}] value [timestamp]'")
        value = _value(parts[0], self._line)
        timestamp = None
        if len(parts) == 2:
            if not _TIMESTAMP.fullmatch(parts[1]):
                raise ExpositionError(self._line, f"invalid timestamp {parts[1][:40]!r}")
            timestamp = int(parts[1])
        if len(self.samples) >= self.max_samples:
            raise ExpositionError(self._line, f"more than {self.max_samples} samples kept")
        self.samples.append(ParsedSample(name, labels, value, timestamp))

    def _in_family(self, name: str) -> bool:
        family = self._family
        return bool(family) and name.startswith(family) and name[len(family) :] in _FAMILY_SUFFIXES

    def _labels(self, line: str, pos: int) -> tuple[tuple[tuple[str, str], ...], int]:
        """The label pairs starting at ``pos`` (just after ``{``) and the index after ``}``."""
        pairs: dict[str, str] = {}
        while True:
            match = _LABEL_PAIR.match(line, pos)
            if match is None:
                stop = _skip_blanks(line, pos)
                if stop < len(line) and line[stop] == "}":
                    return tuple(sorted(pairs.items())), stop + 1
                raise ExpositionError(self._line, f"invalid labels at column {pos + 1}")
            name, raw, comma = match.groups()
            if name in pairs:
                raise ExpositionError(self._line, f"label {name!r} given twice")
            pairs[name] = _unescape(raw, self._line) if "\\" in raw else raw
            if len(pairs) > MAX_LABELS:
                raise ExpositionError(self._line, f"more than {MAX_LABELS} labels")
            pos = match.end()
            if not comma:
                if pos < len(line) and line[pos] == "}":
                    return tuple(sorted(pairs.items())), pos + 1
                raise ExpositionError(self._line, f"expected ',' or '}}' at column {pos + 1}")

    def _comment(self, text: str) -> None:
        parts = text[1:].split(None, 3)
        if len(parts) < 2 or parts[0] not in ("HELP", "TYPE"):
            return  # a plain comment
        name = parts[1]
        if not NAME_RE.fullmatch(name):
            raise ExpositionError(self._line, f"invalid metric name {name[:80]!r} in {parts[0]}")
        if parts[0] == "TYPE":
            kind = parts[2].strip() if len(parts) > 2 else ""
            if len(parts) > 3 or kind not in _TYPES:
                raise ExpositionError(self._line, f"invalid TYPE {kind[:40]!r} for {name}")
            if name in self._families:
                raise ExpositionError(self._line, f"second TYPE line for {name}")
            self._families[name] = kind
            self._family = name


def _skip_blanks(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    return pos


def _value(text: str, line: int) -> float:
    if not _NUMBER.fullmatch(text):
        raise ExpositionError(line, f"invalid value {text[:40]!r}")
    return float(text)


def _unescape(raw: str, line: int) -> str:
    def replace(match: re.Match[str]) -> str:
        try:
            return _UNESCAPE[match[1]]
        except KeyError:
            raise ExpositionError(line, f"invalid escape '\\{match[1]}' in a label value") from None

    return _ESCAPE.sub(replace, raw)


def parse_text(data: bytes, *, keep: list[str], max_samples: int) -> list[ParsedSample]:
    """The samples of a text exposition whose name (or family) is in ``keep``.

    ``keep`` holds names and ``prefix*`` patterns; empty keeps everything. More than
    ``max_samples`` kept samples is an error, as a sample limit is in Prometheus.
    """
    parser = TextParser(keep=keep, max_samples=max_samples)
    parser.feed(data)
    return parser.close()


# ---- JSON push format ------------------------------------------------------------------------

_MetricName = Annotated[
    str, StringConstraints(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", max_length=MAX_NAME)
]
# Milliseconds between 1973 and 5138: a value in seconds (about 1.7e9 today) is refused
# rather than filed in January 1970.
_Timestamp = Annotated[int, Field(gt=100_000_000_000, lt=100_000_000_000_000)]


class PushSample(BaseModel):
    # strict: a value must be a JSON number and labels strings, never coerced from "1.5".
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: _MetricName
    labels: dict[str, str] = Field(default_factory=dict)
    value: Annotated[float, Field(allow_inf_nan=False)]
    timestamp: _Timestamp | None = None

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        if len(labels) > MAX_LABELS:
            raise ValueError(f"more than {MAX_LABELS} labels")
        for key, value in labels.items():
            if not LABEL_NAME_RE.fullmatch(key) or len(key) > MAX_NAME:
                raise ValueError(f"invalid label name {key[:80]!r}")
            if len(value) > MAX_LABEL_VALUE:
                raise ValueError(f"label {key} longer than {MAX_LABEL_VALUE} characters")
        return labels


class PushBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metrics: list[PushSample] = Field(max_length=MAX_JSON_ITEMS)


def parse_json(data: bytes, *, max_samples: int) -> list[ParsedSample]:
    """The samples of a JSON push body (see the module docstring for the format)."""
    try:
        batch = PushBatch.model_validate_json(data)
    except ValidationError as exc:
        problem = _json_problem(exc)
        where = _JSON_LINE.search(problem)  # syntax errors say where; schema errors name the item
        raise ExpositionError(int(where[1]) if where else 0, problem) from None
    if len(batch.metrics) > max_samples:
        raise ExpositionError(0, f"more than {max_samples} samples")
    return [
        ParsedSample(m.name, tuple(sorted(m.labels.items())), m.value, m.timestamp)
        for m in batch.metrics
    ]


def _json_problem(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
    where = where.lstrip(".") or "body"
    return f"{where}: {first['msg']}"[:300]
