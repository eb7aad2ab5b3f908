"""HTTP(S) against real asyncio servers on 127.203.0.0/16.

The server answers by path: a normal page, errors, redirects (same host, other host, loop),
a 100 MB body, a gzip bomb, a trickle, silence, garbage and a hang-up. HTTPS servers carry
certificates made here with ``cryptography`` from a throw-away CA: valid for a year, ten
days from expiry, and expired.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import gzip
import ipaddress
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from branchops.monitoring.collectors import Context, build
from branchops.monitoring.collectors.base import (
    CheckSpec,
    CollectorError,
    ConfigError,
    Result,
    State,
)
from branchops.monitoring.collectors.http import SHARED_KEY, HttpCollector, _framing, _parse_head

T = TypeVar("T")
PAGE = b"<html><body>BranchOps branch portal: status OK</body></html>"
HUGE = 100 * 1024 * 1024
DAY = 86_400


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


# ---- the server -------------------------------------------------------------------------------


@dataclass
class Peer:
    """What the test server saw and did."""

    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    huge_sent: int = 0


Writer = asyncio.StreamWriter
Route = Callable[[Writer, str, Peer], Awaitable[None]]


def head(status: int, reason: str, length: int | None, *extra: str) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", "Connection: close", *extra]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def page(writer: Writer, method: str, peer: Peer) -> None:
    writer.write(head(200, "OK", len(PAGE), "Content-Type: text/html"))
    if method != "HEAD":
        writer.write(PAGE)


async def error(writer: Writer, method: str, peer: Peer) -> None:
    writer.write(head(500, "Internal Server Error", 5) + b"oops!")


def redirect(location: str) -> Route:
    async def route(writer: Writer, method: str, peer: Peer) -> None:
        writer.write(head(302, "Found", 0, f"Location: {location}"))

    return route


async def huge(writer: Writer, method: str, peer: Peer) -> None:
    writer.write(head(200, "OK", HUGE))
    chunk = b"x" * 65536
    try:
        while peer.huge_sent < HUGE:
            writer.write(chunk)
            await writer.drain()
            peer.huge_sent += len(chunk)
    except (ConnectionError, OSError):
        return  # the probe stopped reading and closed: what we want


@functools.cache
def bomb() -> bytes:
    return gzip.compress(b"\0" * (32 * 1024 * 1024), compresslevel=6)  # 32 MiB inflated


async def gzip_bomb(writer: Writer, method: str, peer: Peer) -> None:
    body = bomb()
    writer.write(head(200, "OK", len(body), "Content-Encoding: gzip") + body)


async def trickle(writer: Writer, method: str, peer: Peer) -> None:
    writer.write(head(200, "OK", 10_000))
    for _ in range(10_000):
        writer.write(b".")
        await writer.drain()
        await asyncio.sleep(0.05)


async def silent(writer: Writer, method: str, peer: Peer) -> None:
    await asyncio.sleep(3600)


async def garbage(writer: Writer, method: str, peer: Peer) -> None:
    writer.write(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\r\n")


async def hang_up(writer: Writer, method: str, peer: Peer) -> None:
    return


async def chunked(writer: Writer, method: str, peer: Peer) -> None:
    writer.write(head(200, "OK", None, "Transfer-Encoding: chunked"))
    for part in (b"<html>Branch", b"Ops sta", b"tus: OK</html>"):
        writer.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
        await writer.drain()
    writer.write(b"0\r\nX-Trailer: yes\r\n\r\n")


async def until_close(writer: Writer, method: str, peer: Peer) -> None:
    writer.write(head(200, "OK", None) + b"no length: the end of the connection ends it")


async def interim(writer: Writer, method: str, peer: Peer) -> None:
    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + head(204, "No Content", None))


def raw(answer: bytes) -> Route:
    async def route(writer: Writer, method: str, peer: Peer) -> None:
        writer.write(answer)

    return route


ROUTES: dict[str, Route] = {
    "/chunked": chunked,
    "/until-close": until_close,
    "/interim": interim,
    "/bad-header": raw(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n"),
    "/bad-length": raw(b"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n"),
    "/short": raw(head(200, "OK", 100) + b"only ten.."),
    "/huge-head": raw(b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"f" * 100_000 + b"\r\n\r\n"),
    "/": page,
    "/error": error,
    "/moved": redirect("/"),
    "/away": redirect("http://127.9.9.9/"),
    "/loop": redirect("/loop"),
    "/huge": huge,
    "/bomb": gzip_bomb,
    "/trickle": trickle,
    "/silent": silent,
    "/garbage": garbage,
    "/hang-up": hang_up,
}


@asynccontextmanager
async def serving(host: str, tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[int, Peer]]:
    peer = Peer()

    async def handle(reader: asyncio.StreamReader, writer: Writer) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            method, path, _ = request.split(b"\r\n", 1)[0].decode().split(" ")
            peer.requests.append((method, path))
            await ROUTES[path](writer, method, peer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass
        finally:
            writer.transport.abort()

    server = await asyncio.start_server(handle, host, 0, ssl=tls)
    try:
        yield server.sockets[0].getsockname()[1], peer
    finally:
        server.close()


# ---- certificates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    servers: dict[str, ssl.SSLContext]  # by kind: valid, near, expired


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey],
    days: tuple[int, int],
    address: str | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer[0])
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(days=days[0]))
        .not_valid_after(now + dt.timedelta(days=days[1]))
    )
    if address is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
    else:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(issuer[1], hashes.SHA256())


HOSTS = {"valid": "127.203.10.1", "near": "127.203.10.2", "expired": "127.203.10.3"}
VALIDITY = {"valid": (-1, 365), "near": (-300, 10), "expired": (-400, -2)}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("BranchOps test CA")
    ca = _certificate("BranchOps test CA", ca_key, (ca_name, ca_key), (-1, 3650))
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    servers = {}
    for kind, address in HOSTS.items():
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(address, key, (ca_name, ca_key), VALIDITY[kind], address)
        cert_file, key_file = folder / f"{kind}.pem", folder / f"{kind}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        servers[kind] = context
    return Pki(ca_file, servers)


# ---- helpers ----------------------------------------------------------------------------------


def collector(
    clock: Callable[[], float] = time.time, **options: Any
) -> tuple[HttpCollector, Context]:
    context = Context(clock=clock, monotonic=time.monotonic, options=options)
    built = build("http", context)
    assert isinstance(built, HttpCollector)
    return built, context


def spec(target: str, timeout: float = 2.0, **params: Any) -> CheckSpec:
    return CheckSpec(3, "http", target, timeout, params=params, labels={"device": "BR-0003-SRV01"})


async def probe(http: HttpCollector, context: Context, check: CheckSpec) -> Result:
    try:
        return await http.collect(check)
    finally:
        await context.shared[SHARED_KEY].aclose()


def value(result: Result, name: str) -> float:
    (found,) = [s.value for s in result.samples if s.name == name]
    return found


def check_one(
    host: str, route_params: dict[str, Any], *, timeout: float = 2.0
) -> tuple[Result, Peer]:
    http, context = collector()

    async def scenario() -> tuple[Result, Peer]:
        async with serving(host) as (port, peer):
            result = await probe(http, context, spec(host, timeout, port=port, **route_params))
            return result, peer

    return run(scenario())


# ---- plain HTTP ---------------------------------------------------------------------------------


def test_page_is_up_with_status_time_and_body_match() -> None:
    result, peer = check_one("127.203.1.1", {"body_match": r"status (OK|DEGRADED)"})
    assert result.state is State.UP, result.error
    assert value(result, "branchops_http_status_code") == 200
    assert 0 < value(result, "branchops_http_duration_seconds") < 2
    assert value(result, "branchops_http_body_bytes") == len(PAGE)
    assert result.summary.startswith("200, ")
    assert peer.requests == [("GET", "/")]
    assert all(s.labels == (("device", "BR-0003-SRV01"),) for s in result.samples)


def test_body_that_does_not_match_is_down() -> None:
    result, _ = check_one("127.203.1.2", {"body_match": "maintenance"})
    assert result.state is State.DOWN
    assert result.error == "body does not match 'maintenance'"


def test_unexpected_status_is_down_and_expected_ones_are_up() -> None:
    result, _ = check_one("127.203.1.3", {"path": "/error"})
    assert result.state is State.DOWN
    assert result.error == "status 500 (expected 200)"
    result, _ = check_one("127.203.1.3", {"path": "/error", "expect_status": [500, 503]})
    assert result.state is State.UP


def test_head_reads_no_body() -> None:
    result, peer = check_one("127.203.1.4", {"method": "HEAD"})
    assert result.state is State.UP
    assert value(result, "branchops_http_body_bytes") == 0
    assert peer.requests == [("HEAD", "/")]


def test_same_host_redirect_is_followed_other_hosts_never() -> None:
    result, peer = check_one("127.203.2.1", {"path": "/moved"})
    assert result.state is State.UP
    assert peer.requests == [("GET", "/moved"), ("GET", "/")]
    result, peer = check_one("127.203.2.1", {"path": "/away"})
    assert result.state is State.DOWN
    assert result.error == "status 302 (expected 200)"
    assert peer.requests == [("GET", "/away")]  # and nothing went to 127.9.9.9


def test_redirect_loop_is_a_collector_error() -> None:
    with pytest.raises(CollectorError, match="more than 5 redirects"):
        check_one("127.203.2.2", {"path": "/loop"})


def test_100_mb_body_is_read_only_up_to_the_cap() -> None:
    result, peer = check_one("127.203.3.1", {"path": "/huge", "max_body_bytes": 65536})
    assert result.state is State.UP
    assert value(result, "branchops_http_body_bytes") == 65536
    assert peer.huge_sent < HUGE // 4  # the probe hung up long before the end


def test_body_match_on_a_capped_body_says_so() -> None:
    params = {"path": "/huge", "max_body_bytes": 1000, "body_match": "y"}
    result, _ = check_one("127.203.3.2", params)
    assert result.state is State.DOWN
    assert result.error == "body does not match 'y' (first 1000 bytes read)"


def test_gzip_bomb_is_inflated_only_up_to_the_cap() -> None:
    bomb()  # made before the clock starts
    result, _ = check_one("127.203.3.3", {"path": "/bomb", "body_match": "^\x00+$"}, timeout=10)
    assert result.state is State.UP
    assert value(result, "branchops_http_body_bytes") == 1_048_576  # the default cap


# ---- message framing (RFC 9112) -------------------------------------------------------------


def test_chunked_body_is_reassembled() -> None:
    result, _ = check_one("127.203.5.1", {"path": "/chunked", "body_match": "BranchOps status: OK"})
    assert result.state is State.UP, result.error
    assert value(result, "branchops_http_body_bytes") == len(b"<html>BranchOps status: OK</html>")


def test_body_without_length_runs_to_the_end_of_the_connection() -> None:
    result, _ = check_one(
        "127.203.5.2", {"path": "/until-close", "body_match": "connection ends it$"}
    )
    assert result.state is State.UP, result.error


def test_interim_answers_are_skipped() -> None:
    result, _ = check_one("127.203.5.3", {"path": "/interim", "expect_status": [204]})
    assert result.state is State.UP, result.error
    assert value(result, "branchops_http_status_code") == 204


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/bad-header", "malformed header line"),
        ("/bad-length", "bad Content-Length"),
        ("/short", "the body ends before its Content-Length"),
        ("/huge-head", "response head over 65536 bytes"),
    ],
)
def test_malformed_answers_are_collector_errors(path: str, message: str) -> None:
    with pytest.raises(CollectorError, match=message):
        check_one("127.203.5.4", {"path": path})


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400))
def test_any_response_head_parses_or_is_a_protocol_error(head: bytes) -> None:
    try:
        status, _, headers = _parse_head(head + b"\r\n\r\n")
        _framing("GET", status, headers)
    except httpx.RemoteProtocolError:
        pass


# ---- hostile and broken servers -----------------------------------------------------------------


def test_trickling_server_costs_exactly_its_timeout() -> None:
    result, _ = check_one("127.203.4.1", {"path": "/trickle"}, timeout=1.0)
    assert result.state is State.DOWN
    assert result.error == "no complete answer within 1 s"
    assert 0.95 <= result.duration_s < 2


def test_silent_server_does_not_delay_a_healthy_one() -> None:
    http, context = collector()
    done: dict[str, float] = {}

    async def timed(check: CheckSpec) -> Result:
        result = await http.collect(check)
        done[check.params["path"]] = time.monotonic()
        return result

    async def scenario() -> tuple[Result, Result]:
        async with serving("127.203.4.2") as (port, _):
            try:
                return await asyncio.gather(
                    timed(spec("127.203.4.2", 1.0, port=port, path="/silent")),
                    timed(spec("127.203.4.2", 1.0, port=port, path="/")),
                )
            finally:
                await context.shared[SHARED_KEY].aclose()

    quiet, healthy = run(scenario())
    assert quiet.state is State.DOWN
    assert quiet.error == "no complete answer within 1 s"
    assert healthy.state is State.UP
    assert done["/"] < done["/silent"]


def test_garbage_answer_is_a_collector_error() -> None:
    with pytest.raises(CollectorError, match="RemoteProtocolError"):
        check_one("127.203.4.3", {"path": "/garbage"})


def test_hang_up_and_refusal_are_down_with_the_reason() -> None:
    result, _ = check_one("127.203.4.4", {"path": "/hang-up"})
    assert result.state is State.DOWN
    assert result.error.startswith("http://127.203.4.4:")
    assert result.error.endswith("/hang-up: the server closed the connection without answering")
    http, context = collector()
    refused = run(probe(http, context, spec("127.203.4.5", port=9)))
    assert refused.state is State.DOWN
    assert refused.error == "http://127.203.4.5:9/: connection refused"


# ---- HTTPS and certificates ---------------------------------------------------------------------


def check_tls(pki: Pki, kind: str, clock: Callable[[], float] = time.time, **params: Any) -> Result:
    host = HOSTS[kind]
    http, context = collector(clock, http_ca_file=str(pki.ca_file))

    async def scenario() -> Result:
        async with serving(host, pki.servers[kind]) as (port, _):
            return await probe(http, context, spec(host, scheme="https", port=port, **params))

    return run(scenario())


def test_valid_certificate_is_up_with_its_days_to_expiry(pki: Pki) -> None:
    result = check_tls(pki, "valid")
    assert result.state is State.UP, result.error
    assert 364 < value(result, "branchops_tls_cert_expiry_days") <= 365
    assert "certificate 365 days" in result.summary or "certificate 364 days" in result.summary


def test_certificate_near_expiry_is_degraded(pki: Pki) -> None:
    result = check_tls(pki, "near")
    assert result.state is State.DEGRADED
    assert 9 < value(result, "branchops_tls_cert_expiry_days") <= 10
    assert result.error in ("certificate expires in 10 days", "certificate expires in 9 days")
    assert check_tls(pki, "near", cert_warning_days=7).state is State.UP


def test_expired_certificate_is_down_whether_verified_or_not(pki: Pki) -> None:
    unverified = check_tls(pki, "expired", verify_tls=False)
    assert unverified.state is State.DOWN
    assert unverified.error == "certificate expired 2 days ago"
    assert value(unverified, "branchops_tls_cert_expiry_days") < -1.9
    verified = check_tls(pki, "expired")
    assert verified.state is State.DOWN
    assert verified.error.endswith("TLS: certificate has expired")


def test_days_to_expiry_follow_the_injected_clock(pki: Pki) -> None:
    result = check_tls(pki, "valid", clock=lambda: time.time() + 400 * DAY, verify_tls=False)
    assert result.state is State.DOWN
    assert result.error == "certificate expired 35 days ago"


def test_untrusted_issuer_is_down_when_verifying(pki: Pki) -> None:
    http, context = collector()  # the system trust store only: our CA is unknown

    async def scenario() -> Result:
        async with serving(HOSTS["valid"], pki.servers["valid"]) as (port, _):
            check = spec(HOSTS["valid"], scheme="https", port=port)
            return await probe(http, context, check)

    result = run(scenario())
    assert result.state is State.DOWN
    assert "TLS: unable to get local issuer certificate" in result.error


# ---- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"url": "http://portal.example.com/"}, "probes never resolve names"),
        ({"url": "ftp://127.203.9.1/"}, "must be http or https"),
        ({"body_match": "("}, "not a valid regular expression"),
        ({"expect_status": "200"}, "invalid http parameters: expect_status"),
    ],
)
def test_bad_configuration_is_a_config_error(params: dict[str, Any], message: str) -> None:
    http, context = collector()
    with pytest.raises(ConfigError, match=message):
        run(probe(http, context, spec("127.203.9.1", **params)))


def test_url_with_an_ip_literal_is_used_as_given() -> None:
    http, context = collector()

    async def scenario() -> tuple[Result, Peer]:
        async with serving("127.203.9.2") as (port, peer):
            url = f"http://127.203.9.2:{port}/error"
            check = spec("127.203.99.99", url=url, expect_status=[500])
            return await probe(http, context, check), peer

    result, peer = run(scenario())
    assert result.state is State.UP
    assert peer.requests == [("GET", "/error")]
