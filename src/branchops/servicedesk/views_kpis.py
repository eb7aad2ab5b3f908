"""The KPI page: MTTA and MTTR, SLA attainment, first-time fix, tickets per month, backlog
ageing and satisfaction over a range of months, as ECharts charts with a table under each.

Filters are GET parameters (``from``, ``to``, ``region``, ``category``, ``priority``, ``by``
for the breakdown table, ``stack`` for the tickets chart); the figures are
``kpis.report`` for the tickets the user may see (a branch liaison: their sites only). The
charts' options are built here, translated, and handed to the page as JSON; the script only
draws them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from branchops.cmdb.models import Region
from branchops.core.permissions import Action, Area, require
from branchops.core.views import current_user
from branchops.servicedesk import kpis
from branchops.servicedesk.choices import Priority
from branchops.servicedesk.models import Category

DEFAULT_MONTHS = 24
BREAKDOWNS = ("region", "site", "category", "priority")
STACKS = ("category", "priority")
COLOURS = ["#206bc4", "#f76707", "#2fb344", "#d63939", "#ae3ec9", "#f59f00", "#17a2b8"]


class KpiFilterForm(forms.Form):
    start = forms.CharField(label=gettext_lazy("From month"), required=False)
    end = forms.CharField(label=gettext_lazy("To month"), required=False)
    region = forms.ChoiceField(label=gettext_lazy("Region"), required=False)
    category = forms.ChoiceField(label=gettext_lazy("Category"), required=False)
    priority = forms.ChoiceField(label=gettext_lazy("Priority"), required=False)
    by = forms.ChoiceField(label=gettext_lazy("Break down by"), required=False)
    stack = forms.ChoiceField(label=gettext_lazy("Stack tickets by"), required=False)

    def __init__(self, data: Any) -> None:
        super().__init__(_renamed(data))
        every: list[tuple[str, str]] = [("", _("All"))]
        regions = [(r.code, r.display_name) for r in Region.objects.order_by("code")]
        categories = [(c.code, c.name) for c in Category.objects.order_by("code")]
        labels = {"region": _("Region"), "site": _("Site"), "category": _("Category"),
                  "priority": _("Priority")}  # fmt: skip
        self._choices("region", every + regions)
        self._choices("category", every + categories)
        self._choices("priority", every + [(str(p.value), str(p.label)) for p in Priority])
        self._choices("by", [(b, labels[b]) for b in BREAKDOWNS])
        self._choices("stack", [(s, labels[s]) for s in STACKS])

    def _choices(self, name: str, choices: list[tuple[str, str]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices


def _renamed(data: Any) -> dict[str, str]:
    """``from`` and ``to`` are the API's names (Python keywords as field names are not)."""
    values = {k: data.get(k, "") for k in ("region", "category", "priority", "by", "stack")}
    values.update(start=data.get("from", ""), end=data.get("to", ""))
    return values


@login_required
@require_GET
def kpi_page(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    require(user, Action.VIEW, Area.SERVICE_DESK)
    form = KpiFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "servicedesk/kpis/page.html", {"form": form}, status=400)
    values = form.cleaned_data
    by = values.get("by") or "region"
    stack = values.get("stack") or "category"
    today = timezone.localdate()
    try:
        period = kpis.parse_period(
            values.get("start") or _months_back(today), values.get("end"), today
        )
        filters = kpis.parse_filters(
            values.get("region"), values.get("category"), values.get("priority")
        )
    except kpis.KpiRangeError as exc:
        form.add_error({"from": "start", "to": "end"}.get(exc.field, exc.field), exc.message)
        return render(request, "servicedesk/kpis/page.html", {"form": form}, status=400)
    found = kpis.report(user, period, by, filters=filters)
    context = {
        "form": form,
        "report": found,
        "from_value": f"{period.first:%Y-%m}",
        "to_value": f"{period.last:%Y-%m}",
        "summary": _summary(found),
        "charts": charts(found, stack),
        "breakdown": _breakdown(found),
    }
    return render(request, "servicedesk/kpis/page.html", context)


def _months_back(today: dt.date, months: int = DEFAULT_MONTHS) -> str:
    index = today.year * 12 + today.month - 1 - (months - 1)
    return f"{index // 12}-{index % 12 + 1:02d}"


# --- figures for people ------------------------------------------------------------------


def _num(value: object, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: object) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f} %"  # type: ignore[arg-type]


