"""Forms of the core pages: sign-in, users, API tokens, the audit filter; and the form styling.

User administration has no service module yet, so the two small writes it needs (create and
change a user, each with its audit row) live on the forms that collect them, in one
transaction each.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from branchops.cmdb.models import Site
from branchops.core import audit
from branchops.core.choices import AuditAction, ChangeSource, Role, TokenScope
from branchops.core.models import AuditEvent, User


class StyledFormMixin:
    """Gives every widget Tabler's classes, and marks fields with errors as invalid."""

    fields: dict[str, forms.Field]
    compact = False  # small inputs, for the filter bars above lists

    def style_widgets(self) -> None:
        size = "-sm" if self.compact else ""
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
                css = "form-check-input"
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                css = f"form-select form-select{size}" if size else "form-select"
            else:
                css = f"form-control form-control{size}" if size else "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()
            if isinstance(widget, forms.Textarea):
                widget.attrs["rows"] = 3
            if isinstance(widget, forms.SelectMultiple):
                widget.attrs.setdefault("size", 8)

    def mark_invalid(self, errors: Any) -> None:
        for name in errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


class StyledForm(StyledFormMixin, forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style_widgets()

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound:
            self.mark_invalid(self.errors)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


# ---- sign-in -----------------------------------------------------------------------------


class LoginForm(StyledFormMixin, AuthenticationForm):
    """Django's sign-in form, which also says when an account is locked, and until when.

    The lock itself is kept by core.auth.LockoutBackend; this form only reports it.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _(
            "This account is locked after too many failed sign-ins. Try again after "
            "%(until)s, or ask an administrator to unlock it."
        ),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style_widgets()
        self.fields["username"].widget.attrs["autocomplete"] = "username"

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except ValidationError:
            until = self._locked_until()
            if until is not None:
                raise ValidationError(
                    self.error_messages["locked"],
                    code="locked",
                    params={"until": formats.date_format(timezone.localtime(until), "Y-m-d H:i")},
                ) from None
            raise

    def _locked_until(self) -> Any:
        username = self.cleaned_data.get("username")
        if not username:
            return None
        user = User.objects.filter(username=username).only("locked_until").first()
        if user is None or not user.is_locked():
            return None
        return user.locked_until


# ---- users -------------------------------------------------------------------------------


def _site_field() -> forms.ModelMultipleChoiceField[Site]:
    return forms.ModelMultipleChoiceField(
        label=_("Liaison sites"),
        queryset=Site.objects.order_by("code"),
        required=False,
        help_text=_("Only for branch liaisons: the sites they look after."),
    )


class UserForm(StyledFormMixin, forms.ModelForm):  # type: ignore[type-arg]
    """Create or change a user's profile and role; passwords are set by the views."""

    liaison_sites = _site_field()

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email", "phone", "role", "language"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["liaison_sites"].initial = list(
                self.instance.liaison_sites.values_list("pk", flat=True)
            )
            self.fields["username"].disabled = True
        self.style_widgets()

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound:
            self.mark_invalid(self.errors)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("liaison_sites") and data.get("role") != Role.BRANCH_LIAISON:
            self.add_error(
                "liaison_sites", _("Only users with the branch liaison role have liaison sites.")
            )
        return data

    def save_as(self, actor: User, password: str | None = None) -> User:
        """Write the user and its sites with an audit row; ``password`` only on creation."""
        user: User = self.instance
        creating = user.pk is None
        with transaction.atomic():
            before = None if creating else user_snapshot(User.objects.get(pk=user.pk))
            user = super().save(commit=False)
            if creating:
                user.set_password(password)
            user.save()
            user.liaison_sites.set(self.cleaned_data["liaison_sites"])
            record_user_change(actor, user, before)
        return user


def record_user_change(actor: User, user: User, before: dict[str, Any] | None) -> None:
    """The audit row of a change to a user (nothing when nothing changed)."""
    after = user_snapshot(user)
    if before == after:
        return
    audit.record(
        actor=actor,
        action=AuditAction.CREATE if before is None else AuditAction.UPDATE,
        source=ChangeSource.UI,
        obj=user,
        before=before,
        after=after,
    )


def user_snapshot(user: User) -> dict[str, Any]:
    """A user's audit snapshot, with their sites and without the password hash."""
    data = audit.snapshot(user)
    data.pop("password", None)
    data.pop("last_login", None)
    data["liaison_sites"] = sorted(user.liaison_sites.values_list("pk", flat=True))
    return data


class UserFilterForm(StyledForm):
    compact = True
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    role = forms.ChoiceField(label=_("Role"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [("", _("All roles")), *Role.choices]  # type: ignore[attr-defined]
        self.fields["q"].widget.input_type = "search"
        self.fields["q"].widget.attrs["placeholder"] = _("Name, username or email")


# ---- API tokens --------------------------------------------------------------------------

EXPIRY_CHOICES = [
    (7, _("7 days")),
    (30, _("30 days")),
    (90, _("90 days")),
    (180, _("180 days")),
    (365, _("1 year")),
    (0, _("Never")),
]


class TokenForm(StyledForm):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the token is for, e.g. the script or system that uses it."),
    )
    scope = forms.ChoiceField(label=_("Scope"), choices=TokenScope.choices)
    expires_days = forms.TypedChoiceField(
        label=_("Expires after"), choices=EXPIRY_CHOICES, coerce=int
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["expires_days"].initial = settings.API_TOKEN_DEFAULT_DAYS
        self.fields["scope"].initial = TokenScope.READ


# ---- the audit trail ---------------------------------------------------------------------


def _audited_types() -> list[tuple[str, Any]]:
    ids = AuditEvent.objects.exclude(content_type=None).values("content_type").distinct()
    choices: list[tuple[str, Any]] = []
    for ct in ContentType.objects.filter(pk__in=ids):
        model = ct.model_class()
        label = str(model._meta.verbose_name) if model is not None else ct.model
        choices.append((str(ct.pk), label))
    choices.sort(key=lambda c: c[1])
    return [("", _("All object types")), *choices]


class AuditFilterForm(StyledForm):
    compact = True
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    actor = forms.ModelChoiceField(
        label=_("User"),
        queryset=User.objects.order_by("username"),
        required=False,
        empty_label=_("All users"),
    )
    object_type = forms.ChoiceField(label=_("Object type"), required=False)
    action = forms.ChoiceField(label=_("Action"), required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["object_type"].choices = _audited_types()  # type: ignore[attr-defined]
        self.fields["action"].choices = [  # type: ignore[attr-defined]
            ("", _("All actions")),
            *AuditAction.choices,
        ]
        self.fields["q"].widget.input_type = "search"
        self.fields["q"].widget.attrs["placeholder"] = _("Object or message")
