"""Push endpoints: POST /api/v1/push/agent and /api/v1/push/metrics.

The router is served from the test URLconf in test_push_urls.py, so these tests do not
depend on where urls.py mounts it.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.test import Client

from branchops.core.choices import Role, TokenScope
from branchops.core.testing import make_device, make_user
from branchops.core.tokens import create_token
from branchops.monitoring import push
from branchops.monitoring.metrics.base import Selector
from branchops.monitoring.metrics.sqlite import SqliteMetricStore

if not apps.is_installed("branchops.agents"):
    pytest.skip(
        'the agents app is not installed yet: add "branchops.agents" to INSTALLED_APPS',
        allow_module_level=True,
    )

from branchops.agents.models import Agent, AgentBatch

pytestmark = [pytest.mark.django_db, pytest.mark.urls("branchops.monitoring.tests.test_push_urls")]
AGENT_URL = "/api/v1/push/agent"
METRICS_URL = "/api/v1/push/metrics"


@pytest.fixture
def store_path(settings: Any, tmp_path: Path) -> Iterator[Path]:
    metrics = tmp_path / "metrics.sqlite3"
    settings.METRICS_URL = f"sqlite:///{metrics}"
    yield metrics
    push.close_stores()


@pytest.fixture
def writer() -> str:
    _, token = create_token(user=make_user(Role.NOC_OPERATOR, username="agents"), name="agents")
    return token


def post(
    url: str, token: str, body: bytes | str, content_type: str = "application/json", **headers: str
) -> Any:
    data = body.encode() if isinstance(body, str) else body
    return Client().post(
        url,
        data,
        content_type=content_type,
        # The assertions read English messages; the product's default language is Chinese.
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en", **headers},
    )


def batch(sequence: int, **overrides: Any) -> dict[str, Any]:
    now = time.time()
    return {
        "agent": {
            "id": "0f8e4c4e-5d7b-4d59-9a55-6a1d1c1f0001",
            "hostname": "sh-pudong-srv01",
            "os": "Linux",
            "os_version": "Rocky Linux 9.4",
            "ips": ["127.0.0.11"],
            "version": "0.1.0",
            "extra": {"cpu_count": 4},
        },
        "sequence": sequence,
        "collected_at": now - 5,
        "sent_at": now,
        "samples": [
            {"name": "branchops_agent_cpu_utilisation_ratio", "labels": {}, "value": 0.25},
            {
                "name": "branchops_agent_filesystem_free_bytes",
                "labels": {"mountpoint": "/数据"},
                "value": 1e9,
            },
        ],
        **overrides,
    }


def read(store_path: Path, name: str, **matchers: str) -> list[tuple[tuple[str, str], ...]]:
    store = SqliteMetricStore(store_path)
    found = store.query_range(Selector(name, matchers), time.time() - 3600, time.time() + 60)
    store.close()
    return [s.labels for s in found for _ in s.points]


# ---- agent batches -----------------------------------------------------------------------------


def test_an_agent_batch_is_stored_with_host_labels(store_path: Path, writer: str) -> None:
    response = post(AGENT_URL, writer, json.dumps(batch(1)))
    assert response.status_code == 200, response.content
    assert response.json() == {
        "accepted": True,
        "duplicate": False,
        "last_sequence": 1,
        "samples": 2,
    }
    [labels] = read(store_path, "branchops_agent_filesystem_free_bytes")
    assert labels == (("host", "sh-pudong-srv01"), ("mountpoint", "/数据"))

    agent = Agent.objects.get()
    assert (agent.hostname, agent.os_version, agent.ips) == (
        "sh-pudong-srv01",
        "Rocky Linux 9.4",
        ["127.0.0.11"],
    )
    assert agent.owner is not None
    assert agent.owner.username == "agents"
    assert [b.sequence for b in AgentBatch.objects.all()] == [1]


def test_a_replayed_batch_is_acknowledged_and_not_stored_again(
    store_path: Path, writer: str
) -> None:
    assert post(AGENT_URL, writer, json.dumps(batch(1))).json()["accepted"]
    assert post(AGENT_URL, writer, json.dumps(batch(2))).json()["accepted"]
    again = post(AGENT_URL, writer, json.dumps(batch(1)))
    assert again.status_code == 200
    assert again.json() == {"accepted": False, "duplicate": True, "last_sequence": 2, "samples": 0}
    agent = Agent.objects.get()
    assert (agent.batches_accepted, agent.replays_ignored, agent.last_sequence) == (2, 1, 2)
    assert [b.sequence for b in AgentBatch.objects.all()] == [1, 2]


def test_a_known_device_gives_the_estate_labels(store_path: Path, writer: str) -> None:
    device = make_device(name="SH-PUDONG-SRV01", role="firewall")
    post(AGENT_URL, writer, json.dumps(batch(1)))
    assert Agent.objects.get().device == device
    [labels] = read(store_path, "branchops_agent_cpu_utilisation_ratio")
    assert dict(labels) == {
        "host": "sh-pudong-srv01",
        "device": "SH-PUDONG-SRV01",
        "site": device.site.code,
        "region": device.site.region.code,
        "role": "firewall",
    }


def test_a_device_is_also_found_by_management_ip(store_path: Path, writer: str) -> None:
    device = make_device(name="other-name", management_ip="127.0.0.11")
    post(AGENT_URL, writer, json.dumps(batch(1)))
    assert Agent.objects.get().device == device


def test_the_agent_cannot_set_its_own_host_label(store_path: Path, writer: str) -> None:
    body = batch(1, samples=[{"name": "x_ratio", "labels": {"host": "someone-else"}, "value": 1}])
    post(AGENT_URL, writer, json.dumps(body))
    assert read(store_path, "x_ratio") == [(("host", "sh-pudong-srv01"),)]


def test_a_wrong_agent_clock_is_corrected(store_path: Path, writer: str) -> None:
    now = time.time()
    skewed = batch(1, collected_at=now - 3600 - 5, sent_at=now - 3600)  # an hour slow
    post(AGENT_URL, writer, json.dumps(skewed))
    store = SqliteMetricStore(store_path)
    [series] = store.query_range(Selector("branchops_agent_cpu_utilisation_ratio"), now - 60, now)
    store.close()
    assert abs(series.points[0].ts - (now - 5)) < 3
    assert Agent.objects.get().clock_offset_s == pytest.approx(3600, abs=3)


def test_gzip_bodies_are_taken(store_path: Path, writer: str) -> None:
    body = gzip.compress(json.dumps(batch(1)).encode())
    response = post(AGENT_URL, writer, body, **{"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.content


def test_another_users_token_cannot_push_for_an_agent(store_path: Path, writer: str) -> None:
    post(AGENT_URL, writer, json.dumps(batch(1)))
    _, intruder = create_token(user=make_user(Role.OPS_ENGINEER), name="x")
    response = post(AGENT_URL, intruder, json.dumps(batch(2)))
    assert response.status_code == 403
    assert Agent.objects.get().last_sequence == 1


def test_a_read_only_token_is_refused(store_path: Path) -> None:
    _, token = create_token(user=make_user(), name="r", scope=TokenScope.READ)
    response = post(AGENT_URL, token, json.dumps(batch(1)))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert not Agent.objects.exists()


def test_no_token_or_a_session_is_refused(store_path: Path) -> None:
    assert Client().post(AGENT_URL, "{}", content_type="application/json").status_code == 401
    client = Client()
    client.force_login(make_user())
    assert client.post(AGENT_URL, "{}", content_type="application/json").status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", "__all__"),
        ("[]", "agent"),
        (json.dumps(batch(0)), "sequence"),
        (json.dumps(batch(1, agent={"id": "x", "hostname": "h"})), "agent.id"),
        (json.dumps(batch(1, samples=[{"name": "9bad", "value": 1}])), "samples.0.name"),
        (json.dumps(batch(1, samples=[{"name": "a", "value": "high"}])), "samples.0.value"),
        (
            json.dumps(batch(1, samples=[{"name": "a", "value": 1, "labels": {"__x": "y"}}])),
            "samples.0.labels",
        ),
        (
            json.dumps(batch(1, samples=[{"name": "a", "value": 1, "labels": {"a": "v" * 513}}])),
            "samples.0.labels",
        ),
        (json.dumps(batch(1, samples=[{"name": "a", "value": 1}] * 5001)), "samples"),
        (json.dumps(batch(1, agent={**batch(1)["agent"], "ips": ["300.1.1.1"]})), "agent.ips"),
    ],
)
def test_bad_batches_are_400_naming_the_field(
    store_path: Path, writer: str, body: str, field: str
) -> None:
    response = post(AGENT_URL, writer, body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert not AgentBatch.objects.exists()


def test_a_batch_from_the_future_is_refused(store_path: Path, writer: str) -> None:
    future = time.time() + 3600
    response = post(AGENT_URL, writer, json.dumps(batch(1, collected_at=future, sent_at=None)))
    assert response.status_code == 400


def test_oversize_bodies_are_413_with_the_limit_before_reading(
    store_path: Path, writer: str
) -> None:
    body = b" " * (push.MAX_AGENT_BYTES + 1)
    response = post(AGENT_URL, writer, body)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_large"
    assert "1048576 bytes" in error["message"]


def test_a_gzip_bomb_is_413(store_path: Path, writer: str) -> None:
    bomb = gzip.compress(b" " * (push.MAX_AGENT_BYTES * 8))
    assert len(bomb) < push.MAX_AGENT_BYTES
    response = post(AGENT_URL, writer, bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413


def test_bad_gzip_and_unknown_encodings_are_refused(store_path: Path, writer: str) -> None:
    assert post(AGENT_URL, writer, b"nope", **{"Content-Encoding": "gzip"}).status_code == 400
    assert post(AGENT_URL, writer, b"{}", **{"Content-Encoding": "br"}).status_code == 415
    assert post(AGENT_URL, writer, b"{}", content_type="text/plain").status_code == 415


def test_nan_values_are_dropped(store_path: Path, writer: str) -> None:
    body = batch(1, samples=[{"name": "a_ratio", "value": 1}, {"name": "b_ratio", "value": 0}])
    text = json.dumps(body).replace('"value": 0}', '"value": NaN}')
    response = post(AGENT_URL, writer, text)
    assert response.status_code == 200, response.content
    assert response.json()["samples"] == 1


def test_a_dead_metric_store_is_503_and_nothing_is_recorded(settings: Any, writer: str) -> None:
    settings.METRICS_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    try:
        response = post(AGENT_URL, writer, json.dumps(batch(1)))
    finally:
        push.close_stores()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert not AgentBatch.objects.exists()
    assert Agent.objects.get().last_sequence == 0  # seen, but the batch is still owed
