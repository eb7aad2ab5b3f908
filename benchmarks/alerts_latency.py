"""Latency: from a fault in the lab to the message in the on-call group.

A child loads a small estate (20 branches), sets every check template to a 10 s interval,
starts the lab (simulated SNMP agents, ICMP faults by nftables rules on loopback) and the
engine (``monitoring.engine.runner.Engine``: scheduler, ingest, the alert pipeline and the
outbox), with a route for reachability, SNMP and tunnel alerts to a DingTalk channel whose
robot is ``alerts_receiver`` (it checks the signature as DingTalk does).

After one healthy interval, ``device-down`` is injected on one device of each branch in
turn (access switch, server, core switch, Wi-Fi controller, ... never the edge firewall,
whose tunnels would add alerts of their own): the clock runs from the injection to the
robot's receipt of the message naming the device; the device is then healed and the next
one injected at once. Also reported: the time from the failing check's own result (its
state change row) to the message, i.e. without the wait for the check's next run.

SQLite only: one alert at a time is no load for either database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Instance
from alerts_common import child_main, migrated, run_child
from alerts_receiver import ROBOT_SECRET, Receiver

SEED = 11
ROLES = ("access-switch", "server", "core-switch", "wifi-controller", "behaviour-gateway")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _setup(cfg: dict[str, Any]) -> list[tuple[str, int]]:
    """The estate, its checks every ``interval_s``, the robot's route; the devices to kill
    (name, ICMP check id)."""
    from branchops.alerts.models import Channel, EscalationPolicy, EscalationStep, Route
    from branchops.lab.estate import build, load
    from branchops.monitoring import services
    from branchops.monitoring.models import Check, CheckTemplate, SnmpCredential

    load(build(cfg["branches"], seed=SEED))
    SnmpCredential.objects.filter(name="default").update(port=_free_udp_port())
    CheckTemplate.objects.update(interval_s=cfg["interval_s"], timeout_s=1.5)
    services.sync()
    channel = Channel.objects.create(name="NOC robot", kind="dingtalk", per_minute=60)
    url = f"{cfg['url']}/robot/send?access_token=bench"
    channel.set_secrets({"url": url, "secret": ROBOT_SECRET})
    channel.save()
    policy = EscalationPolicy.objects.create(name="NOC")
    EscalationStep.objects.create(policy=policy, level=1, delay_minutes=0).channels.add(channel)
    # What the lab here runs: reachability, SNMP and tunnels (no NTP, TLS or HTTPS peers).
    Route.objects.create(
        name="network", policy=policy, max_severity=3, matchers={"kind": "~icmp|snmp_.*|vpn_tunnel"}
    )
    checks = Check.objects.filter(kind="icmp", device__site__kind="branch")
    by_site: dict[str, list[tuple[str, str, int]]] = {}
    for name, role, site, pk in checks.values_list(
        "device__name", "device__role__slug", "device__site__code", "pk"
    ):
        by_site.setdefault(site, []).append((role, name, pk))
    chosen = []
    for n, site in enumerate(sorted(by_site)[: cfg["devices"]]):
        devices = sorted(d for d in by_site[site] if d[0] in ROLES)
        wanted = ROLES[n % len(ROLES)]
        role, name, pk = next((d for d in devices if d[0] == wanted), devices[0])
        chosen.append((name, pk))
    return chosen


def child(cfg: dict[str, Any]) -> dict[str, Any]:
    chosen = _setup(cfg)
    return asyncio.run(_scenario(cfg, chosen))


def _messages(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(url + "/stats", timeout=30) as answer:
        return json.loads(answer.read())["messages"]  # type: ignore[no-any-return]


async def _message_about(url: str, name: str, after: float, timeout: float) -> dict[str, Any]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for message in await asyncio.to_thread(_messages, url):
            if message["at"] >= after and name in message["title"] + message["text"]:
                return message
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no message about {name} within {timeout} s")


def _went_down(check: int, after: float, interval: float) -> float:
    from branchops.monitoring.models import StateChange

    # A ping sent just before the injection may be the one that times out.
    since = dt.datetime.fromtimestamp(after - interval, tz=dt.UTC)
    row = StateChange.objects.filter(for_check_id=check, state="down", at__gte=since).first()
    return row.at.timestamp() if row else float("nan")


async def _scenario(cfg: dict[str, Any], chosen: list[tuple[str, int]]) -> dict[str, Any]:
    from branchops.lab.sim import Lab, LabConfig
    from branchops.monitoring.engine.runner import Engine, EngineOptions
    from branchops.monitoring.metrics.sqlite import SqliteMetricStore

    config = LabConfig(
        node_exporter_port=0,
        tls_port=None,
        https_port=None,
        ntp_port=None,
        control_port=None,
        nft_table=f"bo_bench_alerts_{os.getpid()}",
    )
    lab = Lab(config=config)
    await lab.start()
    available, why = lab.icmp_available()
    if not available:
        await lab.stop()
        return {"skipped": f"ICMP faults need nftables and root: {why}"}
    store = SqliteMetricStore(Path(tempfile.mkdtemp(prefix="bo-lat-")) / "metrics.sqlite3")
    engine = Engine(store, EngineOptions(metrics_port=None, reload_s=3600))
    stop = asyncio.Event()
    running = asyncio.create_task(engine.run(stop))
    url, interval = cfg["url"], cfg["interval_s"]
    samples: list[dict[str, Any]] = []
    try:
        await asyncio.sleep(interval + 5)  # every check has run: all healthy
        before = len(await asyncio.to_thread(_messages, url))
        for name, check in chosen:
            injected = time.time()
            lab.inject("device-down", name)
            message = await _message_about(url, name, injected, 3 * interval + 15)
            lab.heal(name)
            failed_at = await asyncio.to_thread(_went_down, check, injected, interval)
            samples.append(
                {
                    "device": name,
                    "inject_to_message_s": message["at"] - injected,
                    "result_to_message_s": message["at"] - failed_at,
                }
            )
            print(f"     {name}: {message['at'] - injected:.2f} s", file=sys.stderr, flush=True)
        await asyncio.sleep(interval + 5)  # the last resolution
        messages = await asyncio.to_thread(_messages, url)
    finally:
        stop.set()
        await running
        await lab.stop()
        store.close()
    return {"samples": samples, "before": before, "messages": len(messages)}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency(devices: int = 20, interval_s: int = 10, branches: int = 20) -> list[dict[str, Any]]:
    if os.geteuid() != 0:
        return [{"skipped": "ICMP faults need root (nftables rules on loopback)"}]
    cfg = {"devices": devices, "interval_s": interval_s, "branches": max(branches, devices)}
    with Instance("sqlite") as inst, Receiver() as receiver:
        migrated(inst)
        figures = run_child(inst, "alerts_latency", {**cfg, "url": receiver.url})
        refused = receiver.stats()["refused"]
    if "skipped" in figures:
        return [figures]
    samples = figures["samples"]
    rows = []
    for what in ("inject_to_message_s", "result_to_message_s"):
        values = [s[what] for s in samples if s[what] == s[what]]  # no NaN
        rows.append(
            {
                "measure": what,
                "n": len(values),
                "p50_s": round(statistics.median(values), 2),
                "p99_s": round(_pct(values, 0.99), 2),
                "min_s": round(min(values), 2),
                "max_s": round(max(values), 2),
                "check_interval_s": interval_s,
                "messages_before": figures["before"],
                "messages_total": figures["messages"],
                "bad_signatures": refused,
            }
        )
    return rows


if __name__ == "__main__":
    child_main(child)
