"""The simulated estate, running: :class:`Lab` starts every service and applies faults.

Start-up reads the estate (from the database in a worker thread, unless an inventory is
given), builds the devices, then opens one socket per service: SNMP on the "default"
credential's port, node_exporter on servers, TLS on hypervisors, HTTPS for information
systems, NTP on the data centres' servers, and the control API. After every fault change,
``_sync`` brings the kernel's ICMP rules, the agents' silence and the NTP offsets in line
with the devices' state.

Use inside any asyncio program::

    lab = Lab(config=LabConfig(control_port=0))
    await lab.start()
    lab.inject("device-down", "BR-0001-FW01")
    lab.heal()
    await lab.stop()
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import psutil

from branchops.core.db import in_thread
from branchops.lab.sim import inventory as inventory_module
from branchops.lab.sim import simulation
from branchops.lab.sim.agents import LabAgent, LabAgentServer
from branchops.lab.sim.config import LabConfig
from branchops.lab.sim.control import ControlApi
from branchops.lab.sim.faults import Capabilities, Fault, FaultBook
from branchops.lab.sim.icmp import DelayedEcho, IcmpRules, Nftables
from branchops.lab.sim.inventory import Inventory, InventoryError, ServiceSpec
from branchops.lab.sim.model import SimDevice
from branchops.lab.sim.report import describe
from branchops.lab.sim.services import SystemPages, TcpService, esxi, node_exporter, stop_all
from branchops.lab.sim.simulation import SimulatedEstate
from branchops.lab.sim.snmpview import CompiledProfile, Cursor, ShapeBook, compile_profile
from branchops.lab.sim.timeservice import TimeService
from branchops.lab.sim.tls import CertificateStore
from branchops.monitoring.snmp_hints import HintError


class LabError(RuntimeError):
    """The lab cannot start (or is not running); the message says why and what to do."""


def load_inventory() -> Inventory:
    """The estate from the database; closes this thread's connections afterwards."""
    from django.db import connections

    try:
        return inventory_module.from_database()
    finally:
        connections.close_all()


