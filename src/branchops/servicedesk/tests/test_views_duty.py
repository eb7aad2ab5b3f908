"""The on-call, duty and dual-control pages: what they show, the services' refusals shown on
the page (and nothing saved), and who may do what: an auditor reads but cannot post, a branch
liaison sees who is on call but none of the duty records (they list the whole estate)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from branchops.alerts.models import Alert
from branchops.core.choices import Role
from branchops.core.models import User
from branchops.core.testing import make_site, make_user
from branchops.servicedesk import handover, oncall, services
from branchops.servicedesk.models import (
    AssignmentGroup,
    DualControlRecord,
    HandoverLog,
    Override,
    Shift,
)
from branchops.servicedesk.tests.support import make_group, make_ticket
from branchops.servicedesk.tests.test_views_support import XSS, XSS_ESCAPED, client_for, csrf_post

pytestmark = pytest.mark.django_db

LOCAL = "%Y-%m-%dT%H:%M"


def local_text(at: dt.datetime) -> str:
    return timezone.localtime(at).strftime(LOCAL)


@pytest.fixture
def noc() -> dict[str, Any]:
    """The NOC group: a daily rotation of wei and li from a week ago; a day shift (wei) on
    now, the night shift (li) next."""
    group = AssignmentGroup.objects.get_or_create(name="NOC")[0]  # shipped, empty
    wei = make_user(Role.NOC_OPERATOR, username="wei", first_name="Wei", last_name="Zhang")
    li = make_user(Role.NOC_OPERATOR, username="li", phone="13800000001")
    group.members.add(wei, li)
    rotation = oncall.create_rotation(
        group=group,
        name="daily",
        people=[wei, li],
        start_date=timezone.localdate() - dt.timedelta(days=7),
    )
    now = timezone.now()
    day = handover.create_shift(
        group=group,
        starts_at=now - dt.timedelta(hours=6),
        ends_at=now + dt.timedelta(hours=6),
        people=[wei],
    )
    night = handover.create_shift(
        group=group, starts_at=day.ends_at, ends_at=day.ends_at + dt.timedelta(hours=12),
        people=[li],
    )  # fmt: skip
    return {"group": group, "wei": wei, "li": li, "rotation": rotation, "day": day, "night": night}


def page(user: User, name: str, *args: Any, **params: Any) -> Any:
    return client_for(user).get(reverse(f"servicedesk:{name}", args=args), params)


def post(user: User, name: str, *args: Any, data: dict[str, Any] | None = None) -> Any:
    return csrf_post(client_for(user), reverse(f"servicedesk:{name}", args=args), data or {})


# ---- on call ---------------------------------------------------------------------------------


def test_who_is_on_call_now_per_group(noc: dict[str, Any]) -> None:
    make_group(name="Desktop support")
    answer = page(noc["wei"], "oncall")
    assert answer.status_code == 200
    html = answer.content.decode()
    now_person = oncall.who_is_on_call(noc["group"])
    assert now_person is not None
    row = html.split('data-bo-oncall="NOC"')[1].split("</tr>")[0]
    expected = "Wei Zhang" if now_person == noc["wei"] else "li"
    assert f"data-bo-oncall-person>{expected}</span>" in row
    assert "Rotation daily" in row
    assert "Nobody is scheduled" in html.split('data-bo-oncall="Desktop support"')[1]


def test_a_liaison_may_see_who_is_on_call() -> None:
    liaison = make_user(Role.BRANCH_LIAISON, sites=(make_site(),))
    assert page(liaison, "oncall").status_code == 200


def test_the_calendar_marks_overrides_and_shows_the_weeks_asked(noc: dict[str, Any]) -> None:
    tomorrow = timezone.localtime() + dt.timedelta(days=1)
    start = tomorrow.replace(hour=14, minute=0, second=0, microsecond=0)
    made = oncall.create_override(
        group=noc["group"], user=noc["wei"], starts_at=start, ends_at=start + dt.timedelta(hours=4),
        by=noc["li"], reason="dentist",
    )  # fmt: skip
    html = page(noc["li"], "oncall_group", noc["group"].pk, weeks=4).content.decode()
    assert html.count("data-bo-day=") == 28
    assert f'data-bo-override="{made.pk}"' in html
    cell = html.split(f'data-bo-day="{start:%Y-%m-%d}"')[1].split("</td>")[0]
    assert "14:00" in cell
    assert "18:00" in cell
    assert 'title="dentist"' in cell
    assert html.count("data-bo-day=") == 28
    assert page(noc["li"], "oncall_group", noc["group"].pk, weeks=9).content.decode().count(
        "data-bo-day="
    ) == 14  # fmt: skip


def test_an_override_from_the_page(noc: dict[str, Any]) -> None:
    start = timezone.localtime() + dt.timedelta(days=2)
    data = {
        "override-user": noc["li"].pk,
        "override-starts_at": local_text(start),
        "override-ends_at": local_text(start + dt.timedelta(hours=8)),
        "override-reason": "covers a training day",
    }
    answer = post(noc["wei"], "oncall_override", noc["group"].pk, data=data)
    assert answer.status_code == 302
    made = Override.objects.get()
    assert (made.user, made.created_by, made.reason) == (noc["li"], noc["wei"], data[
        "override-reason"
    ])  # fmt: skip


def test_an_override_that_ends_before_it_starts_is_refused_on_the_page(
    noc: dict[str, Any],
) -> None:
    start = timezone.localtime() + dt.timedelta(days=2)
    data = {
        "override-user": noc["li"].pk,
        "override-starts_at": local_text(start),
        "override-ends_at": local_text(start - dt.timedelta(hours=1)),
    }
    answer = post(noc["wei"], "oncall_override", noc["group"].pk, data=data)
    assert answer.status_code == 200
    html = answer.content.decode()
    field = html.split('id="field-override-ends_at"')[1].split("</div>\n</div>")[0]
    assert "The override must end after it starts." in field
    assert not Override.objects.exists()


def test_a_swap_from_the_page_and_its_refusal(noc: dict[str, Any]) -> None:
    base = timezone.localtime() + dt.timedelta(days=3)
    same = {"swap-first": local_text(base), "swap-second": local_text(base)}
    refused = post(noc["wei"], "oncall_swap", noc["group"].pk, data=same)
    assert refused.status_code == 200
    assert "Both moments fall in the same shift." in refused.content.decode()
    assert not Override.objects.exists()

    other = {"swap-first": local_text(base), "swap-second": local_text(base + dt.timedelta(days=1))}
    assert post(noc["wei"], "oncall_swap", noc["group"].pk, data=other).status_code == 302
    first, second = Override.objects.order_by("starts_at")
    assert {first.user, second.user} == {noc["wei"], noc["li"]}
    assert first.replaces == second.user
    assert second.replaces == first.user


def test_an_auditor_reads_the_calendar_but_cannot_change_it(noc: dict[str, Any]) -> None:
    auditor = make_user(Role.AUDITOR)
    html = page(auditor, "oncall_group", noc["group"].pk).content.decode()
    assert "data-bo-day=" in html
    assert 'id="override"' not in html
    assert 'id="swap"' not in html
    start = timezone.localtime() + dt.timedelta(days=2)
    data = {
        "override-user": noc["li"].pk,
        "override-starts_at": local_text(start),
        "override-ends_at": local_text(start + dt.timedelta(hours=1)),
    }
    assert post(auditor, "oncall_override", noc["group"].pk, data=data).status_code == 403
    assert post(auditor, "oncall_swap", noc["group"].pk, data={}).status_code == 403
    assert not Override.objects.exists()


# ---- shifts and handover ---------------------------------------------------------------------


def firing_root(title: str) -> Alert:
    now = timezone.now() - dt.timedelta(minutes=5)
    return Alert.objects.create(
        fingerprint=f"fp-{title}", source="check", name="device-down", severity=2,
        status="firing", title=title, site=make_site(), started_at=now, last_seen_at=now,
    )  # fmt: skip


def test_the_shift_list_highlights_the_current_shift(noc: dict[str, Any]) -> None:
    html = page(noc["wei"], "shift_list").content.decode()
    day_row = html.split(f'data-bo-shift="{noc["day"].pk}"')[1].split("</tr>")[0]
    night_row = html.split(f'data-bo-shift="{noc["night"].pk}"')[1].split("</tr>")[0]
    assert "bo-shift-current" in day_row
    assert 'aria-current="true"' in day_row
    assert "On duty now" in day_row
    assert "On duty now" not in night_row
    assert f'data-bo-handover-write="{noc["day"].pk}"' in day_row
    assert "data-bo-handover-write" not in night_row  # it has not started


def test_hand_over_goes_to_the_shift_the_user_is_on(noc: dict[str, Any]) -> None:
    answer = page(noc["wei"], "handover_start")
    assert answer.status_code == 302
    assert answer["Location"] == reverse("servicedesk:handover_write", args=[noc["day"].pk])
    nobody = make_user(Role.NOC_OPERATOR)
    assert page(nobody, "handover_start")["Location"] == reverse("servicedesk:shift_list")


def test_writing_a_handover_lists_what_is_open_and_copies_it(noc: dict[str, Any]) -> None:
    still_open = make_ticket(title="Branch printer offline")
    done = make_ticket(title="Fixed before the handover")
    services.move(done, "resolved", by=None, note="cable reseated")
    root = firing_root("Core switch unreachable")
    form = page(noc["wei"], "handover_write", noc["day"].pk).content.decode()
    assert f'data-bo-handover-ticket="{still_open.number}"' in form
    assert done.number not in form
    assert f'data-bo-handover-alert="{root.pk}"' in form
    assert f'<option value="{noc["night"].pk}" selected>' in form  # the next shift

    answer = post(
        noc["wei"], "handover_write", noc["day"].pk,
        data={"incoming": noc["night"].pk, "summary": f"Watch BR-0042 {XSS}"},
    )  # fmt: skip
    log = HandoverLog.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("servicedesk:handover_detail", args=[log.pk])
    assert [t["number"] for t in log.open_tickets] == [still_open.number]
    detail = page(noc["li"], "handover_detail", log.pk).content.decode()
    assert XSS_ESCAPED in detail
    assert XSS not in detail
    assert f'data-bo-handover-ticket="{still_open.number}"' in detail
    assert "Not signed yet" in detail
    # The shift cannot hand over twice: its form now leads to the log.
    assert page(noc["wei"], "handover_write", noc["day"].pk)["Location"] == reverse(
        "servicedesk:handover_detail", args=[log.pk]
    )


@pytest.mark.parametrize(
    ("who", "summary", "where", "words"),
    [
        ("wei", "  ", 'id="field-summary"', "Write what the incoming shift needs to know."),
        ("li", "quiet", "data-bo-refusal", "li is not on the outgoing shift."),
    ],
)
def test_a_refused_handover_is_shown_and_nothing_is_saved(
    noc: dict[str, Any], who: str, summary: str, where: str, words: str
) -> None:
    answer = post(
        noc[who], "handover_write", noc["day"].pk,
        data={"incoming": noc["night"].pk, "summary": summary},
    )  # fmt: skip
    assert answer.status_code == 200
    html = answer.content.decode()
    assert words in html.split(where)[1][:400]
    assert not HandoverLog.objects.exists()


def test_only_the_incoming_shift_signs_and_the_refusal_is_shown(noc: dict[str, Any]) -> None:
    log = handover.create_handover(
        outgoing=noc["day"], incoming=noc["night"], summary="quiet", by=noc["wei"]
    )
    html = page(noc["wei"], "handover_detail", log.pk).content.decode()
    assert "Only a person of the incoming shift signs." in html
    refused = post(noc["wei"], "handover_sign", log.pk)
    assert refused.status_code == 200
    assert "wei is not on the incoming shift and cannot sign." in refused.content.decode()
    assert HandoverLog.objects.get().signed_at is None

    html = page(noc["li"], "handover_detail", log.pk).content.decode()
    assert "You are on the incoming shift" in html
    assert post(noc["li"], "handover_sign", log.pk).status_code == 302
    signed = HandoverLog.objects.get()
    assert signed.signed_by == noc["li"]
    html = page(noc["li"], "handover_detail", log.pk).content.decode()
    assert "data-bo-sign" not in html
    assert signed.signed_at is not None
    assert timezone.localtime(signed.signed_at).strftime("%Y-%m-%d %H:%M") in html


def test_the_handover_history_and_its_filters(noc: dict[str, Any]) -> None:
    log = handover.create_handover(
        outgoing=noc["day"], incoming=noc["night"], summary="quiet", by=noc["wei"]
    )
    assert f'data-bo-handover="{log.pk}"' in page(noc["li"], "handover_list").content.decode()
    signed_only = page(noc["li"], "handover_list", signed="yes").content.decode()
    assert f'data-bo-handover="{log.pk}"' not in signed_only
    other = page(noc["li"], "handover_list", group=make_group().pk).content.decode()
    assert f'data-bo-handover="{log.pk}"' not in other


def test_an_auditor_reads_duty_records_but_posts_nothing(noc: dict[str, Any]) -> None:
    auditor = make_user(Role.AUDITOR)
    log = handover.create_handover(
        outgoing=noc["day"], incoming=noc["night"], summary="quiet", by=noc["wei"]
    )
    html = page(auditor, "handover_detail", log.pk).content.decode()
    assert "quiet" in html
    assert "data-bo-sign" not in html
    shifts = page(auditor, "shift_list").content.decode()
    assert "data-bo-handover-write" not in shifts
    assert 'id="dual-control-form"' not in page(auditor, "dual_control").content.decode()
    assert post(auditor, "handover_sign", log.pk).status_code == 403
    assert page(auditor, "handover_write", noc["night"].pk).status_code == 403
    assert post(auditor, "dual_control", data={"what": "x"}).status_code == 403
    assert HandoverLog.objects.get().signed_at is None


def test_a_liaison_sees_no_duty_records_and_no_menu_entries_for_them(
    noc: dict[str, Any],
) -> None:
    log = handover.create_handover(
        outgoing=noc["day"], incoming=noc["night"], summary="quiet", by=noc["wei"]
    )
    liaison = make_user(Role.BRANCH_LIAISON, sites=(make_site(),))
    for name, args in (
        ("shift_list", ()),
        ("handover_list", ()),
        ("handover_detail", (log.pk,)),
        ("dual_control", ()),
    ):
        assert page(liaison, name, *args).status_code == 403, name
    menu = page(liaison, "oncall").content.decode()
    assert reverse("servicedesk:oncall") in menu
    for name in ("shift_list", "handover_list", "dual_control"):
        assert f'href="{reverse("servicedesk:" + name)}"' not in menu
    staff_menu = page(noc["wei"], "oncall").content.decode()
    for name in ("oncall", "shift_list", "handover_list", "dual_control"):
        assert f'href="{reverse("servicedesk:" + name)}"' in staff_menu


# ---- dual-person operations ------------------------------------------------------------------


def dual(operator: User, reviewer: User, **kw: Any) -> dict[str, Any]:
    return {
        "what": "Changed the core firewall's NAT rule",
        "performed_at": "",
        "operator": operator.pk,
        "reviewer": reviewer.pk,
        "outcome": "done",
        "ticket": "",
        "note": "",
        **kw,
    }


def test_a_dual_person_operation_is_recorded_and_listed(noc: dict[str, Any]) -> None:
    ticket = make_ticket()
    values = dual(noc["wei"], noc["li"], ticket=ticket.number)
    answer = post(noc["wei"], "dual_control", data=values)
    assert answer.status_code == 302
    record = DualControlRecord.objects.get()
    assert (record.operator, record.reviewer, record.ticket) == (noc["wei"], noc["li"], ticket)
    html = page(noc["li"], "dual_control").content.decode()
    assert f'data-bo-dual-control="{record.pk}"' in html
    assert ticket.number in html


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"reviewer": "operator"}, "reviewer", "The reviewer must be someone other than"),
        ({"ticket": "INC-1999-000001"}, "ticket", "No ticket is numbered INC-1999-000001."),
        ({"what": ""}, "what", "This field is required."),
    ],
)
def test_refused_records_are_shown_on_their_field(
    noc: dict[str, Any], changes: dict[str, str], field: str, words: str
) -> None:
    values = dual(noc["wei"], noc["li"])
    for key, value in changes.items():
        values[key] = values.get(value, value)
    answer = post(noc["wei"], "dual_control", data=values)
    assert answer.status_code == 200
    shown = answer.content.decode().split(f'id="field-{field}"')[1][:1500]
    assert words in shown
    assert not DualControlRecord.objects.exists()


def test_every_page_answers_before_anything_is_entered() -> None:
    """An empty group, no shift, no handover, no record: every page still renders."""
    user = make_user(Role.NOC_OPERATOR)
    group = AssignmentGroup.objects.create(name="Empty")
    for name, args in (
        ("oncall", ()),
        ("oncall_group", (group.pk,)),
        ("shift_list", ()),
        ("handover_list", ()),
        ("dual_control", ()),
    ):
        assert page(user, name, *args).status_code == 200, name
    assert not Shift.objects.exists()
