"""Checks, their templates, their current status and the history of their state changes.

A check's configuration (``Check``) changes rarely and is edited by people; its status
(``CheckStatus``) changes with every run and is written only by the engine's ingest, in
batches. Keeping them apart keeps the hot write narrow and the audit trail of
configuration clean. ``StateChange`` rows are the raw material for availability and SLA.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from branchops.cmdb.choices import LinkKind
from branchops.cmdb.models import Device, DeviceRole, InformationSystem, Link, Site
from branchops.core.secrets import seal, unseal
from branchops.monitoring.choices import (
    AuthProtocol,
    CheckKind,
    CheckState,
    PrivProtocol,
    SnmpVersion,
    TargetKind,
)
from branchops.monitoring.params import ParamsError, parse

INTERVAL_BOUNDS = (MinValueValidator(5), MaxValueValidator(86_400))
TIMEOUT_BOUNDS = (MinValueValidator(0.1), MaxValueValidator(300))


class SnmpCredential(models.Model):
    """How to talk SNMP to a group of devices; checks name it, secrets are sealed at rest."""

    name = models.SlugField(_("name"), max_length=50, unique=True)
    version = models.CharField(
        _("version"), max_length=2, choices=SnmpVersion.choices, default=SnmpVersion.V2C
    )
    port = models.PositiveIntegerField(
        _("port"), default=161, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    community_sealed = models.CharField(_("community"), max_length=500, blank=True, editable=False)
    username = models.CharField(_("v3 user name"), max_length=64, blank=True)
    auth_protocol = models.CharField(
        _("v3 authentication"), max_length=8, choices=AuthProtocol.choices, blank=True
    )
    auth_password_sealed = models.CharField(max_length=500, blank=True, editable=False)
    priv_protocol = models.CharField(
        _("v3 privacy"), max_length=8, choices=PrivProtocol.choices, blank=True
    )
    priv_password_sealed = models.CharField(max_length=500, blank=True, editable=False)
    timeout_s = models.FloatField(_("timeout (s)"), default=2.0, validators=TIMEOUT_BOUNDS)
    retries = models.PositiveSmallIntegerField(
        _("retries"), default=1, validators=[MaxValueValidator(5)]
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("SNMP credential")
        verbose_name_plural = _("SNMP credentials")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"

    # The secrets are write-only from the outside: set through these, read by the engine.
    def set_secrets(
        self, *, community: str = "", auth_password: str = "", priv_password: str = ""
    ) -> None:
        self.community_sealed = seal(community)
        self.auth_password_sealed = seal(auth_password)
        self.priv_password_sealed = seal(priv_password)

    def secrets(self) -> tuple[str, str, str]:
        return (
            unseal(self.community_sealed),
            unseal(self.auth_password_sealed),
            unseal(self.priv_password_sealed),
        )


class CheckTemplate(models.Model):
    """A check that every device of a role (or every link of a kind) gets automatically."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=CheckKind.choices)
    target_kind = models.CharField(
        _("applies to"), max_length=10, choices=TargetKind.choices, default=TargetKind.DEVICE
    )
    role = models.ForeignKey(
        DeviceRole,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="check_templates",
        verbose_name=_("device role"),
    )
    link_kind = models.CharField(
        _("link kind"), max_length=16, choices=LinkKind.choices, blank=True
    )
    interval_s = models.PositiveIntegerField(
        _("interval (s)"), default=60, validators=INTERVAL_BOUNDS
    )
    timeout_s = models.FloatField(_("timeout (s)"), default=5.0, validators=TIMEOUT_BOUNDS)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("check template")
        verbose_name_plural = _("check templates")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(target_kind="device") & Q(role__isnull=False) & Q(link_kind=""))
                | (Q(target_kind="link") & Q(role__isnull=True) & ~Q(link_kind="")),
                name="checktemplate_target_matches",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        _validate_params(self.kind, self.params)


def _validate_params(kind: str, params: object) -> None:
    """Parameters must fit the kind (monitoring.params); errors under "params.<field>"."""
    if not kind:
        return
    try:
        parse(kind, params if isinstance(params, dict) else None)
    except ParamsError as exc:
        raise ValidationError(
            {
                f"params.{field}" if field != "kind" else "kind": msgs
                for field, msgs in exc.fields.items()
            }
        ) from exc


