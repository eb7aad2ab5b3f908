"""ICMP echo against the kernel on 127.0.0.0/8: loss, RTT, strays, privileges, nftables drops.

Every address answers echo requests on loopback; an nftables table of our own (deleted in a
``finally``) drops the requests to the addresses that must stay silent. Each test uses its
own addresses under 127.201.0.0/16, so parallel test workers do not see each other's rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from branchops.monitoring.collectors import Context, build
from branchops.monitoring.collectors.base import CheckSpec, ConfigError, Result, State
from branchops.monitoring.collectors.icmp import (
    SHARED_KEY,
    EchoTemplate,
    IcmpCollector,
    Pinger,
    checksum,
)

T = TypeVar("T")
PING_GROUP_RANGE = Path("/proc/sys/net/ipv4/ping_group_range")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def collector(**options: Any) -> tuple[IcmpCollector, Context]:
    context = Context(clock=time.time, monotonic=time.monotonic, options=options)
    built = build("icmp", context)
    assert isinstance(built, IcmpCollector)
    return built, context


def spec(target: str, check_id: int = 1, timeout: float = 1.0, **params: Any) -> CheckSpec:
    labels = {"site": "BR-0001", "device": f"dev-{target}"}
    return CheckSpec(check_id, "icmp", target, timeout, params=params, labels=labels)


async def closing(context: Context, coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        return await coroutine
    finally:
        pinger = context.shared.get(SHARED_KEY)
        if pinger is not None:
            await pinger.aclose()


@contextlib.contextmanager
def nft_input_rules(*rules: str) -> Iterator[None]:
    """Our own nftables table with ``rules`` in an input-hook chain, deleted afterwards."""
    nft = shutil.which("nft")
    if nft is None:
        pytest.skip("nft (nftables) is not installed: cannot make a loopback address silent")
    table = f"bo_test_{os.getpid()}"
    script = "\n".join(
        [
            f"table inet {table} {{",
            "  chain input {",
            "    type filter hook input priority 0; policy accept;",
            *(f"    {rule}" for rule in rules),
            "  }",
            "}",
        ]
    )
    command = [nft, "-f", "-"]
    done = subprocess.run(command, input=script, capture_output=True, text=True, check=False)  # noqa: S603
    if "Operation not permitted" in done.stderr:
        pytest.skip(f"nft is not permitted here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    try:
        yield
    finally:
        command = [nft, "delete", "table", "inet", table]
        subprocess.run(command, capture_output=True, check=False)  # noqa: S603


def sample(result: Result, name: str, **labels: str) -> float:
    for item in result.samples:
        if item.name == name and all((k, v) in item.labels for k, v in labels.items()):
            return item.value
    raise AssertionError(f"no sample {name} {labels} in {result.samples}")


# ---- packets ----------------------------------------------------------------------------------


def reference_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum((data[i] << 8) + data[i + 1] for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def test_checksum_matches_rfc_1071_and_a_plain_implementation() -> None:
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == ~0xDDF2 & 0xFFFF
    for size in (0, 1, 2, 3, 63, 64, 1500):
        data = os.urandom(size)
        assert checksum(data) == reference_checksum(data)


@pytest.mark.parametrize("size", [0, 1, 7, 8, 56, 1472])
def test_precomputed_echo_checksums_verify_for_every_sequence(size: int) -> None:
    template = EchoTemplate(8, 0xBEEF, os.urandom(size))
    for seq in (0, 1, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF, *range(0, 0x10000, 4099)):
        packet = template.packet(seq)
        assert len(packet) == 8 + size
        assert packet[:2] == b"\x08\x00"
        assert struct.unpack("!HH", packet[4:8]) == (0xBEEF, seq)
        assert reference_checksum(packet) == 0  # a valid checksum sums to zero


@given(
    icmp_type=st.sampled_from([8, 128]),
    ident=st.integers(0, 0xFFFF),
    seq=st.integers(0, 0xFFFF),
    payload=st.binary(max_size=64),
)
def test_incremental_checksum_equals_the_full_one(
    icmp_type: int, ident: int, seq: int, payload: bytes
) -> None:
    packet = EchoTemplate(icmp_type, ident, payload).packet(seq)
    unchecked = packet[:2] + b"\0\0" + packet[4:]
    assert struct.unpack("!H", packet[2:4])[0] == checksum(unchecked)
    assert packet == struct.pack("!BBHHH", icmp_type, 0, checksum(unchecked), ident, seq) + payload


# ---- live echo ------------------------------------------------------------------------------


def test_answered_target_is_up_with_rtt_jitter_and_labels() -> None:
    icmp, context = collector()
    result = run(closing(context, icmp.collect(spec("127.201.1.1", count=4, spacing_ms=10))))
    assert result.state is State.UP
    assert result.error == ""
    assert sample(result, "branchops_icmp_loss_ratio") == 0
    low = sample(result, "branchops_icmp_rtt_seconds", stat="min")
    avg = sample(result, "branchops_icmp_rtt_seconds", stat="avg")
    high = sample(result, "branchops_icmp_rtt_seconds", stat="max")
    assert 0 < low <= avg <= high < 1
    assert 0 <= sample(result, "branchops_icmp_jitter_seconds") <= high - low
    assert ("site", "BR-0001") in result.samples[0].labels
    assert result.summary.startswith("loss 0 %, avg ")
    assert result.summary.endswith(" ms")


def test_one_socket_serves_a_sweep_of_many_targets() -> None:
    targets = [f"127.201.{2 + i // 250}.{1 + i % 250}" for i in range(2000)]
    icmp, context = collector()

    async def sweep() -> list[Result | ConfigError]:
        results = await icmp.collect_many(
            [spec(t, i, count=2, spacing_ms=10) for i, t in enumerate(targets)]
        )
        pinger = context.shared[SHARED_KEY]
        assert len(pinger.sockets) == 1  # one socket for all targets, not one per host
        (sock,) = pinger.sockets.values()
        assert sock.stats["sent"] == sock.stats["received"] == 2 * len(targets)
        assert not sock.pending
        return results

    results = run(closing(context, sweep()))
    assert all(isinstance(r, Result) and r.state is State.UP for r in results)


def test_a_sweep_gives_each_check_its_own_result_in_order() -> None:
    # Several requests per target, targets repeated, results built as replies come in:
    # every result must still be its own check's, in the order the specs were given.
    targets = [f"127.201.41.{1 + i % 50}" for i in range(300)]
    specs = [spec(t, 1000 + i, count=3, spacing_ms=10) for i, t in enumerate(targets)]
    icmp, context = collector()
    results = run(closing(context, icmp.collect_many(specs)))
    for check, result in zip(specs, results, strict=True):
        assert isinstance(result, Result)
        assert result.check_id == check.check_id
        assert result.state is State.UP
        assert all(("device", f"dev-{check.target}") in s.labels for s in result.samples)
        assert 0 < sample(result, "branchops_icmp_rtt_seconds", stat="max") < 1
        assert 0 < result.duration_s < 1


def test_concurrent_checks_of_one_target_keep_their_own_replies() -> None:
    icmp, context = collector()

    async def together() -> list[Result]:
        checks = [icmp.collect(spec("127.201.20.1", i, count=5, spacing_ms=10)) for i in range(6)]
        return await asyncio.gather(*checks)

    results = run(closing(context, together()))
    assert [sample(r, "branchops_icmp_loss_ratio") for r in results] == [0] * 6
    assert [r.check_id for r in results] == list(range(6))


def test_silent_target_is_down_and_does_not_delay_the_others() -> None:
    icmp, context = collector()
    finished: dict[str, float] = {}

    async def timed(target: str, timeout: float) -> Result:
        result = await icmp.collect(spec(target, timeout=timeout, count=3, spacing_ms=50))
        finished[target] = time.monotonic()
        return result

    async def both() -> tuple[Result, Result]:
        return await asyncio.gather(timed("127.201.21.2", 1.5), timed("127.201.21.1", 1.5))

    with nft_input_rules("ip daddr 127.201.21.2 icmp type echo-request drop"):
        silent, answered = run(closing(context, both()))
    assert silent.state is State.DOWN
    assert silent.error == "no echo reply (0 of 3 answered)"
    assert sample(silent, "branchops_icmp_loss_ratio") == 1
    assert not [s for s in silent.samples if s.name == "branchops_icmp_rtt_seconds"]
    assert silent.summary == "loss 100 %"
    assert 1.4 <= silent.duration_s < 3  # it waited for its own timeout, not longer
    assert answered.state is State.UP
    assert finished["127.201.21.1"] < finished["127.201.21.2"]  # not held back by the silent one


def test_partial_loss_is_degraded_with_the_numbers() -> None:
    icmp, context = collector()
    rule = "ip daddr 127.201.22.1 icmp type echo-request numgen inc mod 2 0 drop"
    with nft_input_rules(rule):
        result = run(closing(context, icmp.collect(spec("127.201.22.1", count=4, spacing_ms=20))))
    assert result.state is State.DEGRADED
    assert result.error == "loss 50 % (2 of 4 answered)"
    assert sample(result, "branchops_icmp_loss_ratio") == 0.5
    assert result.summary.startswith("loss 50 %, avg ")


def test_loss_thresholds_come_from_the_parameters() -> None:
    icmp, context = collector()
    rule = "ip daddr 127.201.23.1 icmp type echo-request numgen inc mod 2 0 drop"
    params = {"count": 4, "spacing_ms": 20, "loss_down_ratio": 0.5, "loss_degraded_ratio": 0.1}
    with nft_input_rules(rule):
        result = run(closing(context, icmp.collect(spec("127.201.23.1", **params))))
    assert result.state is State.DOWN
    assert result.error == "no echo reply (2 of 4 answered)"


# ---- strays and forged replies -------------------------------------------------------------


def forged_reply(source: str, ident: int, seq: int, payload: bytes, icmp_type: int = 0) -> bytes:
    """An IPv4 packet from ``source`` to 127.0.0.1 carrying an ICMP echo reply."""
    header = struct.pack("!BBHHH", icmp_type, 0, 0, ident, seq) + payload
    icmp = header[:2] + struct.pack("!H", checksum(header)) + header[4:]
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(icmp),
        0,
        0,
        64,
        socket.IPPROTO_ICMP,
        0,  # the kernel fills in the IP checksum
        socket.inet_aton(source),
        socket.inet_aton("127.0.0.1"),
    )
    return ip + icmp


def test_strays_and_forgeries_are_ignored_and_the_true_reply_counts() -> None:
    target = "127.201.24.1"
    icmp, context = collector(icmp_socket="raw")

    async def scenario() -> tuple[Result, dict[str, int]]:
        task = asyncio.create_task(icmp.collect(spec(target, count=1, timeout=2.0, size=16)))
        await asyncio.sleep(0.1)  # the request has gone out and been dropped
        sock = context.shared[SHARED_KEY].sockets[socket.AF_INET]
        ((_, seq),) = [key for key in sock.pending if key[0] == target]
        good = sock.cookie * 2
        bad = [
            forged_reply(target, sock.ident ^ 1, seq, good),  # another pinger's identifier
            forged_reply(target, sock.ident, seq ^ 1, good),  # a sequence we did not send
            forged_reply(target, sock.ident, seq, b"x" * 16),  # not our payload
            forged_reply("127.201.24.2", sock.ident, seq, good),  # from another address
            forged_reply(target, sock.ident, seq, good, icmp_type=3),  # not an echo reply
            forged_reply(target, sock.ident, seq, b"")[:24],  # truncated ICMP header
        ]
        with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as raw:
            for packet in bad:
                raw.sendto(packet, ("127.0.0.1", 0))
            await asyncio.sleep(0.1)
            assert (target, seq) in sock.pending  # none of them was taken for the reply
            assert not task.done()
            raw.sendto(forged_reply(target, sock.ident, seq, good), ("127.0.0.1", 0))
        result = await task
        return result, dict(sock.stats)

    with nft_input_rules(f"ip daddr {target} icmp type echo-request drop"):
        result, stats = run(closing(context, scenario()))
    assert result.state is State.UP  # only the last, true reply was taken
    assert stats["received"] == 1
    # The kernel may drop the type-3 one (our socket's ICMP filter) and the truncated one
    # before delivery; the other four reach us and are refused.
    assert stats["strays"] >= 4


def test_cancelled_check_leaves_nothing_pending() -> None:
    icmp, context = collector()

    async def scenario() -> int:
        task = asyncio.create_task(icmp.collect(spec("127.201.25.1", count=3, timeout=5.0)))
        await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        (sock,) = context.shared[SHARED_KEY].sockets.values()
        return len(sock.pending)

    with nft_input_rules("ip daddr 127.201.25.1 icmp type echo-request drop"):
        assert run(closing(context, scenario())) == 0


def test_closing_the_pinger_finishes_waiting_checks_and_a_new_loop_reopens() -> None:
    icmp, context = collector()

    async def closed_mid_check() -> Result:
        task = asyncio.create_task(icmp.collect(spec("127.201.30.1", count=2, timeout=5.0)))
        await asyncio.sleep(0.05)
        await context.shared[SHARED_KEY].aclose()  # the engine shutting down
        return await asyncio.wait_for(task, 1.0)

    with nft_input_rules("ip daddr 127.201.30.1 icmp type echo-request drop"):
        result = run(closed_mid_check())
    assert result.state is State.DOWN
    assert result.error == "no echo reply (0 of 2 answered)"
    # The same collector in later event loops: a socket left open by an ended loop is
    # replaced by a fresh one.
    first = run(icmp.collect(spec("127.201.30.2", count=1)))
    again = run(closing(context, icmp.collect(spec("127.201.30.2", count=1))))
    assert first.state is State.UP
    assert again.state is State.UP


# ---- configuration and privileges ---------------------------------------------------------


def test_bad_targets_and_parameters_are_config_errors_and_spare_the_sweep() -> None:
    icmp, context = collector()
    bad_timing = spec("127.201.26.2", count=10, spacing_ms=500, timeout=2.0)

    async def scenario() -> list[Result | ConfigError]:
        with pytest.raises(ConfigError, match="must be an IP address"):
            await icmp.collect(spec("fw01.branch.example"))
        with pytest.raises(ConfigError, match="do not fit in the timeout of 2 s"):
            await icmp.collect(bad_timing)
        return await icmp.collect_many([spec("not-an-ip"), spec("127.201.26.1", count=1)])

    first, second = run(closing(context, scenario()))
    assert isinstance(first, ConfigError)
    assert isinstance(second, Result)
    assert second.state is State.UP


def test_ipv6_targets_are_recognised_without_sending_anything() -> None:
    from branchops.monitoring.collectors.icmp import _parse_target

    assert _parse_target("2001:db8:0:0::1") == ("2001:db8::1", socket.AF_INET6)
    assert _parse_target("127.201.27.1") == ("127.201.27.1", socket.AF_INET)


def test_ipv6_socket_opens_with_its_echo_reply_filter_without_sending() -> None:
    async def scenario() -> tuple[str, int]:
        pinger = Pinger()
        try:
            sock = pinger.socket_for(socket.AF_INET6)
            return sock.kind, sock.ident
        finally:
            await pinger.aclose()

    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this Python")
    kind, ident = run(scenario())
    assert kind in ("datagram", "raw")
    assert 0 < ident <= 0xFFFF


@contextlib.contextmanager
def ping_group_range(value: str) -> Iterator[None]:
    """Set the sysctl for the duration (restored afterwards); skip if we may not."""
    try:
        before = PING_GROUP_RANGE.read_text()
        PING_GROUP_RANGE.write_text(value)
    except OSError as exc:
        pytest.skip(f"cannot set net.ipv4.ping_group_range here: {exc}")
    try:
        yield
    finally:
        PING_GROUP_RANGE.write_text(before)


def test_datagram_socket_is_preferred_when_the_sysctl_allows_it() -> None:
    gid = os.getegid()
    icmp, context = collector()

    async def scenario() -> tuple[str, Result]:
        result = await icmp.collect(spec("127.201.28.1", count=3, spacing_ms=10))
        (sock,) = context.shared[SHARED_KEY].sockets.values()
        return sock.kind, result

    with ping_group_range(f"{gid} {gid}"):
        kind, result = run(closing(context, scenario()))
    assert kind == "datagram"
    assert result.state is State.UP


def test_datagram_only_without_the_sysctl_says_which_sysctl() -> None:
    async def scenario() -> None:
        pinger = Pinger(prefer="datagram")
        try:
            pinger.socket_for(socket.AF_INET)
        finally:
            await pinger.aclose()

    with ping_group_range("1 0"), pytest.raises(ConfigError) as caught:
        run(scenario())
    message = str(caught.value)
    assert "net.ipv4.ping_group_range (now '1 0')" in message
    assert f"to include group {os.getegid()}" in message


def test_without_privilege_the_error_names_the_sysctl_and_the_capability() -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed: cannot drop CAP_NET_RAW")
    code = (
        "import asyncio, socket\n"
        "from branchops.monitoring.collectors import Context, build\n"
        "from branchops.monitoring.collectors.base import CheckSpec, ConfigError\n"
        "async def main():\n"
        "    icmp = build('icmp', Context(clock=lambda: 0.0, monotonic=lambda: 0.0))\n"
        "    try:\n"
        "        await icmp.collect(CheckSpec(1, 'icmp', '127.201.29.1', 1.0))\n"
        "    except ConfigError as exc:\n"
        "        print(exc)\n"
        "asyncio.run(main())\n"
    )
    with ping_group_range("1 0"):
        done = subprocess.run(  # noqa: S603 - our own interpreter and code
            [setpriv, "--bounding-set=-all", "--inh-caps=-all", sys.executable, "-c", code],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    if "Operation not permitted" in done.stderr and not done.stdout:
        pytest.skip(f"setpriv cannot drop capabilities here: {done.stderr.strip()}")
    assert "ICMP echo is not permitted" in done.stdout, done.stderr
    assert "net.ipv4.ping_group_range" in done.stdout
    assert "root or the CAP_NET_RAW capability" in done.stdout


# ---- pacing ---------------------------------------------------------------------------------


def test_the_pacer_keeps_to_max_pps_and_every_check_is_answered() -> None:
    targets = [f"127.201.40.{1 + i % 250}" for i in range(1500)]
    icmp, context = collector(icmp_max_pps=5000)

    async def sweep() -> tuple[list[Result | ConfigError], float]:
        start = time.monotonic()
        results = await icmp.collect_many([spec(t, i, count=1) for i, t in enumerate(targets)])
        return results, time.monotonic() - start

    results, elapsed = run(closing(context, sweep()))
    assert all(isinstance(r, Result) and r.state is State.UP for r in results)
    # A burst of 256, then no faster than 5,000 a second.
    assert elapsed >= (len(targets) - 256) / 5000


class WouldBlockSometimes:
    """A socket whose send buffer is "full" on every 97th send, to drive the pacer's retry."""

    def __init__(self, real: socket.socket) -> None:
        self.real = real
        self.sends = self.refused = 0

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        self.sends += 1
        if self.sends % 97 == 0:
            self.refused += 1
            raise BlockingIOError
        return self.real.sendto(data, address)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_full_send_buffer_delays_requests_but_loses_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    targets = [f"127.201.42.{1 + i % 250}" for i in range(1000)]
    icmp, context = collector()

    async def sweep() -> tuple[list[Result | ConfigError], dict[str, int], int]:
        await icmp.collect(spec("127.201.42.251"))  # opens the socket
        (sock,) = context.shared[SHARED_KEY].sockets.values()
        flaky = WouldBlockSometimes(sock.sock)
        monkeypatch.setattr(sock, "sock", flaky)
        before = dict(sock.stats)
        results = await icmp.collect_many([spec(t, i, count=1) for i, t in enumerate(targets)])
        assert not sock.pending
        sent = sock.stats["sent"] - before["sent"]
        return results, {"sent": sent, "errors": sock.stats["send_errors"]}, flaky.refused

    results, stats, refused = run(closing(context, sweep()))
    assert refused >= 10  # the retry path ran
    assert stats == {"sent": len(targets), "errors": 0}
    assert all(isinstance(r, Result) and r.state is State.UP for r in results)
