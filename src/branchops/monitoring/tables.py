"""The monitoring lists: checks, check templates and SNMP credentials (see core.tables)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import BooleanField, Case, Count, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from branchops.core.tables import Column, Table
from branchops.monitoring.rollup import late_condition, severity_order


class CheckTable(Table):
    columns = (
        Column("state", _("State"), ("severity", "site__code", "name")),
        Column("name", _("Name"), ("name",)),
        Column("kind", _("Kind"), ("kind", "name")),
        Column("target", _("Target"), ("device__name", "link__name", "name")),
        Column("site", _("Site"), ("site__code", "name")),
        Column("last_run", _("Last run"), ("status__last_run_at", "name")),
        Column("summary", _("Summary")),
        Column("last_error", _("Last error")),
        Column("interval", _("Interval"), ("interval_s", "name"), "text-end"),
    )
    row_template = "monitoring/rows/check.html"
    select_related = ("status", "site", "device", "link", "template")
    default_ordering = ("severity", "site__code", "name")

    def prepare(self, qs: models.QuerySet[Any]) -> models.QuerySet[Any]:
        # Lateness depends on the moment of the request, so it is annotated here.
        late = Case(
            When(late_condition(timezone.now()), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
        return super().prepare(qs.annotate(severity=severity_order(), is_late=late))


class TemplateTable(Table):
    """Grouped by what the templates apply to (a role, a link kind) unless sorted otherwise."""

    columns = (
        Column("name", _("Name"), ("name",)),
        Column("kind", _("Kind"), ("kind", "name")),
        Column("interval", _("Interval"), ("interval_s", "name"), "text-end"),
        Column("timeout", _("Timeout"), ("timeout_s", "name"), "text-end"),
        Column("enabled", _("Enabled"), ("enabled", "name")),
        Column("following", _("Following"), ("following", "name"), "text-end"),
        Column("customised", _("Customised"), ("customised_count", "name"), "text-end"),
    )
    row_template = "monitoring/rows/template.html"
    select_related = ("role",)
    default_ordering = ("target_kind", "role__slug", "link_kind", "name")
    annotations = {
        "following": Count("checks", filter=Q(checks__customised=False)),
        "customised_count": Count("checks", filter=Q(checks__customised=True)),
    }


class CredentialTable(Table):
    columns = (
        Column("name", _("Name"), ("name",)),
        Column("version", _("Version"), ("version", "name")),
        Column("port", _("Port"), ("port", "name"), "text-end"),
        Column("community", _("Community")),
        Column("username", _("v3 user name"), ("username", "name")),
        Column("auth", _("v3 authentication")),
        Column("priv", _("v3 privacy")),
        Column("timeout", _("Timeout"), ("timeout_s", "name"), "text-end"),
        Column("retries", _("Retries"), ("retries", "name"), "text-end"),
        Column("used_by", _("Used by checks"), (), "text-end"),
        Column("updated_at", _("Updated at"), ("updated_at", "name")),
    )
    row_template = "monitoring/rows/credential.html"
