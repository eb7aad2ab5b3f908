"""Duty pages (值班 and 交接班): the shift list with the current shift highlighted, writing a
handover (what is open is listed, then copied into the log), a handover's page where the
incoming shift signs it, the handover history, and dual-person operation records (双人作业).

These pages show the whole estate (every open ticket, every firing root alert), so, like
the API, they are not for site-scoped roles: a branch liaison gets 403. Reading needs the
right to see tickets, writing the right to change them; the rules are
``servicedesk.handover``'s, and its refusals are shown on the page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from branchops.core import scoping
from branchops.core.models import User
from branchops.core.permissions import Action, Area, can, is_site_scoped, require
from branchops.core.views import current_user, paginate
from branchops.servicedesk import forms_duty as f
from branchops.servicedesk import handover
from branchops.servicedesk.models import (
    AssignmentGroup,
    DualControlRecord,
    HandoverLog,
    Shift,
    Ticket,
)
from branchops.servicedesk.services import Refused

PAST_DAYS = 7
COMING_DAYS = 14


def _reader(request: HttpRequest) -> User:
    """The user, if they may read duty records: the whole desk, not one branch's share."""
    user = current_user(request)
    require(user, Action.VIEW, Area.SERVICE_DESK)
    if is_site_scoped(user, Area.SERVICE_DESK):
        raise PermissionDenied(_("Your role may not see duty records."))
    return user


def _writer(request: HttpRequest) -> User:
    user = _reader(request)
    require(user, Action.CHANGE, Area.SERVICE_DESK)
    return user


def _shifts() -> QuerySet[Shift]:
    logs = HandoverLog.objects.only("pk", "outgoing_id", "signed_at")
    return Shift.objects.select_related("group").prefetch_related(
        "people", Prefetch("handed_over", queryset=logs)
    )


# ---- shifts ----------------------------------------------------------------------------------


@login_required
@require_GET
def shift_list(request: HttpRequest) -> HttpResponse:
    """Shifts of the last week and the next two, the current ones highlighted."""
    user = _reader(request)
    now = timezone.now()
    rows = _shifts().filter(
        ends_at__gt=now - dt.timedelta(days=PAST_DAYS),
        starts_at__lt=now + dt.timedelta(days=COMING_DAYS),
    )
    group = request.GET.get("group", "")
    if group.isdigit():
        rows = rows.filter(group_id=int(group))
    shifts = list(rows.order_by("starts_at", "group__name", "id"))
    for shift in shifts:
        shift.is_current = shift.starts_at <= now < shift.ends_at  # type: ignore[attr-defined]
        shift.is_mine = any(p.pk == user.pk for p in shift.people.all())  # type: ignore[attr-defined]
        shift.log = next(iter(shift.handed_over.all()), None)  # type: ignore[attr-defined]
    context = {
        "shifts": shifts,
        "groups": AssignmentGroup.objects.filter(shifts__isnull=False).distinct().order_by("name"),
        "group": group,
        "now": now,
        "can_change": can(user, Action.CHANGE, Area.SERVICE_DESK),
        "past_days": PAST_DAYS,
        "coming_days": COMING_DAYS,
    }
    return render(request, "servicedesk/duty/shifts.html", context)


@login_required
@require_GET
def handover_start(request: HttpRequest) -> HttpResponse:
    """ "Hand over": straight to the form of the shift the user is on now, if there is one."""
    user = _writer(request)
    now = timezone.now()
    mine = list(Shift.objects.filter(people=user, starts_at__lte=now, ends_at__gt=now)[:2])
    if len(mine) == 1:
        return redirect(reverse("servicedesk:handover_write", args=[mine[0].pk]))
    messages.info(request, _("Choose the shift that hands over."))
    return redirect(reverse("servicedesk:shift_list"))


# ---- writing a handover ----------------------------------------------------------------------


def _incoming_choices(outgoing: Shift) -> QuerySet[Shift]:
    return (
        Shift.objects.filter(group_id=outgoing.group_id, starts_at__gte=outgoing.starts_at)
        .exclude(pk=outgoing.pk)
        .select_related("group")
        .prefetch_related("people")
        .order_by("starts_at", "id")
    )


