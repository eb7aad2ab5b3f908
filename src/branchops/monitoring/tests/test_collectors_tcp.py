"""TCP connect against real listeners on 127.202.0.0/16: open, refused, silent, bad input."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from branchops.monitoring.collectors import Context, build
from branchops.monitoring.collectors.base import CheckSpec, ConfigError, Result, State
from branchops.monitoring.collectors.tcp import TcpCollector

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def collector() -> TcpCollector:
    built = build("tcp", Context(clock=time.time, monotonic=time.monotonic))
    assert isinstance(built, TcpCollector)
    return built


def spec(target: str, port: int, timeout: float = 1.0) -> CheckSpec:
    return CheckSpec(7, "tcp", target, timeout, params={"port": port}, labels={"site": "BR-0002"})


@contextlib.contextmanager
def nft_drop_tcp(address: str, port: int) -> Iterator[None]:
    nft = shutil.which("nft")
    if nft is None:
        pytest.skip("nft (nftables) is not installed: cannot make a port drop SYNs")
    table = f"bo_test_tcp_{os.getpid()}"
    script = "\n".join(
        [
            f"table inet {table} {{",
            "  chain input {",
            "    type filter hook input priority 0; policy accept;",
            f"    ip daddr {address} tcp dport {port} drop",
            "  }",
            "}",
        ]
    )
    done = subprocess.run(  # noqa: S603 - fixed binary, our own script
        [nft, "-f", "-"], input=script, capture_output=True, text=True, check=False
    )
    if "Operation not permitted" in done.stderr:
        pytest.skip(f"nft is not permitted here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    try:
        yield
    finally:
        subprocess.run(  # noqa: S603
            [nft, "delete", "table", "inet", table], capture_output=True, check=False
        )


def test_open_port_is_up_with_its_connect_time() -> None:
    accepted: list[str] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer.get_extra_info("peername")[0])
        writer.close()

    async def scenario() -> Result:
        server = await asyncio.start_server(on_connect, "127.202.1.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            result = await collector().collect(spec("127.202.1.1", port))
            await asyncio.sleep(0.05)
            return result

    result = run(scenario())
    assert result.state is State.UP
    (sample,) = result.samples
    assert sample.name == "branchops_tcp_connect_seconds"
    assert 0 < sample.value < 1
    assert sample.labels == (("site", "BR-0002"),)
    assert result.summary.startswith("connect ")
    assert len(accepted) == 1  # the listener really saw one connection


def test_closed_port_is_down_refused() -> None:
    with socket.socket() as holder:  # bound, not listening: the kernel answers RST
        holder.bind(("127.202.2.1", 0))
        port = holder.getsockname()[1]
        result = run(collector().collect(spec("127.202.2.1", port)))
    assert result.state is State.DOWN
    assert result.error == f"127.202.2.1:{port}: connection refused"
    assert result.samples == ()


def test_port_that_drops_syns_is_down_after_its_timeout_only() -> None:
    with socket.socket() as holder:
        holder.bind(("127.202.3.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        async def both() -> tuple[Result, Result, float]:
            tcp = collector()
            begin = time.monotonic()
            silent = asyncio.create_task(tcp.collect(spec("127.202.3.1", port, timeout=0.8)))
            other = await tcp.collect(spec("127.202.3.2", port))  # refused at once
            other_done = time.monotonic() - begin
            return await silent, other, other_done

        with nft_drop_tcp("127.202.3.1", port):
            silent, other, other_done = run(both())
    assert silent.state is State.DOWN
    assert silent.error == f"127.202.3.1:{port}: no answer within 0.8 s"
    assert 0.75 <= silent.duration_s < 2
    assert other.state is State.DOWN
    assert other.error.endswith("connection refused")
    assert other_done < 0.75  # answered while the silent one was still waiting


def test_names_and_bad_parameters_are_config_errors() -> None:
    tcp = collector()
    with pytest.raises(ConfigError, match="never resolve names"):
        run(tcp.collect(spec("fw01.example", 22)))
    with pytest.raises(ConfigError, match="invalid tcp parameters: port"):
        run(tcp.collect(CheckSpec(1, "tcp", "127.202.4.1", 1.0, params={})))
    with pytest.raises(ConfigError, match="port"):
        run(tcp.collect(CheckSpec(1, "tcp", "127.202.4.1", 1.0, params={"port": 70000})))
