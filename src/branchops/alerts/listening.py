"""Syslog and SNMP traps into the pipeline.

The receivers (``alerts.receivers``) hand over typed events; here they become signals for
the sender's device (found by management address), or, for "info" events (logins, attacks
that need no alert, unparsed lines), counts per device and event that go to the metric
store as ``branchops_device_events_total`` for the security reports.

Credentials for traps are the SNMP credentials the engine polls with: v2c communities,
and v3 users accepted from any sender engine.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from branchops.alerts.choices import AlertSource
from branchops.alerts.pipeline.signal import Signal, fingerprint_of
from branchops.alerts.receivers.events import InboundEvent
from branchops.alerts.receivers.syslog import SyslogReceiver
from branchops.alerts.receivers.trap_receiver import TrapReceiver, TrapUser
from branchops.monitoring.collectors.base import ConfigError
from branchops.snmp.usm import UsmUser

log = logging.getLogger(__name__)

# Events nothing resolves (an attack, a failed login) end on their own after this long
# without happening again.
SELF_RESOLVE_S = 900.0


@dataclass
class Listening:
    """The receivers of one engine and the bridge from their events to the pipeline."""

    to_pipeline: Callable[[list[Signal]], None]
    devices_by_address: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    receivers: list[Any] = field(default_factory=list)

    def load(self) -> tuple[list[str], list[TrapUser]]:
        """In a worker thread: addresses of devices, and the trap credentials."""
        from branchops.cmdb.models import Device
        from branchops.monitoring.collectors.snmp_parts.access import credentials_of
        from branchops.monitoring.specs import credentials

        self.devices_by_address = {
            str(ip): (pk, site_id, name)
            for pk, site_id, name, ip in Device.objects.exclude(management_ip=None).values_list(
                "id", "site_id", "name", "management_ip"
            )
        }
        communities: list[str] = []
        users: list[TrapUser] = []
        usable, _broken = credentials()
        for access in usable.values():
            try:
                cred = credentials_of(access)
            except ConfigError as exc:
                log.warning("an SNMP credential cannot receive traps: %s", exc)
                continue
            if isinstance(cred, UsmUser):
                users.append(TrapUser(cred))
            else:
                communities.append(access.community)
        return communities, users

    async def start(self, communities: list[str], users: list[TrapUser]) -> None:
        syslog = _address(settings.SYSLOG_LISTEN)
        if syslog is not None:
            host, port = syslog
            receiver = SyslogReceiver(self.hear, host=host, udp_port=port, tcp_port=port)
            await _started(receiver)
            self.receivers.append(receiver)
            log.info("syslog on %s udp/tcp %d", host, port)
        traps = _address(settings.TRAP_LISTEN)
        if traps is not None:
            host, port = traps
            trap_receiver = TrapReceiver(
                self.hear, host=host, port=port, communities=communities, users=users
            )
            await _started(trap_receiver)
            self.receivers.append(trap_receiver)
            log.info("SNMP traps on %s udp %d", host, port)

    async def stop(self) -> None:
        for receiver in self.receivers:
            await receiver.aclose()
        self.receivers.clear()

    def hear(self, event: InboundEvent) -> None:
        """A receiver's callback (on the loop, must not block)."""
        device = self.devices_by_address.get(event.sender)
        name = device[2] if device else event.sender
        if event.status == "info":
            self.counts[(name, event.source, event.name)] += 1
            return
        self.to_pipeline([signal_of(event, device)])


def signal_of(event: InboundEvent, device: tuple[int, int, str] | None) -> Signal:
    source = AlertSource.SYSLOG if event.source == "syslog" else AlertSource.TRAP
    labels = {**event.labels, "sender": event.sender}
    if device is not None:
        labels["device"] = device[2]
    self_resolving = event.status == "firing" and event.name not in ("vpn-down", "link-down")
    return Signal(
        fingerprint=fingerprint_of(source, event.sender, event.key or event.name),
        source=source,
        name=event.name,
        firing=event.status == "firing",
        severity=event.severity or 3,
        title=(f"{device[2]}: " if device else "") + event.title,
        at=event.received_at,
        summary=event.message,
        labels=labels,
        site_id=device[1] if device else None,
        device_id=device[0] if device else None,
        resolve_after_s=SELF_RESOLVE_S if self_resolving else None,
    )


async def _started(receiver: Any) -> None:
    """Start a receiver; if one of its sockets cannot bind, close the others it opened."""
    try:
        await receiver.start()
    except OSError:
        await receiver.aclose()
        raise


def _address(text: str) -> tuple[str, int] | None:
    if not text:
        return None
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)