class Lab:
    def __init__(
        self,
        inventory: Inventory | None = None,
        config: LabConfig | None = None,
        *,
        clock: Any = time.time,
    ) -> None:
        self.config = config or LabConfig()
        self.inventory = inventory
        self.clock = clock
        self.rng = random.Random(self.config.seed)
        self.cursor = Cursor()
        self.notes: list[str] = []
        self.started_in = 0.0
        self._estate: SimulatedEstate | None = None
        self._book: FaultBook | None = None
        self.snmp: LabAgentServer | None = None
        self.shapes: ShapeBook | None = None
        self.services: dict[str, TcpService] = {}
        self.certificates: CertificateStore | None = None
        self.time_service: TimeService | None = None
        self.nft: Nftables | None = None
        self.echo = DelayedEcho(self._echo_delay)
        self.control: ControlApi | None = None
        self._rules: IcmpRules | None = None
        self.icmp_error = ""  # why the last nftables change failed
        self.echo_error = ""  # why the lab cannot answer pings late

    @property
    def estate(self) -> SimulatedEstate:
        if self._estate is None:
            raise LabError("the lab is not running")
        return self._estate

    @property
    def faults(self) -> FaultBook:
        if self._book is None:
            raise LabError("the lab is not running")
        return self._book

    # ---- start and stop ----------------------------------------------------------------------

    async def start(self) -> dict[str, Any]:
        began = time.perf_counter()
        try:
            if self.inventory is None:
                self.inventory = await in_thread(load_inventory)
            estate = simulation.build(self.inventory, self.config.seed, self.clock())
            compiled = _compile(estate)
        except (InventoryError, HintError) as exc:
            raise LabError(str(exc)) from exc
        self._estate = estate
        if not estate.devices:
            self.notes.append(
                "the CMDB has no devices with a management address: load the demo estate "
                "with `branchops demo --no-serve`"
            )
        try:
            self.nft = Nftables(self.config.nft_table, enabled=self.config.nft)
            await self._start_snmp(self.inventory, compiled)
            await self._start_services()
            await self._start_ntp()
            self._book = FaultBook(estate, self.clock, self._capabilities())
            self._sync(estate.devices.values())
            if self.config.control_port is not None:
                self.control = ControlApi(self, self.config.control_port, self.config.home)
                await self.control.start()
        except BaseException:
            await self.stop()
            raise
        self.started_in = time.perf_counter() - began
        return self.status()

    async def stop(self) -> None:
        if self.control is not None:
            await self.control.stop()
            self.control = None
        await stop_all(list(self.services.values()))
        self.services.clear()
        if self.time_service is not None:
            await self.time_service.stop()
            self.time_service = None
        self.echo.stop()
        if self.nft is not None:
            self.nft.remove()
        if self.snmp is not None:
            self.snmp.close()
            self.snmp = None
        if self.certificates is not None:
            self.certificates.close()
            self.certificates = None
        self._book = None

    async def __aenter__(self) -> Lab:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _start_snmp(self, inventory: Inventory, compiled: dict[str, CompiledProfile]) -> None:
        port = self.config.snmp_port if self.config.snmp_port is not None else inventory.snmp.port
        server = LabAgentServer(port, self.rng)
        try:
            await server.start()
        except OSError as exc:
            hint = ""
            if 0 < port < 1024:
                hint = (
                    " (ports below 1024 need root: give the 'default' SNMP credential an "
                    "unprivileged port such as 1161, as `branchops demo` does)"
                )
            raise LabError(
                f"SNMP: cannot listen on udp/{port}: {exc.strerror or exc}{hint}"
            ) from exc
        self.snmp = server
        self.shapes = ShapeBook(self.cursor, compiled)
        access = inventory.snmp
        for device in self.estate.live():
            agent = LabAgent(
                device,
                self.shapes.view_for(device),
                self.cursor,
                clock=self.clock,
                rng=self.rng,
                communities=access.communities,
                users=access.users,
            )
            device.agent = agent
            await server.add(agent)

    async def _start_services(self) -> None:
        live = self.estate.live()
        systems: dict[str, list[ServiceSpec]] = {}
        for deployment in self.estate.services:
            systems.setdefault(deployment.device, []).append(deployment)
        plans = (
            ("node_exporter", self.config.node_exporter_port, "server", node_exporter, False),
            ("esxi-tls", self.config.tls_port, "hypervisor", esxi, True),
            ("systems-https", self.config.https_port, None, SystemPages(systems), True),
        )
        for name, port, role, respond, tls in plans:
            if port is None:
                continue
            devices = {
                d.address: d for d in live if (d.spec.role == role if role else d.name in systems)
            }
            if not devices:
                continue
            if tls and self.certificates is None:
                self.certificates = CertificateStore()
            service = TcpService(
                name,
                port,
                devices,
                respond,
                clock=self.clock,
                rng=self.rng,
                certificates=self.certificates if tls else None,
            )
            try:
                await service.start()
            except OSError as exc:
                hint = " (below 1024 needs root or CAP_NET_BIND_SERVICE)" if 0 < port < 1024 else ""
                self.notes.append(f"{name}: not started, tcp/{port}: {exc.strerror or exc}{hint}")
                continue
            self.services[name] = service

    async def _start_ntp(self) -> None:
        port = self.config.ntp_port
        servers = self.estate.ntp_servers()
        if port is None or not servers:
            return
        service = TimeService(port, {d.address: 0.0 for d in servers})
        problem = await service.start()
        if problem:
            self.notes.append(f"NTP: not started: {problem}")
            return
        self.time_service = service

    def _capabilities(self) -> Capabilities:
        capabilities = Capabilities()
        if self.time_service is not None:
            capabilities.ntp = frozenset(d.name for d in self.estate.ntp_servers())
        else:
            capabilities.notes["clock-drift"] = (
                "NTP is not running in this lab (see its start-up notes)"
            )
        tls = [s for s in self.services.values() if s.tls]
        capabilities.tls = frozenset(d.name for s in tls for d in s.devices.values())
        if not tls:
            capabilities.notes["cert-expiry"] = "no TLS service is running in this lab"
        return capabilities

    # ---- faults ------------------------------------------------------------------------------

    def inject(self, kind: str, target: str, **options: Any) -> dict[str, Any]:
        """Apply a fault (FaultError, a ValueError, when the request is wrong)."""
        made, devices = self.faults.inject(kind, target, options)
        self._sync(devices)
        return describe(self, kind, target, made, devices)

    def heal(self, target: str | None = None) -> dict[str, Any]:
        """Remove the faults on ``target`` (a device, device:ifName, link, site or fault id),
        or every fault when None."""
        healed, devices = self.faults.heal(target)
        self._sync(devices)
        return {
            "healed": [f.as_dict() for f in healed],
            "count": len(healed),
            "remaining": len(self.faults.faults),
            "message": f"healed {len(healed)} fault(s)" if healed else "nothing to heal",
        }

    def active_faults(self) -> list[Fault]:
        return self.faults.active()

    def _sync(self, devices: Iterable[SimDevice]) -> None:
        time_service = self.time_service
        for device in devices:
            if device.agent is not None:
                device.agent.silent = device.unreachable
            if time_service is not None and device.address in time_service.offsets:
                time_service.follow(device.address, device.clock_offset, device.unreachable)
            if self.certificates is not None and device.name in self.faults.capabilities.tls:
                self.certificates.context(device, self.clock())  # loads a swapped certificate
        self._sync_icmp()

    def _sync_icmp(self) -> None:
        every = self.estate.devices.values()
        udp = {self.snmp.port} if self.snmp else set()
        if self.time_service is not None:
            udp.add(self.time_service.port)
        rules = IcmpRules(
            down=frozenset(d.address for d in every if d.unreachable),
            udp_ports=frozenset(udp),
            tcp_ports=frozenset(s.port for s in self.services.values()),
            loss={d.address: d.loss for d in every if d.loss and not d.unreachable},
            slow=frozenset(d.address for d in every if d.latency_ms and not d.unreachable),
        )
        if self.nft is None or not self.nft.available:
            return
        # The lab's own late replies first: without them, dropping the kernel's replies
        # would turn latency into total loss.
        self.echo_error = self.echo.start() if rules.slow else ""
        if not rules.slow or self.echo_error:
            self.echo.stop()
            rules = replace(rules, slow=frozenset())
        if rules != self._rules:
            self.icmp_error = self.nft.apply(rules)
            self._rules = None if self.icmp_error else rules

    def _echo_delay(self, address: str) -> float | None:
        device = self.estate.by_address.get(address)
        if device is None or not device.latency_ms or device.unreachable:
            return None
        return device.latency_ms / 1000.0 * (0.9 + 0.2 * self.rng.random())

    # ---- what is running ---------------------------------------------------------------------

    @property
    def snmp_port(self) -> int:
        if self.snmp is None:
            raise LabError("the lab is not running")
        return self.snmp.port

    def port(self, service: str) -> int | None:
        """The port a TCP service ("node_exporter", "esxi-tls", "systems-https") listens on."""
        running = self.services.get(service)
        return running.port if running else None

    def icmp_available(self) -> tuple[bool, str]:
        if self.nft is None or not self.nft.available:
            return False, self.nft.reason if self.nft else "not started"
        if self.icmp_error:
            return False, self.icmp_error
        return True, self.nft.reason

    def status(self) -> dict[str, Any]:
        estate = self.estate
        live = estate.live()
        available, detail = self.icmp_available()
        snmp = self.snmp
        return {
            "devices": len(estate.devices),
            "simulated": len(live),
            "absent": len(estate.devices) - len(live),
            "skipped": list(self.inventory.skipped if self.inventory else ()),
            "vpn_tunnels": len(estate.tunnels),
            "snmp": {
                "port": snmp.port if snmp else None,
                "agents": len(snmp) if snmp else 0,
                "views": len(self.shapes) if self.shapes else 0,
                "objects": self.shapes.objects() if self.shapes else 0,
                "access": self.inventory.snmp.describe() if self.inventory else "",
            },
            "services": [
                {
                    "name": s.name,
                    "port": s.port,
                    "devices": len(s.devices),
                    "tls": s.tls,
                    "connections": s.connections,
                }
                for s in self.services.values()
            ],
            "ntp": {"port": self.time_service.port, "devices": len(self.time_service.offsets)}
            if self.time_service
            else None,
            "icmp": {"available": available, "detail": detail},
            "control": self.control.url if self.control else None,
            "faults": len(self._book.faults) if self._book else 0,
            "started_in_s": round(self.started_in, 2),
            "rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
            "notes": list(self.notes),
        }


def _compile(estate: SimulatedEstate) -> dict[str, CompiledProfile]:
    """Every profile the estate uses, hints checked (HintError names the profile)."""
    used = {d.profile.name: d.profile for d in estate.devices.values() if d.profile is not None}
    return {name: compile_profile(profile) for name, profile in sorted(used.items())}
