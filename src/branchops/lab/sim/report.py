"""What a fault did, in words an operator reads in the CLI or the web API's answer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from branchops.lab.sim.faults import Fault
from branchops.lab.sim.model import SimDevice

if TYPE_CHECKING:
    from branchops.lab.sim.lab import Lab

_LIST = 5  # names listed before "and N more"


def _names(items: list[str]) -> str:
    if len(items) <= _LIST:
        return ", ".join(items)
    return f"{', '.join(items[:_LIST])} and {len(items) - _LIST} more"


@dataclass
class Outcome:
    lab: Lab
    made: list[Fault]
    devices: list[SimDevice]
    effects: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def names(self) -> str:
        return _names([d.name for d in self.devices])

    def option(self, name: str) -> float:
        return self.made[0].options[name]

    def icmp(self, done: str) -> None:
        """Say what happened to ICMP, or warn that it could not happen."""
        available, detail = self.lab.icmp_available()
        if available:
            self.effects.append(f"ICMP: {done}")
        else:
            note = f"ICMP: not available ({detail}); these devices still answer ping"
            self.effects.append(note)
            self.warnings.append(note)


def _device_down(out: Outcome) -> None:
    out.effects.append(f"{out.names}: silent on SNMP, TCP and HTTP")
    out.icmp("every packet to them dropped by nftables")
    down = sorted({t.name for d in out.devices for t in d.tunnels if not t.up()})
    if down:
        out.effects.append(
            f"{len(down)} VPN tunnel(s) down with them, on both ends: {_names(down)}"
        )


def _vpn_down(out: Outcome) -> None:
    names = _names([f.subject for f in out.made])
    out.effects.append(f"{len(out.made)} VPN tunnel(s) down on both ends: {names}")


def _interface_down(out: Outcome) -> None:
    fault = out.made[0]
    out.effects.append(f"{fault.subject}: ifOperStatus down, its counters stop")
    device = fault.device
    riding = [t.name for t in (device.tunnels if device else []) if t.wan_port == fault.if_index]
    if riding:
        out.effects.append(f"VPN tunnels over it down: {_names(riding)}")


def _packet_loss(out: Outcome) -> None:
    percent = out.option("percent")
    out.effects.append(f"{out.names}: {percent:g} % of SNMP requests dropped")
    out.icmp(f"{percent:g} % of echo requests dropped by nftables")


def _latency(out: Outcome) -> None:
    ms = out.option("ms")
    out.effects.append(f"{out.names}: SNMP and HTTP(S) answers {ms:g} ms late (+-10 %)")
    if out.lab.echo_error:
        note = f"ICMP: pings stay fast: the lab cannot answer them late ({out.lab.echo_error})"
        out.effects.append(note)
        out.warnings.append(note)
        return
    out.icmp(f"echo replies {ms:g} ms late (sent by the lab; nftables drops the kernel's own)")


def _cpu_spike(out: Outcome) -> None:
    out.effects.append(
        f"{out.names}: CPU near 95 % (hrProcessorLoad, profile CPU gauges, "
        "node_cpu_seconds_total, node_load*)"
    )


def _clock_drift(out: Outcome) -> None:
    seconds = out.option("seconds")
    out.effects.append(f"{out.names}: NTP answers and node_time_seconds {seconds:+g} s off")


def _cert_expiry(out: Outcome) -> None:
    store = out.lab.certificates
    if store is None:
        return
    now = out.lab.clock()
    started = dt.datetime.fromtimestamp(now, dt.UTC)
    for device in out.devices[:_LIST]:
        expires = store.not_after(device, now)
        days = round((expires - started).total_seconds() / 86_400)
        out.effects.append(
            f"{device.name}: TLS certificate now expires {expires:%Y-%m-%d %H:%M} UTC ({days} days)"
        )
    if len(out.devices) > _LIST:
        out.effects.append(f"and {len(out.devices) - _LIST} more devices")


def _reboot(out: Outcome) -> None:
    out.effects.append(
        f"{out.names}: sysUpTime and every counter restart at 0; SNMPv3 engine boots + 1"
    )


_BY_KIND: dict[str, Callable[[Outcome], None]] = {
    "device-down": _device_down,
    "vpn-down": _vpn_down,
    "interface-down": _interface_down,
    "packet-loss": _packet_loss,
    "latency": _latency,
    "cpu-spike": _cpu_spike,
    "clock-drift": _clock_drift,
    "cert-expiry": _cert_expiry,
    "reboot": _reboot,
}


def describe(
    lab: Lab, kind: str, target: str, made: list[Fault], devices: list[SimDevice]
) -> dict[str, Any]:
    out = Outcome(lab, made, list({d.name: d for d in devices}.values()))
    _BY_KIND[kind](out)
    return {
        "ok": True,
        "kind": kind,
        "target": target,
        "faults": [f.as_dict() for f in made],
        "devices": [d.name for d in out.devices],
        "effects": out.effects,
        "warnings": out.warnings,
    }
