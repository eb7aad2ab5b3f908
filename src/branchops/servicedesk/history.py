"""Two years of made-up service-desk history for the demo estate (示例证券).

``ensure_history(seed)`` writes, once, about 2,300 tickets a year for the loaded estate:
more on trading days, most in the trading morning, more on the first trading day after a
long closure and in a few busy market weeks, few on weekends and public holidays; a summer
bump (storms and heat take lines and power down). Incidents, service requests and
complaints over a category tree, priorities through the priority matrix, each ticket
worked like the services would: assigned to a group and a person, in progress, sometimes
waiting for a spare part, the vendor or the customer, sometimes visited on site (now and
then twice), sometimes handed to a colleague, resolved, closed a few days later, and a few
reopened. Delays are drawn against the ticket's SLA targets and counted in its policy's
calendar, so a 5x8 ticket reported at night is picked up the next working morning and a
few per cent breach.

Nothing goes through ``services`` one ticket at a time: a :class:`Timeline` applies the
same rules (``services.TRANSITIONS``, a person before in progress, a note on the moves
that stop or restart a clock, times in order, a person in the group they are assigned
with) and the rows are written with ``bulk_create``. The draw depends only on ``seed`` and
``today``; events later than ``now`` are left out, which leaves the recent tickets open.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from branchops.cmdb.choices import SiteKind, SiteStatus
from branchops.cmdb.models import Device, InformationSystem, Site
from branchops.core import audit, calendars
from branchops.core.calendars import Calendar
from branchops.core.choices import AuditAction, ChangeSource, Role
from branchops.core.models import User
from branchops.lab.people import People
from branchops.servicedesk import kpi_facts, services
from branchops.servicedesk.choices import NUMBER_PREFIX, EventKind, TicketKind, TicketStatus
from branchops.servicedesk.models import (
    AssignmentGroup,
    Category,
    PriorityMatrix,
    SatisfactionAnswer,
    SlaPolicy,
    Ticket,
    TicketEvent,
    TicketSequence,
)

S = TicketStatus
DAYS = 730
BATCH = 2000

# code, name, parent code
CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("network", "网络 Network", ""),
    ("network-firewall", "防火墙与VPN Firewall and VPN", "network"),
    ("network-switch", "交换机 Switches", "network"),
    ("network-wifi", "无线 WiFi", "network"),
    ("network-line", "线路 Lines", "network"),
    ("trading", "交易 Trading", ""),
    ("trading-terminal", "交易终端 Trading terminals", "trading"),
    ("trading-market-data", "行情 Market data", "trading"),
    ("server", "服务器与存储 Servers and storage", ""),
    ("desktop", "桌面与外设 Desktops and peripherals", ""),
    ("account", "账号与权限 Accounts and permissions", ""),
)

# group name, how many engineers
GROUPS: tuple[tuple[str, int], ...] = (
    ("Network", 6),
    ("Desktop support", 5),
    ("Systems", 4),
)
NOC_STAFF = 4


@dataclass(frozen=True)
class Kind:
    """A kind of ticket the desk sees, with how it tends to go."""

    kind: str
    request_type: str
    category: str
    group: str
    title: str
    weight: float
    cells: tuple[tuple[int, int], ...]  # (impact, urgency) drawn uniformly from these
    visit: float = 0.0  # share visited on site
    pause: float = 0.0  # share that waits once
    waits_for: str = S.PENDING_SPARE_PART
    data_centre: bool = False
    system: str = ""


INC, REQ, CMP = TicketKind.INCIDENT, TicketKind.REQUEST, TicketKind.COMPLAINT
KINDS: tuple[Kind, ...] = (
    Kind(INC, "", "network-line", "Network", "营业部互联网线路中断 Internet line down", 9,
         ((2, 1), (2, 2)), visit=0.1, pause=0.5, waits_for=S.PENDING_VENDOR),
    Kind(INC, "", "network-firewall", "Network", "VPN隧道中断 VPN tunnel down", 7,
         ((2, 1), (2, 2), (3, 2)), visit=0.2, pause=0.2, waits_for=S.PENDING_VENDOR),
    Kind(INC, "", "network-firewall", "Network", "防火墙故障 Firewall failure", 3,
         ((2, 1), (2, 2)), visit=0.7, pause=0.6),
    Kind(INC, "", "network-switch", "Network", "交换机端口故障 Switch port fault", 6,
         ((2, 2), (3, 2), (2, 3)), visit=0.5, pause=0.3),
    Kind(INC, "", "network-wifi", "Network", "无线AP离线 WiFi access point offline", 7,
         ((3, 2), (3, 3), (2, 3)), visit=0.4, pause=0.2),
    Kind(INC, "", "trading-terminal", "Desktop support",
         "交易终端无法登录 Trading terminal cannot log in", 10,
         ((2, 1), (2, 2), (3, 1)), visit=0.2, pause=0.1, waits_for=S.PENDING_CUSTOMER,
         system="central-trading"),
    Kind(INC, "", "trading-market-data", "Systems", "行情延迟 Market data delayed", 3,
         ((1, 2), (2, 1), (2, 2)), pause=0.2, waits_for=S.PENDING_VENDOR,
         system="market-data"),
    Kind(INC, "", "trading", "Systems", "集中交易系统部分中断 Central trading partly down", 0.3,
         ((1, 1),), pause=0.1, waits_for=S.PENDING_VENDOR, data_centre=True,
         system="central-trading"),
    Kind(INC, "", "server", "Systems", "服务器硬盘告警 Server disk failure", 4,
         ((2, 2), (3, 2)), visit=0.5, pause=0.7),
    Kind(INC, "", "server", "Systems", "存储性能下降 Storage running slow", 1,
         ((1, 2), (2, 2)), pause=0.4, waits_for=S.PENDING_VENDOR, data_centre=True),
    Kind(INC, "", "desktop", "Desktop support", "打印机故障 Printer fault", 8,
         ((3, 2), (3, 3)), visit=0.3, pause=0.3),
    Kind(REQ, "remote_support", "desktop", "Desktop support",
         "远程协助安装软件 Remote help installing software", 10, ((3, 3), (3, 2))),
    Kind(REQ, "onsite_support", "network-switch", "Network",
         "新员工工位布线 Cabling for new desks", 4, ((3, 3),), visit=1.0, pause=0.2,
         waits_for=S.PENDING_CUSTOMER),
    Kind(REQ, "consultation", "network-firewall", "Network",
         "咨询VPN客户端配置 VPN client question", 5, ((3, 3),)),
    Kind(REQ, "data_recovery", "server", "Systems", "误删文件恢复 Restore deleted files", 3,
         ((2, 3), (3, 2)), pause=0.2, waits_for=S.PENDING_CUSTOMER),
    Kind(REQ, "account_permission", "account", "Systems", "开通系统权限 Grant system access", 9,
         ((3, 3), (3, 2)), pause=0.3, waits_for=S.PENDING_CUSTOMER),
    Kind(CMP, "", "desktop", "Desktop support", "投诉:处理太慢 Complaint: too slow", 1.5,
         ((3, 2), (2, 3))),
)  # fmt: skip

PAUSE_NOTES: dict[str, str] = {
    S.PENDING_SPARE_PART: "备件已从区域中心调拨 Spare part sent from the regional centre",
    S.PENDING_VENDOR: "已报厂商/运营商处理 Raised with the vendor or carrier",
    S.PENDING_CUSTOMER: "等待营业部确认 Waiting for the branch to confirm",
}
PAUSE_HOURS: dict[str, float] = {  # median wall hours of a wait
    S.PENDING_SPARE_PART: 18.0,
    S.PENDING_VENDOR: 5.0,
    S.PENDING_CUSTOMER: 3.0,
}
WORK_NOTES = (
    "远程登录检查配置 Logged in remotely and checked the configuration",
    "与营业部IT联络人通话确认现象 Called the branch IT liaison to confirm",
    "查看设备日志 Read the device logs",
    "已重启相关服务 Restarted the service",
)
SOURCES = (("phone", 45), ("im", 25), ("email", 10), ("portal", 20))
# Share of a day's tickets reported in each hour, trading days and other days.
HOURS_TRADING = (1, 1, 0.5, 0.5, 0.5, 1, 2, 6, 14, 30, 24, 18, 8, 16, 18, 12, 8, 5, 3, 2,
                 2, 1.5, 1, 1)  # fmt: skip
HOURS_OTHER = (1, 0.5, 0.5, 0.5, 0.5, 1, 2, 4, 8, 10, 10, 9, 6, 8, 8, 7, 5, 4, 3, 2,
               2, 1.5, 1, 1)  # fmt: skip
ANSWERED = 0.35
"""Share of resolved tickets whose reporter answers the satisfaction link."""
SCORE_WEIGHTS = (3, 4, 10, 28, 55)  # scores 1..5, when it went smoothly
SCORE_WEIGHTS_UNHAPPY = (10, 15, 25, 30, 20)  # reopened, or a complaint
COMMENTS = {
    5: ("处理及时,感谢 Quick, thank you", "", ""),
    4: ("", "总体满意 Fine overall"),
    3: ("等了比较久 Took a while", ""),
    2: ("问题反复出现 The problem kept coming back", "响应太慢 Slow to respond"),
    1: ("影响了开盘交易 It hurt the opening session", "无人跟进 Nobody followed up"),
}
SEASON = {1: 1.1, 2: 0.85, 3: 1.05, 4: 1.0, 5: 0.95, 6: 1.05, 7: 1.2, 8: 1.2, 9: 1.0,
          10: 0.9, 11: 1.0, 12: 1.1}  # fmt: skip


@dataclass
class HistorySummary:
    tickets: int
    events: int
    first: dt.date
    last: dt.date
    seconds: float


# --- the rules ------------------------------------------------------------------------


class Timeline:
    """One ticket's events as the services would write them; refuses what they refuse."""

    def __init__(self, created_at: dt.datetime, opener: int | None, detail: str) -> None:
        self.status: str = S.NEW
        self.at = created_at
        self.group: int | None = None
        self.person: int | None = None
        self.arrived = False
        self.events: list[TicketEvent] = [
            TicketEvent(
                at=created_at,
                recorded_at=created_at,
                kind=EventKind.CREATED,
                actor_id=opener,
                to_status=S.NEW,
                detail=detail,
            )
        ]

    def _later(self, at: dt.datetime) -> dt.datetime:
        self.at = max(self.at, at)  # never before the last event
        return self.at

    def _add(self, at: dt.datetime, kind: str, **values: object) -> None:
        when = self._later(at)
        self.events.append(TicketEvent(at=when, recorded_at=when, kind=kind, **values))

    def assign(self, at: dt.datetime, group: int, person: int | None, *, members: set[int]) -> None:
        if self.status in (S.RESOLVED, S.CLOSED):
            raise ValueError("a done ticket is reopened before it is assigned")
        if person is not None and person not in members:
            raise ValueError("the person is not a member of the group")
        moved = self.status in (S.NEW, S.REOPENED)
        to = S.ASSIGNED if moved else ""
        self._add(at, EventKind.ASSIGNED, group_id=group, assignee_id=person,
                  from_status=self.status if moved else "", to_status=to)  # fmt: skip
        self.status = S.ASSIGNED if moved else self.status
        self.group, self.person = group, person

    def move(self, at: dt.datetime, to: str, note: str = "", actor: int | None = None) -> None:
        if S(to) not in services.TRANSITIONS[S(self.status)]:
            raise ValueError(f"{self.status} -> {to} is not allowed")
        if to == S.IN_PROGRESS and self.person is None:
            raise ValueError("in progress needs a person")
        if to in services.NOTE_REQUIRED and not note:
            raise ValueError(f"{to} needs a note")
        kind = EventKind.REOPENED if to == S.REOPENED else EventKind.STATUS
        self._add(at, kind, actor_id=actor, from_status=self.status, to_status=to, detail=note)
        self.status = to

    def visit(self, departed: dt.datetime, travel_min: float, onsite_min: float) -> None:
        if self.status == S.CLOSED:
            raise ValueError("a closed ticket takes no visits")
        arrived = self._later(departed) + dt.timedelta(minutes=travel_min)
        finished = arrived + dt.timedelta(minutes=onsite_min)
        for kind, at in (
            (EventKind.DEPARTED, self.at),
            (EventKind.ARRIVED, arrived),
            (EventKind.FINISHED, finished),
        ):
            when = self._later(at)
            self.events.append(
                TicketEvent(at=when, recorded_at=finished, kind=kind, actor_id=self.person)
            )

    def worklog(self, at: dt.datetime, note: str) -> None:
        self._add(at, EventKind.WORKLOG, actor_id=self.person, detail=note)


# --- the people and reference data ----------------------------------------------------


@dataclass
class Staff:
    groups: dict[str, int] = field(default_factory=dict)
    members: dict[int, list[int]] = field(default_factory=dict)
    noc: list[int] = field(default_factory=list)


def _ensure_categories() -> dict[str, Category]:
    found = {c.code: c for c in Category.objects.filter(code__in=[c for c, _n, _p in CATEGORIES])}
    for code, name, parent in CATEGORIES:
        if code not in found:
            found[code] = Category.objects.create(
                code=code, name=name, parent=found[parent] if parent else None
            )
    return found


def _ensure_staff(rng: random.Random) -> Staff:
    """Assignment groups with engineers, and NOC operators who log the calls (no password:
    they cannot sign in; they are names in the history)."""
    people = People(rng)
    staff = Staff()
    taken = set(User.objects.values_list("username", flat=True))

    def person(role: Role) -> User:
        drawn = people.person()
        name, n = drawn.pinyin, 1
        while name in taken:
            n += 1
            name = f"{drawn.pinyin}{n}"
        taken.add(name)
        user = User(username=name, role=role, last_name=drawn.name[0], first_name=drawn.name[1:])
        user.set_unusable_password()
        user.save()
        audit.record(actor=None, action=AuditAction.CREATE, source=ChangeSource.SYSTEM,
                     obj=user, after={"username": name, "role": role.value},
                     message="Demo service-desk staff created by branchops demo")  # fmt: skip
        return user

    for name, size in GROUPS:
        group, created = AssignmentGroup.objects.get_or_create(name=name)
        if created or not group.members.exists():
            group.members.add(*[person(Role.OPS_ENGINEER) for _ in range(size)])
        staff.groups[name] = group.pk
        staff.members[group.pk] = sorted(group.members.values_list("pk", flat=True))
    staff.noc = [person(Role.NOC_OPERATOR).pk for _ in range(NOC_STAFF)]
    return staff


