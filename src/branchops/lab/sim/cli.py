"""Command-line entry points: ``branchops lab`` (the long-running lab), ``lab fault`` and
``lab heal`` (clients of a running lab). Each returns a process exit status."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from branchops.lab.sim.client import LabRefused, LabUnavailable
from branchops.lab.sim.client import heal as heal_request
from branchops.lab.sim.client import inject as inject_request
from branchops.lab.sim.config import LabConfig, control_file
from branchops.lab.sim.lab import Lab, LabError, load_inventory

OK, REFUSED, UNAVAILABLE = 0, 1, 2
_SERVED = {
    "node_exporter": "servers",
    "esxi-tls": "hypervisors",
    "systems-https": "hosts of information systems",
}


def _say(text: str = "", *, error: bool = False) -> None:
    print(text, file=sys.stderr if error else sys.stdout, flush=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="branchops lab", description="The simulated estate on 127.0.0.0/8."
    )
    p.add_argument("--seed", type=int, help="seed of the simulated values (default 2026)")
    p.add_argument("--no-nft", action="store_true", help="do not use nftables (no ICMP faults)")
    for name in ("control", "node-exporter", "tls", "https", "ntp"):
        p.add_argument(
            f"--{name}-port",
            type=int,
            metavar="PORT",
            help="0 picks a free port, -1 turns the service off",
        )
    return p


def _config(args: argparse.Namespace) -> LabConfig:
    config = LabConfig.from_env()
    changes: dict[str, Any] = {}
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.no_nft:
        changes["nft"] = False
    for name in ("control", "node_exporter", "tls", "https", "ntp"):
        value = getattr(args, f"{name}_port")
        if value is not None:
            changes[f"{name}_port"] = None if value < 0 else value
    return replace(config, **changes)


def run_lab(argv: Sequence[str] | None = None) -> int:
    """``branchops lab``: run the simulated estate until Ctrl-C or SIGTERM."""
    args = parser().parse_args(list(argv) if argv is not None else None)
    from django.db import DatabaseError

    from branchops.cli import setup_django

    setup_django()
    try:
        config = _config(args)
        _say("Reading the estate from the database ...")
        began = time.perf_counter()
        inventory = load_inventory()
        _say(f"Read {len(inventory.devices):,} devices and {len(inventory.links):,} links "
             f"in {time.perf_counter() - began:.1f} s")  # fmt: skip
        lab = Lab(inventory, config)
        return asyncio.run(_serve(lab))
    except (LabError, ValueError) as exc:
        _say(f"branchops lab: {exc}", error=True)
        return REFUSED
    except DatabaseError as exc:
        _say(f"branchops lab: the database is not ready ({exc}); run `branchops demo`", error=True)
        return REFUSED


async def _serve(lab: Lab) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    try:
        status = await lab.start()
        print_summary(status, lab)
        await stop.wait()
        _say("Stopping the lab ...")
    finally:
        await lab.stop()
    return OK


def print_summary(status: dict[str, Any], lab: Lab) -> None:
    snmp = status["snmp"]
    absent = status["absent"]
    silent = f"; {absent:,} planned, failed or decommissioned stay silent" if absent else ""
    _say(
        f"BranchOps lab: {status['simulated']:,} devices simulated on 127.0.0.0/8 "
        f"({status['devices']:,} in the CMDB{silent})"
    )
    _say(
        f"  {'SNMP':<15} udp/{snmp['port']:<6} {snmp['agents']:,} agents "
        f"({snmp['views']} shared MIB views, {snmp['objects']:,} objects), {snmp['access']}"
    )
    for service in status["services"]:
        what = _SERVED.get(service["name"], "devices")
        tls = ", TLS" if service["tls"] else ""
        _say(f"  {service['name']:<15} tcp/{service['port']:<6} {service['devices']:,} {what}{tls}")
    if status["ntp"]:
        _say(
            f"  {'NTP':<15} udp/{status['ntp']['port']:<6} "
            f"{status['ntp']['devices']} data-centre servers"
        )
    icmp = status["icmp"]
    state = "available" if icmp["available"] else "NOT available"
    _say(f"  {'ICMP faults':<15} {state}: {icmp['detail']}")
    if status["control"]:
        where = control_file(lab.config.home) if lab.config.home else "not written"
        _say(f"  {'control API':<15} {status['control']} (token in {where})")
    _say(
        f"  {status['vpn_tunnels']:,} VPN tunnels; started in {status['started_in_s']} s, "
        f"RSS {status['rss_mb']:.0f} MB"
    )
    for note in status["notes"] + [f"not simulated: {s}" for s in status["skipped"][:10]]:
        _say(f"  note: {note}")
    _say(
        "Faults: branchops lab fault KIND TARGET; heal: branchops lab heal [TARGET | --all]; "
        "Ctrl-C stops."
    )


# ---- clients of a running lab --------------------------------------------------------------------


def run_fault(
    kind: str,
    target: str,
    *,
    percent: float | None = None,
    ms: float | None = None,
    seconds: float | None = None,
    days: float | None = None,
) -> int:
    """``branchops lab fault KIND TARGET``: print what happened; 1 refused, 2 no lab."""
    try:
        result = inject_request(kind, target, percent=percent, ms=ms, seconds=seconds, days=days)
    except LabUnavailable as exc:
        _say(f"branchops lab fault: {exc}", error=True)
        return UNAVAILABLE
    except LabRefused as exc:
        _say(f"branchops lab fault: refused: {exc.message}", error=True)
        return REFUSED
    ids = ", ".join(f"#{f['id']}" for f in result["faults"])
    _say(f"{kind} on {target}" + (f" (fault {ids})" if ids else ""))
    for line in result["effects"]:
        _say(f"  {line}")
    for line in result["warnings"]:
        _say(f"  warning: {line}", error=True)
    return OK


def run_heal(target: str | None = None, *, everything: bool = False) -> int:
    """``branchops lab heal TARGET`` or ``--all``."""
    if (target is None) == (not everything):
        _say("branchops lab heal: name a TARGET or give --all", error=True)
        return REFUSED
    try:
        result = heal_request(None if everything else target)
    except LabUnavailable as exc:
        _say(f"branchops lab heal: {exc}", error=True)
        return UNAVAILABLE
    except LabRefused as exc:
        _say(f"branchops lab heal: refused: {exc.message}", error=True)
        return REFUSED
    _say(result["message"])
    for fault in result["healed"]:
        _say(f"  #{fault['id']} {fault['kind']} on {fault['subject']}")
    return OK
