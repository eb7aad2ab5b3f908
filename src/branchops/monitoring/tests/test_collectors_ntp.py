"""SNTP against the lab's NTP responder on 127.205.0.0/16 (offsets 0, 150 ms and 2 s on one
socket), its faults, hand-made stray and garbage replies, and the timestamp arithmetic."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from branchops.lab.ntp import NtpResponder
from branchops.monitoring.collectors import Context, build
from branchops.monitoring.collectors.base import (
    CheckSpec,
    CollectorError,
    ConfigError,
    Result,
    State,
)
from branchops.monitoring.collectors.ntp import (
    MODE_SERVER,
    NTP_UNIX_DELTA,
    NtpCollector,
    NtpPacket,
    _our_reply,
    from_ntp,
    to_ntp,
)

T = TypeVar("T")
RIGHT, DRIFTING, WRONG = "127.205.0.1", "127.205.0.2", "127.205.0.3"
OFFSETS = {RIGHT: 0.0, DRIFTING: 0.150, WRONG: 2.0}


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def collector(clock: Callable[[], float] = time.time) -> NtpCollector:
    built = build("ntp", Context(clock=clock, monotonic=time.monotonic))
    assert isinstance(built, NtpCollector)
    return built


def spec(target: str, port: int, timeout: float = 1.0, **params: Any) -> CheckSpec:
    labels = {"device": f"ntp-{target}"}
    return CheckSpec(9, "ntp", target, timeout, params={"port": port, **params}, labels=labels)


def value(result: Result, name: str) -> float:
    (found,) = [s.value for s in result.samples if s.name == name]
    return found


def assert_offset(result: Result, expected: float) -> None:
    """The measured offset is off by at most half the round trip (NTP's own error bound),
    plus a little for the clock readings: a loaded machine widens the bound, not the error."""
    offset = value(result, "branchops_ntp_offset_seconds")
    delay = value(result, "branchops_ntp_delay_seconds")
    assert abs(offset - expected) <= delay / 2 + 0.005, (offset, delay)


def against_lab(
    *targets: str,
    clock: Callable[[], float] = time.time,
    setup: Callable[[NtpResponder], None] = lambda _: None,
    **params: Any,
) -> tuple[list[Result], NtpResponder]:
    async def scenario() -> tuple[list[Result], NtpResponder]:
        async with NtpResponder(0, dict(OFFSETS)) as responder:
            setup(responder)
            ntp = collector(clock)
            checks = [ntp.collect(spec(t, responder.port, **params)) for t in targets]
            return list(await asyncio.gather(*checks)), responder

    return run(scenario())


# ---- against the lab responder --------------------------------------------------------------


def test_offsets_per_address_give_up_degraded_and_down() -> None:
    (right, drifting, wrong), responder = against_lab(RIGHT, DRIFTING, WRONG)
    assert right.state is State.UP, right.error
    assert_offset(right, 0.0)
    assert value(right, "branchops_ntp_stratum") == 2
    assert 0 <= value(right, "branchops_ntp_delay_seconds") < 0.5
    # A right clock: a few milliseconds at most, measured on a machine that may be busy.
    assert re.match(r"offset [+-][0-4]\.\d ms, delay ", right.summary), right.summary
    assert drifting.state is State.DEGRADED
    assert_offset(drifting, 0.150)
    # Measured, so within NTP's error bound of the 150 ms set (see assert_offset).
    assert re.fullmatch(
        r"clock off by \+1[45]\d ms \(limit 100 ms, down above 1000\)", drifting.error
    ), drifting.error
    assert wrong.state is State.DOWN
    assert_offset(wrong, 2.0)
    assert re.match(r"clock off by \+(199\d|200\d) ms", wrong.error), wrong.error
    assert responder.stats.answered == 3
    assert responder.stats.received == 3


def test_thresholds_come_from_the_parameters() -> None:
    (drifting,), _ = against_lab(DRIFTING, offset_degraded_ms=200)
    assert drifting.state is State.UP
    (wrong,), _ = against_lab(WRONG, offset_degraded_ms=50, offset_down_ms=5000)
    assert wrong.state is State.DEGRADED


def test_our_own_clock_is_injected() -> None:
    (result,), _ = against_lab(RIGHT, clock=lambda: time.time() + 5.0)
    assert_offset(result, -5.0)
    assert result.state is State.DOWN
    assert re.match(r"clock off by -(499\d|500\d) ms", result.error), result.error


def test_set_offset_moves_one_device_only() -> None:
    def drift(responder: NtpResponder) -> None:
        responder.set_offset(RIGHT, -0.300)

    (moved, other), responder = against_lab(RIGHT, DRIFTING, setup=drift)
    assert_offset(moved, -0.300)
    assert_offset(other, 0.150)
    assert responder.offset(RIGHT) == -0.300
    assert responder.offset("127.205.0.77") == 0.0  # any other 127.x address is right


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("kiss", "kiss-o'-death RATE: the server refuses to serve us"),
        ("unsynchronised", "the server is not synchronised (leap 3, stratum 2)"),
    ],
)
def test_kiss_of_death_and_unsynchronised_are_down(fault: Any, error: str) -> None:
    (result, healthy), _ = against_lab(
        RIGHT, DRIFTING, setup=lambda responder: responder.set_fault(RIGHT, fault)
    )
    assert result.state is State.DOWN
    assert result.error == error
    assert result.samples == ()
    assert healthy.state is State.DEGRADED  # the fault stays on its own address


def test_silent_server_is_down_after_its_timeout() -> None:
    def silence(responder: NtpResponder) -> None:
        responder.set_fault(WRONG, "silent")
        responder.set_fault(WRONG, None)  # healing works ...
        responder.set_fault(RIGHT, "silent")  # ... and silence works

    (quiet,), responder = against_lab(RIGHT, setup=silence)
    assert quiet.state is State.DOWN
    assert quiet.error == f"{RIGHT}:{responder.port}: no answer"
    assert 0.95 <= quiet.duration_s < 2
    assert responder.stats.silent == 1


def test_responder_drops_malformed_requests_and_serves_only_loopback() -> None:
    async def scenario() -> NtpResponder:
        async with NtpResponder(0) as responder:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
                client.settimeout(0.3)
                client.sendto(b"\x1b" + b"\0" * 10, (RIGHT, responder.port))  # too short
                server_mode = NtpPacket(0, 4, MODE_SERVER, 2, 0, 0, 0, 0, b"", 0, 0, 0, 1)
                client.sendto(server_mode.encode(), (RIGHT, responder.port))
                await asyncio.sleep(0.1)
                with pytest.raises(TimeoutError):
                    client.recv(1024)
            return responder

    responder = run(scenario())
    assert responder.stats.malformed == 2
    assert responder.stats.answered == 0
    with pytest.raises(ValueError, match=r"127\.0\.0\.0/8 only"):
        NtpResponder(0, {"192.0.2.1": 1.0})


# ---- hand-made servers --------------------------------------------------------------------------


def answer_with(reply: Callable[[NtpPacket], list[bytes]], timeout: float = 1.0) -> Result:
    """Serve one request on 127.205.1.1 with the datagrams ``reply`` makes from it."""

    async def scenario() -> Result:
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
            server.bind(("127.205.1.1", 0))
            server.setblocking(False)

            def on_request() -> None:
                data, source = server.recvfrom(1024)
                for datagram in reply(NtpPacket.decode(data)):
                    server.sendto(datagram, source)

            loop.add_reader(server.fileno(), on_request)
            try:
                check = spec("127.205.1.1", server.getsockname()[1], timeout=timeout)
                return await collector().collect(check)
            finally:
                loop.remove_reader(server.fileno())

    return run(scenario())


def good_reply(request: NtpPacket, origin: int | None = None) -> bytes:
    now = to_ntp(time.time())
    stamp = request.transmit if origin is None else origin
    return NtpPacket(0, 4, MODE_SERVER, 1, 0, -20, 0, 0, b"GPS", now, stamp, now, now).encode()


def test_strays_and_spoofs_are_ignored_until_our_reply() -> None:
    def noisy(request: NtpPacket) -> list[bytes]:
        return [
            good_reply(request, origin=request.transmit ^ 1),  # not our nonce
            b"\x24" * 20,  # too short
            good_reply(request),
        ]

    result = answer_with(noisy)
    assert result.state is State.UP, result.error
    assert value(result, "branchops_ntp_stratum") == 1


def test_only_malformed_answers_are_a_collector_error() -> None:
    def broken(request: NtpPacket) -> list[bytes]:
        client_mode = NtpPacket(0, 4, 3, 2, 0, 0, 0, 0, b"", 0, request.transmit, 1, 1)
        return [client_mode.encode()]

    with pytest.raises(CollectorError, match="malformed answer: mode 3, version 4"):
        answer_with(broken, timeout=0.5)


def test_closed_port_and_names_fail_clearly() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.205.2.1", 0))
        port = holder.getsockname()[1]
    closed = run(collector().collect(spec("127.205.2.1", port)))
    assert closed.state is State.DOWN
    assert closed.error == f"127.205.2.1:{port}: port unreachable"
    with pytest.raises(ConfigError, match="must be an IP address"):
        run(collector().collect(spec("ntp.example.com", 123)))
    with pytest.raises(ConfigError, match="offset_degraded_ms"):
        run(collector().collect(spec("127.205.2.1", 123, offset_degraded_ms=-1)))


# ---- timestamps ---------------------------------------------------------------------------------


def test_timestamps_round_trip_and_cross_the_2036_era_boundary() -> None:
    now = time.time()
    assert from_ntp(to_ntp(now), now) == pytest.approx(now, abs=1e-6)
    era_end = 2**32 - NTP_UNIX_DELTA  # 2036-02-07 06:28:16 UTC
    for moment in (era_end - 1.5, era_end + 0.25, era_end + 86_400 * 365):
        stamp = to_ntp(moment)
        assert from_ntp(stamp, moment + 3600) == pytest.approx(moment, abs=1e-6)
    assert to_ntp(era_end + 1) >> 32 == 1  # era 1 starts again from zero on the wire


def test_packets_encode_and_decode_alike() -> None:
    packet = NtpPacket(3, 4, 4, 16, 6, -20, 0x148, 0x290, b"INIT", 1, 2, 3, 4)
    assert NtpPacket.decode(packet.encode() + b"extension fields ignored") == packet
    with pytest.raises(ValueError, match="at least 48"):
        NtpPacket.decode(b"\x1b" * 47)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.integers(0, 2**64 - 1))
def test_any_datagram_is_our_reply_or_is_set_aside(data: bytes, nonce: int) -> None:
    rejected: list[str] = []
    packet = _our_reply(data, nonce, rejected)
    assert packet is None or packet.origin == nonce
