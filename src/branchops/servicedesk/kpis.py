"""Service-desk KPIs, computed from the tickets' event logs (docs/servicedesk-kpis.md).

For the tickets *reported* in a range of whole local months (``created_at``), optionally of
one region, category (with its sub-categories) or priority, grouped by month, region, site,
category or priority:

* **MTTA** (mean time to acknowledge): ``created_at`` to the first response (the response
  clock's stop: first assignment to a person, or first move to in progress, a pending
  status or resolved); wall-clock minutes, and the response clock's business minutes.
* **MTTR** (mean time to repair), of tickets resolved or closed now: ``created_at`` to the
  *last* resolution; wall-clock minutes, and the resolution clock's business minutes.
* **SLA attainment**: per clock (response, arrival, resolution) and overall, met / decided,
  where decided means stopped within the target (met) or past it (breached).
* **First-time fix**: of resolved or closed tickets, the share never reopened, with at most
  one on-site arrival, never held by a second person.
* **Major incidents**: P1 incidents, per year too; **reportable incidents** come from
  :func:`reportable_incidents_per_year` (the regulator's grades, ``ReportableIncident``).
* **Backlog ageing**: of the range's tickets, those open now, by age.
* **Satisfaction**: average score (1-5) of the reporters' answers, and the response rate.

The per-ticket facts come from :mod:`servicedesk.kpi_facts` (cached for done tickets,
decision 0017); the adding up is one pass over them in Python, into one tally per
(month, group) that the totals, months, years and groups are merged from.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from branchops.cmdb.models import Region, Site
from branchops.core import scoping
from branchops.core.models import User
from branchops.servicedesk import kpi_facts
from branchops.servicedesk.choices import ClockState, Priority, TicketKind
from branchops.servicedesk.kpi_facts import TicketFacts
from branchops.servicedesk.models import Category, ReportableIncident, Ticket

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

CLOCKS = ("response", "arrival", "resolution")
SCORES = (1, 2, 3, 4, 5)
_MET, _BREACHED = ClockState.MET.value, ClockState.BREACHED.value
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


# --- what to count ---------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """Narrow the tickets: a region (with the regions below it), a category (with its
    sub-categories), a priority. Empty: no filter."""

    region: str = ""
    category: str = ""
    priority: int | None = None

    def apply(self, tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
        if self.region:
            tickets = tickets.filter(site__region_id__in=_region_and_below(self.region))
        if self.category:
            tickets = tickets.filter(category_id__in=_category_and_below(self.category))
        if self.priority is not None:
            tickets = tickets.filter(priority=self.priority)
        return tickets


def parse_filters(region: str | None, category: str | None, priority: str | None) -> Filters:
    """The filters from request parameters; unknown codes are refused with the field."""
    region, category = (region or "").strip(), (category or "").strip()
    if region and not Region.objects.filter(code=region).exists():
        raise KpiRangeError(_("There is no region %(code)s.") % {"code": region}, "region")
    if category and not Category.objects.filter(code=category).exists():
        raise KpiRangeError(_("There is no category %(code)s.") % {"code": category}, "category")
    level: int | None = None
    if priority not in (None, ""):
        text = str(priority).strip().upper().removeprefix("P")
        if not text.isdigit() or int(text) not in Priority.values:
            raise KpiRangeError(_("Give the priority as 1 to 4 (or P1 to P4)."), "priority")
        level = int(text)
    return Filters(region, category, level)


def _below(pairs: Iterable[tuple[int, int | None]], root: int) -> set[int]:
    children: defaultdict[int, list[int]] = defaultdict(list)
    for pk, parent in pairs:
        if parent is not None:
            children[parent].append(pk)
    found, todo = set(), [root]
    while todo:
        pk = todo.pop()
        if pk not in found:
            found.add(pk)
            todo += children[pk]
    return found


def _region_and_below(code: str) -> set[int]:
    root = Region.objects.filter(code=code).values_list("pk", flat=True).first()
    return _below(Region.objects.values_list("pk", "parent_id"), root) if root else set()


def _category_and_below(code: str) -> set[int]:
    root = Category.objects.filter(code=code).values_list("pk", flat=True).first()
    return _below(Category.objects.values_list("pk", "parent_id"), root) if root else set()


def reportable_incidents_per_year(
    tickets: QuerySet[Ticket], zone: dt.tzinfo
) -> dict[int, int] | None:
    """``{year: count}`` of these tickets' reportable incidents, by the year (in ``zone``)
    their outage started; withdrawn matches are deleted, so every row counts."""
    years: dict[int, int] = {}
    started = ReportableIncident.objects.filter(ticket__in=tickets).values_list(
        "outage_started_at", flat=True
    )
    for at in started:
        year = at.astimezone(zone).year
        years[year] = years.get(year, 0) + 1
    return years


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
    clock_met: Counter[str] = field(default_factory=Counter)
    clock_breached: Counter[str] = field(default_factory=Counter)
    fixed_first_time: int = 0
    backlog: Counter[str] = field(default_factory=Counter)
    asked: int = 0
    answered: int = 0
    score_sum: int = 0
    scores: Counter[int] = field(default_factory=Counter)

    def add(self, t: TicketFacts, now: dt.datetime) -> None:
        self.tickets += 1
        if t.kind == TicketKind.INCIDENT:
            self.incidents += 1
            self.major_incidents += t.priority == Priority.P1
        if t.response_wall_s is not None:
            self.responded += 1
            self.response_wall_s += t.response_wall_s
        if t.response_business_s is not None:
            self.response_business_n += 1
            self.response_business_s += t.response_business_s
        if t.resolution_wall_s is not None:
            self.resolved += 1
            self.resolution_wall_s += t.resolution_wall_s
            self.fixed_first_time += bool(t.first_time_fix)
        if t.resolution_business_s is not None:
            self.resolution_business_n += 1
            self.resolution_business_s += t.resolution_business_s
        self._add_sla(t)
        if t.open:
            self.backlog[backlog_bucket((now - t.created_at).total_seconds() / 86400)] += 1
        if not t.open or t.satisfaction is not None:
            self.asked += 1
        if t.satisfaction is not None:
            self.answered += 1
            self.score_sum += t.satisfaction
            self.scores[t.satisfaction] += 1

    def _add_sla(self, t: TicketFacts) -> None:
        met = t.sla_met
        if met is True:
            self.sla_met += 1
        elif met is False:
            self.sla_breached += 1
        for name, state in zip(
            CLOCKS, (t.response_sla, t.arrival_sla, t.resolution_sla), strict=True
        ):
            if state == _MET:
                self.clock_met[name] += 1
            elif state == _BREACHED:
                self.clock_breached[name] += 1

    def merge(self, other: Tally) -> Tally:
        """Add ``other``'s sums to these (the tallies of two groups make their union's)."""
        for name in _TALLY_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

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
                **{name: self._clock(name) for name in CLOCKS},
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
            "satisfaction": {
                "asked": self.asked,
                "answered": self.answered,
                "response_rate": _share(self.answered, self.asked),
                "average_score": round(self.score_sum / self.answered, 2)
                if self.answered
                else None,
                "scores": {str(n): self.scores[n] for n in SCORES},
            },
        }

    def _clock(self, name: str) -> dict[str, object]:
        met, breached = self.clock_met[name], self.clock_breached[name]
        return {
            "decided": met + breached,
            "met": met,
            "breached": breached,
            "attainment": _share(met, met + breached),
        }


_TALLY_FIELDS = tuple(f.name for f in fields(Tally))


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
    filters: Filters
    total: dict[str, object]
    groups: list[dict[str, object]]
    per_month: list[dict[str, object]]
    per_year: list[dict[str, object]]
    categories: list[dict[str, str]]
    """The top-level categories of ``per_month``'s ``by_category``, with their names."""


