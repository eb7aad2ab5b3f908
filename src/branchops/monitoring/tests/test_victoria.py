"""VictoriaMetrics store: the remote-write wire format, batching, retries and typed errors.

The behaviour shared with the embedded store is in test_metric_stores.py. Here a small HTTP
server on 127.0.0.1 plays a VictoriaMetrics that fails on cue (5xx, 4xx, silence), and a
protobuf reader written for the test checks what went over the wire.
"""

from __future__ import annotations

import http.server
import math
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import cramjam
import httpx
import pytest

from branchops.monitoring.metrics.base import Selector, TimedSample, canonical_labels
from branchops.monitoring.metrics.victoria import (
    LocalVictoriaMetrics,
    VictoriaMetricsError,
    VictoriaMetricsStore,
    binary_path,
    encode_labels,
    encode_write_request,
    group_by_series,
    varint,
)

# ---- a protobuf reader, just enough for WriteRequest -----------------------------------------


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def fields(data: bytes) -> Iterator[tuple[int, int | float | bytes]]:
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(data, pos)
            yield number, value
        elif wire == 1:
            yield number, struct.unpack_from("<d", data, pos)[0]
            pos += 8
        elif wire == 2:
            length, pos = read_varint(data, pos)
            yield number, data[pos : pos + length]
            pos += length
        else:
            raise AssertionError(f"unexpected wire type {wire}")


def decode_write_request(
    body: bytes,
) -> list[tuple[list[tuple[str, str]], list[tuple[int, float]]]]:
    series = []
    for number, ts_msg in fields(body):
        assert number == 1
        assert isinstance(ts_msg, bytes)
        labels, samples = [], []
        for part, payload in fields(ts_msg):
            assert isinstance(payload, bytes)
            inner = dict(fields(payload))
            if part == 1:
                name, value = inner.get(1, b""), inner.get(2, b"")
                assert isinstance(name, bytes)
                assert isinstance(value, bytes)
                labels.append((name.decode(), value.decode()))
            else:
                ts, value = inner.get(2, 0), inner.get(1, 0.0)
                assert isinstance(ts, int)
                assert isinstance(value, float)
                samples.append((ts - (1 << 64) if ts >= 1 << 63 else ts, value))
        series.append((labels, samples))
    return series


# ---- encoding ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "encoded"),
    [
        (0, b"\x00"),
        (1, b"\x01"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (300, b"\xac\x02"),
        (-1, b"\xff" * 9 + b"\x01"),
    ],
)
def test_varints(n: int, encoded: bytes) -> None:
    assert varint(n) == encoded
    value, end = read_varint(encoded, 0)
    assert end == len(encoded)
    assert (value - (1 << 64) if value >= 1 << 63 else value) == n


def test_labels_are_sorted_with_the_metric_name_and_keep_utf8() -> None:
    encoded = encode_labels("branchops_up", (("site", "上海营业部"), ("device", "FW01")))
    [(labels, samples)] = decode_write_request(b"\x0a" + varint(len(encoded)) + encoded)
    assert labels == [("__name__", "branchops_up"), ("device", "FW01"), ("site", "上海营业部")]
    assert samples == []


def test_a_write_request_round_trips() -> None:
    samples = [
        TimedSample("a_total", canonical_labels({"x": "1"}), 1_700_000_000.5, 3.25),
        TimedSample("a_total", canonical_labels({"x": "1"}), 1_700_000_000.0, -1.0),
        TimedSample("b_ratio", (), 0.0, math.inf),
        TimedSample("b_ratio", (), -1.0, 0.0),  # before the epoch: a negative int64
    ]
    [(body, count)] = list(encode_write_request(group_by_series(samples)))
    assert count == 4
    assert decode_write_request(body) == [
        (
            [("__name__", "a_total"), ("x", "1")],
            [(1_700_000_000_000, -1.0), (1_700_000_000_500, 3.25)],
        ),
        ([("__name__", "b_ratio")], [(-1000, 0.0), (0, math.inf)]),
    ]


def test_large_writes_are_cut_into_bounded_requests() -> None:
    samples = [
        TimedSample("m", (("i", str(i)),), 1_700_000_000 + j, float(j))
        for i in range(30)
        for j in range(100)
    ]
    requests = list(encode_write_request(group_by_series(samples), max_samples=700))
    assert [count for _, count in requests] == [700, 700, 700, 700, 200]
    decoded = [s for body, _ in requests for s in decode_write_request(body)]
    # A series longer than the room left in a request continues in the next one.
    by_series: dict[str, list[tuple[int, float]]] = {}
    for labels, points in decoded:
        by_series.setdefault(dict(labels)["i"], []).extend(points)
    assert len(by_series) == 30
    assert all(len(points) == 100 for points in by_series.values())

    by_bytes = list(encode_write_request(group_by_series(samples), max_bytes=2000))
    assert all(len(body) <= 2000 for body, _ in by_bytes)
    assert sum(count for _, count in by_bytes) == 3000


# ---- a VictoriaMetrics that fails on cue ---------------------------------------------------------


@dataclass
class Peer:
    """Answers each write with the next status in ``script`` (then 204), records requests."""

    script: list[int] = field(default_factory=list)
    silent: bool = False
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def peer() -> Iterator[Peer]:
    state = Peer()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((dict(self.headers.items()), body))
            if state.silent:
                time.sleep(1.0)
                return
            status = state.script.pop(0) if state.script else 204
            self.send_response(status)
            message = b"cannot parse" if status < 500 else b"overloaded"
            self.send_header("Content-Length", str(len(message)))
            self.end_headers()
            self.wfile.write(message)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _samples(n: int) -> list[TimedSample]:
    return [TimedSample("branchops_x", (("i", str(i)),), 1_700_000_000, float(i)) for i in range(n)]


