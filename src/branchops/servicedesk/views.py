"""Ticket pages: the list with its SLA timers, logging a ticket (a branch on the phone), a
ticket's page, and what people do to a ticket there (move, assign, log work, record a visit).

Views stay thin. Reads go through ``scoping.visible`` (a branch liaison sees the tickets of
their own sites only; anything else is a 404); every change goes through
``servicedesk.services``, whose refusals are shown on the field they name. SLA clocks are
computed for the rows on screen (``sla.clocks_for``), never stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from branchops.core import scoping
from branchops.core.models import User
from branchops.core.permissions import Action, Area, can, is_site_scoped, require
from branchops.core.views import current_user, paginate, render_listing, wants_fragment
from branchops.servicedesk import forms as f
from branchops.servicedesk import services, sla
from branchops.servicedesk import tables as t
from branchops.servicedesk.choices import DONE_STATUSES, TicketStatus
from branchops.servicedesk.models import Ticket

REFRESH_S = 30
DEVICES_TARGET = "field-devices"


# ---- SLA clocks for many tickets -------------------------------------------------------------


def with_clocks(tickets: list[Ticket], now: dt.datetime | None = None) -> list[Ticket]:
    """The tickets, each carrying ``sla_clocks`` (None without a policy)."""
    clocks = sla.clocks_for(tickets, now or timezone.now())
    for ticket in tickets:
        ticket.sla_clocks = clocks.get(ticket.pk)  # type: ignore[attr-defined]
    return tickets


def breached_ids(qs: models.QuerySet[Ticket], now: dt.datetime | None = None) -> list[int]:
    """Ids of the tickets in ``qs`` with a breached clock now (reads three columns)."""
    rows = list(
        qs.filter(sla_policy__isnull=False)
        .select_related(None)
        .prefetch_related(None)
        .only("id", "created_at", "sla_policy_id")
    )
    clocks = sla.clocks_for(rows, now or timezone.now())
    return [pk for pk, c in clocks.items() if c.breached]


def breached_open_count(user: User) -> int:
    """Open tickets this user may see with a clock past its target (the sidebar's badge)."""
    return len(breached_ids(scoping.visible(user, Ticket).exclude(status__in=DONE_STATUSES)))


# ---- the list --------------------------------------------------------------------------------


@login_required
@require_GET
def ticket_list(request: HttpRequest) -> HttpResponse:
    """Open tickets, most urgent first, with their SLA timers; refreshes itself."""
    user = current_user(request)
    require(user, Action.VIEW, Area.SERVICE_DESK)
    form = f.TicketFilterForm(request.GET or None, user=user)
    table = t.TicketTable(request.GET.get("ordering", ""))
    rows = form.apply(scoping.visible(user, Ticket))
    now = timezone.now()
    breached = form.breached_only
    if breached is not None:
        ids = breached_ids(rows, now)
        rows = rows.filter(pk__in=ids) if breached else rows.exclude(pk__in=ids)
    page_obj = paginate(request, table.prepare(rows))
    page_obj.object_list = with_clocks(list(page_obj.object_list), now)
    context = {
        "form": form,
        "table": table,
        "page_obj": page_obj,
        "refresh_s": REFRESH_S,
        "can_add": can(user, Action.ADD, Area.SERVICE_DESK),
    }
    return render_listing(
        request, "servicedesk/ticket_list.html", "servicedesk/includes/list_results.html", context
    )


# ---- logging a ticket ------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def ticket_add(request: HttpRequest) -> HttpResponse:
    """The short form for a call from a branch; ``?site=<id>`` preselects the site."""
    user = current_user(request)
    require(user, Action.ADD, Area.SERVICE_DESK)
    if request.method == "POST":
        form = f.TicketForm(request.POST, user=user)
        if form.is_valid():
            ticket = _open_ticket(form, user)
            if ticket is not None:
                text = _("Logged %(number)s: %(title)s") % {
                    "number": ticket.number,
                    "title": ticket.title,
                }
                messages.success(request, text)
                return redirect(reverse("servicedesk:ticket_detail", args=[ticket.pk]))
    else:
        site = request.GET.get("site", "")
        form = f.TicketForm(initial={"site": site} if site.isdigit() else {}, user=user)
        if wants_fragment(request, DEVICES_TARGET):
            # The site changed: only the devices to choose from come back.
            return render(request, "includes/field.html", {"field": form["devices"]})
    return render(
        request,
        "servicedesk/ticket_form.html",
        {"form": form, "priority": _derived_priority(form), "devices_target": DEVICES_TARGET},
    )


def _open_ticket(form: f.TicketForm, user: User) -> Ticket | None:
    data = form.cleaned_data
    try:
        scoping.require_change(user, Action.ADD, Ticket(site=data["site"]))
    except PermissionDenied:
        form.add_error("site", _("You may only log tickets for your own sites."))
        return None
    try:
        return services.open_ticket(
            kind=data["kind"],
            request_type=data["request_type"],
            source=data["source"],
            title=data["title"],
            description=data["description"],
            site=data["site"],
            devices=data["devices"],
            systems=data["systems"],
            category=data["category"],
            impact=data["impact"],
            urgency=data["urgency"],
            group=data["group"],
            assignee=data["assignee"],
            reporter_name=data["reporter_name"],
            reporter_contact=data["reporter_contact"],
            created_at=data["created_at"],
            by=user,
        )
    except services.Refused as exc:
        form.refused(exc)
        return None


def _derived_priority(form: f.TicketForm) -> int | None:
    if form.is_bound:
        return _priority_or_none(form.data.get("impact"), form.data.get("urgency"))
    return _priority_or_none(form["impact"].initial, form["urgency"].initial)


def _priority_or_none(impact: Any, urgency: Any) -> int | None:
    try:
        return services.priority_of(int(impact), int(urgency))
    except (TypeError, ValueError):
        return None  # Refused is a ValueError: no cell for these values


@login_required
@require_GET
def priority_preview(request: HttpRequest) -> HttpResponse:
    """The priority the matrix gives ``?impact=&urgency=`` (the form shows it as you choose)."""
    require(current_user(request), Action.ADD, Area.SERVICE_DESK)
    priority = _priority_or_none(request.GET.get("impact"), request.GET.get("urgency"))
    return render(request, "servicedesk/includes/priority_preview.html", {"priority": priority})


# ---- a ticket's page -------------------------------------------------------------------------


def _ticket(user: User, pk: int) -> Ticket:
    qs = scoping.visible(user, Ticket).select_related(
        "site", "category", "sla_policy__calendar", "group", "assignee", "opened_by"
    )
    return get_object_or_404(qs, pk=pk)


@login_required
@require_GET
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = current_user(request)
    require(user, Action.VIEW, Area.SERVICE_DESK)
    return _detail(request, user, _ticket(user, pk))


def _may_change(user: User, ticket: Ticket) -> bool:
    if not can(user, Action.CHANGE, Area.SERVICE_DESK):
        return False
    return not is_site_scoped(user, Area.SERVICE_DESK) or (
        ticket.site_id is not None and ticket.site_id in scoping.own_site_ids(user)
    )


def _detail(
    request: HttpRequest, user: User, ticket: Ticket, *, status: int = 200, **forms: Any
) -> HttpResponse:
    """The ticket's page; an action that was refused passes its form back with the errors."""
    current = TicketStatus(ticket.status)
    moves = [
        {"value": s.value, "label": s.label, "note": s in services.NOTE_REQUIRED}
        for s in TicketStatus
        if s in services.TRANSITIONS[current]
    ]
    context = {
        "object": ticket,
        "clocks": sla.clocks_of(ticket, timezone.now()),
        "events": ticket.events.select_related("actor", "group", "assignee").order_by("at", "id"),
        "devices": ticket.devices.select_related("site").order_by("name"),
        "systems": ticket.systems.order_by("code"),
        "alerts": ticket.alerts.select_related("site").order_by("-started_at"),
        "moves": moves,
        "can_change": _may_change(user, ticket),
        "is_done": ticket.status in DONE_STATUSES,
        "move_form": forms.get("move_form") or f.MoveForm(),
        "assign_form": forms.get("assign_form")
        or f.AssignForm(initial={"group": ticket.group_id, "assignee": ticket.assignee_id}),
        "worklog_form": forms.get("worklog_form") or f.WorklogForm(),
        "visit_form": forms.get("visit_form") or f.VisitForm(),
        "open_form": next(iter(forms), ""),
    }
    return render(request, "servicedesk/ticket_detail.html", context, status=status)


# ---- what people do to a ticket --------------------------------------------------------------


def _changeable(request: HttpRequest, pk: int) -> tuple[User, Ticket]:
    user = current_user(request)
    ticket = _ticket(user, pk)
    require(user, Action.CHANGE, Area.SERVICE_DESK)
    scoping.require_change(user, Action.CHANGE, ticket)
    return user, ticket


def _done(request: HttpRequest, ticket: Ticket, text: str) -> HttpResponse:
    messages.success(request, text)
    return redirect(reverse("servicedesk:ticket_detail", args=[ticket.pk]))


@login_required
@require_POST
def ticket_move(request: HttpRequest, pk: int) -> HttpResponse:
    user, ticket = _changeable(request, pk)
    form = f.MoveForm(request.POST)
    if form.is_valid():
        try:
            services.move(ticket, form.cleaned_data["to"], by=user, note=form.cleaned_data["note"])
        except services.Refused as exc:
            form.refused(exc)
        else:
            text = _("%(number)s is now %(status)s.") % {
                "number": ticket.number,
                "status": ticket.get_status_display(),
            }
            return _done(request, ticket, text)
    return _detail(request, user, ticket, move_form=form)


@login_required
@require_POST
def ticket_assign(request: HttpRequest, pk: int) -> HttpResponse:
    user, ticket = _changeable(request, pk)
    form = f.AssignForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.assign(
                ticket, group=data["group"], assignee=data["assignee"], by=user, note=data["note"]
            )
        except services.Refused as exc:
            form.refused(exc)
        else:
            who = " / ".join(x for x in (str(ticket.group or ""), _username(ticket.assignee)) if x)
            text = _("%(number)s is assigned to %(who)s.") % {"number": ticket.number, "who": who}
            return _done(request, ticket, text)
    return _detail(request, user, ticket, assign_form=form)


def _username(user: User | None) -> str:
    return user.get_username() if user is not None else ""


@login_required
@require_POST
def ticket_worklog(request: HttpRequest, pk: int) -> HttpResponse:
    user, ticket = _changeable(request, pk)
    form = f.WorklogForm(request.POST)
    if form.is_valid():
        try:
            services.worklog(
                ticket, by=user, note=form.cleaned_data["note"], at=form.cleaned_data["at"]
            )
        except services.Refused as exc:
            form.refused(exc)
        else:
            return _done(
                request, ticket, _("Work logged on %(number)s.") % {"number": ticket.number}
            )
    return _detail(request, user, ticket, worklog_form=form)


@login_required
@require_POST
def ticket_visit(request: HttpRequest, pk: int) -> HttpResponse:
    user, ticket = _changeable(request, pk)
    form = f.VisitForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.record_visit(
                ticket,
                by=user,
                departed_at=data["departed_at"],
                arrived_at=data["arrived_at"],
                finished_at=data["finished_at"],
                note=data["note"],
            )
        except services.Refused as exc:
            form.refused(exc)
        else:
            text = _("Visit recorded on %(number)s.") % {"number": ticket.number}
            return _done(request, ticket, text)
    return _detail(request, user, ticket, visit_form=form)
