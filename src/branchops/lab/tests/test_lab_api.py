"""Fault injection through the REST API, against a real lab running in the background."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from branchops.core.choices import Role
from branchops.core.testing import ApiClient, make_user
from branchops.lab.estate import build, load
from branchops.lab.sim import Lab, LabConfig

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def running_lab(tmp_path: Path, settings: Any) -> Iterator[Lab]:
    settings.HOME = tmp_path
    load(build(branches=2, seed=5))
    config = LabConfig(
        snmp_port=0,
        node_exporter_port=None,
        tls_port=None,
        https_port=None,
        ntp_port=None,
        control_port=0,
        nft=False,
        home=tmp_path,
    )
    lab = Lab(config=config)
    ready, stop = threading.Event(), threading.Event()

    async def main() -> None:
        await lab.start()
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await lab.stop()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(30)
    yield lab
    stop.set()
    thread.join(30)


def test_an_engineer_injects_and_heals_a_fault(running_lab: Lab) -> None:
    api = ApiClient(make_user(Role.OPS_ENGINEER))
    answer = api.post("/api/v1/lab/faults/", {"kind": "cpu-spike", "target": "BR-0001-FW01"})
    assert answer.status_code == 200, answer.content
    listed = api.get("/api/v1/lab/faults/").json()
    assert [(f["kind"], f["target"]) for f in listed] == [("cpu-spike", "BR-0001-FW01")]
    assert api.post("/api/v1/lab/heal/", {"target": None}).status_code == 200
    assert api.get("/api/v1/lab/faults/").json() == []


def test_bad_faults_are_refused_with_the_lab_s_reason(running_lab: Lab) -> None:
    api = ApiClient(make_user(Role.OPS_ENGINEER))
    unknown = api.post("/api/v1/lab/faults/", {"kind": "meteor", "target": "BR-0001-FW01"})
    assert unknown.status_code == 400
    assert "meteor" in unknown.json()["error"]["message"]
    nowhere = api.post("/api/v1/lab/faults/", {"kind": "device-down", "target": "NO-SUCH"})
    assert nowhere.status_code == 400


def test_only_who_may_change_monitoring_injects(running_lab: Lab) -> None:
    for role in (Role.NOC_OPERATOR, Role.AUDITOR, Role.BRANCH_LIAISON):
        api = ApiClient(make_user(role))
        refused = api.post("/api/v1/lab/faults/", {"kind": "cpu-spike", "target": "BR-0001-FW01"})
        assert refused.status_code == 403
    assert ApiClient(make_user(Role.NOC_OPERATOR)).get("/api/v1/lab/faults/").status_code == 200


def test_without_a_lab_the_answer_says_so(tmp_path: Path, settings: Any) -> None:
    settings.HOME = tmp_path
    answer = ApiClient(make_user(Role.ADMIN)).get("/api/v1/lab/faults/")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "lab_unavailable"
