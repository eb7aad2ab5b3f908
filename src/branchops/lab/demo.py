"""``branchops demo``: load Example Securities once, create one account per role, say hello.

Passwords are generated once and kept in ``$BRANCHOPS_HOME/demo-accounts.json`` (mode 0600)
so that every later ``branchops demo`` prints the same ones.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from rich.console import Console
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from branchops.cmdb.choices import SiteKind, SiteStatus
from branchops.cmdb.models import Device, Site
from branchops.core import audit
from branchops.core.choices import AuditAction, ChangeSource, Role
from branchops.core.models import User
from branchops.core.setup import generate_password
from branchops.lab.estate import MAX_BRANCHES, build, delete_estate, is_loaded, load

ACCOUNTS_FILE = "demo-accounts.json"
LIAISON_BRANCHES = 3


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    last_name: str
    first_name: str


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", Role.ADMIN, "", ""),
    DemoUser("noc", Role.NOC_OPERATOR, "陈", "静"),
    DemoUser("engineer", Role.OPS_ENGINEER, "李", "强"),
    DemoUser("expert", Role.TECHNICAL_EXPERT, "王", "磊"),
    DemoUser("liaison", Role.BRANCH_LIAISON, "张", "敏"),
    DemoUser("auditor", Role.AUDITOR, "刘", "洋"),
)


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    role_label: str
    password: str | None  # None: the account was there before and its password is not ours
    sites: tuple[str, ...] = ()


def accounts_file() -> Path:
    return Path(settings.HOME) / ACCOUNTS_FILE


# ---- loading ------------------------------------------------------------------------------


def prepare(
    branches: int,
    seed: int,
    reset: bool,
    *,
    today: dt.date | None = None,
    console: Console | None = None,
) -> None:
    """Load the estate unless it is there already; with ``reset``, delete and load again."""
    console = console or Console()
    if not 1 <= branches <= MAX_BRANCHES:
        raise SystemExit(f"branchops demo: --branches must be between 1 and {MAX_BRANCHES}")
    if not reset and is_loaded():
        branch_count = Site.objects.filter(kind=SiteKind.BRANCH).count()
        console.print(
            f"Example Securities is already loaded ({branch_count} branches, "
            f"{Device.objects.count()} devices); use --reset to load it again."
        )
        return
    with console.status("Drawing up Example Securities ..."):
        estate = build(branches, seed, today)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with transaction.atomic(), Progress(*columns, console=console, transient=True) as bar:
        if reset:
            task = bar.add_task("Deleting the old estate", total=None)
            delete_estate()
            bar.remove_task(task)
        task = bar.add_task("Loading", total=estate.row_count())

        def advance(step: str, rows: int) -> None:
            bar.update(task, advance=rows, description=f"Loading {step}")

        summary = load(estate, progress=advance)
    console.print(
        f"Loaded Example Securities in {summary.seconds:.1f} s: {summary.branches} branches, "
        f"{summary.regional_centres} regional centres, {summary.data_centres} data centres, "
        f"{summary.devices} devices, {summary.links} links, {summary.contracts} contracts."
    )


# ---- accounts -----------------------------------------------------------------------------


def _read_saved(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise SystemExit(f"branchops demo: cannot read {path}: {exc}") from exc
    passwords = data.get("passwords", {}) if isinstance(data, dict) else {}
    return {str(k): str(v) for k, v in passwords.items()}


def _write_saved(path: Path, passwords: dict[str, str]) -> None:
    """Write atomically, readable by the owner only from the first byte on."""
    text = json.dumps(
        {
            "note": "Demo account passwords of branchops demo. Delete this file to forget them.",
            "passwords": passwords,
        },
        indent=2,
        ensure_ascii=False,
    )
    fd, tmp = tempfile.mkstemp(prefix=".demo-accounts.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _valid_password(user: User) -> str:
    for _ in range(20):
        password = generate_password(16)
        try:
            validate_password(password, user)
        except ValidationError:
            continue
        return password
    raise RuntimeError("could not generate a password that passes the validators")


def _liaison_branches() -> list[Site]:
    """Three active branches near each other: the first branch and its provincial neighbours."""
    branches = Site.objects.filter(kind=SiteKind.BRANCH, status=SiteStatus.ACTIVE).order_by("code")
    first = branches.select_related("region").first()
    if first is None:
        return []
    chosen = list(branches.filter(region__parent_id=first.region.parent_id)[:LIAISON_BRANCHES])
    if len(chosen) < LIAISON_BRANCHES:
        more = branches.exclude(pk__in=[s.pk for s in chosen])
        chosen += list(more[: LIAISON_BRANCHES - len(chosen)])
    return chosen


def _create_user(spec: DemoUser, password: str | None) -> tuple[User, str]:
    user = User(
        username=spec.username,
        role=spec.role,
        last_name=spec.last_name,
        first_name=spec.first_name,
        email=f"{spec.username}@example-securities.example",
        is_staff=spec.role == Role.ADMIN,
        is_superuser=spec.role == Role.ADMIN,
    )
    password = password or _valid_password(user)
    user.set_password(password)
    user.save()
    audit.record(
        actor=None,
        action=AuditAction.CREATE,
        source=ChangeSource.SYSTEM,
        obj=user,
        after={"username": user.username, "role": user.role},
        message="Demo account created by branchops demo",
    )
    return user, password


def ensure_accounts() -> list[DemoAccount]:
    """Create the demo accounts that are missing; return every one with its password."""
    path = accounts_file()
    saved = _read_saved(path)
    accounts = []
    with transaction.atomic():
        known = dict(saved)
        for spec in DEMO_USERS:
            user = User.objects.filter(username=spec.username).first()
            password: str | None
            if user is None:
                user, created = _create_user(spec, saved.get(spec.username))
                password = known[spec.username] = created
            else:
                password = saved.get(spec.username)
                # Someone changed it since, or the account predates the demo.
                if password is not None and not user.check_password(password):
                    password = None
            sites: tuple[str, ...] = ()
            if spec.role == Role.BRANCH_LIAISON:
                if not user.liaison_sites.exists():
                    user.liaison_sites.set(_liaison_branches())
                sites = tuple(user.liaison_sites.order_by("code").values_list("code", flat=True))
            accounts.append(
                DemoAccount(spec.username, spec.role.value, str(spec.role.label), password, sites)
            )
        # Written before the commit: if the commit fails, the next run reuses the same ones.
        if known != saved:
            _write_saved(path, known)
    return accounts


# ---- welcome ------------------------------------------------------------------------------


def print_welcome(url: str, accounts: list[DemoAccount], *, console: Console | None = None) -> None:
    console = console or Console()
    where = Table.grid(padding=(0, 2))
    where.add_column(style="bold")
    where.add_column()
    where.add_row("Web UI", url)
    where.add_row("API docs", url.rstrip("/") + "/api/docs")
    branches = Site.objects.filter(kind=SiteKind.BRANCH).count()
    where.add_row("Estate", f"{branches} branches, {Device.objects.count()} devices")

    people = Table(title="Accounts", title_justify="left", expand=False)
    people.add_column("User", style="bold cyan")
    people.add_column("Role")
    people.add_column("Password", style="green")
    people.add_column("Looks after")
    for account in accounts:
        password = account.password or "[dim](set before the demo; unchanged)[/dim]"
        people.add_row(account.username, account.role_label, password, ", ".join(account.sites))

    hints = (
        f"API token:  [bold]branchops token create --user admin[/bold]\n"
        f"Passwords are kept in {accounts_file()} (readable by you only)."
    )
    console.print(
        Panel(
            _stack(where, people, hints),
            title="[bold]示例证券 / Example Securities[/bold]: BranchOps demo",
            expand=False,
        )
    )


def _stack(*parts: Table | str) -> Table:
    grid = Table.grid(padding=(1, 0))
    grid.add_column()
    for part in parts:
        grid.add_row(part)
    return grid
