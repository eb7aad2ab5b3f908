"""node_exporter, TLS on hypervisors, HTTPS for information systems and NTP on the data
centres' servers: each device at its own address, with the clock-drift and certificate
faults, and a lab that shrugs off garbage."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import socket
import ssl
from collections.abc import Iterator

import pytest
from cryptography import x509

from branchops.lab.sim.inventory import Inventory
from branchops.lab.sim.lab import Lab

from .support import (
    SYS_NAME,
    client,
    config,
    load_estate,
    pick,
    remove_test_table,
    run,
    sntp_offset,
    target,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_table_left() -> Iterator[None]:
    yield
    remove_test_table()


@pytest.fixture
def inventory() -> Inventory:
    return load_estate()


async def http_get(address: str, port: int, path: str, *, tls: bool = False) -> tuple[int, bytes]:
    context = None
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(address, port, ssl=context), timeout=3
    )
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n".encode())
    raw = await asyncio.wait_for(reader.read(), timeout=3)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def metrics(body: bytes) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


async def certificate(address: str, port: int) -> x509.Certificate:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    _, writer = await asyncio.open_connection(address, port, ssl=context)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    return x509.load_der_x509_certificate(der)


def test_servers_answer_node_exporter_and_only_servers(inventory: Inventory) -> None:
    async def scenario() -> None:
        async with Lab(inventory, config()) as lab:
            port = lab.port("node_exporter")
            assert port is not None
            server = pick(lab, "server")
            status, body = await http_get(server.address, port, "/metrics")
            assert status == 200
            first = metrics(body)
            cpus = server.hardware.cpus
            assert sum(1 for k in first if k.startswith("node_cpu_seconds_total")) == cpus * 8
            assert first["node_memory_MemTotal_bytes"] > first["node_memory_MemAvailable_bytes"] > 0
            assert any(k.startswith("node_filesystem_avail_bytes{") for k in first)
            assert first["node_boot_time_seconds"] == pytest.approx(server.boot, abs=1)
            assert "node_load1" in first
            await asyncio.sleep(1.1)
            second = metrics((await http_get(server.address, port, "/metrics"))[1])
            idle = 'node_cpu_seconds_total{cpu="0",mode="idle"}'
            assert second[idle] > first[idle]
            switch = pick(lab, "core-switch")  # not a server: the port is closed
            with pytest.raises(ConnectionError):
                await http_get(switch.address, port, "/metrics")
            lab.inject("cpu-spike", server.name)
            await asyncio.sleep(1.0)
            third = metrics((await http_get(server.address, port, "/metrics"))[1])
            user = 'node_cpu_seconds_total{cpu="0",mode="user"}'
            assert third["node_load1"] > 0.8 * cpus
            assert third[user] > second[user]
            lab.inject("device-down", server.name)
            with pytest.raises((TimeoutError, ConnectionError)):
                await http_get(server.address, port, "/metrics")

    run(scenario())


def test_hypervisors_serve_tls_and_the_certificate_fault_swaps_it(inventory: Inventory) -> None:
    async def scenario() -> None:
        async with Lab(inventory, config()) as lab:
            port = lab.port("esxi-tls")
            assert port is not None
            host = pick(lab, "hypervisor")
            cert = await certificate(host.address, port)
            now = dt.datetime.now(dt.UTC)
            assert cert.not_valid_after_utc - now > dt.timedelta(days=89)
            assert host.name in cert.subject.rfc4514_string()
            status, body = await http_get(host.address, port, "/", tls=True)
            assert status == 200
            assert b"VMware ESXi" in body
            report = lab.inject("cert-expiry", host.name, days=5)
            assert "(5 days)" in report["effects"][0]
            near = (await certificate(host.address, port)).not_valid_after_utc
            assert dt.timedelta(days=4) < near - now < dt.timedelta(days=6)
            lab.inject("cert-expiry", host.name, days=-2)  # expired two days ago
            assert (await certificate(host.address, port)).not_valid_after_utc < now
            lab.heal(host.name)
            assert (
                await certificate(host.address, port)
            ).not_valid_after_utc == cert.not_valid_after_utc

    run(scenario())


def test_information_systems_answer_https_at_their_hosts(inventory: Inventory) -> None:
    async def scenario() -> None:
        async with Lab(inventory, config()) as lab:
            port = lab.port("systems-https")
            assert port is not None
            deployment = next(s for s in lab.estate.services if s.system == "online-trading")
            host = lab.estate.devices[deployment.device]
            status, body = await http_get(host.address, port, "/health", tls=True)
            assert status == 200
            health = json.loads(body)
            assert health["status"] == "UP"
            assert {"code": "online-trading", "role": deployment.role} in health["systems"]
            status, body = await http_get(host.address, port, "/", tls=True)
            assert "网上交易系统".encode() in body
            lab.inject("latency", host.name, ms=200)
            started = asyncio.get_running_loop().time()
            await http_get(host.address, port, "/health", tls=True)
            assert asyncio.get_running_loop().time() - started > 0.15

    run(scenario())


def test_clock_drift_moves_the_ntp_answer_of_one_server(inventory: Inventory) -> None:
    async def scenario() -> None:
        async with Lab(inventory, config()) as lab:
            assert lab.time_service is not None
            port = lab.time_service.port
            first, second = lab.estate.ntp_servers()[:2]
            clock = lab.clock
            offset = await asyncio.to_thread(sntp_offset, first.address, port, clock())
            assert offset is not None
            assert abs(offset) < 0.5
            report = lab.inject("clock-drift", first.name, seconds=-2.5)
            assert "-2.5 s off" in report["effects"][0]
            drifted = await asyncio.to_thread(sntp_offset, first.address, port, clock())
            steady = await asyncio.to_thread(sntp_offset, second.address, port, clock())
            assert drifted is not None
            assert abs(drifted + 2.5) < 0.5
            assert steady is not None
            assert abs(steady) < 0.5
            lab.inject("device-down", first.name)  # a down time source says nothing
            assert await asyncio.to_thread(sntp_offset, first.address, port, clock()) is None
            lab.heal(first.name)
            healed = await asyncio.to_thread(sntp_offset, first.address, port, clock())
            assert healed is not None
            assert abs(healed) < 0.5

    run(scenario())


def test_the_lab_survives_garbage(inventory: Inventory) -> None:
    rng = random.Random(5)

    async def scenario() -> None:
        async with Lab(inventory, config(control_port=0)) as lab, client() as snmp:
            devices = lab.estate.live()[:10]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                for n in range(600):
                    junk = rng.randbytes(rng.randint(0, 300))
                    if n % 3 == 0:  # a valid-looking header with a broken body
                        junk = b"\x30\x82\xff\xff\x02\x01\x01\x04\x06public" + junk
                    sock.sendto(junk, (devices[n % 10].address, lab.snmp_port))
            assert lab.control is not None
            server = pick(lab, "server")
            hosts = {
                "node_exporter": server,
                "esxi-tls": pick(lab, "hypervisor"),
                "systems-https": lab.estate.devices[lab.estate.services[0].device],
            }
            peers = [(hosts[name].address, lab.port(name) or 0) for name in hosts]
            peers.append(("127.0.0.1", lab.control.port))
            junks = (os.urandom(2000), b"GET / HTTP/9.9\r\n\r\n", b"\x16\x03\x01" + os.urandom(50))
            for address, port in peers:
                for junk in junks:  # each is answered or closed, never left hanging
                    reader, writer = await asyncio.open_connection(address, port)
                    writer.write(junk)
                    writer.write_eof()
                    await asyncio.wait_for(reader.read(), timeout=5)
                    writer.close()
            for device in devices:
                (name,) = await snmp.get(target(lab, device), [SYS_NAME])
                assert name.value == device.name.encode()
            assert lab.snmp is not None
            malformed = sum(d.agent.stats.malformed for d in devices if d.agent)
            assert malformed > 100
            status, _ = await http_get(server.address, lab.port("node_exporter") or 0, "/metrics")
            assert status == 200

    run(scenario())
