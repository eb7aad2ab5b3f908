"""``branchops demo --reset`` only: the demo's tickets go with the demo estate.

Ticket events and signed handovers are evidence and refuse deletion through the ORM; a
reset of a demo database is the one place where they go anyway, by raw deletes, children
first. Nothing else calls this.
"""

from __future__ import annotations

from django.apps import apps
from django.db import models, transaction

from branchops.servicedesk.models import Ticket, TicketSequence


def _points_at_ticket(model: type[models.Model]) -> bool:
    return any(
        getattr(f, "related_model", None) is Ticket and f.many_to_one
        for f in model._meta.get_fields()
        if f.concrete
    )


def wipe_tickets() -> int:
    """Delete every ticket and the rows that hang off one; the number of tickets."""
    config = apps.get_app_config("servicedesk")
    children = [m for m in config.get_models(include_auto_created=True) if _points_at_ticket(m)]
    with transaction.atomic():
        from branchops.servicedesk.review_wipe import wipe_review_records

        wipe_review_records()  # problems and postmortems point at tickets
        for model in children:
            model._base_manager.all()._raw_delete(model._base_manager.db)
        count = Ticket.objects.count()
        Ticket._base_manager.all()._raw_delete(Ticket._base_manager.db)
        TicketSequence.objects.all().delete()
    return count
