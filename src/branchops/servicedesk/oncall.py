"""Who is on call: rotations in turns, overrides over them, swaps as two overrides.

A :class:`Schedule` loads the rotations and overrides of any number of groups in three
queries and then answers "who is on call at t" and "when is the next hand-off" without
touching the database again, so listing every group, or wording many notifications, costs
the same as asking about one.

Shifts are counted in elapsed time from the rotation's first hand-off (local date and time
in its time zone). Asia/Shanghai has no daylight saving time, so a 09:00 hand-off stays at
09:00; in a zone with DST it would move by the hour the clocks move.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from branchops.core.models import User
from branchops.servicedesk.models import AssignmentGroup, Override, Rotation, RotationMember
from branchops.servicedesk.services import Refused

# --- the schedule ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RotationPlan:
    """A rotation reduced to arithmetic: first hand-off, shift length, people in order."""

    id: int
    name: str
    first: dt.datetime
    shift: dt.timedelta
    people: tuple[User, ...]

    def turn(self, at: dt.datetime) -> int:
        return (at - self.first) // self.shift

    def person_at(self, at: dt.datetime) -> User | None:
        if at < self.first or not self.people:
            return None
        return self.people[self.turn(at) % len(self.people)]

    def shift_at(self, at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        start = self.first + self.turn(at) * self.shift
        return start, start + self.shift

    def handoff_after(self, at: dt.datetime) -> dt.datetime:
        if at < self.first:
            return self.first
        return self.shift_at(at)[1]


def plan_of(rotation: Rotation) -> RotationPlan:
    """The plan of a rotation whose members are prefetched (``members`` with their users)."""
    first = dt.datetime.combine(
        rotation.start_date, rotation.handoff_time, tzinfo=ZoneInfo(rotation.time_zone)
    )
    people = tuple(m.user for m in sorted(rotation.members.all(), key=lambda m: m.position))
    return RotationPlan(
        rotation.pk, rotation.name, first, dt.timedelta(hours=rotation.shift_hours), people
    )


@dataclass(frozen=True, slots=True)
class OnCall:
    """One group's answer: who now, and when and to whom it passes next."""

    group: AssignmentGroup
    person: User | None
    override: Override | None
    rotation: str | None
    next_handoff_at: dt.datetime | None
    next_person: User | None


class Schedule:
    """Rotations and overrides of some groups, for moments from ``since`` on."""

    def __init__(
        self, plans: dict[int, list[RotationPlan]], overrides: dict[int, list[Override]]
    ) -> None:
        self.plans = plans
        self.overrides = overrides

    @classmethod
    def load(cls, groups: Iterable[AssignmentGroup | int], since: dt.datetime) -> Schedule:
        ids = [g if isinstance(g, int) else g.pk for g in groups]
        members = Prefetch(
            "members", queryset=RotationMember.objects.select_related("user").order_by("position")
        )
        plans: dict[int, list[RotationPlan]] = defaultdict(list)
        for rotation in Rotation.objects.filter(group_id__in=ids, active=True).prefetch_related(
            members
        ):
            plans[rotation.group_id].append(plan_of(rotation))
        overrides: dict[int, list[Override]] = defaultdict(list)
        for override in Override.objects.filter(group_id__in=ids, ends_at__gt=since).select_related(
            "user"
        ):
            overrides[override.group_id].append(override)
        return cls(dict(plans), dict(overrides))

    def rotation_at(self, group_id: int, at: dt.datetime) -> RotationPlan | None:
        """The rotation that counts at ``at``: of those started, the one started last."""
        started = [p for p in self.plans.get(group_id, []) if p.first <= at and p.people]
        return max(started, key=lambda p: (p.first, p.id), default=None)

    def override_at(self, group_id: int, at: dt.datetime) -> Override | None:
        covering = [o for o in self.overrides.get(group_id, []) if o.starts_at <= at < o.ends_at]
        return max(covering, key=lambda o: (o.created_at, o.pk), default=None)

    def who(self, group_id: int, at: dt.datetime) -> User | None:
        override = self.override_at(group_id, at)
        if override is not None:
            return override.user
        plan = self.rotation_at(group_id, at)
        return plan.person_at(at) if plan else None

    def next_handoff(self, group_id: int, after: dt.datetime) -> dt.datetime | None:
        """The next moment the schedule changes hands: a shift ends, an override starts or
        ends, or a newer rotation takes over."""
        moments: list[dt.datetime] = []
        plan = self.rotation_at(group_id, after)
        if plan is not None:
            moments.append(plan.handoff_after(after))
        moments += [p.first for p in self.plans.get(group_id, []) if p.first > after and p.people]
        for o in self.overrides.get(group_id, []):
            moments += [t for t in (o.starts_at, o.ends_at) if t > after]
        return min(moments, default=None)

    def on_call(self, group: AssignmentGroup, at: dt.datetime) -> OnCall:
        override = self.override_at(group.pk, at)
        plan = self.rotation_at(group.pk, at)
        handoff = self.next_handoff(group.pk, at)
        return OnCall(
            group=group,
            person=self.who(group.pk, at),
            override=override,
            rotation=plan.name if plan else None,
            next_handoff_at=handoff,
            next_person=self.who(group.pk, handoff) if handoff else None,
        )


def who_is_on_call(group: AssignmentGroup | int, at: dt.datetime | None = None) -> User | None:
    """The person on call in ``group`` at ``at`` (default now): an override first, then the
    rotation; None when nobody is scheduled."""
    when = at or timezone.now()
    gid = group if isinstance(group, int) else group.pk
    return Schedule.load([gid], when).who(gid, when)


