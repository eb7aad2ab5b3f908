"""Settings every test shares; builders live in branchops.core.testing."""

import os

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):  # type: ignore[no-untyped-def]
    # Argon2 is right for people and wrong for hundreds of test users; one test checks
    # that the product setting really is Argon2.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _lab_addresses_per_worker(settings):  # type: ignore[no-untyped-def]
    # A lab fault drops traffic to a device's address for the whole machine; two test
    # workers simulating estates at the same addresses would see each other's faults.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    settings.LAB_ADDRESS_BLOCK = 10 + 10 * (int(worker) % 20)


@pytest.fixture(autouse=True)
def _shipped_rows(request: pytest.FixtureRequest) -> None:
    """The rows the data migrations ship (device roles, calendars, check templates, the
    default SNMP credential) are there for every database test.

    Transactional tests (the lab, the engine end to end, the browser) end with a flush that
    empties every table, and the migrations do not run again; without this, whatever test
    came next in the same worker would find no device roles.
    """
    marker = request.node.get_closest_marker("django_db")
    uses_db = marker is not None or {"db", "transactional_db", "live_server"} & set(
        request.fixturenames
    )
    if uses_db:
        transactional = (marker is not None and marker.kwargs.get("transaction")) or bool(
            {"transactional_db", "live_server"} & set(request.fixturenames)
        )
        request.getfixturevalue("transactional_db" if transactional else "db")
        from django.apps import apps

        from branchops.alerts.migrations._shipped import load as load_alerts
        from branchops.cmdb.models import DeviceRole
        from branchops.cmdb.reference import load as load_reference
        from branchops.core.calendars import seed_shipped as seed_calendars
        from branchops.monitoring.migrations._shipped import load as load_monitoring

        if not DeviceRole.objects.exists():
            load_reference(apps, None)
            load_monitoring(apps, None)
            load_alerts(apps, None)
            seed_calendars(apps, None)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """pytest-django's set-up, and a teardown that does not trip over a lingering session.

    Threads of live servers (the browser and agent tests) may still be closing a request
    when the run ends; PostgreSQL then refuses to drop the test database. Say which query
    lingered, end those sessions, and let the database be dropped.
    """
    yield
    with django_db_blocker.unblock():
        from django.db import connection

        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, state, left(query, 120) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            lingering = cursor.fetchall()
            for pid, state, query in lingering:
                print(f"\nlingering test-database session {pid} ({state}): {query}")  # noqa: T201
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