class Check(models.Model):
    """One thing the engine runs on a schedule against one target."""

    name = models.CharField(_("name"), max_length=150)
    kind = models.CharField(_("kind"), max_length=20, choices=CheckKind.choices)
    device = models.ForeignKey(
        Device,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="checks",
        verbose_name=_("device"),
    )
    link = models.ForeignKey(
        Link,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="checks",
        verbose_name=_("link"),
    )
    site = models.ForeignKey(
        Site,
        on_delete=models.CASCADE,
        related_name="checks",
        verbose_name=_("site"),
        help_text=_("The site the check belongs to (its device's or link's site)."),
    )
    system = models.ForeignKey(
        InformationSystem,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="checks",
        verbose_name=_("information system"),
    )
    template = models.ForeignKey(
        CheckTemplate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="checks",
        verbose_name=_("template"),
    )
    customised = models.BooleanField(
        _("customised"),
        default=False,
        help_text=_("Edited by hand: template changes no longer overwrite it."),
    )
    interval_s = models.PositiveIntegerField(
        _("interval (s)"), default=60, validators=INTERVAL_BOUNDS
    )
    timeout_s = models.FloatField(_("timeout (s)"), default=5.0, validators=TIMEOUT_BOUNDS)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("check")
        verbose_name_plural = _("checks")
        ordering = ["site__code", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "device"],
                condition=Q(template__isnull=False, device__isnull=False),
                name="check_one_per_template_and_device",
            ),
            models.UniqueConstraint(
                fields=["template", "link"],
                condition=Q(template__isnull=False, link__isnull=False),
                name="check_one_per_template_and_link",
            ),
        ]
        indexes = [models.Index(fields=["kind", "enabled"], name="check_kind_enabled_idx")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("monitoring:check_detail", args=[self.pk])

    def clean(self) -> None:
        _validate_params(self.kind, self.params)
        if (self.device_id is None) == (self.link_id is None):
            raise ValidationError(_("A check watches either a device or a link."))
        owner_site = (
            self.device.site_id
            if self.device_id and self.device
            else self.link.a_site_id
            if self.link_id and self.link
            else None
        )
        if owner_site is not None and self.site_id != owner_site:
            raise ValidationError({"site": _("The site must be the device's (or link's) site.")})


class CheckStatus(models.Model):
    """The latest outcome of a check; written by the engine's ingest only."""

    # Not "check": that name is Django's Model.check() for system checks.
    for_check = models.OneToOneField(
        Check,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="status",
        verbose_name=_("check"),
    )
    state = models.CharField(
        _("state"), max_length=10, choices=CheckState.choices, default=CheckState.PENDING
    )
    since = models.DateTimeField(_("in this state since"), default=timezone.now)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_duration_ms = models.FloatField(_("last duration (ms)"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    summary = models.CharField(_("summary"), max_length=200, blank=True)
    overdue_at = models.DateTimeField(
        _("overdue at"),
        null=True,
        blank=True,
        help_text=_("When the check counts as late if it has not run again (two intervals)."),
    )

    class Meta:
        verbose_name = _("check status")
        verbose_name_plural = _("check statuses")
        indexes = [
            models.Index(fields=["state"], name="checkstatus_state_idx"),
            models.Index(fields=["overdue_at"], name="checkstatus_overdue_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.for_check_id}: {self.state}"


class StateChange(models.Model):
    """A check went from one state to another at a moment; never updated or deleted."""

    for_check = models.ForeignKey(
        Check, on_delete=models.CASCADE, related_name="state_changes", verbose_name=_("check")
    )
    at = models.DateTimeField(_("at"))
    previous = models.CharField(_("previous state"), max_length=10, choices=CheckState.choices)
    state = models.CharField(_("state"), max_length=10, choices=CheckState.choices)
    error = models.CharField(_("error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("state change")
        verbose_name_plural = _("state changes")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["for_check", "at"], name="statechange_check_at_idx")]

    def __str__(self) -> str:
        return f"{self.for_check_id} {self.previous}→{self.state} at {self.at:%Y-%m-%d %H:%M:%S}"
