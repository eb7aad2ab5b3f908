"""Service-desk KPIs, computed from the tickets' event logs (never from stored figures).

For the tickets *reported* in a range of months (``created_at``, local time), grouped by
month, region, site, category or priority:

* **MTTA** (mean time to acknowledge): from ``created_at`` to the first response, the moment
  the response clock stops (first assignment to a person, or first move to in progress, a
  pending status or resolved). Given as wall-clock minutes and as business minutes of the
  ticket's SLA calendar (the response clock's elapsed time; pauses and closed hours left
  out). Tickets without an SLA policy have no business figure.
* **MTTR** (mean time to repair): from ``created_at`` to the *last* resolution of a ticket
  that is resolved or closed now: wall-clock minutes, and business minutes of the
  resolution clock (running time only: pending statuses, nights and holidays of a 5x8
  calendar do not count; a reopened ticket's second stretch does).
* **SLA attainment**: among tickets with a policy whose outcome is decided (every clock
  stopped, or one already breached), the share with no breached clock.
* **First-time-fix rate**: among resolved or closed tickets, the share resolved once:
  never reopened, at most one on-site arrival, and never held by a second person.
* **Major incidents**: P1 incidents. *Reportable incidents* (the regulator's grades) are
  not modelled yet and are reported as ``None``.
* **Backlog ageing**: of the range's tickets, those open now, by age.
* **Satisfaction**: not collected yet; always ``None``.

Cost: two queries for tickets and their clock events (plus small lookups for the groups and
policies), then one pass in Python, with the SLA clocks from :func:`sla.compute`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from branchops.cmdb.models import Region, Site
from branchops.core import calendars, scoping
from branchops.core.calendars import Calendar
from branchops.core.models import User
from branchops.servicedesk import sla
from branchops.servicedesk.choices import (
    DONE_STATUSES,
    PAUSE_STATUSES,
    ClockState,
    EventKind,
    Priority,
    TicketKind,
    TicketStatus,
)
from branchops.servicedesk.models import Category, SlaPolicy, Ticket, TicketEvent

GROUPINGS = ("month", "region", "site", "category", "priority")
MAX_MONTHS = 36
"""A wider range is refused: ask per period instead (the answer stays fast)."""

BACKLOG_BUCKETS: tuple[tuple[str, float], ...] = (
    ("under_1d", 1),
    ("1d_3d", 3),
    ("3d_7d", 7),
    ("7d_30d", 30),
    ("over_30d", float("inf")),
)
"""Backlog age buckets in days (upper bounds, exclusive)."""

_RESPONDED_BY = frozenset(
    {TicketStatus.IN_PROGRESS.value, TicketStatus.RESOLVED.value, *PAUSE_STATUSES}
)
_EVENT_KINDS = (
    EventKind.CREATED,
    EventKind.STATUS,
    EventKind.ASSIGNED,
    EventKind.REOPENED,
    EventKind.ARRIVED,
)
_MONTH = re.compile(r"(\d{4})-(\d{2})")


class KpiRangeError(ValueError):
    """A range or grouping the KPIs cannot be computed for; ``field`` names the parameter."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --- the range -----------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole local months, ``first`` to ``last`` inclusive (each the 1st of its month)."""

    first: dt.date
    last: dt.date

    @property
    def start(self) -> dt.datetime:
        return _month_start(self.first)

    @property
    def end(self) -> dt.datetime:
        return _month_start(_next_month(self.last))

    def months(self) -> list[str]:
        found, month = [], self.first
        while month <= self.last:
            found.append(f"{month:%Y-%m}")
            month = _next_month(month)
        return found


def _month_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime(day.year, day.month, 1))


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _parse_month(text: str, field: str) -> dt.date:
    match = _MONTH.fullmatch(text.strip())
    if match is None or not 1 <= int(match[2]) <= 12:
        raise KpiRangeError(
            _("%(value)s is not a month; write it as YYYY-MM, e.g. 2026-03.") % {"value": text},
            field,
        )
    return dt.date(int(match[1]), int(match[2]), 1)


