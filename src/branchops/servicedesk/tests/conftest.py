"""The service desk's shipped rows (priority matrix, SLA policies) for every database test.

The project's conftest restores the other apps' shipped rows after a transactional test
emptied the tables; this does the same for ours.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _servicedesk_shipped(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("django_db")
    if marker is None and not {"db", "transactional_db"} & set(request.fixturenames):
        return
    request.getfixturevalue("_shipped_rows")
    from django.apps import apps

    from branchops.servicedesk.migrations._shipped import load
    from branchops.servicedesk.models import PriorityMatrix

    if not PriorityMatrix.objects.exists():
        load(apps, None)


@pytest.fixture(autouse=True)
def _english(settings: Any) -> Iterator[None]:
    """The tests read refusals in English, whatever the catalogs translate."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def shipped_rules(db: Any) -> list[Any]:
    """The shipped regulatory ruleset (again, after a transactional test emptied the table)."""
    from django.apps import apps

    from branchops.servicedesk.migrations import _reportable_rules
    from branchops.servicedesk.models import RegulatoryRule

    if not RegulatoryRule.objects.filter(shipped=True).exists():
        _reportable_rules.load(apps, None)
    return list(RegulatoryRule.objects.filter(shipped=True))
