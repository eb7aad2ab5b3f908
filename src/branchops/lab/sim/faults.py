"""Fault injection: what each kind does to the simulated estate, what it may target, and heal.

A request names a kind and a target (a device, ``device:ifName``, a VPN link or a site
code). It is checked completely before anything changes, then expanded into one standing
fault per subject (a site's device-down is one fault per device), so healing a single
device of a site keeps the others down. Injecting the same kind on the same subject again
replaces its options. ``reboot`` happens at once and leaves no standing fault.

Faults change the devices' state only; the lab then brings the kernel's ICMP rules, the
agents' silence and the NTP offsets in line (``Lab._sync``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from branchops.lab.sim.model import PortKind, SimDevice, Tunnel
from branchops.lab.sim.simulation import SimulatedEstate

KINDS: Final = (
    "device-down",
    "vpn-down",
    "interface-down",
    "packet-loss",
    "latency",
    "cpu-spike",
    "clock-drift",
    "cert-expiry",
    "reboot",
)
# option: (kind that takes it, minimum, maximum, integer)
OPTIONS: Final[dict[str, tuple[str, float, float, bool]]] = {
    "percent": ("packet-loss", 1, 100, True),
    "ms": ("latency", 1, 60_000, True),
    "seconds": ("clock-drift", -86_400, 86_400, False),
    "days": ("cert-expiry", -3650, 3650, True),
}
_DEFAULT_PORTS = (PortKind.WAN, PortKind.UPLINK, PortKind.CORE, PortKind.NIC, PortKind.LAN)


class FaultError(ValueError):
    """A fault request the lab refuses; ``code`` is machine-readable, the message is not."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Fault:
    id: int
    kind: str
    subject: str  # device name, link name, or "device:ifName"
    target: str  # what the request named
    options: dict[str, float]
    since: float
    device: SimDevice | None = None
    tunnel: Tunnel | None = None
    if_index: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "target": self.target,
            "options": self.options,
            "since": self.since,
        }

    def site(self) -> str:
        if self.device is not None:
            return self.device.spec.site
        assert self.tunnel is not None
        return self.tunnel.near.spec.site


@dataclass
class Capabilities:
    """Which devices offer what the NTP and certificate faults act on."""

    ntp: frozenset[str] = frozenset()  # device names serving NTP
    tls: frozenset[str] = frozenset()  # device names serving TLS
    notes: dict[str, str] = field(default_factory=dict)  # kind -> why it is unavailable


