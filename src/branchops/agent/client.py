"""Sending one batch to the centre, and what the answer means for it."""

from __future__ import annotations

import enum
import gzip
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)

# The batch is fine but the centre cannot take it now, or cannot be reached: keep it. 401,
# 403 and 404 are here too: a revoked token or a centre being upgraded is fixed by people,
# and the batches should still be there when it is.
RETRY_STATUSES = frozenset({401, 403, 404, 408, 425, 429})


class Verdict(enum.Enum):
    DELIVERED = "delivered"  # stored now, or a replay of a batch the centre already has
    RETRY_LATER = "retry_later"  # keep it on disk and send it again
    REJECTED = "rejected"  # the centre will never take this batch: drop it


@dataclass(frozen=True)
class Delivery:
    verdict: Verdict
    detail: str = ""
    last_sequence: int | None = None  # the highest batch number the centre holds


class CentreClient:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self._clock = clock
        self._client = httpx.Client(
            timeout=timeout_s,
            transport=transport,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                "User-Agent": "branchops-agent",
            },
        )

    def send(self, batch: dict[str, Any]) -> Delivery:
        # sent_at lets the centre measure this host's clock against its own.
        payload = {**batch, "sent_at": self._clock()}
        body = gzip.compress(json.dumps(payload, separators=(",", ":")).encode(), 6)
        try:
            response = self._client.post(self.url, content=body)
        except httpx.TransportError as exc:
            return Delivery(Verdict.RETRY_LATER, f"{type(exc).__name__}: {exc}")
        if response.status_code == 200:
            return Delivery(Verdict.DELIVERED, "", _last_sequence(response))
        detail = f"HTTP {response.status_code}: {response.text[:300]}"
        if response.status_code >= 500 or response.status_code in RETRY_STATUSES:
            return Delivery(Verdict.RETRY_LATER, detail)
        return Delivery(Verdict.REJECTED, detail)

    def close(self) -> None:
        self._client.close()


def _last_sequence(response: httpx.Response) -> int | None:
    try:
        value = response.json().get("last_sequence")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None
