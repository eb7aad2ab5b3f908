"""Plain Django views that answer under /api/ in the API's error format."""

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _


def api_not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": "not_found", "message": _("No such API endpoint.")}}, status=404
    )
