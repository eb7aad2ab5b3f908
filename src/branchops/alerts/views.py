"""Alert pages. The acknowledgement link works without a login: its signature is the
permission, it expires, and only a POST (the button) acknowledges, so a chat app that
previews links cannot acknowledge by looking."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_http_methods

from branchops.alerts import services
from branchops.alerts.models import Alert, Channel


@require_http_methods(["GET", "POST"])
def ack_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        alert_id, channel_id = services.read_ack_token(token)
    except services.Refused as exc:
        return render(request, "alerts/ack_link.html", {"problem": str(exc)}, status=400)
    alert = get_object_or_404(Alert.objects.select_related("site", "device"), pk=alert_id)
    channel = Channel.objects.filter(pk=channel_id).first()
    done = None
    problem = ""
    if request.method == "POST":
        user = request.user if request.user.is_authenticated else None
        via = f"link ({channel.name})" if channel else "link"
        try:
            done = services.acknowledge(alert, user=user, via=via)
        except services.Refused as exc:
            problem = str(exc)
    return render(
        request,
        "alerts/ack_link.html",
        {"alert": alert, "done": done, "problem": problem, "token": token},
    )
