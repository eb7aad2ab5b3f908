"""snmp_system and snmp_interfaces against the lab's agent engine, and how failures read."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from branchops.monitoring.collectors.base import CollectorError, ConfigError, Result, State
from branchops.monitoring.collectors.snmp_parts.access import SHARED_KEY, SharedSnmpClient
from branchops.monitoring.collectors.snmp_parts.memory import (
    CheckMemory,
    Uptime,
    counter_rate,
    rebooted,
)
from branchops.snmp import MibView, Oid, SnmpType
from branchops.snmp.ber import (
    Pdu,
    decode_community_message,
    encode_community_message,
    encode_pdu,
    encode_varbind,
)
from branchops.snmp.types import PduType

from .collectors_snmp_support import (
    V3,
    Clock,
    Device,
    Engine,
    Port,
    Storage,
    by_name,
    lab,
    run,
    snmp_spec,
)

A = "127.9.0.1"
WRAP = 2**32


def interfaces_spec(port: int, interfaces: object = "all", **options: object) -> object:
    return snmp_spec("snmp_interfaces", A, port, interfaces=interfaces, **options)  # type: ignore[arg-type]


async def poll_twice(
    engine: Engine,
    device: Device,
    interfaces: object = "all",
    change: object = None,
    gap: float = 60,
) -> tuple[Result, Result]:
    """Poll, let ``gap`` seconds pass while ``change(device)`` happens, poll again."""
    async with lab({A: device}) as server:
        spec = interfaces_spec(server.port, interfaces)
        first = await engine.collect(spec)  # type: ignore[arg-type]
        engine.clock.advance(gap)
        if callable(change):
            change(device)
        return first, await engine.collect(spec)  # type: ignore[arg-type]


# ---- traffic rates ---------------------------------------------------------------------------


def test_counter32_octets_that_wrap_give_the_right_rate() -> None:
    clock = Clock()
    port = Port(1, "GE0/0/1", hc=False, speed_mbps=100, in_octets=WRAP - 1000, out_octets=5000)

    def traffic(device: Device) -> None:
        port.in_octets = 5000  # went through 2^32: 6,000 octets in 60 s
        port.out_octets = 5000 + 750_000

    first, second = run(
        lambda engine: poll_twice(engine, Device(clock, [port]), change=traffic), clock
    )
    assert by_name(first, "branchops_if_in_bits_per_second") is None
    assert "rates from the next poll" in first.summary
    assert by_name(second, "branchops_if_in_bits_per_second") == pytest.approx(6000 * 8 / 60)
    assert by_name(second, "branchops_if_out_bits_per_second") == pytest.approx(100_000)
    assert "in 800 bit/s, out 100.0 kbit/s" in second.summary


def test_64_bit_counters_are_preferred_and_errors_are_rates() -> None:
    clock = Clock()
    port = Port(1, "XGE1/0/1", speed_mbps=10_000, in_octets=2**40, out_octets=2**35)

    def traffic(device: Device) -> None:
        port.in_octets += 7_500_000_000  # more than 2^32: only a 64-bit counter holds it
        port.out_octets += 750_000_000
        port.in_errors += 120
        port.out_discards += 30

    _, second = run(lambda engine: poll_twice(engine, Device(clock, [port]), change=traffic), clock)
    assert by_name(second, "branchops_if_in_bits_per_second") == pytest.approx(1e9)
    assert by_name(second, "branchops_if_out_bits_per_second") == pytest.approx(1e8)
    assert by_name(second, "branchops_if_in_errors_per_second") == pytest.approx(2.0)
    assert by_name(second, "branchops_if_out_discards_per_second") == pytest.approx(0.5)
    assert by_name(second, "branchops_if_speed_bits_per_second") == 1e10


def test_a_counter64_that_goes_back_was_reset_and_gives_no_rate() -> None:
    clock = Clock()
    port = Port(1, "GE0/0/1", in_octets=2**40, out_octets=1000)

    def reset(device: Device) -> None:
        port.in_octets = 10  # reset (e.g. clear counters): no wrap for 64 bits
        port.out_octets = 1000 + 7500

    _, second = run(lambda engine: poll_twice(engine, Device(clock, [port]), change=reset), clock)
    assert by_name(second, "branchops_if_in_bits_per_second") is None
    assert by_name(second, "branchops_if_out_bits_per_second") == pytest.approx(1000)


def test_a_counter32_wrap_faster_than_the_line_is_a_reset() -> None:
    clock = Clock()
    port = Port(1, "Fa0/1", hc=False, speed_mbps=10, in_octets=3_000_000_000)

    def reset(device: Device) -> None:
        port.in_octets = 1000  # "wrapped" would mean 1.3 GB in 60 s on a 10 Mbit/s line

    _, second = run(lambda engine: poll_twice(engine, Device(clock, [port]), change=reset), clock)
    assert by_name(second, "branchops_if_in_bits_per_second") is None


def test_a_moved_discontinuity_time_discards_the_interval() -> None:
    clock = Clock()
    port = Port(1, "GE0/0/1", in_octets=1000)

    def cleared(device: Device) -> None:
        port.in_octets = 500_000
        port.discontinuity = 123_456  # the agent says the counters restarted

    _, second = run(lambda engine: poll_twice(engine, Device(clock, [port]), change=cleared), clock)
    assert by_name(second, "branchops_if_in_bits_per_second") is None
    assert by_name(second, "branchops_if_oper_up") == 1.0


def test_a_reboot_discards_the_interval() -> None:
    clock = Clock()
    port = Port(1, "GE0/0/1", in_octets=10**9)

    def reboot(device: Device) -> None:
        device.reboot()
        port.in_octets = 2 * 10**9  # higher than before, yet not traffic since the last poll

    _, second = run(lambda engine: poll_twice(engine, Device(clock, [port]), change=reboot), clock)
    assert by_name(second, "branchops_if_in_bits_per_second") is None
    assert "device restarted" in second.summary


# ---- which interfaces ------------------------------------------------------------------------


def switch(clock: Clock) -> Device:
    ports = [Port(i, f"GE0/0/{i}", speed_mbps=1000, oper=1 if i <= 3 else 2) for i in range(1, 9)]
    ports += [
        Port(9, "XGE0/0/1", speed_mbps=10_000),
        Port(10, "XGE0/0/2", speed_mbps=10_000, oper=2),
        Port(11, "InLoopBack0", type=24),
        Port(12, "Vlanif10", type=136),
    ]
    return Device(clock, ports)


def watched(result: Result) -> list[str]:
    return [dict(s.labels)["interface"] for s in result.samples if s.name == "branchops_if_oper_up"]


def test_up_watches_what_is_up_and_keeps_watching_it_when_it_fails() -> None:
    clock = Clock()
    device = switch(clock)

    def fail(device: Device) -> None:
        device.port(2).oper = 2  # a watched port goes down
        device.port(5).oper = 1  # an unwatched one comes up

    first, second = run(lambda engine: poll_twice(engine, device, "up", fail), clock)
    assert watched(first) == ["GE0/0/1", "GE0/0/2", "GE0/0/3", "XGE0/0/1", "Vlanif10"]
    assert first.state is State.UP
    assert "GE0/0/2" in watched(second)
    assert "GE0/0/5" in watched(second)
    assert by_name(second, "branchops_if_oper_up", interface="GE0/0/2") == 0.0
    assert second.state is State.DEGRADED
    assert second.error == "down: GE0/0/2"
    assert "1 down (GE0/0/2)" in second.summary


def test_an_interface_shut_by_an_operator_leaves_the_selection() -> None:
    clock = Clock()
    device = switch(clock)

    def shut(device: Device) -> None:
        device.port(2).admin = 2
        device.port(2).oper = 2

    _, second = run(lambda engine: poll_twice(engine, device, "up", shut), clock)
    assert "GE0/0/2" not in watched(second)
    assert second.state is State.UP


def test_uplinks_by_their_description() -> None:
    clock = Clock()
    device = switch(clock)
    device.port(3).alias = "Uplink to core 1"
    device.port(4).alias = "上联-核心交换机"
    device.port(1).alias = "to-AP-3F"  # a downlink, however it starts

    first, _ = run(lambda engine: poll_twice(engine, device, "uplinks"), clock)
    assert watched(first) == ["GE0/0/3", "GE0/0/4"]
    assert first.state is State.DEGRADED  # GE0/0/4 is down
    assert first.error == "down: GE0/0/4"


def test_uplinks_by_speed_when_nothing_is_described() -> None:
    clock = Clock()
    device = switch(clock)

    def fail(device: Device) -> None:
        device.port(9).oper = 2

    first, second = run(lambda engine: poll_twice(engine, device, "uplinks", fail), clock)
    assert watched(first) == ["XGE0/0/1"]  # the fast port that is up; XGE0/0/2 is down
    assert watched(second) == ["XGE0/0/1"]  # still watched once it fails
    assert second.state is State.DEGRADED


def test_no_recognisable_uplink_is_a_configuration_problem() -> None:
    clock = Clock()
    device = Device(clock, [Port(i, f"GE0/0/{i}") for i in range(1, 5)])

    with pytest.raises(ConfigError, match="no uplink recognised among 4 interfaces"):
        run(lambda engine: poll_twice(engine, device, "uplinks"), clock)


def test_an_explicit_list_by_name_alias_or_index() -> None:
    clock = Clock()
    device = switch(clock)
    device.port(7).alias = "ISP-Telecom"

    first, _ = run(
        lambda engine: poll_twice(engine, device, ["ge0/0/1", "ISP-Telecom", "9", "Gi9/9"]), clock
    )
    assert watched(first) == ["GE0/0/1", "GE0/0/7", "XGE0/0/1"]
    assert first.state is State.DEGRADED
    assert first.error == "down: GE0/0/7; not found: Gi9/9"


def test_all_reports_shut_ports_without_calling_them_faults() -> None:
    clock = Clock()
    device = switch(clock)
    for index in (4, 5, 6, 7, 8, 10):
        device.port(index).admin = 2  # shut: nothing plugged in on purpose

    first, _ = run(lambda engine: poll_twice(engine, device, "all"), clock)
    assert len(watched(first)) == 12
    assert by_name(first, "branchops_if_oper_up", interface="GE0/0/4") == 0.0
    assert first.state is State.UP
    device.port(1).oper = 2
    second, _ = run(lambda engine: poll_twice(engine, device, "all"), clock)
    assert second.state is State.DEGRADED
    assert second.error == "down: GE0/0/1"


def test_interfaces_sharing_a_name_are_told_apart() -> None:
    clock = Clock()
    device = Device(clock, [Port(1, "eth0"), Port(2, "eth0")])
    first, _ = run(lambda engine: poll_twice(engine, device, "all"), clock)
    assert watched(first) == ["eth0 (ifIndex 1)", "eth0 (ifIndex 2)"]


def test_only_the_selected_interfaces_counters_are_read() -> None:
    clock = Clock()
    device = Device(clock, [Port(i, f"GE0/0/{i}") for i in range(1, 49)])
    device.port(48).alias = "uplink"

    async def scenario(engine: Engine) -> tuple[int, int]:
        async with lab({A: device}) as server:
            await engine.collect(interfaces_spec(server.port, "uplinks"))  # type: ignore[arg-type]
            stats = server.agent(A).stats
            return stats.requests, stats.answered

    requests, answered = run(scenario, clock)
    # 48 interfaces x 8 identity columns in GETBULKs of 48 objects, then one GET: ~10 packets.
    assert requests == answered
    assert requests <= 12


# ---- snmp_system -----------------------------------------------------------------------------


def server(clock: Clock) -> Device:
    return Device(
        clock,
        cpu_loads=[30, 10, 20, 40],
        storage=[
            Storage(1, "2", "Physical memory", 1024, 8_000_000, 7_000_000),
            Storage(3, "1", "Memory buffers", 1024, 8_000_000, 1_000_000),
            Storage(6, "1", "Cached memory", 1024, 3_000_000, 2_000_000),
            Storage(31, "4", "/", 4096, 10_000_000, 2_500_000),
            Storage(35, "4", "/run", 4096, 100_000, 90_000),  # tmpfs: not a disk
            Storage(36, "4", "/var", 4096, 1_000_000, 900_000),
        ],
    )


def test_host_resources_cpu_memory_and_disks() -> None:
    clock = Clock()

    async def scenario(engine: Engine) -> Result:
        async with lab({A: server(clock)}) as lab_server:
            return await engine.collect(snmp_spec("snmp_system", A, lab_server.port))

    result = run(scenario, clock)
    assert result.state is State.UP
    assert by_name(result, "branchops_snmp_uptime_seconds") == pytest.approx(1000)
    assert by_name(result, "branchops_snmp_rebooted") == 0.0
    assert by_name(result, "branchops_cpu_utilisation_ratio") == pytest.approx(0.25)
    # net-snmp counts buffers and page cache as used: 7 GB - 1 GB - 2 GB of 8 GB
    assert by_name(result, "branchops_memory_utilisation_ratio") == pytest.approx(0.5)
    assert by_name(result, "branchops_memory_total_bytes") == 8_000_000 * 1024
    assert by_name(result, "branchops_storage_used_ratio", storage="/") == pytest.approx(0.25)
    assert by_name(result, "branchops_storage_used_ratio", storage="/var") == pytest.approx(0.9)
    assert by_name(result, "branchops_storage_size_bytes", storage="/") == 10_000_000 * 4096
    assert by_name(result, "branchops_storage_used_ratio", storage="/run") is None
    assert result.summary == "up 16m 40s; cpu 25%; memory 50%; 2 disks, fullest /var 90%"


def test_a_reboot_is_flagged_once() -> None:
    clock = Clock()
    device = server(clock)

    async def scenario(engine: Engine) -> list[Result]:
        async with lab({A: device}) as lab_server:
            spec = snmp_spec("snmp_system", A, lab_server.port)
            results = [await engine.collect(spec)]
            clock.advance(60)
            device.reboot()
            lab_server.agent(A).restart()  # the agent's engine boots again too
            results.append(await engine.collect(spec))
            clock.advance(60)
            results.append(await engine.collect(spec))
            return results

    before, rebooted_now, after = run(scenario, clock)
    assert by_name(rebooted_now, "branchops_snmp_rebooted") == 1.0
    assert by_name(rebooted_now, "branchops_snmp_uptime_seconds") == pytest.approx(5)
    assert rebooted_now.summary.startswith("REBOOTED, up 0m 5s")
    assert by_name(after, "branchops_snmp_rebooted") == 0.0
    assert before.state is rebooted_now.state is State.UP


def test_a_reboot_between_distant_polls_is_seen_even_if_uptime_grew() -> None:
    before = Uptime(100 * 100, at=0.0)  # up 100 s
    assert rebooted(before, Uptime(500 * 100, at=600.0))  # 600 s later, up only 500 s
    assert not rebooted(before, Uptime(700 * 100, at=600.0))
    assert not rebooted(before, Uptime(695 * 100, at=600.0))  # agent clocks drift a little


def test_uptime_wrapping_at_2_to_the_32_is_not_a_reboot() -> None:
    before = Uptime(WRAP - 3000, at=0.0)  # 497 days up, 30 s before the wrap
    assert not rebooted(before, Uptime(3000, at=60.0))
    assert rebooted(before, Uptime(3000, at=5000.0))


def test_counter_rate_edges() -> None:
    assert counter_rate(WRAP - 10, 10, 32, 10.0) == 2.0
    assert counter_rate(100, 10, 64, 10.0) is None
    assert counter_rate(0, 100, 32, 0.0) is None
    # A Counter32 on a line that can wrap it within the interval is ambiguous.
    assert counter_rate(0, 100, 32, 60.0, ceiling_per_s=125_000_000) is None
    assert counter_rate(0, 100, 32, 60.0, ceiling_per_s=12_500_000) == pytest.approx(100 / 60)


def test_check_memory_forgets_checks_not_polled_for_long() -> None:
    clock = Clock(0)
    memory: CheckMemory[int] = CheckMemory(clock, max_idle_s=100)
    memory.put(1, 1)
    clock.advance(500)
    for check in range(2, 2000):
        memory.put(check, check)
    assert memory.get(1) is None
    assert memory.get(1999) == 1999


# ---- credentials and failures ----------------------------------------------------------------


def test_snmpv3_authpriv_sha_aes() -> None:
    clock = Clock()

    async def scenario(engine: Engine) -> Result:
        async with lab({A: server(clock)}) as lab_server:
            return await engine.collect(snmp_spec("snmp_system", A, lab_server.port, access=V3))

    result = run(scenario, clock)
    assert by_name(result, "branchops_cpu_utilisation_ratio") == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"auth_password": "wrongpass1"}, "wrongDigests"),
        ({"priv_password": "wrongpass1"}, "decryptionErrors"),
        ({"username": "stranger"}, "unknownUserNames"),
        ({"priv_protocol": "", "priv_password": ""}, "unsupportedSecLevels"),
    ],
)
def test_wrong_v3_keys_are_unknown_with_the_reason(change: dict[str, str], reason: str) -> None:
    clock = Clock()
    access = type(V3)(**{**{k: getattr(V3, k) for k in V3.__slots__}, **change})

    async def scenario(engine: Engine) -> Result:
        async with lab({A: server(clock)}) as lab_server:
            return await engine.collect(snmp_spec("snmp_system", A, lab_server.port, access=access))

    with pytest.raises(ConfigError) as caught:
        run(scenario, clock)
    assert caught.value.state is State.UNKNOWN
    assert not caught.value.retryable
    assert f"SNMP credential refused ({reason})" in str(caught.value)


def test_a_wrong_community_is_down_with_no_answer() -> None:
    clock = Clock()

    async def scenario(engine: Engine) -> Result:
        async with lab({A: server(clock)}) as lab_server:
            spec = snmp_spec("snmp_system", A, lab_server.port)
            spec = dataclasses.replace(
                spec,
                snmp=type(V3)("2c", lab_server.port, community="private", timeout_s=0.2, retries=0),
            )
            return await engine.collect(spec)

    with pytest.raises(CollectorError) as caught:
        run(scenario, clock)
    assert caught.value.state is State.DOWN
    assert caught.value.retryable
    assert str(caught.value).startswith(f"{A}:")
    assert str(caught.value).endswith(": no answer (check credential/port/ACL)")


def test_a_silent_device_is_down_and_does_not_delay_another() -> None:
    clock = Clock()
    b = "127.9.0.2"

    async def scenario(engine: Engine) -> tuple[BaseException | Result, Result, float]:
        async with lab({A: server(clock), b: server(clock)}) as lab_server:
            lab_server.agent(A).silent = True
            loop = asyncio.get_running_loop()
            started = loop.time()
            silent, alive = await asyncio.gather(
                engine.collect(snmp_spec("snmp_system", A, lab_server.port, timeout_s=1.0)),
                engine.collect(snmp_spec("snmp_system", b, lab_server.port, check_id=2)),
                return_exceptions=True,
            )
            assert isinstance(alive, Result)
            return silent, alive, loop.time() - started

    silent, alive, _ = run(scenario, clock)
    assert isinstance(silent, CollectorError)
    assert silent.state is State.DOWN
    assert alive.state is State.UP


@pytest.mark.parametrize(
    ("access_change", "params", "words"),
    [
        ({"version": "1"}, {}, "SNMP version '1' is not supported"),
        ({"version": "3", "username": ""}, {}, "SNMPv3 credential"),
        ({"version": "3", "username": "u", "auth_protocol": "sha999"}, {}, "unknown protocol"),
        ({"community": ""}, {}, "without a community"),
        ({}, {"profile": "no-such-profile"}, "no SNMP device profile named"),
        ({}, {"interfaces": 5}, "invalid snmp_interfaces parameters: interfaces"),
    ],
)
def test_configuration_errors_are_unknown(
    access_change: dict[str, str], params: dict[str, object], words: str
) -> None:
    access = type(V3)(**{**{k: getattr(V3, k) for k in V3.__slots__}, "version": "2c",
                         "community": "public", **access_change})  # fmt: skip

    async def scenario(engine: Engine) -> Result:
        return await engine.collect(
            snmp_spec("snmp_interfaces", A, 161, access=access, **params)  # type: ignore[arg-type]
        )

    with pytest.raises(ConfigError, match=words):
        run(scenario)


def test_the_four_collectors_share_one_client_and_socket() -> None:
    clock = Clock()

    async def scenario(engine: Engine) -> tuple[set[int], int]:
        async with lab({A: switch(clock)}) as lab_server:
            ports = set()
            for kind in ("snmp_system", "snmp_interfaces", "snmp_profile", "vpn_tunnel"):
                engine.collector(kind)
            shared = engine.context.shared[SHARED_KEY]
            assert isinstance(shared, SharedSnmpClient)
            await asyncio.gather(
                *(
                    engine.collect(snmp_spec("snmp_system", A, lab_server.port, check_id=n))
                    for n in range(20)
                )
            )
            ports.add(shared.client.local_address[1])
            await engine.collect(snmp_spec("snmp_interfaces", A, lab_server.port, check_id=99))
            ports.add(shared.client.local_address[1])
            return ports, len(engine.context.shared)

    ports, shared_objects = run(scenario, clock)
    assert len(ports) == 1
    assert shared_objects == 1


# ---- hostile agents --------------------------------------------------------------------------


class Rogue(asyncio.DatagramProtocol):
    """A UDP peer on 127.9.0.5 that answers each request with whatever ``answer`` makes."""

    def __init__(self, answer: Callable[[Pdu], list[bytes]]) -> None:
        self.answer = answer
        self.transport: asyncio.DatagramTransport | None = None
        self.requests = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.requests += 1
        pdu = decode_community_message(data).pdu
        assert isinstance(pdu, Pdu)
        assert self.transport is not None
        for reply in self.answer(pdu):
            self.transport.sendto(reply, addr)


def response(pdu: Pdu, varbinds: list[tuple[Oid, SnmpType, object]]) -> bytes:
    body = b"".join(encode_varbind(oid, kind, value) for oid, kind, value in varbinds)  # type: ignore[arg-type]
    return encode_community_message(
        1, b"public", encode_pdu(PduType.RESPONSE, pdu.request_id, 0, 0, body)
    )


def poll_rogue(
    answer: Callable[[Pdu], list[bytes]], kind: str = "snmp_interfaces"
) -> tuple[object, int]:
    async def scenario(engine: Engine) -> tuple[object, int]:
        loop = asyncio.get_running_loop()
        rogue = Rogue(answer)
        transport, _ = await loop.create_datagram_endpoint(
            lambda: rogue, local_addr=("127.9.0.5", 0)
        )
        port = transport.get_extra_info("sockname")[1]
        try:
            params = {"interfaces": "all"} if kind == "snmp_interfaces" else {}
            spec = snmp_spec(kind, "127.9.0.5", port, timeout_s=1.0, **params)
            try:
                outcome: object = await engine.collect(spec)
            except CollectorError as exc:
                outcome = exc
            return outcome, rogue.requests
        finally:
            transport.close()

    return run(scenario)


def _uptime(pdu: Pdu) -> bytes:
    return response(pdu, [((1, 3, 6, 1, 2, 1, 1, 3, 0), SnmpType.TIMETICKS, 100)])


@pytest.mark.parametrize(
    "mangle",
    [
        lambda pdu: [b"\x30\x03\x02\x01"],  # truncated header
        lambda pdu: [_uptime(pdu)[:-3]],  # a real answer, cut short
        lambda pdu: [_uptime(pdu)[:20] + b"\xff" * 40],  # a real start, then noise
        lambda pdu: [b"\x30\x84\xff\xff\xff\xff" + b"\x00" * 100],  # a 4 GB length
        lambda pdu: [bytes(range(256)) * 4],
    ],
    ids=["header", "truncated", "noise", "huge-length", "bytes"],
)
def test_malformed_answers_are_dropped_and_read_as_silence(
    mangle: Callable[[Pdu], list[bytes]],
) -> None:
    outcome, requests = poll_rogue(mangle, kind="snmp_system")
    assert isinstance(outcome, CollectorError)  # nothing but a CollectorError comes out
    assert outcome.state is State.DOWN
    assert requests == 1


def test_a_walk_that_goes_backwards_is_refused() -> None:
    def backwards(pdu: Pdu) -> list[bytes]:
        # Two repetitions of every requested column: row 9, then row 3.
        rows = [((*vb.oid, row), SnmpType.INTEGER, 1) for row in (9, 3) for vb in pdu.varbinds]
        return [response(pdu, rows)]

    outcome, requests = poll_rogue(backwards)
    assert isinstance(outcome, CollectorError)
    assert outcome.state is State.UNKNOWN
    assert "walk went backwards" in str(outcome)
    assert requests == 1


def test_an_endless_table_is_cut_off() -> None:
    def endless(pdu: Pdu) -> list[bytes]:
        # Every column always has more rows: each answer moves every cursor forward.
        rows = []
        for repetition in range(pdu.error_index):
            for varbind in pdu.varbinds:
                rows.append(((*varbind.oid[:-1], varbind.oid[-1] + repetition + 1)
                             if len(varbind.oid) > 10 else (*varbind.oid, repetition + 1),
                             SnmpType.INTEGER, 1))  # fmt: skip
        return [response(pdu, rows)]

    outcome, requests = poll_rogue(endless)
    assert isinstance(outcome, CollectorError)
    assert outcome.state is State.UNKNOWN
    assert "more than 10000 rows" in str(outcome)
    assert requests < 2000


# ---- devices that answer anything ------------------------------------------------------------

_READ = [  # column (or scalar) prefixes the collectors read
    "1.3.6.1.2.1.1.3", "1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.2.2.1.3", "1.3.6.1.2.1.2.2.1.5",
    "1.3.6.1.2.1.2.2.1.7", "1.3.6.1.2.1.2.2.1.8", "1.3.6.1.2.1.2.2.1.10", "1.3.6.1.2.1.2.2.1.16",
    "1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.31.1.1.1.6", "1.3.6.1.2.1.31.1.1.1.15",
    "1.3.6.1.2.1.31.1.1.1.18", "1.3.6.1.2.1.31.1.1.1.19", "1.3.6.1.2.1.25.3.3.1.2",
    "1.3.6.1.2.1.25.2.3.1.2", "1.3.6.1.2.1.25.2.3.1.4", "1.3.6.1.2.1.25.2.3.1.5",
    "1.3.6.1.2.1.25.2.3.1.6", "1.3.6.1.4.1.28557.2.2.1.3", "1.3.6.1.4.1.28557.2.2.1.7",
    "1.3.6.1.4.1.28557.2.1.1.1.1.2", "1.3.6.1.4.1.28557.2.1.1.1.1.12",
]  # fmt: skip
_VALUES = st.one_of(
    st.tuples(st.just(SnmpType.INTEGER), st.integers(-(2**31), 2**31 - 1)),
    st.tuples(
        st.sampled_from([SnmpType.COUNTER32, SnmpType.GAUGE32, SnmpType.TIMETICKS]),
        st.integers(0, 2**32 - 1),
    ),
    st.tuples(st.just(SnmpType.COUNTER64), st.integers(0, 2**64 - 1)),
    st.tuples(st.just(SnmpType.OCTET_STRING), st.binary(max_size=40)),
    st.tuples(st.just(SnmpType.IP_ADDRESS), st.just("10.1.2.3")),
    st.tuples(st.just(SnmpType.OBJECT_IDENTIFIER), st.just((1, 3, 6, 1, 2, 1, 25, 2, 1, 2))),
    st.tuples(st.just(SnmpType.NULL), st.none()),
)
_OBJECTS = st.dictionaries(
    st.tuples(st.sampled_from(_READ), st.lists(st.integers(0, 5), min_size=1, max_size=2)).map(
        lambda t: t[0] + "." + ".".join(map(str, t[1]))
    ),
    _VALUES,
    max_size=40,
)


KINDS: list[tuple[str, dict[str, str]]] = [
    ("snmp_system", {}),
    ("snmp_interfaces", {"interfaces": "all"}),
    ("snmp_profile", {}),
    ("vpn_tunnel", {"tunnel": "t"}),
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_OBJECTS, _OBJECTS)
def test_whatever_a_device_answers_only_results_or_collector_errors_come_out(
    before: dict[str, tuple[SnmpType, object]], after: dict[str, tuple[SnmpType, object]]
) -> None:
    clock = Clock()

    async def scenario(engine: Engine) -> None:
        async with lab({A: before}) as lab_server:
            for objects in (before, after):  # two polls: rates and reboots compare them
                lab_server.agent(A).view = MibView(objects)
                for kind, params in KINDS:
                    spec = snmp_spec(kind, A, lab_server.port, platform="stoneos", **params)
                    try:
                        result = await engine.collect(spec)
                    except CollectorError:
                        continue
                    assert isinstance(result, Result)
                    assert all(math.isfinite(s.value) for s in result.samples)
                clock.advance(60)

    run(scenario, clock)
