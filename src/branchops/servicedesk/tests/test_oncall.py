"""On-call: rotations across hand-offs in Asia/Shanghai, overrides and swaps, who is on call
now (in a fixed number of queries), and the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import path
from django.utils import timezone
from ninja import NinjaAPI

from branchops.core.api import BearerOrSession, BearerToken
from branchops.core.api import api as product_api
from branchops.core.choices import Role
from branchops.core.models import User
from branchops.core.testing import ApiClient, make_user
from branchops.servicedesk import api as servicedesk_api
from branchops.servicedesk import oncall
from branchops.servicedesk.models import AssignmentGroup, Override, Rotation
from branchops.servicedesk.services import Refused
from branchops.servicedesk.tests.support import engineer, local, make_group

test_api = NinjaAPI(
    auth=[BearerToken(), BearerOrSession()],
    urls_namespace="oncall-tests",
    docs_url=None,
    openapi_url="/openapi.json",
)
test_api._exception_handlers = product_api._exception_handlers
test_api.add_router("/", servicedesk_api.router())
urlpatterns = [path("api/v1/", test_api.urls)]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

UTC = dt.UTC


def team(n: int = 3, **group: Any) -> tuple[AssignmentGroup, list[User]]:
    g = noc() if group.get("name") == "NOC" else make_group(**group)
    return g, [engineer(g) for _ in range(n)]


def noc() -> AssignmentGroup:
    """The group the shipped ticket policy names (there after migrating)."""
    return AssignmentGroup.objects.get_or_create(name="NOC")[0]


def daily(group: AssignmentGroup, people: list[User], **kw: Any) -> Rotation:
    values: dict[str, Any] = {"name": "primary", "start_date": dt.date(2026, 3, 2)}
    values.update(kw)
    return oncall.create_rotation(group=group, people=people, **values)


# ---- rotations ------------------------------------------------------------------------------


def test_a_daily_rotation_hands_over_at_nine_shanghai_time() -> None:
    g, (a, b, c) = team()
    daily(g, [a, b, c])  # from Monday 2 March 2026, 09:00 in Shanghai
    who = oncall.who_is_on_call
    assert who(g, local(2026, 3, 2, 8, 59)) is None  # before the first shift
    assert who(g, local(2026, 3, 2, 9, 0)) == a
    assert who(g, local(2026, 3, 3, 8, 59, 59)) == a
    assert who(g, local(2026, 3, 3, 9, 0)) == b
    assert who(g, local(2026, 3, 4, 12, 0)) == c
    assert who(g, local(2026, 3, 5, 9, 0)) == a  # round again
    assert who(g, local(2026, 3, 5, 9, 0) + dt.timedelta(days=300)) == [a, b, c][300 % 3]


def test_the_hand_off_is_local_time_and_shanghai_has_no_summer_time() -> None:
    g, (a, b) = team(2)
    daily(g, [a, b])
    # 09:00 in Shanghai is 01:00 UTC, in winter and in summer alike.
    for day in (dt.date(2026, 3, 3), dt.date(2026, 7, 14), dt.date(2026, 11, 3)):
        handoff = dt.datetime.combine(day, dt.time(1), tzinfo=UTC)
        before = oncall.who_is_on_call(g, handoff - dt.timedelta(seconds=1))
        after = oncall.who_is_on_call(g, handoff)
        assert before != after
        assert {before, after} == {a, b}


def test_twelve_hour_shifts_alternate_day_and_night() -> None:
    g, (day, night) = team(2)
    daily(g, [day, night], shift_hours=12, handoff_time=dt.time(8, 30))
    assert oncall.who_is_on_call(g, local(2026, 3, 2, 8, 30)) == day
    assert oncall.who_is_on_call(g, local(2026, 3, 2, 20, 29)) == day
    assert oncall.who_is_on_call(g, local(2026, 3, 2, 20, 30)) == night
    assert oncall.who_is_on_call(g, local(2026, 3, 3, 3, 0)) == night
    assert oncall.who_is_on_call(g, local(2026, 3, 3, 8, 30)) == day


def test_a_weekly_rotation_and_a_person_twice_in_the_order() -> None:
    g, (a, b) = team(2)
    daily(g, [a, b, a], shift_hours=168)
    weeks = [
        oncall.who_is_on_call(g, local(2026, 3, 2, 10) + dt.timedelta(weeks=w)) for w in range(6)
    ]
    assert weeks == [a, b, a, a, b, a]


def test_a_new_rotation_takes_over_from_its_start_date() -> None:
    g, (a, b, c) = team()
    daily(g, [a, b])
    daily(g, [c], name="from April", start_date=dt.date(2026, 4, 1))
    assert oncall.who_is_on_call(g, local(2026, 3, 31, 23)) in (a, b)
    assert oncall.who_is_on_call(g, local(2026, 4, 1, 9)) == c
    Rotation.objects.filter(name="from April").update(active=False)
    assert oncall.who_is_on_call(g, local(2026, 4, 1, 9)) in (a, b)


def test_rotation_refusals() -> None:
    g, (a,) = team(1)
    outsider = make_user(Role.OPS_ENGINEER)
    with pytest.raises(Refused, match="not a member"):
        daily(g, [a, outsider])
    with pytest.raises(Refused, match="Name the people"):
        daily(g, [])
    with pytest.raises(Refused, match="Unknown time zone"):
        daily(g, [a], time_zone="Mars/Olympus")
    daily(g, [a])
    with pytest.raises(Refused, match="already has a rotation"):
        daily(g, [a])
    assert Rotation.objects.count() == 1


# ---- overrides and swaps --------------------------------------------------------------------


def test_an_override_covers_a_period_and_notes_whom_it_covers() -> None:
    g, (a, b, c) = team()
    daily(g, [a, b])
    by = make_user(Role.NOC_OPERATOR)
    o = oncall.create_override(
        group=g, user=c, starts_at=local(2026, 3, 2, 14), ends_at=local(2026, 3, 2, 18), by=by,
        reason="a's daughter's school play",
    )  # fmt: skip
    assert o.replaces == a
    assert oncall.who_is_on_call(g, local(2026, 3, 2, 13, 59)) == a
    assert oncall.who_is_on_call(g, local(2026, 3, 2, 14)) == c
    assert oncall.who_is_on_call(g, local(2026, 3, 2, 18)) == a
    later = oncall.create_override(
        group=g, user=b, starts_at=local(2026, 3, 2, 15), ends_at=local(2026, 3, 2, 16), by=by
    )
    assert later.replaces == c  # the schedule as it stood, override included
    assert oncall.who_is_on_call(g, local(2026, 3, 2, 15, 30)) == b  # the later one wins


def test_an_override_works_without_any_rotation_and_refuses_nonsense() -> None:
    g, (a,) = team(1)
    o = oncall.create_override(
        group=g, user=a, starts_at=local(2026, 3, 2), ends_at=local(2026, 3, 3), by=None
    )
    assert o.replaces is None
    assert oncall.who_is_on_call(g, local(2026, 3, 2, 12)) == a
    with pytest.raises(Refused, match="end after it starts"):
        oncall.create_override(
            group=g, user=a, starts_at=local(2026, 3, 3), ends_at=local(2026, 3, 3), by=None
        )
    with pytest.raises(Refused, match="not a member"):
        oncall.create_override(
            group=g, user=make_user(), starts_at=local(2026, 3, 3), ends_at=local(2026, 3, 4),
            by=None,
        )  # fmt: skip
    with pytest.raises(Refused, match="time zone"):
        oncall.create_override(
            group=g, user=a, starts_at=dt.datetime(2026, 3, 3), ends_at=local(2026, 3, 4), by=None
        )


def test_a_swap_is_two_overrides_each_taking_the_others_shift() -> None:
    g, (a, b, c) = team()
    daily(g, [a, b, c])
    first, second = oncall.swap(
        group=g, first=local(2026, 3, 2, 12), second=local(2026, 3, 4, 12), by=None
    )
    assert (first.user, first.replaces, first.starts_at) == (c, a, local(2026, 3, 2, 9))
    assert (second.user, second.replaces, second.ends_at) == (a, c, local(2026, 3, 5, 9))
    assert oncall.who_is_on_call(g, local(2026, 3, 2, 20)) == c
    assert oncall.who_is_on_call(g, local(2026, 3, 3, 20)) == b  # untouched
    assert oncall.who_is_on_call(g, local(2026, 3, 4, 20)) == a
    assert "Swap of" in first.reason
    with pytest.raises(Refused, match="same shift"):
        oncall.swap(group=g, first=local(2026, 3, 3, 10), second=local(2026, 3, 3, 11), by=None)
    with pytest.raises(Refused, match="No rotation"):
        oncall.swap(group=g, first=local(2026, 1, 3, 10), second=local(2026, 3, 3, 11), by=None)


# ---- now, next hand-off, speed --------------------------------------------------------------


def test_on_call_now_by_group_name() -> None:
    g, (a, b) = team(2, name="Network")
    today = timezone.localdate()
    daily(g, [a, b], start_date=today - dt.timedelta(days=10), handoff_time=dt.time(0))
    expected = [a, b][(timezone.localdate() - (today - dt.timedelta(days=10))).days % 2]
    assert oncall.on_call_now("Network") == expected
    assert oncall.on_call_now("No such group") is None


def test_next_hand_off_is_the_shift_end_or_an_override_edge() -> None:
    g, (a, b, c) = team()
    daily(g, [a, b])
    at = local(2026, 3, 2, 12)
    [state] = oncall.everyone_on_call([g], at)
    assert (state.person, state.rotation) == (a, "primary")
    assert (state.next_handoff_at, state.next_person) == (local(2026, 3, 3, 9), b)
    oncall.create_override(
        group=g, user=c, starts_at=local(2026, 3, 2, 18), ends_at=local(2026, 3, 2, 20), by=None
    )
    [state] = oncall.everyone_on_call([g], at)
    assert (state.next_handoff_at, state.next_person) == (local(2026, 3, 2, 18), c)


def test_everyone_on_call_costs_three_queries_whatever_the_number_of_groups() -> None:
    groups = []
    for _ in range(6):
        g, people = team(3)
        daily(g, people)
        oncall.create_override(
            group=g, user=people[2], starts_at=local(2026, 3, 2, 10),
            ends_at=local(2026, 3, 2, 11), by=None,
        )  # fmt: skip
        groups.append(g)
    with CaptureQueriesContext(connection) as queries:
        states = oncall.everyone_on_call(groups, local(2026, 3, 2, 10, 30))
    assert len(queries) == 3
    assert all(s.person is not None and s.override is not None for s in states)


# ---- API ------------------------------------------------------------------------------------


def test_the_on_call_api_creates_lists_and_deletes() -> None:
    _g, (a, b) = team(2, name="NOC")
    api = ApiClient(make_user(Role.NOC_OPERATOR))
    start = timezone.localdate() - dt.timedelta(days=1)
    made = api.post(
        "/api/v1/oncall/rotations/",
        {"group": "NOC", "name": "daily", "people": [a.username, b.username],
         "start_date": start.isoformat(), "handoff_time": "09:00"},
    )  # fmt: skip
    assert made.status_code == 201, made.json()
    assert made.json()["people"] == [a.username, b.username]
    now = api.get("/api/v1/oncall/").json()
    assert [row["group"] for row in now] == ["NOC"]
    assert now[0]["person"]["username"] in (a.username, b.username)
    assert now[0]["next_handoff_at"] is not None

    soon = timezone.now()
    cover = api.post(
        "/api/v1/oncall/overrides/",
        {"group": "NOC", "user": b.username, "starts_at": soon.isoformat(),
         "ends_at": (soon + dt.timedelta(hours=2)).isoformat(), "reason": "swap"},
    )  # fmt: skip
    assert cover.status_code == 201, cover.json()
    assert api.get("/api/v1/oncall/").json()[0]["person"]["username"] == b.username
    assert [o["id"] for o in api.get("/api/v1/oncall/overrides/", group="NOC").json()] == [
        cover.json()["id"]
    ]
    assert api.delete(f"/api/v1/oncall/overrides/{cover.json()['id']}/").status_code == 204
    assert api.delete(f"/api/v1/oncall/rotations/{made.json()['id']}/").status_code == 204
    assert not Override.objects.exists()
    assert not Rotation.objects.exists()


def test_the_on_call_api_refuses_in_the_json_shape_and_by_role() -> None:
    noc()
    api = ApiClient(make_user(Role.OPS_ENGINEER))
    bad = api.post(
        "/api/v1/oncall/rotations/",
        {"group": "NOC", "name": "x", "people": ["nobody"], "start_date": "2026-03-02"},
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == {"people": ["No active user is called nobody."]}
    auditor = ApiClient(make_user(Role.AUDITOR))
    assert auditor.get("/api/v1/oncall/").status_code == 200
    denied = auditor.post(
        "/api/v1/oncall/rotations/",
        {"group": "NOC", "name": "x", "people": [], "start_date": "2026-03-02"},
    )
    assert denied.status_code in (400, 403)
    assert auditor.delete("/api/v1/oncall/rotations/1/").status_code == 403
