"""Problem records (问题管理) and their corrective and preventive actions (整改措施).

A problem moves through :data:`PROBLEM_MOVES` only, compare-and-set; each change writes one
``ProblemEvent``. Its root cause is recorded as "5 whys" (at most :data:`MAX_WHYS` ordered
why/answer pairs) and a final statement. Actions are tracked to done or cancelled; a
problem closes only when none is left open. A refusal (:class:`Refused`) leaves nothing
behind: everything is checked before anything is written, inside one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from branchops.cmdb.models import Device, InformationSystem
from branchops.core.models import User
from branchops.servicedesk.models import (
    CorrectiveAction,
    Postmortem,
    Problem,
    ProblemEvent,
    Ticket,
    TicketSequence,
)
from branchops.servicedesk.review_choices import (
    ACTION_FINISHED,
    ActionKind,
    ActionStatus,
    ProblemEventKind,
    ProblemStatus,
)
from branchops.servicedesk.services import Refused

P = ProblemStatus
A = ActionStatus

MAX_WHYS = 5
"""The "5 whys": more than five rarely finds a deeper cause, it finds someone to blame."""

PROBLEM_MOVES: Mapping[ProblemStatus, frozenset[ProblemStatus]] = {
    P.OPEN: frozenset({P.INVESTIGATING, P.KNOWN_ERROR, P.RESOLVED}),
    P.INVESTIGATING: frozenset({P.KNOWN_ERROR, P.RESOLVED}),
    P.KNOWN_ERROR: frozenset({P.INVESTIGATING, P.RESOLVED}),
    P.RESOLVED: frozenset({P.CLOSED, P.INVESTIGATING}),
    P.CLOSED: frozenset(),
}
"""Every allowed status move of a problem; anything else is refused."""

ACTION_MOVES: Mapping[ActionStatus, frozenset[ActionStatus]] = {
    A.OPEN: frozenset({A.IN_PROGRESS, A.DONE, A.CANCELLED}),
    A.IN_PROGRESS: frozenset({A.OPEN, A.DONE, A.CANCELLED}),
    A.DONE: frozenset(),
    A.CANCELLED: frozenset(),
}
"""Done and cancelled are final: a new finding is a new action."""

EDITABLE = ("title", "description", "root_cause", "workaround", "owner", "whys")


def _invalid(message: str, field: str) -> Refused:
    return Refused(message, status=400, field=field)


# --- 5 whys ------------------------------------------------------------------------------


def checked_whys(whys: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The whys as stored: stripped, blank pairs dropped, at most :data:`MAX_WHYS`.

    Refused: a pair with an answer but no question, a question left unanswered before the
    last one (the chain would break), or more than :data:`MAX_WHYS`.
    """
    pairs = []
    for item in whys:
        why = str(item.get("why") or "").strip()
        answer = str(item.get("answer") or "").strip()
        if why or answer:
            pairs.append({"why": why, "answer": answer})
    if len(pairs) > MAX_WHYS:
        raise _invalid(_("At most %(n)d whys.") % {"n": MAX_WHYS}, "whys")
    for index, pair in enumerate(pairs, start=1):
        if not pair["why"]:
            raise _invalid(_("Why %(n)d has an answer but no question.") % {"n": index}, "whys")
        if not pair["answer"] and index < len(pairs):
            raise _invalid(_("Answer why %(n)d before asking the next one.") % {"n": index}, "whys")
    return pairs


# --- problems ----------------------------------------------------------------------------


def next_problem_number(at: dt.datetime) -> str:
    """PRB-2026-000007: per (local) year, without gaps (the tickets' sequence table)."""
    year = timezone.localtime(at).year
    # The floor matters after a demo reset, which empties the sequences but keeps problems.
    taken = Problem.objects.filter(number__startswith=f"PRB-{year}-").order_by("-number").first()
    floor = int(taken.number.rsplit("-", 1)[1]) if taken is not None else 0
    TicketSequence.objects.get_or_create(prefix="PRB", year=year, defaults={"last": floor})
    # The UPDATE takes the lock until commit: two problems never read the same number.
    rows = TicketSequence.objects.filter(prefix="PRB", year=year)
    rows.update(last=F("last") + 1)
    return f"PRB-{year}-{rows.get().last:06d}"


