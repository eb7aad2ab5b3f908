"""The engine's minute for the service desk: SLA crossings and reportable incidents are
found while nobody touches the tickets (``branchops engine`` runs ``periodic.desk_minute``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from branchops.monitoring.engine.runner import Engine, EngineOptions
from branchops.monitoring.metrics.sqlite import SqliteMetricStore
from branchops.servicedesk.models import RegulatoryRule, ReportableIncident
from branchops.servicedesk.tests.reportable_support import outage

# The engine works in its own thread and database connection: committed rows only.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shipped_rules")]


def test_the_engine_finds_an_outage_that_became_reportable(tmp_path: Path) -> None:
    RegulatoryRule.objects.update(active=False)
    ticket = outage("central-trading", minutes_ago=10)
    assert not ReportableIncident.objects.exists()  # no rule was active when it changed
    RegulatoryRule.objects.update(active=True)
    store = SqliteMetricStore(tmp_path / "metrics.sqlite3")
    engine = Engine(store, EngineOptions(metrics_port=None, alerts=False))
    assert engine.options.desk_s == 60.0
    try:
        asyncio.run(engine._desk())
    finally:
        store.close()
    assert ReportableIncident.objects.get(ticket=ticket).grade == "large"
