"""The lab's control API: a small JSON API on 127.0.0.1 for faults, heal and status.

=======  ==============  ====================================================================
GET      /v1/status      what is running: counts, ports, ICMP availability, notes
GET      /v1/faults      the standing faults
POST     /v1/faults      ``{"kind": ..., "target": ..., "percent"|"ms"|"seconds"|"days": N}``
POST     /v1/heal        ``{"target": ...}`` or ``{"all": true}``
=======  ==============  ====================================================================

Every request carries ``Authorization: Bearer <token>``. The token and the URL are written
to ``$BRANCHOPS_HOME/lab/control.json`` (mode 0600), which is how the CLI and the web find
a running lab: only users who can read the home folder can inject faults. Errors are JSON
``{"error": {"code": ..., "message": ...}}`` with 400 for a refused fault (unknown kind or
target, wrong option), 401, 404, 405 and 413 as HTTP means them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from branchops.lab.sim.faults import FaultError
from branchops.lab.sim.httpd import (
    MAX_HEAD,
    Connections,
    Request,
    Response,
    is_loopback,
    serve,
)
from branchops.lab.sim.robot import ChatRobot, read_secret

if TYPE_CHECKING:
    from branchops.lab.sim.lab import Lab

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
_FIELDS = frozenset({"kind", "target", "percent", "ms", "seconds", "days"})


def _json(status: int, body: object) -> Response:
    return Response(status, json.dumps(body, ensure_ascii=False).encode(), "application/json")


def error(status: int, code: str, message: str) -> Response:
    return _json(status, {"error": {"code": code, "message": message}})


class ControlApi:
    def __init__(self, lab: Lab, port: int, home: Path | None) -> None:
        self.lab = lab
        self.port = port
        self.token = secrets.token_urlsafe(24)
        self.file = home / "lab" / "control.json" if home is not None else None
        self._server: asyncio.Server | None = None
        self._connections = Connections()
        secret = read_secret(home)
        self.robot = ChatRobot(secret) if secret else None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._connection, "127.0.0.1", self.port, limit=MAX_HEAD
        )
        self.port = self._server.sockets[0].getsockname()[1]
        if self.file is not None:
            self._write_file(self.file)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        await self._connections.close_all()
        if self.file is not None:
            self._remove_file(self.file)

    def _write_file(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "url": self.url,
            "token": self.token,
            "pid": os.getpid(),
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(body, handle)
        os.replace(temporary, path)

    def _remove_file(self, path: Path) -> None:
        """Remove control.json unless another lab has written its own since."""
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("token") == self.token:
                path.unlink()
        except (OSError, ValueError):
            pass

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not is_loopback(writer.get_extra_info("peername")):
            writer.close()
            return
        await self._connections.run(writer, serve(reader, writer, self._handle, MAX_BODY))

    def _robot_send(self, request: Request) -> Response:
        """Signed, not token-protected: it stands in for DingTalk's robot endpoint."""
        if self.robot is None:
            return error(404, "not-found", "no demo robot: branchops demo sets one up")
        status, body = self.robot.receive(request.query, request.body)
        return _json(status, body)

    async def _handle(self, request: Request) -> Response:
        if request.path.rstrip("/") == "/robot/send" and request.method == "POST":
            return self._robot_send(request)
        return self._with_token(request)

    def _with_token(self, request: Request) -> Response:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
            return error(
                401, "unauthorised", "send Authorization: Bearer <token from control.json>"
            )
        routes = {
            "/v1/status": ("GET", self._status),
            "/v1/faults": ("GET|POST", self._faults),
            "/v1/heal": ("POST", self._heal),
            "/v1/robot": ("GET", self._robot),
        }
        route = routes.get(request.path.rstrip("/") or "/")
        if route is None:
            return error(404, "not-found", f"no such endpoint: {request.path}")
        methods, handler = route
        if request.method not in methods.split("|"):
            return error(
                405, "method-not-allowed", f"{request.path} takes {methods.replace('|', ' or ')}"
            )
        try:
            return handler(request)
        except FaultError as exc:
            return error(400, exc.code, exc.message)
        except Exception as exc:  # a bug: say so, and keep serving
            log.exception("lab control API: %s %s failed", request.method, request.path)
            return error(500, "internal", f"{type(exc).__name__}: {exc}")

    def _status(self, request: Request) -> Response:
        return _json(200, self.lab.status())

    def _faults(self, request: Request) -> Response:
        if request.method == "GET":
            return _json(200, {"faults": [f.as_dict() for f in self.lab.active_faults()]})
        body = _object(request)
        unknown = sorted(set(body) - _FIELDS)
        if unknown:
            raise FaultError("bad-request", f"unknown field(s): {', '.join(unknown)}")
        kind, target = body.get("kind"), body.get("target")
        if not isinstance(kind, str) or not isinstance(target, str) or not target:
            raise FaultError("bad-request", "'kind' and 'target' are required strings")
        options = {k: v for k, v in body.items() if k not in ("kind", "target")}
        return _json(200, self.lab.inject(kind, target, **options))

    def _robot(self, request: Request) -> Response:
        messages = self.robot.messages() if self.robot else []
        return _json(
            200, {"messages": messages, "refused": self.robot.refused if self.robot else 0}
        )

    def _heal(self, request: Request) -> Response:
        body = _object(request)
        target = body.get("target")
        if body.get("all") is True and target is None:
            return _json(200, self.lab.heal(None))
        if not isinstance(target, str) or not target or set(body) - {"target"}:
            raise FaultError("bad-request", 'send {"target": "..."} or {"all": true}')
        return _json(200, self.lab.heal(target))


def _object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise FaultError("bad-request", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise FaultError("bad-request", "the body must be a JSON object")
    return body
