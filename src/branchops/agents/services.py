"""Accepting agent batches exactly once, and what other apps may ask about agents.

A batch is stored at most once: samples go to the metric store first (writes there are
idempotent: the same series and timestamp overwrite), then the agent's ``last_sequence``
moves forward with a compare-and-set, so two deliveries of one batch (a retry racing its
original, a replay after a lost answer) record one receipt and count once. If the store
is down, nothing is recorded and the agent is told to keep the batch and try again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from branchops.agents.models import Agent, AgentBatch
from branchops.cmdb.models import Device
from branchops.core.models import User
from branchops.monitoring.metrics.base import MetricStore, TimedSample, canonical_labels

log = logging.getLogger(__name__)

RECEIPTS_KEPT = dt.timedelta(days=1)
PRUNE_EVERY = 100  # batches per agent between two prunings of its old receipts
# Beyond this, a difference between the agent's clock and ours is the agent's clock being
# wrong, not network delay: its timestamps are moved by the difference.
CLOCK_CORRECTION_S = 5.0


class StoreUnavailable(Exception):
    """The metric store did not take the samples; the agent keeps the batch for later."""


@dataclass(frozen=True)
class HostFacts:
    agent_id: str
    hostname: str
    os: str = ""
    os_version: str = ""
    ips: tuple[str, ...] = ()
    version: str = ""
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class AgentSample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float
    ts: float | None = None  # the batch's collection time when None


@dataclass(frozen=True)
class Batch:
    facts: HostFacts
    sequence: int
    collected_at: float  # by the agent's clock
    sent_at: float | None  # by the agent's clock, to measure it against ours
    dropped_batches: int
    samples: Sequence[AgentSample]


@dataclass(frozen=True)
class Outcome:
    accepted: bool
    last_sequence: int
    samples: int = 0

    @property
    def duplicate(self) -> bool:
        return not self.accepted


def accept_batch(batch: Batch, *, user: User, store: MetricStore, now: float) -> Outcome:
    """Store a batch unless it was stored before; see the module docstring."""
    agent = _register(batch, user=user, now=now)
    if batch.sequence <= agent.last_sequence:
        Agent.objects.filter(pk=agent.pk).update(replays_ignored=F("replays_ignored") + 1)
        return Outcome(accepted=False, last_sequence=agent.last_sequence)

    samples = _timed_samples(batch, agent, agent.clock_offset_s)
    try:
        store.write(samples)
    except Exception as exc:
        # Any store failure: the agent keeps the batch and sends it again later.
        log.warning("agent %s batch %d not stored: %s", agent.agent_id, batch.sequence, exc)
        raise StoreUnavailable(str(exc)) from exc

    with transaction.atomic():
        moved = Agent.objects.filter(pk=agent.pk, last_sequence__lt=batch.sequence).update(
            last_sequence=batch.sequence,
            batches_accepted=F("batches_accepted") + 1,
            samples_accepted=F("samples_accepted") + len(samples),
        )
        if not moved:  # another delivery of the same batch got here first
            Agent.objects.filter(pk=agent.pk).update(replays_ignored=F("replays_ignored") + 1)
            agent.refresh_from_db(fields=["last_sequence"])
            return Outcome(accepted=False, last_sequence=agent.last_sequence)
        AgentBatch.objects.create(
            agent=agent,
            sequence=batch.sequence,
            collected_at=_aware(batch.collected_at + agent.clock_offset_s),
            received_at=_aware(now),
            samples=len(samples),
        )
    if batch.sequence % PRUNE_EVERY == 0:
        AgentBatch.objects.filter(agent=agent, received_at__lt=_aware(now) - RECEIPTS_KEPT).delete()
    return Outcome(accepted=True, last_sequence=batch.sequence, samples=len(samples))


def _register(batch: Batch, *, user: User, now: float) -> Agent:
    """The agent's row, created on first sight, with its facts and last-seen time refreshed."""
    facts = batch.facts
    seen = _aware(now)
    offset = 0.0
    if batch.sent_at is not None and abs(now - batch.sent_at) > CLOCK_CORRECTION_S:
        offset = round(now - batch.sent_at, 3)
    agent, created = Agent.objects.select_related(
        "device__site__region", "device__role"
    ).get_or_create(
        agent_id=facts.agent_id,
        defaults={"hostname": facts.hostname, "owner": user, "first_seen_at": seen},
    )
    if agent.owner_id is not None and agent.owner_id != user.pk:
        raise PermissionDenied(_("This agent pushes with another user's token."))
    wanted = {
        "hostname": facts.hostname,
        "os": facts.os,
        "os_version": facts.os_version,
        "ips": list(facts.ips),
        "version": facts.version,
        "facts": facts.extra,
        "owner_id": user.pk,
        "clock_offset_s": offset,
        "batches_dropped": max(agent.batches_dropped, batch.dropped_batches),
    }
    changed = [name for name, value in wanted.items() if getattr(agent, name) != value]
    for name in changed:
        setattr(agent, name, wanted[name])
    if created or {"hostname", "ips"} & set(changed):
        device = find_device(facts.hostname, facts.ips)
        if device is not None and device.pk != agent.device_id:
            agent.device = device
            changed.append("device_id")
    agent.last_seen_at = seen
    # Only what changed: the hot path is one narrow UPDATE of last_seen_at.
    agent.save(update_fields=[*{n.removesuffix("_id") for n in changed}, "last_seen_at"])
    if created:
        log.info("new agent %s on %s", facts.agent_id, facts.hostname)
    return agent


