"""The service desk: tickets (Ticket), what happened to them (TicketEvent), and the data that
routes and times them (Category, PriorityMatrix, AssignmentGroup, SlaPolicy).

Tickets change only through ``servicedesk.services``; every change there writes one
``TicketEvent``, and the SLA clocks (``servicedesk.sla``) are computed from those events.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from branchops.alerts.models import Alert
from branchops.cmdb.choices import SiteKind
from branchops.cmdb.models import Device, InformationSystem, Site
from branchops.core.models import BusinessCalendar
from branchops.servicedesk.choices import (
    ClockKind,
    EventKind,
    Impact,
    Priority,
    RequestType,
    TicketKind,
    TicketSource,
    TicketStatus,
    Urgency,
)


class Category(models.Model):
    """What a ticket is about (network / firewall, trading terminal, ...), as a tree.

    An SLA policy for a category also covers its sub-categories, unless one of them has
    its own.
    """

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent category"),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("ticket category")
        verbose_name_plural = _("ticket categories")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(parent=models.F("id")), name="category_not_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return " / ".join(c.name for c in reversed(self.lineage()))

    def lineage(self) -> list[Category]:
        """This category, its parent, its parent's parent, ... (a cycle stops the walk)."""
        found: list[Category] = []
        node: Category | None = self
        while node is not None and node not in found:
            found.append(node)
            node = node.parent
        return found

    def clean(self) -> None:
        if self.pk is not None and self.parent is not None and self in self.parent.lineage():
            raise ValidationError({"parent": _("A category cannot sit below itself.")})


class PriorityMatrix(models.Model):
    """One cell of the impact x urgency table that gives a ticket's priority (data)."""

    impact = models.PositiveSmallIntegerField(_("impact"), choices=Impact.choices)
    urgency = models.PositiveSmallIntegerField(_("urgency"), choices=Urgency.choices)
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)

    class Meta:
        verbose_name = _("priority matrix cell")
        verbose_name_plural = _("priority matrix")
        ordering = ["impact", "urgency"]
        constraints = [
            models.UniqueConstraint(fields=["impact", "urgency"], name="prioritymatrix_one_cell"),
        ]

    def __str__(self) -> str:
        return f"{self.get_impact_display()} x {self.get_urgency_display()} = P{self.priority}"


