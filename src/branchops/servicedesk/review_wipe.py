"""``branchops demo --reset`` only: the review records go with the demo's tickets.

Problems, postmortems and their actions hang off the demo's incidents and devices; problem
events are evidence and refuse deletion through the ORM, so, as for tickets, a demo reset
removes them by raw deletes, children first. Knowledge articles stay (only their link to a
problem is cleared): what was learned is not demo data. Nothing else calls this.
"""

from __future__ import annotations

from django.db import models, transaction

from branchops.servicedesk.models import (
    CorrectiveAction,
    KnowledgeArticle,
    Postmortem,
    PostmortemEntry,
    Problem,
    ProblemEvent,
)


def _raw_delete(model: type[models.Model]) -> None:
    model._base_manager.all()._raw_delete(model._base_manager.db)


def wipe_review_records() -> int:
    """Delete every problem, postmortem and action; the number of problems."""
    with transaction.atomic():
        KnowledgeArticle.objects.filter(problem__isnull=False).update(problem=None)
        count = Problem.objects.count()
        for model in (
            PostmortemEntry,
            CorrectiveAction,
            Postmortem,
            ProblemEvent,
            Problem.tickets.through,
            Problem.devices.through,
            Problem.systems.through,
            Problem,
        ):
            _raw_delete(model)
    return count
