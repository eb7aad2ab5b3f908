"""DNS against a real dnsmasq on 127.204.0.1, and hand-made servers for what dnsmasq won't do.

dnsmasq (Debian's /usr/sbin/dnsmasq) starts once for this module, serving the ``lab`` zone
from a hosts file and a few options; it answers NXDOMAIN inside ``lab`` and REFUSED outside.
The hand-made servers send SERVFAIL, strays, garbage, pointer loops and truncated answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
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
from branchops.monitoring.collectors.dns import (
    DnsCollector,
    DnsFormatError,
    decode_response,
    encode_name,
    encode_query,
    read_name,
)

T = TypeVar("T")
DNSMASQ = "/usr/sbin/dnsmasq"
SERVER = "127.204.0.1"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind((host, 0))
        return int(udp.getsockname()[1])


def collector() -> DnsCollector:
    built = build("dns", Context(clock=time.time, monotonic=time.monotonic))
    assert isinstance(built, DnsCollector)
    return built


def lookup(port: int, name: str, record: str = "A", *, server: str = SERVER, **more: Any) -> Result:
    timeout = more.pop("timeout", 2.0)
    params = {"name": name, "record": record, "server_port": port, **more}
    check = CheckSpec(5, "dns", server, timeout, params=params)
    return run(collector().collect(check))


def value(result: Result, name: str) -> float:
    (found,) = [s.value for s in result.samples if s.name == name]
    return found


# ---- dnsmasq ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dnsmasq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    if not Path(DNSMASQ).exists():
        pytest.skip("dnsmasq is not installed (Debian package dnsmasq-base)")
    folder = tmp_path_factory.mktemp("dnsmasq")
    hosts = folder / "hosts"
    lines = ["127.204.0.10 host.lab", "127.204.0.11 host.lab"]
    lines += [f"127.204.1.{i} big.lab" for i in range(1, 121)]  # ~1.9 kB: too big for UDP
    hosts.write_text("\n".join(lines) + "\n")
    port = free_port(SERVER)
    process = subprocess.Popen(  # noqa: S603 - a fixed binary with our own options
        [
            DNSMASQ,
            "--no-daemon",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            f"--addn-hosts={hosts}",
            f"--port={port}",
            f"--listen-address={SERVER}",
            "--bind-interfaces",
            "--local=/lab/",
            "--txt-record=txt.lab,v=spf1 -all",
            "--mx-host=lab,mail.lab,10",
            "--cname=www.lab,host.lab",
            "--user=root",
            "--group=root",
            "--pid-file=",
            "--log-facility=-",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until_answering(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def _wait_until_answering(port: int, process: subprocess.Popen[bytes]) -> None:
    query = encode_query(1, encode_name("host.lab"), 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(0.2)
        for _ in range(50):
            if process.poll() is not None:
                error = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"dnsmasq exited: {error}")
            udp.sendto(query, (SERVER, port))
            try:
                udp.recv(4096)
                return
            except TimeoutError:
                continue
    pytest.fail("dnsmasq did not answer within 10 s")


def test_a_record_is_up_with_time_and_answer_count(dnsmasq: int) -> None:
    result = lookup(dnsmasq, "host.lab", expect=["127.204.0.10"])
    assert result.state is State.UP, result.error
    assert value(result, "branchops_dns_answers") == 2
    assert 0 < value(result, "branchops_dns_lookup_seconds") < 2
    assert result.summary.startswith("A 127.204.0.1")


def test_missing_expected_answer_is_degraded(dnsmasq: int) -> None:
    result = lookup(dnsmasq, "host.lab", expect=["127.204.0.10", "127.204.0.99"])
    assert result.state is State.DEGRADED
    assert result.error == "expected answer missing: 127.204.0.99"


def test_nxdomain_and_refused_are_down(dnsmasq: int) -> None:
    missing = lookup(dnsmasq, "nope.lab")
    assert missing.state is State.DOWN
    assert missing.error == "NXDOMAIN for nope.lab A"
    outside = lookup(dnsmasq, "branch.example.com")
    assert outside.state is State.DOWN
    assert outside.error == "REFUSED for branch.example.com A"


def test_no_record_of_the_type_is_degraded(dnsmasq: int) -> None:
    result = lookup(dnsmasq, "host.lab", "AAAA")
    assert result.state is State.DEGRADED
    assert result.error == "no AAAA record for host.lab"
    assert value(result, "branchops_dns_answers") == 0


@pytest.mark.parametrize(
    ("name", "record", "expect", "text"),
    [
        ("txt.lab", "TXT", "v=spf1 -all", "TXT v=spf1 -all"),
        ("lab", "MX", "mail.lab", "MX 10 mail.lab."),
        ("lab", "MX", "10 mail.lab.", "MX 10 mail.lab."),
        ("www.lab", "CNAME", "HOST.lab", "CNAME host.lab."),
        ("127.204.0.10", "PTR", "host.lab", "PTR host.lab."),
        ("www.lab", "A", "127.204.0.11", "A 127.204.0.1"),
    ],
)
def test_record_types(dnsmasq: int, name: str, record: str, expect: str, text: str) -> None:
    result = lookup(dnsmasq, name, record, expect=[expect])
    assert result.state is State.UP, result.error
    assert result.summary.startswith(text)


def test_truncated_answer_is_fetched_again_over_tcp(dnsmasq: int) -> None:
    result = lookup(dnsmasq, "big.lab", expect=["127.204.1.1", "127.204.1.120"])
    assert result.state is State.UP, result.error
    assert value(result, "branchops_dns_answers") == 120  # ~1.9 kB: only TCP carries it all


# ---- hand-made servers ----------------------------------------------------------------------


Reply = Callable[[bytes], list[bytes]]  # the datagrams to send for one query


def respond(
    query: bytes, *, rcode: int = 0, tc: bool = False, answers: bytes = b"", count=0
) -> bytes:
    qid = query[:2]
    end = 12
    while query[end]:
        end += query[end] + 1
    question = query[12 : end + 5]
    flags = 0x8180 | rcode | (0x0200 if tc else 0)
    return qid + struct.pack("!HHHHH", flags, 1, count, 0, 0) + question + answers


def a_record(address: str, owner: bytes = b"\xc0\x0c") -> bytes:
    return owner + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(address)


async def fake_server(
    host: str, reply: Reply, tcp_reply: Reply | None = None
) -> tuple[int, Callable[[], None]]:
    loop = asyncio.get_running_loop()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((host, 0))
    udp.setblocking(False)
    port = udp.getsockname()[1]

    def on_query() -> None:
        data, source = udp.recvfrom(4096)
        for datagram in reply(data):
            udp.sendto(datagram, source)

    loop.add_reader(udp.fileno(), on_query)
    server = None
    if tcp_reply is not None:

        async def on_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            for message in tcp_reply(await reader.readexactly(size)):
                writer.write(struct.pack("!H", len(message)) + message)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(on_stream, host, port)

    def stop() -> None:
        loop.remove_reader(udp.fileno())
        udp.close()
        if server is not None:
            server.close()

    return port, stop


def ask(host: str, reply: Reply, tcp_reply: Reply | None = None, **params: Any) -> Result:
    async def scenario() -> Result:
        port, stop = await fake_server(host, reply, tcp_reply)
        try:
            check = CheckSpec(
                6,
                "dns",
                host,
                params.pop("timeout", 1.0),
                params={"name": "fw.lab", "server_port": port, **params},
            )
            return await collector().collect(check)
        finally:
            stop()

    return run(scenario())


def test_servfail_is_down() -> None:
    result = ask("127.204.2.1", lambda q: [respond(q, rcode=2)])
    assert result.state is State.DOWN
    assert result.error == "SERVFAIL for fw.lab A"


def test_strays_and_garbage_are_skipped_until_the_real_answer() -> None:
    def noisy(query: bytes) -> list[bytes]:
        real = respond(query, answers=a_record("127.204.2.9"), count=1)
        wrong_id = bytes([query[0] ^ 0xFF]) + real[1:]
        other_question = real[:12] + encode_name("other.lab") + real[12 + 8 :]
        garbage = query[:2] + b"\x81\x80\x00\x01\x00\x05" + b"\xff" * 40
        return [wrong_id, other_question, garbage, b"\x00", real]

    result = ask("127.204.2.2", noisy, expect=["127.204.2.9"])
    assert result.state is State.UP, result.error
    assert result.summary.startswith("A 127.204.2.9")


def test_only_garbage_is_a_collector_error_naming_the_fault() -> None:
    def loop_pointer(query: bytes) -> list[bytes]:
        pointer_to_itself = struct.pack("!H", 0xC000 | (len(query) - 11))
        answer = pointer_to_itself + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x7f\0\0\1"
        return [respond(query, answers=answer, count=1)]

    with pytest.raises(CollectorError, match="compression pointer does not point backwards"):
        ask("127.204.2.3", loop_pointer)


def test_silence_and_closed_port_are_down() -> None:
    quiet = ask("127.204.2.4", lambda q: [], timeout=0.5)
    assert quiet.state is State.DOWN
    assert quiet.error.endswith(": no answer")
    assert 0.45 <= quiet.duration_s < 2
    port = free_port("127.204.2.5")
    closed = lookup(port, "fw.lab", server="127.204.2.5")
    assert closed.state is State.DOWN
    assert closed.error == f"127.204.2.5:{port}: port unreachable"


def test_truncation_falls_back_to_tcp_with_a_hand_made_server() -> None:
    def truncated(query: bytes) -> list[bytes]:
        return [respond(query, tc=True)]

    def full(query: bytes) -> list[bytes]:
        records = b"".join(a_record(f"127.204.3.{i}") for i in range(1, 4))
        return [respond(query, answers=records, count=3)]

    result = ask("127.204.2.6", truncated, full, expect=["127.204.3.3"])
    assert result.state is State.UP, result.error
    assert value(result, "branchops_dns_answers") == 3


# ---- codec --------------------------------------------------------------------------------------


def test_names_follow_backward_pointers_and_refuse_everything_else() -> None:
    message = b"\0" * 12 + b"\x02fw\x03lab\x00" + b"\x03www\xc0\x0c"
    assert read_name(message, 12) == ("fw.lab.", 20)
    assert read_name(message, 20) == ("www.fw.lab.", 26)
    with pytest.raises(DnsFormatError, match="backwards"):
        read_name(b"\0" * 12 + b"\xc0\x0c", 12)  # a pointer to itself
    with pytest.raises(DnsFormatError, match="past the end"):
        read_name(b"\x05ab", 0)
    with pytest.raises(DnsFormatError, match="unknown label type"):
        read_name(b"\x41abc", 0)
    long_name = b"".join(b"\x3f" + b"a" * 63 for _ in range(5)) + b"\0"
    with pytest.raises(DnsFormatError, match="too long"):
        read_name(long_name, 0)


def test_bad_record_data_is_a_format_error() -> None:
    query = encode_query(0x1234, encode_name("fw.lab"), 1)
    short_a = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 3) + b"\x7f\0\0"
    with pytest.raises(DnsFormatError, match="3 octets where 4 belong"):
        decode_response(respond(query, answers=short_a, count=1), 0x1234, encode_name("fw.lab"), 1)
    overrun = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 400) + b"\x7f\0\0\1"
    with pytest.raises(DnsFormatError, match="past the end"):
        decode_response(respond(query, answers=overrun, count=1), 0x1234, encode_name("fw.lab"), 1)
    missing = respond(query, count=3)  # claims three answers, carries none
    with pytest.raises(DnsFormatError):
        decode_response(missing, 0x1234, encode_name("fw.lab"), 1)


def test_answers_to_other_questions_are_not_ours() -> None:
    query = encode_query(7, encode_name("fw.lab"), 1)
    reply = respond(query, answers=a_record("127.204.4.1"), count=1)
    assert decode_response(reply, 7, encode_name("FW.lab"), 1) is not None  # case-blind
    assert decode_response(reply, 8, encode_name("fw.lab"), 1) is None
    assert decode_response(reply, 7, encode_name("fw.lab"), 28) is None
    assert decode_response(query, 7, encode_name("fw.lab"), 1) is None  # not a response


QNAME = encode_name("fw.lab")
HEADER_AND_QUESTION = encode_query(0x4242, QNAME, 1)[:-11]  # without the OPT record


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600), st.integers(0, 0xFFFF))
def test_any_answer_decodes_or_is_a_format_error(tail: bytes, flags: int) -> None:
    # Our ID and question, then anything: the decoder's only way out is DnsFormatError.
    data = HEADER_AND_QUESTION[:2] + struct.pack("!H", flags | 0x8000) + HEADER_AND_QUESTION[4:]
    data = data[:6] + tail[:2] + data[8:] + tail[2:]
    with contextlib.suppress(DnsFormatError):
        decode_response(data, 0x4242, QNAME, 1)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_datagram_is_ours_or_not_or_malformed(data: bytes) -> None:
    with contextlib.suppress(DnsFormatError):
        decode_response(data, 0x4242, QNAME, 1)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a" * 64 + ".lab", "1 to 63 octets"),
        ("a..lab", "1 to 63 octets"),
        (".".join(["abcdefgh"] * 30), "longer than 255 octets"),
    ],
)
def test_unencodable_names_are_config_errors(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        encode_name(name)


def test_server_must_be_an_ip_literal() -> None:
    with pytest.raises(ConfigError, match="must be an IP address"):
        lookup(53, "fw.lab", server="dns.example.com")
