"""Spare-part requests on a ticket (备件申请): ask for a part, and follow it from requested to
received (or cancelled).

Asking may also pause the ticket as *pending spare part* (``services.pause``), so the SLA
clocks stop while the part is on its way; the request and the pause are one transaction,
so a refused pause leaves no request behind. Every request and move is noted on the
ticket's timeline as a work-log line, and moves are compare-and-set. Receiving a part does
not restart the ticket: the engineer does, once the part is fitted.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from branchops.core.models import User
from branchops.servicedesk import services
from branchops.servicedesk.choices import (
    DONE_STATUSES,
    SparePartStatus,
    SparePartUrgency,
    TicketStatus,
)
from branchops.servicedesk.models import SparePartRequest, Ticket
from branchops.servicedesk.services import Refused

P = SparePartStatus
MOVES: dict[SparePartStatus, frozenset[SparePartStatus]] = {
    P.REQUESTED: frozenset({P.APPROVED, P.CANCELLED}),
    P.APPROVED: frozenset({P.SHIPPED, P.CANCELLED}),
    P.SHIPPED: frozenset({P.RECEIVED, P.CANCELLED}),
    P.RECEIVED: frozenset(),
    P.CANCELLED: frozenset(),
}
"""Where a request may go from each status (a shipped part can still be lost: cancel)."""

MAX_QUANTITY = 999


def describe(part: SparePartRequest) -> str:
    """How the timeline names a request: "2 x PSU (DS-7200)"."""
    what = f"{part.quantity} x {part.part}"
    return f"{what} ({part.model_number})" if part.model_number else what


def allowed_moves(status: str) -> list[SparePartStatus]:
    return [s for s in SparePartStatus if s in MOVES[SparePartStatus(status)]]


def may_pause(ticket: Ticket) -> bool:
    """True when the ticket may go to *pending spare part* now (asking may pause it)."""
    current = TicketStatus(ticket.status)
    return TicketStatus.PENDING_SPARE_PART in services.TRANSITIONS[current]


def _invalid(message: str, field: str) -> Refused:
    return Refused(message, status=400, field=field)


def _check_request(part: str, quantity: int, urgency: str) -> None:
    if not part.strip():
        raise _invalid(_("Say which part is needed."), "part")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise _invalid(
            _("The quantity is between 1 and %(max)s.") % {"max": MAX_QUANTITY}, "quantity"
        )
    if urgency not in SparePartUrgency.values:
        raise _invalid(_("Unknown urgency."), "urgency")


def request_part(
    ticket: Ticket,
    *,
    part: str,
    by: User,
    model_number: str = "",
    quantity: int = 1,
    urgency: str = SparePartUrgency.NORMAL,
    note: str = "",
    pause: bool = False,
) -> SparePartRequest:
    """Ask for a part for ``ticket``; with ``pause``, the ticket also waits for it (its
    clocks stop) unless it waits for a spare part already."""
    _check_request(part, quantity, urgency)
    with transaction.atomic():
        current = Ticket.objects.get(pk=ticket.pk)
        if current.status in DONE_STATUSES:
            raise Refused(
                _("%(number)s is %(status)s: reopen it before asking for a part.")
                % {"number": current.number, "status": current.get_status_display()}
            )
        request = SparePartRequest.objects.create(
            ticket=current,
            part=part.strip(),
            model_number=model_number.strip(),
            quantity=quantity,
            urgency=urgency,
            note=note.strip(),
            requested_by=by,
        )
        line = _("Spare part requested: %(part)s, %(urgency)s.") % {
            "part": describe(request),
            "urgency": request.get_urgency_display(),
        }
        services.worklog(current, by=by, note=_with_note(line, note))
        if pause and current.status != TicketStatus.PENDING_SPARE_PART:
            services.pause(current, TicketStatus.PENDING_SPARE_PART, by=by, note=line)
    ticket.refresh_from_db()
    return request


def move_part(
    request: SparePartRequest, to_status: str, *, by: User, note: str = ""
) -> SparePartRequest:
    """Move a request along :data:`MOVES` (compare-and-set) and note it on the ticket."""
    if to_status not in SparePartStatus.values:
        raise _invalid(_("Unknown status %(to)s.") % {"to": to_status}, "to")
    target = SparePartStatus(to_status)
    with transaction.atomic():
        current = SparePartRequest.objects.select_related("ticket").get(pk=request.pk)
        status = SparePartStatus(current.status)
        if target not in MOVES[status]:
            allowed = ", ".join(str(s.label) for s in allowed_moves(status)) or _("nowhere")
            raise Refused(
                _(
                    "A spare-part request cannot go from %(from)s to %(to)s. "
                    "From %(from)s it can go to: %(allowed)s."
                )
                % {"from": status.label, "to": target.label, "allowed": allowed}
            )
        changed = SparePartRequest.objects.filter(pk=current.pk, status=status).update(
            status=target, updated_at=timezone.now()
        )
        if not changed:
            raise Refused(_("The request changed meanwhile; look again and retry."))
        line = _("Spare part %(part)s: %(status)s.") % {
            "part": describe(current),
            "status": target.label,
        }
        services.worklog(current.ticket, by=by, note=_with_note(line, note))
    request.refresh_from_db()
    return request


def _with_note(line: str, note: str) -> str:
    return f"{line}\n{note.strip()}" if note.strip() else line
