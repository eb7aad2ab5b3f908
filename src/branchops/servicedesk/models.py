"""The service desk: tickets (Ticket), what happened to them (TicketEvent), and the data that
routes and times them (Category, PriorityMatrix, AssignmentGroup, SlaPolicy); on-call
(Rotation, Override), duty shifts with their handover (Shift, HandoverLog), dual-person
work (DualControlRecord), and the policy by which alerts open tickets (TicketPolicy).

Tickets change only through ``servicedesk.services``; every change there writes one
``TicketEvent``, and the SLA clocks (``servicedesk.sla``) are computed from those events.
"""

from __future__ import annotations

import datetime as dt
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
from branchops.cmdb.choices import SiteKind, SystemCategory
from branchops.cmdb.models import Device, InformationSystem, Site
from branchops.core.models import BusinessCalendar
from branchops.core.writeonce import WriteOnce, WriteOnceQuerySet
from branchops.servicedesk.choices import (
    ClockKind,
    DualControlOutcome,
    EventKind,
    Impact,
    Priority,
    RequestType,
    SparePartStatus,
    SparePartUrgency,
    TicketKind,
    TicketSource,
    TicketStatus,
    Urgency,
)
from branchops.servicedesk.reportable_choices import IncidentGrade, ReportKind
from branchops.servicedesk.review_choices import (
    ActionKind,
    ActionStatus,
    ArticleStatus,
    ProblemEventKind,
    ProblemStatus,
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


class TicketEvent(WriteOnce):
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

    objects = WriteOnceQuerySet["TicketEvent"].as_manager()
    rows_are_called = "ticket events"

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


# --- on-call -------------------------------------------------------------------------------


def _valid_time_zone(value: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_("Unknown time zone %(zone)s.") % {"zone": value}) from exc


class Rotation(models.Model):
    """Who of a group is on call, in turns: members in order, each for ``shift_hours``.

    The first shift starts on ``start_date`` at ``handoff_time`` (local time in
    ``time_zone``), the next one ``shift_hours`` later, and so on for ever. A group may
    have several rotations: the one that started last (and has started) counts, so a new
    schedule can be entered ahead of the day it takes over.
    """

    group = models.ForeignKey(
        AssignmentGroup,
        on_delete=models.CASCADE,
        related_name="rotations",
        verbose_name=_("assignment group"),
    )
    name = models.CharField(_("name"), max_length=100)
    shift_hours = models.PositiveIntegerField(
        _("shift length (hours)"), default=24, help_text=_("24: daily; 168: weekly.")
    )
    handoff_time = models.TimeField(_("hand-off time"), default=dt.time(9))
    time_zone = models.CharField(
        _("time zone"), max_length=50, default="Asia/Shanghai", validators=[_valid_time_zone]
    )
    start_date = models.DateField(_("start date"))
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("on-call rotation")
        verbose_name_plural = _("on-call rotations")
        ordering = ["group", "start_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "name"], name="rotation_unique_name"),
            models.CheckConstraint(condition=Q(shift_hours__gt=0), name="rotation_shift_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.group} / {self.name}"


class RotationMember(models.Model):
    """One place in a rotation's order (a person may take more than one place)."""

    rotation = models.ForeignKey(
        Rotation, on_delete=models.CASCADE, related_name="members", verbose_name=_("rotation")
    )
    position = models.PositiveSmallIntegerField(_("position"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("person"),
    )

    class Meta:
        verbose_name = _("rotation member")
        verbose_name_plural = _("rotation members")
        ordering = ["rotation", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["rotation", "position"], name="rotationmember_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rotation} #{self.position}: {self.user}"


class Override(models.Model):
    """Someone covers a period of a group's on-call for whoever the rotation names.

    Overrides win over rotations; of two that overlap, the later created wins. A swap of
    two shifts is two overrides, one on each shift.
    """

    group = models.ForeignKey(
        AssignmentGroup,
        on_delete=models.CASCADE,
        related_name="overrides",
        verbose_name=_("assignment group"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("on call instead"),
    )
    replaces = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("covering for"),
        help_text=_("Who the rotation had on call when the override starts."),
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("on-call override")
        verbose_name_plural = _("on-call overrides")
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="override_ends_after_start"
            ),
        ]
        indexes = [models.Index(fields=["group", "ends_at"], name="override_group_ends_idx")]

    def __str__(self) -> str:
        return f"{self.group}: {self.user} {self.starts_at:%Y-%m-%d %H:%M}-{self.ends_at:%H:%M}"


# --- duty shifts, handover, dual control ---------------------------------------------------


class Shift(models.Model):
    """A duty shift (值班): who of a group is on duty from ``starts_at`` to ``ends_at``."""

    group = models.ForeignKey(
        AssignmentGroup,
        on_delete=models.PROTECT,
        related_name="shifts",
        verbose_name=_("assignment group"),
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    people = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="duty_shifts", verbose_name=_("people on duty")
    )
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("duty shift")
        verbose_name_plural = _("duty shifts")
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="shift_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        start = timezone.localtime(self.starts_at)
        end = timezone.localtime(self.ends_at)
        return f"{self.group} {start:%Y-%m-%d %H:%M}-{end:%H:%M}"


class HandoverLogQuerySet(models.QuerySet["HandoverLog"]):
    """A signed handover is evidence: updates skip signed rows, deletes of them are refused."""

    def update(self, **kwargs: Any) -> int:
        return super(HandoverLogQuerySet, self.filter(signed_at__isnull=True)).update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self.filter(signed_at__isnull=False).exists():
            raise TypeError("signed handovers are never deleted")
        return super().delete()


class HandoverLog(models.Model):
    """交接班记录: the outgoing shift's summary and what was open when it was written.

    ``open_tickets`` and ``firing_alerts`` are a snapshot taken at creation (rows as they
    were, not links that change later). Once someone of the incoming shift signs it, it is
    never changed or deleted.
    """

    outgoing = models.ForeignKey(
        Shift,
        on_delete=models.PROTECT,
        related_name="handed_over",
        verbose_name=_("outgoing shift"),
    )
    incoming = models.ForeignKey(
        Shift, on_delete=models.PROTECT, related_name="taken_over", verbose_name=_("incoming shift")
    )
    summary = models.TextField(_("summary"))
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("written by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    open_tickets = models.JSONField(_("open tickets"), default=list, editable=False)
    firing_alerts = models.JSONField(_("firing root alerts"), default=list, editable=False)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("signed by"),
    )
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)

    objects = HandoverLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("handover log")
        verbose_name_plural = _("handover logs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["outgoing"], name="handoverlog_one_per_shift"),
            models.CheckConstraint(
                condition=~Q(outgoing=models.F("incoming")), name="handoverlog_two_shifts"
            ),
            models.CheckConstraint(
                condition=Q(signed_at__isnull=True, signed_by__isnull=True)
                | Q(signed_at__isnull=False, signed_by__isnull=False),
                name="handoverlog_signed_by_whom_and_when",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outgoing} → {self.incoming}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding and (
            HandoverLog.objects.filter(pk=self.pk, signed_at__isnull=False).exists()
        ):
            raise TypeError("signed handovers are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self.signed_at is not None:
            raise TypeError("signed handovers are never deleted")
        return super().delete(*args, **kwargs)


class DualControlRecord(WriteOnce):
    """双人作业: sensitive work done by one person under another's eyes (written once)."""

    what = models.CharField(_("what was done"), max_length=300)
    performed_at = models.DateTimeField(_("when"))
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("operator"),
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reviewer"),
    )
    outcome = models.CharField(_("outcome"), max_length=12, choices=DualControlOutcome.choices)
    note = models.TextField(_("note"), blank=True)
    ticket = models.ForeignKey(
        Ticket,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="dual_control_records",
        verbose_name=_("ticket"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    objects = WriteOnceQuerySet["DualControlRecord"].as_manager()
    rows_are_called = "dual-control records"

    class Meta:
        verbose_name = _("dual-control record")
        verbose_name_plural = _("dual-control records")
        ordering = ["-performed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(operator=models.F("reviewer")),
                name="dualcontrol_reviewer_not_operator",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.what} ({self.performed_at:%Y-%m-%d %H:%M})"


# --- alerts that open tickets --------------------------------------------------------------


class TicketPolicy(models.Model):
    """When a root alert opens a ticket by itself, for whom, and whether it closes it.

    Policies are tried by ``order``; the first enabled one whose ``max_severity`` covers
    the alert's severity opens the ticket. The ticket's priority follows the severity.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    order = models.PositiveIntegerField(_("order"), default=100)
    enabled = models.BooleanField(_("enabled"), default=True)
    max_severity = models.PositiveSmallIntegerField(
        _("up to severity"),
        default=1,
        help_text=_("1: severity-1 alerts only; 2: severity 1 and 2; 3: all."),
    )
    kind = models.CharField(
        _("kind of ticket"), max_length=12, choices=TicketKind.choices, default=TicketKind.INCIDENT
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("category"),
    )
    oncall_group = models.ForeignKey(
        AssignmentGroup,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ticket_policies",
        verbose_name=_("assign to the on-call person of"),
    )
    auto_resolve = models.BooleanField(
        _("resolve with the alert"),
        default=False,
        help_text=_("Resolve the ticket when every alert linked to it has resolved."),
    )
    storm_per_minute = models.PositiveSmallIntegerField(
        _("incidents a minute at most"),
        default=20,
        help_text=_(
            "Past this many incidents opened by the policy in a minute, further alerts are "
            "linked to the last one (an alert storm is one incident, not hundreds)."
        ),
    )
    shipped = models.BooleanField(_("shipped with BranchOps"), default=False, editable=False)

    class Meta:
        verbose_name = _("ticket policy")
        verbose_name_plural = _("ticket policies")
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_severity__gte=1) & Q(max_severity__lte=3),
                name="ticketpolicy_severity_range",
            ),
            models.CheckConstraint(
                condition=~Q(kind=TicketKind.REQUEST), name="ticketpolicy_not_a_request"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AlertTicket(models.Model):
    """The ticket a policy opened for an alert: at most one per alert, whatever happens."""

    alert = models.OneToOneField(
        Alert, on_delete=models.CASCADE, related_name="policy_ticket", verbose_name=_("alert")
    )
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="opened_for", verbose_name=_("ticket")
    )
    policy = models.ForeignKey(
        TicketPolicy,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ticket policy"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("ticket opened by an alert")
        verbose_name_plural = _("tickets opened by alerts")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.alert_id} → {self.ticket_id}"


# --- satisfaction and the KPI cache --------------------------------------------------------


class SatisfactionAnswer(WriteOnce):
    """满意度回访: the reporter's answer to "how did we do?", one per ticket, written once.

    Given through the signed link of ``servicedesk.satisfaction``; the ticket's log gets a
    ``satisfaction`` event at the same time.
    """

    ticket = models.ForeignKey(
        Ticket, on_delete=models.PROTECT, related_name="satisfaction", verbose_name=_("ticket")
    )
    score = models.PositiveSmallIntegerField(_("score"), help_text=_("1 (poor) to 5 (very good)."))
    comment = models.TextField(_("comment"), blank=True)
    answered_at = models.DateTimeField(_("answered at"), default=timezone.now)

    objects = WriteOnceQuerySet["SatisfactionAnswer"].as_manager()
    rows_are_called = "satisfaction answers"

    class Meta:
        verbose_name = _("satisfaction answer")
        verbose_name_plural = _("satisfaction answers")
        ordering = ["-answered_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["ticket"], name="satisfaction_one_per_ticket"),
            models.CheckConstraint(
                condition=Q(score__gte=1) & Q(score__lte=5), name="satisfaction_score_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.score}/5"


class TicketSummary(models.Model):
    """A cache, never the truth: the KPI facts of one resolved or closed ticket, computed
    from its event log (decision 0017).

    Valid while the ticket's newest event is still ``last_event_id`` and its SLA policy,
    targets and calendar revision still read ``basis``; otherwise the KPIs compute the
    ticket again and overwrite the row. Deleting every row loses nothing.
    """

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="kpi_summary", verbose_name=_("ticket")
    )
    last_event_id = models.BigIntegerField(_("newest event"))
    basis = models.CharField(_("policy and calendar"), max_length=100, blank=True)
    response_wall_s = models.FloatField(_("to the first response (s)"), null=True)
    resolution_wall_s = models.FloatField(_("to the last resolution (s)"), null=True)
    response_business_s = models.FloatField(_("response clock (s)"), null=True)
    resolution_business_s = models.FloatField(_("resolution clock (s)"), null=True)
    response_sla = models.CharField(_("response SLA"), max_length=10, blank=True)
    arrival_sla = models.CharField(_("arrival SLA"), max_length=10, blank=True)
    resolution_sla = models.CharField(_("resolution SLA"), max_length=10, blank=True)
    first_time_fix = models.BooleanField(_("fixed first time"), null=True)
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)

    class Meta:
        verbose_name = _("ticket KPI summary")
        verbose_name_plural = _("ticket KPI summaries")
        constraints = [
            models.UniqueConstraint(fields=["ticket"], name="ticketsummary_one_per_ticket"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} @ {self.last_event_id}"


# --- spare-part requests (备件申请) ----------------------------------------------------------


class SparePartRequest(models.Model):
    """A part a ticket needs (a PSU, a disk, a whole switch): what, how many, how soon, and
    where the request stands. Changed only through ``servicedesk.spare_parts``, which notes
    each change on the ticket's timeline; the spare pool it will draw from comes later."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.PROTECT, related_name="spare_parts", verbose_name=_("ticket")
    )
    part = models.CharField(_("part"), max_length=200)
    model_number = models.CharField(_("device model or part number"), max_length=100, blank=True)
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1)
    urgency = models.CharField(
        _("urgency"),
        max_length=10,
        choices=SparePartUrgency.choices,
        default=SparePartUrgency.NORMAL,
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=SparePartStatus.choices,
        default=SparePartStatus.REQUESTED,
    )
    note = models.TextField(_("note"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("requested by"),
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("spare-part request")
        verbose_name_plural = _("spare-part requests")
        ordering = ["requested_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="sparepartrequest_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.part}"


# --- review: problems, postmortems, corrective actions, knowledge base ---------------------
# (services: servicedesk/review.py and servicedesk/knowledge.py)


class Problem(models.Model):
    """问题记录: the cause behind one or more incidents, found and removed.

    ``whys`` is the "5 whys" (an ordered list of ``{"why": ..., "answer": ...}``, at most
    ``review.MAX_WHYS``) leading to ``root_cause``. Changed only through
    ``servicedesk.review``; each change writes a ``ProblemEvent``.
    """

    number = models.CharField(_("number"), max_length=20, unique=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=ProblemStatus.choices, default=ProblemStatus.OPEN
    )
    tickets = models.ManyToManyField(
        Ticket, blank=True, related_name="problems", verbose_name=_("incidents")
    )
    devices = models.ManyToManyField(
        Device, blank=True, related_name="problems", verbose_name=_("affected devices")
    )
    systems = models.ManyToManyField(
        InformationSystem, blank=True, related_name="problems", verbose_name=_("affected systems")
    )
    whys = models.JSONField(_("5 whys"), default=list, blank=True)
    root_cause = models.TextField(_("root cause"), blank=True)
    workaround = models.TextField(_("workaround"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_problems",
        verbose_name=_("owner"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("problem")
        verbose_name_plural = _("problems")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"], name="problem_status_idx")]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class ProblemEvent(WriteOnce):
    """One line of a problem's history (created, moved, edited, an action changed)."""

    problem = models.ForeignKey(
        Problem, on_delete=models.PROTECT, related_name="events", verbose_name=_("problem")
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    kind = models.CharField(_("kind"), max_length=12, choices=ProblemEventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    from_status = models.CharField(_("from"), max_length=16, blank=True)
    to_status = models.CharField(_("to"), max_length=16, blank=True)
    detail = models.TextField(_("detail"), blank=True)

    objects = WriteOnceQuerySet["ProblemEvent"].as_manager()
    rows_are_called = "problem events"

    class Meta:
        verbose_name = _("problem event")
        verbose_name_plural = _("problem events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.problem_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class Postmortem(models.Model):
    """复盘: what happened during an incident (or behind a problem), what it cost, what we
    learned. The timeline is computed from the linked tickets' and alerts' events
    (``review.timeline``) plus the author's own ``entries``."""

    title = models.CharField(_("title"), max_length=200)
    ticket = models.OneToOneField(
        Ticket,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="postmortem",
        verbose_name=_("incident"),
    )
    problem = models.OneToOneField(
        Problem,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="postmortem",
        verbose_name=_("problem"),
    )
    impact_summary = models.TextField(_("impact"), blank=True)
    lessons = models.TextField(_("lessons learned"), blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("postmortem")
        verbose_name_plural = _("postmortems")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ticket__isnull=False, problem__isnull=True)
                | Q(ticket__isnull=True, problem__isnull=False),
                name="postmortem_of_incident_or_problem",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class PostmortemEntry(models.Model):
    """A line the author adds to a postmortem's timeline (a phone call, a decision)."""

    postmortem = models.ForeignKey(
        Postmortem, on_delete=models.CASCADE, related_name="entries", verbose_name=_("postmortem")
    )
    at = models.DateTimeField(_("at"))
    what = models.TextField(_("what happened"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("author"),
    )
    added_at = models.DateTimeField(_("added at"), default=timezone.now)

    class Meta:
        verbose_name = _("postmortem entry")
        verbose_name_plural = _("postmortem entries")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.what[:50]}"


class CorrectiveAction(models.Model):
    """整改措施: one corrective or preventive action of a problem or a postmortem, with an
    owner and a due date, tracked to done (with evidence) or cancelled (with a reason)."""

    problem = models.ForeignKey(
        Problem,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="actions",
        verbose_name=_("problem"),
    )
    postmortem = models.ForeignKey(
        Postmortem,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="actions",
        verbose_name=_("postmortem"),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=ActionKind.choices)
    title = models.CharField(_("what to do"), max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="corrective_actions",
        verbose_name=_("owner"),
    )
    due_date = models.DateField(_("due date"))
    status = models.CharField(
        _("status"), max_length=12, choices=ActionStatus.choices, default=ActionStatus.OPEN
    )
    evidence = models.TextField(
        _("evidence"), blank=True, help_text=_("How the action was done, or why it was cancelled.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("corrective action")
        verbose_name_plural = _("corrective actions")
        ordering = ["due_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(problem__isnull=False) | Q(postmortem__isnull=False),
                name="correctiveaction_has_a_home",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_date"], name="action_status_due_idx")]

    def __str__(self) -> str:
        return self.title


class KnowledgeArticle(models.Model):
    """知识库文章: a symptom, its cause and the solution, found again when it recurs."""

    title = models.CharField(_("title"), max_length=200)
    symptom = models.TextField(_("symptom"))
    cause = models.TextField(_("cause"), blank=True)
    solution = models.TextField(_("solution"))
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="articles",
        verbose_name=_("category"),
    )
    tags = models.JSONField(_("tags"), default=list, blank=True)
    problem = models.ForeignKey(
        Problem,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="articles",
        verbose_name=_("problem"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)

    class Meta:
        verbose_name = _("knowledge article")
        verbose_name_plural = _("knowledge articles")
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["status"], name="article_status_idx")]

    def __str__(self) -> str:
        return self.title


# --- reportable incidents (网络安全事件报告) ----------------------------------------------


def _valid_system_codes(value: Any) -> None:
    if not isinstance(value, list) or not all(
        isinstance(code, str) and code.strip() for code in value
    ):
        raise ValidationError(_("Give a list of information system codes."))


class RegulatoryRule(models.Model):
    """When an incident must be reported to the regulator, and with which grade (data).

    A rule concerns information systems named by code (``central-trading``) or by
    category (every real-time system); it matches an incident that has one of them among
    its systems and whose outage has lasted ``min_outage_minutes``, at a broker with at
    least ``min_active_clients`` active clients when that is set (setting
    ``SERVICEDESK_ACTIVE_CLIENTS``). The reporting timers of the incidents it grades come
    from the rule too: the 2021 rules' numbers are not confirmed, so they are data.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    order = models.PositiveIntegerField(_("order"), default=100)
    active = models.BooleanField(_("active"), default=True)
    system_codes = models.JSONField(
        _("information systems"),
        default=list,
        blank=True,
        validators=[_valid_system_codes],
        help_text=_("Codes of the systems concerned, e.g. central-trading, online-trading."),
    )
    system_category = models.CharField(
        _("or every system of category"),
        max_length=16,
        choices=SystemCategory.choices,
        blank=True,
    )
    min_outage_minutes = models.PositiveIntegerField(_("outage of at least (minutes)"))
    min_active_clients = models.PositiveIntegerField(
        _("at a broker with at least this many active clients"),
        null=True,
        blank=True,
        help_text=_("Empty: whatever the number of clients."),
    )
    grade = models.CharField(_("grade"), max_length=20, choices=IncidentGrade.choices)
    immediate_after_minutes = models.PositiveIntegerField(
        _("report at once when not recovered within (minutes)"), default=30
    )
    update_every_minutes = models.PositiveIntegerField(
        _("progress update at least every (minutes)"), default=60
    )
    written_within_hours = models.PositiveIntegerField(
        _("written report within (hours of the start)"), default=24
    )
    investigation_within_workdays = models.PositiveIntegerField(
        _("investigation report within (working days of recovery)"), default=5
    )
    source = models.CharField(
        _("source"), max_length=300, blank=True, help_text=_("The regulation and article.")
    )
    shipped = models.BooleanField(_("shipped with BranchOps"), default=False, editable=False)

    class Meta:
        verbose_name = _("regulatory rule")
        verbose_name_plural = _("regulatory rules")
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_outage_minutes__gt=0)
                & Q(immediate_after_minutes__gt=0)
                & Q(update_every_minutes__gt=0)
                & Q(written_within_hours__gt=0)
                & Q(investigation_within_workdays__gt=0)
                & (Q(min_active_clients__isnull=True) | Q(min_active_clients__gt=0)),
                name="regulatoryrule_numbers_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        codes = self.system_codes if isinstance(self.system_codes, list) else []
        self.system_codes = sorted({str(c).strip() for c in codes if str(c).strip()})
        if not self.system_codes and not self.system_category:
            raise ValidationError(
                {"system_codes": _("Name the systems concerned, or a category of systems.")}
            )


class ReportableIncident(models.Model):
    """An incident that reached a regulatory rule: its grade and where the clock started.

    The reporting timers are computed (``servicedesk.reportable.timers``) from the outage
    start, the ticket's resolution and the reports recorded; nothing here is a deadline.
    The grade only rises, as the outage grows.
    """

    ticket = models.OneToOneField(
        Ticket, on_delete=models.PROTECT, related_name="reportable", verbose_name=_("ticket")
    )
    rule = models.ForeignKey(
        RegulatoryRule,
        on_delete=models.PROTECT,
        related_name="incidents",
        verbose_name=_("regulatory rule"),
    )
    grade = models.CharField(_("grade"), max_length=20, choices=IncidentGrade.choices)
    outage_started_at = models.DateTimeField(_("outage started at"))
    detected_at = models.DateTimeField(_("found reportable at"), default=timezone.now)
    graded_at = models.DateTimeField(_("graded at"), default=timezone.now)

    class Meta:
        verbose_name = _("reportable incident")
        verbose_name_plural = _("reportable incidents")
        ordering = ["-outage_started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.ticket.number} ({self.get_grade_display()})"


class IncidentReport(WriteOnce):
    """A report sent to the regulator about a reportable incident (written once)."""

    incident = models.ForeignKey(
        ReportableIncident,
        on_delete=models.PROTECT,
        related_name="reports",
        verbose_name=_("reportable incident"),
    )
    kind = models.CharField(_("kind of report"), max_length=16, choices=ReportKind.choices)
    sent_at = models.DateTimeField(_("sent at"))
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("sent by"),
    )
    note = models.TextField(_("note"), blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    objects = WriteOnceQuerySet["IncidentReport"].as_manager()
    rows_are_called = "incident reports"

    class Meta:
        verbose_name = _("report to the regulator")
        verbose_name_plural = _("reports to the regulator")
        ordering = ["sent_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.sent_at:%Y-%m-%d %H:%M}"
