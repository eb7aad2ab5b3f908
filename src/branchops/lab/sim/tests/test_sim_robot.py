"""The demo's on-call channel reaches the lab's simulated DingTalk robot: a signed message
is kept and listed, a forged one refused, as DingTalk itself would."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import httpx
import pytest

from branchops.alerts.models import Channel
from branchops.alerts.transports import Notice, TransportError, build
from branchops.core.db import in_thread
from branchops.lab.oncall import CHANNEL, ensure_on_call
from branchops.lab.sim.lab import Lab

from .support import config, load_estate, run

NOTICE = Notice(kind="firing", severity=1, severity_label="一级", title="HQ VPN01 unreachable")


@pytest.mark.django_db(transaction=True)  # the lab and the demo set-up run in threads
def test_the_demo_channel_talks_to_the_lab_robot_and_forgeries_are_refused(
    tmp_path: Path,
) -> None:
    inventory = load_estate()

    async def scenario() -> None:
        async with Lab(inventory, config(control_port=0, home=tmp_path)) as lab:
            assert lab.control is not None
            port = lab.control.port
            # The robot reads its secret at start: demo writes it first, as branchops demo does.
            assert await in_thread(ensure_on_call, tmp_path, port)
            assert not await in_thread(ensure_on_call, tmp_path, port)  # once only
        async with Lab(inventory, config(control_port=port, home=tmp_path)) as lab:
            channel = await in_thread(Channel.objects.get, name=CHANNEL)
            settings = {**channel.config, **channel.secrets()}
            async with httpx.AsyncClient(trust_env=False) as http:
                delivery = await build("dingtalk", settings, client=http).send(NOTICE)
                forged = build("dingtalk", {**settings, "secret": "SECwrong"}, client=http)
                with pytest.raises(TransportError, match="310000"):
                    await forged.send(NOTICE)
            assert delivery.ok
            info = json.loads((tmp_path / "lab" / "control.json").read_text())
            request = urllib.request.Request(  # noqa: S310 - loopback
                f"{info['url']}/v1/robot", headers={"Authorization": f"Bearer {info['token']}"}
            )
            listed = await asyncio.to_thread(lambda: json.load(urllib.request.urlopen(request)))  # noqa: S310
            assert [m["message"]["msgtype"] for m in listed["messages"]] == ["markdown"]
            assert listed["refused"] == 1

    run(scenario())
