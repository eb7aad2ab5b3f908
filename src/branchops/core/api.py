"""The REST API object: bearer-token and session auth, JSON errors, paging.

Every error has one shape: ``{"error": {"code": ..., "message": ..., "fields": {...}}}``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer, SessionAuth

from branchops.core import tokens
from branchops.core.choices import ChangeSource, TokenScope
from branchops.core.errors import BulkValidationError, Conflict
from branchops.core.models import ApiToken, User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = tokens.authenticate(token)
        # Checked here, before the body is read: a read-only token gets 403 for any write,
        # whatever it sent, on every endpoint.
        writing = request.method not in SAFE_METHODS
        if found is not None and writing and found.scope != TokenScope.WRITE:
            raise PermissionDenied(_("This API token is read-only."))
        return found


class BearerOrSession(SessionAuth):
    """Session auth that does not fall back when a bearer token was presented but is bad.

    Without this, a browser with a session cookie and a revoked token would still get in.
    """

    def __call__(self, request: HttpRequest) -> Any:
        if request.headers.get("Authorization"):
            return None
        return super().__call__(request)


api = NinjaAPI(
    title="BranchOps API",
    version="1",
    description=(
        "The branch estate and, later, monitoring, alerts and the service desk. "
        "Authenticate with `Authorization: Bearer <token>` (create one with "
        "`branchops token create --user NAME`). Errors are JSON: "
        '`{"error": {"code": ..., "message": ..., "fields": ...}}`.'
    ),
    auth=[BearerToken(), BearerOrSession()],
    urls_namespace="api",
    docs_url=None,
    openapi_url="/openapi.json",
)


def error(
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    fields: dict[str, Any] | None = None,
    **extra: Any,
) -> HttpResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    body.update(extra)
    return api.create_response(request, {"error": body}, status=status)


def _field_name(loc: tuple[Any, ...]) -> str:
    # ninja reports ("body", "payload", "name") or ("query", "limit"); keep what a user typed.
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "payload", "filters")]
    return ".".join(parts) or "__all__"


@api.exception_handler(NinjaValidationError)
def _invalid_request(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    rows: dict[int, dict[str, list[str]]] = {}
    for item in exc.errors:
        loc = tuple(item.get("loc", ()))
        index = _row_index(loc)
        if index is None:
            fields.setdefault(_field_name(loc), []).append(str(item["msg"]))
        else:
            rest = loc[3:]
            rows.setdefault(index, {}).setdefault(_field_name(rest), []).append(str(item["msg"]))
    if rows and not fields:
        # A bulk body: answer in the same shape as rows refused by the services.
        return _invalid_rows(request, BulkValidationError(rows))
    return error(request, 400, "invalid", _("The request is not valid."), fields)


def _row_index(loc: tuple[Any, ...]) -> int | None:
    """The row number in a bulk body: ("body", "payload", 3, "name") -> 3."""
    if len(loc) > 2 and loc[:2] == ("body", "payload") and isinstance(loc[2], int):
        return loc[2]
    return None


@api.exception_handler(DjangoValidationError)
def _invalid_object(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    if hasattr(exc, "error_dict"):
        fields = {k: [str(m) for e in v for m in e.messages] for k, v in exc.error_dict.items()}
    else:
        fields = {"__all__": [str(m) for m in exc.messages]}
    return error(request, 400, "invalid", _("The data is not valid."), fields)


@api.exception_handler(BulkValidationError)
def _invalid_rows(request: HttpRequest, exc: BulkValidationError) -> HttpResponse:
    return error(
        request,
        400,
        "invalid_rows",
        _("%(n)d row(s) are not valid; nothing was written.") % {"n": len(exc.errors)},
        rows=exc.as_json(),
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error(
        request,
        401,
        "unauthenticated",
        _("Missing, malformed, expired or revoked credentials."),
    )


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error(request, 403, "forbidden", str(exc) or _("You may not do this."))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error(request, 404, "not_found", _("No such object."))


api.exception_handler(ObjectDoesNotExist)(_not_found)


@api.exception_handler(Conflict)
def _conflict(request: HttpRequest, exc: Conflict) -> HttpResponse:
    return error(request, 409, "conflict", exc.message)


@api.exception_handler(IntegrityError)
def _integrity(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
    # Validation catches these first; this is the race where two clients write at once.
    return error(request, 409, "conflict", _("The change clashes with another; try again."))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {400: "bad_request", 404: "not_found", 413: "too_large"}.get(
        exc.status_code, "http_error"
    )
    return error(request, exc.status_code, code, str(exc))


def actor(request: HttpRequest) -> User:
    """The user behind a request, whether it came with a token or a session."""
    auth = request.auth  # type: ignore[attr-defined]
    if isinstance(auth, ApiToken):
        return auth.user
    assert isinstance(auth, User)
    return auth


SOURCE = ChangeSource.API
