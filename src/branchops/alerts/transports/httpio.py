"""One HTTP exchange for the HTTP channels, with failures sorted into retryable or not.

Answers are read up to :data:`ANSWER_LIMIT` bytes and no further: a misbehaving gateway
cannot make the outbox buffer megabytes. Error messages never contain the request URL,
which for robots carries the access token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import httpx

from branchops.alerts.transports.base import Delivery, TransportError, excerpt

ANSWER_LIMIT: Final = 64 * 1024
USER_AGENT: Final = "BranchOps-notify/1"
RETRYABLE_STATUS: Final = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    text: str

    @property
    def label(self) -> str:
        return f"HTTP {self.status}"


async def exchange(client: httpx.AsyncClient, request: httpx.Request, *, timeout: float) -> Answer:
    """Send ``request``; a failure to get any answer is a retryable TransportError."""
    request.extensions["timeout"] = httpx.Timeout(timeout).as_dict()
    request.headers.setdefault("User-Agent", USER_AGENT)
    try:
        response = await client.send(request, stream=True)
        try:
            body = await _read_capped(response)
        finally:
            await response.aclose()
    except httpx.TimeoutException:
        raise TransportError(f"no answer within {timeout:g} s", retryable=True) from None
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise TransportError(f"connection failed: {reason}", retryable=True) from None
    return Answer(response.status_code, body.decode("utf-8", "replace"))


async def _read_capped(response: httpx.Response) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        parts.append(chunk)
        size += len(chunk)
        if size >= ANSWER_LIMIT:
            break
    return b"".join(parts)[:ANSWER_LIMIT]


def check_status(answer: Answer) -> None:
    """2xx passes; 408, 425, 429 and 5xx are retryable; any other status is not."""
    if 200 <= answer.status < 300:
        return
    retryable = answer.status in RETRYABLE_STATUS or answer.status >= 500
    raise TransportError(answer.label, retryable=retryable, detail=answer.text)


def robot_delivery(
    answer: Answer, *, code_names: tuple[str, ...], retryable: frozenset[int]
) -> Delivery:
    """The Delivery of a robot API's JSON answer: its code 0 on a 2xx is success.

    Vendors answer some refusals with a 4xx and the reason in the JSON code, so the code
    is read whatever the status; a code in ``retryable`` (a rate limit) or a retryable
    status makes the error retryable.
    """
    data = _json_object(answer.text)
    code = _first_int(data, code_names) if data is not None else None
    if code is None:
        check_status(answer)
        raise TransportError(
            f"{answer.label}: the answer has no {code_names[0]}",
            retryable=False,
            detail=answer.text,
        )
    status = f"{answer.label} {code_names[0]}={code}"
    if code == 0 and 200 <= answer.status < 300:
        return Delivery(True, status, excerpt(answer.text))
    assert data is not None
    message = next((str(data[k]) for k in ("errmsg", "msg", "StatusMessage") if data.get(k)), "")
    retry = code in retryable or answer.status in RETRYABLE_STATUS or answer.status >= 500
    raise TransportError(f"{status} {message}".strip(), retryable=retry, detail=answer.text)


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _first_int(data: dict[str, Any], names: tuple[str, ...]) -> int | None:
    for name in names:
        value = data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None
