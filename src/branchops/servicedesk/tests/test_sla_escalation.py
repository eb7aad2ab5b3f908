"""An SLA breach escalates through the alert routes: it becomes an alert of the ticket's
site with a severity from the ticket's priority, resolves when the ticket is done, and
never opens a ticket of its own."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from branchops.alerts import inbound
from branchops.alerts.choices import AlertSource, AlertStatus
from branchops.alerts.models import Alert
from branchops.alerts.tests.support import Clock, estate, pipeline
from branchops.cmdb.models import Site
from branchops.core.choices import Role
from branchops.core.testing import make_user
from branchops.servicedesk import alert_tickets, periodic, services
from branchops.servicedesk.tests.support import make_ticket

pytestmark = pytest.mark.django_db


def breach_alerts() -> list[Alert]:
    return list(Alert.objects.filter(source=AlertSource.SERVICE_DESK).order_by("id"))


def test_a_breached_clock_becomes_an_alert_that_resolves_with_the_ticket() -> None:
    estate(2)
    clock = Clock(timezone.now().timestamp())
    alerts, _ = pipeline(clock)
    site = Site.objects.filter(kind="branch").order_by("code").first()
    # P1 (15 min response): 20 minutes without an answer.
    opened = timezone.now() - dt.timedelta(minutes=20)
    ticket = make_ticket(impact=1, urgency=1, site=site, created_at=opened)
    services.note_sla_crossings(timezone.now())
    alerts.process()
    (alert,) = breach_alerts()
    assert alert.status == AlertStatus.FIRING
    assert site is not None
    assert (alert.severity, alert.site_id, alert.name) == (1, site.pk, "sla-breach")
    assert ticket.number in alert.title
    assert alert.labels["clock"] == "response"
    # The same breach is not raised twice; the alert does not open a ticket of its own.
    services.note_sla_crossings(timezone.now())
    alerts.process()
    assert len(breach_alerts()) == 1
    assert alert_tickets.open_tickets_for([alert.pk], timezone.now()) == []

    engineer = make_user(Role.OPS_ENGINEER)
    services.assign(ticket, group=None, assignee=engineer, by=engineer)
    services.move(ticket, "in_progress", by=engineer)
    periodic.desk_minute(timezone.now())  # still open: the alert stays
    alerts.process()
    assert breach_alerts()[0].status == AlertStatus.FIRING
    services.move(ticket, "resolved", by=engineer, note="replaced the PSU")
    periodic.desk_minute(timezone.now())
    alerts.process()
    assert breach_alerts()[0].status == AlertStatus.RESOLVED


def test_the_severity_follows_the_ticket_priority() -> None:
    opened = timezone.now() - dt.timedelta(days=3)
    make_ticket(impact=3, urgency=3, created_at=opened)  # P4
    services.note_sla_crossings(timezone.now())
    signals = inbound.take()
    assert signals
    assert {s.severity for s in signals} == {3}
    assert {s.source for s in signals} == {AlertSource.SERVICE_DESK}
