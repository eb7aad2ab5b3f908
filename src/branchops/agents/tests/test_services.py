"""Agent services: exactly-once acceptance under a race, receipts pruned, who was seen when."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from django.apps import apps
from django.utils import timezone

from branchops.core.models import User
from branchops.core.testing import make_device, make_user
from branchops.monitoring.metrics.base import Selector, TimedSample
from branchops.monitoring.metrics.sqlite import SqliteMetricStore

if not apps.is_installed("branchops.agents"):
    pytest.skip(
        'the agents app is not installed yet: add "branchops.agents" to INSTALLED_APPS',
        allow_module_level=True,
    )

from branchops.agents import services
from branchops.agents.models import Agent, AgentBatch

pytestmark = pytest.mark.django_db


def make_batch(
    sequence: int, hostname: str = "srv", agent_id: str = "agent-0001"
) -> services.Batch:
    now = time.time()
    return services.Batch(
        facts=services.HostFacts(agent_id=agent_id, hostname=hostname),
        sequence=sequence,
        collected_at=now,
        sent_at=now,
        dropped_batches=0,
        samples=[services.AgentSample("branchops_agent_uptime_seconds", (), 100.0 + sequence)],
    )


class RacingStore:
    """A store during whose write another delivery of the same batch completes."""

    def __init__(self, inner: SqliteMetricStore, racer: services.Batch, user: User) -> None:
        self.inner = inner
        self.racer = racer
        self.user = user
        self.raced = False

    def write(self, samples: list[TimedSample]) -> int:
        if not self.raced:
            self.raced = True
            services.accept_batch(self.racer, user=self.user, store=self.inner, now=time.time())
        return self.inner.write(samples)


def test_two_deliveries_racing_record_one_receipt(tmp_path: Path) -> None:
    user = make_user()
    inner = SqliteMetricStore(tmp_path / "m.sqlite3")
    store = RacingStore(inner, make_batch(1), user)
    outcome = services.accept_batch(make_batch(1), user=user, store=store, now=time.time())
    assert outcome.duplicate
    assert list(AgentBatch.objects.values_list("sequence", flat=True)) == [1]
    agent = Agent.objects.get()
    assert (agent.batches_accepted, agent.replays_ignored) == (1, 1)
    recent = (time.time() - 60, time.time() + 1)
    [series] = inner.query_range(Selector("branchops_agent_uptime_seconds"), *recent)
    assert len(series.points) == 1  # stored twice at one timestamp: one sample
    inner.close()


def test_old_receipts_are_pruned(tmp_path: Path) -> None:
    user = make_user()
    store = SqliteMetricStore(tmp_path / "m.sqlite3")
    long_ago = time.time() - 2 * 86400
    for sequence in range(1, services.PRUNE_EVERY):
        services.accept_batch(make_batch(sequence), user=user, store=store, now=long_ago)
    services.accept_batch(make_batch(services.PRUNE_EVERY), user=user, store=store, now=time.time())
    assert list(AgentBatch.objects.values_list("sequence", flat=True)) == [services.PRUNE_EVERY]
    store.close()


def test_last_seen_per_device_and_silent_agents(tmp_path: Path) -> None:
    user = make_user()
    device = make_device(name="srv-a")
    store = SqliteMetricStore(tmp_path / "m.sqlite3")
    services.accept_batch(
        make_batch(1, "srv-a", "agent-000a"), user=user, store=store, now=time.time()
    )
    hour_ago = time.time() - 3600
    services.accept_batch(
        make_batch(1, "srv-b", "agent-000b"), user=user, store=store, now=hour_ago
    )
    seen = services.last_seen([device.pk])
    assert timezone.now() - seen[device.pk] < dt.timedelta(seconds=10)
    assert [a.hostname for a in services.silent_since()] == ["srv-b"]
    store.close()
