"""The lab's SNMP agents, read by our client and by net-snmp: each device at its own address,
system group, interfaces, host resources, profile OIDs, tunnel rows, moving counters."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from branchops.lab.estate import build
from branchops.lab.sim import inventory as inventory_module
from branchops.lab.sim import simulation
from branchops.lab.sim.inventory import Inventory, SnmpAccess
from branchops.lab.sim.lab import Lab
from branchops.lab.sim.snmpview import Cursor, ShapeBook, compile_profile
from branchops.monitoring.snmp_profiles import SHIPPED_DIR, load_all
from branchops.snmp import AuthProtocol, PrivProtocol, SnmpTimeout, SnmpType, Target, UsmUser

from .support import (
    COMMUNITY,
    HR_PROCESSOR_LOAD,
    IF_ALIAS,
    IF_HC_IN_OCTETS,
    IF_IN_OCTETS,
    SEED,
    SYS_NAME,
    SYS_OBJECT_ID,
    SYS_UPTIME,
    TODAY,
    FakeClock,
    client,
    config,
    load_estate,
    netsnmp,
    pick,
    profile_cpu,
    run,
    target,
    tunnel_columns,
)

needs_netsnmp = pytest.mark.skipif(
    not __import__("shutil").which("snmpbulkwalk"), reason="net-snmp tools are not installed"
)


@pytest.fixture
def inventory(db: None) -> Inventory:
    return load_estate()


def test_every_device_answers_at_its_own_address_on_the_credentials_port(
    inventory: Inventory,
) -> None:
    async def scenario() -> None:
        async with Lab(inventory, config()) as lab, client() as snmp:
            assert lab.snmp_port == inventory.snmp.port  # from the "default" credential
            live = lab.estate.live()
            assert len(live) == len(lab.snmp or [])
            for device in live:
                (name,) = await snmp.get(target(lab, device), [SYS_NAME])
                assert name.value == device.name.encode()
            with pytest.raises(SnmpTimeout):  # a wrong community gets no answer
                await snmp.get(target(lab, live[0], community="public"), [SYS_NAME])

    run(scenario())


def test_a_hillstone_firewall_serves_its_profile_and_its_tunnels(inventory: Inventory) -> None:
    async def scenario() -> None:
        async with Lab(inventory, config()) as lab, client() as snmp:
            firewall = pick(lab, "firewall", platform="stoneos", site="RC-")
            at = target(lab, firewall)
            name_column, state_column = tunnel_columns(firewall)
            object_id, cpu = await snmp.get(at, [SYS_OBJECT_ID, profile_cpu(firewall)])
            assert object_id.value[:7] == (1, 3, 6, 1, 4, 1, 28557)  # the profile's prefix
            assert cpu.type is SnmpType.GAUGE32
            assert 0 < cpu.value <= 100
            names = [vb.value for vb in await snmp.walk(at, name_column)]
            code = firewall.spec.site
            assert names == [f"{code} VPN HQ".encode(), f"{code} VPN DR".encode()]
            states = [vb.value for vb in await snmp.walk(at, state_column)]
            assert states == [1, 1]
            hub = lab.estate.devices["DC-SH-HQ-VPN01"]
            hub_names = {vb.value for vb in await snmp.walk(target(lab, hub), name_column)}
            assert f"{code} VPN HQ".encode() in hub_names
            assert len(hub_names) == len(hub.tunnels) > 3

    run(scenario())


def test_switch_uplinks_are_named_in_ifalias(inventory: Inventory) -> None:
    async def scenario() -> None:
        async with Lab(inventory, config()) as lab, client() as snmp:
            access = pick(lab, "access-switch", site="BR-")
            aliases = [vb.value for vb in await snmp.walk(target(lab, access), IF_ALIAS)]
            uplinks = [a for a in aliases if a.startswith(b"uplink to ")]
            assert uplinks
            assert all(a == f"uplink to {access.spec.depends_on}".encode() for a in uplinks)
            core = lab.estate.devices[access.spec.depends_on or ""]
            core_aliases = [vb.value for vb in await snmp.walk(target(lab, core), IF_ALIAS)]
            assert f"downlink to {access.name}".encode() in core_aliases
            assert f"uplink to {core.spec.depends_on}".encode() in core_aliases

    run(scenario())


def test_counters_move_smoothly_wrap_and_are_deterministic(inventory: Inventory) -> None:
    clock = FakeClock()

    async def read(lab: Lab, port: int) -> tuple[int, int, int]:
        wan = pick(lab, "firewall", site="BR-")
        async with client() as snmp:
            uptime, c32, c64 = await snmp.get(
                target(lab, wan),
                [SYS_UPTIME, f"{IF_IN_OCTETS}.{port}", f"{IF_HC_IN_OCTETS}.{port}"],
            )
        return int(uptime.value), int(c32.value), int(c64.value)  # type: ignore[arg-type]

    async def scenario() -> None:
        async with Lab(inventory, config(seed=SEED), clock=clock) as lab:
            uptime, c32, c64 = await read(lab, 1)
            assert c32 == c64 & 0xFFFFFFFF
            assert c64 > 2**32
            rates = []
            for _ in range(5):
                clock.advance(60)
                uptime2, c32_2, c64_2 = await read(lab, 1)
                assert uptime2 - uptime == 6000
                rates.append((c64_2 - c64) / 60)
                assert (c32_2 - c32) % 2**32 == c64_2 - c64
                uptime, c32, c64 = uptime2, c32_2, c64_2
            assert all(rate > 0 for rate in rates)
            assert max(rates) < 3 * min(rates)  # a walk around a level, not jumps
            clock.advance(3 * 3600)  # a busy WAN port wraps its Counter32 within hours
            uptime, c32_later, c64_later = await read(lab, 1)
            assert c64_later - c64 > 2**32
            assert c32_later == c64_later & 0xFFFFFFFF
        # Same seed, same clock from the start: the same values; another seed: others.
        elapsed = clock.now - FakeClock().now
        for seed, same in ((SEED, True), (99, False)):
            twin_clock = FakeClock()
            async with Lab(inventory, config(seed=seed), clock=twin_clock) as twin:
                twin_clock.advance(elapsed)
                assert (await read(twin, 1) == (uptime, c32_later, c64_later)) is same

    run(scenario())


def test_servers_answer_host_resources(inventory: Inventory) -> None:
    async def scenario() -> None:
        async with Lab(inventory, config()) as lab, client() as snmp:
            server = pick(lab, "server")
            loads = await snmp.walk(target(lab, server), HR_PROCESSOR_LOAD)
            assert len(loads) == server.hardware.cpus
            assert all(0 <= int(vb.value) <= 100 for vb in loads)  # type: ignore[arg-type]
            storage = await snmp.walk(target(lab, server), "1.3.6.1.2.1.25.2.3.1.3")
            assert storage[0].value == b"Physical memory"
            assert len(storage) == 1 + len(server.hardware.disks)

    run(scenario())


def test_a_v3_credential_makes_v3_agents(db: None) -> None:
    inventory = load_estate(v3=True)
    user = UsmUser("labops", AuthProtocol.SHA, "authpass123", PrivProtocol.AES, "privpass123")

    async def scenario() -> None:
        async with Lab(inventory, config()) as lab, client() as snmp:
            device = pick(lab, "core-switch")
            at = Target(device.address, lab.snmp_port, user, timeout=1.0, retries=0)
            (name,) = await snmp.get(at, [SYS_NAME])
            assert name.value == device.name.encode()
            with pytest.raises(SnmpTimeout):
                await snmp.get(target(lab, device), [SYS_NAME])  # no v2c community

    assert "SNMPv3" in SnmpAccess(1, "3", users=(user,)).describe()
    run(scenario())


@needs_netsnmp
def test_net_snmp_reads_the_lab(inventory: Inventory, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with Lab(inventory, config()) as lab:
            firewall = pick(lab, "firewall", platform="stoneos", site="RC-")
            peer = f"{firewall.address}:{lab.snmp_port}"
            args = ("-v2c", "-c", COMMUNITY, peer)
            code, out = await netsnmp(tmp_path, "snmpget", *args, SYS_NAME, profile_cpu(firewall))
            assert code == 0, out
            assert f'STRING: "{firewall.name}"' in out
            assert "Gauge32" in out
            code, out = await netsnmp(tmp_path, "snmpbulkwalk", *args, tunnel_columns(firewall)[0])
            assert code == 0, out
            assert f'"{firewall.spec.site} VPN HQ"' in out
            code, out = await netsnmp(tmp_path, "snmpbulkwalk", *args, "1.3.6.1.2.1.2.2.1.2")
            assert code == 0, out
            assert out.count("STRING:") == len(firewall.layout.ports), out

    run(scenario())


def test_alike_devices_share_one_view() -> None:
    profiles = load_all(SHIPPED_DIR)
    estate = build(40, seed=SEED, today=TODAY)
    access = SnmpAccess(1161, "2c", (COMMUNITY,))
    inventory = inventory_module.from_estate(estate, access, profiles)
    built = simulation.build(inventory, SEED, time.time())
    book = ShapeBook(Cursor(), {n: compile_profile(p) for n, p in profiles.items()})
    views = {id(book.view_for(d)) for d in built.live()}
    assert len(views) == len(book) < len(built.live()) / 5
