"""A ticket's files from its page: upload one, download one.

Uploading needs the right to change the ticket; downloading, the right to see it. A refused
file (too large, a type not accepted, no name, a closed ticket) comes back as a message on
the ticket's page and nothing is kept. The panel is ``attachments/panel.html``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from branchops.core.permissions import Action, Area, require
from branchops.core.views import current_user
from branchops.servicedesk import services, views
from branchops.servicedesk.api_attachments import file_response
from branchops.servicedesk.models import Attachment


@login_required
@require_POST
def ticket_attach(request: HttpRequest, pk: int) -> HttpResponse:
    user, ticket = views._changeable(request, pk)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a file to attach."))
    else:
        try:
            services.attach(
                ticket,
                by=user,
                name=upload.name or "",
                content=upload.read(),
                content_type=upload.content_type or "application/octet-stream",
            )
        except services.Refused as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Attached %(name)s.") % {"name": upload.name})
    return redirect(reverse("servicedesk:ticket_detail", args=[ticket.pk]) + "#attachments")


@login_required
@require_GET
def attachment_download(request: HttpRequest, pk: int, aid: int) -> HttpResponseBase:
    user = current_user(request)
    require(user, Action.VIEW, Area.SERVICE_DESK)
    ticket = views._ticket(user, pk)
    return file_response(get_object_or_404(Attachment, pk=aid, ticket=ticket))
