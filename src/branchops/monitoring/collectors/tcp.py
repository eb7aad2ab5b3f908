"""TCP connect: can a service's port be reached, and how long does the handshake take.

A bare non-blocking socket and ``loop.sock_connect`` (no stream reader or writer: the
check sends nothing), closed right after the handshake with an orderly FIN. The whole check
runs under ``spec.timeout_s``; a port that drops SYNs costs its own timeout and nothing
else. Refused, unreachable and timed-out connections are a ``down`` result with the reason.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import time
from collections.abc import Callable

from branchops.monitoring.collectors import Context
from branchops.monitoring.collectors.base import (
    CheckSpec,
    CollectorError,
    ConfigError,
    Result,
    Sample,
    State,
    labels_of,
    typed_params,
)
from branchops.monitoring.params import TcpParams


class TcpCollector:
    """Connect time to ``spec.target``:``params.port``."""

    kind = "tcp"

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._monotonic = monotonic

    @classmethod
    def from_context(cls, context: Context) -> TcpCollector:
        return cls(context.clock, context.monotonic)

    async def aclose(self) -> None:
        """Nothing to close: every check opens and closes its own socket."""

    async def collect(self, spec: CheckSpec) -> Result:
        params = typed_params(spec, TcpParams)
        family, address = parse_target(spec.target)
        started, begin = self._clock(), self._monotonic()
        error = await _connect(family, (address, params.port), spec.timeout_s)
        elapsed = self._monotonic() - begin
        where = f"{spec.target}:{params.port}"
        if error:
            return Result(spec.check_id, State.DOWN, started, elapsed, (), f"{where}: {error}")
        sample = Sample("branchops_tcp_connect_seconds", elapsed, labels_of(spec))
        summary = f"connect {elapsed * 1000:.2f} ms"
        return Result(spec.check_id, State.UP, started, elapsed, (sample,), "", summary)


async def _connect(family: socket.AddressFamily, address: tuple[str, int], timeout: float) -> str:
    """Connect and close; "" on success, else why it failed in a few words."""
    sock = _new_socket(family, socket.SOCK_STREAM)
    try:
        async with asyncio.timeout(timeout):
            await asyncio.get_running_loop().sock_connect(sock, address)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except ConnectionRefusedError:
        return "connection refused"
    except OSError as exc:
        return exc.strerror or str(exc)
    finally:
        sock.close()
    return ""


@functools.lru_cache(maxsize=65536)  # the same targets come back every interval
def parse_target(target: str) -> tuple[socket.AddressFamily, str]:
    """The family and canonical text of an IP literal; names are refused (no DNS here)."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return family, socket.inet_ntop(family, socket.inet_pton(family, target))
        except OSError:
            continue
    raise ConfigError(f"target must be an IP address, not {target!r} (probes never resolve names)")


def _new_socket(family: socket.AddressFamily, kind: socket.SocketKind) -> socket.socket:
    """A non-blocking socket; running out of them is our trouble, not the target's."""
    try:
        sock = socket.socket(family, kind)
    except OSError as exc:
        raise CollectorError(f"cannot open a socket: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock
