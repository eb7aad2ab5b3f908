"""Time, per-sender rate limiting and the counters both receivers expose for /metrics.

A flood from one device must cost us as little as possible and must not starve the others:
each sender has its own token bucket, checked before anything is parsed, and a message over
budget is counted and dropped on the spot. The table of senders is bounded (least recently
seen forgotten first), so spoofed source addresses cannot grow memory without limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Final, Protocol

MAX_TRACKED_SENDERS: Final = 10_000
OTHER_SENDERS: Final = "other"  # per-sender counters past the bound are summed here


class Clock(Protocol):
    """What the receivers read time from (the engine's clocks satisfy it)."""

    def monotonic(self) -> float: ...

    def wall(self) -> float: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Messages per second per sender, and how many may arrive at once after a quiet spell."""

    rate: float = 200.0
    burst: int = 1000

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")


class SenderLimiter:
    """One token bucket per sender address."""

    def __init__(
        self, limit: RateLimit, clock: Clock, max_senders: int = MAX_TRACKED_SENDERS
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._max = max_senders
        self._buckets: dict[str, tuple[float, float]] = {}  # sender -> (tokens, at)

    def allow(self, sender: str) -> bool:
        """Take one token from ``sender``'s bucket; False when it is empty."""
        now = self._clock.monotonic()
        tokens, at = self._buckets.pop(sender, (float(self.limit.burst), now))
        tokens = min(float(self.limit.burst), tokens + (now - at) * self.limit.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        if len(self._buckets) >= self._max:
            del self._buckets[next(iter(self._buckets))]  # least recently seen
        self._buckets[sender] = (tokens, now)  # re-inserted: dict order is recency
        return allowed


@dataclass(slots=True)
class SenderCounts:
    received: int = 0
    dropped: int = 0  # rate-limited


@dataclass(slots=True)
class ReceiverStats:
    """Counters of one receiver. ``rejected`` counts by reason (bad community, the USM
    statistic names such as unknownUserNames or wrongDigests, unsupported PDUs)."""

    received: int = 0
    parsed: int = 0  # became an event
    matched: int = 0  # of those, recognised by a parse rule or a known trap
    dropped_rate_limited: int = 0
    malformed: int = 0
    oversized: int = 0
    callback_errors: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    connections_opened: int = 0
    connections_refused: int = 0  # over the connection limit
    connections_closed_idle: int = 0
    connections_closed_abusive: int = 0  # oversized or unparseable framing
    informs_answered: int = 0
    reports_sent: int = 0
    per_sender: dict[str, SenderCounts] = field(default_factory=dict)

    def count_received(self, sender: str) -> SenderCounts:
        self.received += 1
        counts = self.per_sender.get(sender)
        if counts is None:
            key = sender if len(self.per_sender) < MAX_TRACKED_SENDERS else OTHER_SENDERS
            counts = self.per_sender.setdefault(key, SenderCounts())
        counts.received += 1
        return counts

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def snapshot(self) -> dict[str, object]:
        """Plain data for the metrics exposition."""
        totals = {
            name: getattr(self, name)
            for name in self.__slots__
            if name not in ("rejected", "per_sender")
        }
        totals["rejected"] = dict(self.rejected)
        totals["per_sender"] = {
            sender: {"received": c.received, "dropped_rate_limited": c.dropped}
            for sender, c in self.per_sender.items()
        }
        return totals
