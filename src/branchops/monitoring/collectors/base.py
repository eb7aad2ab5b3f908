"""What every collector speaks: a check to run in, a typed result out.

Collectors are small classes with one ``async def collect(spec) -> Result``. They never
touch the ORM, the clock or the network except through what their constructor receives,
and every vendor or protocol failure is wrapped in :class:`CollectorError`, whose
``retryable`` says whether trying again soon can help. The scheduler turns any error into a
``down`` or ``unknown`` result on the check; nothing a target does can raise into the
engine.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError


class State(enum.StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"  # the collector could not tell (timeout of the poller, bad config)


@dataclass(frozen=True, slots=True)
class SnmpAccess:
    """How to reach a device over SNMP, resolved from a named credential (secrets unsealed)."""

    version: str  # "2c" or "3"
    port: int = 161
    community: str = ""
    username: str = ""
    auth_protocol: str = ""  # "", md5, sha, sha224, sha256, sha384, sha512
    auth_password: str = ""
    priv_protocol: str = ""  # "", des, aes, aes192, aes256
    priv_password: str = ""
    timeout_s: float = 2.0
    retries: int = 1

    def __repr__(self) -> str:  # never print secrets into logs
        return f"SnmpAccess(v{self.version}, port={self.port}, user={self.username!r})"


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """Everything a collector needs to run one check, detached from the database.

    ``target`` is an IP literal (the device's management address; for a link, its A
    device's). ``params`` were validated by ``monitoring.params`` for the kind. ``labels``
    name the series (region, site, device, role, and link for link checks).
    """

    check_id: int
    kind: str
    target: str
    timeout_s: float
    interval_s: float = 60.0
    params: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    snmp: SnmpAccess | None = None
    platform: str = ""  # Platform slug: chooses the SNMP device profile
    link: str = ""  # link name, for link checks
    # For link checks, the far end (a concentrator): a tunnel the branch device cannot
    # report over SNMP can still be read from the concentrator's own tunnel table.
    far_target: str = ""
    far_platform: str = ""
    far_device: str = ""
    # ``labels`` as a sorted tuple, made once: every sample of every run carries it.
    label_items: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label_items", tuple(sorted(self.labels.items())))


@dataclass(frozen=True, slots=True)
class Sample:
    """One measurement, named and labelled the Prometheus way.

    Not validated here: a sweep makes tens of thousands a second. Collectors give finite
    numbers (their tests say so); the stores refuse NaN and count it.
    """

    name: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Result:
    check_id: int
    state: State
    started_at: float  # unix seconds
    duration_s: float
    samples: tuple[Sample, ...] = ()
    error: str = ""
    # Short human summary for the check list: "loss 0 %, avg 1.2 ms".
    summary: str = ""


class CollectorError(Exception):
    """A check could not be completed. ``retryable`` says whether retrying soon can help."""

    def __init__(self, message: str, *, retryable: bool = True, state: State = State.DOWN) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.state = state


class ConfigError(CollectorError):
    """The check's parameters are wrong; retrying will not help until someone fixes them."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, state=State.UNKNOWN)


class Collector(Protocol):
    """The one method a collector has."""

    kind: str

    async def collect(self, spec: CheckSpec) -> Result: ...

    async def aclose(self) -> None: ...


P = TypeVar("P", bound=BaseModel)


def typed_params(spec: CheckSpec, model: type[P]) -> P:
    """The check's parameters as ``model``; invalid ones are a ConfigError, never a crash."""
    try:
        return model.model_validate(dict(spec.params))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid {spec.kind} parameters: {problems}") from None


def labels_of(spec: CheckSpec, **extra: str) -> tuple[tuple[str, str], ...]:
    if not extra:
        return spec.label_items
    merged = {**spec.labels, **extra}
    return tuple(sorted(merged.items()))
