"""Forms of the monitoring pages: the filter bars, checks, templates and SNMP credentials.

Edit forms parse and render only; ``monitoring.services.CheckServices`` and
``core.changes`` validate (the models check parameters against their kind), check
permissions and write the audit row. Parameter errors come back as ``params.<field>`` and
are shown on the parameters field, naming the parameter.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from branchops.cmdb.choices import SiteKind
from branchops.cmdb.filters import SiteFilter
from branchops.cmdb.models import Device, Link
from branchops.cmdb.services import region_subtree_ids
from branchops.core.forms_generic import FilterForm, ObjectForm, site_filter, with_all
from branchops.core.secrets import seal
from branchops.core.views import text_query
from branchops.monitoring import filters as api_filters
from branchops.monitoring.choices import CheckKind, CheckState, SnmpVersion, TargetKind
from branchops.monitoring.models import Check, CheckTemplate, SnmpCredential
from branchops.monitoring.params import PARAMS

# ---- parameters ------------------------------------------------------------------------


class ParamsField(forms.JSONField):
    """A JSON object, shown indented so that people can read and edit it."""

    widget = forms.Textarea

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)

    def to_python(self, value: Any) -> Any:
        parsed = super().to_python(value)
        if parsed in (None, ""):
            return {}
        if not isinstance(parsed, dict):
            raise ValidationError(
                _('Parameters are a JSON object, for example {"count": 5}.'), code="not_object"
            )
        return parsed


class ParamsFormMixin(ObjectForm):
    """Shows the model's ``params.<field>`` errors on the parameters field."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "params" in self.fields:
            attrs = self.fields["params"].widget.attrs
            attrs["rows"] = 8
            attrs["class"] = f"{attrs.get('class', '')} bo-mono".strip()
            attrs["spellcheck"] = "false"

    def add_service_errors(self, exc: ValidationError) -> None:
        if hasattr(exc, "error_dict"):
            rest: dict[str, Any] = {}
            for name, errors in exc.error_dict.items():
                if name.startswith("params.") and "params" in self.fields:
                    field = name.removeprefix("params.")
                    for error in errors:
                        for message in error.messages:
                            self.add_error("params", f"{field}: {message}")
                else:
                    rest[name] = errors
            if not rest:
                self.mark_invalid(self.errors)
                return
            exc = ValidationError(rest)
        super().add_service_errors(exc)


def params_help(kind: str) -> list[dict[str, Any]]:
    """The parameters a kind takes: name, default and what it means (from monitoring.params)."""
    schema = PARAMS.get(kind)
    if schema is None:
        return []
    rows = []
    for name, info in schema.model_fields.items():
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        rows.append(
            {
                "name": name,
                "required": info.is_required(),
                "default": json.dumps(default, ensure_ascii=False),
                "description": info.description or "",
            }
        )
    return rows


# ---- checks ------------------------------------------------------------------------------


class CheckForm(ParamsFormMixin):
    """Edit a check: how often, how long, with which parameters, and whether it runs."""

    params = ParamsField(label=_("Parameters"), required=False)

    class Meta:
        model = Check
        fields = ["name", "interval_s", "timeout_s", "params", "enabled"]


class CheckAddForm(ParamsFormMixin):
    """A hand-made check of the device (or link) named in the address."""

    # Changing the kind shows that kind's parameters.
    dependent = {"kind": ("params-help",)}

    params = ParamsField(label=_("Parameters"), required=False)
    device = forms.ModelChoiceField(
        queryset=Device.objects.all(), required=False, widget=forms.HiddenInput
    )
    link = forms.ModelChoiceField(
        queryset=Link.objects.all(), required=False, widget=forms.HiddenInput
    )

    class Meta:
        model = Check
        fields = ["name", "kind", "interval_s", "timeout_s", "params", "enabled", "device", "link"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("device") is None) == (data.get("link") is None):
            raise ValidationError(
                _("Open the device the check should watch and add the check from there.")
            )
        return data

    def service_data(self) -> dict[str, Any]:
        data = super().service_data()
        target = data["device"] or data["link"]
        # A check belongs to its device's (or its link's A end's) site.
        data["site"] = target.site if isinstance(target, Device) else target.a_site
        return data