def _summary(found: kpis.Report) -> list[dict[str, str]]:
    t: dict[str, Any] = found.total
    years = ", ".join(f"{y['year']}: {y['major_incidents']}" for y in found.per_year) or "—"
    reportable = t["reportable_incidents"]
    return [
        {"label": _("Tickets"), "value": _num(t["tickets"])},
        {"label": _("MTTA (business minutes)"), "value": _num(t["mtta"]["business_minutes"])},
        {"label": _("MTTR (business hours)"), "value": _hours(t["mttr"]["business_minutes"])},
        {"label": _("SLA attainment"), "value": _pct(t["sla"]["attainment"])},
        {"label": _("First-time fix"), "value": _pct(t["first_time_fix"]["rate"])},
        {"label": _("Satisfaction (of 5)"), "value": _num(t["satisfaction"]["average_score"], 2)},
        {"label": _("Major incidents (P1) per year"), "value": years},
        {
            "label": _("Reportable incidents"),
            "value": _("not available yet") if reportable is None else _num(reportable),
        },
    ]


def _hours(minutes: float | None) -> str:
    return "—" if minutes is None else f"{minutes / 60:.1f}"


def _round(value: float | None, factor: float = 1.0, digits: int = 1) -> float | None:
    return None if value is None else round(value * factor, digits)


# --- the charts ------------------------------------------------------------------------


def _line_option(months: list[str], series: list[dict[str, Any]], **axis: Any) -> dict[str, Any]:
    y_axes = axis.pop("y_axes", [{"type": "value"}])
    return {
        "animation": False,
        "color": COLOURS,
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0},
        "grid": {"left": 48, "right": 48, "top": 24, "bottom": 48},
        "xAxis": {"type": "category", "data": months},
        "yAxis": y_axes,
        "series": series,
    }


def charts(found: kpis.Report, stack: str = "category") -> list[dict[str, Any]]:
    """Each chart's ECharts option and the table under it."""
    rows: list[dict[str, Any]] = found.per_month
    months = [str(m["month"]) for m in rows]
    return [
        _mean_times(months, rows),
        _sla(months, rows),
        _first_time_fix(months, rows),
        _tickets(months, rows, found.categories, stack),
        _backlog(found.total),
        _satisfaction(months, rows),
    ]