def report(
    user: User,
    period: Period,
    by: str,
    now: dt.datetime | None = None,
    filters: Filters | None = None,
) -> Report:
    """The KPIs of the tickets ``user`` may see that were reported in ``period``.

    ``per_month`` has every month of the range with the full figures, the tickets by
    priority (``by_priority``) and by top-level category (``by_category``).
    """
    now = now or timezone.now()
    filters = filters or Filters()
    check_grouping(by)
    tickets = filters.apply(
        scoping.visible(user, Ticket).filter(
            created_at__gte=period.start, created_at__lt=min(period.end, now)
        )
    )
    facts = kpi_facts.load(tickets, now)
    zone = timezone.get_current_timezone()
    key_of, label_of = _grouper(by, facts, zone)
    top_category = _top_categories()
    cells: defaultdict[tuple[str, str], Tally] = defaultdict(Tally)
    priorities: defaultdict[str, Counter[str]] = defaultdict(Counter)
    categories: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for t in facts:
        month = f"{t.created_at.astimezone(zone):%Y-%m}"
        cells[(month, month if by == "month" else key_of(t))].add(t, now)
        priorities[month][f"P{t.priority}"] += 1
        categories[month][top_category.get(t.category_id or 0, ("", ""))[0]] += 1
    total = Tally()
    months: defaultdict[str, Tally] = defaultdict(Tally)
    groups: defaultdict[str, Tally] = defaultdict(Tally)
    for (month, key), tally in cells.items():
        total.merge(tally)
        months[month].merge(tally)
        groups[key].merge(tally)
    if by == "month":
        for month in period.months():
            groups[month]  # every month of the range, even a quiet one
    years: defaultdict[int, Tally] = defaultdict(Tally)
    for month, tally in months.items():
        years[int(month[:4])].merge(tally)
    reportable = reportable_incidents_per_year(tickets, zone)
    seen = sorted({code for counts in categories.values() for code in counts}, key=_sort_key)
    names = dict(top_category.values())
    return Report(
        period=period,
        by=by,
        now=now,
        filters=filters,
        total=_with_reportable(total.figures(), reportable),
        groups=[
            {"key": key, "label": label_of(key), **groups[key].figures()}
            for key in sorted(groups, key=_sort_key)
        ],
        per_month=[
            {
                "month": m,
                **months[m].figures(),
                "by_priority": {f"P{p}": priorities[m][f"P{p}"] for p in Priority.values},
                "by_category": {code: categories[m][code] for code in seen},
            }
            for m in period.months()
        ],
        per_year=[
            {
                "year": year,
                "major_incidents": years[year].major_incidents,
                "reportable_incidents": None if reportable is None else reportable.get(year, 0),
            }
            for year in sorted(years)
        ],
        categories=[{"key": code, "label": names.get(code) or _("No category")} for code in seen],
    )


