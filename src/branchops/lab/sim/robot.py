"""A DingTalk group robot for the demo, on the lab's control port.

The demo's on-call channel sends to ``/robot/send``; the robot checks the signature the
way DingTalk documents it (HMAC-SHA256 of "timestamp\\nsecret", base64, within an hour)
and keeps the last messages, which ``GET /v1/robot`` (with the control token) lists. The
secret is shared through ``$BRANCHOPS_HOME/lab/robot.json``, written by ``branchops demo``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

FRESH_MS = 3_600_000


def robot_file(home: Path) -> Path:
    return home / "lab" / "robot.json"


def ensure_secret(home: Path) -> str:
    """The demo robot's secret, made once and kept (mode 0600)."""
    path = robot_file(home)
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["secret"])
    except (OSError, ValueError, KeyError):
        pass
    secret = "SEC" + secrets.token_hex(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"secret": secret}, handle)
    return secret


def read_secret(home: Path | None) -> str | None:
    if home is None:
        return None
    try:
        return str(json.loads(robot_file(home).read_text(encoding="utf-8"))["secret"])
    except (OSError, ValueError, KeyError):
        return None


class ChatRobot:
    def __init__(self, secret: str, keep: int = 200, clock: Callable[[], float] = time.time):
        self.secret = secret
        self.clock = clock
        self.received: deque[dict[str, Any]] = deque(maxlen=keep)
        self.refused = 0

    def receive(self, query: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """DingTalk's answer to one message: errcode 0, or why it was refused."""
        params = parse_qs(query)
        timestamp = (params.get("timestamp") or [""])[0]
        sign = (params.get("sign") or [""])[0]
        if not self._signed(timestamp, sign):
            self.refused += 1
            return 200, {"errcode": 310000, "errmsg": "sign not match"}
        try:
            message = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return 200, {"errcode": 40035, "errmsg": "invalid json"}
        self.received.append({"at": self.clock(), "message": message})
        return 200, {"errcode": 0, "errmsg": "ok"}

    def _signed(self, timestamp: str, sign: str) -> bool:
        if not timestamp.isdigit() or abs(self.clock() * 1000 - int(timestamp)) > FRESH_MS:
            return False
        mac = hmac.new(self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), hashlib.sha256)
        return hmac.compare_digest(sign, base64.b64encode(mac.digest()).decode())

    def messages(self) -> list[dict[str, Any]]:
        return list(self.received)
