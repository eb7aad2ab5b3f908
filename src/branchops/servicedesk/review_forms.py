"""Forms of the review pages: a problem (with its "5 whys" editor), its moves and actions,
a postmortem and its timeline entries, and knowledge articles.

They parse and render; ``servicedesk.review``, ``review_postmortem`` and ``knowledge``
decide, and their refusals land on the field they name (:meth:`ServiceForm.refused`).
Tickets and devices are typed (numbers, names), since an estate has thousands of each.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from branchops.cmdb.models import Device, InformationSystem
from branchops.core import scoping
from branchops.core.models import User
from branchops.servicedesk.forms import ServiceForm, local_time_field, ticket_workers
from branchops.servicedesk.models import Category, Problem, Ticket
from branchops.servicedesk.review import MAX_WHYS
from branchops.servicedesk.review_choices import (
    ActionKind,
    ActionStatus,
    ArticleStatus,
    ProblemStatus,
)

_SPLIT = re.compile(r"[\s,;\uff0c\uff1b]+")  # Chinese commas and semicolons too


_LINE = forms.TextInput(attrs={"class": "form-control"})


def _names(text: str) -> list[str]:
    return [n for n in _SPLIT.split(text or "") if n]


class ProblemForm(ServiceForm):
    """A problem record; ``whys`` comes from the pairs ``why_1``/``answer_1`` … in order."""

    title = forms.CharField(label=pgettext_lazy("problem", "Title"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea)
    tickets = forms.CharField(
        label=_("Incidents"),
        required=False,
        help_text=_("Ticket numbers, separated by spaces or commas."),
    )
    devices = forms.CharField(
        label=_("Affected devices"),
        required=False,
        help_text=_("Device names, separated by spaces or commas."),
    )
    systems = forms.ModelMultipleChoiceField(
        label=_("Affected systems"), queryset=InformationSystem.objects.none(), required=False
    )
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)
    root_cause = forms.CharField(
        label=_("Root cause"),
        required=False,
        widget=forms.Textarea,
        help_text=_("The final answer the whys lead to."),
    )
    workaround = forms.CharField(label=_("Workaround"), required=False, widget=forms.Textarea)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        for n in range(1, MAX_WHYS + 1):
            self.fields[f"why_{n}"] = forms.CharField(
                label=_("Why %(n)d") % {"n": n}, required=False, max_length=1000, widget=_LINE
            )
            self.fields[f"answer_{n}"] = forms.CharField(
                label=_("Because"), required=False, max_length=2000, widget=_LINE
            )
        self.fields["systems"].queryset = scoping.visible(user, InformationSystem)  # type: ignore[attr-defined]
        self.fields["systems"].widget.attrs["size"] = 4
        self.fields["owner"].queryset = ticket_workers()  # type: ignore[attr-defined]

    def why_rows(self) -> list[tuple[Any, Any]]:
        """The editor's rows: (why field, answer field), in order."""
        return [(self[f"why_{n}"], self[f"answer_{n}"]) for n in range(1, MAX_WHYS + 1)]

    def clean_tickets(self) -> list[Ticket]:
        numbers = _names(self.cleaned_data.get("tickets", ""))
        found = {t.number: t for t in scoping.visible(self.user, Ticket).filter(number__in=numbers)}
        missing = [n for n in numbers if n not in found]
        if missing:
            raise ValidationError(_("Unknown: %(values)s") % {"values": ", ".join(missing)})
        return [found[n] for n in dict.fromkeys(numbers)]

    def clean_devices(self) -> list[Device]:
        names = _names(self.cleaned_data.get("devices", ""))
        found = {d.name: d for d in scoping.visible(self.user, Device).filter(name__in=names)}
        missing = [n for n in names if n not in found]
        if missing:
            raise ValidationError(_("Unknown: %(values)s") % {"values": ", ".join(missing)})
        return [found[n] for n in dict.fromkeys(names)]

    def whys(self) -> list[dict[str, str]]:
        data = self.cleaned_data
        return [
            {"why": data.get(f"why_{n}", ""), "answer": data.get(f"answer_{n}", "")}
            for n in range(1, MAX_WHYS + 1)
        ]

    @staticmethod
    def initial_for(problem: Problem) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "title": problem.title,
            "description": problem.description,
            "tickets": " ".join(t.number for t in problem.tickets.all()),
            "devices": " ".join(d.name for d in problem.devices.all()),
            "systems": list(problem.systems.all()),
            "owner": problem.owner_id,
            "root_cause": problem.root_cause,
            "workaround": problem.workaround,
        }
        for n, pair in enumerate(problem.whys, start=1):
            initial[f"why_{n}"] = pair.get("why", "")
            initial[f"answer_{n}"] = pair.get("answer", "")
        return initial


class ProblemMoveForm(ServiceForm):
    prefix = "move"

    to = forms.ChoiceField(label=_("Move to"), choices=ProblemStatus.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=5000, widget=forms.Textarea)


class ActionForm(ServiceForm):
    prefix = "action"

    kind = forms.ChoiceField(label=_("Kind"), choices=ActionKind.choices)
    title = forms.CharField(label=_("What to do"), max_length=300)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none())
    due_date = forms.DateField(
        label=_("Due date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = ticket_workers()  # type: ignore[attr-defined]


class ActionUpdateForm(ServiceForm):
    prefix = "update"

    status = forms.ChoiceField(label=_("Status"), choices=ActionStatus.choices)
    evidence = forms.CharField(
        label=_("Evidence"),
        required=False,
        max_length=5000,
        help_text=_("Done: how (a change number, a screenshot's name). Cancelled: why."),
    )


class PostmortemForm(ServiceForm):
    title = forms.CharField(label=pgettext_lazy("postmortem", "Title"), max_length=200)
    impact_summary = forms.CharField(
        label=_("Impact"),
        required=False,
        widget=forms.Textarea,
        help_text=_("Who and what was affected, for how long; trading hours lost, if any."),
    )
    lessons = forms.CharField(label=_("Lessons learned"), required=False, widget=forms.Textarea)


class EntryForm(ServiceForm):
    prefix = "entry"

    at = local_time_field(_("When"))
    what = forms.CharField(label=_("What happened"), max_length=5000, widget=forms.Textarea)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["at"].required = True


class ArticleForm(ServiceForm):
    title = forms.CharField(label=pgettext_lazy("article", "Title"), max_length=200)
    symptom = forms.CharField(
        label=_("Symptom"),
        widget=forms.Textarea,
        help_text=_("What the caller sees, in their words: this is how the article is found."),
    )
    cause = forms.CharField(label=_("Cause"), required=False, widget=forms.Textarea)
    solution = forms.CharField(label=_("Solution"), widget=forms.Textarea)
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.filter(active=True), required=False
    )
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separated by commas."))
    problem = forms.CharField(
        label=_("Problem"), required=False, help_text=_("A problem number, e.g. PRB-2026-000001.")
    )
    status = forms.ChoiceField(label=_("Status"), choices=ArticleStatus.choices)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_problem(self) -> Problem | None:
        number = (self.cleaned_data.get("problem") or "").strip()
        if not number:
            return None
        found = scoping.visible(self.user, Problem).filter(number=number).first()
        if found is None:
            raise ValidationError(_("Unknown: %(value)s") % {"value": number})
        return found


class ArticleSearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *ArticleStatus.choices]
    )
