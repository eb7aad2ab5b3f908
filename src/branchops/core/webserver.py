"""Serve the WSGI app with gunicorn: one request at a time per worker process.

Sync workers, not threads, one per core: every view runs Python and the synchronous ORM, so
threads in one process queue behind the GIL and the slowest requests wait longest, and
workers beyond the core count only take turns with the database (decision 0001).
Put a buffering reverse proxy (nginx) in front in production: sync workers must not be
held by slow clients.
"""

from __future__ import annotations

import os
from typing import Any

from django.db import connections
from gunicorn.app.base import BaseApplication


def default_workers() -> int:
    """One per core, at least two (decision 0001): requests are CPU work next to the
    database, and more workers than cores only lengthen the tail."""
    return max(2, os.cpu_count() or 1)


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from django.urls import get_resolver

        from branchops.wsgi import application

        # Import every view now, before this worker accepts its first request: otherwise
        # that request waits about a second for the URLconf and its modules.
        get_resolver().url_patterns  # noqa: B018 - the import is the point
        return application


def serve(*, host: str, port: int, workers: int | None = None) -> None:
    # The checks before serving (migrations, set-up) opened database connections in this
    # process; workers forked with them would share one socket (PostgreSQL) or file handle
    # (SQLite), and their answers would interleave: rows of one worker's query read by
    # another ("generator raised StopIteration", sessions flushed). Each worker opens its own.
    connections.close_all()
    _Server(
        {
            "bind": f"{host}:{port}",
            "workers": workers or default_workers(),
            "worker_class": "sync",
            "accesslog": None,
            "timeout": 60,
            "graceful_timeout": 10,
            # gunicorn 27 opens a control socket in $HOME; nothing of ours uses it, and
            # everything BranchOps writes belongs in BRANCHOPS_HOME.
            "control_socket_disable": True,
        }
    ).run()
