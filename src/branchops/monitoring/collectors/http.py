"""HTTP(S): status, total time, body match and the TLS certificate's days to expiry.

All checks share one ``httpx.AsyncClient`` per TLS policy (verifying, or not for devices with
self-signed certificates), built once through ``context.shared_object``. Its transport,
:class:`ProbeTransport`, opens a fresh connection for every request and drops it with the
response: a probe measures what a user's first request would see (connect, TLS, first byte),
nothing is pooled, and the CPU per probe stays a fraction of httpx's default transport
(see the class for why and docs/collectors.md for the figures).

The body is streamed and read up to ``max_body_bytes``, never further (a 100 MB answer costs
the cap, not 100 MB); ``Accept-Encoding: identity`` is asked for, and a gzip or deflate body
sent anyway is inflated under the same cap. The peer certificate comes from the TLS object of
the very connection that carried the request, so there is no second handshake. Redirects are
followed only to the same host. Targets and URLs must be IP literals: probes never resolve
names, and ``trust_env=False`` keeps proxy variables from sending traffic anywhere else.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Final

import httpx
from cryptography import x509

from branchops.monitoring.collectors import Context
from branchops.monitoring.collectors.base import (
    CheckSpec,
    CollectorError,
    ConfigError,
    Result,
    Sample,
    State,
    labels_of,
    typed_params,
)
from branchops.monitoring.params import HttpParams

SHARED_KEY: Final = "http.clients"
USER_AGENT: Final = "BranchOps-probe/1"
MAX_REDIRECTS: Final = 5
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_ZLIB_WBITS: Final = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": 0}


# ---- the transport: HTTP/1.1 over one fresh asyncio connection per request ----------------


class ProbeTransport(httpx.AsyncBaseTransport):
    """Sends each request over its own new connection and frames the answer per RFC 9112.

    httpx's default transport (httpcore and h11 on anyio) spends about five times the CPU of
    the exchange itself on loopback, which a prober of thousands of targets cannot afford,
    and its pool is useless when every probe must measure a fresh connection. Probes need
    little of HTTP: one request without a body, a status line, headers, and a body framed by
    Content-Length, chunked coding or the end of the connection, read only as far as the
    caller wants. Limits bound everything a peer sends (head size, chunk-size lines).
    The ``timeout`` extension is honoured per phase when set; the collector sets none and
    bounds the whole check itself.
    """

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl_context = ssl_context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        timeouts = request.extensions.get("timeout", {})
        reader, writer = await _connect(url, self._ssl_context, timeouts.get("connect"))
        try:
            writer.write(_request_head(request) + await request.aread())
            async with asyncio.timeout(timeouts.get("read")):
                status, reason, headers = await _read_head(reader)
            body = _Body(reader, writer, _framing(request.method, status, headers))
        except BaseException as exc:
            writer.transport.abort()
            if isinstance(exc, httpx.HTTPError | asyncio.CancelledError):
                raise
            raise _as_httpx_error(exc) from exc
        return httpx.Response(
            status,
            headers=headers,
            stream=body,
            extensions={
                "reason_phrase": reason,
                "http_version": b"HTTP/1.1",
                "network_stream": body,
            },
        )


async def _connect(
    url: httpx.URL, tls: ssl.SSLContext, timeout: float | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host = url.host
    family = _ip_family(host)
    if family is None:
        raise httpx.ConnectError(f"{host!r} is not an IP address; probes never resolve names")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:  # out of descriptors: not the target's fault
        raise CollectorError(f"cannot open a socket: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    try:
        async with asyncio.timeout(timeout):
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
            if url.scheme != "https":
                return await asyncio.open_connection(sock=sock, limit=_HEAD_LIMIT)
            return await asyncio.open_connection(
                sock=sock, limit=_HEAD_LIMIT, ssl=tls, server_hostname=host
            )
    except TimeoutError:
        sock.close()
        raise httpx.ConnectTimeout(f"no connection within {timeout:g} s") from None
    except (OSError, ssl.SSLError) as exc:
        sock.close()
        raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
    except BaseException:
        sock.close()
        raise


def _ip_family(host: str) -> socket.AddressFamily | None:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return family
    return None


def _request_head(request: httpx.Request) -> bytes:
    lines = [b"%s %s HTTP/1.1" % (request.method.encode(), request.url.raw_path)]
    for name, value in request.headers.raw:
        if name.lower() != b"connection":
            lines.append(name + b": " + value)
    lines.append(b"Connection: close")  # one request per connection: the server may hang up
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _read_head(
    reader: asyncio.StreamReader,
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """Status, reason and headers of the final response (1xx interim answers are skipped)."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise httpx.RemoteProtocolError(_DISCONNECTED) from None
            raise httpx.RemoteProtocolError("the response head ends early") from None
        except asyncio.LimitOverrunError:
            raise httpx.RemoteProtocolError(f"response head over {_HEAD_LIMIT} bytes") from None
        status, reason, headers = _parse_head(head)
        if not 100 <= status < 200:
            return status, reason, headers


