"""POST /api/v1/push/metrics: other systems push their figures (seed 002: data-transmission
channels and business flows, with volume, success rate and delay) as Prometheus text or JSON.

Served from the test URLconf in test_push_urls.py.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from branchops.core.choices import Role, TokenScope
from branchops.core.testing import make_user
from branchops.core.tokens import create_token
from branchops.monitoring import push
from branchops.monitoring.metrics.base import Selector
from branchops.monitoring.metrics.sqlite import SqliteMetricStore

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls("branchops.monitoring.tests.test_push_urls"),
]
URL = "/api/v1/push/metrics"

TEXT = """\
# HELP branchops_flow_transfers_total Transfers through the channel.
# TYPE branchops_flow_transfers_total counter
branchops_flow_transfers_total{channel="银证转账",system="集中交易系统"} 10432
# TYPE branchops_flow_success_ratio gauge
branchops_flow_success_ratio{channel="银证转账",system="集中交易系统"} 0.9993
branchops_flow_delay_seconds{channel="银证转账",system="集中交易系统",quantile="0.99"} 0.42
"""


@pytest.fixture
def store_path(settings: Any, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "metrics.sqlite3"
    settings.METRICS_URL = f"sqlite:///{path}"
    yield path
    push.close_stores()


@pytest.fixture
def token() -> str:
    _, plain = create_token(user=make_user(Role.NOC_OPERATOR, username="ctp-gateway"), name="ctp")
    return plain


def send(token: str, body: bytes | str, content_type: str = "text/plain", **headers: str) -> Any:
    data = body.encode() if isinstance(body, str) else body
    return Client().post(
        URL,
        data,
        content_type=content_type,
        # The assertions read English messages; the product's default language is Chinese.
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en", **headers},
    )


def read(store_path: Path, name: str, start: float, end: float) -> list[Any]:
    store = SqliteMetricStore(store_path)
    found = store.query_range(Selector(name), start, end)
    store.close()
    return found


def test_prometheus_text_is_stored_with_the_source(store_path: Path, token: str) -> None:
    before = time.time()
    response = send(token, TEXT)
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 3, "dropped": 0}
    [series] = read(store_path, "branchops_flow_success_ratio", before - 1, time.time() + 1)
    assert dict(series.labels) == {
        "channel": "银证转账",
        "system": "集中交易系统",
        "source": "ctp-gateway",
    }
    assert series.points[0].value == 0.9993
    assert before - 1 <= series.points[0].ts <= time.time() + 1  # no timestamp: now


def test_text_with_a_version_parameter_and_openmetrics_type(store_path: Path, token: str) -> None:
    for content_type in ("text/plain; version=0.0.4", "application/openmetrics-text"):
        response = send(token, "up 1\n", content_type)
        assert response.status_code == 200, (content_type, response.content)


def test_json_with_timestamps_in_milliseconds(store_path: Path, token: str) -> None:
    at = int(time.time()) - 600
    body = {
        "metrics": [
            {
                "name": "branchops_flow_delay_seconds",
                "labels": {"channel": "第三方存管"},
                "value": 1.5,
                "timestamp": at * 1000,
            }
        ]
    }
    response = send(token, json.dumps(body), "application/json")
    assert response.status_code == 200, response.content
    [series] = read(store_path, "branchops_flow_delay_seconds", at - 1, at + 1)
    assert [(p.ts, p.value) for p in series.points] == [(at, 1.5)]


def test_the_pusher_cannot_choose_its_source(store_path: Path, token: str) -> None:
    send(token, 'x_ratio{source="someone-else"} 1\n')
    [series] = read(store_path, "x_ratio", time.time() - 60, time.time() + 1)
    assert dict(series.labels) == {"source": "ctp-gateway"}


def test_nan_is_dropped_and_counted(store_path: Path, token: str) -> None:
    response = send(token, "a_ratio 1\nb_ratio NaN\n")
    assert response.json() == {"accepted": 1, "dropped": 1}


def test_gzip_is_taken(store_path: Path, token: str) -> None:
    response = send(token, gzip.compress(TEXT.encode()), **{"Content-Encoding": "gzip"})
    assert response.json()["accepted"] == 3


def test_a_bad_line_is_400_naming_it(store_path: Path, token: str) -> None:
    response = send(token, "good_total 1\ngood_total 2\nbad line here\n")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["line"] == 3
    assert error["message"].startswith("line 3:")
    assert read(store_path, "good_total", 0, time.time() + 1) == []  # all or nothing


def test_bad_json_is_400_naming_the_item(store_path: Path, token: str) -> None:
    body = {"metrics": [{"name": "ok", "value": 1}, {"name": "bad name", "value": 1}]}
    response = send(token, json.dumps(body), "application/json")
    assert response.status_code == 400
    assert "metrics[1].name" in response.json()["error"]["message"]
    assert send(token, "{oops", "application/json").status_code == 400


def test_too_many_samples_is_400(store_path: Path, token: str) -> None:
    body = "".join(f'm{{i="{i}"}} 1\n' for i in range(push.MAX_METRICS_SAMPLES + 1))
    response = send(token, body)
    assert response.status_code == 400
    assert "samples" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "line",
    [
        'm{__reserved="x"} 1',
        "m{" + ",".join(f'l{i}="v"' for i in range(push.MAX_LABELS + 1)) + "} 1",
        'm{a="' + "v" * (push.MAX_LABEL_VALUE + 1) + '"} 1',
    ],
)
def test_labels_past_the_limits_are_400(store_path: Path, token: str, line: str) -> None:
    response = send(token, line + "\n")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"].startswith("m: ")


def test_a_sample_from_the_future_is_400(store_path: Path, token: str) -> None:
    future = int((time.time() + 3600) * 1000)
    assert send(token, f"m 1 {future}\n").status_code == 400


def test_oversize_bodies_are_413_with_the_limit(store_path: Path, token: str) -> None:
    response = send(token, b"#" * (push.MAX_METRICS_BYTES + 1))
    assert response.status_code == 413
    assert "4194304 bytes" in response.json()["error"]["message"]


def test_other_content_types_are_415(store_path: Path, token: str) -> None:
    assert send(token, "m 1\n", "application/x-www-form-urlencoded").status_code == 415
    assert send(token, b"m 1\n", "application/x-protobuf").status_code == 415


def test_a_read_only_token_is_403_and_none_401(store_path: Path) -> None:
    _, reader = create_token(user=make_user(), name="r", scope=TokenScope.READ)
    assert send(reader, TEXT).status_code == 403
    assert Client().post(URL, TEXT, content_type="text/plain").status_code == 401
    assert read(store_path, "branchops_flow_success_ratio", 0, time.time() + 1) == []


def test_a_dead_metric_store_is_503(settings: Any, token: str) -> None:
    settings.METRICS_URL = "http://127.0.0.1:9"
    try:
        response = send(token, TEXT)
    finally:
        push.close_stores()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