def open_problem(
    *,
    title: str,
    by: User | None,
    description: str = "",
    tickets: Iterable[Ticket] = (),
    devices: Iterable[Device] = (),
    systems: Iterable[InformationSystem] = (),
    owner: User | None = None,
    whys: Iterable[Mapping[str, Any]] = (),
    root_cause: str = "",
    workaround: str = "",
) -> Problem:
    """Record a problem (status open) and link its incidents and what it affects."""
    if not title.strip():
        raise _invalid(_("Give the problem a title."), "title")
    _check_owner(owner)
    pairs = checked_whys(whys)
    now = timezone.now()
    with transaction.atomic():
        problem = Problem.objects.create(
            number=next_problem_number(now),
            title=title.strip()[:200],
            description=description.strip(),
            owner=owner,
            whys=pairs,
            root_cause=root_cause.strip(),
            workaround=workaround.strip(),
            created_by=by,
            created_at=now,
            updated_at=now,
        )
        problem.tickets.set(list(tickets))
        problem.devices.set(list(devices))
        problem.systems.set(list(systems))
        ProblemEvent.objects.create(
            problem=problem,
            at=now,
            kind=ProblemEventKind.CREATED,
            actor=by,
            to_status=P.OPEN,
            detail=", ".join(t.number for t in problem.tickets.all()),
        )
    return problem


def _check_owner(owner: User | None, field: str = "owner") -> None:
    if owner is not None and not owner.is_active:
        raise _invalid(_("%(name)s is not an active user.") % {"name": owner.get_username()}, field)


def update_problem(
    problem: Problem,
    *,
    by: User | None,
    changes: Mapping[str, Any],
    tickets: Sequence[Ticket] | None = None,
    devices: Sequence[Device] | None = None,
    systems: Sequence[InformationSystem] | None = None,
) -> Problem:
    """Change the problem's text, owner, whys or links (not its status: :func:`move_problem`)."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise _invalid(_("These fields cannot be changed here."), sorted(unknown)[0])
    values = dict(changes)
    if "title" in values:
        values["title"] = str(values["title"]).strip()[:200]
        if not values["title"]:
            raise _invalid(_("Give the problem a title."), "title")
    for key in ("description", "root_cause", "workaround"):
        if key in values:
            values[key] = str(values[key] or "").strip()
    if "whys" in values:
        values["whys"] = checked_whys(values["whys"])
    if "owner" in values:
        _check_owner(values["owner"])
    with transaction.atomic():
        current = Problem.objects.select_for_update().get(pk=problem.pk)
        if current.status == P.CLOSED:
            raise Refused(_("The problem is closed."))
        said = [f"{k}" for k, v in values.items() if getattr(current, k) != v]
        for key, value in values.items():
            setattr(current, key, value)
        said += _relink(current, "tickets", tickets, lambda t: t.number)
        said += _relink(current, "devices", devices, lambda d: d.name)
        said += _relink(current, "systems", systems, lambda s: s.code)
        if not said:
            return current
        current.updated_at = timezone.now()
        current.save(update_fields=[*values, "updated_at"])
        ProblemEvent.objects.create(
            problem=current, kind=ProblemEventKind.UPDATED, actor=by, detail=", ".join(said)
        )
    problem.refresh_from_db()
    return problem


def _relink(problem: Problem, name: str, rows: Sequence[Any] | None, label: Any) -> list[str]:
    if rows is None:
        return []
    manager = getattr(problem, name)
    if set(rows) == set(manager.all()):
        return []
    manager.set(list(rows))
    return [f"{name}: {', '.join(label(r) for r in rows) or '-'}"]


def problem_status_label(value: str) -> str:
    return str(ProblemStatus(value).label)


def allowed_problem_moves(status: str) -> list[str]:
    return [s.value for s in ProblemStatus if s in PROBLEM_MOVES[ProblemStatus(status)]]


def open_actions(problem: Problem) -> QuerySet[CorrectiveAction]:
    """The actions still holding the problem open: its own and its postmortem's."""
    return CorrectiveAction.objects.filter(
        Q(problem=problem) | Q(postmortem__problem=problem)
    ).exclude(status__in=ACTION_FINISHED)