def _parse_head(head: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    status_line, *lines = head[:-4].split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    code, _, reason = rest.partition(b" ")
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise httpx.RemoteProtocolError(f"not an HTTP/1.x status line: {status_line[:60]!r}")
    headers = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
            raise httpx.RemoteProtocolError(f"malformed header line: {line[:60]!r}")
        headers.append((name, value.strip(b" \t")))
    return int(code), reason, headers


def _framing(method: str, status: int, headers: list[tuple[bytes, bytes]]) -> int | None:
    """How the body ends (RFC 9112 section 6.3): its length, _CHUNKED, or None for "at the
    end of the connection"."""
    if method == "HEAD" or status in (204, 304):
        return 0
    encodings = [v.lower() for n, v in headers if n.lower() == b"transfer-encoding"]
    if encodings:
        return _CHUNKED if encodings[-1].rsplit(b",", 1)[-1].strip() == b"chunked" else None
    lengths = {v for n, v in headers if n.lower() == b"content-length"}
    if not lengths:
        return None
    if len(lengths) > 1 or not all(v.isdigit() for v in lengths):
        raise httpx.RemoteProtocolError(f"bad Content-Length: {sorted(lengths)!r}")
    return int(lengths.pop())


class _Body(httpx.AsyncByteStream):
    """The response body as it arrives; closing it drops the connection."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, framing: int | None
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._framing = framing

    def get_extra_info(self, info: str) -> Any:
        """What httpcore's network stream would say (``ssl_object`` for the certificate)."""
        return self._writer.get_extra_info(info)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            if self._framing == _CHUNKED:
                async for chunk in self._chunks():
                    yield chunk
            else:
                async for chunk in self._until(self._framing):
                    yield chunk
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise _as_httpx_error(exc) from exc

    async def _until(self, length: int | None) -> AsyncIterator[bytes]:
        left = -1 if length is None else length
        while left:
            chunk = await self._reader.read(_READ_SIZE if left < 0 else min(left, _READ_SIZE))
            if not chunk:
                if left > 0:
                    raise httpx.RemoteProtocolError("the body ends before its Content-Length")
                return
            left -= len(chunk) if left > 0 else 0
            yield chunk

    async def _chunks(self) -> AsyncIterator[bytes]:
        reader = self._reader
        while True:
            size_line = (await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise httpx.RemoteProtocolError(f"bad chunk size {size_line[:20]!r}") from None
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailer fields, ignored
                return
            async for part in self._until(size):
                yield part
            if await reader.readexactly(2) != b"\r\n":
                raise httpx.RemoteProtocolError("chunk data not followed by CRLF")

    async def aclose(self) -> None:
        self._writer.transport.abort()  # never wait on a peer: it may be the slow one


def _as_httpx_error(exc: BaseException) -> httpx.HTTPError:
    if isinstance(exc, httpx.HTTPError):
        return exc
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout("no answer within the read timeout")
    if isinstance(exc, asyncio.IncompleteReadError):
        return httpx.RemoteProtocolError("the peer closed the connection mid-body")
    if isinstance(exc, asyncio.LimitOverrunError):
        return httpx.RemoteProtocolError("a chunk-size line is too long")
    if isinstance(exc, OSError):
        return httpx.ReadError(exc.strerror or str(exc))
    return httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}")


_DISCONNECTED: Final = "Server disconnected without sending a response."
_CHUNKED: Final = -1
_HEAD_LIMIT: Final = 64 * 1024  # status line and headers together
_READ_SIZE: Final = 64 * 1024


@dataclass
class HttpClients:
    """The engine's two HTTP clients: certificate-verifying and not (``verify_tls=False``)."""

    verifying: httpx.AsyncClient
    trusting: httpx.AsyncClient

    @classmethod
    def build(cls, ca_file: str | None = None) -> HttpClients:
        verify = ssl.create_default_context(cafile=ca_file)
        lenient = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        lenient.check_hostname = False
        lenient.verify_mode = ssl.CERT_NONE
        return cls(_client(verify), _client(lenient))

    def for_params(self, params: HttpParams) -> httpx.AsyncClient:
        return self.verifying if params.verify_tls else self.trusting

    async def aclose(self) -> None:
        await self.verifying.aclose()
        await self.trusting.aclose()


# Probes are stateless: cookies that devices set are never stored, let alone sent back.
_NO_COOKIES: Final = CookieJar(DefaultCookiePolicy(allowed_domains=[]))
_HEADERS: Final = httpx.Headers({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})


def _client(ssl_context: ssl.SSLContext) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=ProbeTransport(ssl_context),
        cookies=_NO_COOKIES,
        follow_redirects=False,  # we follow them ourselves, to the same host only
        trust_env=False,  # no proxy from the environment: traffic goes to the target only
        headers=_HEADERS,
    )


