"""A small HTTP/1.1 server core for the lab's endpoints and its control API.

The lab needs very little of HTTP (GET and POST, small bodies, keep-alive), but it needs
to be robust: peers may send garbage, stall or disconnect, and none of that may disturb the
thousands of other simulated endpoints. So requests are read with hard size limits and
timeouts, anything malformed closes the connection (or answers 400), and nothing a peer
sends can raise out of a connection's task.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final

MAX_HEAD: Final = 16 * 1024
IDLE_TIMEOUT: Final = 15.0
READ_TIMEOUT: Final = 10.0
MAX_REQUESTS: Final = 100  # per connection, then it closes


class BadRequest(Exception):
    """The peer sent something that is not a request we accept; ``status`` says what."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    version: str
    headers: dict[str, str]
    body: bytes = b""

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def is_loopback(address: object) -> bool:
    """True for ('127.x.y.z', port) tuples: the lab answers nothing else."""
    return isinstance(address, tuple) and str(address[0]).startswith("127.")


async def read_request(
    reader: asyncio.StreamReader, max_body: int, timeout: float
) -> Request | None:
    """The next request, or None when the peer closed the connection between requests."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise BadRequest(400, "incomplete request head") from None
    except asyncio.LimitOverrunError:
        raise BadRequest(431, "request head too large") from None
    request = parse_head(head)
    length = request.headers.get("content-length", "0")
    if "transfer-encoding" in request.headers:
        raise BadRequest(411, "chunked bodies are not accepted; send Content-Length")
    if not length.isdigit():
        raise BadRequest(400, "bad Content-Length")
    size = int(length)
    if size > max_body:
        raise BadRequest(413, f"body over {max_body} bytes")
    body = await asyncio.wait_for(reader.readexactly(size), READ_TIMEOUT) if size else b""
    return Request(
        request.method, request.path, request.query, request.version, request.headers, body
    )


def parse_head(head: bytes) -> Request:
    try:
        text = head.decode("latin-1")
        request_line, *header_lines = text[:-4].split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        raise BadRequest(400, "malformed request line") from None
    if (
        version not in ("HTTP/1.0", "HTTP/1.1")
        or not method.isalpha()
        or not target.startswith("/")
    ):
        raise BadRequest(400, "malformed request line")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest(400, "malformed header")
        headers[name.lower()] = value.strip()
    path, _, query = target.partition("?")
    return Request(method.upper(), path, query, version, headers)


def encode_response(response: Response, *, keep_alive: bool, head_only: bool = False) -> bytes:
    reason = HTTPStatus(response.status).phrase
    lines = [
        f"HTTP/1.1 {response.status} {reason}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
        *(f"{name}: {value}" for name, value in response.headers.items()),
    ]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + response.body


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset, as a host with nothing on the port answers."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limit: float) -> None:
    """Say nothing until the peer gives up (or ``limit`` seconds): a host that is down."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(reader.read(), limit)
    writer.close()


class Connections:
    """The open connections of one server, so that stopping it ends them cleanly.

    asyncio's start_server reports a connection task's outcome with ``task.exception()``,
    which raises (and logs an error) for a task that was cancelled; so at stop we close the
    connections and let their tasks finish instead of leaving them to be cancelled.
    """

    def __init__(self) -> None:
        self._open: dict[asyncio.StreamWriter, asyncio.Task[object] | None] = {}

    async def run(self, writer: asyncio.StreamWriter, work: Awaitable[None]) -> None:
        self._open[writer] = asyncio.current_task()
        try:
            await work
        except asyncio.CancelledError:
            writer.close()  # the loop is shutting down: end quietly (see above)
        except Exception:  # one bad connection never disturbs the others
            writer.close()
        finally:
            self._open.pop(writer, None)

    async def close_all(self, grace: float = 1.0) -> None:
        tasks = [task for task in self._open.values() if task is not None]
        for writer in list(self._open):
            writer.close()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)


Handle = Callable[[Request], Awaitable[Response | None]]


async def serve(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handle: Handle, max_body: int
) -> None:
    """Answer requests on one connection until it closes. ``handle`` returning None means
    "go silent": the connection is held without an answer (a device that just went down)."""
    try:
        for count in range(MAX_REQUESTS):
            timeout = READ_TIMEOUT if count == 0 else IDLE_TIMEOUT
            try:
                request = await read_request(reader, max_body, timeout)
            except BadRequest as exc:
                body = (exc.reason + "\n").encode()
                writer.write(encode_response(Response(exc.status, body), keep_alive=False))
                break
            if request is None:
                break
            response = await handle(request)
            if response is None:
                await hold(reader, writer, 30.0)
                return
            keep_alive = request.keep_alive and count < MAX_REQUESTS - 1
            writer.write(
                encode_response(response, keep_alive=keep_alive, head_only=request.method == "HEAD")
            )
            await writer.drain()
            if not keep_alive:
                break
    except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, OSError):
        pass  # the peer stalled or went away: nothing to answer
    finally:
        writer.close()