class FaultBook:
    def __init__(
        self, estate: SimulatedEstate, clock: Callable[[], float], capabilities: Capabilities
    ) -> None:
        self.estate = estate
        self.clock = clock
        self.capabilities = capabilities
        self.faults: dict[tuple[str, str], Fault] = {}
        self._ids = itertools.count(1)

    def active(self) -> list[Fault]:
        return sorted(self.faults.values(), key=lambda f: f.id)

    # ---- inject ------------------------------------------------------------------------------

    def inject(
        self, kind: str, target: str, options: dict[str, Any]
    ) -> tuple[list[Fault], list[SimDevice]]:
        """Apply a fault; returns the standing faults made and every device it touched."""
        if kind not in KINDS:
            raise FaultError(
                "unknown-kind", f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}"
            )
        values = self._options(kind, options)
        if kind in self.capabilities.notes:
            raise FaultError("unavailable", self.capabilities.notes[kind])
        now = self.clock()
        if kind == "vpn-down":
            tunnels = self._tunnels(target)
            made = [self._set(kind, t.name, target, values, now, tunnel=t) for t in tunnels]
            return made, _ends(tunnels)
        if kind == "interface-down":
            device, if_index, name = self._interface(target)
            return [
                self._set(
                    kind,
                    f"{device.name}:{name}",
                    target,
                    values,
                    now,
                    device=device,
                    if_index=if_index,
                )
            ], [device]
        devices = self._devices(kind, target)
        if kind == "reboot":
            for device in devices:
                device.reboot(now)
            return [], devices
        return [self._set(kind, d.name, target, values, now, device=d) for d in devices], devices

    def _set(
        self,
        kind: str,
        subject: str,
        target: str,
        values: dict[str, float],
        now: float,
        *,
        device: SimDevice | None = None,
        tunnel: Tunnel | None = None,
        if_index: int | None = None,
    ) -> Fault:
        old = self.faults.pop((kind, subject), None)
        if old is not None:
            _undo(old, now)
        fault = Fault(next(self._ids), kind, subject, target, values, now, device, tunnel, if_index)
        _do(fault, now)
        self.faults[(kind, subject)] = fault
        return fault

    def _options(self, kind: str, options: dict[str, Any]) -> dict[str, float]:
        values: dict[str, float] = {}
        for name, value in options.items():
            if value is None:
                continue
            spec = OPTIONS.get(name)
            if spec is None or spec[0] != kind:
                raise FaultError("bad-option", f"{name!r} does not apply to {kind}")
            _, low, high, integer = spec
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FaultError("bad-option", f"{name} must be a number")
            if integer and value != int(value):
                raise FaultError("bad-option", f"{name} must be a whole number")
            if not low <= value <= high:
                raise FaultError("bad-option", f"{name} must be between {low:g} and {high:g}")
            values[name] = int(value) if integer else float(value)
        for name, (owner, *_) in OPTIONS.items():
            if owner == kind and name not in values:
                raise FaultError("missing-option", f"{kind} needs --{name}")
        return values

    # ---- targets -----------------------------------------------------------------------------

    def _unknown(self, target: str) -> FaultError:
        return FaultError("unknown-target", f"no device, VPN link or site named {target!r}")

    def _devices(self, kind: str, target: str) -> list[SimDevice]:
        estate = self.estate
        if target in estate.devices:
            devices = [estate.devices[target]]
            _require_present(devices[0])
        elif target in estate.sites:
            devices = [d for d in estate.sites[target] if not d.absent]
        elif target in estate.links:
            raise FaultError(
                "bad-target", f"{kind} targets a device or a site; {target!r} is a link"
            )
        else:
            raise self._unknown(target)
        wanted = {
            "clock-drift": ("NTP", self.capabilities.ntp),
            "cert-expiry": ("TLS", self.capabilities.tls),
        }.get(kind)
        if wanted is not None:
            label, able = wanted
            devices = [d for d in devices if d.name in able]
            if not devices:
                raise FaultError("bad-target", f"{target!r} serves no {label} in the lab")
        if not devices:
            raise FaultError("bad-target", f"{target!r} has no simulated devices")
        return devices

    def _tunnels(self, target: str) -> list[Tunnel]:
        estate = self.estate
        if target in estate.tunnels:
            return [estate.tunnels[target]]
        if target in estate.links:
            raise FaultError("bad-target", f"{target!r} is not an active VPN link")
        if target in estate.devices:
            tunnels = list(estate.devices[target].tunnels)
        elif target in estate.sites:
            tunnels = list(_unique(t for d in estate.sites[target] for t in d.tunnels))
        else:
            raise self._unknown(target)
        if not tunnels:
            raise FaultError("bad-target", f"{target!r} has no VPN tunnels")
        return tunnels

    def _interface(self, target: str) -> tuple[SimDevice, int, str]:
        name, _, port_name = target.partition(":")
        device = self.estate.devices.get(name)
        if device is None:
            if name in self.estate.sites or name in self.estate.links:
                raise FaultError("bad-target", "interface-down targets DEVICE or DEVICE:ifName")
            raise self._unknown(name)
        _require_present(device)
        ports = device.layout.ports
        if port_name:
            port = device.layout.find(port_name)
            if port is None:
                known = ", ".join(p.name for p in ports[:12])
                raise FaultError(
                    "unknown-target", f"{name} has no interface {port_name!r} (it has {known}, ...)"
                )
            return device, port.index, port.name
        for kind in _DEFAULT_PORTS:
            for position, port in enumerate(ports):
                if device.kinds[position] == kind:
                    return device, port.index, port.name
        raise FaultError("bad-target", f"{name} has no interface in use; name one as {name}:ifName")

    # ---- heal --------------------------------------------------------------------------------

    def heal(self, target: str | None) -> tuple[list[Fault], list[SimDevice]]:
        """Remove the standing faults on ``target`` (everything when None)."""
        if target is None:
            chosen = list(self.faults.values())
        else:
            if not self._known(target):
                raise self._unknown(target)
            chosen = [f for f in self.faults.values() if _touches(f, target)]
        now = self.clock()
        devices: list[SimDevice] = []
        for fault in sorted(chosen, key=lambda f: f.id):
            del self.faults[(fault.kind, fault.subject)]
            _undo(fault, now)
            devices.extend(
                [fault.device] if fault.device else _ends([fault.tunnel] if fault.tunnel else [])
            )
        return chosen, devices

    def _known(self, target: str) -> bool:
        estate = self.estate
        device = target.partition(":")[0]
        return (
            target in estate.devices
            or device in estate.devices
            or target in estate.sites
            or target in estate.links
            or target.lstrip("#").isdigit()
        )


def _require_present(device: SimDevice) -> None:
    if device.absent:
        raise FaultError(
            "bad-target",
            f"{device.name} is {device.spec.status} in the CMDB; the lab keeps it silent already",
        )


def _unique(tunnels: Iterable[Tunnel]) -> list[Tunnel]:
    seen: dict[str, Tunnel] = {}
    for tunnel in tunnels:
        seen.setdefault(tunnel.name, tunnel)
    return list(seen.values())


def _ends(tunnels: Iterable[Tunnel | None]) -> list[SimDevice]:
    ends: list[SimDevice] = []
    for tunnel in tunnels:
        if tunnel is not None:
            ends.append(tunnel.near)
            if tunnel.far is not None:
                ends.append(tunnel.far)
    return ends


def _touches(fault: Fault, target: str) -> bool:
    if target.lstrip("#").isdigit():
        return fault.id == int(target.lstrip("#"))
    if target in (fault.target, fault.subject) or fault.site() == target:
        return True
    if fault.device is not None:
        return fault.device.name == target
    tunnel = fault.tunnel
    assert tunnel is not None
    return target in (tunnel.near.name, tunnel.far.name if tunnel.far else None)


def _do(fault: Fault, now: float) -> None:
    _switch(fault, now, on=True)


def _undo(fault: Fault, now: float) -> None:
    _switch(fault, now, on=False)


def _switch(fault: Fault, now: float, *, on: bool) -> None:
    if fault.tunnel is not None:
        fault.tunnel.down = on
        return
    device = fault.device
    assert device is not None
    options = fault.options
    match fault.kind:
        case "device-down":
            device.down = on
        case "interface-down":
            assert fault.if_index is not None
            device.set_port_down(fault.if_index, on, now)
        case "packet-loss":
            device.loss = int(options["percent"]) if on else 0
        case "latency":
            device.latency_ms = int(options["ms"]) if on else 0
        case "cpu-spike":
            device.set_cpu_spike(on, now)
        case "clock-drift":
            device.clock_offset = float(options["seconds"]) if on else 0.0
        case "cert-expiry":
            device.cert_days = int(options["days"]) if on else None