# ---- the collector ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Answer:
    """What one probe saw."""

    status: int
    url: httpx.URL
    body: bytes
    body_complete: bool
    certificate: bytes | None  # DER of the peer certificate, HTTPS only
    elapsed: float


class HttpCollector:
    """One request (plus same-host redirects) per check through the shared client."""

    kind = "http"

    def __init__(
        self,
        clients: HttpClients,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clients = clients
        self._clock = clock
        self._monotonic = monotonic

    @classmethod
    def from_context(cls, context: Context) -> HttpCollector:
        ca_file = context.options.get("http_ca_file")  # an intranet CA, if the estate has one
        clients = context.shared_object(SHARED_KEY, lambda: HttpClients.build(ca_file))
        return cls(clients, context.clock, context.monotonic)

    async def aclose(self) -> None:
        """Nothing of its own: the shared clients are closed with the engine's shared objects."""

    async def collect(self, spec: CheckSpec) -> Result:
        params = typed_params(spec, HttpParams)
        url = build_url(spec.target, params)
        pattern = _compile(params.body_match) if params.body_match else None
        started, begin = self._clock(), self._monotonic()
        try:
            # One deadline for everything (connect, TLS, redirects, a trickling body); the
            # requests themselves carry no per-operation timeouts.
            async with asyncio.timeout(spec.timeout_s):
                answer = await self._fetch(url, params, begin)
        except TimeoutError:
            return _down(spec, started, self._monotonic() - begin, _timeout_text(spec))
        except httpx.HTTPError as exc:
            reason = _transport_error(exc)
            if reason is None:
                raise CollectorError(f"{url}: {type(exc).__name__}: {exc}") from exc
            return _down(spec, started, self._monotonic() - begin, f"{url}: {reason}")
        return _judge(spec, params, answer, pattern, started=started, now=self._clock())

    async def _fetch(self, url: httpx.URL, params: HttpParams, begin: float) -> _Answer:
        client = self._clients.for_params(params)
        method = params.method
        for _ in range(MAX_REDIRECTS + 1):
            # A plain Request (our headers, no timeouts: the check has its own deadline)
            # skips the client's merging of URLs, headers and cookies, none of which we use.
            request = httpx.Request(method, url, headers=_HEADERS)
            response = await client.send(request, stream=True)
            try:
                location = _same_host_redirect(response, params)
                if location is None:
                    body, complete = await _read_capped(response, params)
                    elapsed = self._monotonic() - begin
                    return _Answer(
                        response.status_code, url, body, complete, _peer_cert(response), elapsed
                    )
            finally:
                await response.aclose()
            url = location
            method = "GET" if response.status_code == 303 else method
        raise CollectorError(f"more than {MAX_REDIRECTS} redirects from {url}", retryable=False)


def build_url(target: str, params: HttpParams) -> httpx.URL:
    """The URL to probe; its host must be an IP literal (ConfigError otherwise)."""
    try:
        return _build_url(target, params.url, params.scheme, params.port, params.path)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"cannot make a URL of {params.url or params.path!r}: {exc}") from None


@functools.lru_cache(maxsize=65536)  # the same checks come back every interval
def _build_url(target: str, url: str | None, scheme: str, port: int | None, path: str) -> httpx.URL:
    if url:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise ConfigError(f"invalid URL {url!r}: {exc}") from None
        if parsed.scheme not in ("http", "https"):
            raise ConfigError(f"URL scheme must be http or https, not {parsed.scheme!r}")
        _require_ip(parsed.host, url)
        return parsed
    address = _require_ip(target, target)
    host = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{host}:{port}" if port else host
    return httpx.URL(f"{scheme}://{netloc}{path if path.startswith('/') else '/' + path}")


def _require_ip(host: str, shown: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ConfigError(
            f"{shown!r}: the host must be an IP address; probes never resolve names"
        ) from None


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"body_match is not a valid regular expression: {exc}") from None


def _same_host_redirect(response: httpx.Response, params: HttpParams) -> httpx.URL | None:
    """Where to go next, if this is a redirect we follow; the status is judged otherwise."""
    if response.status_code not in _REDIRECTS or response.status_code in params.expect_status:
        return None
    location = response.headers.get("location")
    if not location:
        return None
    try:
        target = response.url.join(location)
    except (httpx.InvalidURL, ValueError):
        return None  # an unusable Location: judged as the redirect status it is
    if target.host != response.url.host or target.scheme not in ("http", "https"):
        return None  # never to another host: judged as the redirect status it is
    return target


