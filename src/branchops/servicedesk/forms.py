"""Forms of the ticket pages: the list's filter bar, logging a ticket, and what people do on
a ticket's page (move, assign, log work, record a visit).

The forms parse and render; ``servicedesk.services`` decides. A service's refusal names the
field it is about (``Refused.field``); :meth:`ServiceForm.refused` shows it there.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from branchops.cmdb.models import Device, InformationSystem, Site
from branchops.cmdb.services import region_subtree_ids
from branchops.core import scoping
from branchops.core.forms import StyledForm
from branchops.core.forms_generic import FilterForm, site_filter, with_all
from branchops.core.models import User
from branchops.core.permissions import MATRIX, Action, Area, is_site_scoped
from branchops.core.views import text_query
from branchops.servicedesk import filters as list_filters
from branchops.servicedesk import services
from branchops.servicedesk.choices import (
    Impact,
    Priority,
    RequestType,
    TicketKind,
    TicketSource,
    TicketStatus,
    Urgency,
)
from branchops.servicedesk.models import AssignmentGroup, Category

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
YES_NO = [("yes", _("Yes")), ("no", _("No"))]
# "Open" alone is already the button that opens a page; these are a ticket's state.
OPEN_CHOICES = [
    ("yes", pgettext_lazy("ticket state", "Open")),
    ("no", _("Resolved or closed")),
    ("all", _("Open or not")),
]


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format=LOCAL_FORMAT)


def local_time_field(label: Any, help_text: Any = "") -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        widget=LocalDateTimeInput(),
        input_formats=[LOCAL_FORMAT],
        help_text=help_text,
    )


def ticket_workers() -> models.QuerySet[User]:
    """Active people whose role may work tickets (the assignee choices)."""
    roles = [r for r, areas in MATRIX.items() if Action.CHANGE in areas.get(Area.SERVICE_DESK, ())]
    return User.objects.filter(Q(role__in=roles) | Q(is_superuser=True), is_active=True).order_by(
        "username"
    )


class ServiceForm(StyledForm):
    """A form whose data goes to a service; the service's refusal lands on its field."""

    def refused(self, exc: services.Refused) -> None:
        field = exc.field if exc.field in self.fields else None
        self.add_error(field, exc.message)
        self.mark_invalid(self.errors)


# ---- the list ------------------------------------------------------------------------------


