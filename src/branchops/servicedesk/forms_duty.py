"""Forms of the on-call, duty and spare-part pages: an override, a swap, a handover, a
dual-person operation record, a spare-part request and its moves.

As on the ticket pages, the forms parse and render; the services (``oncall``, ``handover``,
``spare_parts``) decide, and their refusals land on the field they name
(:meth:`ServiceForm.refused`).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from branchops.core.models import User
from branchops.servicedesk.choices import DualControlOutcome, SparePartStatus, SparePartUrgency
from branchops.servicedesk.forms import ServiceForm, local_time_field
from branchops.servicedesk.models import AssignmentGroup, Shift
from branchops.servicedesk.spare_parts import MAX_QUANTITY


def _required(field: forms.Field) -> forms.Field:
    field.required = True
    return field


def _person_label(user: User) -> str:
    name = user.get_full_name().strip()
    return f"{user.get_username()} ({name})" if name else user.get_username()


class PersonChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return _person_label(obj)


# ---- on-call ---------------------------------------------------------------------------------


class OverrideForm(ServiceForm):
    prefix = "override"

    user = PersonChoiceField(label=_("On call instead"), queryset=User.objects.none())
    starts_at = _required(local_time_field(_("From")))
    ends_at = _required(local_time_field(_("Until")))
    reason = forms.CharField(label=_("Reason"), required=False, max_length=300)

    def __init__(self, *args: Any, group: AssignmentGroup, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        members = group.members.filter(is_active=True).order_by("username")
        self.fields["user"].queryset = members  # type: ignore[attr-defined]


class SwapForm(ServiceForm):
    prefix = "swap"

    first = _required(
        local_time_field(_("A moment in the first shift"), _("Any time within that shift."))
    )
    second = _required(
        local_time_field(_("A moment in the other shift"), _("Any time within that shift."))
    )


# ---- duty ------------------------------------------------------------------------------------


class ShiftChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        people = ", ".join(p.get_username() for p in obj.people.all())
        return f"{obj} · {people}" if people else str(obj)


class HandoverForm(ServiceForm):
    incoming = ShiftChoiceField(label=_("Incoming shift"), queryset=Shift.objects.none())
    summary = forms.CharField(
        label=_("Summary for the incoming shift"),
        max_length=20000,
        widget=forms.Textarea,
        help_text=_(
            "What happened, what is pending and what to watch. Open tickets and firing "
            "alerts are listed below and copied into the log automatically."
        ),
    )

    def __init__(self, *args: Any, incoming: QuerySet[Shift], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["incoming"].queryset = incoming  # type: ignore[attr-defined]
        self.fields["summary"].required = False  # the service says why an empty one is refused
        self.fields["summary"].widget.attrs["rows"] = 6


class DualControlForm(ServiceForm):
    what = forms.CharField(label=_("What was done"), max_length=300)
    performed_at = local_time_field(_("When"), _("Empty: now."))
    operator = PersonChoiceField(label=_("Operator"), queryset=User.objects.none())
    reviewer = PersonChoiceField(
        label=_("Reviewer"),
        queryset=User.objects.none(),
        help_text=_("Someone other than the operator, who checked each step."),
    )
    outcome = forms.ChoiceField(label=_("Outcome"), choices=DualControlOutcome.choices)
    ticket = forms.CharField(
        label=_("Ticket"), required=False, max_length=20, help_text=_("Its number, if any.")
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=5000, widget=forms.Textarea)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        people = User.objects.filter(is_active=True).order_by("username")
        for name in ("operator", "reviewer"):
            self.fields[name].queryset = people  # type: ignore[attr-defined]


# ---- spare parts -----------------------------------------------------------------------------


class SparePartForm(ServiceForm):
    prefix = "spare"

    part = forms.CharField(label=_("Part"), max_length=200, required=False)
    model_number = forms.CharField(
        label=_("Device model or part number"), max_length=100, required=False
    )
    quantity = forms.IntegerField(
        label=_("Quantity"), min_value=1, max_value=MAX_QUANTITY, initial=1
    )
    urgency = forms.ChoiceField(
        label=_("Urgency"), choices=SparePartUrgency.choices, initial=SparePartUrgency.NORMAL
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=5000)
    pause = forms.BooleanField(
        label=_("Pause the ticket: pending spare part"),
        required=False,
        help_text=_("Stops the SLA clocks until someone resumes the ticket."),
    )


class SparePartMoveForm(ServiceForm):
    prefix = "spare-move"

    to = forms.ChoiceField(label=_("Move to"), choices=SparePartStatus.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=5000)