def check_problem_move(problem: Problem, to_status: str, note: str) -> None:
    """Raise :class:`Refused` unless ``problem`` may move to ``to_status`` now."""
    if to_status not in ProblemStatus.values:
        raise _invalid(_("Unknown status %(to)s.") % {"to": to_status}, "to")
    current = ProblemStatus(problem.status)
    target = ProblemStatus(to_status)
    if target not in PROBLEM_MOVES[current]:
        allowed = ", ".join(str(s.label) for s in ProblemStatus if s in PROBLEM_MOVES[current])
        raise Refused(
            _(
                "A problem cannot go from %(from)s to %(to)s. "
                "From %(from)s it can go to: %(allowed)s."
            )
            % {"from": current.label, "to": target.label, "allowed": allowed or _("nowhere")}
        )
    if target in (P.KNOWN_ERROR, P.RESOLVED) and not problem.root_cause.strip():
        raise _invalid(
            _("Record the root cause before the problem is %(to)s.") % {"to": target.label},
            "root_cause",
        )
    if target == P.KNOWN_ERROR and not problem.workaround.strip():
        raise _invalid(_("A known error needs its workaround."), "workaround")
    if current == P.RESOLVED and target == P.INVESTIGATING and not note.strip():
        raise _invalid(_("Say why the problem is investigated again."), "note")
    if target == P.CLOSED:
        left = list(open_actions(problem).order_by("due_date", "id")[:5])
        if left:
            raise Refused(
                _("The problem cannot be closed while actions are open: %(actions)s.")
                % {"actions": "; ".join(a.title for a in left)}
            )


def move_problem(problem: Problem, to_status: str, *, by: User | None, note: str = "") -> Problem:
    """Move the problem to another status, if :data:`PROBLEM_MOVES` and its rules allow it."""
    with transaction.atomic():
        current = Problem.objects.select_for_update().get(pk=problem.pk)
        check_problem_move(current, to_status, note)
        now = timezone.now()
        changed = Problem.objects.filter(pk=current.pk, status=current.status).update(
            status=to_status,
            updated_at=now,
            closed_at=now if to_status == P.CLOSED else None,
        )
        if not changed:
            raise Refused(_("The problem changed meanwhile; look again and retry."))
        ProblemEvent.objects.create(
            problem=current,
            at=now,
            kind=ProblemEventKind.STATUS,
            actor=by,
            from_status=current.status,
            to_status=to_status,
            detail=note.strip(),
        )
    problem.refresh_from_db()
    return problem


# --- corrective and preventive actions ---------------------------------------------------


def add_action(
    *,
    kind: str,
    title: str,
    owner: User | None,
    due_date: dt.date | None,
    by: User | None,
    problem: Problem | None = None,
    postmortem: Postmortem | None = None,
) -> CorrectiveAction:
    """A new action (status open) of a problem or a postmortem."""
    if (problem is None) == (postmortem is None):
        raise _invalid(_("An action belongs to one problem or one postmortem."), "problem")
    if kind not in ActionKind.values:
        raise _invalid(_("Choose corrective or preventive."), "kind")
    if not title.strip():
        raise _invalid(_("Say what is to be done."), "title")
    if owner is None:
        raise _invalid(_("Name the action's owner."), "owner")
    _check_owner(owner)
    if due_date is None:
        raise _invalid(_("Give the action a due date."), "due_date")
    if due_date < timezone.localdate():
        raise _invalid(_("The due date is in the past."), "due_date")
    with transaction.atomic():
        home = _problem_of(problem, postmortem)
        if home is not None and home.status == P.CLOSED:
            raise Refused(_("The problem is closed."))
        action = CorrectiveAction.objects.create(
            problem=problem,
            postmortem=postmortem,
            kind=kind,
            title=title.strip()[:300],
            owner=owner,
            due_date=due_date,
            created_by=by,
        )
        _note_on_problem(home, by, _("Action added: %(title)s") % {"title": action.title})
    return action