async def _read_capped(response: httpx.Response, params: HttpParams) -> tuple[bytes, bool]:
    """Up to ``max_body_bytes`` of the (inflated) body, and whether that was all of it."""
    if params.method == "HEAD" or (params.body_match is None and params.max_body_bytes == 0):
        return b"", True
    cap = params.max_body_bytes
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    inflater = zlib.decompressobj(_ZLIB_WBITS[encoding]) if encoding in _ZLIB_WBITS else None
    parts: list[bytes] = []
    size = 0
    try:
        async for raw in response.aiter_raw():
            # Inflating asks for no more than the cap allows: a zip bomb costs the cap.
            chunk = raw if inflater is None else inflater.decompress(raw, cap - size + 1)
            parts.append(chunk)
            size += len(chunk)
            if size > cap:
                return b"".join(parts)[:cap], False
    except zlib.error as exc:
        raise CollectorError(f"{response.url}: body is not valid {encoding}: {exc}") from exc
    return b"".join(parts), True


def _peer_cert(response: httpx.Response) -> bytes | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return None
    der: bytes | None = ssl_object.getpeercert(binary_form=True)
    return der


def _cert_days(der: bytes, now: float) -> float:
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise CollectorError(f"the peer certificate cannot be read: {exc}") from exc
    expiry = certificate.not_valid_after_utc.timestamp()
    return (expiry - now) / 86_400


def _judge(
    spec: CheckSpec,
    params: HttpParams,
    answer: _Answer,
    pattern: re.Pattern[str] | None,
    *,
    started: float,
    now: float,
) -> Result:
    labels = labels_of(spec)
    samples = [
        Sample("branchops_http_status_code", answer.status, labels),
        Sample("branchops_http_duration_seconds", answer.elapsed, labels),
        Sample("branchops_http_body_bytes", len(answer.body), labels),
    ]
    summary = f"{answer.status}, {answer.elapsed * 1000:.1f} ms"
    problems: list[tuple[State, str]] = []
    if answer.status not in params.expect_status:
        expected = ", ".join(map(str, params.expect_status))
        problems.append((State.DOWN, f"status {answer.status} (expected {expected})"))
    if pattern is not None and not pattern.search(answer.body.decode("utf-8", "replace")):
        read = "" if answer.body_complete else f" (first {len(answer.body)} bytes read)"
        problems.append((State.DOWN, f"body does not match {pattern.pattern!r}{read}"))
    if answer.certificate is not None:
        days = _cert_days(answer.certificate, now)
        samples.append(Sample("branchops_tls_cert_expiry_days", days, labels))
        summary += f", certificate {days:.0f} days"
        problems.extend(_cert_problems(days, params))
    state = min((s for s, _ in problems), key=_SEVERITY.index, default=State.UP)
    error = "; ".join(text for _, text in problems)
    elapsed = answer.elapsed
    return Result(spec.check_id, state, started, elapsed, tuple(samples), error, summary)


_SEVERITY: Final = [State.DOWN, State.DEGRADED, State.UP]


def _cert_problems(days: float, params: HttpParams) -> list[tuple[State, str]]:
    if days <= 0:
        return [(State.DOWN, f"certificate expired {-days:.0f} days ago")]
    if days < params.cert_warning_days:
        return [(State.DEGRADED, f"certificate expires in {days:.0f} days")]
    return []


def _down(spec: CheckSpec, started: float, elapsed: float, error: str) -> Result:
    return Result(spec.check_id, State.DOWN, started, elapsed, (), error)


def _timeout_text(spec: CheckSpec) -> str:
    return f"no complete answer within {spec.timeout_s:g} s"


def _transport_error(exc: httpx.HTTPError) -> str | None:
    """Why the target is down, for failures of its network, port or TLS; None for protocol
    surprises (a malformed answer), which become a CollectorError."""
    if isinstance(exc, httpx.ConnectError):
        return _connect_reason(exc)
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.NetworkError):
        return f"connection lost: {exc}"
    if isinstance(exc, httpx.RemoteProtocolError) and "disconnected" in str(exc):
        return "the server closed the connection without answering"
    return None


def _connect_reason(exc: BaseException) -> str:
    error: BaseException | None = exc
    while error is not None:  # the OSError or SSLError under httpx's and httpcore's wrappers
        if isinstance(error, ssl.SSLCertVerificationError):
            return f"TLS: {error.verify_message}"
        if isinstance(error, ssl.SSLError):
            return f"TLS: {error.reason or error}"
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        if isinstance(error, OSError) and error.strerror:
            return error.strerror
        error = error.__cause__ or error.__context__
    return str(exc) or type(exc).__name__
