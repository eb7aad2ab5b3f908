"""End to end: the lab simulates a small estate, the engine watches it, a fault injected in
the lab changes the affected checks within one interval, and healing brings them back."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from branchops.cmdb.models import Device
from branchops.lab.estate import build, load
from branchops.lab.sim import Lab, LabConfig
from branchops.monitoring import services
from branchops.monitoring.engine.runner import Engine, EngineOptions
from branchops.monitoring.metrics.base import Selector
from branchops.monitoring.metrics.sqlite import SqliteMetricStore
from branchops.monitoring.models import CheckStatus, CheckTemplate, SnmpCredential

pytestmark = pytest.mark.django_db(transaction=True)
INTERVAL = 4  # seconds: every check runs this often here, so one interval is short


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def states(device: str) -> dict[str, str]:
    return dict(
        CheckStatus.objects.filter(for_check__device__name=device).values_list(
            "for_check__kind", "state"
        )
    )


async def settle(seconds: float) -> None:
    await asyncio.sleep(seconds)  # real time: the lab and the engine are real processes' parts


def test_a_fault_changes_state_within_one_interval_and_heals(tmp_path: Path) -> None:
    load(build(branches=2, seed=11))
    SnmpCredential.objects.filter(name="default").update(port=free_udp_port())
    CheckTemplate.objects.update(interval_s=INTERVAL, timeout_s=1.5)
    services.sync()
    firewall = Device.objects.filter(site__code="BR-0001", role__slug="firewall").get()
    store = SqliteMetricStore(tmp_path / "metrics.sqlite3")
    config = LabConfig(
        node_exporter_port=0,
        tls_port=None,
        https_port=None,
        ntp_port=None,
        control_port=None,
        nft_table=f"bo_e2e_{int(time.time())}",
    )

    async def scenario() -> dict[str, Any]:
        lab = Lab(config=config)
        status = await lab.start()
        engine = Engine(store, EngineOptions(metrics_port=None, reload_s=3600))
        stop = asyncio.Event()
        running = asyncio.create_task(engine.run(stop))
        seen: dict[str, Any] = {"icmp_faults": lab.icmp_available()[0]}
        assert status["simulated"] > 0
        try:
            await settle(INTERVAL + 3)
            seen["healthy"] = await asyncio.to_thread(states, firewall.name)
            lab.inject("device-down", firewall.name)
            await settle(INTERVAL + 2.5)
            seen["faulty"] = await asyncio.to_thread(states, firewall.name)
            lab.heal(firewall.name)
            await settle(INTERVAL + 2.5)
            seen["healed"] = await asyncio.to_thread(states, firewall.name)
        finally:
            began = time.monotonic()
            stop.set()
            await running
            seen["stop_seconds"] = time.monotonic() - began
            await lab.stop()
        return seen

    seen = asyncio.run(scenario())
    snmp_kinds = ("snmp_system", "snmp_interfaces", "snmp_profile")
    assert all(seen["healthy"][k] == "up" for k in snmp_kinds), seen["healthy"]
    assert all(seen["faulty"][k] == "down" for k in snmp_kinds), seen["faulty"]
    assert all(seen["healed"][k] == "up" for k in snmp_kinds), seen["healed"]
    assert seen["healthy"]["icmp"] == "up"
    if seen["icmp_faults"]:  # nftables needs root; without it the lab stops SNMP and TCP only
        assert seen["faulty"]["icmp"] == "down"
        assert seen["healed"]["icmp"] == "up"
    # The results reached the metric store, labelled with the device.
    up = store.query_range(
        Selector("branchops_check_up", {"device": firewall.name}), time.time() - 600, time.time()
    )
    kinds = sorted(dict(series.labels)["kind"] for series in up)
    # Its four own checks, and the checks of its two VPN tunnels (run on the firewall).
    assert kinds == [
        "icmp",
        "snmp_interfaces",
        "snmp_profile",
        "snmp_system",
        "vpn_tunnel",
        "vpn_tunnel",
    ]
    assert seen["stop_seconds"] < 10  # in-flight runs end within their timeouts
