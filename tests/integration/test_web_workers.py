"""`branchops web` under concurrent load: every worker answers from its own database
connection. The checks before serving open a connection; forked workers that inherited it
read each other's rows (seen on PostgreSQL as 500s, "generator raised StopIteration", and
sessions flushed under 20 concurrent clients)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from branchops.cmdb.models import Region
from branchops.core.choices import Role
from branchops.core.testing import make_region, make_user
from branchops.core.tokens import create_token

pytestmark = pytest.mark.django_db(transaction=True)  # the server reads committed rows

REQUESTS, CLIENTS = 300, 20


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "the web server exited"
        try:
            httpx.get(url, timeout=2, trust_env=False)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


def test_concurrent_clients_all_get_whole_answers() -> None:
    for n in range(12):
        make_region(code=f"r{n}")
    _, token = create_token(user=make_user(Role.ADMIN), name="load")
    port = free_port()
    env = {
        **os.environ,
        "BRANCHOPS_HOME": str(settings.HOME),
        "BRANCHOPS_DATABASE_URL": database_url(),
    }
    branchops = str(Path(sys.executable).with_name("branchops"))
    server = subprocess.Popen(  # noqa: S603 - our own command with our own options
        [branchops, "web", "--port", str(port), "--workers", "3"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/api/v1/openapi.json", server)

        def one(_: int) -> tuple[int, int]:
            answer = httpx.get(
                f"{base}/api/v1/regions/?limit=100",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
                trust_env=False,
            )
            return answer.status_code, answer.json()["count"] if answer.is_success else -1

        with ThreadPoolExecutor(CLIENTS) as pool:
            answers = list(pool.map(one, range(REQUESTS)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    expected = Region.objects.count()
    assert answers == [(200, expected)] * REQUESTS
