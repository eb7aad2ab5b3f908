"""Forms of the estate pages.

Edit forms are ModelForms for rendering and parsing only: they skip the model validation
that a ModelForm normally does, because ``cmdb.services`` validates, checks permissions and
writes the audit row (see ``core.forms_generic.ObjectForm``). Filter forms turn the bar above
a list into the same filters the REST API applies (``cmdb.filters``), so a list and the API
agree.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from branchops.cmdb import filters as api_filters
from branchops.cmdb import models as m
from branchops.cmdb import scoping
from branchops.cmdb.capability import default_for
from branchops.cmdb.choices import (
    ContactRole,
    Criticality,
    DeviceStatus,
    LinkKind,
    LinkRole,
    LinkStatus,
    SiteKind,
    SiteStatus,
    SystemCategory,
)
from branchops.core.choices import Role
from branchops.core.forms import DateInput, StyledForm
from branchops.core.forms_generic import (
    FilterForm,
    ObjectForm,
    site_filter,
    with_all,
)
from branchops.core.models import User
from branchops.core.permissions import Action, Area, can

# ---- edit forms --------------------------------------------------------------------------


# The generic edit form (choices limited to what the user sees, service errors on their
# fields) lives in core; the estate's forms keep their own name for it.
EstateForm = ObjectForm


class RegionForm(EstateForm):
    class Meta:
        model = m.Region
        fields = ["code", "name", "name_en", "level", "parent", "latitude", "longitude"]


class SiteForm(EstateForm):
    class Meta:
        model = m.Site
        fields = [
            "code",
            "name",
            "kind",
            "status",
            "region",
            "support_centre",
            "calendar",
            "address",
            "latitude",
            "longitude",
            "opened_on",
            "liaisons",
            "description",
        ]
        widgets = {"opened_on": DateInput()}

    def limit_choices(self) -> None:
        # Regional centres are shared: a liaison's branch hangs off one that is not theirs.
        self.fields["support_centre"].queryset = m.Site.objects.filter(  # type: ignore[attr-defined]
            kind=SiteKind.REGIONAL_CENTRE
        )
        # Who looks after a site is access control: only user administrators set it.
        if not can(self.user, Action.CHANGE, Area.USERS):
            del self.fields["liaisons"]
        else:
            self.narrow("liaisons", Q(role=Role.BRANCH_LIAISON))


class DeviceForm(EstateForm):
    dependent = {"site": ("depends_on",)}

    class Meta:
        model = m.Device
        fields = [
            "name",
            "site",
            "role",
            "device_model",
            "platform",
            "status",
            "criticality",
            "management_ip",
            "serial",
            "asset_tag",
            "firmware_version",
            "depends_on",
            "installed_on",
            "description",
        ]
        widgets = {"installed_on": DateInput()}

    def limit_choices(self) -> None:
        site = self.raw_id("site")
        condition = Q(site_id=site) if site else None
        if condition is not None and self.instance.pk is not None:
            condition &= ~Q(pk=self.instance.pk)
        self.narrow("depends_on", condition)


def _far_sites(user: User) -> Q:
    """Sites a link may end at: the user's own, and every non-branch site (HQ, DR, centres)."""
    visible = scoping.visible(user, m.Site).values("pk")
    return Q(pk__in=visible) | ~Q(kind=SiteKind.BRANCH)


class LinkForm(EstateForm):
    dependent = {"a_site": ("a_device", "underlay"), "b_site": ("b_device",)}

    class Meta:
        model = m.Link
        fields = [
            "name",
            "kind",
            "role",
            "status",
            "a_site",
            "a_device",
            "b_site",
            "b_device",
            "underlay",
            "carrier",
            "circuit_id",
            "bandwidth_mbps",
            "description",
        ]

    def limit_choices(self) -> None:
        # The far end may be a data centre the user does not look after.
        self.fields["b_site"].queryset = m.Site.objects.filter(_far_sites(self.user))  # type: ignore[attr-defined]
        self.fields["b_device"].queryset = m.Device.objects.all()  # type: ignore[attr-defined]
        a_site, b_site = self.raw_id("a_site"), self.raw_id("b_site")
        self.narrow("a_device", Q(site_id=a_site) if a_site else None)
        self.narrow("b_device", Q(site_id=b_site) if b_site else None)
        underlay = Q(a_site_id=a_site, kind=LinkKind.INTERNET) if a_site else None
        if underlay is not None and self.instance.pk is not None:
            underlay &= ~Q(pk=self.instance.pk)
        self.narrow("underlay", underlay)