def test_a_write_is_remote_write_with_snappy_and_the_protocol_headers(peer: Peer) -> None:
    store = VictoriaMetricsStore(peer.url)
    assert store.write(_samples(3)) == 3
    [(headers, body)] = peer.requests
    assert headers["Content-Encoding"] == "snappy"
    assert headers["Content-Type"] == "application/x-protobuf"
    assert headers["X-Prometheus-Remote-Write-Version"] == "0.1.0"
    decoded = decode_write_request(bytes(cramjam.snappy.decompress_raw(body)))
    assert [dict(labels)["i"] for labels, _ in decoded] == ["0", "1", "2"]
    store.close()


def test_5xx_is_retried_with_backoff_then_succeeds(peer: Peer) -> None:
    naps: list[float] = []
    peer.script = [503, 500]
    store = VictoriaMetricsStore(peer.url, retries=3, backoff_s=0.5, sleep=naps.append)
    assert store.write(_samples(5)) == 5
    assert len(peer.requests) == 3
    assert naps == [0.5, 1.0]
    store.close()


def test_5xx_every_time_raises_a_retryable_error_after_bounded_attempts(peer: Peer) -> None:
    peer.script = [503] * 100
    naps: list[float] = []
    store = VictoriaMetricsStore(peer.url, retries=2, backoff_s=0.1, sleep=naps.append)
    with pytest.raises(VictoriaMetricsError, match="3 attempts: HTTP 503") as caught:
        store.write(_samples(5))
    assert caught.value.retryable
    assert caught.value.written == 0
    assert len(peer.requests) == 3
    assert naps == [0.1, 0.2]
    store.close()


def test_a_failure_midway_says_how_much_was_written(peer: Peer) -> None:
    peer.script = [204, 503, 503]
    store = VictoriaMetricsStore(
        peer.url, retries=1, sleep=lambda _: None, max_samples_per_request=10
    )
    with pytest.raises(VictoriaMetricsError) as caught:
        store.write(_samples(25))
    assert caught.value.written == 10
    store.close()


def test_4xx_is_not_retried(peer: Peer) -> None:
    peer.script = [400]
    store = VictoriaMetricsStore(peer.url, sleep=lambda _: None)
    with pytest.raises(
        VictoriaMetricsError, match="refused a write: HTTP 400: cannot parse"
    ) as caught:
        store.write(_samples(1))
    assert not caught.value.retryable
    assert len(peer.requests) == 1
    store.close()


def test_429_too_many_requests_is_retried(peer: Peer) -> None:
    peer.script = [429]
    store = VictoriaMetricsStore(peer.url, sleep=lambda _: None)
    assert store.write(_samples(1)) == 1
    assert len(peer.requests) == 2
    store.close()


def test_a_peer_that_never_answers_times_out_and_is_retryable(peer: Peer) -> None:
    peer.silent = True
    store = VictoriaMetricsStore(peer.url, timeout_s=0.2, retries=1, sleep=lambda _: None)
    started = time.monotonic()
    with pytest.raises(VictoriaMetricsError, match="ReadTimeout") as caught:
        store.write(_samples(1))
    assert caught.value.retryable
    assert time.monotonic() - started < 2.0
    store.close()


def test_nobody_listening_is_retryable_for_writes_and_reads() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        store = VictoriaMetricsStore(f"http://127.0.0.1:{port}", retries=1, sleep=lambda _: None)
        with pytest.raises(VictoriaMetricsError, match="ConnectError") as caught:
            store.write(_samples(1))
        assert caught.value.retryable
        with pytest.raises(VictoriaMetricsError, match="did not answer") as caught:
            store.query_range(Selector("x"), 0, 60)
        assert caught.value.retryable
        store.close()


def test_credentials_in_the_url_become_basic_auth() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization", ""))
        return httpx.Response(204)

    store = VictoriaMetricsStore(
        "https://ops:s3cret@vm.example.invalid:8428/", transport=httpx.MockTransport(handler)
    )
    assert store.url == "https://vm.example.invalid:8428"
    store.write(_samples(1))
    assert seen == ["Basic b3BzOnMzY3JldA=="]
    store.close()


@pytest.mark.parametrize("url", ["ftp://x", "http://", "sqlite:///x"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="not a VictoriaMetrics URL"):
        VictoriaMetricsStore(url)


# ---- against the real server -----------------------------------------------------------------


@pytest.mark.skipif(binary_path() is None, reason="victoria-metrics is not installed")
def test_a_write_split_into_many_requests_is_all_stored() -> None:
    with LocalVictoriaMetrics() as server:
        store = VictoriaMetricsStore(server.url, max_samples_per_request=1000)
        now = int(time.time()) - 600
        samples = [
            TimedSample("branchops_split", (("i", str(i)),), now + j, float(j))
            for i in range(50)
            for j in range(200)
        ]
        assert store.write(samples) == 10_000
        server.flush()
        found = store.query_range(Selector("branchops_split"), now, now + 300)
        assert len(found) == 50
        assert sum(len(s.points) for s in found) == 10_000
        store.close()


@pytest.mark.skipif(binary_path() is None, reason="victoria-metrics is not installed")
def test_a_bad_query_is_a_typed_error_not_a_crash() -> None:
    with LocalVictoriaMetrics() as server:
        store = VictoriaMetricsStore(server.url)
        store._client.get("/api/v1/query", params={"query": "up"})  # the server is up
        with pytest.raises(VictoriaMetricsError) as caught:
            store._query("/api/v1/query", {"query": "sum(("})
        assert not caught.value.retryable
        store.close()
