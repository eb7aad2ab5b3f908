"""Run several branchops processes together (demo: lab + engine + web; run: engine + web).

Each child is ``python -m branchops.cli <command>`` with the same environment. Ctrl-C or
SIGTERM stops them all; if one dies, the others are stopped too and its exit status is
returned, so a broken piece is never hidden behind a running web page.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType

STOP_TIMEOUT_S = 20
READY_TIMEOUT_S = 120


def run_together(
    commands: Sequence[tuple[str, Sequence[str]]], ready: Mapping[str, Path] | None = None
) -> int:
    """Start the commands in order; a command named in ``ready`` must create that file
    (say it is up) before the next one starts, so the engine never polls a lab still
    starting."""
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for name, args in commands:
            proc = subprocess.Popen([sys.executable, "-m", "branchops.cli", *args])  # noqa: S603
            children.append((name, proc))
            marker = (ready or {}).get(name)
            if marker is not None and not _until_ready(proc, marker, lambda: stopping):
                sys.stderr.write(f"branchops: {name} did not come up; stopping\n")
                return proc.poll() or 1
        return _wait(children, lambda: stopping)
    finally:
        _stop_all(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _until_ready(proc: subprocess.Popen[bytes], marker: Path, stopping: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and not stopping():
        if marker.exists():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.2)
    return False


def _wait(children: list[tuple[str, subprocess.Popen[bytes]]], stopping: object) -> int:
    while True:
        if callable(stopping) and stopping():
            return 0
        for name, proc in children:
            code = proc.poll()
            if code is not None:
                sys.stderr.write(
                    f"branchops: {name} exited with status {code}; stopping the rest\n"
                )
                return code or 1
        time.sleep(0.5)


def _stop_all(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    for _, proc in children:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for _, proc in children:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
