"""Choices of the service desk: kinds of ticket, where they come from, their statuses, what
happens to them, and the states of an SLA clock."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class TicketKind(models.TextChoices):
    """故障 / 服务请求 / 投诉."""

    INCIDENT = "incident", _("Incident")
    REQUEST = "request", _("Service request")
    COMPLAINT = "complaint", _("Complaint")


NUMBER_PREFIX = {
    TicketKind.INCIDENT: "INC",
    TicketKind.REQUEST: "REQ",
    TicketKind.COMPLAINT: "CMP",
}
"""The human ticket number starts with these: INC-2026-000123."""


class RequestType(models.TextChoices):
    """What a service request asks for; empty for incidents and complaints."""

    REMOTE_SUPPORT = "remote_support", _("Remote support")
    ONSITE_SUPPORT = "onsite_support", _("On-site support")
    CONSULTATION = "consultation", _("Consultation")
    DATA_RECOVERY = "data_recovery", _("Data recovery")
    ACCOUNT_PERMISSION = "account_permission", _("Account or permission")


class TicketSource(models.TextChoices):
    ALERT = "alert", _("Alert")
    PHONE = "phone", _("Phone")
    IM = "im", _("Instant message")
    EMAIL = "email", _("Email")
    PORTAL = "portal", _("Self-service portal")
    API = "api", _("API")


class Impact(models.IntegerChoices):
    """How much is affected: with urgency, gives the priority (``PriorityMatrix``)."""

    HIGH = 1, _("High: many sites, or a real-time system")
    MEDIUM = 2, _("Medium: one site or a group of users")
    LOW = 3, _("Low: one user or a workaround exists")


class Urgency(models.IntegerChoices):
    HIGH = 1, _("High: business stopped now")
    MEDIUM = 2, _("Medium: business impaired")
    LOW = 3, _("Low: can wait")


class Priority(models.IntegerChoices):
    P1 = 1, _("P1 (critical)")
    P2 = 2, _("P2 (high)")
    P3 = 3, _("P3 (medium)")
    P4 = 4, _("P4 (low)")


class TicketStatus(models.TextChoices):
    NEW = "new", pgettext_lazy("ticket status", "New")
    ASSIGNED = "assigned", pgettext_lazy("ticket status", "Assigned")
    IN_PROGRESS = "in_progress", pgettext_lazy("ticket status", "In progress")
    PENDING_CUSTOMER = "pending_customer", pgettext_lazy("ticket status", "Pending customer")
    PENDING_VENDOR = "pending_vendor", pgettext_lazy("ticket status", "Pending vendor")
    PENDING_SPARE_PART = "pending_spare_part", pgettext_lazy("ticket status", "Pending spare part")
    RESOLVED = "resolved", pgettext_lazy("ticket status", "Resolved")
    CLOSED = "closed", pgettext_lazy("ticket status", "Closed")
    REOPENED = "reopened", pgettext_lazy("ticket status", "Reopened")


PAUSE_STATUSES = frozenset(
    {
        TicketStatus.PENDING_CUSTOMER.value,
        TicketStatus.PENDING_VENDOR.value,
        TicketStatus.PENDING_SPARE_PART.value,
    }
)
"""While a ticket waits for someone outside the team, its SLA clocks stop."""

DONE_STATUSES = frozenset({TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value})
"""No work left: the resolution clock has stopped (until a reopen)."""

RUNNING_STATUSES = frozenset(
    {
        TicketStatus.NEW.value,
        TicketStatus.ASSIGNED.value,
        TicketStatus.IN_PROGRESS.value,
        TicketStatus.REOPENED.value,
    }
)
"""The team owes work: the clocks run (in the calendar's open hours)."""


class EventKind(models.TextChoices):
    """What happened to a ticket: one immutable row each."""

    CREATED = "created", _("Created")
    STATUS = "status", _("Status changed")
    ASSIGNED = "assigned", _("Assigned")
    UPDATED = "updated", _("Fields changed")
    WORKLOG = "worklog", _("Work log")
    DEPARTED = "departed", _("Left for the site")
    ARRIVED = "arrived", _("Arrived on site")
    FINISHED = "finished", _("Finished on site")
    ATTACHMENT = "attachment", _("Attachment added")
    ALERT_LINKED = "alert_linked", _("Alert linked")
    SLA_WARNING = "sla_warning", _("SLA warning (75 %)")
    SLA_BREACH = "sla_breach", _("SLA breached")
    REOPENED = "reopened", _("Reopened")
    SATISFACTION = "satisfaction", _("Satisfaction answered")


VISIT_KINDS = (EventKind.DEPARTED, EventKind.ARRIVED, EventKind.FINISHED)


class ClockKind(models.TextChoices):
    """响应时间 / 到场时间 / 修复时间."""

    RESPONSE = "response", _("Response")
    ARRIVAL = "arrival", _("On-site arrival")
    RESOLUTION = "resolution", _("Resolution")


class ClockState(models.TextChoices):
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    MET = "met", _("Met")
    BREACHED = "breached", _("Breached")


class DualControlOutcome(models.TextChoices):
    """How a piece of sensitive work done by two people ended."""

    DONE = "done", _("Done as planned")
    ROLLED_BACK = "rolled_back", _("Rolled back")
    ABORTED = "aborted", _("Stopped before it was done")


# --- spare-part requests (备件申请) ----------------------------------------------------------


class SparePartStatus(models.TextChoices):
    """Where a requested spare part is; the allowed moves are ``spare_parts.MOVES``."""

    REQUESTED = "requested", pgettext_lazy("spare part", "Requested")
    APPROVED = "approved", pgettext_lazy("spare part", "Approved")
    SHIPPED = "shipped", pgettext_lazy("spare part", "Shipped")
    RECEIVED = "received", pgettext_lazy("spare part", "Received")
    CANCELLED = "cancelled", pgettext_lazy("spare part", "Cancelled")


class SparePartUrgency(models.TextChoices):
    NORMAL = "normal", _("Normal")
    URGENT = "urgent", _("Urgent: today")
    CRITICAL = "critical", _("Critical: on site within 4 hours")
