"""NTP for the estate's time sources, through the lab's NTP responder (branchops.lab.ntp).

The responder answers SNTP for 127.x addresses with a per-address offset; the lab gives it
the data-centre servers' addresses, moves an address's offset for a clock-drift fault, and
makes it silent while that device is down.
"""

from __future__ import annotations

from collections.abc import Mapping

from branchops.lab.ntp import NtpResponder


class TimeService:
    def __init__(self, port: int, offsets: Mapping[str, float]) -> None:
        self.offsets = dict(offsets)
        self._responder = NtpResponder(port, dict(offsets))
        self._running = False

    @property
    def port(self) -> int:
        return self._responder.port

    async def start(self) -> str:
        """Start answering; returns why not, or "" when running."""
        try:
            await self._responder.start()
        except OSError as exc:
            return f"udp/{self._responder.port}: {exc.strerror or exc}"
        self._running = True
        return ""

    def follow(self, address: str, offset: float, silent: bool) -> None:
        """Make ``address`` answer ``offset`` seconds off, or not at all."""
        self.offsets[address] = offset
        self._responder.set_offset(address, offset)
        self._responder.set_fault(address, "silent" if silent else None)

    async def stop(self) -> None:
        if self._running:
            self._responder.stop()
            self._running = False
