"""Reportable-incident pages: the year's list, recording a report sent from a ticket's
page, and the 情况报告书 downloads. The ticket page's panel is the ``reportable_panel``
tag (templatetags/reportable.py), so the ticket view itself does not change.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from branchops.core import scoping
from branchops.core.models import User
from branchops.core.permissions import Action, Area, require
from branchops.core.views import current_user
from branchops.servicedesk import reportable
from branchops.servicedesk.forms import ServiceForm, local_time_field
from branchops.servicedesk.models import RegulatoryRule, ReportableIncident, Ticket
from branchops.servicedesk.reportable_api import document_response
from branchops.servicedesk.reportable_choices import ReportKind
from branchops.servicedesk.services import Refused


class ReportForm(ServiceForm):
    """ "We told the regulator": which report, when, and what was said."""

    prefix = "report"

    kind = forms.ChoiceField(label=gettext_lazy("Report"), choices=ReportKind.choices)
    sent_at = local_time_field(gettext_lazy("Sent at"), gettext_lazy("Empty: now."))
    note = forms.CharField(
        label=gettext_lazy("Note"),
        required=False,
        max_length=5000,
        help_text=gettext_lazy("To whom, how (phone, email, system), reference number."),
    )


def _incidents(user: User) -> Any:
    return (
        scoping.visible(user, ReportableIncident)
        .select_related("ticket__site", "rule")
        .prefetch_related(reportable.incidents_with_reports())
    )


@login_required
@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    """The reportable incidents of a year (``?year=``, default this one), worst timer first
    in colour; the ruleset they were graded by below."""
    user = current_user(request)
    require(user, Action.VIEW, Area.SERVICE_DESK)
    this_year = timezone.localdate().year
    raw = request.GET.get("year", "")
    year = int(raw) if raw.isdigit() and 2000 <= int(raw) <= 2100 else this_year
    now = timezone.now()
    rows = []
    for incident in _incidents(user).filter(outage_started_at__year=year):
        found = reportable.timers(incident, now, list(incident.reports.all()))
        rows.append({"incident": incident, "timers": found, "worst": reportable.worst_state(found)})
    years = sorted(
        {d.year for d in _incidents(user).dates("outage_started_at", "year")} | {this_year, year},
        reverse=True,
    )
    context = {
        "rows": rows,
        "year": year,
        "years": years,
        "rules": list(RegulatoryRule.objects.all()),
        "active_clients": reportable.active_clients(),
        "can_edit_rules": reportable.may_edit_rules(user),
    }
    return render(request, "servicedesk/reportable/list.html", context)


@login_required
@require_POST
def record_report(request: HttpRequest, pk: int) -> HttpResponse:
    """From the ticket page's panel: a report went to the regulator."""
    user = current_user(request)
    ticket = get_object_or_404(scoping.visible(user, Ticket), pk=pk)
    require(user, Action.CHANGE, Area.SERVICE_DESK)
    scoping.require_change(user, Action.CHANGE, ticket)
    incident = get_object_or_404(_incidents(user), ticket=ticket)
    form = ReportForm(request.POST)
    back = reverse("servicedesk:ticket_detail", args=[ticket.pk]) + "#reportable"
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(back)
    data = form.cleaned_data
    try:
        reportable.record_report(
            incident, kind=data["kind"], by=user, sent_at=data["sent_at"], note=data["note"]
        )
    except Refused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(kind)s recorded for %(number)s.")
            % {"kind": ReportKind(data["kind"]).label, "number": ticket.number},
        )
    return redirect(back)


@login_required
@require_GET
def document(request: HttpRequest, pk: int, extension: str) -> HttpResponse:
    if extension not in ("docx", "pdf"):
        raise Http404
    user = current_user(request)
    require(user, Action.VIEW, Area.SERVICE_DESK)
    ticket = get_object_or_404(scoping.visible(user, Ticket), pk=pk)
    incident = get_object_or_404(_incidents(user), ticket=ticket)
    return document_response(incident, extension, user.get_full_name() or user.get_username())
