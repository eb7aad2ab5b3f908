"""Query filters of the ticket list (the pages).

The same names and meanings as the API's ``GET /api/v1/tickets/`` (``api.TicketFilter``):
status, kind, priority, site, assignee, group, open. The pages also take ids (what a select
sends); the API takes codes and names. "Breached" needs the SLA clocks, not a query: see
``views.breached_ids``.
"""

from __future__ import annotations

from django.db.models import Q
from ninja import Field

from branchops.core.crud import Filters
from branchops.servicedesk.choices import DONE_STATUSES, TicketKind, TicketStatus


def _id_or(value: str, id_lookup: str, name_lookup: str) -> Q:
    return Q(**{id_lookup: int(value)}) if value.isdigit() else Q(**{name_lookup: value})


class TicketFilter(Filters):
    status: TicketStatus | None = None
    kind: TicketKind | None = None
    priority: int | None = Field(None, ge=1, le=4, description="1 is the most urgent.")
    site: str | None = Field(None, description="Site id or code.")
    assignee: str | None = Field(None, description="User id or name.")
    group: str | None = Field(None, description="Assignment group id or name.")
    open: bool | None = Field(None, description="true: not resolved or closed; false: done.")

    def filter_site(self, value: str) -> Q:
        return _id_or(value, "site_id", "site__code")

    def filter_assignee(self, value: str) -> Q:
        return _id_or(value, "assignee_id", "assignee__username")

    def filter_group(self, value: str) -> Q:
        return _id_or(value, "group_id", "group__name")

    def filter_open(self, value: bool) -> Q:
        done = Q(status__in=DONE_STATUSES)
        return ~done if value else done
