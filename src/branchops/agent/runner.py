"""The agent's loop: collect, number, send; keep on disk what the centre did not take.

Order is kept: while anything is buffered, a new batch joins the end of the buffer and
the buffer is sent oldest first, stopping at the first batch the centre cannot take now.
Replaying never delays collection: the buffer is drained only until the next cycle is due.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Protocol

from branchops.agent.buffer import AgentState, DiskBuffer
from branchops.agent.client import CentreClient, Delivery, Verdict
from branchops.agent.collect import HostCollector, Sample, host_facts
from branchops.agent.config import AgentConfig

log = logging.getLogger(__name__)


def agent_version() -> str:
    try:
        return metadata.version("branchops")
    except metadata.PackageNotFoundError:
        return "0"


class Collector(Protocol):
    def collect(self) -> list[Sample]: ...


class Sender(Protocol):
    def send(self, batch: dict[str, Any]) -> Delivery: ...

    def close(self) -> None: ...


@dataclass
class CycleReport:
    sequence: int
    sent: int = 0  # batches the centre took this cycle (new and replayed)
    buffered: int = 0  # batches on disk at the end of the cycle
    rejected: int = 0


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        *,
        collector: Collector | None = None,
        sender: Sender | None = None,
        facts: Callable[[], dict[str, Any]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.state = AgentState(config.buffer_dir)
        self.buffer = DiskBuffer(config.buffer_dir, config.buffer_max_bytes, self.state)
        self.collector = collector or HostCollector(
            top_processes=config.top_processes, patch_interval_s=config.patch_interval_s
        )
        self.sender = sender or CentreClient(
            config.push_url, config.token, timeout_s=config.timeout_s
        )
        version = agent_version()
        self._facts = facts or (lambda: host_facts(version))
        self._clock = clock

    # ---- one cycle ----------------------------------------------------------------------------

    def run_once(self, deadline: float | None = None) -> CycleReport:
        """Collect a batch and deliver it, after whatever is still buffered."""
        started = self._clock()
        samples = self.collector.collect()
        batch = self._batch(samples, started)
        report = CycleReport(sequence=batch["sequence"])
        if len(self.buffer):
            self.buffer.append(batch)  # behind the older ones: order is kept
            self._drain(deadline, report)
        else:
            delivery = self.sender.send(batch)
            self._note(delivery, batch, report)
            if delivery.verdict is Verdict.RETRY_LATER:
                self.buffer.append(batch)  # and no replay now: the centre just said no
        report.buffered = len(self.buffer)
        return report

    def _batch(self, samples: list[Sample], collected_at: float) -> dict[str, Any]:
        facts = self._facts()
        duration = self._clock() - collected_at
        own = [
            Sample("branchops_agent_collect_duration_seconds", duration),
            Sample("branchops_agent_buffered_batches", float(len(self.buffer))),
            Sample("branchops_agent_buffer_bytes", float(self.buffer.size_bytes)),
            Sample("branchops_agent_dropped_batches_total", float(self.state.dropped)),
        ]
        return {
            "agent": {"id": self.state.agent_id, **facts},
            "sequence": self.state.take_sequence(),
            "collected_at": collected_at,
            "dropped_batches": self.state.dropped,
            "samples": [
                {"name": s.name, "labels": s.labels, "value": s.value} for s in [*samples, *own]
            ],
        }

    def _drain(self, deadline: float | None, report: CycleReport) -> None:
        for path in self.buffer.pending():
            if deadline is not None and self._clock() >= deadline:
                return
            batch = self.buffer.read(path)
            if batch is None:
                continue  # corrupt: set aside with a warning by the buffer
            delivery = self.sender.send(batch)
            self._note(delivery, batch, report)
            if delivery.verdict is Verdict.RETRY_LATER:
                return
            self.buffer.remove(path)

    def _note(self, delivery: Delivery, batch: dict[str, Any], report: CycleReport) -> None:
        sequence = batch["sequence"]
        if delivery.verdict is Verdict.DELIVERED:
            report.sent += 1
            if delivery.last_sequence is not None:
                self.state.skip_past(delivery.last_sequence)
        elif delivery.verdict is Verdict.REJECTED:
            report.rejected += 1
            log.error(
                "the centre refused batch %d for good, dropped: %s", sequence, delivery.detail
            )
        else:
            log.warning(
                "the centre did not take batch %d now (%s): kept on disk", sequence, delivery.detail
            )

    # ---- forever ------------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        """A cycle every ``interval_s`` on a fixed grid (no drift), until ``stop`` is set."""
        interval = self.config.interval_s
        next_at = time.monotonic()
        while not stop.is_set():
            deadline = self._clock() + interval * 0.8
            try:
                self.run_once(deadline)
            except Exception:
                log.exception("cycle failed")
            next_at += interval
            now = time.monotonic()
            if next_at < now:  # a cycle overran: skip the missed slots, do not burst
                next_at = now + interval - (now - next_at) % interval
            stop.wait(next_at - now)
        self.sender.close()