def parse_period(start: str | None, end: str | None, today: dt.date) -> Period:
    """The months ``start``..``end`` (YYYY-MM); default: the twelve months up to this one."""
    this_month = today.replace(day=1)
    last = _parse_month(end, "to") if end else this_month
    if last > this_month:
        raise KpiRangeError(
            _("%(month)s has not begun yet; the latest month is %(now)s.")
            % {"month": f"{last:%Y-%m}", "now": f"{this_month:%Y-%m}"},
            "to",
        )
    if start:
        first = _parse_month(start, "from")
    else:
        first = dt.date(last.year - 1 + (last.month == 12), last.month % 12 + 1, 1)
    if first > last:
        raise KpiRangeError(
            _("The range starts (%(first)s) after it ends (%(last)s).")
            % {"first": f"{first:%Y-%m}", "last": f"{last:%Y-%m}"},
            "from",
        )
    span = (last.year - first.year) * 12 + last.month - first.month + 1
    if span > MAX_MONTHS:
        raise KpiRangeError(
            _("The range covers %(n)d months; ask for at most %(max)d at a time.")
            % {"n": span, "max": MAX_MONTHS},
            "from",
        )
    return Period(first, last)


def check_grouping(by: str) -> str:
    if by not in GROUPINGS:
        raise KpiRangeError(
            _("Group by one of: %(choices)s.") % {"choices": ", ".join(GROUPINGS)}, "by"
        )
    return by


# --- one ticket ----------------------------------------------------------------------


@dataclass(slots=True)
class TicketFacts:
    """What the KPIs need to know about one ticket, read from its events."""

    id: int
    created_at: dt.datetime
    kind: str
    priority: int
    site_id: int | None
    category_id: int | None
    open: bool
    responded_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None  # the last resolution, when resolved or closed now
    response_business_s: float | None = None
    resolution_business_s: float | None = None
    sla_met: bool | None = None  # None: no policy, or not decided yet
    first_time_fix: bool | None = None  # None: not resolved


def ticket_facts(
    created_at: dt.datetime,
    status: str,
    rows: Iterable[tuple[dt.datetime, str, str, int | None]],
    *,
    ticket: tuple[int, str, int, int | None, int | None],
    clocks: Callable[[list[sla.Mark]], sla.TicketClocks | None],
) -> TicketFacts:
    """The facts of one ticket from its clock events ``(at, kind, to_status, assignee_id)``
    in time order; ``clocks`` turns the marks into SLA clocks (None: no policy)."""
    pk, kind, priority, site_id, category_id = ticket
    done = status in DONE_STATUSES
    facts = TicketFacts(pk, created_at, kind, priority, site_id, category_id, open=not done)
    marks: list[sla.Mark] = []
    people: set[int] = set()
    reopens = arrivals = 0
    last_resolved: dt.datetime | None = None
    for at, event_kind, to_status, assignee_id in rows:
        to_person = event_kind == EventKind.ASSIGNED and assignee_id is not None
        marks.append(sla.Mark(at, event_kind, to_status, to_person))
        if to_person:
            people.add(assignee_id)  # type: ignore[arg-type]
        if facts.responded_at is None and (to_person or to_status in _RESPONDED_BY):
            facts.responded_at = at
        if event_kind == EventKind.REOPENED:
            reopens += 1
        elif event_kind == EventKind.ARRIVED:
            arrivals += 1
        if to_status == TicketStatus.RESOLVED:
            last_resolved = at
    if done:
        facts.resolved_at = last_resolved
        facts.first_time_fix = reopens == 0 and arrivals <= 1 and len(people) <= 1
    found = clocks(marks)
    if found is not None:
        if found.response.stopped_at is not None:
            facts.response_business_s = found.response.elapsed_seconds
        if done:
            facts.resolution_business_s = found.resolution.elapsed_seconds
        every = found.all()
        if any(c.state == ClockState.BREACHED for c in every):
            facts.sla_met = False
        elif all(c.state == ClockState.MET for c in every):
            facts.sla_met = True
    return facts


# --- adding up -----------------------------------------------------------------------


