"""After a bulk load the planner gets statistics (and PostgreSQL its vacuum) at once."""

from __future__ import annotations

import pytest
from django.db import connection

from branchops.core import setup
from branchops.core.testing import make_region

pytestmark = pytest.mark.django_db(transaction=True)  # VACUUM runs outside transactions


def test_the_planner_has_statistics_after_a_refresh() -> None:
    for n in range(30):
        make_region(code=f"r{n}")
    setup.refresh_statistics()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL "
                "FROM pg_stat_user_tables WHERE relname = 'cmdb_region'"
            )
            assert cursor.fetchone() == (True,)
        else:
            cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'cmdb_region'")
            assert cursor.fetchone()[0] > 0
