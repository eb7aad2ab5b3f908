"""End to end: the lab kills the HQ VPN concentrator; the engine sees it, the pipeline makes
one root alert with every branch's tunnel as a symptom, and exactly one message reaches a
DingTalk robot (a real signature-checking peer on loopback). Healing resolves everything
and says so once."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from branchops.alerts.choices import AlertStatus
from branchops.alerts.models import Alert, Channel, EscalationPolicy, EscalationStep, Route
from branchops.alerts.transports.testing import Received, http_peer, json_answer
from branchops.core.db import in_thread
from branchops.lab.estate import build, load
from branchops.lab.sim import Lab, LabConfig
from branchops.lab.spec import HQ_CONCENTRATOR
from branchops.monitoring import services
from branchops.monitoring.engine.runner import Engine, EngineOptions
from branchops.monitoring.metrics.sqlite import SqliteMetricStore
from branchops.monitoring.models import CheckTemplate, SnmpCredential

pytestmark = pytest.mark.django_db(transaction=True)
INTERVAL = 5
SECRET = "SEC-e2e-robot"
BRANCHES = 4


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dingtalk_robot(messages: list[dict[str, Any]]) -> Any:
    """A robot that checks DingTalk's signature the documented way and keeps what it got."""

    def handle(request: Received) -> Any:
        query = parse_qs(urlsplit(request.target).query)
        timestamp, sign = query["timestamp"][0], query["sign"][0]
        mac = hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256)
        fresh = abs(time.time() * 1000 - int(timestamp)) < 3_600_000
        if not (fresh and hmac.compare_digest(sign, base64.b64encode(mac.digest()).decode())):
            return json_answer({"errcode": 310000, "errmsg": "sign not match"})
        messages.append(request.json())
        return json_answer({"errcode": 0, "errmsg": "ok"})

    return handle


def on_call_robot(url: str) -> None:
    channel = Channel.objects.create(name="NOC DingTalk", kind="dingtalk", per_minute=20)
    channel.set_secrets({"url": f"{url}/robot/send?access_token=t0k3n", "secret": SECRET})
    channel.save()
    policy = EscalationPolicy.objects.create(name="NOC")
    EscalationStep.objects.create(policy=policy, level=1, delay_minutes=0).channels.add(channel)
    # What this lab runs (no NTP, no TLS, no HTTPS front ends here): reachability, SNMP and
    # tunnels; the other checks of the estate fail on purpose and would only add noise.
    kinds = {"kind": "~icmp|snmp_.*|vpn_tunnel"}
    Route.objects.create(name="network", policy=policy, max_severity=3, matchers=kinds)


async def until(predicate: Any, timeout: float) -> float:
    """Seconds it took for ``predicate()`` to hold (it is polled); fails after ``timeout``."""
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.2)
    return time.monotonic() - began


def storm_over() -> bool:
    storm = Alert.objects.filter(device__name=HQ_CONCENTRATOR) | Alert.objects.filter(
        name="vpn-down"
    )
    return not storm.filter(status=AlertStatus.FIRING).exists()


async def until_in_thread(predicate: Any, timeout: float) -> None:
    """Like ``until`` for a predicate that reads the database (off the event loop)."""
    began = time.monotonic()
    while not await in_thread(predicate):
        if time.monotonic() - began > timeout:
            return  # the assertions below say what is still firing
        await asyncio.sleep(0.5)


def test_hq_concentrator_down_sends_one_message_and_healing_one_more(tmp_path: Path) -> None:
    load(build(branches=BRANCHES, seed=11))
    SnmpCredential.objects.filter(name="default").update(port=free_udp_port())
    CheckTemplate.objects.update(interval_s=INTERVAL, timeout_s=1.5)
    services.sync()
    store = SqliteMetricStore(tmp_path / "metrics.sqlite3")
    config = LabConfig(
        node_exporter_port=0, tls_port=None, https_port=None, ntp_port=None,
        control_port=None, nft_table=f"bo_storm_{int(time.time())}",
    )  # fmt: skip
    messages: list[dict[str, Any]] = []

    async def scenario() -> dict[str, Any]:
        async with http_peer(dingtalk_robot(messages)) as robot:
            await in_thread(on_call_robot, robot.url)
            lab = Lab(config=config)
            await lab.start()
            if not lab.icmp_available()[0]:
                await lab.stop()
                pytest.skip("dropping ICMP to a simulated device needs nftables and root")
            engine = Engine(store, EngineOptions(metrics_port=None, reload_s=3600))
            stop = asyncio.Event()
            running = asyncio.create_task(engine.run(stop))
            seen: dict[str, Any] = {}
            try:
                await asyncio.sleep(INTERVAL + 3)  # every check has run once: all healthy
                seen["before"] = len(messages)
                lab.inject("device-down", HQ_CONCENTRATOR)
                seen["to_message_s"] = await until(lambda: messages, timeout=3 * INTERVAL + 10)
                await asyncio.sleep(INTERVAL + 2)  # every branch's tunnel check has failed
                seen["during"] = list(messages)
                lab.heal(HQ_CONCENTRATOR)
                await until(lambda: len(messages) >= 2, timeout=3 * INTERVAL + 10)
                # The tunnels come back at their next run, up to one interval after the root.
                await until_in_thread(storm_over, timeout=2 * INTERVAL + 5)
                await asyncio.sleep(2)  # anything said late would have arrived by now
                seen["health"] = engine.health_page()
            finally:
                stop.set()
                await running
                await lab.stop()
            return seen

    seen = asyncio.run(scenario())
    assert seen["before"] == 0, [m["markdown"]["title"] for m in messages]
    titles = [m["markdown"]["title"] for m in messages]
    assert len(seen["during"]) == 1, titles
    text = seen["during"][0]["markdown"]["text"]
    assert HQ_CONCENTRATOR in text
    root = Alert.objects.get(device__name=HQ_CONCENTRATOR, name="device-down")
    assert root.affected_sites >= BRANCHES
    tunnels = Alert.objects.filter(name="vpn-down")
    assert tunnels.count() >= BRANCHES
    assert all(t.root_id == root.pk for t in tunnels)
    assert len(messages) == 2, titles  # the root's firing and its resolution, nothing else
    assert 'branchops_notifications_total{outcome="sent"} 2' in seen["health"]
    assert 'branchops_alerts_total{event="symptom"}' in seen["health"]
    storm = Alert.objects.filter(pk=root.pk) | tunnels
    assert not storm.filter(status=AlertStatus.FIRING).exists()