# --- drawing --------------------------------------------------------------------------


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


def day_rates(first: dt.date, last: dt.date, rng: random.Random) -> dict[dt.date, float]:
    """Expected tickets per day: trading days busy, make-up workdays less, weekends and
    holidays quiet; the first trading day after a long closure and a few market weeks busier."""
    trading, workdays = calendars.load("xshg-trading"), calendars.load("cn-workdays")
    busy_weeks: set[dt.date] = set()
    for year in range(first.year, last.year + 1):
        for _ in range(3):
            start = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))
            busy_weeks.update(start + dt.timedelta(days=i) for i in range(7))
    rates: dict[dt.date, float] = {}
    closed_for, day = 0, first
    while day <= last:
        if calendars.is_working_day(trading, day):
            rate = 9.0 * (1.6 if closed_for >= 3 else 1.0) * (1.5 if day in busy_weeks else 1.0)
            closed_for = 0
        else:
            rate = 3.0 if calendars.is_working_day(workdays, day) else 1.5
            closed_for += 1
        rates[day] = rate * SEASON[day.month]
        day += dt.timedelta(days=1)
    return rates


@dataclass
class Estate:
    """What the draw needs from the database, read once."""

    branches: list[tuple[int, str]]
    centres: list[tuple[int, str]]
    data_centres: list[tuple[int, str]]
    devices: dict[tuple[int, str], list[int]]
    systems: dict[str, int]
    categories: dict[str, Category]
    matrix: dict[tuple[int, int], int]
    staff: Staff
    policy: Callable[[int, Category, str], tuple[int | None, tuple[int, int | None, int], Calendar]]


