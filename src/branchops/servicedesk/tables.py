"""The ticket list's columns and how each sorts (see core.tables)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from branchops.core.tables import Column, Table


class TicketTable(Table):
    """The most urgent first, then the oldest: what the desk should pick up next."""

    columns = (
        Column("number", _("Number"), ("number",)),
        Column("priority", _("Priority"), ("priority", "created_at")),
        Column("title", pgettext_lazy("ticket", "Title"), ("title",)),
        Column("site", _("Site"), ("site__code", "priority")),
        Column("status", _("Status"), ("status", "priority")),
        Column("assignee", _("Assigned to"), ("group__name", "assignee__username")),
        Column("age", _("Age"), ("-created_at",)),
        Column("sla", _("SLA")),
    )
    row_template = "servicedesk/rows/ticket.html"
    select_related = ("site", "group", "assignee")
    default_ordering = ("priority", "created_at")
