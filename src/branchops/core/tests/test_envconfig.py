"""Settings come from BRANCHOPS_* variables (or X_FILE), and bad values stop the start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from branchops.envconfig import (
    ConfigError,
    django_database,
    env_bool,
    env_choice,
    env_int,
    env_str,
    parse_database_url,
)


def test_values_and_defaults() -> None:
    env = {"A": "x", "B": "yes", "C": "42", "L": "en"}
    assert env_str("A", "d", env) == "x"
    assert env_str("MISSING", "d", env) == "d"
    assert env_bool("B", False, env) is True
    assert env_int("C", 0, environ=env) == 42
    assert env_choice("L", "zh-hans", ("zh-hans", "en"), env) == "en"


def test_file_variant_is_read_and_stripped(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n", encoding="utf-8")
    assert env_str("KEY", "", {"KEY_FILE": str(secret)}) == "s3cret"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: env_bool("B", False, {"B": "maybe"}), "B='maybe' is not a boolean"),
        (lambda: env_int("N", 1, environ={"N": "ten"}), "N='ten' is not a whole number"),
        (lambda: env_int("N", 1, minimum=5, environ={"N": "2"}), "below the minimum 5"),
        (lambda: env_choice("L", "en", ("en",), {"L": "fr"}), "L='fr' is not one of: en"),
        (lambda: env_str("K", "", {"K": "a", "K_FILE": "/x"}), "both set"),
        (lambda: env_str("K", "", {"K_FILE": "/no/such/file"}), "cannot be read"),
    ],
)
def test_bad_values_fail_loudly_naming_the_variable(call: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call()  # type: ignore[operator]


def test_database_urls() -> None:
    sqlite = parse_database_url("sqlite:////var/lib/branchops/db.sqlite3")
    assert (sqlite.engine, sqlite.name) == ("sqlite", "/var/lib/branchops/db.sqlite3")
    assert django_database(sqlite)["ENGINE"] == "django.db.backends.sqlite3"

    pg = parse_database_url("postgresql://ops:p%40ss@db.internal:5433/branchops?sslmode=require")
    assert (pg.user, pg.password, pg.host, pg.port, pg.name) == (
        "ops",
        "p@ss",
        "db.internal",
        "5433",
        "branchops",
    )
    assert django_database(pg)["OPTIONS"] == {"sslmode": "require"}


@pytest.mark.parametrize(
    "url", ["mysql://x/y", "postgresql://host/", "sqlite://", "postgresql://h:notaport/db"]
)
def test_unusable_database_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_database_url(url)


def _settings_in_subprocess(home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    code = "import branchops.settings as s; print(s.SECRET_KEY)"
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-c", code],
        env={"BRANCHOPS_HOME": str(home), "PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = _settings_in_subprocess(tmp_path)
    second = _settings_in_subprocess(tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert len(first.stdout.strip()) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_a_bad_setting_stops_the_start_with_its_name(tmp_path: Path) -> None:
    result = _settings_in_subprocess(tmp_path, BRANCHOPS_LANGUAGE="fr")
    assert result.returncode != 0
    assert "BRANCHOPS_LANGUAGE='fr' is not one of" in result.stderr
