"""Device profiles: every shipped YAML validates and is servable, each one polled from a
simulated device, VPN tunnel tables through snmp_profile and vpn_tunnel checks."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from branchops.core.profiles import ProfileError
from branchops.lab.catalogue import MODELS
from branchops.monitoring import snmp_profiles
from branchops.monitoring.collectors.base import CollectorError, ConfigError, Result, State
from branchops.monitoring.collectors.snmp_parts.profile import build_rows
from branchops.monitoring.collectors.snmp_parts.system import SYSTEM_METRICS
from branchops.monitoring.snmp_hints import LABEL_KINDS, VALUE_KINDS, Hint, parse
from branchops.monitoring.snmp_profiles import SHIPPED_DIR, Column, DeviceProfile
from branchops.snmp import SnmpType, VarBind

from .collectors_snmp_support import (
    Clock,
    Device,
    Engine,
    ProfileValues,
    by_name,
    lab,
    profile_objects,
    run,
    shipped_profiles,
    snmp_spec,
)


def parse_hint(text: str) -> Hint:
    return parse(text, profile="test", oid="1.3.6")


A = "127.9.1.1"
PROFILES = shipped_profiles()
SNMP_KINDS = {"snmp_system", "snmp_interfaces", "snmp_profile", "vpn_tunnel"}


# ---- the files ---------------------------------------------------------------------------------


def test_the_expected_profiles_ship() -> None:
    assert set(PROFILES) == {
        "hillstone-stoneos", "huawei-vrp", "h3c-comware", "ruijie-rgos", "sangfor",
        "fortinet-fortios", "cisco-iosxe",
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_object_has_a_valid_simulate_hint(name: str) -> None:
    profile = PROFILES[name]
    for scalar in profile.scalars:
        assert parse_hint(scalar.simulate).kind in VALUE_KINDS - {"tunnel-state"}, scalar.metric
    for table in profile.tables:
        for column in table.columns:
            kind = parse_hint(column.simulate).kind
            if column.label:
                assert kind in LABEL_KINDS, column.oid
            elif kind == "tunnel-state":
                assert column.states
                assert sorted(set(column.states.values())) == [0, 1]
            else:
                assert kind in VALUE_KINDS, column.oid
        if table.role == "vpn_tunnels":
            kinds = {parse_hint(c.simulate).kind for c in table.columns}
            assert {"tunnel-names", "tunnel-state"} <= kinds
            assert any(c.metric == "branchops_vpn_tunnel_up" for c in table.columns)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_unverified_profiles_say_so_at_the_top(name: str) -> None:
    text = (SHIPPED_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    header = text.split("\nname:", 1)[0]
    assert ("UNVERIFIED" in header) == (not PROFILES[name].verified)
    assert "Checked against" in header or "UNVERIFIED" in header


def test_every_demo_platform_polled_over_snmp_has_a_profile() -> None:
    templates = yaml.safe_load(
        (SHIPPED_DIR.parent / "check_templates.yaml").read_text(encoding="utf-8")
    )["templates"]
    roles = {t["role"] for t in templates if t.get("kind") in SNMP_KINDS and "role" in t}
    platforms = {m.platform for m in MODELS if m.role in roles and m.platform}
    covered = {p for profile in PROFILES.values() for p in profile.match.platforms}
    assert platforms, "the catalogue has SNMP-polled platforms"
    assert platforms <= covered, platforms - covered
    for slug in platforms:
        assert snmp_profiles.for_platform(PROFILES, slug) is not None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("name: broken\nscalars:\n  - metric: x\n    oid: not.an.oid\n", ":4: scalars.0.oid"),
        (
            "name: broken\ntables:\n  - name: t\n    columns:\n      - oid: 1.3.6\n",
            ":5: tables.0.columns.0",
        ),
        ("name: broken\nscalars: [\n", ":3: not valid YAML"),
        ("name: other\n", "must match the file name"),
    ],
)
def test_an_invalid_profile_is_rejected_with_file_and_line(
    tmp_path: Path, text: str, words: str
) -> None:
    (tmp_path / "broken.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        snmp_profiles.load_all(tmp_path)
    assert str(tmp_path / "broken.yaml") in str(caught.value)
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("percent 5..40", Hint("percent", low=5, high=40)),
        ("gauge 200 .. 3000", Hint("gauge", low=200, high=3000)),
        ("counter 1500.5/s", Hint("counter", rate=1500.5)),
        ("const -3", Hint("const", const=-3)),
        ("tunnel-state", Hint("tunnel-state")),
        ("tunnel-names", Hint("tunnel-names")),
        ("names MPU Board 0, LPU 1", Hint("names", names=("MPU Board 0", "LPU 1"))),
    ],
)
def test_hints(text: str, expected: Hint) -> None:
    assert parse_hint(text) == expected


@pytest.mark.parametrize("text", ["", "percent 40..5", "percent 5..140", "random", "names a,,b"])
def test_bad_hints(text: str) -> None:
    with pytest.raises(ValueError, match="simulate hint"):
        parse_hint(text)


# ---- each profile polled from a simulated device ----------------------------------------------


def serve(profile: DeviceProfile, values: ProfileValues, clock: Clock) -> Device:
    return Device(clock, extra=profile_objects(profile, values))


EXPECTED_SYSTEM = {  # profile -> (cpu, memory) when the device answers its hint's middle
    "hillstone-stoneos": (0.22, 1_900_000 / 4_194_304),
    "fortinet-fortios": (0.25, 0.50),
    "huawei-vrp": (0.16, 0.45),
    "h3c-comware": (0.16, 0.40),
    "cisco-iosxe": (0.19, 1_150_000 / (1_150_000 + 2_850_000)),
    "ruijie-rgos": (0.16, 0.45),
    "sangfor": (0.25, None),
}


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_snmp_system_reads_each_profile(name: str) -> None:
    clock = Clock()
    profile = PROFILES[name]

    async def scenario(engine: Engine) -> Result:
        device = serve(profile, ProfileValues(tunnels={"to-HQ": True}), clock)
        async with lab({A: device}) as server:
            platform = profile.match.platforms[0]
            return await engine.collect(snmp_spec("snmp_system", A, server.port, platform=platform))

    result = run(scenario, clock)
    cpu, memory = EXPECTED_SYSTEM[name]
    assert by_name(result, "branchops_cpu_utilisation_ratio") == pytest.approx(cpu)
    assert by_name(result, "branchops_memory_utilisation_ratio") == (
        None if memory is None else pytest.approx(memory)
    )
    assert by_name(result, "branchops_snmp_uptime_seconds") == pytest.approx(1000)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_snmp_profile_reads_what_snmp_system_does_not(name: str) -> None:
    clock = Clock()
    profile = PROFILES[name]
    own = [s.metric for s in profile.scalars if s.metric not in SYSTEM_METRICS] + [
        c.metric for t in profile.tables for c in t.columns
        if c.metric and c.metric not in SYSTEM_METRICS
    ]  # fmt: skip

    async def scenario(engine: Engine) -> Result:
        device = serve(profile, ProfileValues(tunnels={"to-HQ": True, "to-DR": True}), clock)
        async with lab({A: device}) as server:
            spec = snmp_spec("snmp_profile", A, server.port, profile=name)
            return await engine.collect(spec)

    result = run(scenario, clock)
    assert result.state is State.UP
    assert {s.name for s in result.samples} == set(own)
    if not own:
        assert "nothing beyond CPU and memory" in result.summary
    assert not {s.name for s in result.samples} & SYSTEM_METRICS  # never the same series twice


@pytest.mark.parametrize("name", ["hillstone-stoneos", "fortinet-fortios"])
def test_a_tunnel_going_down_degrades_the_profile_check(name: str) -> None:
    clock = Clock()
    values = ProfileValues(
        tunnels={"to-HQ": True, "to-DR": True}, metrics={"branchops_sessions": 1234}
    )

    async def scenario(engine: Engine) -> list[Result]:
        device = serve(PROFILES[name], values, clock)
        async with lab({A: device}) as server:
            spec = snmp_spec(
                "snmp_profile", A, server.port, platform=PROFILES[name].match.platforms[0]
            )
            before = await engine.collect(spec)
            values.tunnels["to-DR"] = False
            return [before, await engine.collect(spec)]

    before, after = run(scenario, clock)
    assert before.state is State.UP
    assert before.summary == "2 tunnels: 2 up; sessions 1,234"
    assert by_name(after, "branchops_vpn_tunnel_up", tunnel="to-DR") == 0.0
    assert by_name(after, "branchops_vpn_tunnel_up", tunnel="to-HQ") == 1.0
    assert after.state is State.DEGRADED
    assert after.error == "tunnels down: to-DR"
    assert after.summary.startswith("2 tunnels: 1 up, 1 down (to-DR)")


def test_a_device_that_answers_none_of_the_profile_is_unknown() -> None:
    clock = Clock()

    async def scenario(engine: Engine) -> Result:
        async with lab({A: Device(clock)}) as server:
            return await engine.collect(
                snmp_spec("snmp_profile", A, server.port, platform="fortios")
            )

    result = run(scenario, clock)
    assert result.state is State.UNKNOWN
    assert "wrong profile?" in result.error


def test_snmp_profile_needs_a_profile() -> None:
    with pytest.raises(ConfigError, match="no SNMP device profile for platform 'linux'"):
        run(lambda engine: engine.collect(snmp_spec("snmp_profile", A, 161, platform="linux")))


def test_rows_sharing_a_name_are_combined() -> None:
    # FortiGate: one row per phase-2 selector, all named after their phase 1.
    state = Column(oid="1.3.6.1.4.1.1.20", metric="up", states={1: 0, 2: 1})
    octets = Column(oid="1.3.6.1.4.1.1.18", metric="octets", kind="counter")
    rtt = Column(oid="1.3.6.1.4.1.1.8", metric="rtt", scale=0.001)

    def cells(*values: int) -> dict[tuple[int, ...], VarBind]:
        return {(n,): VarBind((n,), SnmpType.INTEGER, v) for n, v in enumerate(values, start=1)}

    labels = {(n,): VarBind((n,), SnmpType.OCTET_STRING, name)
              for n, name in enumerate([b"hq", b"hq", b"dr"], start=1)}  # fmt: skip
    rows = build_rows(
        [state, octets, rtt], labels, [cells(2, 1, 2), cells(100, 50, 7), cells(10, 30, 5)]
    )
    assert [(r.label, r.values) for r in rows] == [
        ("hq", {"up": 0, "octets": 150, "rtt": 0.03}),
        ("dr", {"up": 1, "octets": 7, "rtt": 0.005}),
    ]


# ---- vpn_tunnel ---------------------------------------------------------------------------------

LAB_VPN = DeviceProfile.model_validate(
    {
        "name": "lab-vpn",
        "match": {"platforms": ["labos"]},
        "tables": [
            {
                "name": "tunnels",
                "role": "vpn_tunnels",
                "columns": [
                    {
                        "oid": "1.3.6.1.4.1.99999.1.1.2",
                        "label": "tunnel",
                        "simulate": "tunnel-names",
                    },
                    {
                        "oid": "1.3.6.1.4.1.99999.1.1.5",
                        "metric": "branchops_vpn_tunnel_up",
                        "states": {1: 1, 2: 0},
                        "simulate": "tunnel-state",
                    },
                    {
                        "oid": "1.3.6.1.4.1.99999.1.1.8",
                        "metric": "branchops_vpn_tunnel_rtt_seconds",
                        "scale": 0.001,
                        "simulate": "gauge 8..40",
                    },
                ],
            }
        ],
    }
)


def tunnel_spec(port: int, link: str, check_id: int = 1, **params: object) -> object:
    return snmp_spec(
        "vpn_tunnel", A, port, platform="labos", link=link, check_id=check_id, **params
    )  # type: ignore[arg-type]


def run_vpn(scenario: object, clock: Clock) -> object:
    return run(scenario, clock, profiles={**PROFILES, "lab-vpn": LAB_VPN})  # type: ignore[arg-type]


def test_a_tunnel_by_its_link_name_with_its_rtt() -> None:
    clock = Clock()
    values = ProfileValues(tunnels={"BR-0001-HQ": True, "BR-0001-DR": True})

    async def scenario(engine: Engine) -> list[Result]:
        async with lab({A: serve(LAB_VPN, values, clock)}) as server:
            results = [await engine.collect(tunnel_spec(server.port, "BR-0001-DR"))]  # type: ignore[arg-type]
            values.tunnels["BR-0001-DR"] = False
            results.append(await engine.collect(tunnel_spec(server.port, "BR-0001-DR")))  # type: ignore[arg-type]
            results.append(await engine.collect(tunnel_spec(server.port, "x", tunnel="BR-0001-HQ")))  # type: ignore[arg-type]
            return results

    up, down, by_param = run_vpn(scenario, clock)  # type: ignore[misc]
    assert up.state is State.UP
    assert by_name(up, "branchops_vpn_tunnel_up", tunnel="BR-0001-DR") == 1.0
    assert by_name(up, "branchops_vpn_tunnel_rtt_seconds") == pytest.approx(0.024)
    assert up.summary == "up, rtt 24.0 ms"
    assert down.state is State.DOWN
    assert down.summary.startswith("down (state 2)")
    assert by_name(down, "branchops_vpn_tunnel_up") == 0.0
    assert by_param.state is State.UP
    assert by_name(by_param, "branchops_vpn_tunnel_up", tunnel="BR-0001-HQ") == 1.0


def test_a_missing_tunnel_is_unknown_and_lists_what_is_there() -> None:
    clock = Clock()
    values = ProfileValues(tunnels={"BR-0001-HQ": True, "BR-0001-DR": True})

    async def scenario(engine: Engine) -> None:
        async with lab({A: serve(LAB_VPN, values, clock)}) as server:
            await engine.collect(tunnel_spec(server.port, "BR-0002-HQ"))  # type: ignore[arg-type]

    with pytest.raises(CollectorError) as caught:
        run_vpn(scenario, clock)
    assert caught.value.state is State.UNKNOWN
    assert "tunnel 'BR-0002-HQ' not found on 127.9.1.1 (2 tunnels: BR-0001-DR, BR-0001-HQ)" in str(
        caught.value
    )


def test_many_tunnel_checks_on_one_concentrator_share_one_walk() -> None:
    clock = Clock()
    names = [f"BR-{n:04d}-HQ" for n in range(1, 201)]
    values = ProfileValues(tunnels=dict.fromkeys(names, True))

    async def scenario(engine: Engine) -> tuple[list[Result], int, list[Result], int]:
        async with lab({A: serve(LAB_VPN, values, clock)}) as server:
            stats = server.agent(A).stats
            first = await asyncio.gather(
                *(
                    engine.collect(tunnel_spec(server.port, name, n))  # type: ignore[arg-type]
                    for n, name in enumerate(names)
                )
            )
            walk_and_gets = stats.requests
            clock.advance(60)
            again = await asyncio.gather(
                *(
                    engine.collect(tunnel_spec(server.port, name, n))  # type: ignore[arg-type]
                    for n, name in enumerate(names)
                )
            )
            return first, walk_and_gets, again, stats.requests - walk_and_gets

    first, first_requests, again, again_requests = run_vpn(scenario, clock)  # type: ignore[misc]
    assert all(r.state is State.UP for r in first + again)
    assert first_requests <= 200 + 10  # one walk of 200 names (a few GETBULKs), one GET each
    assert again_requests == 200  # the directory is reused: one GET per check


def test_tunnels_that_moved_rows_are_found_again() -> None:
    clock = Clock()
    values = ProfileValues(tunnels={"BR-0001-HQ": True, "BR-0001-DR": False})

    async def scenario(engine: Engine) -> Result:
        async with lab({A: serve(LAB_VPN, values, clock)}) as server:
            await engine.collect(tunnel_spec(server.port, "BR-0001-DR"))  # type: ignore[arg-type]
            # The device renumbers its tunnels: another tunnel now sits at DR's old row.
            moved = ProfileValues(tunnels={"BR-0001-DR": False, "BR-0001-HQ": True})
            server.agent(A).view = serve(LAB_VPN, moved, clock).view()
            return await engine.collect(tunnel_spec(server.port, "BR-0001-DR"))  # type: ignore[arg-type]

    result = run_vpn(scenario, clock)
    assert result.state is State.DOWN  # DR's own row, not HQ's that took its place
    assert by_name(result, "branchops_vpn_tunnel_up", tunnel="BR-0001-DR") == 0.0


def test_vpn_tunnel_needs_a_tunnel_table() -> None:
    async def scenario(engine: Engine) -> Result:
        return await engine.collect(snmp_spec("vpn_tunnel", A, 161, platform="vrp", link="L1"))

    with pytest.raises(ConfigError, match="'huawei-vrp' has no vpn_tunnels table"):
        run(scenario)


def test_a_tunnel_the_branch_cannot_report_is_read_from_the_concentrator() -> None:
    clock = Clock()
    concentrator = "127.9.1.2"
    values = ProfileValues(tunnels={"BR-0008-HQ": True, "BR-0009-HQ": False})

    async def scenario(engine: Engine) -> list[Result]:
        # The branch firewall runs Sangfor (no tunnel table); the concentrator has one.
        async with lab({concentrator: serve(LAB_VPN, values, clock)}) as server:
            results = []
            for link in ("BR-0008-HQ", "BR-0009-HQ"):
                spec = snmp_spec("vpn_tunnel", A, server.port, platform="sangfor", link=link)
                far = replace(
                    spec, far_target=concentrator, far_platform="labos", far_device="DC-HQ-VPN01"
                )
                results.append(await engine.collect(far))
            return results

    up, down = run_vpn(scenario, clock)  # type: ignore[misc]
    assert up.state is State.UP
    assert up.summary.endswith("(seen from DC-HQ-VPN01)")
    assert by_name(up, "branchops_vpn_tunnel_up", tunnel="BR-0008-HQ") == 1.0
    assert down.state is State.DOWN


def test_vpn_tunnel_needs_a_name() -> None:
    async def scenario(engine: Engine) -> Result:
        return await engine.collect(snmp_spec("vpn_tunnel", A, 161, platform="stoneos"))

    with pytest.raises(ConfigError, match="no tunnel name"):
        run(scenario)


def test_profiles_loaded_after_the_collectors_were_built_are_used() -> None:
    clock = Clock()

    async def scenario(engine: Engine) -> Result:
        engine.collector("snmp_profile")  # built first, as the engine may
        engine.context.profiles = dict(PROFILES)  # then the engine (re)loads the profiles
        device = serve(PROFILES["fortinet-fortios"], ProfileValues(tunnels={"hq": True}), clock)
        async with lab({A: device}) as server:
            return await engine.collect(
                snmp_spec("snmp_profile", A, server.port, platform="fortios")
            )

    assert run(scenario, clock, profiles={}).state is State.UP
