"""The Prometheus text and JSON push parsers: exact parses, garbage, limits, random input."""

from __future__ import annotations

import contextlib
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from branchops.monitoring.exposition import (
    MAX_LINE_BYTES,
    ExpositionError,
    ParsedSample,
    TextParser,
    parse_json,
    parse_text,
)

NODE = b"""# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 2.01e+06
node_cpu_seconds_total{cpu="0",mode="user"} 3521.5
# HELP node_memory_MemTotal_bytes Memory information field MemTotal_bytes.
# TYPE node_memory_MemTotal_bytes gauge
node_memory_MemTotal_bytes 8.218034176e+09
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.1"} 3
http_request_duration_seconds_bucket{le="+Inf"} 5
http_request_duration_seconds_sum 1.25
http_request_duration_seconds_count 5
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.99"} NaN
rpc_seconds_sum 0
rpc_seconds_count 0
"""


def one(line: str | bytes) -> ParsedSample:
    data = line.encode() if isinstance(line, str) else line
    (sample,) = parse_text(data, keep=[], max_samples=10)
    return sample


# ---- exact parses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("up 1", ParsedSample("up", (), 1.0, None)),
        ("up 1 1700000000123", ParsedSample("up", (), 1.0, 1700000000123)),
        ("up -0.5 -5", ParsedSample("up", (), -0.5, -5)),
        ("a:b_c 1e-3", ParsedSample("a:b_c", (), 0.001, None)),
        ("x{} 2", ParsedSample("x", (), 2.0, None)),
        ('x{b="2",a="1"} 3', ParsedSample("x", (("a", "1"), ("b", "2")), 3.0, None)),
        ('x{a="1",} 3', ParsedSample("x", (("a", "1"),), 3.0, None)),
        ('x {a="1"} 3', ParsedSample("x", (("a", "1"),), 3.0, None)),
        ('  x{ a = "1" }\t3\t7  ', ParsedSample("x", (("a", "1"),), 3.0, 7)),
        (r'x{a="q\"uote"} 1', ParsedSample("x", (("a", 'q"uote'),), 1.0, None)),
        (r'x{a="back\\slash"} 1', ParsedSample("x", (("a", "back\\slash"),), 1.0, None)),
        (r'x{a="new\nline"} 1', ParsedSample("x", (("a", "new\nline"),), 1.0, None)),
        ('x{a="} 9",b="{"} 1', ParsedSample("x", (("a", "} 9"), ("b", "{")), 1.0, None)),
        ('x{path="C:\\\\Windows"} 1', ParsedSample("x", (("path", "C:\\Windows"),), 1.0, None)),
        ('x{城市="上海"} 1', None),  # label names are ASCII only
        ('x{city="上海"} 1', ParsedSample("x", (("city", "上海"),), 1.0, None)),
        ("x +Inf", ParsedSample("x", (), math.inf, None)),
        ("x -Inf", ParsedSample("x", (), -math.inf, None)),
        ("x Inf", ParsedSample("x", (), math.inf, None)),
        ("x 1\r", ParsedSample("x", (), 1.0, None)),
    ],
)
def test_tricky_lines(line: str, expected: ParsedSample | None) -> None:
    if expected is None:
        with pytest.raises(ExpositionError):
            one(line)
    else:
        assert one(line) == expected


def test_nan_parses_as_nan() -> None:
    sample = one("x NaN")
    assert sample.name == "x"
    assert math.isnan(sample.value)


def test_a_node_exporter_body() -> None:
    samples = parse_text(NODE, keep=[], max_samples=100)
    assert [s.name for s in samples] == [
        "node_cpu_seconds_total",
        "node_cpu_seconds_total",
        "node_memory_MemTotal_bytes",
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_sum",
        "http_request_duration_seconds_count",
        "rpc_seconds",
        "rpc_seconds_sum",
        "rpc_seconds_count",
    ]
    assert samples[0] == ParsedSample(
        "node_cpu_seconds_total", (("cpu", "0"), ("mode", "idle")), 2.01e6, None
    )
    assert samples[4].labels == (("le", "+Inf"),)


def test_selection_by_name_prefix_and_family() -> None:
    keep = ["node_memory_*", "http_request_duration_seconds", "rpc_seconds_count"]
    names = [s.name for s in parse_text(NODE, keep=keep, max_samples=100)]
    assert names == [
        "node_memory_MemTotal_bytes",
        "http_request_duration_seconds_bucket",  # a histogram keeps its series
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_sum",
        "http_request_duration_seconds_count",
        "rpc_seconds_count",  # one series of a family can be chosen alone
    ]


