"""Spare-part requests from a ticket's page: ask for a part (optionally pausing the ticket)
and move a request along (approved, shipped, received, cancelled).

The panel on the ticket's page is drawn by the ``spare_part_panel`` tag
(``templatetags/servicedesk_duty.py``). A refused form comes back on the ticket's page: the
view leaves the bound form (or the refusal of a move) on the request, where the panel finds
it, so the ticket's own view needs to know nothing about spare parts.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from branchops.servicedesk import forms_duty as f
from branchops.servicedesk import spare_parts, views
from branchops.servicedesk.models import SparePartRequest
from branchops.servicedesk.services import Refused

REFUSED_FORM = "bo_spare_part_form"
REFUSED_MOVE = "bo_spare_part_move"


@login_required
@require_POST
def spare_part_request(request: HttpRequest, pk: int) -> HttpResponse:
    user, ticket = views._changeable(request, pk)
    form = f.SparePartForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            part = spare_parts.request_part(
                ticket,
                part=data["part"],
                model_number=data["model_number"],
                quantity=data["quantity"],
                urgency=data["urgency"],
                note=data["note"],
                pause=data["pause"],
                by=user,
            )
        except Refused as exc:
            form.refused(exc)
        else:
            text = _("Spare part requested: %(part)s.") % {"part": spare_parts.describe(part)}
            return views._done(request, ticket, text)
    setattr(request, REFUSED_FORM, form)
    ticket.refresh_from_db()
    return views._detail(request, user, ticket)


@login_required
@require_POST
def spare_part_move(request: HttpRequest, pk: int, part: int) -> HttpResponse:
    user, ticket = views._changeable(request, pk)
    found = get_object_or_404(SparePartRequest, pk=part, ticket=ticket)
    form = f.SparePartMoveForm(request.POST)
    if form.is_valid():
        try:
            spare_parts.move_part(
                found, form.cleaned_data["to"], by=user, note=form.cleaned_data["note"]
            )
        except Refused as exc:
            setattr(request, REFUSED_MOVE, (found.pk, exc.message))
        else:
            text = _("Spare part %(part)s: %(status)s.") % {
                "part": spare_parts.describe(found),
                "status": found.get_status_display(),
            }
            return views._done(request, ticket, text)
    else:
        setattr(request, REFUSED_MOVE, (found.pk, _("Unknown status.")))
    return views._detail(request, user, ticket)