def _read_estate(staff: Staff, categories: dict[str, Category]) -> Estate:
    sites: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for pk, kind in (
        Site.objects.filter(status=SiteStatus.ACTIVE).order_by("code").values_list("pk", "kind")
    ):
        sites[kind].append((pk, kind))
    devices: dict[tuple[int, str], list[int]] = defaultdict(list)
    for pk, site_id, role in Device.objects.order_by("pk").values_list(
        "pk", "site_id", "role__slug"
    ):
        devices[(site_id, role or "")].append(pk)
    always = calendars.load("24x7")
    chosen: dict[
        tuple[int, int, str], tuple[int | None, tuple[int, int | None, int], Calendar]
    ] = {}

    def policy(
        priority: int, category: Category, site_kind: str
    ) -> tuple[int | None, tuple[int, int | None, int], Calendar]:
        key = (priority, category.pk, site_kind)
        if key not in chosen:
            found = services.policy_for(priority, category, Site(kind=site_kind))
            if found is None:
                chosen[key] = (None, (60, None, 480), always)
            else:
                cal = SlaPolicy.objects.select_related("calendar").get(pk=found.pk).calendar
                targets = (found.response_minutes, found.arrival_minutes, found.resolution_minutes)
                chosen[key] = (found.pk, targets, calendars.load(cal))
        return chosen[key]

    return Estate(
        branches=sites[SiteKind.BRANCH],
        centres=sites[SiteKind.REGIONAL_CENTRE],
        data_centres=[
            s
            for k in (SiteKind.HQ_DATA_CENTRE, SiteKind.SAME_CITY_DR, SiteKind.REMOTE_DR)
            for s in sites[k]
        ],
        devices=devices,
        systems=dict(InformationSystem.objects.values_list("code", "pk")),
        categories=categories,
        matrix={(c.impact, c.urgency): c.priority for c in PriorityMatrix.objects.all()},
        staff=staff,
        policy=policy,
    )