def test_a_family_does_not_capture_unrelated_names() -> None:
    body = b"# TYPE up gauge\nup 1\nupstream_total 5\nup_count 2\n"
    assert [s.name for s in parse_text(body, keep=["up"], max_samples=10)] == ["up", "up_count"]


def test_comments_and_blank_lines_are_skipped() -> None:
    body = b"# just a comment\n\n   \n#HELPless\n# HELP x docs with \\n escapes\nx 1\n# EOF\n"
    assert parse_text(body, keep=[], max_samples=10) == [ParsedSample("x", (), 1.0, None)]


# ---- garbage -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        (b'ok 1\nx{a="b" 1\n', 2, "expected ','"),
        (b"ok 1\nok 2\nx 1 2 3\n", 3, "expected 'name"),
        (b"x{a=b} 1", 1, "invalid labels"),
        (b"1x 2", 1, "invalid metric name"),
        (b"x.y 2", 1, "invalid metric name"),
        (b'x{a="\\q"} 1', 1, "invalid escape"),
        (b"# TYPE x foo\n", 1, "invalid TYPE"),
        (b"# TYPE x gauge\n# TYPE x gauge\n", 2, "second TYPE"),
        (b"# TYPE 9x gauge\n", 1, "invalid metric name"),
        (b'x{a="1",a="2"} 1', 1, "given twice"),
        (b"x 0x10", 1, "invalid value"),
        (b"x 1_000", 1, "invalid value"),
        (b"x", 1, "invalid value"),
        (b"x 1 12.5", 1, "invalid timestamp"),
        (b"ok 1\n\xff\xfe 1\n", 2, "not UTF-8"),
        (b"<html><body>Not Found</body></html>\n", 1, "invalid metric name"),
        (b'{"metrics": []}', 1, "invalid metric name"),
    ],
)
def test_garbage_is_rejected_naming_the_line(body: bytes, line: int, words: str) -> None:
    with pytest.raises(ExpositionError) as caught:
        parse_text(body, keep=[], max_samples=10)
    assert caught.value.line == line
    assert words in caught.value.message
    assert str(caught.value).startswith(f"line {line}: ")


def test_too_many_samples() -> None:
    body = b"".join(b'x{n="%d"} 1\n' % n for n in range(11))
    assert len(parse_text(body, keep=[], max_samples=11)) == 11
    with pytest.raises(ExpositionError, match="more than 10 samples"):
        parse_text(body, keep=[], max_samples=10)
    assert parse_text(body, keep=["y"], max_samples=1) == []  # only kept samples count


def test_an_endless_line_is_cut_off() -> None:
    parser = TextParser()
    chunk = b"x" * 4096  # no newline, ever
    fed = 0
    with pytest.raises(ExpositionError, match="longer than"):  # noqa: PT012
        while fed < 100 * len(chunk):
            parser.feed(chunk)
            fed += len(chunk)
    assert fed <= MAX_LINE_BYTES  # stopped at the cap, not at the end of the stream


# ---- streaming -----------------------------------------------------------------------------


def test_feeding_in_any_chunks_gives_the_same_samples() -> None:
    body = NODE + 'x{city="上海",note="a\\"b"} 1\n'.encode()
    whole = parse_text(body, keep=[], max_samples=100)
    for size in (1, 2, 3, 7, 64):
        parser = TextParser(max_samples=100)
        for start in range(0, len(body), size):
            parser.feed(body[start : start + size])  # splits UTF-8 characters too
        assert repr(parser.close()) == repr(whole)  # repr: NaN != NaN
    assert whole[-1].labels == (("city", "上海"), ("note", 'a"b'))


def test_the_last_line_needs_no_newline() -> None:
    assert parse_text(b"a 1\nb 2", keep=[], max_samples=10)[-1] == ParsedSample("b", (), 2.0, None)


# ---- random input --------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_nothing_but_exposition_errors(data: bytes) -> None:
    with contextlib.suppress(ExpositionError):
        parse_text(data, keep=[], max_samples=50)


_TEXTY = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list('x{}="\\ ,\n1e+.aN#TYPE\t')), max_size=60).map("".join))
def test_random_near_miss_lines_raise_nothing_but_exposition_errors(text: str) -> None:
    with contextlib.suppress(ExpositionError):
        parse_text(text.encode(), keep=[], max_samples=50)