class SystemForm(EstateForm):
    class Meta:
        model = m.InformationSystem
        fields = [
            "code",
            "name",
            "name_en",
            "category",
            "owner",
            "owner_contact",
            "required_capability",
            "description",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["required_capability"].help_text = _(
            'Level per scenario, for example {"fault": 4, "disaster": 5}. Leave empty for '
            "the default of the category."
        )

    def clean_required_capability(self) -> Any:
        value = self.cleaned_data.get("required_capability")
        if value in (None, "", {}):
            return default_for(self.cleaned_data.get("category") or self.data.get("category", ""))
        return value


class DeploymentForm(EstateForm):
    dependent = {"site": ("device",)}

    class Meta:
        model = m.SystemDeployment
        fields = ["site", "device", "role", "description"]

    def limit_choices(self) -> None:
        site = self.raw_id("site")
        self.narrow("device", Q(site_id=site) if site else None)


class ContractForm(EstateForm):
    """The contract itself; its covered devices are managed on the contract's page."""

    class Meta:
        model = m.MaintenanceContract
        fields = [
            "number",
            "name",
            "provider",
            "provider_kind",
            "coverage",
            "starts_on",
            "ends_on",
            "cost",
            "contact",
            "notes",
        ]
        widgets = {"starts_on": DateInput(), "ends_on": DateInput()}


class ContactForm(EstateForm):
    class Meta:
        model = m.Contact
        fields = [
            "name",
            "role",
            "organisation",
            "title",
            "phone",
            "mobile",
            "email",
            "sites",
            "notes",
        ]


class CoverDevicesForm(StyledForm):
    """Adds the devices of one site (optionally of one role) to a contract."""

    site = forms.ModelChoiceField(label=_("Site"), queryset=m.Site.objects.none())
    role = forms.ModelChoiceField(
        label=_("Role"),
        queryset=m.DeviceRole.objects.all(),
        required=False,
        empty_label=_("All roles"),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = scoping.visible(user, m.Site)  # type: ignore[attr-defined]


# ---- filter forms ------------------------------------------------------------------------


_choices = with_all
_site_filter = site_filter


class SiteFilterForm(FilterForm):
    api_filter = api_filters.SiteFilter
    search_fields = ("code", "name", "address", "region__name", "region__name_en")

    region = forms.ChoiceField(label=_("Region"), required=False)
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=_choices(_("All kinds"), SiteKind.choices)
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=_choices(_("All statuses"), SiteStatus.choices)
    )


class DeviceFilterForm(FilterForm):
    api_filter = api_filters.DeviceFilter
    search_fields = ("name", "serial", "asset_tag", "management_ip", "firmware_version")

    region = forms.ChoiceField(label=_("Region"), required=False)
    site = _site_filter()
    role = forms.ModelChoiceField(
        label=_("Role"),
        required=False,
        queryset=m.DeviceRole.objects.all(),
        empty_label=_("All roles"),
    )
    vendor = forms.ModelChoiceField(
        label=_("Vendor"),
        required=False,
        queryset=m.Manufacturer.objects.all(),
        empty_label=_("All vendors"),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=_choices(_("All statuses"), DeviceStatus.choices),
    )
    criticality = forms.TypedChoiceField(
        label=_("Criticality"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=_choices(_("Any criticality"), Criticality.choices),
    )


class LinkFilterForm(FilterForm):
    api_filter = api_filters.LinkFilter
    search_fields = ("name", "carrier", "circuit_id")

    region = forms.ChoiceField(label=_("Region"), required=False)
    site = _site_filter()
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=_choices(_("All kinds"), LinkKind.choices)
    )
    role = forms.ChoiceField(
        label=_("Role"), required=False, choices=_choices(_("All roles"), LinkRole.choices)
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=_choices(_("All statuses"), LinkStatus.choices)
    )


class SystemFilterForm(FilterForm):
    api_filter = api_filters.SystemFilter
    search_fields = ("code", "name", "name_en", "owner")

    category = forms.ChoiceField(
        label=_("Category"),
        required=False,
        choices=_choices(_("All categories"), SystemCategory.choices),
    )


CONTRACT_STATES = [
    ("active", _("In force")),
    ("expiring", _("Expiring")),
    ("expired", _("Expired")),
    ("future", _("Not yet started")),
]


class ContractFilterForm(FilterForm):
    api_filter = api_filters.ContractFilter
    search_fields = ("number", "name", "provider")

    state = forms.ChoiceField(
        label=_("State"), required=False, choices=_choices(_("All states"), CONTRACT_STATES)
    )


class ContactFilterForm(FilterForm):
    api_filter = api_filters.ContactFilter
    search_fields = ("name", "organisation", "phone", "mobile", "email")

    site = _site_filter()
    role = forms.ChoiceField(
        label=_("Role"), required=False, choices=_choices(_("All roles"), ContactRole.choices)
    )