DEVICE_ROLES = {
    "network-firewall": ("firewall",),
    "network-line": ("firewall",),
    "network-switch": ("access-switch", "core-switch"),
    "network-wifi": ("wifi-ap", "wifi-controller"),
    "server": ("server", "hypervisor"),
}


@dataclass
class Drawn:
    """One drawn ticket, before it has a primary key."""

    ticket: Ticket
    timeline: Timeline
    devices: list[int]
    system: int | None


class Drawer:
    """Draws tickets from one random stream against the estate."""

    def __init__(self, rng: random.Random, estate: Estate, now: dt.datetime) -> None:
        self.rng, self.estate, self.now = rng, estate, now
        self.weights = [k.weight for k in KINDS]

    def day(self, day: dt.date, rate: float) -> list[Drawn]:
        hours = HOURS_TRADING if rate >= 9.0 else HOURS_OTHER
        drawn = []
        for _ in range(_poisson(self.rng, rate)):
            hour = self.rng.choices(range(24), weights=hours)[0]
            at = timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))
            at += dt.timedelta(seconds=self.rng.randrange(3600))
            if at <= self.now:
                drawn.append(self.ticket(at))
        return drawn

    def _site(self, kind: Kind) -> tuple[int, str]:
        e, r = self.estate, self.rng.random()
        if kind.data_centre or (r < 0.04 and e.data_centres):
            return self.rng.choice(e.data_centres or e.branches)
        if r < 0.12 and e.centres:
            return self.rng.choice(e.centres)
        return self.rng.choice(e.branches or e.centres or e.data_centres)

    def ticket(self, created: dt.datetime) -> Drawn:
        rng, e = self.rng, self.estate
        kind = rng.choices(KINDS, weights=self.weights)[0]
        site_id, site_kind = self._site(kind)
        impact, urgency = rng.choice(kind.cells)
        priority = e.matrix.get((impact, urgency), 4)
        category = e.categories[kind.category]
        policy_id, targets, cal = e.policy(priority, category, site_kind)
        source = rng.choices([s for s, _w in SOURCES], weights=[w for _s, w in SOURCES])[0]
        opener = rng.choice(e.staff.noc)
        ticket = Ticket(
            kind=kind.kind, request_type=kind.request_type, source=source,
            title=kind.title, site_id=site_id, category=category, impact=impact,
            urgency=urgency, priority=priority, sla_policy_id=policy_id, opened_by_id=opener,
            reporter_name=f"营业部IT {site_id}", created_at=created,
        )  # fmt: skip
        timeline = Timeline(created, opener, f"Opened from {source}.")
        self._work(timeline, kind, targets, cal)
        devices = [
            pk
            for role in DEVICE_ROLES.get(kind.category, ())
            for pk in e.devices.get((site_id, role), [])[:1]
        ][:1]
        return Drawn(ticket, timeline, devices, e.systems.get(kind.system))

    def _work(
        self, t: Timeline, kind: Kind, targets: tuple[int, int | None, int], cal: Calendar
    ) -> None:
        """Respond, work, wait, visit, resolve, maybe reopen, close: in business time of
        the policy's calendar for the team's own steps, wall time for waits and travel."""
        rng, staff = self.rng, self.estate.staff
        response, arrival, resolution = targets
        group = staff.groups[kind.group]
        members = staff.members[group]
        member_set = set(members)

        def biz(minutes: float) -> dt.datetime:
            return calendars.add_business_seconds(cal, t.at, max(minutes, 0.5) * 60)

        t.assign(biz(_lognormal(rng, response * 0.3, 0.6)), group, rng.choice(members),
                 members=member_set)  # fmt: skip
        t.move(biz(_lognormal(rng, response * 0.1, 0.8)), S.IN_PROGRESS)
        # Without a visit the arrival clock stops at the resolution: work to the tighter one.
        visited = rng.random() < kind.visit
        budget = resolution if visited or arrival is None else min(resolution, arrival)
        work = _lognormal(rng, budget * 0.22, 0.7)
        self._stretch(
            t, kind, work=work, biz=biz, arrival=arrival, members=member_set, visited=visited
        )
        t.move(biz(5), S.RESOLVED, "已恢复 Service restored", actor=t.person)
        if rng.random() < 0.03:
            back = t.at + dt.timedelta(hours=_lognormal(rng, 20, 0.8))
            t.move(back, S.REOPENED, "故障复现 The fault came back")
            person = t.person if rng.random() < 0.6 else rng.choice(members)
            t.assign(biz(_lognormal(rng, response * 0.3, 0.6)), group, person,
                     members=member_set)  # fmt: skip
            t.move(biz(10), S.IN_PROGRESS)
            t.move(biz(_lognormal(rng, resolution * 0.1, 0.6)), S.RESOLVED,
                   "已彻底修复 Fixed for good", actor=t.person)  # fmt: skip
        t.move(t.at + dt.timedelta(hours=rng.uniform(24, 120)), S.CLOSED)

    def _stretch(
        self,
        t: Timeline,
        kind: Kind,
        *,
        work: float,
        biz: Callable[[float], dt.datetime],
        arrival: int | None,
        members: set[int],
        visited: bool,
    ) -> None:
        """The middle of the work: a wait, a visit (now and then two), a hand-over."""
        rng = self.rng
        share = rng.uniform(0.2, 0.5)
        t.worklog(biz(work * share / 2), rng.choice(WORK_NOTES))
        t.at = biz(work * share / 2)
        if rng.random() < kind.pause:
            wait = kind.waits_for
            t.move(t.at, wait, PAUSE_NOTES[wait], actor=t.person)
            t.at += dt.timedelta(hours=_lognormal(rng, PAUSE_HOURS[wait], 0.9))
            t.move(biz(1), S.IN_PROGRESS, actor=t.person)
        if rng.random() < 0.06 and len(members) > 1 and t.group is not None:
            other = rng.choice(sorted(members - {t.person or 0}))
            t.assign(biz(10), t.group, other, members=members)
        if visited:
            travel = _lognormal(rng, (arrival or 240) * 0.15, 0.5)
            t.visit(biz(5), travel, rng.uniform(30, 180))
            if rng.random() < 0.06:
                t.at += dt.timedelta(hours=rng.uniform(16, 30))
                t.visit(biz(1), travel, rng.uniform(30, 120))
        t.at = biz(work * (1 - share))


