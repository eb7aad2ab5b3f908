"""The KPI page: charts' data and tables from the hand-built September of
test_kpis_figures, filters from GET parameters, refusals, a liaison's own sites only, and
the link in the sidebar."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from branchops.core.choices import Role
from branchops.core.models import User
from branchops.core.testing import make_user
from branchops.servicedesk.tests.test_kpis_figures import september  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

URL = reverse("servicedesk:kpis")


def page(user: User, query: str = "from=2026-09&to=2026-09") -> Any:
    client = Client()
    client.force_login(user)
    return client.get(f"{URL}?{query}")


def chart(html: str, key: str) -> dict[str, Any]:
    found = re.search(rf'<script id="kpi-chart-{key}" type="application/json">(.*?)</script>', html)
    assert found is not None, key
    return dict(json.loads(found[1]))


def series(option: dict[str, Any]) -> dict[str, list[Any]]:
    return {s["name"]: s["data"] for s in option["series"]}


def test_the_page_draws_every_chart_from_the_figures(september: dict[str, Any]) -> None:  # noqa: F811
    answer = page(september["admin"])
    assert answer.status_code == 200
    html = answer.content.decode()
    assert html.count("data-bo-kpi-chart=") == 6
    assert "vendor/echarts/echarts.min.js" in html
    times = series(chart(html, "mean-times"))
    assert times == {"MTTA (business minutes)": [20.0], "MTTR (business hours)": [3.7]}
    sla = series(chart(html, "sla"))
    assert sla == {"Response": [50.0], "On-site arrival": [100.0], "Resolution": [100.0],
                   "All clocks": [33.3]}  # fmt: skip
    assert series(chart(html, "first-time-fix")) == {"First-time fix": [66.7]}
    assert series(chart(html, "tickets")) == {"Desktops": [1], "Network": [3]}
    assert series(chart(html, "backlog")) == {"Open tickets": [0, 0, 0, 0, 1]}
    assert series(chart(html, "satisfaction")) == {"Response rate": [66.7], "Average score": [3.0]}
    # the tables say the same
    assert "<td>2026-09</td><td>50.0 %</td><td>100.0 %</td><td>100.0 %</td><td>33.3 %</td>" in html
    assert "<td>2 / 3</td><td>1: 0 · 2: 1 · 3: 0 · 4: 1 · 5: 0</td>" in html


def test_filters_and_stacking(september: dict[str, Any]) -> None:  # noqa: F811
    admin = september["admin"]
    html = page(admin, "from=2026-09&to=2026-09&priority=1&stack=priority&by=priority").content
    text = html.decode()
    assert series(chart(text, "tickets")) == {"P1": [1], "P2": [0], "P3": [0], "P4": [0]}
    assert "<td>P1 P1 (critical)</td><td>1</td>" in text
    east = page(admin, "from=2026-09&to=2026-09&region=east&by=site").content.decode()
    assert series(chart(east, "tickets")) == {"Network": [2]}


@pytest.mark.parametrize(
    ("query", "says"),
    [("from=2026-13", "not a month"), ("region=atlantis", "Select a valid choice"),
     ("from=2026-10&to=2026-01", "after it ends")],
)  # fmt: skip
def test_bad_filters_are_shown_on_the_form(query: str, says: str) -> None:
    answer = page(make_user(Role.AUDITOR), query)
    assert answer.status_code == 400
    assert says in answer.content.decode()
    assert "data-bo-kpi-chart" not in answer.content.decode()


def test_a_liaison_sees_their_sites_figures_only(september: dict[str, Any]) -> None:  # noqa: F811
    liaison = make_user(Role.BRANCH_LIAISON, sites=(september["east"],))
    html = page(liaison, "from=2026-09&to=2026-09&by=site").content.decode()
    assert series(chart(html, "tickets")) == {"Network": [2]}
    assert "BR-W" not in html
    assert "<td>BR-E Site BR-E</td><td>2</td>" in html


def test_the_sidebar_links_the_page() -> None:
    html = page(make_user(Role.AUDITOR), "").content.decode()
    assert f'href="{URL}"' in html
    assert page(make_user(Role.AUDITOR), "").status_code == 200