def on_call_now(group_name: str) -> User | None:
    group = AssignmentGroup.objects.filter(name=group_name).only("pk").first()
    return who_is_on_call(group) if group is not None else None


def everyone_on_call(
    groups: Sequence[AssignmentGroup], at: dt.datetime | None = None
) -> list[OnCall]:
    """Each group's :class:`OnCall`, in three queries whatever the number of groups."""
    when = at or timezone.now()
    schedule = Schedule.load(groups, when)
    return [schedule.on_call(g, when) for g in groups]


def person_label(user: User) -> str:
    """How a notice names a person: full name or user name, and the phone if there is one."""
    name = user.get_full_name().strip() or user.get_username()
    return f"{name} ({user.phone})" if user.phone else name


def on_call_line(group_name: str, at: dt.datetime | None = None) -> str | None:
    """What a notification says about a step's on-call group; None: no group of that name
    (then it says nothing)."""
    group = AssignmentGroup.objects.filter(name=group_name).only("pk", "name").first()
    if group is None:
        return None
    person = who_is_on_call(group, at)
    if person is None:
        return _("nobody is on call in %(group)s") % {"group": group.name}
    return person_label(person)


# --- changing the schedule -----------------------------------------------------------------


def _member(group: AssignmentGroup, user: User, field: str) -> None:
    if not user.is_active:
        raise Refused(
            _("%(name)s is not an active user.") % {"name": user.get_username()},
            status=400,
            field=field,
        )
    if not group.members.filter(pk=user.pk).exists():
        raise Refused(
            _("%(name)s is not a member of %(group)s.")
            % {"name": user.get_username(), "group": group.name},
            status=400,
            field=field,
        )


def _aware(at: dt.datetime, field: str) -> dt.datetime:
    if timezone.is_naive(at):
        raise Refused(_("Give the time with its time zone."), status=400, field=field)
    return at


def create_rotation(
    *,
    group: AssignmentGroup,
    name: str,
    people: Sequence[User],
    start_date: dt.date,
    shift_hours: int = 24,
    handoff_time: dt.time = dt.time(9),
    time_zone: str = "Asia/Shanghai",
) -> Rotation:
    """A rotation of ``people`` in this order (a person may appear more than once)."""
    if not name.strip():
        raise Refused(_("Give the rotation a name."), status=400, field="name")
    if not people:
        raise Refused(_("Name the people of the rotation, in order."), status=400, field="people")
    if shift_hours <= 0:
        raise Refused(_("A shift lasts at least an hour."), status=400, field="shift_hours")
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Refused(
            _("Unknown time zone %(zone)s.") % {"zone": time_zone}, status=400, field="time_zone"
        ) from exc
    for person in people:
        _member(group, person, "people")
    if Rotation.objects.filter(group=group, name=name.strip()).exists():
        raise Refused(
            _("%(group)s already has a rotation called %(name)s.")
            % {"group": group.name, "name": name.strip()},
            status=400,
            field="name",
        )
    with transaction.atomic():
        rotation = Rotation.objects.create(
            group=group,
            name=name.strip(),
            shift_hours=shift_hours,
            handoff_time=handoff_time,
            time_zone=time_zone,
            start_date=start_date,
        )
        RotationMember.objects.bulk_create(
            RotationMember(rotation=rotation, position=i, user=p) for i, p in enumerate(people)
        )
    return rotation


def create_override(
    *,
    group: AssignmentGroup,
    user: User,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    by: User | None,
    reason: str = "",
) -> Override:
    """``user`` is on call in ``group`` from ``starts_at`` to ``ends_at`` whatever the
    rotation says; the person they cover for is noted."""
    _aware(starts_at, "starts_at")
    _aware(ends_at, "ends_at")
    if ends_at <= starts_at:
        raise Refused(_("The override must end after it starts."), status=400, field="ends_at")
    _member(group, user, "user")
    return Override.objects.create(
        group=group,
        user=user,
        replaces=who_is_on_call(group, starts_at),
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason.strip()[:300],
        created_by=by,
    )


def swap(
    *, group: AssignmentGroup, first: dt.datetime, second: dt.datetime, by: User | None
) -> tuple[Override, Override]:
    """Two people trade the rotation shifts that contain ``first`` and ``second``: each
    takes the other's, as two overrides."""
    _aware(first, "first")
    _aware(second, "second")
    schedule = Schedule.load([group], min(first, second))
    plans = [schedule.rotation_at(group.pk, t) for t in (first, second)]
    if plans[0] is None or plans[1] is None:
        raise Refused(_("No rotation covers both moments."), status=400, field="second")
    one, two = plans[0].shift_at(first), plans[1].shift_at(second)
    if one == two:
        raise Refused(_("Both moments fall in the same shift."), status=400, field="second")
    a, b = schedule.who(group.pk, first), schedule.who(group.pk, second)
    if a is None or b is None or a == b:
        raise Refused(_("The same person holds both shifts."), status=400, field="second")
    reason = _("Swap of %(a)s and %(b)s") % {"a": a.get_username(), "b": b.get_username()}
    with transaction.atomic():
        return (
            create_override(
                group=group, user=b, starts_at=one[0], ends_at=one[1], by=by, reason=reason
            ),
            create_override(
                group=group, user=a, starts_at=two[0], ends_at=two[1], by=by, reason=reason
            ),
        )
