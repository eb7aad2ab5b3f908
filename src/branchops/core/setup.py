"""Database set-up and first accounts, shared by ``branchops init`` and ``branchops demo``."""

from __future__ import annotations

import secrets
import string

from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from branchops.core.choices import Role
from branchops.core.models import User

_ALPHABET = string.ascii_letters + string.digits


def generate_password(length: int = 16) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def migrate(verbosity: int = 1) -> None:
    call_command("migrate", interactive=False, verbosity=verbosity)


def check_migrated() -> None:
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        raise SystemExit(
            f"The database needs {len(pending)} migration(s); run `branchops init` first."
        )


def ensure_admin(username: str = "admin") -> str | None:
    """Create the administrator if missing; return its new password, or None if it existed."""
    if User.objects.filter(username=username).exists():
        return None
    password = generate_password()
    User.objects.create_superuser(username=username, password=password, role=Role.ADMIN)
    return password


def create_user(username: str, *, role: str, sites: list[str]) -> str:
    from branchops.cmdb.models import Site

    if User.objects.filter(username=username).exists():
        raise ValueError(f"user {username!r} already exists")
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}")
    found = list(Site.objects.filter(code__in=sites))
    missing = sorted(set(sites) - {s.code for s in found})
    if missing:
        raise ValueError(f"unknown site code(s): {', '.join(missing)}")
    password = generate_password()
    with transaction.atomic():
        user = User.objects.create_user(username=username, password=password, role=role)
        user.liaison_sites.set(found)
    return password


def refresh_statistics() -> None:
    """Let the query planner see what a bulk load wrote, and leave nothing for later.

    Right after the demo writes thousands of rows, PostgreSQL's autovacuum has not yet
    counted them: the planner took a 5,000-ticket table for 4 rows and chose a plan that
    made the KPI query take 7 s instead of 0.02 s; and when autovacuum does come, it takes
    a core for a while. On PostgreSQL this vacuums and analyses now; on SQLite it analyses
    (a VACUUM there would rewrite the whole file).
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)" if connection.vendor == "postgresql" else "ANALYZE")