# --- writing --------------------------------------------------------------------------


def has_history() -> bool:
    """The service desk has tickets already (history or real): then nothing is drawn."""
    return Ticket.objects.exists()


def draw(
    seed: int,
    today: dt.date,
    now: dt.datetime,
    advance: Callable[[int], None] = lambda n: None,
) -> list[Drawn]:
    """Two years of tickets up to ``today`` (those after ``now`` left out), in time order."""
    rng = random.Random(f"servicedesk-history-{seed}")  # noqa: S311 (a demo draw, not a secret)
    categories = _ensure_categories()
    staff = _ensure_staff(rng)
    estate = _read_estate(staff, categories)
    if not (estate.branches or estate.centres or estate.data_centres):
        return []
    first = today - dt.timedelta(days=DAYS - 1)
    drawer = Drawer(rng, estate, now)
    drawn: list[Drawn] = []
    for day, rate in day_rates(first, today, rng).items():
        drawn += drawer.day(day, rate)
        advance(1)
    drawn.sort(key=lambda d: d.ticket.created_at)
    return drawn


def _cut(d: Drawn, now: dt.datetime) -> list[TicketEvent]:
    """The events up to ``now``; the ticket's state follows the last of them."""
    events = [e for e in d.timeline.events if e.at <= now]
    ticket, resolved = d.ticket, None
    for e in events:
        if e.to_status:
            ticket.status = e.to_status
            resolved = e.at if e.to_status == S.RESOLVED else resolved
            if e.to_status == S.REOPENED:
                resolved = None
            if e.to_status == S.CLOSED:
                ticket.closed_at = e.at
        if e.kind == EventKind.ASSIGNED:
            ticket.group_id, ticket.assignee_id = e.group_id, e.assignee_id
    ticket.resolved_at = resolved
    ticket.updated_at = events[-1].at
    return events


