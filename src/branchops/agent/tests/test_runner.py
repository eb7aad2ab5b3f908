"""The agent's cycle against a scripted centre: order, buffering, replay, drops, deadlines.

The end-to-end version, against a real server that goes away and comes back, is in
test_replay_live.py.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from branchops.agent.client import Delivery, Verdict
from branchops.agent.collect import Sample
from branchops.agent.config import AgentConfig
from branchops.agent.runner import Agent


class Counting:
    """A collector whose only sample is the cycle number."""

    def __init__(self) -> None:
        self.cycle = 0

    def collect(self) -> list[Sample]:
        self.cycle += 1
        return [Sample("branchops_test_cycle", float(self.cycle))]


class Centre:
    """Answers each send with the next verdict of its script (then DELIVERED)."""

    def __init__(self) -> None:
        self.script: list[Verdict] = []
        self.down = False
        self.received: list[int] = []  # sequences the centre stored
        self.attempts: list[int] = []
        self.last_sequence: int | None = None

    def send(self, batch: dict[str, Any]) -> Delivery:
        self.attempts.append(batch["sequence"])
        verdict = self.script.pop(0) if self.script else Verdict.DELIVERED
        if self.down:
            verdict = Verdict.RETRY_LATER
        if verdict is Verdict.DELIVERED:
            self.received.append(batch["sequence"])
        return Delivery(verdict, "scripted", self.last_sequence)

    def close(self) -> None:
        pass


def make_agent(tmp_path: Path, centre: Centre, **config: Any) -> Agent:
    settings = AgentConfig(server="http://127.0.0.1:1", token="t", buffer_dir=tmp_path, **config)
    facts = {"hostname": "h", "os": "Linux", "ips": [], "version": "0"}
    return Agent(settings, collector=Counting(), sender=centre, facts=lambda: facts)


def test_batches_are_numbered_and_sent(tmp_path: Path) -> None:
    centre = Centre()
    agent = make_agent(tmp_path, centre)
    reports = [agent.run_once() for _ in range(3)]
    assert [r.sequence for r in reports] == [1, 2, 3]
    assert centre.received == [1, 2, 3]
    assert all(r.buffered == 0 for r in reports)


def test_an_outage_is_buffered_and_replayed_in_order(tmp_path: Path) -> None:
    centre = Centre()
    agent = make_agent(tmp_path, centre)
    agent.run_once()
    centre.down = True
    for _ in range(3):
        agent.run_once()
    assert len(agent.buffer) == 3
    assert centre.attempts == [1, 2, 2, 2]  # one try per cycle while down: the oldest
    centre.down = False
    report = agent.run_once()
    assert centre.received == [1, 2, 3, 4, 5]
    assert (report.sent, report.buffered) == (4, 0)


def test_the_buffer_outlives_the_agent(tmp_path: Path) -> None:
    centre = Centre()
    centre.down = True
    first = make_agent(tmp_path, centre)
    first.run_once()
    first.run_once()
    centre.down = False
    second = make_agent(tmp_path, centre)  # a restart: new process, same disk
    second.run_once()
    assert centre.received == [1, 2, 3]


def test_a_batch_the_centre_refuses_for_good_is_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    centre = Centre()
    centre.script = [Verdict.REJECTED]
    agent = make_agent(tmp_path, centre)
    with caplog.at_level(logging.ERROR):
        report = agent.run_once()
    agent.run_once()
    assert report.rejected == 1
    assert centre.received == [2]
    assert "refused batch 1 for good" in caplog.text


def test_a_corrupt_buffered_batch_does_not_stop_the_replay(tmp_path: Path) -> None:
    centre = Centre()
    centre.down = True
    agent = make_agent(tmp_path, centre)
    for _ in range(3):
        agent.run_once()
    (tmp_path / "batches" / f"{2:020d}.json").write_text("{half a batch")
    centre.down = False
    agent.run_once()
    assert centre.received == [1, 3, 4]


def test_replay_stops_at_the_deadline_and_goes_on_next_cycle(tmp_path: Path) -> None:
    centre = Centre()
    centre.down = True
    now = [1_700_000_000.0]

    def clock() -> float:
        now[0] += 1.0  # every look at the clock costs a second
        return now[0]

    settings = AgentConfig(server="http://127.0.0.1:1", token="t", buffer_dir=tmp_path)
    agent = Agent(settings, collector=Counting(), sender=centre, facts=dict, clock=clock)
    for _ in range(5):
        agent.run_once()
    centre.down = False
    agent.run_once(deadline=now[0] + 6)
    assert 0 < len(centre.received) < 6
    agent.run_once()
    assert centre.received == [1, 2, 3, 4, 5, 6, 7]


def test_numbers_the_centre_already_holds_are_skipped(tmp_path: Path) -> None:
    centre = Centre()
    centre.last_sequence = 500  # e.g. the server was restored from an old backup
    agent = make_agent(tmp_path, centre)
    agent.run_once()
    centre.last_sequence = None
    assert agent.run_once().sequence == 501


def test_the_agent_reports_on_itself(tmp_path: Path) -> None:
    sent: list[dict[str, Any]] = []

    class Recorder(Centre):
        def send(self, batch: dict[str, Any]) -> Delivery:
            sent.append(batch)
            return super().send(batch)

    agent = make_agent(tmp_path, Recorder())
    agent.run_once()
    names = {s["name"] for s in sent[0]["samples"]}
    assert {
        "branchops_test_cycle",
        "branchops_agent_collect_duration_seconds",
        "branchops_agent_buffered_batches",
        "branchops_agent_dropped_batches_total",
    } <= names
    assert sent[0]["agent"]["id"] == agent.state.agent_id
