"""What every notification channel speaks: a notice in, a delivery record out.

A transport turns one :class:`Notice` (already worded in the recipient's language) into one
message on one channel. It never touches the ORM; its HTTP client and clock come through the
constructor. Every failure is a :class:`TransportError` whose ``retryable`` tells the outbox
whether trying again later can help (a rate limit, a 4xx SMTP reply, a dropped connection)
or not (a wrong token, a refused signature, a 5xx SMTP reply).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

DETAIL_LIMIT = 500  # characters of a peer's answer kept for the notification log


@dataclass(frozen=True, slots=True)
class Notice:
    """What people are told, already in the right language.

    ``title``, ``body``, ``fields`` and ``items`` come from operators' labels and from
    devices: transports treat them as hostile text. ``link`` and ``ack_link`` are made by
    BranchOps itself and are the only links a message carries.
    """

    kind: str  # "firing" | "resolved" | "escalation" | "digest" | "test"
    severity: int  # 1, 2, 3
    severity_label: str  # "一级" or "Severity 1"
    title: str
    body: str = ""
    fields: Sequence[tuple[str, str]] = ()  # (label, value): site, device, started, affected
    link: str = ""  # the alert page
    ack_link: str = ""  # signed acknowledge URL, "" when not acknowledgeable
    items: Sequence[str] = ()  # symptoms or digest entries
    key: str = ""  # stable id (outbox row id), for idempotency headers


@dataclass(frozen=True, slots=True)
class Delivery:
    """What happened, for the notification log."""

    ok: bool
    status: str  # short: "250 OK", "HTTP 200 errcode=0"
    detail: str = ""  # the peer's answer, at most DETAIL_LIMIT characters


class TransportError(Exception):
    """A notice could not be delivered. ``retryable`` says whether a later attempt can help."""

    def __init__(self, message: str, *, retryable: bool, detail: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.detail = excerpt(detail)


class ConfigError(TransportError):
    """A channel's settings are wrong; nothing but an operator's fix will help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class ChannelConfig(BaseModel):
    """Settings every channel has. Unknown keys are ignored so that old rows keep working."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    timeout_s: float = Field(10.0, gt=0, le=120, description="Bound on one delivery attempt.")
    max_items: int = Field(10, ge=0, le=100, description="Items shown before '… and N more'.")


C = TypeVar("C", bound=ChannelConfig)


class Transport(abc.ABC, Generic[C]):
    """One channel. Built by :func:`branchops.alerts.transports.build`."""

    kind: ClassVar[str]
    config_model: ClassVar[type[ChannelConfig]]

    def __init__(self, config: C, *, client: httpx.AsyncClient, clock: Callable[[], float]) -> None:
        self.config = config
        self.client = client
        self.clock = clock

    @abc.abstractmethod
    async def send(self, notice: Notice) -> Delivery:
        """Deliver ``notice``; raise TransportError when it was not delivered."""


def parse_config(kind: str, model: type[C], raw: Mapping[str, Any]) -> C:
    """``raw`` as ``model``; invalid settings are a ConfigError naming each bad field."""
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise ConfigError(f"invalid {kind} settings: {problems}") from None


def _problem(error: Any) -> str:
    where = ".".join(map(str, error["loc"])) or "settings"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


def excerpt(text: str, limit: int = DETAIL_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
