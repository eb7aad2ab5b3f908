"""The import and export page: upload a file (or check it with a dry run), download
templates and exports. Thin: the work is in ``import_upload`` and ``export_kind``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.views import View

from branchops.cmdb import scoping
from branchops.cmdb.importing.exporting import CONTENT_TYPES, FORMATS, export_kind, template
from branchops.cmdb.importing.forms import ImportForm
from branchops.cmdb.importing.kinds import KINDS
from branchops.cmdb.importing.report import ImportReport
from branchops.cmdb.importing.upload import import_upload
from branchops.core.models import User
from branchops.core.permissions import Action, can

ERRORS_SHOWN = 1000  # more would make the page unusable; the CLI prints every one


def _user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def _may(user: User, action: Action, kind: str) -> bool:
    return can(user, action, scoping.AREA[KINDS[kind].model])


def importable(user: User) -> list[str]:
    """The kinds the user may add or change (a liaison: sites and devices and links)."""
    return [k for k in KINDS if _may(user, Action.ADD, k) or _may(user, Action.CHANGE, k)]


class ImportView(LoginRequiredMixin, View):
    template_name = "cmdb/import.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        user = _user(request)
        return self.page(request, ImportForm(kinds=importable(user)), None)

    def post(self, request: HttpRequest) -> HttpResponse:
        user = _user(request)
        form = ImportForm(request.POST, request.FILES, kinds=importable(user))
        report = None
        if form.is_valid():
            upload = form.cleaned_data["file"]
            report = import_upload(
                form.cleaned_data["kind"] or None,
                upload.name or "",
                upload.read(),
                actor=user,
                dry_run=form.cleaned_data["dry_run"],
            )
        return self.page(request, form, report)

    def page(
        self, request: HttpRequest, form: ImportForm, report: ImportReport | None
    ) -> HttpResponse:
        user = _user(request)
        kinds = []
        for name, kind in KINDS.items():
            if not _may(user, Action.VIEW, name):
                continue
            kinds.append(
                {
                    "name": name,
                    "label": kind.label,
                    "templates": {
                        f: reverse("cmdb:import_template", args=[name, f]) for f in FORMATS
                    },
                    "exports": {f: reverse("cmdb:export", args=[name, f]) for f in FORMATS},
                }
            )
        context: dict[str, Any] = {"form": form, "report": report, "kinds": kinds}
        if report is not None:
            errors = report.sorted_errors()
            context["errors"] = errors[:ERRORS_SHOWN]
            context["errors_hidden"] = max(0, len(errors) - ERRORS_SHOWN)
            context["report_kind"] = KINDS[report.kind].label if report.kind in KINDS else ""
        return render(request, self.template_name, context)


def _kind_and_format(kind: str, fmt: str) -> None:
    if kind not in KINDS or fmt not in FORMATS:
        raise Http404


def _download(data: bytes, fmt: str, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def template_download(request: HttpRequest, kind: str, fmt: str) -> HttpResponse:
    _kind_and_format(kind, fmt)
    language = translation.get_language() or "zh-hans"
    return _download(template(kind, fmt, language), fmt, f"{kind}-template.{fmt}")


@login_required
def export_download(request: HttpRequest, kind: str, fmt: str) -> HttpResponse:
    _kind_and_format(kind, fmt)
    user = _user(request)
    if not _may(user, Action.VIEW, kind):
        raise PermissionDenied
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return _download(export_kind(kind, fmt, user=user), fmt, f"{kind}-{stamp}.{fmt}")
