"""On-call pages (值班表): who is on call now in each assignment group, and a group's coming
weeks as a calendar with its overrides marked, where an override is added or two shifts
are swapped.

Everyone who may see tickets may see who is on call (a branch needs to know whom to ring);
changes need the right to change tickets. The rules are ``servicedesk.oncall``'s; its
refusals are shown on the form's field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from branchops.core.models import User
from branchops.core.permissions import Action, Area, can, require
from branchops.core.views import current_user
from branchops.servicedesk import forms_duty as f
from branchops.servicedesk import oncall
from branchops.servicedesk.models import AssignmentGroup, Override, Rotation
from branchops.servicedesk.services import Refused

WEEKS = (2, 3, 4)
MAX_STRETCHES = 5000  # 4 weeks of one-hour shifts is 672; this only guards the loop


# ---- the schedule as stretches of time -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stretch:
    """One person on call without a change, from ``start`` to ``end``."""

    start: dt.datetime
    end: dt.datetime
    person: User | None
    override: Override | None


@dataclass(slots=True)
class Day:
    """A calendar cell: the stretches of that day, and whether each began on it."""

    date: dt.date
    is_today: bool
    stretches: list[tuple[Stretch, bool]] = field(default_factory=list)


def stretches(
    schedule: oncall.Schedule, group_id: int, since: dt.datetime, until: dt.datetime
) -> list[Stretch]:
    """The schedule between ``since`` and ``until`` cut where it changes hands."""
    found: list[Stretch] = []
    at = since
    while at < until and len(found) < MAX_STRETCHES:
        handoff = schedule.next_handoff(group_id, at)
        end = min(handoff, until) if handoff is not None else until
        found.append(
            Stretch(at, end, schedule.who(group_id, at), schedule.override_at(group_id, at))
        )
        at = end
    return found


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def calendar(found: list[Stretch], first: dt.date, weeks: int, today: dt.date) -> list[list[Day]]:
    """Weeks of seven days from ``first``, each day with its stretches."""
    days = [Day(d, d == today) for d in (first + dt.timedelta(days=i) for i in range(weeks * 7))]
    for index, stretch in enumerate(found):
        for day in days:
            start, end = _midnight(day.date), _midnight(day.date + dt.timedelta(days=1))
            if stretch.start < end and stretch.end > start:
                # The first stretch began before the calendar does: it only continues.
                day.stretches.append((stretch, index > 0 and stretch.start >= start))
    return [days[i : i + 7] for i in range(0, len(days), 7)]


# ---- who is on call now --------------------------------------------------------------------


@login_required
@require_GET
def oncall_now(request: HttpRequest) -> HttpResponse:
    """Every assignment group: who is on call now, and when and to whom it passes next."""
    require(current_user(request), Action.VIEW, Area.SERVICE_DESK)
    groups = list(AssignmentGroup.objects.order_by("name"))
    rows = oncall.everyone_on_call(groups, timezone.now())
    return render(request, "servicedesk/oncall/now.html", {"rows": rows})


# ---- a group's calendar --------------------------------------------------------------------


def _weeks(request: HttpRequest) -> int:
    text = request.GET.get("weeks", "")
    return int(text) if text.isdigit() and int(text) in WEEKS else WEEKS[0]


def _group_page(
    request: HttpRequest,
    user: User,
    group: AssignmentGroup,
    *,
    weeks: int,
    override_form: f.OverrideForm | None = None,
    swap_form: f.SwapForm | None = None,
) -> HttpResponse:
    now = timezone.now()
    today = timezone.localdate(now)
    first = today  # the coming weeks, from today on
    since = _midnight(first)
    until = _midnight(first + dt.timedelta(days=weeks * 7))
    schedule = oncall.Schedule.load([group], since)
    context: dict[str, Any] = {
        "group": group,
        "weeks": weeks,
        "week_choices": WEEKS,
        "now": now,
        "current": schedule.on_call(group, now),
        "calendar": calendar(stretches(schedule, group.pk, since, until), first, weeks, today),
        "rotations": Rotation.objects.filter(group=group)
        .prefetch_related("members__user")
        .order_by("-active", "start_date", "id"),
        "overrides": Override.objects.filter(group=group, ends_at__gt=now)
        .select_related("user", "replaces", "created_by")
        .order_by("starts_at", "id"),
        "can_change": can(user, Action.CHANGE, Area.SERVICE_DESK),
        "override_form": override_form or f.OverrideForm(group=group),
        "swap_form": swap_form or f.SwapForm(),
    }
    return render(request, "servicedesk/oncall/group.html", context)


@login_required
@require_GET
def oncall_group(request: HttpRequest, pk: int) -> HttpResponse:
    """The coming weeks of one group's on-call, overrides marked, with the forms to change it."""
    user = current_user(request)
    require(user, Action.VIEW, Area.SERVICE_DESK)
    group = get_object_or_404(AssignmentGroup, pk=pk)
    return _group_page(request, user, group, weeks=_weeks(request))


def _changing(request: HttpRequest, pk: int) -> tuple[User, AssignmentGroup]:
    user = current_user(request)
    require(user, Action.CHANGE, Area.SERVICE_DESK)
    return user, get_object_or_404(AssignmentGroup, pk=pk)


def _back(request: HttpRequest, group: AssignmentGroup, text: str) -> HttpResponse:
    messages.success(request, text)
    return redirect(reverse("servicedesk:oncall_group", args=[group.pk]))


@login_required
@require_POST
def oncall_override(request: HttpRequest, pk: int) -> HttpResponse:
    user, group = _changing(request, pk)
    form = f.OverrideForm(request.POST, group=group)
    if form.is_valid():
        data = form.cleaned_data
        try:
            made = oncall.create_override(
                group=group,
                user=data["user"],
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                reason=data["reason"],
                by=user,
            )
        except Refused as exc:
            form.refused(exc)
        else:
            text = _("%(name)s is on call in %(group)s from %(start)s to %(end)s.") % {
                "name": made.user.get_username(),
                "group": group.name,
                "start": _show(made.starts_at),
                "end": _show(made.ends_at),
            }
            return _back(request, group, text)
    return _group_page(request, user, group, weeks=WEEKS[0], override_form=form)


@login_required
@require_POST
def oncall_swap(request: HttpRequest, pk: int) -> HttpResponse:
    user, group = _changing(request, pk)
    form = f.SwapForm(request.POST)
    if form.is_valid():
        try:
            one, two = oncall.swap(
                group=group,
                first=form.cleaned_data["first"],
                second=form.cleaned_data["second"],
                by=user,
            )
        except Refused as exc:
            form.refused(exc)
        else:
            text = _("Swapped: %(a)s takes %(first)s, %(b)s takes %(second)s.") % {
                "a": one.user.get_username(),
                "first": _show(one.starts_at),
                "b": two.user.get_username(),
                "second": _show(two.starts_at),
            }
            return _back(request, group, text)
    return _group_page(request, user, group, weeks=WEEKS[0], swap_form=form)


def _show(at: dt.datetime) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M")