def _write_page(request: HttpRequest, outgoing: Shift, form: f.HandoverForm) -> HttpResponse:
    context = {
        "outgoing": outgoing,
        "form": form,
        "open_tickets": handover.open_tickets_now(),
        "firing_alerts": handover.firing_root_alerts_now(),
        "now": timezone.now(),
    }
    return render(request, "servicedesk/duty/handover_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def handover_write(request: HttpRequest, pk: int) -> HttpResponse:
    """The outgoing shift's summary; open tickets and firing root alerts are listed (and
    copied into the log when it is written)."""
    user = _writer(request)
    outgoing = get_object_or_404(_shifts(), pk=pk)
    written = HandoverLog.objects.filter(outgoing=outgoing).first()
    if written is not None:
        messages.info(request, _("This shift has already handed over."))
        return redirect(reverse("servicedesk:handover_detail", args=[written.pk]))
    choices = _incoming_choices(outgoing)
    if request.method != "POST":
        form = f.HandoverForm(incoming=choices, initial={"incoming": choices.first()})
        return _write_page(request, outgoing, form)
    form = f.HandoverForm(request.POST, incoming=choices)
    if form.is_valid():
        try:
            log = handover.create_handover(
                outgoing=outgoing,
                incoming=form.cleaned_data["incoming"],
                summary=form.cleaned_data["summary"],
                by=user,
            )
        except Refused as exc:
            form.refused(exc)
        else:
            messages.success(
                request,
                _("Handed over to %(shift)s; it waits for their signature.")
                % {"shift": log.incoming},
            )
            return redirect(reverse("servicedesk:handover_detail", args=[log.pk]))
    return _write_page(request, outgoing, form)


# ---- a handover, its signature, the history --------------------------------------------------


def _handovers() -> QuerySet[HandoverLog]:
    return HandoverLog.objects.select_related(
        "outgoing__group", "incoming__group", "written_by", "signed_by"
    ).prefetch_related("outgoing__people", "incoming__people")


def _detail_page(
    request: HttpRequest, user: User, log: HandoverLog, refusal: str = ""
) -> HttpResponse:
    incoming_people = list(log.incoming.people.all())
    context: dict[str, Any] = {
        "log": log,
        "refusal": refusal,
        "can_sign": log.signed_at is None and can(user, Action.CHANGE, Area.SERVICE_DESK),
        "on_incoming": any(p.pk == user.pk for p in incoming_people),
        "incoming_people": incoming_people,
    }
    return render(request, "servicedesk/duty/handover_detail.html", context)


@login_required
@require_GET
def handover_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _reader(request)
    return _detail_page(request, user, get_object_or_404(_handovers(), pk=pk))


@login_required
@require_POST
def handover_sign(request: HttpRequest, pk: int) -> HttpResponse:
    """The incoming shift takes over; anyone else is refused, on the page."""
    user = _writer(request)
    log = get_object_or_404(_handovers(), pk=pk)
    try:
        handover.sign_handover(log, by=user)
    except Refused as exc:
        return _detail_page(request, user, log, refusal=exc.message)
    messages.success(request, _("Signed: the incoming shift has taken over."))
    return redirect(reverse("servicedesk:handover_detail", args=[pk]))


@login_required
@require_GET
def handover_list(request: HttpRequest) -> HttpResponse:
    """Every handover, newest first; filters: group, signed or not."""
    _reader(request)
    rows = _handovers()
    group, signed = request.GET.get("group", ""), request.GET.get("signed", "")
    if group.isdigit():
        rows = rows.filter(outgoing__group_id=int(group))
    if signed in ("yes", "no"):
        rows = rows.filter(signed_at__isnull=signed == "no")
    context = {
        "page_obj": paginate(request, rows),
        "groups": AssignmentGroup.objects.filter(shifts__isnull=False).distinct().order_by("name"),
        "group": group,
        "signed": signed,
    }
    return render(request, "servicedesk/duty/handover_list.html", context)


# ---- dual-person operations ------------------------------------------------------------------


def _dual_control_page(
    request: HttpRequest, user: User, form: f.DualControlForm | None = None
) -> HttpResponse:
    records = DualControlRecord.objects.select_related(
        "operator", "reviewer", "ticket", "recorded_by"
    )
    context = {
        "page_obj": paginate(request, records),
        "form": form or f.DualControlForm(initial={"operator": user.pk}),
        "can_change": can(user, Action.CHANGE, Area.SERVICE_DESK),
    }
    return render(request, "servicedesk/duty/dual_control.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def dual_control(request: HttpRequest) -> HttpResponse:
    """Records of sensitive work done under a second person's eyes, and the form for one."""
    if request.method != "POST":
        return _dual_control_page(request, _reader(request))
    user = _writer(request)
    form = f.DualControlForm(request.POST)
    if form.is_valid() and _record(form, user):
        messages.success(request, _("Dual-person operation recorded."))
        return redirect(reverse("servicedesk:dual_control"))
    return _dual_control_page(request, user, form)


def _record(form: f.DualControlForm, user: User) -> bool:
    data = form.cleaned_data
    ticket = None
    if data["ticket"].strip():
        number = data["ticket"].strip()
        ticket = scoping.visible(user, Ticket).filter(number__iexact=number).first()
        if ticket is None:
            form.add_error("ticket", _("No ticket is numbered %(number)s.") % {"number": number})
            return False
    try:
        handover.record_dual_control(
            what=data["what"],
            performed_at=data["performed_at"] or timezone.now(),
            operator=data["operator"],
            reviewer=data["reviewer"],
            outcome=data["outcome"],
            note=data["note"],
            ticket=ticket,
            by=user,
        )
    except Refused as exc:
        form.refused(exc)
        return False
    return True
