"""The satisfaction card on a ticket's page: the reporter's link to copy, or their answer."""

from __future__ import annotations

from typing import Any

from django import template

from branchops.servicedesk import satisfaction
from branchops.servicedesk.models import Ticket

register = template.Library()


@register.inclusion_tag("servicedesk/satisfaction/ticket_card.html", takes_context=True)
def satisfaction_card(context: dict[str, Any], ticket: Ticket) -> dict[str, Any]:
    request = context.get("request")
    answer = satisfaction.existing_answer(ticket)
    path = None if answer is not None else satisfaction.satisfaction_link(ticket)
    return {
        "answer": answer,
        "link": request.build_absolute_uri(path) if request is not None and path else path,
        "expires_at": satisfaction.expires_at(ticket),
        "resolved": ticket.resolved_at is not None,
    }
