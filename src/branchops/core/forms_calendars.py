"""The form for creating or changing a business calendar: its hours and its day rules,
typed one a line (``2027-02-06..2027-02-13,holiday,春节``). ``core.calendar_rules``
decides; a refusal lands on the field it names."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from branchops.core import calendar_rules
from branchops.core.choices import CalendarKind, ChangeSource
from branchops.core.forms import StyledForm
from branchops.core.models import BusinessCalendar, User

TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class CalendarForm(StyledForm):
    code = forms.SlugField(label=_("code"), max_length=50)
    name = forms.CharField(label=_("name"), max_length=100)
    name_en = forms.CharField(label=_("English name"), max_length=100, required=False)
    kind = forms.ChoiceField(label=_("kind"), choices=CalendarKind.choices)
    description = forms.CharField(label=_("description"), widget=forms.Textarea, required=False)
    opens_at = forms.TimeField(label=_("opens at"), widget=TIME)
    closes_at = forms.TimeField(label=_("closes at"), widget=TIME)
    break_starts_at = forms.TimeField(label=_("break starts at"), widget=TIME, required=False)
    break_ends_at = forms.TimeField(label=_("break ends at"), widget=TIME, required=False)
    known_from = forms.DateField(label=_("known from"), widget=DATE, required=False)
    known_until = forms.DateField(label=_("known until"), widget=DATE, required=False)
    rules = forms.CharField(
        label=_("day rules"),
        widget=forms.Textarea,
        required=False,
        help_text=_("One a line: first date..last date,kind,name (a single date is fine)."),
    )

    def __init__(self, *args: Any, calendar: BusinessCalendar | None = None, **kw: Any) -> None:
        self.calendar = calendar
        if calendar is not None and "initial" not in kw:
            kw["initial"] = {f: getattr(calendar, f) for f in calendar_rules.FIELDS}
            kw["initial"]["rules"] = "\n".join(_line(r) for r in calendar_rules.rules_of(calendar))
        super().__init__(*args, **kw)
        if calendar is not None:
            self.fields["code"].disabled = True

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            self.day_rules = calendar_rules.parse_rules(data.get("rules") or "")
            calendar_rules.check_calendar(self._values(), self.day_rules, self.calendar)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return data

    def _values(self) -> dict[str, Any]:
        return {f: self.cleaned_data.get(f) for f in calendar_rules.FIELDS}

    def save(self, actor: User | None) -> BusinessCalendar:
        """Write the checked calendar and its days (one transaction, audited)."""
        values = self._values()
        if self.calendar is not None:
            values.pop("code")
        return calendar_rules.save_calendar(
            values,
            rules=self.day_rules,
            actor=actor,
            source=ChangeSource.UI,
            calendar=self.calendar,
        )


def _line(rule: calendar_rules.DayRule) -> str:
    dates = rule.first.isoformat()
    if rule.last != rule.first:
        dates += f"..{rule.last.isoformat()}"
    return (
        ",".join(x for x in (dates, rule.kind, rule.name) if x)
        if rule.name
        else f"{dates},{rule.kind}"
    )
