"""The agent against a real centre (a live Django server on 127.0.0.1) that goes away.

The agent talks to the centre through a relay on a fixed loopback port that the test
switches: up (passes traffic), down (the port is closed: connections are refused), or
"answers lost" (the request reaches the centre, the answer never comes back). Across
outages, a metric store failure (503) and an agent restart, every batch must arrive once,
in order, with nothing lost and nothing stored twice.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps

from branchops.agent.collect import Sample
from branchops.agent.config import AgentConfig
from branchops.agent.runner import Agent
from branchops.core.choices import Role
from branchops.core.testing import make_user
from branchops.core.tokens import create_token
from branchops.monitoring import push
from branchops.monitoring.metrics.base import Selector
from branchops.monitoring.metrics.sqlite import SqliteMetricStore

if not apps.is_installed("branchops.agents"):
    pytest.skip(
        'the agents app is not installed yet: add "branchops.agents" to INSTALLED_APPS',
        allow_module_level=True,
    )

from branchops.agents.models import Agent as AgentRow
from branchops.agents.models import AgentBatch

# The push router, served without depending on urls.py (see test_push_urls.py).
pytestmark = [
    pytest.mark.urls("branchops.monitoring.tests.test_push_urls"),
    pytest.mark.django_db(transaction=True),
]


class Relay:
    """A TCP relay on 127.0.0.1 to ``target`` that can be switched off and on again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.lose_answers = False
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        """Close the port and every connection through it: the centre is gone."""
        if self._listener is not None:
            # shutdown() first: close() alone does not wake a thread blocked in accept().
            _close(self._listener)
            self._listener = None
        with self._lock:
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            try:
                server = socket.create_connection(self.target)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # switched off meanwhile
                    _close(client)
                    _close(server)
                    return
                self._open |= {client, server}
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        try:
            while data := source.recv(65536):
                if answers and self.lose_answers:
                    break  # the centre answered; the agent will never hear it
                sink.sendall(data)
        except OSError:
            pass
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class Cycles:
    """A collector whose sample is the cycle number: what arrived, and in which order."""

    def __init__(self, start: int = 0) -> None:
        self.cycle = start

    def collect(self) -> list[Sample]:
        self.cycle += 1
        return [Sample("branchops_test_cycle", float(self.cycle), {"kind": "replay"})]


@pytest.fixture
def metrics(settings: Any, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "metrics.sqlite3"
    settings.METRICS_URL = f"sqlite:///{path}"
    yield path
    push.close_stores()


@pytest.fixture
def relay(live_server: Any) -> Iterator[Relay]:
    host, port = live_server.url.removeprefix("http://").split(":")
    relay = Relay((host, int(port)))
    relay.up()
    yield relay
    relay.down()


def make_agent(relay: Relay, buffer_dir: Path, token: str, clock: list[float], start: int) -> Agent:
    config = AgentConfig(server=relay.url, token=token, buffer_dir=buffer_dir, timeout_s=2.0)
    facts = {"hostname": "gz-tianhe-srv02", "os": "Linux", "ips": ["127.0.0.12"], "version": "t"}
    return Agent(config, collector=Cycles(start), facts=lambda: facts, clock=lambda: clock[0])


def test_every_batch_arrives_once_and_in_order_across_outages(
    relay: Relay, metrics: Path, settings: Any, tmp_path: Path
) -> None:
    _, token = create_token(user=make_user(Role.NOC_OPERATOR), name="agent")
    t0 = time.time() - 3600
    clock = [t0]  # collection times: one cycle a minute over the last hour
    agent = make_agent(relay, tmp_path / "agent", token, clock, start=0)
    history: list[tuple[int, int]] = []  # (sequence, buffered after the cycle)

    def cycle() -> None:
        report = agent.run_once()
        history.append((report.sequence, report.buffered))
        clock[0] += 60

    for _ in range(3):
        cycle()  # 1-3: the centre is up
    relay.down()
    for _ in range(3):
        cycle()  # 4-6: connection refused
    assert history[-1] == (6, 3)

    agent.sender.close()  # the agent restarts: a new process, the same disk
    agent = make_agent(relay, tmp_path / "agent", token, clock, start=6)
    cycle()  # 7: still down, after the restart
    relay.up()
    relay.lose_answers = True
    cycle()  # 8: the centre stores batch 4 but its answer is lost: 4 stays buffered
    relay.lose_answers = False
    settings.METRICS_URL = "http://127.0.0.1:9"  # the metric store is down: 503
    cycle()  # 9: 503 for batch 4 again
    assert history[-1] == (9, 5)  # 4 acknowledged as a replay; 5 met the 503
    settings.METRICS_URL = f"sqlite:///{metrics}"
    cycle()  # 10: everything is replayed, oldest first, then 10
    assert history[-1] == (10, 0)
    cycle()  # 11: back to normal
    agent.sender.close()

    row = AgentRow.objects.get()
    receipts = list(AgentBatch.objects.filter(agent=row).order_by("received_at", "pk"))
    assert [r.sequence for r in receipts] == list(range(1, 12))  # once each, in order
    assert row.last_sequence == 11
    assert row.replays_ignored >= 1  # batch 4, sent again after its answer was lost

    store = SqliteMetricStore(metrics)
    [series] = store.query_range(Selector("branchops_test_cycle"), t0 - 1, t0 + 3600)
    store.close()
    assert [p.value for p in series.points] == [float(n) for n in range(1, 12)]
    assert [p.ts for p in series.points] == [int(t0) + 60 * n for n in range(11)]
    assert dict(series.labels)["host"] == "gz-tianhe-srv02"


def test_a_dead_port_from_the_start_buffers_everything(tmp_path: Path, metrics: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: refused
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = AgentConfig(server=dead, token="t", buffer_dir=tmp_path, timeout_s=1.0)
        agent = Agent(config, collector=Cycles(), facts=lambda: {"hostname": "h"})
        started = time.monotonic()
        reports = [agent.run_once() for _ in range(5)]
        agent.sender.close()
    assert [r.buffered for r in reports] == [1, 2, 3, 4, 5]
    assert time.monotonic() - started < 5
    assert not AgentBatch.objects.exists()
