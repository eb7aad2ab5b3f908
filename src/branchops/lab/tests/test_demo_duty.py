"""The demo's duty set-up: someone is on call in the NOC and network groups, the NOC has
day and night shifts around today (so a handover can be written and signed), once."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from branchops.core.choices import Role
from branchops.core.testing import make_user
from branchops.lab.oncall import ensure_duty
from branchops.servicedesk import oncall
from branchops.servicedesk.models import AssignmentGroup, Rotation, Shift

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts() -> dict[str, Any]:
    for name in ("NOC", "Network"):
        AssignmentGroup.objects.get_or_create(name=name)
    return {
        name: make_user(role, username=name)
        for name, role in (
            ("admin", Role.ADMIN), ("noc", Role.NOC_OPERATOR),
            ("engineer", Role.OPS_ENGINEER), ("expert", Role.TECHNICAL_EXPERT),
        )
    }  # fmt: skip


def test_someone_is_on_call_and_on_duty_now(accounts: dict[str, Any]) -> None:
    assert ensure_duty() is True
    assert oncall.on_call_now("NOC") in (accounts["noc"], accounts["admin"])
    assert oncall.on_call_now("Network") in (accounts["engineer"], accounts["expert"])
    now = timezone.now()
    (current,) = Shift.objects.filter(starts_at__lte=now, ends_at__gt=now)
    assert set(current.people.values_list("username", flat=True)) <= {"noc", "engineer"}
    assert Shift.objects.filter(ends_at__lt=now).exists()  # earlier shifts to hand over


def test_it_is_made_once(accounts: dict[str, Any]) -> None:
    assert ensure_duty() is True
    shifts = Shift.objects.count()
    assert ensure_duty() is False
    assert (Rotation.objects.count(), Shift.objects.count()) == (2, shifts)