class TicketFilterForm(FilterForm):
    """Open tickets unless told otherwise; the API's filters plus region and "breached"."""

    search_fields = ("number", "title", "description", "reporter_name", "site__code")

    open = forms.ChoiceField(
        label=pgettext_lazy("ticket state", "Open"), required=False, choices=OPEN_CHOICES
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=with_all(_("All statuses"), TicketStatus.choices),
    )
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=with_all(_("All kinds"), TicketKind.choices)
    )
    priority = forms.TypedChoiceField(
        label=_("Priority"),
        required=False,
        coerce=int,
        choices=with_all(_("All priorities"), Priority.choices),
    )
    breached = forms.ChoiceField(
        label=_("SLA breached"), required=False, choices=with_all(_("Breached or not"), YES_NO)
    )
    region = forms.ChoiceField(label=_("Region"), required=False)
    site = site_filter()
    group = forms.ModelChoiceField(
        label=_("Group"),
        required=False,
        queryset=AssignmentGroup.objects.all(),
        empty_label=_("All groups"),
    )
    assignee = forms.ModelChoiceField(
        label=_("Assignee"), required=False, queryset=User.objects.none(), empty_label=_("Anyone")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = ticket_workers()  # type: ignore[attr-defined]

    def data_or_empty(self) -> dict[str, Any]:
        if not self.is_bound:
            return {}
        self.is_valid()  # a bad field is shown and ignored
        return dict(getattr(self, "cleaned_data", {}))

    @property
    def breached_only(self) -> bool | None:
        value = self.data_or_empty().get("breached")
        return None if not value else value == "yes"

    def apply(self, qs: models.QuerySet[Any]) -> models.QuerySet[Any]:
        data = self.data_or_empty()
        if data.get("q"):
            qs = qs.filter(text_query(data["q"], self.search_fields))
        if data.get("region"):
            qs = qs.filter(site__region_id__in=region_subtree_ids(data["region"]))
        params: dict[str, Any] = {}
        for name in ("status", "kind", "priority", "site", "assignee", "group"):
            value = data.get(name)
            if value not in (None, ""):
                params[name] = str(value.pk) if isinstance(value, models.Model) else value
        # Open tickets by default; a chosen status speaks for itself.
        chosen = data.get("open") or ("all" if params.get("status") else "yes")
        if chosen != "all":
            params["open"] = chosen == "yes"
        return list_filters.TicketFilter(**params).filter(qs) if params else qs


# ---- logging a ticket ----------------------------------------------------------------------


class TicketForm(ServiceForm):
    """What the NOC operator asks a caller, most important first."""

    kind = forms.ChoiceField(label=_("Kind"), choices=TicketKind.choices, initial="incident")
    request_type = forms.ChoiceField(
        label=_("Request type"),
        required=False,
        choices=[("", "—"), *RequestType.choices],
        help_text=_("Service requests only."),
    )
    site = forms.ModelChoiceField(label=_("Site"), queryset=Site.objects.none(), required=False)
    title = forms.CharField(label=pgettext_lazy("ticket", "Title"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea)
    impact = forms.TypedChoiceField(
        label=_("Impact"), choices=Impact.choices, coerce=int, initial=Impact.MEDIUM
    )
    urgency = forms.TypedChoiceField(
        label=_("Urgency"), choices=Urgency.choices, coerce=int, initial=Urgency.MEDIUM
    )
    source = forms.ChoiceField(label=_("Source"), choices=TicketSource.choices, initial="phone")
    reporter_name = forms.CharField(label=_("Caller"), max_length=100, required=False)
    reporter_contact = forms.CharField(
        label=_("Caller's phone or email"), max_length=100, required=False
    )
    created_at = local_time_field(
        _("Reported at"), _("Empty: now. Earlier if the call came in before you logged it.")
    )
    devices = forms.ModelMultipleChoiceField(
        label=_("Devices"), queryset=Device.objects.none(), required=False
    )
    systems = forms.ModelMultipleChoiceField(
        label=_("Information systems"), queryset=InformationSystem.objects.none(), required=False
    )
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.filter(active=True), required=False
    )
    group = forms.ModelChoiceField(
        label=_("Assignment group"), queryset=AssignmentGroup.objects.all(), required=False
    )
    assignee = forms.ModelChoiceField(
        label=_("Assignee"), queryset=User.objects.none(), required=False
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        sites = scoping.visible(user, Site).order_by("code")
        self.fields["site"].queryset = sites  # type: ignore[attr-defined]
        # Typing filters the long list (servicedesk.js); choosing one reloads its devices.
        self.fields["site"].widget.attrs.update(
            {
                "data-bo-searchable": str(_("Type part of a code or name")),
                "hx-get": reverse("servicedesk:ticket_add"),
                "hx-target": "#field-devices",
                "hx-swap": "outerHTML",
                "hx-trigger": "change",
            }
        )
        if is_site_scoped(user, Area.SERVICE_DESK):
            # A liaison logs tickets for their own branches only, never without one.
            self.fields["site"].required = True
        self.fields["systems"].queryset = scoping.visible(user, InformationSystem)  # type: ignore[attr-defined]
        self.fields["assignee"].queryset = ticket_workers()  # type: ignore[attr-defined]
        site_id = self.chosen_site_id()
        devices = scoping.visible(user, Device).select_related("site").order_by("name")
        self.fields["devices"].queryset = (  # type: ignore[attr-defined]
            devices.filter(site_id=site_id) if site_id else devices.none()
        )
        self.fields["devices"].widget.attrs["size"] = 4
        if not site_id:
            self.fields["devices"].help_text = _("Choose the site first: its devices show here.")
        self.fields["systems"].widget.attrs["size"] = 4
        self.fields["title"].widget.attrs["autocomplete"] = "off"

    def chosen_site_id(self) -> int | None:
        """The site picked so far: the devices to choose from are that site's."""
        value = self.data.get("site") if self.is_bound else self.initial.get("site")
        if isinstance(value, models.Model):
            return int(value.pk)
        text = str(value or "")
        return int(text) if text.isdigit() else None


# ---- a ticket's page -----------------------------------------------------------------------


class MoveForm(ServiceForm):
    prefix = "move"  # four forms share the page: their fields need their own ids

    to = forms.ChoiceField(label=_("Move to"), choices=TicketStatus.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=5000, widget=forms.Textarea)


class AssignForm(ServiceForm):
    prefix = "assign"

    group = forms.ModelChoiceField(
        label=_("Assignment group"), queryset=AssignmentGroup.objects.all(), required=False
    )
    assignee = forms.ModelChoiceField(
        label=_("Person"), queryset=User.objects.none(), required=False
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=5000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = ticket_workers()  # type: ignore[attr-defined]


class WorklogForm(ServiceForm):
    prefix = "worklog"

    note = forms.CharField(label=_("What was done"), max_length=20000, widget=forms.Textarea)
    at = local_time_field(_("Done at"), _("Empty: now."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["note"].required = False  # the service says why an empty one is refused


class VisitForm(ServiceForm):
    prefix = "visit"

    departed_at = local_time_field(_("Left for the site"))
    arrived_at = local_time_field(_("Arrived on site"))
    finished_at = local_time_field(_("Finished on site"))
    note = forms.CharField(label=_("Note"), required=False, max_length=5000)