class AssignmentGroup(models.Model):
    """A team tickets are assigned to (network, desktop support, a regional centre)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="assignment_groups",
        verbose_name=_("members"),
    )

    class Meta:
        verbose_name = _("assignment group")
        verbose_name_plural = _("assignment groups")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SlaPolicy(models.Model):
    """The promised response, on-site arrival and resolution times for a kind of ticket.

    Chosen by priority, then by the most specific category (the ticket's own, then its
    parents) and site kind; an empty category or site kind matches any. Targets count in
    the open hours of ``calendar`` only.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)
    category = models.ForeignKey(
        Category,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_policies",
        verbose_name=_("category"),
        help_text=_("Empty: any category. Covers the sub-categories too."),
    )
    site_kind = models.CharField(
        _("site kind"),
        max_length=20,
        choices=SiteKind.choices,
        blank=True,
        help_text=_("Empty: any kind of site."),
    )
    response_minutes = models.PositiveIntegerField(_("response target (minutes)"))
    arrival_minutes = models.PositiveIntegerField(
        _("on-site arrival target (minutes)"),
        null=True,
        blank=True,
        help_text=_("Empty: no arrival promise."),
    )
    resolution_minutes = models.PositiveIntegerField(_("resolution target (minutes)"))
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.PROTECT,
        related_name="sla_policies",
        verbose_name=_("business calendar"),
    )
    active = models.BooleanField(_("active"), default=True)
    shipped = models.BooleanField(_("shipped with BranchOps"), default=False, editable=False)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["priority", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["priority", "category", "site_kind"],
                condition=Q(category__isnull=False),
                name="slapolicy_one_per_category",
            ),
            models.UniqueConstraint(
                fields=["priority", "site_kind"],
                condition=Q(category__isnull=True),
                name="slapolicy_one_per_priority",
            ),
            models.CheckConstraint(
                condition=Q(response_minutes__gt=0)
                & Q(resolution_minutes__gt=0)
                & (Q(arrival_minutes__isnull=True) | Q(arrival_minutes__gt=0)),
                name="slapolicy_targets_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def target_minutes(self, clock: ClockKind) -> int | None:
        return {
            ClockKind.RESPONSE: self.response_minutes,
            ClockKind.ARRIVAL: self.arrival_minutes,
            ClockKind.RESOLUTION: self.resolution_minutes,
        }[clock]


class TicketSequence(models.Model):
    """The last number handed out per prefix and year (INC 2026 -> 123)."""

    prefix = models.CharField(_("prefix"), max_length=8)
    year = models.PositiveSmallIntegerField(_("year"))
    last = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("ticket number sequence")
        verbose_name_plural = _("ticket number sequences")
        ordering = ["prefix", "year"]
        constraints = [
            models.UniqueConstraint(fields=["prefix", "year"], name="ticketsequence_one_per_year")
        ]

    def __str__(self) -> str:
        return f"{self.prefix}-{self.year}: {self.last}"


class Ticket(models.Model):
    """An incident, service request or complaint, from its logging to its closing.

    ``status``, ``group`` and ``assignee`` are the current state, changed compare-and-set
    by the services; how the ticket got there is its event log (``events``).
    """

    number = models.CharField(_("number"), max_length=20, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=TicketKind.choices)
    request_type = models.CharField(
        _("request type"), max_length=20, choices=RequestType.choices, blank=True
    )
    source = models.CharField(_("source"), max_length=10, choices=TicketSource.choices)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    site = models.ForeignKey(
        Site,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("site"),
    )
    devices = models.ManyToManyField(
        Device, blank=True, related_name="tickets", verbose_name=_("devices")
    )
    systems = models.ManyToManyField(
        InformationSystem, blank=True, related_name="tickets", verbose_name=_("systems")
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("category"),
    )
    impact = models.PositiveSmallIntegerField(_("impact"), choices=Impact.choices)
    urgency = models.PositiveSmallIntegerField(_("urgency"), choices=Urgency.choices)
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)
    sla_policy = models.ForeignKey(
        SlaPolicy,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("SLA policy"),
    )
    group = models.ForeignKey(
        AssignmentGroup,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("assignment group"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        verbose_name=_("assignee"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=TicketStatus.choices, default=TicketStatus.NEW
    )
    reporter_name = models.CharField(_("reporter"), max_length=100, blank=True)
    reporter_contact = models.CharField(
        _("reporter contact"), max_length=100, blank=True, help_text=_("Phone, email or IM.")
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="opened_tickets",
        verbose_name=_("opened by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    alerts = models.ManyToManyField(
        Alert, blank=True, related_name="tickets", verbose_name=_("alerts")
    )

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind=TicketKind.REQUEST) | Q(request_type=""),
                name="ticket_request_type_only_for_requests",
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=1) & Q(priority__lte=4), name="ticket_priority_range"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "priority"], name="ticket_status_priority_idx"),
            models.Index(fields=["site", "status"], name="ticket_site_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class TicketEventQuerySet(models.QuerySet["TicketEvent"]):
    """Event rows are evidence: bulk updates and deletes are refused like single ones."""

    def update(self, **kwargs: Any) -> int:
        raise TypeError("ticket events are never updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("ticket events are never deleted")


class TicketEvent(models.Model):
    """One line of a ticket's history; written once, never updated or deleted.

    An event that changes the status carries ``from_status`` and ``to_status``; an
    assignment carries the group and person it went to. The SLA clocks read these rows.
    """

    ticket = models.ForeignKey(
        Ticket, on_delete=models.PROTECT, related_name="events", verbose_name=_("ticket")
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    recorded_at = models.DateTimeField(
        _("recorded at"),
        default=timezone.now,
        help_text=_("When it was written; differs from 'at' for a visit entered afterwards."),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    from_status = models.CharField(
        _("from status"), max_length=20, choices=TicketStatus.choices, blank=True
    )
    to_status = models.CharField(
        _("to status"), max_length=20, choices=TicketStatus.choices, blank=True
    )
    group = models.ForeignKey(
        AssignmentGroup,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assignment group"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assignee"),
    )
    clock = models.CharField(_("SLA clock"), max_length=12, choices=ClockKind.choices, blank=True)
    detail = models.TextField(_("detail"), blank=True)

    objects = TicketEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ticket", "at"], name="ticketevent_ticket_at_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(to_status="") | ~Q(from_status="") | Q(kind=EventKind.CREATED),
                name="ticketevent_status_change_has_both_ends",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("ticket events are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("ticket events are never deleted")


def attachment_storage() -> FileSystemStorage:
    """Files live under BRANCHOPS_HOME/attachments (read at call time: tests move HOME)."""
    return FileSystemStorage(location=Path(settings.HOME) / "attachments")


def _attachment_path(instance: Attachment, filename: str) -> str:
    return f"{instance.ticket_id}/{filename}"


class Attachment(models.Model):
    """A file on a ticket: a screenshot, a log, a signed service report."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.PROTECT, related_name="attachments", verbose_name=_("ticket")
    )
    file = models.FileField(
        _("file"), upload_to=_attachment_path, storage=attachment_storage, max_length=255
    )
    name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.name
