"""Typed readers for BRANCHOPS_* environment settings.

Settings come only from the environment. Every reader also accepts ``X_FILE`` naming a
file that holds the value (for container and systemd secrets), and fails loudly with the
variable's name when a value cannot be used: a typo must stop the start, not be ignored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit


class ConfigError(ValueError):
    """A BRANCHOPS_* setting is present but unusable."""


def _raw(name: str, environ: os._Environ[str] | dict[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    file_name = env.get(f"{name}_FILE")
    if name in env and file_name:
        raise ConfigError(f"{name} and {name}_FILE are both set; keep only one")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE={file_name!r} cannot be read: {exc.strerror}") from exc
    return env.get(name)


def env_str(name: str, default: str, environ: dict[str, str] | None = None) -> str:
    value = _raw(name, environ)
    if value is None or value == "":
        return default
    return value


def env_optional(name: str, environ: dict[str, str] | None = None) -> str | None:
    value = _raw(name, environ)
    return value or None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool, environ: dict[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean; use one of 1/0, true/false, yes/no")


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: dict[str, str] | None = None,
) -> int:
    value = _raw(name, environ)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r} is not a whole number") from exc
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name}={number} is below the minimum {minimum}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name}={number} is above the maximum {maximum}")
    return number


def env_choice(
    name: str, default: str, choices: tuple[str, ...], environ: dict[str, str] | None = None
) -> str:
    value = env_str(name, default, environ)
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of: {', '.join(choices)}")
    return value


def env_path(name: str, default: Path, environ: dict[str, str] | None = None) -> Path:
    return Path(env_str(name, str(default), environ)).expanduser().resolve()


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed BRANCHOPS_DATABASE_URL: ``sqlite:///path`` or ``postgresql://...``."""

    engine: str
    name: str
    user: str = ""
    password: str = ""
    host: str = ""
    port: str = ""
    options: tuple[tuple[str, str], ...] = ()


_POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}


def parse_database_url(url: str, *, setting: str = "BRANCHOPS_DATABASE_URL") -> DatabaseUrl:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute/path.db, as SQLAlchemy spells them
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise ConfigError(f"{setting}={url!r} names no SQLite file")
        return DatabaseUrl(engine="sqlite", name=str(Path(path).expanduser().resolve()))
    if parts.scheme in _POSTGRES_SCHEMES:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ConfigError(f"{setting}={url!r} names no database")
        try:
            port = str(parts.port or "")
        except ValueError as exc:
            raise ConfigError(f"{setting}={url!r} has an invalid port") from exc
        return DatabaseUrl(
            engine="postgresql",
            name=name,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            host=parts.hostname or "",
            port=port,
            options=tuple(parse_qsl(parts.query)),
        )
    raise ConfigError(f"{setting}={url!r}: scheme must be sqlite:// or postgresql://")


def django_database(db: DatabaseUrl) -> dict[str, object]:
    """The Django DATABASES entry for a parsed URL."""
    if db.engine == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": db.name,
            "OPTIONS": {
                # WAL lets the web and the engine read while one writes; IMMEDIATE takes the
                # write lock at BEGIN so two writers queue instead of dead-locking on upgrade.
                # mmap: pages are read from the page cache without a read() call each.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; "
                    "PRAGMA mmap_size=268435456;"
                ),
                "transaction_mode": "IMMEDIATE",
            },
            # Kept across requests, like PostgreSQL's: a new connection per request runs the
            # pragmas again and starts with an empty page cache.
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            # Tests use a file too, not shared-cache memory: in memory SQLite locks whole
            # tables and ignores busy_timeout, so the engine's threads (ingest, alerts,
            # outbox) would fail where production waits its turn.
            "TEST": {"NAME": str(Path(db.name).with_name(f"test_{Path(db.name).name}"))},
        }
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": db.name,
        "USER": db.user,
        "PASSWORD": db.password,
        "HOST": db.host,
        "PORT": db.port,
        "OPTIONS": dict(db.options),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }
