"""The agent's configuration: a small TOML file, each value overridable from the environment.

```toml
# /etc/branchops-agent.toml
server = "https://branchops.example.com"
token_file = "/etc/branchops-agent.token"   # or: token = "bo_..."
interval_s = 60
buffer_dir = "/var/lib/branchops-agent"
buffer_max_mb = 50
```

Environment: BRANCHOPS_AGENT_SERVER, BRANCHOPS_AGENT_TOKEN (or BRANCHOPS_AGENT_TOKEN_FILE),
BRANCHOPS_AGENT_INTERVAL_S, BRANCHOPS_AGENT_BUFFER_DIR, BRANCHOPS_AGENT_BUFFER_MAX_MB,
BRANCHOPS_AGENT_TIMEOUT_S, BRANCHOPS_AGENT_PATCH_INTERVAL_S. Bad values fail at start with
a message that names them, never later.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(Exception):
    """The configuration cannot be used; the message says which value and why."""


@dataclass(frozen=True)
class AgentConfig:
    server: str  # the BranchOps centre, e.g. https://branchops.example.com
    token: str
    interval_s: float = 60.0
    buffer_dir: Path = Path("/var/lib/branchops-agent")
    buffer_max_bytes: int = 50 * 1024 * 1024
    timeout_s: float = 10.0
    patch_interval_s: float = 3600.0  # pending OS updates are counted this often
    top_processes: int = 5

    @property
    def push_url(self) -> str:
        return self.server.rstrip("/") + "/api/v1/push/agent"


KEYS = {
    "server": "BRANCHOPS_AGENT_SERVER",
    "token": "BRANCHOPS_AGENT_TOKEN",
    "token_file": "BRANCHOPS_AGENT_TOKEN_FILE",
    "interval_s": "BRANCHOPS_AGENT_INTERVAL_S",
    "buffer_dir": "BRANCHOPS_AGENT_BUFFER_DIR",
    "buffer_max_mb": "BRANCHOPS_AGENT_BUFFER_MAX_MB",
    "timeout_s": "BRANCHOPS_AGENT_TIMEOUT_S",
    "patch_interval_s": "BRANCHOPS_AGENT_PATCH_INTERVAL_S",
}


def load(path: Path | None, environ: Mapping[str, str] | None = None) -> AgentConfig:
    """The file's values (if a file is given), then the environment's on top."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if path is not None:
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        unknown = set(values) - set(KEYS)
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s): {', '.join(sorted(unknown))}")
    for key, variable in KEYS.items():
        if env.get(variable):
            values[key] = env[variable]
    return _build(values)


def _build(values: dict[str, Any]) -> AgentConfig:
    server = str(values.get("server", "")).strip()
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"server must be an http(s) URL of the BranchOps centre, not {server!r}")
    token = str(values.get("token", "")).strip()
    if not token and values.get("token_file"):
        try:
            token = Path(str(values["token_file"])).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"token_file {values['token_file']}: {exc.strerror}") from exc
    if not token:
        raise ConfigError("token (or token_file) is required: create one with branchops token")
    return AgentConfig(
        server=server,
        token=token,
        interval_s=_number(values, "interval_s", 60.0, 5.0, 86400.0),
        buffer_dir=Path(str(values.get("buffer_dir", "/var/lib/branchops-agent"))),
        buffer_max_bytes=int(_number(values, "buffer_max_mb", 50.0, 1.0, 10240.0) * 1024 * 1024),
        timeout_s=_number(values, "timeout_s", 10.0, 1.0, 300.0),
        patch_interval_s=_number(values, "patch_interval_s", 3600.0, 0.0, 7 * 86400.0),
    )


def _number(values: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    raw = values.get(key, default)
    try:
        number = float(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key} must be a number, not {raw!r}") from exc
    if not low <= number <= high:
        raise ConfigError(f"{key} must be between {low:g} and {high:g}, not {number:g}")
    return number
