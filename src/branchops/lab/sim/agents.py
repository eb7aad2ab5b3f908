"""The lab's SNMP agents: the library's simulated agent, plus what faults need.

:class:`LabAgent` points the shared views' cursor at its device before answering (see
:mod:`.snmpview`) and drops a share of requests under a packet-loss fault.
:class:`LabAgentServer` holds replies back under a latency fault. Down devices use the
library's own ``silent`` flag.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Callable, Iterable

from branchops.lab.sim.model import SimDevice
from branchops.lab.sim.snmpview import Cursor
from branchops.snmp import AgentServer, MibView, SimulatedAgent, UsmUser


class LabAgent(SimulatedAgent):
    """One device's agent; its view may be shared with devices of the same shape."""

    def __init__(
        self,
        device: SimDevice,
        view: MibView,
        cursor: Cursor,
        *,
        clock: Callable[[], float],
        rng: random.Random,
        communities: Iterable[str],
        users: Iterable[UsmUser],
    ) -> None:
        super().__init__(device.address, view, communities=communities, users=users)
        self.device = device
        self._cursor = cursor
        self._wall = clock
        self._rng = rng

    def handle(self, data: bytes) -> bytes | None:
        device = self.device
        if device.loss and not self.silent and self._rng.random() * 100 < device.loss:
            self.stats.requests += 1
            self.stats.silent += 1  # lost on the way: counted with the deliberate silences
            return None
        self._cursor.point(device, self._wall())
        return super().handle(data)


class LabAgentServer(AgentServer):
    """The shared-socket agent server; replies of devices with a latency fault wait.

    The delay is taken where the library sends (``_send``), the one place that knows both
    the agent's address and the peer's; the library has no public hook for it yet.
    """

    def __init__(self, port: int, rng: random.Random) -> None:
        super().__init__(port)
        self._devices: dict[bytes, SimDevice] = {}
        self._rng = rng

    async def add(self, agent: SimulatedAgent) -> None:
        await super().add(agent)
        if isinstance(agent, LabAgent):
            self._devices[agent.packed] = agent.device

    def _send(self, sock: socket.socket, reply: bytes, source: bytes, to: tuple[str, int]) -> None:
        device = self._devices.get(source)
        if device is None or not device.latency_ms:
            super()._send(sock, reply, source, to)
            return
        # +-10 % jitter, as a congested line shows
        delay = device.latency_ms / 1000.0 * (0.9 + 0.2 * self._rng.random())
        asyncio.get_running_loop().call_later(
            delay, AgentServer._send, self, sock, reply, source, to
        )