def _mean_times(months: list[str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    mtta = [_round(r["mtta"]["business_minutes"]) for r in rows]
    mttr = [_round(r["mttr"]["business_minutes"], 1 / 60) for r in rows]
    mtta_label, mttr_label = _("MTTA (business minutes)"), _("MTTR (business hours)")
    option = _line_option(
        months,
        [
            {"name": mtta_label, "type": "line", "data": mtta, "yAxisIndex": 0},
            {"name": mttr_label, "type": "line", "data": mttr, "yAxisIndex": 1},
        ],
        y_axes=[{"type": "value", "name": _("min")}, {"type": "value", "name": _("h")}],
    )
    table = [
        [
            r["month"],
            _num(r["mtta"]["business_minutes"]),
            _num(r["mtta"]["wall_minutes"]),
            _hours(r["mttr"]["business_minutes"]),
            _hours(r["mttr"]["wall_minutes"]),
        ]
        for r in rows
    ]
    head = [_("Month"), mtta_label, _("MTTA (wall minutes)"), mttr_label, _("MTTR (wall hours)")]
    return _chart("mean-times", _("Mean time to acknowledge and to repair"), option, head, table)


def _sla(months: list[str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    names = {
        "response": _("Response"),
        "arrival": _("On-site arrival"),
        "resolution": _("Resolution"),
    }
    series: list[dict[str, Any]] = [
        {
            "name": label,
            "type": "line",
            "data": [_round(r["sla"][key]["attainment"], 100) for r in rows],
        }
        for key, label in names.items()
    ]
    series.append(
        {"name": _("All clocks"), "type": "line", "lineStyle": {"width": 3},
         "data": [_round(r["sla"]["attainment"], 100) for r in rows]}
    )  # fmt: skip
    option = _line_option(months, series, y_axes=[{"type": "value", "max": 100, "name": "%"}])
    table = [
        [
            r["month"],
            *(_pct(r["sla"][k]["attainment"]) for k in names),
            _pct(r["sla"]["attainment"]),
            f"{r['sla']['breached']} / {r['sla']['decided']}",
        ]
        for r in rows
    ]
    head = [_("Month"), *names.values(), _("All clocks"), _("Breached / decided")]
    return _chart("sla", _("SLA attainment"), option, head, table)


def _first_time_fix(months: list[str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    label = _("First-time fix")
    option = _line_option(
        months,
        [{"name": label, "type": "bar",
          "data": [_round(r["first_time_fix"]["rate"], 100) for r in rows]}],
        y_axes=[{"type": "value", "max": 100, "name": "%"}],
    )  # fmt: skip
    table = [
        [
            r["month"],
            _pct(r["first_time_fix"]["rate"]),
            f"{r['first_time_fix']['fixed_first_time']} / {r['first_time_fix']['resolved']}",
        ]
        for r in rows
    ]
    head = [_("Month"), label, _("Fixed first time / resolved")]
    return _chart("first-time-fix", label, option, head, table)


def _tickets(
    months: list[str], rows: list[dict[str, Any]], categories: list[dict[str, str]], stack: str
) -> dict[str, Any]:
    if stack == "priority":
        keys = [(f"P{p}", f"P{p}") for p in Priority.values]
        field = "by_priority"
    else:
        keys = [(c["key"], c["label"]) for c in categories]
        field = "by_category"
    series = [
        {
            "name": label,
            "type": "bar",
            "stack": "tickets",
            "data": [r[field].get(key, 0) for r in rows],
        }
        for key, label in keys
    ]
    option = _line_option(months, series, y_axes=[{"type": "value"}])
    table = [
        [r["month"], *(str(r[field].get(key, 0)) for key, _l in keys), str(r["tickets"])]
        for r in rows
    ]
    head = [_("Month"), *(label for _k, label in keys), _("Tickets")]
    return _chart("tickets", _("Tickets per month"), option, head, table)


def _backlog(total: dict[str, Any]) -> dict[str, Any]:
    labels = {
        "under_1d": _("under 1 day"),
        "1d_3d": _("1-3 days"),
        "3d_7d": _("3-7 days"),
        "7d_30d": _("7-30 days"),
        "over_30d": _("over 30 days"),
    }
    counts = [total["backlog"][k] for k in labels]
    option = {
        "animation": False,
        "color": COLOURS[1:],
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 48, "right": 24, "top": 24, "bottom": 32},
        "xAxis": {"type": "category", "data": list(labels.values())},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [{"name": _("Open tickets"), "type": "bar", "data": counts}],
    }
    table = [[label, str(n)] for label, n in zip(labels.values(), counts, strict=True)]
    table.append([_("All open"), str(total["backlog"]["open"])])
    return _chart(
        "backlog", _("Backlog ageing (open now)"), option, [_("Age"), _("Open tickets")], table
    )


def _satisfaction(months: list[str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    score, rate = _("Average score"), _("Response rate")
    option = _line_option(
        months,
        [
            {"name": rate, "type": "bar", "yAxisIndex": 1,
             "data": [_round(r["satisfaction"]["response_rate"], 100) for r in rows]},
            {"name": score, "type": "line", "yAxisIndex": 0,
             "data": [r["satisfaction"]["average_score"] for r in rows]},
        ],
        y_axes=[{"type": "value", "min": 0, "max": 5}, {"type": "value", "max": 100, "name": "%"}],
    )  # fmt: skip
    table = [
        [
            r["month"],
            _num(r["satisfaction"]["average_score"], 2),
            _pct(r["satisfaction"]["response_rate"]),
            f"{r['satisfaction']['answered']} / {r['satisfaction']['asked']}",
            " · ".join(f"{n}: {r['satisfaction']['scores'][str(n)]}" for n in kpis.SCORES),
        ]
        for r in rows
    ]
    head = [_("Month"), score, rate, _("Answered / asked"), _("Answers per score")]
    return _chart("satisfaction", _("Satisfaction"), option, head, table)


def _chart(
    key: str, title: str, option: dict[str, Any], head: list[str], rows: list[list[Any]]
) -> dict[str, Any]:
    return {"key": key, "id": f"kpi-chart-{key}", "title": title, "option": option,
            "head": head, "rows": rows}  # fmt: skip


def _breakdown(found: kpis.Report) -> dict[str, Any]:
    groups: list[dict[str, Any]] = found.groups
    head = [_("Group"), _("Tickets"), _("MTTA (business minutes)"), _("MTTR (business hours)"),
            _("SLA attainment"), _("First-time fix"), _("Open"), _("Satisfaction (of 5)"),
            _("Major incidents (P1)")]  # fmt: skip
    rows = [
        [
            g["label"] if g["key"] == g["label"] else f"{g['key']} {g['label']}".strip() or "—",
            str(g["tickets"]),
            _num(g["mtta"]["business_minutes"]),
            _hours(g["mttr"]["business_minutes"]),
            _pct(g["sla"]["attainment"]),
            _pct(g["first_time_fix"]["rate"]),
            str(g["backlog"]["open"]),
            _num(g["satisfaction"]["average_score"], 2),
            str(g["major_incidents"]),
        ]
        for g in groups
    ]
    labels = {"region": _("Region"), "site": _("Site"), "category": _("Category"),
              "priority": _("Priority")}  # fmt: skip
    return {"head": head, "rows": rows, "label": labels.get(found.by, found.by)}
