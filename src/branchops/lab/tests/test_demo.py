"""``branchops demo``: loads once, reloads on --reset, keeps the same passwords."""

from __future__ import annotations

import datetime as dt
import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.password_validation import validate_password
from rich.console import Console

from branchops.cmdb.choices import SiteKind
from branchops.cmdb.models import Device, Site
from branchops.core.choices import AuditAction, Role
from branchops.core.models import AuditEvent, User
from branchops.lab import demo
from branchops.lab.estate import build

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 22)


@pytest.fixture(autouse=True)
def home(settings: Any, tmp_path: Path) -> Path:
    settings.HOME = tmp_path
    return tmp_path


def quiet() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=120, force_terminal=False), out


def imports() -> int:
    return AuditEvent.objects.filter(action=AuditAction.IMPORT).count()


def test_prepare_loads_once_and_then_leaves_the_estate_alone() -> None:
    console, out = quiet()
    demo.prepare(branches=8, seed=5, reset=False, today=TODAY, console=console)
    devices = Device.objects.count()
    assert Site.objects.filter(kind=SiteKind.BRANCH).count() == 8
    assert devices == len(build(8, 5, TODAY).devices)
    assert "Loaded Example Securities" in out.getvalue()

    console, out = quiet()
    demo.prepare(branches=8, seed=6, reset=False, today=TODAY, console=console)
    assert "already loaded" in out.getvalue()
    assert len(out.getvalue().strip().splitlines()) == 1
    assert Device.objects.count() == devices
    assert imports() == 1


def test_reset_deletes_and_loads_again() -> None:
    console, _ = quiet()
    demo.prepare(branches=8, seed=5, reset=False, today=TODAY, console=console)
    demo.prepare(branches=9, seed=6, reset=True, today=TODAY, console=console)
    assert Site.objects.filter(kind=SiteKind.BRANCH).count() == 9
    expected = {d.serial for d in build(9, 6, TODAY).devices}
    assert set(Device.objects.values_list("serial", flat=True)) == expected
    assert imports() == 2
    assert AuditEvent.objects.filter(action=AuditAction.DELETE).count() == 1


def test_prepare_rejects_a_silly_size() -> None:
    with pytest.raises(SystemExit):
        demo.prepare(branches=0, seed=1, reset=False, console=quiet()[0])


def test_accounts_one_per_role_with_valid_saved_passwords(home: Path) -> None:
    demo.prepare(branches=8, seed=5, reset=False, today=TODAY, console=quiet()[0])
    accounts = demo.ensure_accounts()
    assert {a.role for a in accounts} == set(Role.values)
    admin = User.objects.get(username="admin")
    assert admin.is_superuser
    assert admin.role == Role.ADMIN
    for account in accounts:
        user = User.objects.get(username=account.username)
        assert account.password is not None
        assert user.check_password(account.password)
        validate_password(account.password, user)
    liaison = User.objects.get(role=Role.BRANCH_LIAISON)
    sites = list(liaison.liaison_sites.all())
    assert len(sites) == 3
    assert all(s.kind == SiteKind.BRANCH for s in sites)
    assert next(a for a in accounts if a.username == liaison.username).sites == tuple(
        sorted(s.code for s in sites)
    )
    saved = home / "demo-accounts.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text())["passwords"] == {a.username: a.password for a in accounts}


def test_later_runs_print_the_same_passwords_even_after_the_users_are_gone() -> None:
    first = demo.ensure_accounts()
    assert demo.ensure_accounts() == first
    assert User.objects.count() == len(first)
    User.objects.all().delete()
    again = demo.ensure_accounts()
    assert [a.password for a in again] == [a.password for a in first]
    assert User.objects.get(username="noc").check_password(first[1].password or "")


def test_a_password_changed_since_is_not_shown() -> None:
    demo.ensure_accounts()
    user = User.objects.get(username="auditor")
    user.set_password("a-new-and-private-passphrase")
    user.save()
    accounts = {a.username: a for a in demo.ensure_accounts()}
    assert accounts["auditor"].password is None
    assert accounts["noc"].password is not None


def test_an_admin_made_by_init_is_kept() -> None:
    User.objects.create_superuser(username="admin", password="chosen-at-init-1234")
    accounts = {a.username: a for a in demo.ensure_accounts()}
    assert accounts["admin"].password is None
    assert User.objects.get(username="admin").check_password("chosen-at-init-1234")


def test_liaison_gets_branches_again_after_a_reset() -> None:
    console, _ = quiet()
    demo.prepare(branches=8, seed=5, reset=False, today=TODAY, console=console)
    demo.ensure_accounts()
    demo.prepare(branches=8, seed=5, reset=True, today=TODAY, console=console)
    liaison = User.objects.get(username="liaison")
    assert not liaison.liaison_sites.exists()
    accounts = {a.username: a for a in demo.ensure_accounts()}
    assert len(accounts["liaison"].sites) == 3


def test_welcome_names_the_urls_accounts_and_token_command() -> None:
    accounts = demo.ensure_accounts()
    console, out = quiet()
    demo.print_welcome("http://127.0.0.1:8123/", accounts, console=console)
    text = out.getvalue()
    assert "http://127.0.0.1:8123/" in text
    assert "http://127.0.0.1:8123/api/docs" in text
    assert "branchops token create --user admin" in text
    for account in accounts:
        assert account.username in text
        assert account.password is not None
        assert account.password in text


def test_reset_takes_the_demo_tickets_and_their_history_along() -> None:
    from branchops.servicedesk import services
    from branchops.servicedesk.models import Ticket, TicketEvent

    console, _ = quiet()
    demo.prepare(branches=8, seed=5, reset=False, today=TODAY, console=console)
    branch = Site.objects.filter(kind=SiteKind.BRANCH).first()
    services.open_ticket(
        kind="incident", title="line down", source="phone", impact=2, urgency=2, by=None,
        site=branch,
    )  # fmt: skip
    assert TicketEvent.objects.exists()
    demo.prepare(branches=8, seed=6, reset=True, today=TODAY, console=console)
    assert not Ticket.objects.exists()
    assert not TicketEvent.objects.exists()