_NAMES = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,15}", fullmatch=True)
_LABELS = st.dictionaries(
    st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True), _TEXTY, max_size=4
)
_VALUES = st.floats(allow_nan=False) | st.integers(-(2**53), 2**53).map(float)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@settings(max_examples=200, deadline=None)
@given(_NAMES, _LABELS, _VALUES, st.none() | st.integers(-(2**40), 2**43))
def test_what_prometheus_writes_is_read_back(
    name: str, labels: dict[str, str], value: float, timestamp: int | None
) -> None:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    line = f"{name}{{{inner}}} {value!r}" + ("" if timestamp is None else f" {timestamp}")
    line = line.replace("inf", "Inf")
    assert one(line) == ParsedSample(name, tuple(sorted(labels.items())), value, timestamp)


# ---- JSON push format ----------------------------------------------------------------------


def push(*metrics: object) -> bytes:
    return json.dumps({"metrics": list(metrics)}).encode()


def test_json_push() -> None:
    body = push(
        {"name": "transfer_delay_seconds", "labels": {"channel": "ctp", "b": "2"}, "value": 0.42,
         "timestamp": 1732234567500},
        {"name": "transfer_volume", "value": 12},
    )  # fmt: skip
    assert parse_json(body, max_samples=10) == [
        ParsedSample(
            "transfer_delay_seconds", (("b", "2"), ("channel", "ctp")), 0.42, 1732234567500
        ),
        ParsedSample("transfer_volume", (), 12.0, None),
    ]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"{not json", "body"),
        (b"[]", "body"),
        (push({"name": "9bad", "value": 1}), "metrics[0].name"),
        (push({"name": "a", "value": "1.5"}), "metrics[0].value"),
        (push({"name": "a", "value": True}), "metrics[0].value"),
        (push({"name": "a", "value": 1, "labels": {"x": 1}}), "metrics[0].labels.x"),
        (push({"name": "a", "value": 1, "labels": {"bad-name": "v"}}), "metrics[0].labels"),
        (push({"name": "a", "value": 1, "labels": {"a": "v" * 1025}}), "metrics[0].labels"),
        (
            push({"name": "a", "value": 1, "labels": {f"l{i}": "v" for i in range(31)}}),
            "metrics[0].labels",
        ),
        (push({"name": "a", "value": 1, "timestamp": 1732234567}), "metrics[0].timestamp"),
        (push({"name": "a", "value": 1, "extra": 1}), "metrics[0].extra"),
        (push({"name": "a" * 201, "value": 1}), "metrics[0].name"),
        (b'{"metrics": [{"name": "a", "value": NaN}]}', "metrics[0].value"),
    ],
)
def test_json_push_rejects(body: bytes, where: str) -> None:
    with pytest.raises(ExpositionError) as caught:
        parse_json(body, max_samples=10)
    assert caught.value.message.startswith(f"{where}: "), caught.value.message


def test_json_push_limits_the_count() -> None:
    body = push(*({"name": "a", "value": n} for n in range(11)))
    with pytest.raises(ExpositionError, match="more than 10 samples"):
        parse_json(body, max_samples=10)


def test_json_syntax_errors_name_the_line() -> None:
    with pytest.raises(ExpositionError) as caught:
        parse_json(b'{\n"metrics": [\n{,}]}', max_samples=10)
    assert caught.value.line == 3


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_as_json_raise_nothing_but_exposition_errors(data: bytes) -> None:
    with contextlib.suppress(ExpositionError):
        parse_json(data, max_samples=10)


def test_deeply_nested_json_is_an_exposition_error() -> None:
    with pytest.raises(ExpositionError):
        parse_json(b"[" * 100_000, max_samples=10)


def test_lines_not_kept_are_checked_for_their_name_only() -> None:
    body = b'kept 1\nother{a="unterminated 1\n'
    assert parse_text(body, keep=["kept"], max_samples=10) == [ParsedSample("kept", (), 1.0, None)]
    with pytest.raises(ExpositionError, match="line 2"):
        parse_text(body, keep=[], max_samples=10)
    with pytest.raises(ExpositionError, match="line 2: invalid metric name"):
        parse_text(b"kept 1\n<html>\n", keep=["kept"], max_samples=10)
