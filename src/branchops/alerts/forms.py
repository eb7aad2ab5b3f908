"""Forms of the alert pages: the console's filter bar, rules and their overrides, silences,
channels (with write-only secrets), escalation policies, routes and the notification log.

Edit forms parse and render; ``core.changes`` (rules, channels, policies, routes) and
``alerts.services`` (silences) check permissions, validate and record the change.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from branchops.alerts import filters as api_filters
from branchops.alerts.choices import (
    AlertSource,
    ChannelKind,
    NotificationKind,
    NotificationStatus,
    RuleKind,
    Severity,
)
from branchops.alerts.matching import MatcherError
from branchops.alerts.matching import validate as validate_matchers
from branchops.alerts.models import (
    AlertRule,
    Channel,
    EscalationPolicy,
    EscalationStep,
    Route,
    RuleOverride,
)
from branchops.alerts.notices import severity_label
from branchops.alerts.transports import SECRET_FIELDS, ConfigError, transport_class
from branchops.cmdb.models import Device, InformationSystem, Site
from branchops.cmdb.services import region_subtree_ids
from branchops.core import scoping
from branchops.core.forms import StyledForm
from branchops.core.forms_generic import FilterForm, ObjectForm, site_filter, with_all
from branchops.core.models import User
from branchops.core.views import text_query
from branchops.monitoring.choices import CheckKind

YES_NO = [("yes", _("Yes")), ("no", _("No"))]


def severity_choices() -> list[tuple[int, str]]:
    """1, 2, 3 with the names the operator configured (一级/二级/三级 by default)."""
    return [(value, severity_label(value)) for value in Severity.values]


# ---- JSON fields ---------------------------------------------------------------------------


class JsonObjectField(forms.JSONField):
    """A JSON object, shown indented; empty means ``{}``."""

    widget = forms.Textarea

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        if value in (None, "", {}):
            return ""
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)

    def to_python(self, value: Any) -> Any:
        parsed = super().to_python(value)
        if parsed in (None, ""):
            return {}
        if not isinstance(parsed, dict):
            raise ValidationError(_("Give a JSON object, for example {}."), code="not_object")
        return parsed


class MatchersField(JsonObjectField):
    """Label matchers: {"label": "value"}, a value starting with "~" is a regular expression."""

    def to_python(self, value: Any) -> Any:
        parsed = super().to_python(value)
        try:
            return validate_matchers(parsed)
        except MatcherError as exc:
            raise ValidationError(str(exc), code="matchers") from exc


def _code_widget(field: forms.Field, rows: int = 4) -> None:
    attrs = field.widget.attrs
    attrs.update({"rows": rows, "spellcheck": "false"})
    attrs["class"] = f"{attrs.get('class', '')} bo-mono".strip()


class CodeFieldsForm(ObjectForm):
    """An edit form whose JSON fields are shown in a monospace box of ``code_fields`` rows."""

    code_fields: ClassVar[dict[str, int]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, rows in self.code_fields.items():
            _code_widget(self.fields[name], rows)


MATCHERS_HELP = _('e.g. {"interface": "wan1", "site": "~BR-00.*"}; "~" starts a regex.')


# ---- the console ---------------------------------------------------------------------------

STATUS_CHOICES = [
    ("firing", _("Firing")),
    ("resolved", _("Resolved")),
    ("all", _("All statuses")),
]
SYMPTOM_CHOICES = [
    ("", _("Roots and symptoms")),
    ("no", _("Without symptoms")),
    ("yes", _("Symptoms only")),
]


class AlertFilterForm(FilterForm):
    """Firing alerts unless told otherwise; the API's filters plus region and status "all"."""

    api_filter = api_filters.AlertFilter
    search_fields = ("title", "name", "summary", "device__name", "site__code", "site__name")

    status = forms.ChoiceField(label=_("Status"), required=False, choices=STATUS_CHOICES)
    severity = forms.TypedChoiceField(label=_("Severity"), required=False, coerce=int)
    symptom = forms.ChoiceField(label=_("Correlation"), required=False, choices=SYMPTOM_CHOICES)
    acknowledged = forms.ChoiceField(
        label=_("Acknowledged"),
        required=False,
        choices=with_all(_("Acknowledged or not"), YES_NO),
    )
    region = forms.ChoiceField(label=_("Region"), required=False)
    site = site_filter()
    source = forms.ChoiceField(
        label=_("Source"), required=False, choices=with_all(_("All sources"), AlertSource.choices)
    )
    root = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["severity"].choices = with_all(_("All severities"), severity_choices())  # type: ignore[attr-defined]

    @property
    def chosen_status(self) -> str:
        if self.is_bound and self.is_valid():
            return str(self.cleaned_data.get("status") or "firing")
        return "firing"

    def apply(self, qs: models.QuerySet[Any]) -> models.QuerySet[Any]:
        data: dict[str, Any] = {}
        if self.is_bound:
            # A bad field is shown and ignored (cleaned_data holds the valid ones).
            self.is_valid()
            data = getattr(self, "cleaned_data", {})
        if data.get("q"):
            qs = qs.filter(text_query(data["q"], self.search_fields))
        if data.get("region"):
            qs = qs.filter(site__region_id__in=region_subtree_ids(data["region"]))
        params: dict[str, Any] = {}
        status = data.get("status") or "firing"
        if status != "all":
            params["status"] = status
        for name in ("severity", "source", "site", "root"):
            value = data.get(name)
            if value not in (None, ""):
                params[name] = str(value.pk) if isinstance(value, models.Model) else value
        for name in ("symptom", "acknowledged"):
            if data.get(name):
                params[name] = data[name] == "yes"
        return self.api_filter(**params).filter(qs)


