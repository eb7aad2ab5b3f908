"""Alerts that open incidents by themselves, and close them again (ticket policies).

The alert pipeline calls :func:`on_alert_pass` after it wrote a pass, with the root alerts
it first judged in that pass and the alerts that resolved. The first enabled
:class:`TicketPolicy` that covers an alert's severity opens a ticket through the service
desk's services (source ``alert``, linked both ways), assigned to whoever is on call in the
policy's group. An :class:`AlertTicket` row, unique per alert, makes a second opening for
the same alert impossible, even after a restart or with two engines. When every alert
linked to such a ticket has resolved and the policy says so, the ticket is resolved.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from branchops.alerts.choices import AlertSource, AlertStatus
from branchops.alerts.models import Alert
from branchops.servicedesk import services
from branchops.servicedesk.choices import DONE_STATUSES, EventKind, TicketSource, TicketStatus
from branchops.servicedesk.models import AlertTicket, Ticket, TicketEvent, TicketPolicy
from branchops.servicedesk.oncall import Schedule

log = logging.getLogger(__name__)

SEVERITY_PRIORITY = {1: (1, 1), 2: (1, 2), 3: (2, 2)}
"""Alert severity -> (impact, urgency): through the shipped matrix P1, P2 and P3."""


def on_alert_pass(opened: Sequence[int], resolved: Sequence[int], at: dt.datetime) -> None:
    """Open tickets for new root alerts and resolve those whose alerts all resolved."""
    if opened:
        open_tickets_for(opened, at)
    if resolved:
        resolve_tickets_for(resolved, at)


def policy_for(alert: Alert, policies: Sequence[TicketPolicy]) -> TicketPolicy | None:
    return next((p for p in policies if alert.severity <= p.max_severity), None)


def open_tickets_for(alert_ids: Sequence[int], at: dt.datetime) -> list[Ticket]:
    policies = list(
        TicketPolicy.objects.filter(enabled=True).select_related("oncall_group", "category")
    )
    if not policies:
        return []
    worst = max(p.max_severity for p in policies)
    alerts = list(
        Alert.objects.filter(
            pk__in=alert_ids,
            status=AlertStatus.FIRING,
            root__isnull=True,
            severity__lte=worst,
            policy_ticket__isnull=True,
        )
        .exclude(source=AlertSource.SERVICE_DESK)  # a ticket's own SLA breach: no new ticket
        .select_related("site", "device", "system")
    )
    if not alerts:
        return []
    groups = {p.oncall_group for p in policies if p.oncall_group is not None}
    schedule = Schedule.load(groups, at)
    storms = {p.pk: _Storm.of(p) for p in policies}
    opened = []
    for alert in alerts:
        policy = policy_for(alert, policies)
        if policy is None:
            continue
        storm = storms[policy.pk]
        if storm.full():
            storm.alerts.append(alert)
            continue
        ticket = _open(alert, policy, schedule, at)
        if ticket is not None:
            opened.append(ticket)
            storm.opened(ticket)
    for storm in storms.values():
        if storm.alerts and storm.last_ticket is not None:
            _link_storm(storm, at)
    return opened


@dataclass
class _Storm:
    """A policy's budget of incidents for this minute (``storm_per_minute``): correlation
    collapses what shares a cause; this catches what does not."""

    policy: TicketPolicy
    budget: int
    last_ticket: Ticket | None
    alerts: list[Alert] = field(default_factory=list)

    @classmethod
    def of(cls, policy: TicketPolicy) -> _Storm:
        minute_ago = timezone.now() - dt.timedelta(minutes=1)
        recent = AlertTicket.objects.filter(policy=policy, created_at__gte=minute_ago)
        latest = recent.order_by("-created_at").select_related("ticket").first()
        used = recent.values("ticket").distinct().count()
        return cls(policy, policy.storm_per_minute - used, latest.ticket if latest else None)

    def full(self) -> bool:
        return self.budget <= 0 and self.last_ticket is not None

    def opened(self, ticket: Ticket) -> None:
        self.last_ticket, self.budget = ticket, self.budget - 1


def _link_storm(storm: _Storm, at: dt.datetime) -> None:
    """Link a storm's further alerts to one incident, with one line on its timeline."""
    ticket, policy = storm.last_ticket, storm.policy
    assert ticket is not None
    with transaction.atomic():
        ticket.alerts.add(*storm.alerts)
        AlertTicket.objects.bulk_create(
            [AlertTicket(alert=alert, ticket=ticket, policy=policy) for alert in storm.alerts],
            ignore_conflicts=True,
        )
        TicketEvent.objects.create(
            ticket=ticket,
            at=max(at, ticket.created_at),
            kind=EventKind.ALERT_LINKED,
            detail=_(
                "%(count)d more alerts linked: more than %(limit)d incidents a minute "
                "(an alert storm)."
            )
            % {"count": len(storm.alerts), "limit": policy.storm_per_minute},
        )