def _number(drawn: Sequence[Drawn]) -> list[TicketSequence]:
    last = {(s.prefix, s.year): s for s in TicketSequence.objects.all()}
    for d in drawn:
        prefix = NUMBER_PREFIX[TicketKind(d.ticket.kind)]
        year = timezone.localtime(d.ticket.created_at).year
        seq = last.setdefault((prefix, year), TicketSequence(prefix=prefix, year=year, last=0))
        seq.last += 1
        d.ticket.number = f"{prefix}-{year}-{seq.last:06d}"
    return list(last.values())


def write(
    drawn: Sequence[Drawn], now: dt.datetime, advance: Callable[[int], None], seed: int = 0
) -> int:
    """Bulk-write the tickets, their devices and systems, events, satisfaction answers and
    number sequences."""
    events_of = [_cut(d, now) for d in drawn]
    rng = random.Random(f"servicedesk-satisfaction-{seed}")  # noqa: S311 (a demo draw)
    answers = {i: a for i, d in enumerate(drawn) if (a := _answer(d, events_of[i], now, rng))}
    sequences = _number(drawn)
    written = 0
    for i in range(0, len(drawn), BATCH):
        chunk = drawn[i : i + BATCH]
        Ticket.objects.bulk_create([d.ticket for d in chunk])
        Ticket.devices.through.objects.bulk_create(
            [
                Ticket.devices.through(ticket_id=d.ticket.pk, device_id=pk)
                for d in chunk
                for pk in d.devices
            ]
        )
        Ticket.systems.through.objects.bulk_create(
            [
                Ticket.systems.through(ticket_id=d.ticket.pk, informationsystem_id=d.system)
                for d in chunk
                if d.system is not None
            ]
        )
        rows = []
        for d, events in zip(chunk, events_of[i : i + BATCH], strict=True):
            for e in events:
                e.ticket_id = d.ticket.pk
            rows += events
        TicketEvent.objects.bulk_create(rows, batch_size=BATCH)
        rated = [answers[j] for j in range(i, i + len(chunk)) if j in answers]
        for answer in rated:
            answer.ticket_id = answer.ticket.pk
        SatisfactionAnswer.objects.bulk_create(rated, batch_size=BATCH)
        written += len(rows)
        advance(len(chunk))
    for seq in sequences:
        TicketSequence.objects.update_or_create(
            prefix=seq.prefix, year=seq.year, defaults={"last": seq.last}
        )
    return written