@dataclass
class Tally:
    """Sums for one group; :meth:`figures` turns them into the published KPIs."""

    tickets: int = 0
    incidents: int = 0
    major_incidents: int = 0
    responded: int = 0
    response_wall_s: float = 0.0
    response_business_n: int = 0
    response_business_s: float = 0.0
    resolved: int = 0
    resolution_wall_s: float = 0.0
    resolution_business_n: int = 0
    resolution_business_s: float = 0.0
    sla_met: int = 0
    sla_breached: int = 0
    fixed_first_time: int = 0
    backlog: Counter[str] = field(default_factory=Counter)

    def add(self, t: TicketFacts, now: dt.datetime) -> None:
        self.tickets += 1
        if t.kind == TicketKind.INCIDENT:
            self.incidents += 1
            self.major_incidents += t.priority == Priority.P1
        if t.responded_at is not None:
            self.responded += 1
            self.response_wall_s += (t.responded_at - t.created_at).total_seconds()
        if t.response_business_s is not None:
            self.response_business_n += 1
            self.response_business_s += t.response_business_s
        if t.resolved_at is not None:
            self.resolved += 1
            self.resolution_wall_s += (t.resolved_at - t.created_at).total_seconds()
            self.fixed_first_time += bool(t.first_time_fix)
        if t.resolution_business_s is not None:
            self.resolution_business_n += 1
            self.resolution_business_s += t.resolution_business_s
        if t.sla_met is True:
            self.sla_met += 1
        elif t.sla_met is False:
            self.sla_breached += 1
        if t.open:
            self.backlog[backlog_bucket((now - t.created_at).total_seconds() / 86400)] += 1

    def figures(self) -> dict[str, object]:
        decided = self.sla_met + self.sla_breached
        return {
            "tickets": self.tickets,
            "incidents": self.incidents,
            "major_incidents": self.major_incidents,
            "reportable_incidents": None,
            "mtta": {
                "tickets": self.responded,
                "wall_minutes": _mean_minutes(self.response_wall_s, self.responded),
                "business_minutes": _mean_minutes(
                    self.response_business_s, self.response_business_n
                ),
            },
            "mttr": {
                "tickets": self.resolved,
                "wall_minutes": _mean_minutes(self.resolution_wall_s, self.resolved),
                "business_minutes": _mean_minutes(
                    self.resolution_business_s, self.resolution_business_n
                ),
            },
            "sla": {
                "decided": decided,
                "met": self.sla_met,
                "breached": self.sla_breached,
                "attainment": _share(self.sla_met, decided),
            },
            "first_time_fix": {
                "resolved": self.resolved,
                "fixed_first_time": self.fixed_first_time,
                "rate": _share(self.fixed_first_time, self.resolved),
            },
            "backlog": {
                "open": sum(self.backlog.values()),
                **{name: self.backlog[name] for name, _days in BACKLOG_BUCKETS},
            },
            "satisfaction": None,
        }


def backlog_bucket(age_days: float) -> str:
    return next(name for name, limit in BACKLOG_BUCKETS if age_days < limit)


def _mean_minutes(total_seconds: float, n: int) -> float | None:
    return round(total_seconds / n / 60, 1) if n else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --- the report ----------------------------------------------------------------------


@dataclass
class Report:
    period: Period
    by: str
    now: dt.datetime
    total: dict[str, object]
    groups: list[dict[str, object]]
    per_month: list[dict[str, object]]
    per_year: list[dict[str, object]]


def report(user: User, period: Period, by: str, now: dt.datetime | None = None) -> Report:
    """The KPIs of the tickets ``user`` may see that were reported in ``period``."""
    now = now or timezone.now()
    check_grouping(by)
    tickets = scoping.visible(user, Ticket).filter(
        created_at__gte=period.start, created_at__lt=min(period.end, now)
    )
    facts = list(_facts(tickets, now))
    zone = timezone.get_current_timezone()
    key_of, label_of = _grouper(by, facts, zone)
    total = Tally()
    per_month: defaultdict[str, Tally] = defaultdict(Tally)
    per_year: defaultdict[str, Tally] = defaultdict(Tally)
    groups: defaultdict[str, Tally] = defaultdict(Tally)
    for t in facts:
        local = t.created_at.astimezone(zone)
        for tally in (
            total,
            per_month[f"{local:%Y-%m}"],
            per_year[str(local.year)],
            groups[key_of(t)],
        ):
            tally.add(t, now)
    if by == "month":
        for month in period.months():
            groups[month]  # every month of the range, even a quiet one
    return Report(
        period=period,
        by=by,
        now=now,
        total=total.figures(),
        groups=[
            {"key": key, "label": label_of(key), **groups[key].figures()}
            for key in sorted(groups, key=_sort_key)
        ],
        per_month=[{"month": m, "tickets": per_month[m].tickets} for m in period.months()],
        per_year=[
            {
                "year": int(year),
                "major_incidents": per_year[year].major_incidents,
                "reportable_incidents": None,
            }
            for year in sorted(per_year)
        ],
    )


