"""Spare-part requests of a ticket: ``/api/v1/tickets/{id}/spare-parts/`` (list, ask) and
``…/spare-parts/{part}/move/``.

Added to the service desk's router with the duty routes (``api_duty.duty_routes``). Reading
follows the ticket (a branch liaison sees their sites' tickets); asking and moving need the
right to change the ticket. The rules are in ``servicedesk.spare_parts``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status

from branchops.core.api import actor
from branchops.servicedesk import spare_parts
from branchops.servicedesk.api import _answer, _changeable, _tickets
from branchops.servicedesk.choices import SparePartStatus, SparePartUrgency
from branchops.servicedesk.models import SparePartRequest


class SparePartOut(Schema):
    id: int
    ticket: str = Field(description="Ticket number.")
    part: str
    model_number: str
    quantity: int
    urgency: SparePartUrgency
    status: SparePartStatus
    allowed_moves: list[SparePartStatus]
    note: str
    requested_by: str
    requested_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_ticket(obj: SparePartRequest) -> str:
        return obj.ticket.number

    @staticmethod
    def resolve_requested_by(obj: SparePartRequest) -> str:
        return obj.requested_by.get_username()

    @staticmethod
    def resolve_allowed_moves(obj: SparePartRequest) -> list[SparePartStatus]:
        return spare_parts.allowed_moves(obj.status)


class SparePartIn(Schema):
    part: str = Field(..., min_length=1, max_length=200, description="What is needed.")
    model_number: str = Field("", max_length=100, description="Device model or part number.")
    quantity: int = Field(1, ge=1, le=spare_parts.MAX_QUANTITY)
    urgency: SparePartUrgency = SparePartUrgency.NORMAL
    note: str = Field("", max_length=5000)
    pause: bool = Field(False, description="Also move the ticket to pending spare part.")


class SparePartMoveIn(Schema):
    to: SparePartStatus
    note: str = Field("", max_length=5000)


def _parts() -> QuerySet[SparePartRequest]:
    return SparePartRequest.objects.select_related("ticket", "requested_by")


def spare_part_routes(r: Router) -> None:
    @r.get(
        "/tickets/{int:pk}/spare-parts/",
        response=list[SparePartOut],
        operation_id="tickets_spare_parts_list",
        tags=["spare parts"],
    )
    def parts(request: HttpRequest, pk: int) -> Any:
        """The spare parts asked for this ticket, oldest first."""
        ticket = get_object_or_404(_tickets(actor(request)), pk=pk)
        return list(_parts().filter(ticket=ticket))

    @r.post(
        "/tickets/{int:pk}/spare-parts/",
        response={201: SparePartOut},
        operation_id="tickets_spare_parts_create",
        tags=["spare parts"],
    )
    def ask(request: HttpRequest, pk: int, payload: SparePartIn) -> Any:
        """Ask for a part; ``pause`` also moves the ticket to pending spare part."""
        user, ticket = _changeable(request, pk)

        def call() -> SparePartRequest:
            return spare_parts.request_part(
                ticket,
                part=payload.part,
                model_number=payload.model_number,
                quantity=payload.quantity,
                urgency=payload.urgency,
                note=payload.note,
                pause=payload.pause,
                by=user,
            )

        done = _answer(request, call)
        return done if isinstance(done, HttpResponse) else Status(201, _parts().get(pk=done.pk))

    @r.post(
        "/tickets/{int:pk}/spare-parts/{int:part}/move/",
        response=SparePartOut,
        operation_id="tickets_spare_parts_move",
        tags=["spare parts"],
    )
    def move(request: HttpRequest, pk: int, part: int, payload: SparePartMoveIn) -> Any:
        """``{"to": "shipped", "note": "courier SF123"}``: requested → approved → shipped →
        received; cancelled from any but received."""
        user, ticket = _changeable(request, pk)
        found = get_object_or_404(SparePartRequest, pk=part, ticket=ticket)
        done = _answer(
            request, lambda: spare_parts.move_part(found, payload.to, by=user, note=payload.note)
        )
        return done if isinstance(done, HttpResponse) else _parts().get(pk=part)