def find_device(hostname: str, ips: Iterable[str]) -> Device | None:
    """The estate device this host is: same name (ignoring case and domain), else same
    management IP."""
    short = hostname.split(".", 1)[0]
    by_name = (
        Device.objects.filter(Q(name__iexact=hostname) | Q(name__iexact=short))
        .select_related("site__region", "role")
        .order_by("pk")
        .first()
    )
    if by_name is not None:
        return by_name
    addresses = [ip for ip in ips if ip]
    if not addresses:
        return None
    return (
        Device.objects.filter(management_ip__in=addresses)
        .select_related("site__region", "role")
        .order_by("pk")
        .first()
    )


def _host_labels(agent: Agent) -> dict[str, str]:
    labels = {"host": agent.hostname}
    device = agent.device
    if device is not None:
        # The same labels as the engine's checks, so the device page finds agent series too.
        labels.update(
            region=device.site.region.code,
            site=device.site.code,
            device=device.name,
            role=device.role.slug,
        )
    return labels


def _timed_samples(batch: Batch, agent: Agent, offset: float) -> list[TimedSample]:
    host = _host_labels(agent)
    out = []
    for s in batch.samples:
        # The agent's own labels never override who it is.
        labels = canonical_labels({**dict(s.labels), **host})
        ts = (s.ts if s.ts is not None else batch.collected_at) + offset
        out.append(TimedSample(s.name, labels, ts, s.value))
    return out


def _aware(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC)


def last_seen(device_ids: Iterable[int]) -> dict[int, dt.datetime]:
    """When each device's agent last pushed, for the engine's watch on silent agents."""
    seen: dict[int, dt.datetime] = {}
    rows = Agent.objects.filter(device_id__in=list(device_ids)).values_list(
        "device_id", "last_seen_at"
    )
    for device_id, at in rows:
        if device_id is not None and (device_id not in seen or at > seen[device_id]):
            seen[device_id] = at
    return seen


def silent_since(cutoff: dt.datetime | None = None) -> list[Agent]:
    """Agents not heard from since ``cutoff`` (default: 5 minutes ago)."""
    cutoff = cutoff or timezone.now() - dt.timedelta(minutes=5)
    return list(Agent.objects.filter(last_seen_at__lt=cutoff).select_related("device"))