def _problem_of(problem: Problem | None, postmortem: Postmortem | None) -> Problem | None:
    if problem is not None:
        return Problem.objects.select_for_update().get(pk=problem.pk)
    if postmortem is not None and postmortem.problem_id is not None:
        return Problem.objects.select_for_update().get(pk=postmortem.problem_id)
    return None


def _note_on_problem(problem: Problem | None, by: User | None, detail: str) -> None:
    if problem is not None:
        ProblemEvent.objects.create(
            problem=problem, kind=ProblemEventKind.ACTION, actor=by, detail=detail
        )


def update_action(
    action: CorrectiveAction,
    *,
    by: User | None,
    status: str | None = None,
    evidence: str | None = None,
    owner: User | None = None,
    due_date: dt.date | None = None,
) -> CorrectiveAction:
    """Move an action on (done needs evidence, cancelled a reason) or change its owner or
    due date; a finished action does not change any more."""
    if status is not None and status not in ActionStatus.values:
        raise _invalid(_("Unknown status %(to)s.") % {"to": status}, "status")
    _check_owner(owner)
    with transaction.atomic():
        current = CorrectiveAction.objects.select_for_update().get(pk=action.pk)
        if current.status in ACTION_FINISHED:
            raise Refused(
                _("The action is %(status)s; it does not change any more.")
                % {"status": ActionStatus(current.status).label}
            )
        text = current.evidence if evidence is None else evidence.strip()
        said = _action_changes(current, status, text, owner, due_date)
        if not said:
            return current
        current.evidence = text
        current.owner = owner or current.owner
        current.due_date = due_date or current.due_date
        if status is not None:
            current.status = status
            current.finished_at = timezone.now() if status in ACTION_FINISHED else None
        current.save()
        _note_on_problem(
            _problem_of(current.problem, current.postmortem),
            by,
            f"{current.title}: {', '.join(said)}",
        )
    action.refresh_from_db()
    return action


def _action_changes(
    current: CorrectiveAction,
    status: str | None,
    evidence: str,
    owner: User | None,
    due_date: dt.date | None,
) -> list[str]:
    said = []
    if status is not None and status != current.status:
        target = ActionStatus(status)
        here = ActionStatus(current.status)
        if target not in ACTION_MOVES[here]:
            raise Refused(
                _("An action cannot go from %(from)s to %(to)s.")
                % {"from": here.label, "to": target.label}
            )
        if target == A.DONE and not evidence:
            raise _invalid(_("Say how the action was done (the evidence)."), "evidence")
        if target == A.CANCELLED and not evidence:
            raise _invalid(_("Say why the action is cancelled."), "evidence")
        said.append(f"{here.label} → {target.label}")
    if owner is not None and owner.pk != current.owner_id:
        said.append(f"owner: {owner.get_username()}")
    if due_date is not None and due_date != current.due_date:
        said.append(f"due: {due_date.isoformat()}")
    if evidence != current.evidence:
        said.append("evidence")
    return said


def is_overdue(action: CorrectiveAction, today: dt.date | None = None) -> bool:
    """Past its due date and neither done nor cancelled."""
    return action.status not in ACTION_FINISHED and action.due_date < (
        today or timezone.localdate()
    )


def overdue(
    qs: QuerySet[CorrectiveAction], today: dt.date | None = None
) -> QuerySet[CorrectiveAction]:
    return qs.exclude(status__in=ACTION_FINISHED).filter(due_date__lt=today or timezone.localdate())
