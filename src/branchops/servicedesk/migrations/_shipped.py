"""The priority matrix and SLA policies BranchOps ships with (decision 0008).

Operators edit them; this only creates rows that are missing, so it never overwrites an
edit. docs/servicedesk.md explains the choice of targets.
"""

from __future__ import annotations

from typing import Any

# impact (1 high .. 3 low) x urgency (1 high .. 3 low) -> priority (1 .. 4)
MATRIX: dict[tuple[int, int], int] = {
    (1, 1): 1,
    (1, 2): 2,
    (1, 3): 3,
    (2, 1): 2,
    (2, 2): 3,
    (2, 3): 4,
    (3, 1): 3,
    (3, 2): 4,
    (3, 3): 4,
}

POLICIES: tuple[dict[str, Any], ...] = (
    {
        "name": "P1 7x24",
        "priority": 1,
        "calendar": "24x7",
        "response_minutes": 15,
        "arrival_minutes": 120,
        "resolution_minutes": 240,
    },
    {
        "name": "P2 7x24",
        "priority": 2,
        "calendar": "24x7",
        "response_minutes": 30,
        "arrival_minutes": 240,
        "resolution_minutes": 480,
    },
    {
        "name": "P3 5x8",
        "priority": 3,
        "calendar": "cn-workdays",
        "response_minutes": 60,
        "arrival_minutes": 480,
        "resolution_minutes": 960,
    },
    {
        "name": "P4 5x8",
        "priority": 4,
        "calendar": "cn-workdays",
        "response_minutes": 240,
        "arrival_minutes": None,
        "resolution_minutes": 2400,
    },
)


def load(apps: Any, schema_editor: Any) -> None:
    PriorityMatrix = apps.get_model("servicedesk", "PriorityMatrix")
    SlaPolicy = apps.get_model("servicedesk", "SlaPolicy")
    BusinessCalendar = apps.get_model("core", "BusinessCalendar")
    for (impact, urgency), priority in MATRIX.items():
        PriorityMatrix.objects.get_or_create(
            impact=impact, urgency=urgency, defaults={"priority": priority}
        )
    for spec in POLICIES:
        calendar = BusinessCalendar.objects.filter(code=spec["calendar"]).first()
        taken = SlaPolicy.objects.filter(
            priority=spec["priority"], category__isnull=True, site_kind=""
        ).exists()
        if calendar is None or taken:
            continue
        fields = {k: v for k, v in spec.items() if k not in ("name", "calendar")}
        SlaPolicy.objects.get_or_create(
            name=spec["name"], defaults={**fields, "calendar": calendar, "shipped": True}
        )