def _open(alert: Alert, policy: TicketPolicy, schedule: Schedule, at: dt.datetime) -> Ticket | None:
    impact, urgency = SEVERITY_PRIORITY.get(alert.severity, (2, 2))
    group = policy.oncall_group
    person = schedule.who(group.pk, at) if group is not None else None
    if person is not None and (
        group is None or not person.is_active or not group.members.filter(pk=person.pk).exists()
    ):
        person = None  # left the group since the rotation was made: the group gets it
    created = min(alert.started_at, timezone.now())
    try:
        with transaction.atomic():
            ticket = services.open_ticket(
                kind=policy.kind,
                title=alert.title,
                source=TicketSource.ALERT,
                impact=impact,
                urgency=urgency,
                by=None,
                site=alert.site,
                description=alert.summary,
                category=policy.category,
                devices=[alert.device] if alert.device else [],
                systems=[alert.system] if alert.system else [],
                group=group,
                assignee=person,
                alerts=[alert],
                created_at=created,
            )
            # The unique alert makes a second opening fail here and roll back as a whole.
            AlertTicket.objects.create(alert=alert, ticket=ticket, policy=policy)
    except IntegrityError:
        return None  # another pass or engine opened it first
    except services.Refused as exc:
        log.warning("ticket policy %s could not open a ticket for alert %s: %s",
                    policy.name, alert.pk, exc.message)  # fmt: skip
        return None
    return ticket


def resolve_tickets_for(alert_ids: Sequence[int], at: dt.datetime) -> list[Ticket]:
    """Resolve the open policy tickets of these alerts once all their alerts resolved."""
    links = list(
        AlertTicket.objects.filter(
            alert_id__in=alert_ids, policy__auto_resolve=True, alert__status=AlertStatus.RESOLVED
        )
        .exclude(ticket__status__in=DONE_STATUSES)
        .select_related("ticket", "alert")
    )
    if not links:
        return []
    tickets = {link.ticket_id: link for link in links}
    still_firing = set(
        Ticket.alerts.through.objects.filter(
            ticket_id__in=tickets, alert__status=AlertStatus.FIRING
        ).values_list("ticket_id", flat=True)
    )
    done = []
    for ticket_id, link in tickets.items():
        if ticket_id in still_firing:
            continue
        ticket = _resolve(link, at)
        if ticket is not None:
            done.append(ticket)
    return done


def _resolve(link: AlertTicket, at: dt.datetime) -> Ticket | None:
    alert = link.alert
    note = _("Resolved with alert #%(id)s (%(title)s).") % {"id": alert.pk, "title": alert.title}
    when = alert.resolved_at or at
    try:
        return services.move(link.ticket, TicketStatus.RESOLVED, by=None, note=note, at=when)
    except services.Refused:
        pass  # dated before the ticket's last change (someone worked it): resolve it now
    try:
        return services.move(link.ticket, TicketStatus.RESOLVED, by=None, note=note)
    except services.Refused as exc:
        log.warning("could not resolve ticket %s with alert %s: %s",
                    link.ticket_id, alert.pk, exc.message)  # fmt: skip
        return None
