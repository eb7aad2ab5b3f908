"""Domain errors that the API and the UI turn into clear 4xx answers."""

from __future__ import annotations

from typing import Any


class Conflict(Exception):
    """The change clashes with the current state (an object still in use, a stale edit)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BulkValidationError(Exception):
    """Some rows of a batch are invalid; nothing of the batch was written.

    ``errors`` maps the 0-based row index to ``{field: [messages]}``.
    """

    def __init__(self, errors: dict[int, dict[str, list[str]]]) -> None:
        super().__init__(f"{len(errors)} invalid row(s)")
        self.errors = errors

    def as_json(self) -> list[dict[str, Any]]:
        return [{"index": i, "fields": f} for i, f in sorted(self.errors.items())]