class AssignForm(forms.Form):
    """Who takes the alert: anyone who may act on alerts (empty: nobody)."""

    assignee = forms.ModelChoiceField(
        label=_("Assignee"), queryset=User.objects.none(), required=False, empty_label=_("Nobody")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_users()  # type: ignore[attr-defined]
        self.fields["assignee"].widget.attrs["class"] = "form-select form-select-sm"


def assignable_users() -> models.QuerySet[User]:
    from branchops.core.permissions import MATRIX, Action, Area

    roles = [role for role, areas in MATRIX.items() if Action.CHANGE in areas.get(Area.ALERTS, ())]
    return User.objects.filter(Q(role__in=roles) | Q(is_superuser=True), is_active=True).order_by(
        "username"
    )


# ---- rules -------------------------------------------------------------------------------


class RuleFilterForm(FilterForm):
    api_filter = api_filters.RuleFilter
    search_fields = ("name", "description", "metric")

    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=with_all(_("All kinds"), RuleKind.choices)
    )
    severity = forms.TypedChoiceField(label=_("Severity"), required=False, coerce=int)
    enabled = forms.ChoiceField(
        label=_("Enabled"), required=False, choices=with_all(_("Enabled or not"), YES_NO)
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["severity"].choices = with_all(_("All severities"), severity_choices())  # type: ignore[attr-defined]

    def apply(self, qs: models.QuerySet[Any]) -> models.QuerySet[Any]:
        if not self.is_bound:
            return qs
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        if data.get("q"):
            qs = qs.filter(text_query(data["q"], self.search_fields))
        params: dict[str, Any] = {k: data[k] for k in ("kind", "severity") if data.get(k)}
        if data.get("enabled"):
            params["enabled"] = data["enabled"] == "yes"
        return self.api_filter(**params).filter(qs) if params else qs


class RuleForm(CodeFieldsForm):
    code_fields = {"matchers": 4, "params": 6}

    check_kinds = forms.MultipleChoiceField(
        label=_("Check kinds"),
        required=False,
        choices=CheckKind.choices,
        help_text=_("None chosen: every kind."),
    )
    matchers = MatchersField(label=_("Label matchers"), required=False, help_text=MATCHERS_HELP)
    params = JsonObjectField(
        label=_("Parameters"),
        required=False,
        help_text=_('A JSON object; depends on the kind, e.g. {"above": 90, "for_s": 300}.'),
    )
    severity = forms.TypedChoiceField(label=_("Severity"), coerce=int)
    raised_severity = forms.TypedChoiceField(
        label=_("Raised severity"), coerce=int, required=False, empty_value=None
    )

    class Meta:
        model = AlertRule
        fields = [
            "name",
            "kind",
            "severity",
            "enabled",
            "metric",
            "check_kinds",
            "matchers",
            "params",
            "roles",
            "sites",
            "systems",
            "raise_when",
            "raised_severity",
            "description",
        ]

    def limit_choices(self) -> None:
        self.fields["severity"].choices = severity_choices()  # type: ignore[attr-defined]
        self.fields["raised_severity"].choices = [("", "—"), *severity_choices()]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("raise_when", "always") != "always" and not data.get("raised_severity"):
            self.add_error("raised_severity", _("Say which severity applies at those times."))
        return data


class RuleOverrideForm(CodeFieldsForm):
    """One site's or device's own parameters for a rule (or the rule off there)."""

    code_fields = {"params": 6}

    params = JsonObjectField(
        label=_("Parameters"),
        required=False,
        help_text=_("Only the parameters that differ from the rule's; empty: the rule's own."),
    )
    rule = forms.ModelChoiceField(queryset=AlertRule.objects.all(), widget=forms.HiddenInput)

    class Meta:
        model = RuleOverride
        fields = ["rule", "site", "device", "enabled", "params"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("site") and not data.get("device"):
            self.add_error("site", _("Choose a site or a device."))
        return data


# ---- silences ------------------------------------------------------------------------------

WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format=LOCAL_FORMAT)


class SilenceForm(StyledForm):
    """A maintenance window; ``alerts.services.create_silence`` checks it as a whole."""

    reason = forms.CharField(label=_("Reason"), max_length=300)
    starts_at = forms.DateTimeField(
        label=_("Starts at"), widget=LocalDateTimeInput(), input_formats=[LOCAL_FORMAT]
    )
    ends_at = forms.DateTimeField(
        label=_("Ends at"),
        required=False,
        widget=LocalDateTimeInput(),
        input_formats=[LOCAL_FORMAT],
        help_text=_("Empty: until ended by hand."),
    )
    sites = forms.ModelMultipleChoiceField(
        label=_("Sites"), queryset=Site.objects.none(), required=False
    )
    devices = forms.ModelMultipleChoiceField(
        label=_("Devices"), queryset=Device.objects.none(), required=False
    )
    systems = forms.ModelMultipleChoiceField(
        label=_("Information systems"), queryset=InformationSystem.objects.none(), required=False
    )
    matchers = MatchersField(
        label=_("Label matchers"),
        required=False,
        help_text=_(
            "With sites, devices or systems: only their alerts that also match. "
            "Alone: every alert that matches."
        ),
    )
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Every week on"),
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    daily_start = forms.TimeField(
        label=_("From (local time)"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    duration_minutes = forms.IntegerField(
        label=_("For (minutes)"), required=False, min_value=1, max_value=7 * 24 * 60
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        for name, model in (("sites", Site), ("devices", Device), ("systems", InformationSystem)):
            qs = scoping.visible(user, model)
            if model is Device:
                qs = qs.select_related("site")
            self.fields[name].queryset = qs  # type: ignore[attr-defined]
        _code_widget(self.fields["matchers"], rows=3)

    @staticmethod
    def defaults(now: dt.datetime | None = None) -> dict[str, Any]:
        start = timezone.localtime(now or timezone.now()).replace(second=0, microsecond=0)
        return {"starts_at": start, "ends_at": start + dt.timedelta(hours=2)}

    def chosen(self) -> list[tuple[str, Any]]:
        """What the sites, devices and systems fields hold now (e.g. prefilled from the
        console), so the page can say so above the long lists."""
        found: list[tuple[str, Any]] = []
        for name in ("sites", "devices", "systems"):
            value = self[name].value() or []
            ids = [int(v) for v in value if str(v).isdigit()]
            if ids:
                field = self.fields[name]
                found += [(name, obj) for obj in field.queryset.filter(pk__in=ids)]  # type: ignore[attr-defined]
        return found

    def add_problems(self, problems: dict[str, str]) -> None:
        for name, message in problems.items():
            self.add_error(name if name in self.fields else None, message)
        self.mark_invalid(self.errors)


# ---- channels ----------------------------------------------------------------------------


def settings_help(kind: str) -> list[dict[str, Any]]:
    """The settings a channel kind takes (its secrets apart): name, default, meaning."""
    try:
        model = transport_class(kind).config_model
    except ConfigError:
        return []
    secrets = SECRET_FIELDS.get(kind, ())
    rows = []
    for name, info in model.model_fields.items():
        if name in secrets:
            continue
        required = info.is_required()
        default = None if required else info.get_default(call_default_factory=True)
        rows.append(
            {
                "name": info.alias or name,
                "required": required,
                "default": json.dumps(default, ensure_ascii=False),
                "description": info.description or "",
            }
        )
    return rows


def _takes_object(kind: str, name: str) -> bool:
    """Whether a secret setting is a JSON object (webhook headers) rather than text."""
    info = transport_class(kind).config_model.model_fields.get(name)
    return info is not None and info.default_factory is dict


class ChannelForm(CodeFieldsForm):
    """A channel's settings as JSON and its secrets as write-only fields of their own.

    The secrets of the chosen kind (``transports.SECRET_FIELDS``) are never shown again:
    empty means "keep what is stored". The whole is checked with
    ``transports.validate_config`` before it is saved.
    """

    dependent = {"kind": ("secrets", "settings-help")}
    code_fields = {"config": 8}

    config = JsonObjectField(
        label=_("Settings"),
        required=False,
        help_text=_("A JSON object; the table beside the form lists what this kind takes."),
    )

    class Meta:
        model = Channel
        fields = ["name", "kind", "enabled", "per_minute", "config"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stored = self.instance.secrets() if self.instance.pk else {}
        self.secret_names: tuple[str, ...] = SECRET_FIELDS.get(self.chosen_kind(), ())
        for name in self.secret_names:
            field = forms.CharField(
                label=name,
                required=False,
                strip=False,
                max_length=2000,
                # render_value=False: a stored secret never goes back to the browser, not even
                # after an error elsewhere on the form.
                widget=forms.PasswordInput(
                    render_value=False,
                    attrs={"autocomplete": "new-password", "class": "form-control"},
                ),
                help_text=(
                    _("Set. Leave empty to keep it; type a new one to replace it.")
                    if name in self.stored
                    else _("Not set.")
                ),
            )
            self.fields[f"secret_{name}"] = field

    def chosen_kind(self) -> str:
        if self.is_bound:
            return str(self.data.get(self.add_prefix("kind")) or "")
        return str(self.initial.get("kind") or self.instance.kind or ChannelKind.EMAIL)

    @property
    def secret_fields(self) -> list[forms.BoundField]:
        return [self[f"secret_{name}"] for name in self.secret_names]

    @property
    def plain_fields(self) -> list[forms.BoundField]:
        return [f for f in self.visible_fields() if not f.name.startswith("secret_")]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        config = data.get("config")
        if not kind or not isinstance(config, dict):
            return data
        for name in self.secret_names:
            if name in config:
                self.add_error("config", _("Put %(name)s in its own field below.") % {"name": name})
        secrets = self.merged_secrets(kind)
        if self.errors:
            return data
        try:
            from branchops.alerts.transports import validate_config

            validate_config(kind, {**config, **secrets})
        except ConfigError as exc:
            self.add_config_errors(kind, str(exc))
        data["secrets"] = secrets
        return data

    def merged_secrets(self, kind: str) -> dict[str, Any]:
        """What is stored for this kind's secrets, with the values typed now in place."""
        secrets = {k: v for k, v in self.stored.items() if k in self.secret_names}
        for name in self.secret_names:
            typed = self.cleaned_data.get(f"secret_{name}", "")
            if not typed:
                continue
            if _takes_object(kind, name):
                try:
                    secrets[name] = json.loads(typed)
                except ValueError:
                    self.add_error(f"secret_{name}", _("Give a JSON object."))
                    continue
            else:
                secrets[name] = typed
        return secrets

    def add_config_errors(self, kind: str, message: str) -> None:
        """``invalid <kind> settings: a: why; b: why`` shown on the field each part names."""
        text = message.removeprefix(f"invalid {kind} settings: ")
        for problem in text.split("; "):
            where, _sep, _why = problem.partition(": ")
            top = where.split(".")[0]
            target = f"secret_{top}" if top in self.secret_names else "config"
            self.add_error(target, problem)

    def service_data(self) -> dict[str, Any]:
        data = {k: v for k, v in super().service_data().items() if not k.startswith("secret_")}
        holder = Channel()
        holder.set_secrets(data.pop("secrets", {}))
        data["sealed_secrets"] = holder.sealed_secrets
        return data


class PolicyForm(ObjectForm):
    class Meta:
        model = EscalationPolicy
        fields = ["name", "description", "notify_resolved"]


class StepForm(ObjectForm):
    class Meta:
        model = EscalationStep
        fields = ["policy", "level", "delay_minutes", "channels", "oncall_group", "label"]


class RouteForm(CodeFieldsForm):
    code_fields = {"matchers": 3}

    matchers = MatchersField(label=_("Label matchers"), required=False, help_text=MATCHERS_HELP)
    max_severity = forms.TypedChoiceField(
        label=_("Severity at least"),
        coerce=int,
        help_text=_("Severity 1 is the highest: 2 means severity 1 and 2."),
    )

    class Meta:
        model = Route
        fields = [
            "name",
            "order",
            "enabled",
            "max_severity",
            "policy",
            "when",
            "continue_matching",
            "regions",
            "sites",
            "systems",
            "matchers",
        ]

    def limit_choices(self) -> None:
        self.fields["max_severity"].choices = severity_choices()  # type: ignore[attr-defined]


# ---- the notification log ---------------------------------------------------------------


class NotificationFilterForm(FilterForm):
    api_filter = api_filters.NotificationFilter
    search_fields = ("alert__title", "last_error", "channel__name")

    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=with_all(_("All statuses"), NotificationStatus.choices),
    )
    channel = forms.ModelChoiceField(
        label=_("Channel"),
        required=False,
        queryset=Channel.objects.all(),
        empty_label=_("All channels"),
    )
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=with_all(_("All kinds"), NotificationKind.choices)
    )
    alert = forms.IntegerField(required=False, widget=forms.HiddenInput)