def _with_reportable(
    figures: dict[str, object], reportable: dict[int, int] | None
) -> dict[str, object]:
    if reportable is not None:
        figures["reportable_incidents"] = sum(reportable.values())
    return figures


def _sort_key(key: str) -> tuple[int, str]:
    return (1 if key == "" else 0, key)  # "no site / no category" last


def _top_categories() -> dict[int, tuple[str, str]]:
    """Each category's top-level ancestor as (code, name), from one small query."""
    rows = {pk: (code, name, parent) for pk, code, name, parent in
            Category.objects.values_list("pk", "code", "name", "parent_id")}  # fmt: skip
    found: dict[int, tuple[str, str]] = {}
    for pk in rows:
        node, seen = pk, {pk}
        while (parent := rows[node][2]) is not None and parent in rows and parent not in seen:
            seen.add(parent)
            node = parent
        found[pk] = (rows[node][0], rows[node][1])
    return found


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
    sites = list(Site.objects.values_list("pk", "code", "name", "region_id"))
    if by == "site":
        codes = {pk: code for pk, code, _name, _region in sites}
        names = {code: name for _pk, code, name, _region in sites}
        return (lambda t: codes.get(t.site_id or 0, "")), (lambda k: names.get(k, _("No site")))
    top = _top_regions()
    region_of = {pk: top.get(region) for pk, _code, _name, region in sites if region is not None}
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
