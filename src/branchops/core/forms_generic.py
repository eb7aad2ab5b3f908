"""Forms shared by every app's pages: the edit form that hands its data to a service, and
the filter bar above a list.

Edit forms are ModelForms for rendering and parsing only: they skip the model validation
that a ModelForm normally does, because the app's services (``core.changes`` or an app's own
wrapper) validate, check permissions and write the audit row. Filter forms turn the bar
above a list into the same filters the REST API applies, so a list and the API agree.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from branchops.cmdb.models import Region, Site
from branchops.core import scoping
from branchops.core.crud import Filters
from branchops.core.forms import StyledForm, StyledFormMixin
from branchops.core.models import User
from branchops.core.views import text_query

# ---- edit forms --------------------------------------------------------------------------


class ObjectForm(StyledFormMixin, forms.ModelForm):  # type: ignore[type-arg]
    """Renders and parses an object; the app's services validate and save it.

    Choices are limited to what the user may see. ``dependent`` names the fields whose
    choices follow another field (a device's upstream device is at the same site); the
    page reloads those fields through htmx when the driving field changes.
    """

    dependent: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        for field in self.fields.values():
            if isinstance(field, forms.ModelChoiceField) and field.queryset is not None:
                model = field.queryset.model
                if model in scoping.AREA:
                    field.queryset = scoping.visible(user, model, field.queryset)
        self.limit_choices()
        self.style_widgets()

    def limit_choices(self) -> None:
        """Per-form narrowing of choices (dependent fields); the default narrows nothing."""

    def _post_clean(self) -> None:
        # Model validation runs in the services, on the data below, after the permission
        # check; doing it here as well would change the instance before the service saw it.
        pass

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound:
            self.mark_invalid(self.errors)

    def raw_id(self, name: str) -> int | None:
        """The id chosen in field ``name``: from the submitted data, else the initial value."""
        if self.is_bound:
            value: Any = self.data.get(self.add_prefix(name))
        else:
            value = self.initial.get(name)
        if isinstance(value, models.Model):
            return int(value.pk)
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    def narrow(self, name: str, condition: Q | None) -> None:
        """Keep only choices matching ``condition`` in field ``name`` (none when None)."""
        field = self.fields.get(name)
        if isinstance(field, forms.ModelChoiceField) and field.queryset is not None:
            qs = field.queryset
            field.queryset = qs.none() if condition is None else qs.filter(condition)

    def service_data(self) -> dict[str, Any]:
        """The cleaned values as the services take them (many-to-many as lists of ids)."""
        return {
            name: [obj.pk for obj in value] if isinstance(value, models.QuerySet) else value
            for name, value in self.cleaned_data.items()
        }

    def add_service_errors(self, exc: ValidationError) -> None:
        """Show a service's ValidationError on the fields it names, the rest above the form."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for name, errors in exc.error_dict.items():
            target = self.error_field(name)
            if target is not None:
                self.add_error(target, errors)
            else:
                for error in errors:
                    for message in error.messages:
                        label = self._label(name)
                        self.add_error(None, f"{label}: {message}" if label else message)
        self.mark_invalid(self.errors)

    def error_field(self, name: str) -> str | None:
        """The form field that shows the service's errors under ``name`` (None: above)."""
        return name if name in self.fields else None

    def _label(self, name: str) -> str:
        if name == "__all__":
            return ""
        try:
            return str(self._meta.model._meta.get_field(name).verbose_name)
        except FieldDoesNotExist:
            return name


# ---- filter forms ------------------------------------------------------------------------


def region_choices() -> list[tuple[str, str]]:
    """Every region in tree order (region, its provinces, their cities), indented."""
    regions = list(Region.objects.order_by("code"))
    children: dict[int | None, list[Region]] = {}
    for region in regions:
        children.setdefault(region.parent_id, []).append(region)
    choices: list[tuple[str, str]] = [("", str(_("All regions")))]

    def walk(parent: int | None, depth: int) -> None:
        for region in children.get(parent, []):
            choices.append((str(region.pk), "\u3000" * depth + str(region)))
            walk(region.pk, depth + 1)

    walk(None, 0)
    return choices


def with_all(all_label: Any, choices: Any) -> list[tuple[Any, Any]]:
    """Choices of a filter, led by the "all" entry that means "no filter"."""
    return [("", all_label), *choices]


class FilterForm(StyledForm):
    """The bar above a list: free text plus the API's filters for that resource."""

    compact = True
    api_filter: ClassVar[type[Filters]]
    search_fields: ClassVar[tuple[str, ...]]

    q = forms.CharField(label=_("Search"), required=False, max_length=100)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["q"].widget.input_type = "search"
        self.fields["q"].widget.attrs["placeholder"] = _("Search")
        if "region" in self.fields:
            self.fields["region"].choices = region_choices()  # type: ignore[attr-defined]
        if "site" in self.fields:
            self.fields["site"].queryset = scoping.visible(user, Site)  # type: ignore[attr-defined]

    def apply(self, qs: models.QuerySet[Any]) -> models.QuerySet[Any]:
        """The rows matching every valid filter; an invalid one is shown and ignored."""
        if not self.is_bound:
            return qs
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        if data.get("q"):
            qs = qs.filter(text_query(data["q"], self.search_fields))
        params = {}
        for name, value in data.items():
            if name == "q" or value in (None, ""):
                continue
            params[name] = str(value.pk) if isinstance(value, models.Model) else value
        if params:
            qs = self.api_filter(**params).filter(qs)
        return qs


def site_filter() -> forms.ModelChoiceField:  # type: ignore[type-arg]
    # The choices are set per user in FilterForm.__init__ (visible sites only).
    return forms.ModelChoiceField(
        label=_("Site"), required=False, queryset=Site.objects.none(), empty_label=_("All sites")
    )
