"""What the agent keeps on disk: its identity and batch counter, and the batches not yet taken.

``state.json`` holds the agent's id (a UUID made on first start), the next batch number
and the count of batches dropped from a full buffer. Batch numbers are written down before
they are used, so a restart never reuses one: the centre recognises a replayed batch by its
number and stores it only once. Losing ``state.json`` (or finding it unreadable) makes a new
agent id rather than risk numbers the centre has already seen.

``batches/`` holds one file per batch the centre did not take, named by its number, sent
again oldest first. The folder is capped in bytes; past the cap the oldest batches are
dropped and counted. Every file is written to a temporary name, flushed and renamed, so a
crash leaves whole files or none; a file that is unreadable anyway (a disk error, a hand
edit) is moved to ``corrupt/`` with a warning and skipped.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CORRUPT_KEPT = 20
REQUIRED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "agent": dict,
    "sequence": int,
    "collected_at": (int, float),
    "samples": list,
}


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class AgentState:
    """The agent id, the next batch number and the dropped-batch count, kept in one file."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = folder / "state.json"
        self.agent_id = ""
        self.next_sequence = 1
        self.dropped = 0
        self.corrupt = 0
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.agent_id = str(data["agent_id"])
            self.next_sequence = int(data["next_sequence"])
            self.dropped = int(data.get("dropped", 0))
            self.corrupt = int(data.get("corrupt", 0))
            if len(self.agent_id) < 8 or self.next_sequence < 1:
                raise ValueError("implausible state")
        except FileNotFoundError:
            self._fresh()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s is unreadable (%s): starting as a new agent", self.path, exc)
            self._fresh()

    def _fresh(self) -> None:
        self.agent_id = str(uuid.uuid4())
        self.next_sequence = 1
        self.save()

    def save(self) -> None:
        data = {
            "agent_id": self.agent_id,
            "next_sequence": self.next_sequence,
            "dropped": self.dropped,
            "corrupt": self.corrupt,
        }
        write_atomically(self.path, json.dumps(data).encode())

    def take_sequence(self) -> int:
        """The next batch number, written down before it is handed out."""
        sequence = self.next_sequence
        self.next_sequence += 1
        self.save()
        return sequence

    def skip_past(self, sequence: int) -> None:
        """The centre holds numbers up to ``sequence``: continue after them (a restored
        backup or a cloned server would otherwise reuse numbers and lose batches)."""
        if sequence >= self.next_sequence:
            log.warning(
                "the centre already holds batch %d; continuing from %d", sequence, sequence + 1
            )
            self.next_sequence = sequence + 1
            self.save()


class DiskBuffer:
    """Batches waiting for the centre, one file each, oldest first, at most ``max_bytes``."""

    def __init__(self, folder: Path, max_bytes: int, state: AgentState) -> None:
        self.folder = folder / "batches"
        self.corrupt_folder = folder / "corrupt"
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.max_bytes = max_bytes
        self.state = state
        self._sizes: dict[Path, int] = {}
        for path in self.folder.glob("*.json"):
            self._sizes[path] = path.stat().st_size
        for leftover in self.folder.glob(".*.tmp"):  # a crash during a write
            leftover.unlink(missing_ok=True)

    def __len__(self) -> int:
        return len(self._sizes)

    @property
    def size_bytes(self) -> int:
        return sum(self._sizes.values())

    def append(self, batch: dict[str, Any]) -> None:
        path = self.folder / f"{int(batch['sequence']):020d}.json"
        data = json.dumps(batch, separators=(",", ":"), ensure_ascii=False).encode()
        write_atomically(path, data)
        self._sizes[path] = len(data)
        self._enforce_cap()

    def _enforce_cap(self) -> None:
        dropped = 0
        while self.size_bytes > self.max_bytes and len(self._sizes) > 1:
            oldest = min(self._sizes)
            oldest.unlink(missing_ok=True)
            del self._sizes[oldest]
            dropped += 1
        if dropped:
            self.state.dropped += dropped
            self.state.save()
            log.warning(
                "buffer full (%d bytes): dropped the %d oldest batch(es), %d in all",
                self.max_bytes,
                dropped,
                self.state.dropped,
            )

    def pending(self) -> Iterator[Path]:
        """Buffered batch files, oldest first (file names sort by batch number)."""
        yield from sorted(self._sizes)

    def read(self, path: Path) -> dict[str, Any] | None:
        """The batch in ``path``, or None (with a warning) when it cannot be a batch."""
        try:
            batch = json.loads(path.read_bytes())
            if not isinstance(batch, dict):
                raise ValueError("not a JSON object")
            for name, kind in REQUIRED_FIELDS.items():
                if not isinstance(batch.get(name), kind):
                    raise ValueError(f"no valid {name!r}")
        except (OSError, ValueError) as exc:
            self._set_aside(path, str(exc))
            return None
        return batch

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self._sizes.pop(path, None)

    def _set_aside(self, path: Path, why: str) -> None:
        log.warning(
            "buffered batch %s is corrupt (%s): skipped, kept in %s",
            path.name,
            why,
            self.corrupt_folder,
        )
        self.corrupt_folder.mkdir(exist_ok=True, mode=0o700)
        try:
            os.replace(path, self.corrupt_folder / path.name)
        except OSError:
            path.unlink(missing_ok=True)
        self._sizes.pop(path, None)
        self.state.corrupt += 1
        self.state.save()
        kept = sorted(self.corrupt_folder.glob("*.json"))
        for old in kept[:-CORRUPT_KEPT]:
            old.unlink(missing_ok=True)
