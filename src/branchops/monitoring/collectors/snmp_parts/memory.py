"""What the SNMP collectors remember between two polls of a check, and the arithmetic of
counters: rates across wraps, resets and reboots.

Memory lives in the collector (one per engine), keyed by check id, and forgets checks not
polled for a while (deleted or disabled), so it cannot grow without bound. After an engine
restart the first poll of each check has nothing to compare with: it reports states and
levels, and rates from the second poll on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

T = TypeVar("T")

COUNTER32_WRAP: Final = 2**32
TIMETICKS_WRAP: Final = 2**32  # hundredths of a second: about 497 days
_PRUNE_EVERY: Final = 1024


class CheckMemory(Generic[T]):
    """The last state of each check, forgotten after ``max_idle_s`` without a poll."""

    def __init__(self, monotonic: Callable[[], float], max_idle_s: float = 6 * 3600) -> None:
        self._monotonic = monotonic
        self._max_idle_s = max_idle_s
        self._entries: dict[int, tuple[float, T]] = {}
        self._writes = 0

    def get(self, check_id: int) -> T | None:
        entry = self._entries.get(check_id)
        return None if entry is None else entry[1]

    def put(self, check_id: int, value: T) -> None:
        now = self._monotonic()
        self._entries[check_id] = (now, value)
        self._writes += 1
        if self._writes % _PRUNE_EVERY == 0:
            horizon = now - self._max_idle_s
            self._entries = {k: v for k, v in self._entries.items() if v[0] >= horizon}

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True, slots=True)
class Uptime:
    """sysUpTime (hundredths of a second, the agent's clock) read at a local moment."""

    ticks: int
    at: float  # local monotonic seconds


def rebooted(before: Uptime, now: Uptime) -> bool:
    """Whether the agent restarted between two reads of sysUpTime.

    The uptime must have grown by about the local time that passed. Less than that (beyond
    a slack for clock drift and request delays) means it started again from zero, even when
    the new value is above the old one because the last poll was long ago. A value below the
    old one is a wrap, not a reboot, when the old value was near 2^32 and the time passed
    explains it.
    """
    elapsed = now.at - before.at
    if elapsed < 0:
        return False
    expected = before.ticks + elapsed * 100
    slack = 1000 + elapsed * 100 * 0.05  # 10 s, plus 5 % of the interval
    ticks = now.ticks
    if ticks < before.ticks and expected >= TIMETICKS_WRAP:
        ticks += TIMETICKS_WRAP
    return ticks < expected - slack


def counter_delta(before: int, now: int, width: int) -> int | None:
    """How much a counter grew between two reads; None when that cannot be known.

    A Counter32 that went down wrapped once at 2^32 (RFC 2578 7.1.6). A Counter64 never
    wraps in practice (2^64 octets is 46 years at 100 Gbit/s), so one that went down was
    reset, and the interval has no rate.
    """
    if now >= before:
        return now - before
    if width == 32:
        return now + COUNTER32_WRAP - before
    return None


def counter_rate(
    before: int, now: int, width: int, elapsed_s: float, ceiling_per_s: float | None = None
) -> float | None:
    """Increase per second, or None when the interval gives no trustworthy rate.

    ``ceiling_per_s`` is the most the counter can grow per second (an interface's speed in
    octets). A Counter32 that would have grown faster than that was reset, not wrapped; and
    when the interval is longer than one wrap at that speed, a wrap could have been missed.
    """
    if elapsed_s <= 0:
        return None
    delta = counter_delta(before, now, width)
    if delta is None:
        return None
    rate = delta / elapsed_s
    if ceiling_per_s and width == 32:
        if rate > ceiling_per_s * 1.5:  # faster than the line: a reset, not a wrap
            return None
        if elapsed_s * ceiling_per_s >= COUNTER32_WRAP:
            return None  # two wraps would look like one: ambiguous
    return rate
