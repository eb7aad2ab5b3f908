"""Pushed data: metrics from other systems, and batches from BranchOps agents.

``POST /api/v1/push/metrics`` takes Prometheus text (``text/plain``) or JSON
(``application/json``) from systems that report on themselves: data-transmission channels
and business flows (volume, success rate, delay). ``POST /api/v1/push/agent`` takes the
agent's batches (see docs/agent.md). Both need a write-scope token, take ``Content-Encoding:
gzip``, and refuse oversized bodies (413, saying the limit) before reading them, too many
samples, and oversized labels (400). Samples go to the metric store of this process.

A pushed sample gets a ``source`` label with the pushing user's name, replacing any the
pusher set: a token can only speak for itself. NaN values are dropped and counted (the
embedded store cannot hold them; Prometheus uses them only as staleness markers).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
import zlib
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import ValidationError, field_validator

from branchops.core.api import BearerToken, actor, error
from branchops.monitoring.metrics.base import (
    LABEL_RE,
    NAME_RE,
    MetricStore,
    TimedSample,
    canonical_labels,
    open_store,
)
from branchops.monitoring.metrics.victoria import VictoriaMetricsStore

MAX_METRICS_BYTES = 4 * 1024 * 1024
MAX_METRICS_SAMPLES = 20_000
MAX_AGENT_BYTES = 1024 * 1024
MAX_AGENT_SAMPLES = 5_000
# VictoriaMetrics keeps at most 30 labels a series (-maxLabelsPerTimeseries) and silently
# drops the rest; leave room for __name__ and the labels the centre adds (source, or host,
# region, site, device and role).
MAX_LABELS = 24
MAX_LABEL_NAME = 100
MAX_LABEL_VALUE = 512
MAX_NAME = 200
FUTURE_TOLERANCE_S = 600  # a sample further ahead of our clock than this is refused
TEXT_TYPES = frozenset({"text/plain", "application/openmetrics-text"})


# ---- the metric store of this process ------------------------------------------------------

_stores: dict[str, MetricStore] = {}
_stores_lock = threading.Lock()


def metric_store() -> MetricStore:
    """One store per process and METRICS_URL, opened on first use."""
    url = settings.METRICS_URL
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            store = _stores[url] = open_store(url)
            if isinstance(store, VictoriaMetricsStore):
                # A web worker must not hang on a sick VictoriaMetrics: one quick retry, then
                # 503, and the pusher (the agent) keeps its data and comes back later.
                store.retries = 1
                store.backoff_s = 0.2
        return store


def close_stores() -> None:
    with _stores_lock:
        for store in _stores.values():
            store.close()
        _stores.clear()


# ---- request bodies ------------------------------------------------------------------------


def read_body(request: HttpRequest, limit: int) -> bytes:
    """The body, gunzipped when sent so; 413 past ``limit`` bytes, before or after unzipping."""
    too_large = _("The body is larger than the limit of %(n)d bytes (%(mib).1f MiB).") % {
        "n": limit,
        "mib": limit / 1024 / 1024,
    }
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise HttpError(400, _("Content-Length is not a number.")) from exc
    if declared > limit:
        raise HttpError(413, too_large)
    body = request.read(limit + 1)
    if len(body) > limit:
        raise HttpError(413, too_large)
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding == "gzip":
        unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = unzip.decompress(body, limit + 1)
        except zlib.error as exc:
            raise HttpError(400, _("The body is not valid gzip: %(e)s") % {"e": exc}) from exc
        if len(body) > limit or unzip.unconsumed_tail:
            raise HttpError(413, too_large)
    elif encoding != "identity":
        raise HttpError(415, _("Content-Encoding must be gzip or absent."))
    return body


def check_labels(labels: dict[str, str] | tuple[tuple[str, str], ...]) -> str | None:
    """Why these labels are refused, or None."""
    items = labels.items() if isinstance(labels, dict) else labels
    count = 0
    for name, value in items:
        count += 1
        if not LABEL_RE.match(name) or name.startswith("__") or len(name) > MAX_LABEL_NAME:
            return _("label name %(name)r is not allowed") % {"name": name[:MAX_LABEL_NAME]}
        if len(value) > MAX_LABEL_VALUE:
            return _("label %(name)s is longer than %(n)d characters") % {
                "name": name,
                "n": MAX_LABEL_VALUE,
            }
    if count > MAX_LABELS:
        return _("more than %(n)d labels") % {"n": MAX_LABELS}
    return None


def _unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error(
        request,
        503,
        "unavailable",
        _("The metric store did not take the data; send it again later."),
        detail=str(exc)[:300],
    )


# ---- schemas -------------------------------------------------------------------------------


class PushResult(Schema):
    accepted: int = Field(description="Samples stored.")
    dropped: int = Field(description="Samples dropped: NaN values.")


class AgentFactsIn(Schema):
    id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,63}$",
        description="The agent's own id, generated once at install (a UUID).",
    )
    hostname: str = Field(min_length=1, max_length=255)
    os: str = Field("", max_length=100)
    os_version: str = Field("", max_length=200)
    ips: list[str] = Field(default_factory=list, max_length=64)
    version: str = Field("", max_length=32)
    extra: dict[str, str | int | float | bool | None] = Field(default_factory=dict, max_length=50)

    @field_validator("ips")
    @classmethod
    def _addresses(cls, ips: list[str]) -> list[str]:
        return [str(ipaddress.ip_address(ip)) for ip in ips]


class AgentSampleIn(Schema):
    name: str = Field(pattern=NAME_RE.pattern, max_length=MAX_NAME)
    labels: dict[str, str] = Field(default_factory=dict)
    value: float
    ts: float | None = Field(None, description="Unix seconds; the batch's collected_at if absent.")

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        problem = check_labels(labels)
        if problem:
            raise ValueError(problem)
        return labels


class AgentBatchIn(Schema):
    agent: AgentFactsIn
    sequence: int = Field(ge=1, le=2**62, description="1, 2, 3, ... per agent, never reused.")
    collected_at: float = Field(gt=1.5e9, description="Unix seconds, by the agent's clock.")
    sent_at: float | None = Field(None, description="Unix seconds at sending, agent's clock.")
    dropped_batches: int = Field(0, ge=0, description="Batches dropped from a full buffer.")
    samples: list[AgentSampleIn] = Field(max_length=MAX_AGENT_SAMPLES)


class AgentBatchOut(Schema):
    accepted: bool = Field(description="Stored now; false for a replay of a stored batch.")
    duplicate: bool
    last_sequence: int = Field(description="The highest batch number the centre holds.")
    samples: int


# ---- endpoints -----------------------------------------------------------------------------


def router() -> Router:
    """A new router (one per API it is mounted on): ``api.add_router("/push/", router())``."""
    push = Router(tags=["push"], auth=BearerToken())

    @push.post(
        "/metrics",
        response={200: PushResult},
        operation_id="push_metrics",
        summary="Push metrics (Prometheus text or JSON)",
        openapi_extra={
            "requestBody": {
                "content": {
                    "text/plain": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "object"}},
                },
                "required": True,
            }
        },
    )
    def push_metrics(request: HttpRequest) -> Any:
        return _push_metrics(request)

    @push.post(
        "/agent",
        response={200: AgentBatchOut},
        operation_id="push_agent_batch",
        summary="Push one batch from a BranchOps agent",
        openapi_extra={
            "requestBody": {
                "content": {"application/json": {"schema": {"type": "object"}}},
                "required": True,
            }
        },
    )
    def push_agent(request: HttpRequest) -> Any:
        return _push_agent(request)

    return push


def _push_metrics(request: HttpRequest) -> Any:
    from branchops.monitoring import exposition

    content_type = request.content_type or ""
    if content_type not in TEXT_TYPES and content_type != "application/json":
        raise HttpError(415, _("Send text/plain (Prometheus text) or application/json."))
    body = read_body(request, MAX_METRICS_BYTES)
    try:
        if content_type == "application/json":
            parsed = exposition.parse_json(body, max_samples=MAX_METRICS_SAMPLES)
        else:
            parsed = exposition.parse_text(body, keep=[], max_samples=MAX_METRICS_SAMPLES)
    except exposition.ExpositionError as exc:
        # "line 12: ..." for text and JSON syntax; JSON schema errors name the item instead.
        if exc.line:
            return error(request, 400, "invalid", str(exc), line=exc.line)
        return error(request, 400, "invalid", str(exc))
    now = time.time()
    source = actor(request).username
    samples: list[TimedSample] = []
    dropped = 0
    for sample in parsed:
        problem = check_labels(sample.labels)
        if problem is None and len(sample.name) > MAX_NAME:
            problem = _("the name is longer than %(n)d characters") % {"n": MAX_NAME}
        ts = now if sample.timestamp is None else exposition_seconds(sample.timestamp)
        if problem is None and ts > now + FUTURE_TOLERANCE_S:
            problem = _("the timestamp is in the future")
        if problem is not None:
            return error(
                request,
                400,
                "invalid",
                _("%(name)s: %(problem)s") % {"name": sample.name[:MAX_NAME], "problem": problem},
            )
        if math.isnan(sample.value):
            dropped += 1
            continue
        labels = canonical_labels({**dict(sample.labels), "source": source})
        samples.append(TimedSample(sample.name, labels, ts, sample.value))
    try:
        metric_store().write(samples)
    except Exception as exc:
        return _unavailable(request, exc)
    return {"accepted": len(samples), "dropped": dropped}


def exposition_seconds(timestamp: float) -> float:
    """Unix seconds from an exposition timestamp (milliseconds, as Prometheus writes them)."""
    return timestamp / 1000.0


def _push_agent(request: HttpRequest) -> Any:
    from branchops.agents import services

    if (request.content_type or "") != "application/json":
        raise HttpError(415, _("Send application/json."))
    body = read_body(request, MAX_AGENT_BYTES)
    try:
        payload = AgentBatchIn.model_validate_json(body)
    except ValidationError as exc:
        raise NinjaValidationError(
            [dict(e, loc=("body", "payload", *e["loc"])) for e in exc.errors(include_url=False)]
        ) from exc
    now = time.time()
    offset = (
        now - payload.sent_at
        if payload.sent_at is not None and abs(now - payload.sent_at) > services.CLOCK_CORRECTION_S
        else 0.0
    )
    if payload.collected_at + offset > now + FUTURE_TOLERANCE_S:
        raise HttpError(400, _("collected_at is in the future."))
    facts = payload.agent
    batch = services.Batch(
        facts=services.HostFacts(
            agent_id=facts.id,
            hostname=facts.hostname,
            os=facts.os,
            os_version=facts.os_version,
            ips=tuple(facts.ips),
            version=facts.version,
            extra=dict(facts.extra),
        ),
        sequence=payload.sequence,
        collected_at=payload.collected_at,
        sent_at=payload.sent_at,
        dropped_batches=payload.dropped_batches,
        samples=[
            services.AgentSample(s.name, tuple(s.labels.items()), s.value, s.ts)
            for s in payload.samples
            if not math.isnan(s.value)
        ],
    )
    try:
        outcome = services.accept_batch(batch, user=actor(request), store=metric_store(), now=now)
    except services.StoreUnavailable as exc:
        return _unavailable(request, exc)
    return {
        "accepted": outcome.accepted,
        "duplicate": outcome.duplicate,
        "last_sequence": outcome.last_sequence,
        "samples": outcome.samples,
    }
