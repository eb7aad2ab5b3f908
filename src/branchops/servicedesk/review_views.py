"""Review pages: problems (list, record, edit with the "5 whys", moves, actions), the list of
corrective and preventive actions (overdue in red), and postmortems with their merged
timeline.

Views stay thin: reads go through ``scoping.visible`` (a liaison sees the problems and
postmortems about their sites, anything else is a 404); writes need "change tickets" and are
never a liaison's; every change goes through the review services.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
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
from branchops.servicedesk import review, review_postmortem
from branchops.servicedesk import review_forms as f
from branchops.servicedesk.models import CorrectiveAction, Postmortem, Problem, Ticket
from branchops.servicedesk.review_choices import ACTION_FINISHED, ProblemStatus
from branchops.servicedesk.services import Refused


def may_write(user: User) -> bool:
    """Problems, actions, postmortems and articles: "change tickets", never a liaison."""
    return can(user, Action.CHANGE, Area.SERVICE_DESK) and not is_site_scoped(
        user, Area.SERVICE_DESK
    )


def require_write(user: User) -> None:
    if not may_write(user):
        raise PermissionDenied(_("Your role may not change problems or postmortems."))


def _viewer(request: HttpRequest) -> User:
    user = current_user(request)
    require(user, Action.VIEW, Area.SERVICE_DESK)
    return user


def _writer(request: HttpRequest) -> User:
    user = _viewer(request)
    require_write(user)
    return user


def _problem(user: User, pk: int) -> Problem:
    return get_object_or_404(scoping.visible(user, Problem).select_related("owner"), pk=pk)


def _postmortem(user: User, pk: int) -> Postmortem:
    qs = scoping.visible(user, Postmortem).select_related("ticket", "problem", "author")
    return get_object_or_404(qs, pk=pk)


# ---- problems --------------------------------------------------------------------------------


def _with_action_counts(qs: QuerySet[Problem]) -> QuerySet[Problem]:
    today = timezone.localdate()
    still_open = ~Q(actions__status__in=ACTION_FINISHED)
    return qs.annotate(
        open_count=Count("actions", filter=still_open, distinct=True),
        overdue_count=Count(
            "actions", filter=still_open & Q(actions__due_date__lt=today), distinct=True
        ),
    )


@login_required
@require_GET
def problem_list(request: HttpRequest) -> HttpResponse:
    """Problems not closed (or of one status), newest first, with their open actions."""
    user = _viewer(request)
    qs = scoping.visible(user, Problem).select_related("owner")
    status = request.GET.get("status", "")
    if status in ProblemStatus.values:
        qs = qs.filter(status=status)
    elif status != "all":
        qs = qs.exclude(status=ProblemStatus.CLOSED)
    text = request.GET.get("q", "").strip()
    if text:
        qs = qs.filter(Q(number__icontains=text) | Q(title__icontains=text))
    context = {
        "page_obj": paginate(request, _with_action_counts(qs).order_by("-created_at", "-id")),
        "statuses": ProblemStatus.choices,
        "status": status,
        "q": text,
        "can_write": may_write(user),
    }
    return render(request, "servicedesk/review/problem_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def problem_add(request: HttpRequest) -> HttpResponse:
    """A new problem; ``?ticket=<id>`` starts it from an incident."""
    user = _writer(request)
    if request.method == "POST":
        form = f.ProblemForm(request.POST, user=user)
        if form.is_valid():
            problem = _save_problem(form, user, None)
            if problem is not None:
                messages.success(request, _("Recorded %(number)s.") % {"number": problem.number})
                return redirect("servicedesk:problem_detail", pk=problem.pk)
    else:
        initial: dict[str, Any] = {"owner": user.pk}
        ticket = scoping.visible(user, Ticket).filter(pk=_int(request.GET.get("ticket"))).first()
        if ticket is not None:
            initial.update(tickets=ticket.number, title=ticket.title)
        form = f.ProblemForm(initial=initial, user=user)
    return render(request, "servicedesk/review/problem_form.html", {"form": form})


def _int(value: str | None) -> int:
    """The id in a query parameter; 0 (no row has it) when there is none."""
    return int(value) if value and value.isdigit() else 0


def _save_problem(form: f.ProblemForm, user: User, problem: Problem | None) -> Problem | None:
    data = form.cleaned_data
    text = {k: data[k] for k in ("title", "description", "root_cause", "workaround")}
    try:
        if problem is None:
            return review.open_problem(
                **text,
                by=user,
                tickets=data["tickets"],
                devices=data["devices"],
                systems=data["systems"],
                owner=data["owner"],
                whys=form.whys(),
            )
        return review.update_problem(
            problem,
            by=user,
            changes={**text, "owner": data["owner"], "whys": form.whys()},
            tickets=data["tickets"],
            devices=data["devices"],
            systems=list(data["systems"]),
        )
    except Refused as exc:
        form.refused(exc)
        return None


@login_required
@require_http_methods(["GET", "POST"])
def problem_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _writer(request)
    problem = _problem(user, pk)
    if request.method == "POST":
        form = f.ProblemForm(request.POST, user=user)
        if form.is_valid() and _save_problem(form, user, problem) is not None:
            messages.success(request, _("%(number)s saved.") % {"number": problem.number})
            return redirect("servicedesk:problem_detail", pk=problem.pk)
    else:
        form = f.ProblemForm(initial=f.ProblemForm.initial_for(problem), user=user)
    context = {"form": form, "object": problem}
    return render(request, "servicedesk/review/problem_form.html", context)


@login_required
@require_GET
def problem_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _viewer(request)
    return _problem_page(request, user, _problem(user, pk))


def _problem_page(
    request: HttpRequest, user: User, problem: Problem, *, status: int = 200, **forms: Any
) -> HttpResponse:
    moves = [
        {"value": s.value, "label": s.label}
        for s in ProblemStatus
        if s in review.PROBLEM_MOVES[ProblemStatus(problem.status)]
    ]
    postmortem = Postmortem.objects.filter(problem=problem).first()
    context = {
        "object": problem,
        "tickets": scoping.visible(user, Ticket, problem.tickets.all()).order_by("created_at"),
        "devices": problem.devices.select_related("site").order_by("name"),
        "systems": problem.systems.order_by("code"),
        "actions": _actions_of(problem.actions.all()),
        "postmortem": postmortem,
        "postmortem_actions": _actions_of(postmortem.actions.all()) if postmortem else [],
        "events": problem.events.select_related("actor"),
        "articles": problem.articles.order_by("title"),
        "moves": moves,
        "can_write": may_write(user),
        "move_form": forms.get("move_form") or f.ProblemMoveForm(),
        "action_form": forms.get("action_form")
        or f.ActionForm(initial={"owner": problem.owner_id}),
        "update_form": f.ActionUpdateForm(),
    }
    return render(request, "servicedesk/review/problem_detail.html", context, status=status)


def _actions_of(qs: QuerySet[CorrectiveAction]) -> list[CorrectiveAction]:
    today = timezone.localdate()
    rows = list(qs.select_related("owner", "problem", "postmortem").order_by("due_date", "id"))
    for action in rows:
        action.overdue = review.is_overdue(action, today)  # type: ignore[attr-defined]
    return rows


@login_required
@require_POST
def problem_move(request: HttpRequest, pk: int) -> HttpResponse:
    user = _writer(request)
    problem = _problem(user, pk)
    form = f.ProblemMoveForm(request.POST)
    if form.is_valid():
        try:
            review.move_problem(
                problem, form.cleaned_data["to"], by=user, note=form.cleaned_data["note"]
            )
        except Refused as exc:
            form.refused(exc)
        else:
            text = _("%(number)s is now %(status)s.") % {
                "number": problem.number,
                "status": problem.get_status_display(),
            }
            messages.success(request, text)
            return redirect("servicedesk:problem_detail", pk=problem.pk)
    return _problem_page(request, user, problem, status=400, move_form=form)


@login_required
@require_POST
def problem_action_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _writer(request)
    problem = _problem(user, pk)
    form = f.ActionForm(request.POST)
    if form.is_valid() and _add_action(form, user, problem=problem):
        return redirect("servicedesk:problem_detail", pk=problem.pk)
    return _problem_page(request, user, problem, status=400, action_form=form)


def _add_action(form: f.ActionForm, user: User, **home: Any) -> bool:
    data = form.cleaned_data
    try:
        review.add_action(
            kind=data["kind"],
            title=data["title"],
            owner=data["owner"],
            due_date=data["due_date"],
            by=user,
            **home,
        )
    except Refused as exc:
        form.refused(exc)
        return False
    return True


# ---- actions ---------------------------------------------------------------------------------


@login_required
@require_GET
def action_list(request: HttpRequest) -> HttpResponse:
    """Actions still to do, overdue first; ``?all=1`` shows finished ones too."""
    user = _viewer(request)
    qs = scoping.visible(user, CorrectiveAction)
    if request.GET.get("all") != "1":
        qs = qs.exclude(status__in=ACTION_FINISHED)
    if request.GET.get("mine") == "1":
        qs = qs.filter(owner=user)
    rows = _actions_of(qs)
    rows.sort(key=lambda a: (not a.overdue, a.due_date, a.pk))  # type: ignore[attr-defined]
    context = {
        "actions": rows,
        "overdue": len([a for a in rows if getattr(a, "overdue", False)]),
        "show_all": request.GET.get("all") == "1",
        "mine": request.GET.get("mine") == "1",
        "can_write": may_write(user),
        "update_form": f.ActionUpdateForm(),
    }
    return render(request, "servicedesk/review/action_list.html", context)


@login_required
@require_POST
def action_update(request: HttpRequest, pk: int) -> HttpResponse:
    """Move an action on (done with evidence, cancelled with a reason)."""
    user = _writer(request)
    action = get_object_or_404(scoping.visible(user, CorrectiveAction), pk=pk)
    form = f.ActionUpdateForm(request.POST)
    back = _action_home(action, request.POST.get("next", ""))
    if form.is_valid():
        try:
            review.update_action(
                action,
                by=user,
                status=form.cleaned_data["status"],
                evidence=form.cleaned_data["evidence"],
            )
        except Refused as exc:
            messages.error(request, f"{action.title}: {exc.message}")
        else:
            messages.success(request, _("Action saved: %(title)s") % {"title": action.title})
    else:
        messages.error(request, _("Choose a status."))
    return redirect(back)


def _action_home(action: CorrectiveAction, next_page: str) -> str:
    if next_page == "actions":
        return reverse("servicedesk:action_list")
    if action.problem_id is not None:
        return reverse("servicedesk:problem_detail", args=[action.problem_id])
    return reverse("servicedesk:postmortem_detail", args=[action.postmortem_id])


# ---- postmortems -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def postmortem_add(request: HttpRequest) -> HttpResponse:
    """The postmortem of ``?ticket=<id>`` or ``?problem=<id>``."""
    user = _writer(request)
    source = request.POST if request.method == "POST" else request.GET
    ticket = scoping.visible(user, Ticket).filter(pk=_int(source.get("ticket"))).first()
    problem = scoping.visible(user, Problem).filter(pk=_int(source.get("problem"))).first()
    subject = ticket or problem
    if subject is None:
        raise PermissionDenied(_("Start a postmortem from an incident or a problem."))
    if request.method == "POST":
        form = f.PostmortemForm(request.POST)
        if form.is_valid():
            try:
                postmortem = review_postmortem.open_postmortem(
                    ticket=ticket, problem=None if ticket else problem, by=user, **form.cleaned_data
                )
            except Refused as exc:
                form.refused(exc)
            else:
                return redirect("servicedesk:postmortem_detail", pk=postmortem.pk)
    else:
        form = f.PostmortemForm(initial={"title": subject.title})
    context = {"form": form, "subject": subject, "ticket": ticket, "problem": problem}
    return render(request, "servicedesk/review/postmortem_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def postmortem_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _writer(request)
    postmortem = _postmortem(user, pk)
    if request.method == "POST":
        form = f.PostmortemForm(request.POST)
        if form.is_valid():
            try:
                review_postmortem.update_postmortem(postmortem, by=user, changes=form.cleaned_data)
            except Refused as exc:
                form.refused(exc)
            else:
                return redirect("servicedesk:postmortem_detail", pk=postmortem.pk)
    else:
        form = f.PostmortemForm(
            initial={k: getattr(postmortem, k) for k in review_postmortem.EDITABLE}
        )
    context = {
        "form": form,
        "object": postmortem,
        "subject": postmortem.ticket or postmortem.problem,
    }
    return render(request, "servicedesk/review/postmortem_form.html", context)


@login_required
@require_GET
def postmortem_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _viewer(request)
    return _postmortem_page(request, user, _postmortem(user, pk))


def _postmortem_page(
    request: HttpRequest, user: User, postmortem: Postmortem, *, status: int = 200, **forms: Any
) -> HttpResponse:
    context = {
        "object": postmortem,
        "timeline": review_postmortem.timeline(postmortem, user),
        "incidents": review_postmortem.incidents_of(postmortem, user),
        "actions": _actions_of(postmortem.actions.all()),
        "can_write": may_write(user),
        "entry_form": forms.get("entry_form") or f.EntryForm(),
        "action_form": forms.get("action_form") or f.ActionForm(),
        "update_form": f.ActionUpdateForm(),
    }
    return render(request, "servicedesk/review/postmortem_detail.html", context, status=status)


@login_required
@require_POST
def postmortem_entry_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _writer(request)
    postmortem = _postmortem(user, pk)
    form = f.EntryForm(request.POST)
    if form.is_valid():
        try:
            review_postmortem.add_entry(
                postmortem, at=form.cleaned_data["at"], what=form.cleaned_data["what"], by=user
            )
        except Refused as exc:
            form.refused(exc)
        else:
            return redirect("servicedesk:postmortem_detail", pk=postmortem.pk)
    return _postmortem_page(request, user, postmortem, status=400, entry_form=form)


@login_required
@require_POST
def postmortem_action_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _writer(request)
    postmortem = _postmortem(user, pk)
    form = f.ActionForm(request.POST)
    if form.is_valid() and _add_action(form, user, postmortem=postmortem):
        return redirect("servicedesk:postmortem_detail", pk=postmortem.pk)
    return _postmortem_page(request, user, postmortem, status=400, action_form=form)