def _sort_key(key: str) -> tuple[int, str]:
    return (1 if key == "" else 0, key)  # "no site / no category" last


def _facts(tickets: QuerySet[Ticket], now: dt.datetime) -> Iterator[TicketFacts]:
    rows = list(
        tickets.order_by("id").values_list(
            "id",
            "created_at",
            "kind",
            "priority",
            "site_id",
            "category_id",
            "sla_policy_id",
            "status",
        )
    )
    if not rows:
        return
    events: defaultdict[int, list[tuple[dt.datetime, str, str, int | None]]] = defaultdict(list)
    for ticket_id, *event in (
        TicketEvent.objects.filter(ticket__in=tickets.values("id"), kind__in=_EVENT_KINDS)
        .order_by("ticket_id", "at", "id")
        .values_list("ticket_id", "at", "kind", "to_status", "assignee_id")
    ):
        events[ticket_id].append(tuple(event))  # type: ignore[arg-type]
    policies = _policies({row[6] for row in rows if row[6] is not None})
    for pk, created_at, kind, priority, site_id, category_id, policy_id, status in rows:
        policy = policies.get(policy_id) if policy_id is not None else None

        def clocks(
            marks: list[sla.Mark],
            policy: tuple[sla.Targets, Calendar] | None = policy,
            created_at: dt.datetime = created_at,
        ) -> sla.TicketClocks | None:
            if policy is None:
                return None
            return sla.compute(created_at, marks, policy[0], policy[1], now)

        yield ticket_facts(
            created_at,
            status,
            events.get(pk, ()),
            ticket=(pk, kind, priority, site_id, category_id),
            clocks=clocks,
        )


def _policies(ids: set[int]) -> dict[int, tuple[sla.Targets, Calendar]]:
    found = SlaPolicy.objects.select_related("calendar").filter(pk__in=ids)
    return {p.pk: (sla.Targets.of(p), calendars.load(p.calendar)) for p in found}


def _grouper(
    by: str, facts: list[TicketFacts], zone: dt.tzinfo
) -> tuple[Callable[[TicketFacts], str], Callable[[str], str]]:
    """How a ticket maps to its group key, and the key to a label."""
    if by == "month":
        return (lambda t: f"{t.created_at.astimezone(zone):%Y-%m}"), (lambda k: k)
    if by == "priority":
        return (lambda t: f"P{t.priority}"), (lambda k: str(Priority(int(k[1:])).label))
    if by == "category":
        cats = {
            c.pk: c
            for c in Category.objects.filter(
                pk__in={t.category_id for t in facts if t.category_id is not None}
            )
        }
        codes = {pk: c.code for pk, c in cats.items()}
        names = {c.code: c.name for c in cats.values()}
        return (lambda t: codes.get(t.category_id or 0, "")), (
            lambda k: names.get(k, _("No category"))
        )
    sites = {
        s.pk: s
        for s in Site.objects.filter(
            pk__in={t.site_id for t in facts if t.site_id is not None}
        ).only("pk", "code", "name", "region_id")
    }
    if by == "site":
        codes = {pk: s.code for pk, s in sites.items()}
        names = {s.code: s.name for s in sites.values()}
        return (lambda t: codes.get(t.site_id or 0, "")), (lambda k: names.get(k, _("No site")))
    top = _top_regions()
    region_of = {pk: top.get(s.region_id) for pk, s in sites.items()}
    labels = {r.code: r.display_name for r in top.values()}

    def key(t: TicketFacts) -> str:
        region = region_of.get(t.site_id or 0)
        return region.code if region is not None else ""

    return key, (lambda k: labels.get(k, _("No site")))


def _top_regions() -> dict[int, Region]:
    """Each region's top-level ancestor (the sales region), from one small query."""
    regions = {r.pk: r for r in Region.objects.only("pk", "code", "name", "name_en", "parent_id")}
    found: dict[int, Region] = {}
    for pk, region in regions.items():
        node, seen = region, {pk}
        while node.parent_id is not None and node.parent_id in regions:
            if node.parent_id in seen:
                break  # a cycle: stop where we are
            seen.add(node.parent_id)
            node = regions[node.parent_id]
        found[pk] = node
    return found
