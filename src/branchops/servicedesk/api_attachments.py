"""A ticket's files: ``/api/v1/tickets/{id}/attachments/`` (list, upload as multipart field
``file``) and ``…/attachments/{aid}/`` (download).

Reading follows the ticket (a branch liaison sees their sites' tickets' files); uploading
needs the right to change the ticket. Size, type and name rules are in
``services.attach``; a refused file is a 400 naming the field ``file`` and nothing is kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile

from branchops.core.api import actor
from branchops.servicedesk import services
from branchops.servicedesk.api import _answer, _changeable, _tickets
from branchops.servicedesk.models import Attachment


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    uploaded_by: str
    uploaded_at: dt.datetime
    url: str

    @staticmethod
    def resolve_uploaded_by(obj: Attachment) -> str:
        return obj.uploaded_by.get_username() if obj.uploaded_by else ""

    @staticmethod
    def resolve_url(obj: Attachment) -> str:
        return reverse("api:tickets_attachments_read", args=[obj.ticket_id, obj.pk])


def attachment_routes(r: Router) -> None:
    @r.get(
        "/tickets/{int:pk}/attachments/",
        response=list[AttachmentOut],
        operation_id="tickets_attachments_list",
        tags=["attachments"],
    )
    def attachments(request: HttpRequest, pk: int) -> Any:
        """The ticket's files, oldest first."""
        ticket = get_object_or_404(_tickets(actor(request)), pk=pk)
        return list(ticket.attachments.select_related("uploaded_by"))

    @r.post(
        "/tickets/{int:pk}/attachments/",
        response={201: AttachmentOut},
        operation_id="tickets_attachments_create",
        tags=["attachments"],
    )
    def upload(request: HttpRequest, pk: int, file: File[UploadedFile]) -> Any:
        """Add a file (multipart field ``file``): PNG, JPEG, GIF, PDF, plain text, CSV, ZIP,
        Word or Excel, up to the configured size (20 MB unless set otherwise)."""
        user, ticket = _changeable(request, pk)
        content = file.read()
        done = _answer(
            request,
            lambda: services.attach(
                ticket,
                by=user,
                name=file.name or "",
                content=content,
                content_type=file.content_type or "application/octet-stream",
            ),
        )
        return done if isinstance(done, HttpResponse) else Status(201, done)

    @r.get(
        "/tickets/{int:pk}/attachments/{int:aid}/",
        operation_id="tickets_attachments_read",
        url_name="tickets_attachments_read",
        tags=["attachments"],
    )
    def download(request: HttpRequest, pk: int, aid: int) -> HttpResponseBase:
        """The file itself, as it was uploaded."""
        ticket = get_object_or_404(_tickets(actor(request)), pk=pk)
        return file_response(get_object_or_404(Attachment, pk=aid, ticket=ticket))


def file_response(attachment: Attachment) -> FileResponse:
    """The stored file as a download under its original name (never shown inline: an
    uploaded HTML or SVG must not run in our origin)."""
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
