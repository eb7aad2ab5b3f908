"""Shared pieces of the benchmarks: throw-away BranchOps instances and a wrk driver.

A benchmark starts real processes (``branchops demo --no-serve``, ``branchops web``) against
a fresh state folder and database, drives them from outside with wrk (a C load generator, so
the load tool does not eat the CPU the server is measured on) and reports figures; nothing
here touches ./var or any address outside 127.0.0.0/8.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BRANCHOPS = str(Path(sys.executable).with_name("branchops"))
PG_ADMIN_URL = os.environ.get("BRANCHOPS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


@dataclass
class Instance:
    """A BranchOps installation in a temporary folder, on SQLite or a fresh PostgreSQL DB."""

    backend: str
    home: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bo-bench-")))
    db_name: str = ""

    @property
    def env(self) -> dict[str, str]:
        env = {**os.environ, "BRANCHOPS_HOME": str(self.home), "BRANCHOPS_LOG_LEVEL": "WARNING"}
        if self.backend == "postgresql":
            base = PG_ADMIN_URL.rsplit("/", 1)[0]
            env["BRANCHOPS_DATABASE_URL"] = f"{base}/{self.db_name}"
        else:
            env.pop("BRANCHOPS_DATABASE_URL", None)
        return env

    def __enter__(self) -> Instance:
        if self.backend == "postgresql":
            import psycopg

            self.db_name = f"branchops_bench_{os.getpid()}"
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}"')
                conn.execute(f'CREATE DATABASE "{self.db_name}"')
        return self

    def __exit__(self, *exc: object) -> None:
        if self.backend == "postgresql":
            import psycopg

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        shutil.rmtree(self.home, ignore_errors=True)

    def run(self, *args: str, timeout: float = 900) -> str:
        done = subprocess.run(
            [BRANCHOPS, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"branchops {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def timed(self, *args: str) -> tuple[float, str]:
        start = time.perf_counter()
        out = self.run(*args)
        return time.perf_counter() - start, out

    def create_user(self, name: str, role: str = "admin") -> str:
        out = self.run("user", "create", name, "--role", role)
        return out.strip().rsplit(" ", 1)[-1]

    @contextlib.contextmanager
    def web(self, workers: int | None = None) -> Iterator[str]:
        port = free_port()
        extra = ["--workers", str(workers)] if workers else []
        proc = subprocess.Popen(
            [BRANCHOPS, "web", "--port", str(port), *extra],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base + "/api/v1/openapi.json", proc)
            yield base
        finally:
            proc.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def wait_until_up(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"web server exited: {err}")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=2).close()
            return
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def api_get(base: str, path: str, token: str) -> object:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def session_cookie(base: str, username: str, password: str) -> str:
    """Sign in through the login form like a browser; return the Cookie header value."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(base + "/login/", timeout=30).read()
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    body = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": csrf}
    ).encode()
    request = urllib.request.Request(
        base + "/login/", data=body, headers={"Referer": base + "/login/"}
    )
    opener.open(request, timeout=30).read()
    cookies = {c.name: c.value for c in jar}
    if "sessionid" not in cookies:
        raise RuntimeError("signing in did not give a session")
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


@dataclass
class LoadResult:
    name: str
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    requests: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def wrk(
    name: str,
    base: str,
    paths: list[str],
    header: str,
    *,
    connections: int = 20,
    seconds: int = 20,
    threads: int = 2,
    timeout_s: int = 10,
) -> LoadResult:
    """Drive ``paths`` round-robin with ``connections`` concurrent clients for ``seconds``.

    A request slower than ``timeout_s`` counts as an error (wrk's own default, 2 s, would
    drop slow answers from the latencies and leave none to report)."""
    if shutil.which("wrk") is None:
        raise RuntimeError(
            "wrk is missing: apt-get install wrk (scripts/install-system-deps.sh bench)"
        )
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    quoted = ",".join(json.dumps(p) for p in paths)
    script.write_text(
        "local paths = {" + quoted + "}\n"
        "local i = 0\n"
        "request = function()\n"
        "  i = i % #paths + 1\n"
        "  return wrk.format('GET', paths[i])\n"
        "end\n",
        encoding="utf-8",
    )
    try:
        # Warm every worker first (imports, template and schema caches); measure steady state.
        subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                "3s",
                "-s",
                str(script),
                "-H",
                header,
                base,
            ],
            capture_output=True,
            check=True,
            timeout=60,
        )
        out = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "--timeout",
                f"{timeout_s}s",
                "--latency",
                "-s",
                str(script),
                "-H",
                header,
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        ).stdout
    finally:
        script.unlink()
    percent = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)$", out, re.MULTILINE))
    if not re.search(r"[1-9]\d* requests in", out):
        raise RuntimeError(f"wrk completed no request against {base}:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(non2xx[1]) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return LoadResult(
        name=name,
        requests_per_s=float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
        p50_ms=_ms(percent["50"]),
        p90_ms=_ms(percent["90"]),
        p99_ms=_ms(percent["99"]),
        errors=errors,
        requests=int(re.search(r"(\d+) requests in", out)[1]),  # type: ignore[index]
    )


def save(name: str, payload: dict[str, object]) -> Path:
    folder = ROOT / "benchmarks" / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
