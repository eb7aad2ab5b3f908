"""The prometheus scrape collector against real HTTP servers on loopback."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from branchops.monitoring.collectors import Context, build
from branchops.monitoring.collectors.base import (
    CheckSpec,
    CollectorError,
    ConfigError,
    Result,
    State,
)
from branchops.monitoring.collectors.prometheus import SHARED_HTTP_KEY, PrometheusCollector

T = TypeVar("T")
LABELS = {"region": "shanghai", "site": "HQ-DC1", "device": "HQ-SRV01", "role": "server"}


def node_body(idle: float, user: float, avail: float = 2e9) -> bytes:
    return f"""# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{{cpu="0",mode="idle"}} {idle}
node_cpu_seconds_total{{cpu="0",mode="user"}} {user}
node_cpu_seconds_total{{cpu="1",mode="idle"}} {idle}
node_cpu_seconds_total{{cpu="1",mode="system"}} {user}
# TYPE node_memory_MemAvailable_bytes gauge
node_memory_MemAvailable_bytes {avail}
# TYPE node_memory_MemTotal_bytes gauge
node_memory_MemTotal_bytes 8e+09
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{{device="/dev/sda1",fstype="ext4",mountpoint="/"}} 2.5e+10
node_filesystem_avail_bytes{{device="tmpfs",fstype="tmpfs",mountpoint="/run"}} 1e+08
# TYPE node_filesystem_size_bytes gauge
node_filesystem_size_bytes{{device="/dev/sda1",fstype="ext4",mountpoint="/"}} 1e+11
node_filesystem_size_bytes{{device="tmpfs",fstype="tmpfs",mountpoint="/run"}} 4e+08
# TYPE node_disk_io_time_seconds_total counter
node_disk_io_time_seconds_total{{device="sda"}} 512.25
# TYPE node_load1 gauge
node_load1 0.42
# TYPE node_scrape_collector_success gauge
node_scrape_collector_success{{collector="cpu"}} NaN
""".encode()


@dataclass
class Exporter:
    """An HTTP server on 127.0.0.1 whose answer the test scripts."""

    answer: Callable[[asyncio.StreamWriter], Awaitable[None]]
    requests: list[bytes] = field(default_factory=list)
    sent: int = 0
    server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> Exporter:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.requests.append(await reader.readuntil(b"\r\n\r\n"))
            await self.answer(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def reply(
    body: bytes, status: str = "200 OK", headers: dict[str, str] | None = None
) -> Callable[[asyncio.StreamWriter], Awaitable[None]]:
    async def answer(writer: asyncio.StreamWriter) -> None:
        head = {"Content-Type": "text/plain; version=0.0.4", "Content-Length": str(len(body))}
        head.update(headers or {})
        lines = "".join(f"{k}: {v}\r\n" for k, v in head.items())
        writer.write(f"HTTP/1.1 {status}\r\n{lines}\r\n".encode() + body)
        await writer.drain()

    return answer


def spec(port: int, timeout_s: float = 5.0, **params: Any) -> CheckSpec:
    return CheckSpec(
        check_id=7,
        kind="prometheus",
        target="127.0.0.1",
        timeout_s=timeout_s,
        params={"port": port, **params},
        labels=LABELS,
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(scenario: Callable[[PrometheusCollector, Clock], Coroutine[Any, Any, T]]) -> T:
    async def main() -> T:
        clock = Clock()
        context = Context(clock=lambda: 1_700_000_000.0 + clock.now, monotonic=clock)
        collector = build("prometheus", context)
        assert isinstance(collector, PrometheusCollector)
        try:
            return await scenario(collector, clock)
        finally:
            await context.shared[SHARED_HTTP_KEY].aclose()

    return asyncio.run(main())


def values(result: Result) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, s.labels): s.value for s in result.samples}


def with_labels(**extra: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({**LABELS, **extra}.items()))


# ---- a node_exporter ----------------------------------------------------------------------


def test_scrape_keeps_the_selected_metrics_and_labels_them() -> None:
    async def scenario(collector: PrometheusCollector, clock: Clock) -> tuple[Result, Exporter]:
        async with Exporter(reply(node_body(100, 50))) as exporter:
            result = await collector.collect(
                spec(exporter.port, metrics=["node_load1", "node_disk_*"])
            )
            return result, exporter

    result, exporter = run(scenario)
    assert result.state is State.UP
    got = values(result)
    assert got[("node_load1", with_labels())] == 0.42
    # node_exporter's disk "device" clashes with ours: ours wins, theirs is kept renamed.
    assert got[("node_disk_io_time_seconds_total", with_labels(exported_device="sda"))] == 512.25
    assert got[("branchops_memory_utilisation_ratio", with_labels())] == pytest.approx(0.75)
    assert got[("branchops_storage_used_ratio", with_labels(storage="/"))] == pytest.approx(0.75)
    assert ("branchops_storage_used_ratio", with_labels(storage="/run")) not in got  # tmpfs
    assert not any(name == "node_cpu_seconds_total" for name, _ in got)  # read, not kept
    assert b"GET /metrics HTTP/1.1" in exporter.requests[0]
    assert b"text/plain;version=0.0.4" in exporter.requests[0]
    assert "memory 75%" in result.summary


def test_cpu_comes_from_idle_time_between_two_scrapes() -> None:
    bodies = [node_body(100, 50), node_body(130, 80), node_body(10, 5)]

    async def answer(writer: asyncio.StreamWriter) -> None:
        await reply(bodies.pop(0))(writer)

    async def scenario(collector: PrometheusCollector, clock: Clock) -> list[Result]:
        async with Exporter(answer) as exporter:
            results = []
            for _ in range(3):
                results.append(await collector.collect(spec(exporter.port, metrics=["node_load1"])))
                clock.now += 60
            return results

    first, second, restarted = run(scenario)
    cpu = ("branchops_cpu_utilisation_ratio", with_labels())
    assert cpu not in values(first)  # nothing to compare with yet
    # idle grew 2 x 30 s out of 2 x 30 + 2 x 30 s of CPU time: half busy
    assert values(second)[cpu] == pytest.approx(0.5)
    assert cpu not in values(restarted)  # counters went back: no rate across a reboot


def test_an_empty_selection_keeps_everything_finite() -> None:
    async def scenario(collector: PrometheusCollector, clock: Clock) -> Result:
        async with Exporter(reply(node_body(1, 1))) as exporter:
            return await collector.collect(spec(exporter.port))

    result = run(scenario)
    names = {s.name for s in result.samples}
    assert {"node_cpu_seconds_total", "node_filesystem_size_bytes", "node_load1"} <= names
    assert "node_scrape_collector_success" not in names  # NaN cannot be stored
    assert "1 NaN or infinite left out" in result.summary


def test_a_gzip_body_is_inflated() -> None:
    body = gzip.compress(node_body(1, 1))

    async def scenario(collector: PrometheusCollector, clock: Clock) -> Result:
        async with Exporter(reply(body, headers={"Content-Encoding": "gzip"})) as exporter:
            return await collector.collect(spec(exporter.port, metrics=["node_load1"]))

    assert values(run(scenario))[("node_load1", with_labels())] == 0.42


# ---- bad exporters -------------------------------------------------------------------------


def test_a_garbage_body_is_unknown_and_names_the_line() -> None:
    body = b"node_load1 0.42\n<html><body>Login required</body></html>\n"

    async def scenario(collector: PrometheusCollector, clock: Clock) -> None:
        async with Exporter(reply(body)) as exporter:
            await collector.collect(spec(exporter.port))

    with pytest.raises(CollectorError) as caught:
        run(scenario)
    assert caught.value.state is State.UNKNOWN
    assert "line 2: invalid metric name" in str(caught.value)


def test_a_100_mb_body_is_cut_off_not_read() -> None:
    line = b'padding_metric{filler="' + b"x" * 200 + b'"} 1\n'
    chunk = line * 4000  # about 900 KB
    total = 100 * 1024 * 1024

    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
        sent = 0
        while sent < total:
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
            exporter.sent = sent

    exporter = Exporter(answer)

    async def scenario(collector: PrometheusCollector, clock: Clock) -> None:
        async with exporter:
            try:
                await collector.collect(spec(exporter.port, max_body_bytes=2 * 1024 * 1024))
            finally:
                await asyncio.sleep(0.2)  # let the server notice the closed connection

    with pytest.raises(CollectorError) as caught:
        run(scenario)
    assert caught.value.state is State.UNKNOWN
    assert "larger than 2,097,152 bytes" in str(caught.value)
    # What left the server before we hung up: the cap plus socket buffers, not 100 MB.
    assert exporter.sent < 30 * 1024 * 1024


def test_a_gzip_bomb_stops_at_the_cap() -> None:
    line = b'a{x="' + b"y" * 1000 + b'"} 1\n'
    bomb = gzip.compress(line * 200_000, compresslevel=9)  # 200 MB, under 1 MB on the wire

    async def scenario(collector: PrometheusCollector, clock: Clock) -> None:
        headers = {"Content-Encoding": "gzip"}
        async with Exporter(reply(bomb, headers=headers)) as exporter:
            await collector.collect(spec(exporter.port, max_body_bytes=1024 * 1024))

    with pytest.raises(CollectorError, match="larger than 1,048,576 bytes"):
        run(scenario)


def test_a_server_that_never_answers_is_down_after_the_timeout() -> None:
    async def silent(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    async def scenario(collector: PrometheusCollector, clock: Clock) -> None:
        async with Exporter(silent) as exporter:
            await collector.collect(spec(exporter.port, timeout_s=0.5))

    with pytest.raises(CollectorError) as caught:
        run(scenario)
    assert caught.value.state is State.DOWN
    assert "no complete answer within 0.5 s" in str(caught.value)


def test_a_trickling_server_is_down_after_the_timeout() -> None:
    async def trickle(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        while True:  # one byte at a time, each well inside a read timeout
            writer.write(b"#")
            await writer.drain()
            await asyncio.sleep(0.05)

    async def scenario(collector: PrometheusCollector, clock: Clock) -> None:
        async with Exporter(trickle) as exporter:
            await collector.collect(spec(exporter.port, timeout_s=0.6))

    with pytest.raises(CollectorError, match="no complete answer"):
        run(scenario)


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("500 Internal Server Error", "HTTP 500"),
        ("302 Found", "HTTP 302"),
        ("404 Not Found", "HTTP 404"),
    ],
)
def test_http_errors_are_down(status: str, words: str) -> None:
    async def scenario(collector: PrometheusCollector, clock: Clock) -> None:
        headers = {"Location": "http://127.0.0.1:1/metrics"}
        async with Exporter(reply(b"oops", status, headers)) as exporter:
            await collector.collect(spec(exporter.port))

    with pytest.raises(CollectorError) as caught:
        run(scenario)
    assert caught.value.state is State.DOWN
    assert words in str(caught.value)


def test_a_closed_port_is_down() -> None:
    async def scenario(collector: PrometheusCollector, clock: Clock) -> None:
        async with Exporter(reply(b"")) as exporter:
            port = exporter.port
        await collector.collect(spec(port))  # the server is gone: connection refused

    with pytest.raises(CollectorError) as caught:
        run(scenario)
    assert caught.value.state is State.DOWN
    assert "cannot connect" in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://node1.example/metrics", "ftp://127.0.0.1/metrics", "not a url"]
)
def test_urls_need_an_ip_literal_host(url: str) -> None:
    async def scenario(collector: PrometheusCollector, clock: Clock) -> None:
        await collector.collect(spec(9100, url=url))

    with pytest.raises(ConfigError):
        run(scenario)


def test_an_explicit_url() -> None:
    async def scenario(collector: PrometheusCollector, clock: Clock) -> tuple[Result, Exporter]:
        async with Exporter(reply(b"windows_os_processes 88\n")) as exporter:
            url = f"http://127.0.0.1:{exporter.port}/custom/path?x=1"
            return await collector.collect(spec(1, url=url)), exporter

    result, exporter = run(scenario)
    assert values(result) == {("windows_os_processes", with_labels()): 88.0}
    assert exporter.requests[0].startswith(b"GET /custom/path?x=1 HTTP/1.1")