# ---- templates ---------------------------------------------------------------------------

TEMPLATE_TARGETS = [
    (v, label) for v, label in TargetKind.choices if v in (TargetKind.DEVICE, TargetKind.LINK)
]


class TemplateForm(ParamsFormMixin):
    dependent = {"kind": ("params-help",)}

    params = ParamsField(label=_("Parameters"), required=False)

    class Meta:
        model = CheckTemplate
        fields = [
            "name",
            "kind",
            "target_kind",
            "role",
            "link_kind",
            "interval_s",
            "timeout_s",
            "params",
            "enabled",
        ]

    def limit_choices(self) -> None:
        # Templates watch devices or links (the model's constraint); sites and systems later.
        self.fields["target_kind"].choices = TEMPLATE_TARGETS  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        """A device template names a role, a link template a link kind, never both."""
        data = super().clean() or {}
        if data.get("target_kind") == TargetKind.DEVICE:
            data["link_kind"] = ""
            if not data.get("role"):
                self.add_error("role", _("A template for devices needs their role."))
        elif data.get("target_kind") == TargetKind.LINK:
            data["role"] = None
            if not data.get("link_kind"):
                self.add_error("link_kind", _("A template for links needs their kind."))
        return data


# ---- SNMP credentials --------------------------------------------------------------------

SECRETS = ("community", "auth_password", "priv_password")


