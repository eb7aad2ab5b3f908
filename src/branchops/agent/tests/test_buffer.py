"""The agent's disk: its identity and batch counter survive restarts; the buffer is capped,
ordered, crash-safe, and a corrupt file is skipped with a warning."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from branchops.agent.buffer import AgentState, DiskBuffer


def batch(sequence: int, size: int = 10) -> dict[str, Any]:
    return {
        "agent": {"id": "a" * 36, "hostname": "h"},
        "sequence": sequence,
        "collected_at": 1_700_000_000.0 + sequence,
        "samples": [{"name": "x", "labels": {}, "value": 1.0}] * size,
    }


def test_the_identity_and_counter_survive_a_restart(tmp_path: Path) -> None:
    state = AgentState(tmp_path)
    assert [state.take_sequence() for _ in range(3)] == [1, 2, 3]
    again = AgentState(tmp_path)
    assert again.agent_id == state.agent_id
    assert again.take_sequence() == 4


def test_an_unreadable_state_makes_a_new_agent_rather_than_reuse_numbers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = AgentState(tmp_path)
    state.take_sequence()
    (tmp_path / "state.json").write_text("{garbage")
    with caplog.at_level(logging.WARNING):
        fresh = AgentState(tmp_path)
    assert fresh.agent_id != state.agent_id
    assert fresh.next_sequence == 1
    assert "starting as a new agent" in caplog.text


def test_the_agent_continues_after_numbers_the_centre_holds(tmp_path: Path) -> None:
    state = AgentState(tmp_path)
    state.skip_past(41)
    assert state.take_sequence() == 42
    state.skip_past(10)  # behind us: nothing changes
    assert AgentState(tmp_path).take_sequence() == 43


def test_batches_come_back_oldest_first_across_restarts(tmp_path: Path) -> None:
    state = AgentState(tmp_path)
    buffer = DiskBuffer(tmp_path, 10_000_000, state)
    for sequence in (9, 10, 11, 100):
        buffer.append(batch(sequence))
    reopened = DiskBuffer(tmp_path, 10_000_000, AgentState(tmp_path))
    assert len(reopened) == 4
    read = [reopened.read(p) for p in reopened.pending()]
    assert [b["sequence"] for b in read if b] == [9, 10, 11, 100]


def test_the_cap_drops_the_oldest_and_counts_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = AgentState(tmp_path)
    one = len(json.dumps(batch(1, size=50), separators=(",", ":")))
    buffer = DiskBuffer(tmp_path, one * 3 + 10, state)
    with caplog.at_level(logging.WARNING):
        for sequence in range(1, 8):
            buffer.append(batch(sequence, size=50))
    assert [int(p.stem) for p in buffer.pending()] == [5, 6, 7]
    assert buffer.size_bytes <= one * 3 + 10
    assert state.dropped == 4
    assert AgentState(tmp_path).dropped == 4  # kept on disk
    assert "dropped the 1 oldest" in caplog.text


def test_a_batch_larger_than_the_cap_is_still_kept_alone(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path, 10, AgentState(tmp_path))
    buffer.append(batch(1))
    buffer.append(batch(2))
    assert [int(p.stem) for p in buffer.pending()] == [2]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{truncated",
        b"[1, 2]",
        b'{"sequence": 3}',
        b'{"agent": {}, "sequence": "3", "collected_at": 1, "samples": []}',
        b"\xff\xfe\x00garbage",
    ],
)
def test_a_corrupt_file_is_skipped_with_a_warning_and_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    state = AgentState(tmp_path)
    buffer = DiskBuffer(tmp_path, 10_000_000, state)
    buffer.append(batch(1))
    (tmp_path / "batches" / f"{2:020d}.json").write_bytes(content)
    buffer.append(batch(3))
    buffer = DiskBuffer(tmp_path, 10_000_000, state)  # as after a restart
    with caplog.at_level(logging.WARNING):
        good = [b for p in list(buffer.pending()) if (b := buffer.read(p)) is not None]
    assert [b["sequence"] for b in good] == [1, 3]
    assert "is corrupt" in caplog.text
    assert (tmp_path / "corrupt" / f"{2:020d}.json").exists()
    assert len(buffer) == 2
    assert state.corrupt == 1


def test_a_write_interrupted_by_a_crash_leaves_no_half_file(tmp_path: Path) -> None:
    folder = tmp_path / "batches"
    folder.mkdir()
    (folder / f".{1:020d}.json.tmp").write_bytes(b'{"agent": {"id"')
    buffer = DiskBuffer(tmp_path, 10_000_000, AgentState(tmp_path))
    assert len(buffer) == 0
    assert list(folder.iterdir()) == []
