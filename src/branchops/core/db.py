"""Database work from asyncio programs (the engine, the lab), done in worker threads.

Django gives every thread its own connection and never closes it by itself; a worker
thread that ran one query would keep a PostgreSQL session open for as long as the process
lives, one more with every thread the executor makes. ``in_thread`` runs the function in a
worker and closes that thread's connections afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import connections

P = ParamSpec("P")
T = TypeVar("T")


async def in_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``await in_thread(fn, ...)``: like ``asyncio.to_thread``, leaving no connection open."""

    def closing() -> T:
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    return await asyncio.to_thread(closing)
