"""The ticket policy BranchOps ships with: a severity-1 root alert opens an incident for
whoever is on call in the group "NOC" (created empty if missing). Only missing rows are
created, so an edited or deleted-and-replaced policy stays as the operator left it.
"""

from __future__ import annotations

from typing import Any

GROUP = "NOC"
POLICY = "Severity 1 opens an incident"


def load(apps: Any, schema_editor: Any) -> None:
    AssignmentGroup = apps.get_model("servicedesk", "AssignmentGroup")
    TicketPolicy = apps.get_model("servicedesk", "TicketPolicy")
    if TicketPolicy.objects.filter(name=POLICY).exists():
        return
    group, _ = AssignmentGroup.objects.get_or_create(
        name=GROUP, defaults={"description": "Network operations centre (值班)"}
    )
    TicketPolicy.objects.create(
        name=POLICY,
        order=100,
        enabled=True,
        max_severity=1,
        kind="incident",
        oncall_group=group,
        auto_resolve=False,
        shipped=True,
    )
