"""The generic pages every app's objects get: a list, a detail page, and create / edit /
delete forms.

Views stay thin. Reads go through ``scoping.visible`` (a branch liaison sees only their
sites; anything else is a 404), writes through the app's services (``core.changes`` or an
app's wrapper around it: permission, validation, audit), and a refused change raises
PermissionDenied, which Django shows as the 403 page. An app subclasses these views with its
URL namespace and its templates (see ``cmdb.views``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.views import View

from branchops.core import changes, scoping
from branchops.core.choices import ChangeSource
from branchops.core.errors import Conflict
from branchops.core.forms_generic import FilterForm, ObjectForm
from branchops.core.models import User
from branchops.core.permissions import Action, can, require
from branchops.core.tables import Table
from branchops.core.views import current_user, history, paginate, render_listing

SOURCE = ChangeSource.UI


class ObjectServices(Protocol):
    """The writes a page needs; ``core.changes`` is one, an app may wrap it with its rules."""

    def create(
        self, model: type[Any], data: Mapping[str, Any], *, actor: User, source: Any
    ) -> Any: ...

    def update(self, obj: Any, data: Mapping[str, Any], *, actor: User, source: Any) -> Any: ...

    def delete(self, obj: Any, *, actor: User, source: Any) -> None: ...


def may(user: User, action: Action, obj: models.Model) -> bool:
    """Whether the user may do ``action`` to this object (role and, for liaisons, sites)."""
    try:
        scoping.require_change(user, action, obj)
    except PermissionDenied:
        return False
    return True


def may_add(user: User, model: type[models.Model]) -> bool:
    return can(user, Action.ADD, scoping.AREA[model])


class ObjectView(LoginRequiredMixin, View):
    model: ClassVar[type[models.Model]]
    namespace: ClassVar[str]  # "cmdb" for cmdb:site_list, ...
    url_prefix: ClassVar[str]  # "site" for cmdb:site_list, cmdb:site_add, ...
    title: ClassVar[str | Promise]
    # Related rows a detail page shows, fetched with the object in one query.
    detail_related: ClassVar[tuple[str, ...]] = ()
    services: ClassVar[ObjectServices] = changes

    @property
    def user(self) -> User:
        return current_user(self.request)

    def visible(self, model: type[models.Model] | None = None) -> models.QuerySet[Any]:
        return scoping.visible(self.user, model or self.model)

    def get_object(self, pk: int) -> Any:
        return get_object_or_404(self.visible().select_related(*self.detail_related), pk=pk)

    def url(self, action: str, *args: Any) -> str:
        return reverse(f"{self.namespace}:{self.url_prefix}_{action}", args=args)

    def base_context(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "verbose_name": self.model._meta.verbose_name,
            "list_url": self.url("list"),
            "url_prefix": self.url_prefix,
        }


class ObjectListView(ObjectView):
    table: ClassVar[type[Table]]
    filter_form: ClassVar[type[FilterForm]]
    template_name: ClassVar[str]
    fragment_template: ClassVar[str]  # the part htmx replaces: #object-list

    def get(self, request: HttpRequest) -> HttpResponse:
        form = self.filter_form(request.GET or None, user=self.user)
        table = self.table(request.GET.get("ordering", ""))
        rows = table.prepare(form.apply(self.visible()))
        context = {
            **self.base_context(),
            "form": form,
            "table": table,
            "page_obj": paginate(request, rows),
            "can_add": may_add(self.user, self.model),
            "add_url": self.url("add"),
            **self.extra_context(form),
        }
        return render_listing(request, self.template_name, self.fragment_template, context)

    def extra_context(self, form: FilterForm) -> dict[str, Any]:
        """More for the page (and its htmx fragment), e.g. counts under the same filters."""
        return {}


class ObjectDetailView(ObjectView):
    template_name: ClassVar[str]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.get_object(pk)
        context = {
            **self.base_context(),
            "object": obj,
            "can_change": may(self.user, Action.CHANGE, obj),
            "can_delete": may(self.user, Action.DELETE, obj),
            "edit_url": self.url("edit", obj.pk),
            "delete_url": self.url("delete", obj.pk),
            "history": history(obj),
            **self.extra_context(obj),
        }
        return render(request, self.template_name, context)

    def extra_context(self, obj: Any) -> dict[str, Any]:
        return {}


class ObjectEditView(ObjectView):
    """Create (no pk) or change (pk) one object through ``services.create``/``update``."""

    form_class: ClassVar[type[ObjectForm]]
    template_name: ClassVar[str]

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.checked_object(pk)
        # Query parameters preset fields ("add a device at this site") and let htmx reload
        # the fields that depend on another one.
        initial = {k: v for k, v in request.GET.items() if k in self.form_class.base_fields}
        form = self.form_class(instance=obj, initial=initial, user=self.user)
        return self.show(form, obj)

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.checked_object(pk)
        form = self.form_class(request.POST, instance=obj, user=self.user)
        if form.is_valid():
            try:
                saved = self.save(form, obj)
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("Saved %(obj)s.") % {"obj": saved})
                return redirect(self.success_url(saved))
        return self.show(form, obj)

    def checked_object(self, pk: int | None) -> Any:
        """The object to change (refused early when the user may not), or None to create."""
        if pk is None:
            require(self.user, Action.ADD, scoping.AREA[self.model])
            return None
        obj = self.get_object(pk)
        scoping.require_change(self.user, Action.CHANGE, obj)
        return obj

    def save(self, form: ObjectForm, obj: Any) -> Any:
        data = form.service_data()
        if obj is None:
            return self.services.create(self.model, data, actor=self.user, source=SOURCE)
        return self.services.update(obj, data, actor=self.user, source=SOURCE)

    def success_url(self, obj: Any) -> str:
        return str(obj.get_absolute_url())

    def context(self, form: ObjectForm, obj: Any) -> dict[str, Any]:
        return {**self.base_context(), "form": form, "object": obj}

    def show(self, form: ObjectForm, obj: Any) -> HttpResponse:
        for driver, fields in form.dependent.items():
            if driver in form.fields:
                form.fields[driver].widget.attrs.update(
                    {
                        "hx-get": self.request.path,
                        "hx-trigger": "change",
                        "hx-swap": "none",
                        "hx-select-oob": ",".join(f"#field-{name}" for name in fields),
                    }
                )
        return render(self.request, self.template_name, self.context(form, obj))


class ObjectDeleteView(ObjectView):
    template_name: ClassVar[str]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.get_object(pk)
        scoping.require_change(self.user, Action.DELETE, obj)
        return self.show(obj)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.get_object(pk)
        scoping.require_change(self.user, Action.DELETE, obj)
        label = str(obj)
        back = self.success_url(obj)
        try:
            self.services.delete(obj, actor=self.user, source=SOURCE)
        except Conflict as exc:
            return self.show(obj, conflict=exc.message, status=409)
        messages.success(request, _("Deleted %(obj)s.") % {"obj": label})
        return redirect(back)

    def success_url(self, obj: Any) -> str:
        return self.url("list")

    def show(self, obj: Any, conflict: str = "", status: int = 200) -> HttpResponse:
        context = {**self.base_context(), "object": obj, "conflict": conflict}
        return render(self.request, self.template_name, context, status=status)
