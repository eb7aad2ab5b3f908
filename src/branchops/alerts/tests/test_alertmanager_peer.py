"""A real Prometheus Alertmanager (Debian's package) posts its webhook to BranchOps: the
alert it was given arrives, with a bearer token, and is queued for the engine."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from branchops.alerts import inbound
from branchops.core.choices import Role, TokenScope
from branchops.core.testing import make_user
from branchops.core.tokens import create_token

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager is not installed"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CONFIG = """
route:
  receiver: branchops
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: branchops
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


@pytest.fixture
def alertmanager(tmp_path: Path, live_server: Any) -> Iterator[str]:
    _, token = create_token(user=make_user(Role.OPS_ENGINEER), name="am", scope=TokenScope.WRITE)
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        CONFIG.format(url=f"{live_server.url}/api/v1/ingest/alertmanager", token=token)
    )
    port, cluster = free_port(), free_port()
    process = subprocess.Popen(  # noqa: S603 - our own config, loopback only
        [
            str(BINARY), f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
            f"--cluster.advertise-address=127.0.0.1:{cluster}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/-/ready", timeout=1).close()  # noqa: S310
                break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_an_alert_given_to_alertmanager_reaches_the_engine_queue(alertmanager: str) -> None:
    alert = [
        {
            "labels": {"alertname": "TradingGatewayDown", "instance": "10.1.1.1:9100",
                       "severity": "critical", "site": "DC-SH-HQ"},
            "annotations": {"summary": "交易网关不可用", "description": "no answer for 1m"},
        }
    ]  # fmt: skip
    request = urllib.request.Request(  # noqa: S310
        f"{alertmanager}/api/v2/alerts", json.dumps(alert).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    urllib.request.urlopen(request, timeout=5).close()  # noqa: S310
    deadline = time.monotonic() + 20
    taken: list[Any] = []
    while not taken and time.monotonic() < deadline:
        time.sleep(0.3)
        taken = inbound.take()
    assert [(s.name, s.severity, s.title, s.firing) for s in taken] == [
        ("TradingGatewayDown", 1, "交易网关不可用", True)
    ]
    assert taken[0].labels["site"] == "DC-SH-HQ"
