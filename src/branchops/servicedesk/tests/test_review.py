"""Problem records and their actions, as specifications: the status machine and its
refusals, the "5 whys", closing only when every action is done or cancelled, overdue
actions; and the postmortem's timeline, which merges alert and ticket events in order."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from branchops.alerts.models import Alert, AlertEvent
from branchops.core.choices import Role
from branchops.core.models import AuditEvent
from branchops.core.testing import make_device, make_site, make_user
from branchops.servicedesk import knowledge, review, review_postmortem, services
from branchops.servicedesk.models import (
    CorrectiveAction,
    Postmortem,
    Problem,
    ProblemEvent,
    Ticket,
    TicketSequence,
)
from branchops.servicedesk.review_choices import ActionStatus, ProblemStatus
from branchops.servicedesk.services import Refused
from branchops.servicedesk.tests.support import make_ticket
from branchops.servicedesk.wipe import wipe_tickets

pytestmark = pytest.mark.django_db

TOMORROW = timezone.localdate() + dt.timedelta(days=1)


def problem(**kw: object) -> Problem:
    values: dict[str, object] = {"title": "Branch VPN drops every morning", "by": make_user()}
    values.update(kw)
    return review.open_problem(**values)  # type: ignore[arg-type]


def known(p: Problem) -> Problem:
    return review.update_problem(
        p,
        by=None,
        changes={"root_cause": "DPD timeout too short", "workaround": "Restart the tunnel"},
    )


# --- the status machine ------------------------------------------------------------------


def test_a_new_problem_is_open_numbered_and_has_its_created_event() -> None:
    ticket = make_ticket()
    p = problem(tickets=[ticket])
    assert p.status == ProblemStatus.OPEN
    assert p.number.startswith(f"PRB-{timezone.localdate().year}-")
    assert list(p.tickets.all()) == [ticket]
    assert list(p.events.values_list("kind", "to_status")) == [("created", "open")]
    assert problem().number > p.number


def test_a_problem_goes_through_investigation_known_error_resolved_closed() -> None:
    p = problem()
    review.move_problem(p, "investigating", by=None)
    known(p)
    review.move_problem(p, "known_error", by=None)
    review.move_problem(p, "resolved", by=None)
    review.move_problem(p, "closed", by=None)
    assert p.status == ProblemStatus.CLOSED
    assert p.closed_at is not None
    moves = list(p.events.filter(kind="status").values_list("from_status", "to_status"))
    assert moves == [
        ("open", "investigating"),
        ("investigating", "known_error"),
        ("known_error", "resolved"),
        ("resolved", "closed"),
    ]


def test_a_move_the_machine_does_not_allow_is_refused_with_the_allowed_ones() -> None:
    p = problem()
    with pytest.raises(Refused) as refused:
        review.move_problem(p, "closed", by=None)
    assert refused.value.status == 409
    assert refused.value.message == (
        "A problem cannot go from Open to Closed. "
        "From Open it can go to: Investigating, Known error, Resolved."
    )
    assert ProblemEvent.objects.filter(problem=p).count() == 1  # nothing written


def test_a_closed_problem_goes_nowhere_and_cannot_be_edited() -> None:
    p = known(problem())
    review.move_problem(p, "resolved", by=None)
    review.move_problem(p, "closed", by=None)
    with pytest.raises(Refused, match="From Closed it can go to: nowhere"):
        review.move_problem(p, "investigating", by=None, note="again")
    with pytest.raises(Refused, match="The problem is closed"):
        review.update_problem(p, by=None, changes={"title": "New title"})


def test_a_known_error_needs_its_root_cause_and_workaround() -> None:
    p = problem()
    with pytest.raises(Refused) as refused:
        review.move_problem(p, "known_error", by=None)
    assert (refused.value.status, refused.value.field) == (400, "root_cause")
    review.update_problem(p, by=None, changes={"root_cause": "DPD timeout too short"})
    with pytest.raises(Refused) as refused:
        review.move_problem(p, "known_error", by=None)
    assert refused.value.field == "workaround"
    assert Problem.objects.get(pk=p.pk).status == ProblemStatus.OPEN


def test_investigating_a_resolved_problem_again_needs_a_reason() -> None:
    p = known(problem())
    review.move_problem(p, "resolved", by=None)
    with pytest.raises(Refused) as refused:
        review.move_problem(p, "investigating", by=None)
    assert refused.value.field == "note"
    review.move_problem(p, "investigating", by=None, note="Dropped again on Monday")
    assert p.status == ProblemStatus.INVESTIGATING


def test_an_unknown_status_is_a_bad_value_on_its_field() -> None:
    with pytest.raises(Refused) as refused:
        review.move_problem(problem(), "fixed", by=None)
    assert (refused.value.status, refused.value.field) == (400, "to")


# --- 5 whys ------------------------------------------------------------------------------


def test_the_whys_are_kept_in_order_without_blank_pairs() -> None:
    whys = [
        {"why": "Why did the VPN drop?", "answer": "The peer was declared dead"},
        {"why": "", "answer": ""},
        {"why": "Why dead?", "answer": "DPD timeout of 10 s, the link has 12 s gaps"},
    ]
    p = problem(whys=whys, root_cause="DPD timeout too short")
    assert [w["why"] for w in p.whys] == ["Why did the VPN drop?", "Why dead?"]


@pytest.mark.parametrize(
    ("whys", "message"),
    [
        ([{"why": f"Why {i}?", "answer": "because"} for i in range(6)], "At most 5 whys."),
        ([{"why": "", "answer": "because"}], "Why 1 has an answer but no question."),
        (
            [{"why": "Why?", "answer": ""}, {"why": "And why?", "answer": "because"}],
            "Answer why 1 before asking the next one.",
        ),
    ],
)
def test_whys_that_break_the_chain_are_refused(whys: list[dict[str, str]], message: str) -> None:
    with pytest.raises(Refused) as refused:
        problem(whys=whys)
    assert (refused.value.field, refused.value.message) == ("whys", message)
    assert not Problem.objects.exists()


def test_the_last_why_may_wait_for_its_answer() -> None:
    p = problem(whys=[{"why": "Why did the VPN drop?", "answer": ""}])
    assert p.whys == [{"why": "Why did the VPN drop?", "answer": ""}]


# --- corrective and preventive actions ---------------------------------------------------


def action(p: Problem, **kw: object) -> CorrectiveAction:
    values: dict[str, object] = {
        "kind": "corrective",
        "title": "Raise DPD timeout to 30 s on all branch firewalls",
        "owner": make_user(Role.OPS_ENGINEER),
        "due_date": TOMORROW,
        "by": None,
        "problem": p,
    }
    values.update(kw)
    return review.add_action(**values)  # type: ignore[arg-type]


def test_closing_a_problem_with_an_open_action_is_refused_with_the_action_named() -> None:
    p = known(problem())
    fix = action(p)
    action(p, kind="preventive", title="Alert on tunnel flaps")
    review.move_problem(p, "resolved", by=None)
    with pytest.raises(Refused) as refused:
        review.move_problem(p, "closed", by=None)
    assert refused.value.message == (
        "The problem cannot be closed while actions are open: "
        "Raise DPD timeout to 30 s on all branch firewalls; Alert on tunnel flaps."
    )
    review.update_action(fix, by=None, status="done", evidence="Change CHG-88, all 600 done")
    with pytest.raises(Refused, match="Alert on tunnel flaps"):
        review.move_problem(p, "closed", by=None)
    assert Problem.objects.get(pk=p.pk).status == ProblemStatus.RESOLVED


def test_a_problem_closes_once_its_actions_are_done_or_cancelled() -> None:
    p = known(problem())
    review.update_action(action(p), by=None, status="done", evidence="CHG-88")
    review.update_action(action(p), by=None, status="cancelled", evidence="Covered by CHG-88")
    review.move_problem(p, "resolved", by=None)
    review.move_problem(p, "closed", by=None)
    assert p.status == ProblemStatus.CLOSED


def test_an_open_action_of_the_problems_postmortem_also_holds_it_open() -> None:
    p = known(problem(tickets=[make_ticket()]))
    pm = review_postmortem.open_postmortem(title="VPN drops", by=make_user(), problem=p)
    action(p, problem=None, postmortem=pm)
    review.move_problem(p, "resolved", by=None)
    with pytest.raises(Refused, match="while actions are open"):
        review.move_problem(p, "closed", by=None)


def test_done_needs_evidence_cancelled_a_reason_and_both_are_final() -> None:
    fix = action(problem())
    with pytest.raises(Refused) as refused:
        review.update_action(fix, by=None, status="done")
    assert refused.value.field == "evidence"
    with pytest.raises(Refused, match="why the action is cancelled"):
        review.update_action(fix, by=None, status="cancelled", evidence="  ")
    review.update_action(fix, by=None, status="in_progress")
    review.update_action(fix, by=None, status="done", evidence="CHG-88")
    assert fix.finished_at is not None
    with pytest.raises(Refused, match="is Done; it does not change any more"):
        review.update_action(fix, by=None, status="open")


def test_an_action_needs_an_owner_and_a_due_date_not_in_the_past() -> None:
    p = problem()
    for kw, field in (
        ({"owner": None}, "owner"),
        ({"due_date": None}, "due_date"),
        ({"due_date": timezone.localdate() - dt.timedelta(days=1)}, "due_date"),
        ({"kind": "someday"}, "kind"),
        ({"title": " "}, "title"),
    ):
        with pytest.raises(Refused) as refused:
            action(p, **kw)
        assert refused.value.field == field
    assert not CorrectiveAction.objects.exists()


def test_a_closed_problem_takes_no_new_action() -> None:
    p = known(problem())
    review.move_problem(p, "resolved", by=None)
    review.move_problem(p, "closed", by=None)
    with pytest.raises(Refused, match="The problem is closed"):
        action(p)


def test_overdue_means_past_due_and_neither_done_nor_cancelled() -> None:
    p = problem()
    late, done, fine = action(p), action(p), action(p)
    review.update_action(done, by=None, status="done", evidence="CHG-1")
    CorrectiveAction.objects.filter(pk__in=[late.pk, done.pk]).update(
        due_date=timezone.localdate() - dt.timedelta(days=3)
    )
    assert list(review.overdue(CorrectiveAction.objects.all())) == [late]
    late.refresh_from_db()
    fine.refresh_from_db()
    assert review.is_overdue(late)
    assert not review.is_overdue(fine)
    assert late.status == ActionStatus.OPEN


def test_action_changes_are_written_on_the_problem() -> None:
    p = problem()
    review.update_action(action(p), by=None, status="done", evidence="CHG-88")
    details = list(p.events.filter(kind="action").values_list("detail", flat=True))
    assert details[0].startswith("Action added: Raise DPD timeout")
    assert details[1].endswith("Open → Done, evidence")


# --- the postmortem's timeline -----------------------------------------------------------


def _at(minutes: int) -> dt.datetime:
    return timezone.now().replace(microsecond=0) - dt.timedelta(minutes=120 - minutes)


def test_the_timeline_merges_alert_and_ticket_events_and_notes_in_time_order() -> None:
    site = make_site()
    alert = Alert.objects.create(
        fingerprint="check:1", source="check", name="device_down", severity=1,
        title="BR fw1 down", site=site, started_at=_at(0), last_seen_at=_at(0),
    )  # fmt: skip
    AlertEvent.objects.create(alert=alert, at=_at(0), kind="fired")
    AlertEvent.objects.create(alert=alert, at=_at(30), kind="acknowledged")
    AlertEvent.objects.create(alert=alert, at=_at(90), kind="resolved")
    noc = make_user(Role.NOC_OPERATOR)
    ticket = make_ticket(by=noc, site=site, created_at=_at(5), alerts=[alert])
    services.worklog(ticket, by=noc, note="Called the branch", at=_at(40))
    pm = review_postmortem.open_postmortem(title="fw1 outage", by=noc, ticket=ticket)
    review_postmortem.add_entry(pm, at=_at(60), what="Vendor engineer on site", by=noc)

    lines = review_postmortem.timeline(pm)

    assert [(ln.source, ln.what) for ln in lines] == [
        ("alert", "Fired"),
        ("ticket", "Created: New"),
        ("ticket", "Alert linked"),
        ("alert", "Acknowledged"),
        ("ticket", "Work log"),
        ("note", "Note"),
        ("alert", "Resolved"),
    ]
    assert [ln.at for ln in lines] == sorted(ln.at for ln in lines)
    assert lines[1].reference == ticket.number
    assert lines[0].reference.endswith("BR fw1 down")


def test_a_problems_timeline_covers_every_linked_incident() -> None:
    first, second = make_ticket(created_at=_at(0)), make_ticket(created_at=_at(50))
    p = problem(tickets=[second, first])
    pm = review_postmortem.open_postmortem(title="Recurring drops", by=make_user(), problem=p)
    refs = [ln.reference for ln in review_postmortem.timeline(pm)]
    assert refs == [first.number, second.number]


def test_a_liaisons_timeline_leaves_out_alerts_of_other_sites() -> None:
    own, other = make_site(), make_site()
    alert = Alert.objects.create(
        fingerprint="check:2", source="check", name="device_down", severity=1,
        title="HQ core down", site=other, started_at=_at(0), last_seen_at=_at(0),
    )  # fmt: skip
    AlertEvent.objects.create(alert=alert, at=_at(0), kind="fired")
    ticket = make_ticket(site=own, created_at=_at(5), alerts=[alert])
    pm = review_postmortem.open_postmortem(title="x", by=make_user(), ticket=ticket)
    liaison = make_user(Role.BRANCH_LIAISON, sites=(own,))
    assert {ln.source for ln in review_postmortem.timeline(pm, liaison)} == {"ticket"}
    assert "alert" in {ln.source for ln in review_postmortem.timeline(pm)}


def test_timeline_entries_are_refused_in_the_future_or_empty() -> None:
    pm = review_postmortem.open_postmortem(title="x", by=make_user(), ticket=make_ticket())
    later = timezone.now() + dt.timedelta(hours=1)
    with pytest.raises(Refused) as refused:
        review_postmortem.add_entry(pm, at=later, what="Planned", by=make_user())
    assert refused.value.field == "at"
    with pytest.raises(Refused) as refused:
        review_postmortem.add_entry(pm, at=_at(0), what=" ", by=make_user())
    assert refused.value.field == "what"
    assert not pm.entries.exists()


def test_one_postmortem_per_incident_and_it_is_audited() -> None:
    ticket = make_ticket()
    pm = review_postmortem.open_postmortem(title="fw1 outage", by=make_user(), ticket=ticket)
    with pytest.raises(Refused, match="already has a postmortem"):
        review_postmortem.open_postmortem(title="again", by=make_user(), ticket=ticket)
    with pytest.raises(Refused) as refused:
        review_postmortem.open_postmortem(title="both", by=make_user())
    assert refused.value.field == "ticket"
    review_postmortem.update_postmortem(pm, by=make_user(), changes={"lessons": "Spare PSU"})
    assert AuditEvent.objects.filter(object_id=str(pm.pk), action="update").exists()


def test_a_problem_links_affected_devices_and_edits_are_recorded() -> None:
    fw = make_device()
    p = problem()
    review.update_problem(p, by=None, changes={"title": "VPN drops"}, devices=[fw])
    assert list(p.devices.all()) == [fw]
    assert p.events.filter(kind="updated").get().detail == f"title, devices: {fw.name}"


def test_numbering_goes_on_after_the_sequences_were_emptied() -> None:
    first = problem()
    TicketSequence.objects.all().delete()  # what a demo reset does
    assert problem().number > first.number


def test_a_demo_reset_takes_the_review_records_with_the_tickets() -> None:
    ticket = make_ticket()
    p = problem(tickets=[ticket], devices=[make_device()])
    action(p)
    pm = review_postmortem.open_postmortem(title="x", by=make_user(), ticket=ticket)
    review_postmortem.add_entry(pm, at=timezone.now(), what="called", by=make_user())
    kept = knowledge.write_article(by=None, title="t", symptom="s", solution="x", problem=p)
    wipe_tickets()
    assert not Ticket.objects.exists()
    assert not Problem.objects.exists()
    assert not Postmortem.objects.exists()
    kept.refresh_from_db()
    assert kept.problem is None
