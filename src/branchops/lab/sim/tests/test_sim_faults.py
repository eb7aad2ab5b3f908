"""Faults change what the estate answers, for real: SNMP silence and values, ICMP through
nftables (when this host allows it), tunnels on both ends; heal brings everything back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from branchops.lab.sim.faults import FaultError
from branchops.lab.sim.inventory import Inventory
from branchops.lab.sim.lab import Lab
from branchops.lab.sim.model import SimDevice
from branchops.snmp import SnmpTimeout

from .support import (
    HR_PROCESSOR_LOAD,
    IF_HC_IN_OCTETS,
    IF_OPER,
    SYS_NAME,
    SYS_UPTIME,
    FakeClock,
    client,
    config,
    load_estate,
    nft_works,
    pick,
    ping_async,
    profile_cpu,
    remove_test_table,
    run,
    table_exists,
    target,
    tunnel_columns,
)

pytestmark = pytest.mark.django_db
needs_nft = pytest.mark.skipif(not nft_works(), reason="nftables needs root and the nft command")


@pytest.fixture(autouse=True)
def _no_table_left() -> Iterator[None]:
    yield
    remove_test_table()  # even when a test failed before its lab stopped


@pytest.fixture
def inventory() -> Inventory:
    return load_estate()


async def answers(lab: Lab, device: SimDevice) -> bool:
    async with client() as snmp:
        try:
            await snmp.get(target(lab, device), [SYS_NAME])
        except SnmpTimeout:
            return False
    return True


async def tunnel_states(lab: Lab, device: SimDevice) -> dict[bytes, int]:
    name_column, state_column = tunnel_columns(device)
    async with client() as snmp:
        names = await snmp.walk(target(lab, device), name_column)
        states = await snmp.walk(target(lab, device), state_column)
    return {n.value: int(s.value) for n, s in zip(names, states, strict=True)}  # type: ignore[misc, arg-type]


def test_device_down_silences_snmp_and_icmp_and_heal_restores(inventory: Inventory) -> None:
    async def scenario() -> None:
        async with Lab(inventory, config()) as lab:
            switch = pick(lab, "core-switch", site="BR-")
            assert await answers(lab, switch)
            icmp = nft_works()
            if icmp:
                assert await ping_async(switch.address) is not None
            report = lab.inject("device-down", switch.name)
            assert report["devices"] == [switch.name]
            assert not report["warnings"]
            assert not await answers(lab, switch)
            if icmp:
                assert table_exists()
                assert await ping_async(switch.address) is None
            assert lab.heal(switch.name)["count"] == 1
            assert await answers(lab, switch)
            if icmp:
                assert await ping_async(switch.address) is not None
        assert not table_exists()  # stop removes it

    run(scenario())


def test_a_site_target_takes_every_device_of_the_site(inventory: Inventory) -> None:
    async def scenario() -> None:
        async with Lab(inventory, config()) as lab:
            # the last branch: tests running in parallel ping devices of the first one
            site = max(code for code in lab.estate.sites if code.startswith("BR-"))
            lab.inject("device-down", site)
            devices = [d for d in lab.estate.sites[site] if not d.absent]
            assert not any([await answers(lab, d) for d in devices[:3]])
            assert lab.heal(devices[0].name)["count"] == 1  # one device heals alone
            assert await answers(lab, devices[0])
            assert not await answers(lab, devices[1])
            assert lab.heal(site)["count"] == len(devices) - 1

    run(scenario())


def test_hq_concentrator_down_takes_every_branch_tunnel_to_hq_down(inventory: Inventory) -> None:
    async def scenario() -> None:
        async with Lab(inventory, config()) as lab:
            firewall = pick(lab, "firewall", platform="stoneos", site="RC-")
            code = firewall.spec.site.encode()
            assert set((await tunnel_states(lab, firewall)).values()) == {1}
            report = lab.inject("device-down", "DC-SH-HQ-VPN01")
            hub = lab.estate.devices["DC-SH-HQ-VPN01"]
            assert any(f"{len(hub.tunnels)} VPN tunnel(s) down" in e for e in report["effects"])
            states = await tunnel_states(lab, firewall)
            assert states[code + b" VPN HQ"] == 2
            assert states[code + b" VPN DR"] == 1
            assert all(not t.up() for t in hub.tunnels)
            lab.heal()
            assert set((await tunnel_states(lab, firewall)).values()) == {1}

    run(scenario())


def test_vpn_down_on_a_link_a_device_or_a_site(inventory: Inventory) -> None:
    async def scenario() -> None:
        async with Lab(inventory, config()) as lab:
            firewall = pick(lab, "firewall", platform="stoneos", site="RC-")
            code = firewall.spec.site
            hub = lab.estate.devices["DC-SH-DR-VPN01"]
            lab.inject("vpn-down", f"{code} VPN DR")
            assert (await tunnel_states(lab, firewall))[f"{code} VPN DR".encode()] == 2
            assert (await tunnel_states(lab, hub))[f"{code} VPN DR".encode()] == 2  # far end too
            assert (await tunnel_states(lab, firewall))[f"{code} VPN HQ".encode()] == 1
            lab.heal(f"{code} VPN DR")
            report = lab.inject("vpn-down", firewall.name)
            assert len(report["faults"]) == 2
            assert set((await tunnel_states(lab, firewall)).values()) == {2}
            lab.heal(firewall.name)
            lab.inject("vpn-down", code)
            assert set((await tunnel_states(lab, firewall)).values()) == {2}
            lab.heal(code)
            assert set((await tunnel_states(lab, firewall)).values()) == {1}

    run(scenario())


def test_interface_down_stops_its_counters_and_the_tunnels_over_it(inventory: Inventory) -> None:
    clock = FakeClock()

    async def read(lab: Lab, device: SimDevice, index: int) -> tuple[int, int]:
        async with client() as snmp:
            oper, octets = await snmp.get(
                target(lab, device), [f"{IF_OPER}.{index}", f"{IF_HC_IN_OCTETS}.{index}"]
            )
        return int(oper.value), int(octets.value)  # type: ignore[arg-type]

    async def scenario() -> None:
        async with Lab(inventory, config(), clock=clock) as lab:
            firewall = pick(lab, "firewall", platform="stoneos", site="RC-")
            report = lab.inject("interface-down", firewall.name)  # default: the WAN port
            wan = firewall.layout.find("ethernet0/0")
            assert wan is not None
            assert report["faults"][0]["subject"] == f"{firewall.name}:ethernet0/0"
            oper, frozen = await read(lab, firewall, wan.index)
            clock.advance(300)
            assert await read(lab, firewall, wan.index) == (2, frozen)
            assert set((await tunnel_states(lab, firewall)).values()) == {2}
            lab.heal(firewall.name)
            clock.advance(60)
            oper, octets = await read(lab, firewall, wan.index)
            assert oper == 1
            assert frozen < octets < frozen + 60 * 50e6
            lab.inject("interface-down", f"{firewall.name}:ethernet0/1")
            assert (await read(lab, firewall, 2))[0] == 2
            assert set((await tunnel_states(lab, firewall)).values()) == {1}  # not the WAN

    run(scenario())


def test_cpu_spike_reboot_and_packet_loss(inventory: Inventory) -> None:
    clock = FakeClock()

    async def scenario() -> None:
        async with Lab(inventory, config(), clock=clock) as lab, client() as snmp:
            server = pick(lab, "server")
            firewall = pick(lab, "firewall", platform="stoneos", site="RC-")
            lab.inject("cpu-spike", server.name)
            lab.inject("cpu-spike", firewall.name)
            loads = await snmp.walk(target(lab, server), HR_PROCESSOR_LOAD)
            assert min(int(vb.value) for vb in loads) >= 85  # type: ignore[arg-type]
            (cpu,) = await snmp.get(target(lab, firewall), [profile_cpu(firewall)])
            assert int(cpu.value) >= 85  # type: ignore[arg-type]
            lab.heal()
            loads = await snmp.walk(target(lab, server), HR_PROCESSOR_LOAD)
            assert max(int(vb.value) for vb in loads) < 85  # type: ignore[arg-type]

            (before,) = await snmp.get(target(lab, firewall), [f"{IF_HC_IN_OCTETS}.1"])
            report = lab.inject("reboot", firewall.name)
            assert report["faults"] == []
            assert lab.faults.faults == {}
            clock.advance(30)
            uptime, after = await snmp.get(
                target(lab, firewall), [SYS_UPTIME, f"{IF_HC_IN_OCTETS}.1"]
            )
            assert uptime.value == 3000
            assert int(after.value) < int(before.value)

            lab.inject("packet-loss", firewall.name, percent=100)
            assert not await answers(lab, firewall)
            if nft_works():
                assert await ping_async(firewall.address) is None
            lab.inject("packet-loss", firewall.name, percent=1)  # replaces the 100 %
            assert len(lab.active_faults()) == 1

    run(scenario())


def test_latency_delays_snmp_and_icmp(inventory: Inventory) -> None:
    async def scenario() -> None:
        async with Lab(inventory, config()) as lab:
            switch = pick(lab, "access-switch")
            report = lab.inject("latency", switch.name, ms=300)
            assert any("300 ms late" in e for e in report["effects"])
            started = time.monotonic()
            assert await answers(lab, switch)
            assert 0.25 < time.monotonic() - started < 0.9
            if nft_works():
                rtt = await ping_async(switch.address, timeout=2.0)
                assert rtt is not None
                assert 250 < rtt < 900
            lab.heal(switch.name)
            if nft_works():
                rtt = await ping_async(switch.address)
                assert rtt is not None
                assert rtt < 100
                await asyncio.sleep(0)
                assert not lab.echo.running

    run(scenario())


def test_wrong_requests_are_refused_with_a_reason(inventory: Inventory) -> None:
    async def scenario() -> None:
        async with Lab(inventory, config()) as lab:
            server = pick(lab, "server", site="BR-")
            cases = [
                (("melt-down", server.name), {}, "unknown-kind"),
                (("device-down", "BR-9999-FW01"), {}, "unknown-target"),
                (("packet-loss", server.name), {}, "missing-option"),
                (("packet-loss", server.name), {"percent": 101}, "bad-option"),
                (("latency", server.name), {"percent": 5}, "bad-option"),
                (("interface-down", f"{server.name}:eth99"), {}, "unknown-target"),
                (("clock-drift", server.name), {"seconds": 5}, "bad-target"),  # no NTP there
                (("vpn-down", server.name), {}, "bad-target"),
            ]
            for (kind, target_name), options, code in cases:
                with pytest.raises(FaultError) as refused:
                    lab.inject(kind, target_name, **options)
                assert refused.value.code == code, (kind, refused.value.message)
            with pytest.raises(FaultError):
                lab.heal("nowhere")
            assert lab.heal(server.name)["message"] == "nothing to heal"
            assert lab.active_faults() == []

    run(scenario())


def test_stop_removes_the_nft_table_even_after_an_error(inventory: Inventory) -> None:
    if not nft_works():
        pytest.skip("nftables needs root and the nft command")

    async def scenario() -> None:
        async def fail_inside() -> None:
            async with Lab(inventory, config()) as lab:
                lab.inject("device-down", pick(lab, "server").name)
                assert table_exists()
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await fail_inside()
        assert not table_exists()

    run(scenario())


def test_without_nftables_icmp_faults_say_so_and_the_rest_still_works(
    inventory: Inventory,
) -> None:
    async def scenario() -> None:
        async with Lab(inventory, config(nft=False)) as lab:
            assert lab.status()["icmp"]["available"] is False
            switch = pick(lab, "core-switch")
            report = lab.inject("device-down", switch.name)
            assert any("ICMP: not available" in w for w in report["warnings"])
            assert not await answers(lab, switch)
            report = lab.inject("latency", pick(lab, "access-switch").name, ms=50)
            assert any("still answer ping" in w for w in report["warnings"])
            assert not table_exists()

    run(scenario())
