"""A real HTTP peer on 127.0.0.1 for the channels' tests (never any other address).

Each test gives it a handler that sees the request as received on the wire (method,
target with its raw query, headers, body bytes) and answers with a status and a body:
receivers can then check signatures exactly as the vendor would. It speaks just enough
HTTP/1.1 for one request per connection, which is all the transports send.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from branchops.alerts.transports import build
from branchops.alerts.transports.base import Delivery, Notice, TransportError

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    target: str  # path and raw query, as sent
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def raw_query(self) -> str:
        return urlsplit(self.target).query

    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.raw_query, keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, bytes]
Handler = Callable[[Received], Answer | Awaitable[Answer]]


def json_answer(data: Any, status: int = 200) -> Answer:
    return status, json.dumps(data, ensure_ascii=False).encode()


@dataclass
class HttpPeer:
    handler: Handler
    url: str = ""
    received: list[Received] = field(default_factory=list)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader)
            if request is None:
                return
            self.received.append(request)
            answer = self.handler(request)
            status, body = answer if isinstance(answer, tuple) else await answer
            head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
            writer.write(head.encode() + b"Content-Type: application/json\r\n\r\n" + body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up (a timeout test): nothing to answer
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> Received | None:
    head = await reader.readuntil(b"\r\n\r\n")
    request_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    if not request_line:
        return None
    method, target, _version = request_line.split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Received(method, target, headers, body)


@asynccontextmanager
async def http_peer(handler: Handler) -> AsyncIterator[HttpPeer]:
    """A server on a free loopback port calling ``handler`` for each request."""
    peer = HttpPeer(handler)
    server = await asyncio.start_server(peer._serve, LOOPBACK, 0)
    port = server.sockets[0].getsockname()[1]
    peer.url = f"http://{LOOPBACK}:{port}"
    try:
        yield peer
    finally:
        server.close()
        await server.wait_closed()


def closed_port() -> int:
    """A loopback port with nothing listening (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port


# ---- sending through a real transport to a peer ----------------------------------------

NOW = 1_763_800_000.0  # the clock every test transport reads (2025-11-22 08:26:40 UTC)

ConfigFor = Callable[[str], dict[str, Any]]  # the peer's base URL -> channel settings


async def send_to_peer(
    kind: str, config: ConfigFor, handler: Handler, notice: Notice
) -> tuple[Delivery | TransportError, list[Received]]:
    """Build ``kind`` for a loopback peer and send ``notice``: the outcome and the requests."""
    async with http_peer(handler) as peer, httpx.AsyncClient(trust_env=False) as client:
        transport = build(kind, config(peer.url), client=client, clock=lambda: NOW)
        try:
            outcome: Delivery | TransportError = await transport.send(notice)
        except TransportError as exc:
            outcome = exc
    return outcome, peer.received


def delivered(
    kind: str, config: ConfigFor, handler: Handler, notice: Notice
) -> tuple[Delivery, list[Received]]:
    outcome, received = asyncio.run(send_to_peer(kind, config, handler, notice))
    if isinstance(outcome, TransportError):
        raise AssertionError(f"expected a delivery, got {outcome!r} ({outcome.detail})")
    return outcome, received


def refused(
    kind: str, config: ConfigFor, handler: Handler, notice: Notice
) -> tuple[TransportError, list[Received]]:
    outcome, received = asyncio.run(send_to_peer(kind, config, handler, notice))
    if not isinstance(outcome, TransportError):
        raise AssertionError(f"expected a TransportError, got {outcome!r}")
    return outcome, received


# A notice written by an attacker who controls labels, device names and log lines.
HOSTILE = Notice(
    kind="firing",
    severity=1,
    severity_label="一级 @all",
    title='[click me](http://evil.example/x) <@alice> **bold** <at user_id="all"></at>',
    body="@all please see https://evil.example/login\n# not a heading\n> not a quote\n"
    '<font color="warning">red</font> ![img](http://evil.example/p.png) www.evil.example',
    fields=(("站点 [x](http://evil.example)", "上海 @13800000000"), ("device", "sw_01|`rm`")),
    link="https://ops.example.cn/alerts/7",
    ack_link="https://ops.example.cn/alerts/7/ack?t=abc",
    items=("<@all>", "[a](javascript:alert(1))"),
    key="outbox-7",
)
OUR_LINKS = (HOSTILE.link, HOSTILE.ack_link)
