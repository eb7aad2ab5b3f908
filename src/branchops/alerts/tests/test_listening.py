"""Syslog and traps from the estate's devices become alerts on those devices; what needs no
alert is counted per device for the security reports."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from branchops.alerts.choices import AlertSource, AlertStatus
from branchops.alerts.listening import Listening
from branchops.alerts.models import Alert
from branchops.alerts.pipeline.signal import Signal
from branchops.alerts.receivers.testing import free_port, run_tool
from branchops.alerts.tests.support import Clock, estate, pipeline
from branchops.cmdb.models import Device

pytestmark = pytest.mark.django_db

VPN_DOWN = '<187>Nov 22 10:02:11 {name} ERROR@VPN: VPN隧道"to-HQ"断开'
LOGIN = (
    '<190>Nov 22 10:03:00 {name} INFO@MGMT: Admin user "ops" logged in through SSH from 10.0.0.9'
)


async def send_from(address: str, port: int, line: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))  # the device's own management address: it is the sender
        sock.sendto(line.encode(), ("127.0.0.1", port))
    await asyncio.sleep(0.3)


def free_on_udp_and_tcp() -> int:
    """A port free for both (syslog listens on one port number over UDP and TCP)."""
    while True:
        port = free_port(socket.SOCK_DGRAM)
        with socket.socket() as tcp:
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def listen(settings: SettingsWrapper, heard: list[Signal]) -> tuple[Listening, int, int]:
    syslog_port, trap_port = free_on_udp_and_tcp(), free_port(socket.SOCK_DGRAM)
    settings.SYSLOG_LISTEN = f"127.0.0.1:{syslog_port}"
    settings.TRAP_LISTEN = f"127.0.0.1:{trap_port}"
    return Listening(heard.extend), syslog_port, trap_port


def firewall() -> Device:
    return Device.objects.filter(role__slug="firewall", site__code__startswith="BR-").first()  # type: ignore[return-value]


def test_a_firewall_vpn_message_becomes_an_alert_on_that_firewall(
    settings: SettingsWrapper,
) -> None:
    estate(2)
    heard: list[Signal] = []
    listening, syslog_port, _ = listen(settings, heard)
    device = firewall()
    credentials = listening.load()

    async def scenario() -> None:
        await listening.start(*credentials)
        try:
            await send_from(
                str(device.management_ip), syslog_port, VPN_DOWN.format(name=device.name)
            )
        finally:
            await listening.stop()

    asyncio.run(scenario())
    assert [(s.name, s.device_id, s.firing) for s in heard] == [("vpn-down", device.pk, True)]
    clock = Clock()
    p, _ = pipeline(clock)
    p.put_signals(heard)
    p.process()
    alert = Alert.objects.get(source=AlertSource.SYSLOG)
    assert alert.device == device
    assert alert.status == AlertStatus.FIRING
    assert alert.labels["tunnel"] == "to-HQ"


def test_information_is_counted_per_device_not_alerted(settings: SettingsWrapper) -> None:
    estate(2)
    heard: list[Signal] = []
    listening, syslog_port, _ = listen(settings, heard)
    device = firewall()
    credentials = listening.load()

    async def scenario() -> None:
        await listening.start(*credentials)
        try:
            for _ in range(3):
                await send_from(
                    str(device.management_ip), syslog_port, LOGIN.format(name=device.name)
                )
        finally:
            await listening.stop()

    asyncio.run(scenario())
    assert heard == []
    assert sum(n for (name, _, _), n in listening.counts.items() if name == device.name) == 3


def test_a_link_down_trap_from_net_snmp_is_an_alert_on_the_sending_device(
    settings: SettingsWrapper, tmp_path: Path
) -> None:
    estate(2)
    heard: list[Signal] = []
    listening, _, trap_port = listen(settings, heard)
    device = firewall()
    from branchops.monitoring.models import SnmpCredential

    credential = SnmpCredential.objects.get(name="default")
    credential.set_secrets(community="trap-secret")
    credential.save()
    credentials = listening.load()

    async def scenario() -> Any:
        await listening.start(*credentials)
        try:
            # net-snmp's clientaddr: the trap leaves from the device's management address.
            command = [
                "snmptrap", f"--clientaddr={device.management_ip}", "-v", "2c", "-c", "trap-secret",
                f"udp:127.0.0.1:{trap_port}", "", "1.3.6.1.6.3.1.1.5.3",
                "1.3.6.1.2.1.2.2.1.1.3", "i", "3",
            ]  # fmt: skip
            code, output = await run_tool(command, tmp_path)
            assert code == 0, output
            await asyncio.sleep(0.5)
        finally:
            await listening.stop()

    asyncio.run(scenario())
    assert [(s.name, s.firing) for s in heard] == [("link-down", True)]
    assert heard[0].device_id == device.pk
    assert heard[0].labels["sender"] == str(device.management_ip)
