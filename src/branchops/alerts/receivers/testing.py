"""Builders for tests of the receivers and of code that uses them (like core.testing)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path

from branchops.alerts.receivers.events import InboundEvent


class ManualClock:
    """A clock that moves only when told: token buckets and timestamps become exact."""

    WALL_OFFSET = 1_700_000_000.0

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.WALL_OFFSET + self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class EventSink:
    """The callback a test gives a receiver: keeps every event, lets the test wait."""

    def __init__(self) -> None:
        self.events: list[InboundEvent] = []

    def __call__(self, event: InboundEvent) -> None:
        self.events.append(event)

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[InboundEvent]:
        await until(lambda: len(self.events) >= count, timeout, f"{count} events")
        return self.events


async def until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Let the loop run until ``condition`` holds; fail after ``timeout`` seconds (a guard
    against hanging, not a measurement)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.005)


def free_port(kind: int = socket.SOCK_DGRAM, host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


async def run_tool(args: Sequence[str], home: Path, timeout: float = 20.0) -> tuple[int, str]:
    """Run a command-line peer (snmptrap, logger) with a private HOME and no system
    SNMP configuration; its exit code and combined output."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "SNMPCONFPATH": str(home),
        "SNMP_PERSISTENT_DIR": str(home / "snmp-persist"),
        "MIBS": "",
        "MIBDIRS": str(home),
    }
    process = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode or 0, out.decode(errors="replace")
