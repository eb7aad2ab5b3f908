"""The control API and its clients (CLI helpers, ``inject``/``heal``), the lab reading the
estate from the database on its own, and start-up refusals."""

from __future__ import annotations

import asyncio
import json
import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from branchops.lab.sim import LabRefused, LabUnavailable, heal, inject
from branchops.lab.sim.cli import REFUSED, UNAVAILABLE, print_summary, run_fault, run_heal
from branchops.lab.sim.inventory import Inventory
from branchops.lab.sim.lab import Lab, LabError
from branchops.lab.sim.snmpview import compile_profile
from branchops.monitoring.models import SnmpCredential
from branchops.monitoring.snmp_hints import HintError
from branchops.monitoring.snmp_profiles import DeviceProfile
from branchops.snmp import SnmpTimeout

from .support import (
    SYS_NAME,
    client,
    config,
    load_estate,
    pick,
    remove_test_table,
    run,
    target,
)


@pytest.fixture(autouse=True)
def _no_table_left() -> Iterator[None]:
    yield
    remove_test_table()


def raw(
    method: str, url: str, body: object = None, token: str = ""
) -> tuple[int, dict[str, object]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - loopback
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.django_db
def test_faults_through_the_control_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = load_estate()
    monkeypatch.setenv("BRANCHOPS_HOME", str(tmp_path))
    control = tmp_path / "lab" / "control.json"

    async def scenario() -> None:
        async with Lab(inventory, config(control_port=0, home=tmp_path)) as lab:
            assert stat.S_IMODE(control.stat().st_mode) == 0o600
            info = json.loads(control.read_text())
            server = pick(lab, "server", site="BR-")
            result = await asyncio.to_thread(inject, "packet-loss", server.name, percent=100)
            assert result["faults"][0]["options"] == {"percent": 100}
            async with client() as snmp:
                with pytest.raises(SnmpTimeout):
                    await snmp.get(target(lab, server), [SYS_NAME])
            for kind, target_name, code in (
                ("melt-down", server.name, "unknown-kind"),
                ("device-down", "no-such-thing", "unknown-target"),
            ):
                with pytest.raises(LabRefused) as refused:
                    await asyncio.to_thread(inject, kind, target_name)
                assert refused.value.status == 400
                assert refused.value.code == code
                assert target_name in refused.value.message or kind in refused.value.message
            url = info["url"]
            status, body = await asyncio.to_thread(raw, "GET", f"{url}/v1/status")
            assert status == 401
            status, body = await asyncio.to_thread(
                raw, "GET", f"{url}/v1/status", None, info["token"]
            )
            assert status == 200
            assert body["faults"] == 1
            status, body = await asyncio.to_thread(
                raw, "POST", f"{url}/v1/faults", {"kind": "reboot"}, info["token"]
            )
            assert status == 400
            status, body = await asyncio.to_thread(
                raw, "DELETE", f"{url}/v1/faults", None, info["token"]
            )
            assert status == 405
            status, body = await asyncio.to_thread(
                raw, "GET", f"{url}/v2/nothing", None, info["token"]
            )
            assert status == 404
            assert await asyncio.to_thread(run_fault, "latency", server.name, ms=50) == 0
            assert await asyncio.to_thread(run_fault, "latency", server.name) == REFUSED
            assert len((await asyncio.to_thread(heal, server.name))["healed"]) == 2
            assert await asyncio.to_thread(run_heal, None, everything=True) == 0
            assert await asyncio.to_thread(run_heal, None) == REFUSED
            print_summary(lab.status(), lab)
        assert not control.exists()

    run(scenario())
    out, err = capsys.readouterr()
    assert "latency on" in out
    assert "needs --ms" in err
    assert "SNMP" in out
    assert "control API" in out
    with pytest.raises(LabUnavailable, match="no lab is running"):
        inject("device-down", "anything")
    assert run_heal("anything") == UNAVAILABLE


@pytest.mark.django_db(transaction=True)
def test_the_lab_reads_the_estate_from_the_database_in_a_thread() -> None:
    load_estate()

    async def scenario() -> None:
        async with Lab(None, config()) as lab, client() as snmp:
            device = pick(lab, "firewall")
            (name,) = await snmp.get(target(lab, device), [SYS_NAME])
            assert name.value == device.name.encode()

    run(scenario())
    SnmpCredential.objects.filter(name="default").delete()
    with pytest.raises(LabError, match="no SNMP credential named 'default'"):
        run(Lab(None, config()).start())


@pytest.mark.django_db
# AgentServer.start leaves its socket to the garbage collector when bind fails (reported).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_start_up_refusals_say_what_to_do() -> None:
    inventory: Inventory = load_estate(port=0)

    async def busy_port() -> None:
        first = Lab(inventory, config(snmp_port=0))
        await first.start()
        try:
            with pytest.raises(LabError, match=f"udp/{first.snmp_port}"):
                await Lab(inventory, config(snmp_port=first.snmp_port)).start()
        finally:
            await first.stop()

    run(busy_port())


def test_an_unknown_hint_names_the_profile() -> None:
    profile = DeviceProfile.model_validate(
        {
            "name": "acme-os",
            "scalars": [
                {"metric": "acme_cpu", "oid": "1.3.6.1.4.1.9999.1.0", "simulate": "sine 3..9"}
            ],
        }
    )
    with pytest.raises(HintError, match=r"profile 'acme-os', OID 1\.3\.6\.1\.4\.1\.9999\.1\.0"):
        compile_profile(profile)
