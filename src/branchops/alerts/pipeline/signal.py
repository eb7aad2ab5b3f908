"""A signal: one observation that something is wrong (firing) or fine again (resolved)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Signal:
    fingerprint: str  # the same problem always has the same fingerprint
    source: str  # AlertSource value
    name: str  # kind of problem: device-down, vpn-down, threshold, ...
    firing: bool
    severity: int
    title: str
    at: float  # unix seconds
    summary: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    site_id: int | None = None
    device_id: int | None = None
    system_id: int | None = None
    link_id: int | None = None
    check_id: int | None = None
    rule_id: int | None = None
    resolve_after_s: float | None = None  # nothing will say it ended: it ends when quiet


def fingerprint_of(*parts: object) -> str:
    """A stable fingerprint from the parts that identify a problem (at most 64 chars)."""
    text = "\x1f".join(str(p) for p in parts)
    if len(text) <= 64 and "\x1f" not in text:
        return text
    return hashlib.sha256(text.encode()).hexdigest()


def labels_fingerprint(source: str, labels: Mapping[str, str]) -> str:
    return fingerprint_of(source, *(f"{k}={v}" for k, v in sorted(labels.items())))