def _answer(
    d: Drawn, events: list[TicketEvent], now: dt.datetime, rng: random.Random
) -> SatisfactionAnswer | None:
    """满意度回访: about a third of the reporters of resolved tickets answer, some hours
    after the resolution; less happily when the ticket was reopened or is a complaint. The
    answer's event goes into the ticket's events in time order. Drawn from a stream of its
    own, so the tickets themselves are the same with or without answers."""
    ticket = d.ticket
    if ticket.status not in (S.RESOLVED, S.CLOSED) or ticket.resolved_at is None:
        return None
    if rng.random() >= ANSWERED:
        return None
    at = ticket.resolved_at + dt.timedelta(hours=_lognormal(rng, 6, 0.9))
    unhappy = ticket.kind == CMP or any(e.kind == EventKind.REOPENED for e in events)
    score = rng.choices(
        (1, 2, 3, 4, 5), weights=SCORE_WEIGHTS_UNHAPPY if unhappy else SCORE_WEIGHTS
    )[0]
    comment = rng.choice(COMMENTS[score])
    if at > now:
        return None
    detail = f"{score}/5" + (f": {comment}" if comment else "")
    event = TicketEvent(at=at, recorded_at=at, kind=EventKind.SATISFACTION, detail=detail)
    events.insert(bisect.bisect_right([e.at for e in events], at), event)
    return SatisfactionAnswer(ticket=ticket, score=score, comment=comment, answered_at=at)


def ensure_history(
    seed: int,
    *,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    console: Console | None = None,
) -> HistorySummary | None:
    """Write two years of tickets for the loaded estate, unless the desk has tickets already
    (or there is no estate); None when nothing was written."""
    console = console or Console()
    if has_history() or not Site.objects.exists():
        return None
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    began = timezone.now()
    columns = (SpinnerColumn(), TextColumn("{task.description:<28}"), BarColumn(),
               MofNCompleteColumn())  # fmt: skip
    with transaction.atomic(), Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("Drawing service-desk history", total=DAYS)
        drawn = draw(seed, today, now, lambda n: bar.update(task, advance=n))
        bar.remove_task(task)
        task = bar.add_task("Writing tickets", total=len(drawn))
        events = write(drawn, now, lambda n: bar.update(task, advance=n), seed)
        bar.remove_task(task)
        bar.add_task("Summarising for the KPIs", total=None)
        kpi_facts.refresh(now=now)
    seconds = (timezone.now() - began).total_seconds()
    first = today - dt.timedelta(days=DAYS - 1)
    summary = HistorySummary(len(drawn), events, first, today, seconds)
    console.print(
        f"Wrote service-desk history in {seconds:.1f} s: {summary.tickets} tickets, "
        f"{summary.events} events, {first} to {today}."
    )
    return summary