def _secret(label: Any) -> forms.CharField:
    # render_value=False: a stored secret never goes back to the browser, not even after an
    # error elsewhere on the form.
    return forms.CharField(
        label=label,
        required=False,
        max_length=200,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class CredentialForm(ObjectForm):
    """SNMP access. The secrets are write-only: empty means "leave as it is"."""

    community = _secret(_("Community"))
    auth_password = _secret(_("v3 authentication password"))
    priv_password = _secret(_("v3 privacy password"))

    class Meta:
        model = SnmpCredential
        fields = [
            "name",
            "version",
            "port",
            "community",
            "username",
            "auth_protocol",
            "auth_password",
            "priv_protocol",
            "priv_password",
            "timeout_s",
            "retries",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in SECRETS:
            stored = bool(getattr(self.instance, f"{name}_sealed", ""))
            self.fields[name].help_text = (
                _("Set. Leave empty to keep it; type a new one to replace it.")
                if stored
                else _("Not set.")
            )

    def is_set(self, name: str, data: dict[str, Any]) -> bool:
        return bool(data.get(name)) or bool(getattr(self.instance, f"{name}_sealed", ""))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        version = data.get("version")
        if version == SnmpVersion.V2C and not self.is_set("community", data):
            self.add_error("community", _("SNMP v2c needs a community."))
        if version == SnmpVersion.V3:
            if not data.get("username"):
                self.add_error("username", _("SNMP v3 needs a user name."))
            if data.get("auth_protocol") and not self.is_set("auth_password", data):
                self.add_error("auth_password", _("This authentication needs a password."))
            if data.get("priv_protocol") and not self.is_set("priv_password", data):
                self.add_error("priv_password", _("This privacy protocol needs a password."))
            if data.get("priv_protocol") and not data.get("auth_protocol"):
                self.add_error("priv_protocol", _("Privacy needs authentication as well."))
        return data

    def service_data(self) -> dict[str, Any]:
        """Secrets are sealed when given and left alone when not (as the API does)."""
        data = super().service_data()
        for name in SECRETS:
            value = data.pop(name, "")
            if value:
                data[f"{name}_sealed"] = seal(value)
        return data


# ---- filter bars -------------------------------------------------------------------------


class CheckFilterForm(FilterForm):
    api_filter = api_filters.CheckFilter
    search_fields = ("name", "device__name", "link__name", "status__last_error", "site__code")

    state = forms.ChoiceField(
        label=_("State"), required=False, choices=with_all(_("All states"), CheckState.choices)
    )
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=with_all(_("All kinds"), CheckKind.choices)
    )
    region = forms.ChoiceField(label=_("Region"), required=False)
    site = site_filter()
    failing = forms.BooleanField(label=_("Failing"), required=False)
    late = forms.BooleanField(label=_("Late"), required=False)
    disabled = forms.BooleanField(label=_("Disabled"), required=False)
    template = forms.IntegerField(required=False, widget=forms.HiddenInput)
    device = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def apply(
        self, qs: models.QuerySet[Any], *, skip: tuple[str, ...] = ()
    ) -> models.QuerySet[Any]:
        """The API's filters, plus region (with everything below it) and disabled checks.

        ``skip`` leaves filters out: the counts by state are counted without the state.
        """
        if not self.is_bound:
            return qs
        self.is_valid()
        data = {k: v for k, v in getattr(self, "cleaned_data", {}).items() if k not in skip}
        if data.get("q"):
            qs = qs.filter(text_query(data["q"], self.search_fields))
        if data.get("region"):
            qs = qs.filter(site__region_id__in=region_subtree_ids(data["region"]))
        if data.get("disabled"):
            qs = qs.filter(enabled=False)
        if data.get("template"):
            qs = qs.filter(template_id=data["template"])
        if data.get("device"):
            qs = qs.filter(Q(device_id=data["device"]) | Q(link__a_device_id=data["device"]))
        params: dict[str, Any] = {}
        for name in ("state", "kind", "site"):
            value = data.get(name)
            if value:
                params[name] = str(value.pk) if isinstance(value, models.Model) else value
        # An unticked box means "any", not "no": only a ticked one filters.
        for name in ("failing", "late"):
            if data.get(name):
                params[name] = True
        if params:
            qs = self.api_filter(**params).filter(qs)
        return qs


class TemplateFilterForm(FilterForm):
    api_filter = api_filters.TemplateFilter
    search_fields = ("name",)

    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=with_all(_("All kinds"), CheckKind.choices)
    )
    target_kind = forms.ChoiceField(
        label=_("Applies to"),
        required=False,
        choices=with_all(_("Devices and links"), TEMPLATE_TARGETS),
    )


class CredentialFilterForm(FilterForm):
    api_filter = api_filters.CredentialFilter
    search_fields = ("name", "username")

    version = forms.ChoiceField(
        label=_("Version"),
        required=False,
        choices=with_all(_("All versions"), SnmpVersion.choices),
    )


HEALTH_CHOICES = [*CheckState.choices, ("none", _("Not monitored"))]


class SiteHealthFilterForm(FilterForm):
    api_filter = SiteFilter
    search_fields = ("code", "name", "address")

    health = forms.ChoiceField(
        label=_("Health"), required=False, choices=with_all(_("Any health"), HEALTH_CHOICES)
    )
    region = forms.ChoiceField(label=_("Region"), required=False)
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=with_all(_("All kinds"), SiteKind.choices)
    )

    def apply(self, qs: models.QuerySet[Any]) -> models.QuerySet[Any]:
        """Text, region and kind; health is known only after the roll-up (the view's)."""
        if not self.is_bound:
            return qs
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        if data.get("q"):
            qs = qs.filter(text_query(data["q"], self.search_fields))
        params = {name: data[name] for name in ("region", "kind") if data.get(name)}
        return self.api_filter(**params).filter(qs) if params else qs

    @property
    def wanted_health(self) -> str:
        if not self.is_bound or not self.is_valid():
            return ""
        return str(self.cleaned_data.get("health") or "")
