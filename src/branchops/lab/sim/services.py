"""TCP services of the simulated estate: node_exporter on servers, the ESXi management port
(TLS) on hypervisors, and the web front ends of information systems (HTTPS).

Each service is one listening socket on 0.0.0.0 that answers for many devices: the local
address of a connection says which device was asked. Connections from or to addresses
outside 127.0.0.0/8 are closed at once. An address with no such service on it is reset, as
a host with a closed port would; a device that is down says nothing (with nftables its
packets are dropped before they reach us; without, the connection is held unanswered);
a device with a latency fault answers late.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import random
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from branchops.lab.sim import nodeexporter
from branchops.lab.sim.httpd import (
    MAX_HEAD,
    Connections,
    Request,
    Response,
    hold,
    is_loopback,
    reset,
    serve,
)
from branchops.lab.sim.inventory import ServiceSpec
from branchops.lab.sim.model import SimDevice
from branchops.lab.sim.tls import CertificateStore

Respond = Callable[[SimDevice, Request, float], Response]
ALL_ADDRESSES = "0.0.0.0"  # noqa: S104 - one socket for all of 127/8; others are closed
_HANDSHAKE_TIMEOUT = 10.0
_HOLD_LIMIT = 30.0


class TcpService:
    """One port, many devices: ``devices`` maps a management address to its device.

    Plain services listen on one socket for all addresses. TLS services listen on each
    device's address with that device's certificate: asyncio picks the certificate before
    our code sees the connection, so the address must decide it (and an address without the
    service then refuses connections, as a real host does).
    """

    def __init__(
        self,
        name: str,
        port: int,
        devices: Mapping[str, SimDevice],
        respond: Respond,
        *,
        clock: Callable[[], float],
        rng: random.Random,
        certificates: CertificateStore | None = None,
    ) -> None:
        self.name = name
        self.port = port
        self.devices = devices
        self._respond = respond
        self._clock = clock
        self._rng = rng
        self._certificates = certificates
        self._servers: list[asyncio.Server] = []
        self._connections = Connections()
        self.connections = 0

    @property
    def tls(self) -> bool:
        return self._certificates is not None

    async def start(self) -> None:
        try:
            if self._certificates is None:
                await self._listen(ALL_ADDRESSES, None)
            else:
                for address, device in self.devices.items():
                    await self._listen(address, self._certificates.context(device, self._clock()))
        except OSError:
            await self.stop()
            raise

    async def _listen(self, host: str, context: ssl.SSLContext | None) -> None:
        server = await asyncio.start_server(
            self._connection,
            host=host,
            port=self.port,
            limit=MAX_HEAD,
            reuse_address=True,
            ssl=context,
            ssl_handshake_timeout=_HANDSHAKE_TIMEOUT if context else None,
        )
        self._servers.append(server)
        self.port = server.sockets[0].getsockname()[1]  # port 0: the first one picks it

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        self._servers.clear()
        await self._connections.close_all()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await self._connections.run(writer, self._answer(reader, writer))

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        local, peer = writer.get_extra_info("sockname"), writer.get_extra_info("peername")
        if not (is_loopback(local) and is_loopback(peer)):
            writer.close()
            return
        device = self.devices.get(local[0])
        if device is None:
            reset(writer)
            return
        if device.unreachable:
            await hold(reader, writer, _HOLD_LIMIT)
            return

        async def handle(request: Request) -> Response | None:
            if device.unreachable:
                return None
            if device.latency_ms:
                await asyncio.sleep(device.latency_ms / 1000.0 * (0.9 + 0.2 * self._rng.random()))
            return self._respond(device, request, self._clock())

        await serve(reader, writer, handle, max_body=8192)


# ---- what each service says --------------------------------------------------------------------


def _not_found() -> Response:
    return Response(404, b"not found\n")


def node_exporter(device: SimDevice, request: Request, now: float) -> Response:
    if request.method not in ("GET", "HEAD"):
        return Response(405, b"method not allowed\n", headers={"Allow": "GET, HEAD"})
    if request.path == "/metrics":
        return Response(200, nodeexporter.page(device, now), nodeexporter.CONTENT_TYPE)
    if request.path == "/":
        body = b'<html><head><title>Node Exporter</title></head><body><a href="/metrics">'
        body += b"Metrics</a></body></html>"
        return Response(200, body, "text/html; charset=utf-8")
    return _not_found()


def esxi(device: SimDevice, request: Request, now: float) -> Response:
    if request.path in ("/", "/ui/"):
        title = html.escape(f"VMware ESXi - {device.name}")
        body = f"<html><head><title>{title}</title></head><body>{title}</body></html>"
        return Response(200, body.encode(), "text/html; charset=utf-8")
    return _not_found()


@dataclass(frozen=True)
class SystemPages:
    """The web front end of the information systems deployed on each device."""

    systems: Mapping[str, Sequence[ServiceSpec]]  # device name -> its deployments

    def __call__(self, device: SimDevice, request: Request, now: float) -> Response:
        deployed = self.systems.get(device.name, ())
        if request.path == "/health":
            body = {
                "status": "UP",
                "device": device.name,
                "systems": [{"code": s.system, "role": s.role} for s in deployed],
            }
            return Response(200, json.dumps(body).encode(), "application/json")
        if request.path == "/":
            names = " / ".join(f"{s.name} ({s.name_en})" for s in deployed) or device.name
            title = html.escape(f"示例证券 {names}")
            page = (
                f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>"
                f"<body><h1>{title}</h1></body></html>"
            )
            return Response(200, page.encode(), "text/html; charset=utf-8")
        return _not_found()


async def stop_all(services: Sequence[TcpService]) -> None:
    for service in services:
        with contextlib.suppress(Exception):
            await service.stop()
