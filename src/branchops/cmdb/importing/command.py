"""``branchops import`` and ``branchops export``.

Exit status of an import: 0 when every row was imported (or, on a dry run, is valid), 1
when some rows are invalid (every problem is printed as row | column | message), 2 when the
file or the user cannot be used at all.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext as _

from branchops.cmdb.importing.exporting import FORMATS, export_kind
from branchops.cmdb.importing.kinds import KINDS
from branchops.cmdb.importing.report import ImportReport, too_big
from branchops.cmdb.importing.upload import import_upload
from branchops.core.models import User

if TYPE_CHECKING:
    from rich.console import Console

OK, INVALID_ROWS, UNUSABLE = 0, 1, 2
PROGRESS_BAR_ROWS = 500


def cli_import(path: Path, *, kind: str | None, dry_run: bool, username: str) -> int:
    err = sys.stderr
    user = User.objects.filter(username=username).first()
    if user is None or not user.is_active:
        print(_("branchops import: no active user named %(name)r") % {"name": username}, file=err)
        return UNUSABLE
    if kind is not None and kind not in KINDS:
        print(_("branchops import: unknown kind %(kind)r") % {"kind": kind}, file=err)
        return UNUSABLE
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise IsADirectoryError(path)
        if size > settings.IMPORT_MAX_BYTES:  # refuse before reading it into memory
            message = too_big(size, settings.IMPORT_MAX_BYTES)
            print(f"branchops import: {path}: {message}", file=err)
            return UNUSABLE
        data = path.read_bytes()
    except OSError as exc:
        print(
            _("branchops import: cannot read %(path)s: %(error)s")
            % {"path": path, "error": exc.strerror or exc},
            file=err,
        )
        return UNUSABLE
    report = _run_with_progress(path, data, kind=kind, dry_run=dry_run, user=user)
    print_report(report, sys.stdout)
    if report.ok:
        return OK
    return UNUSABLE if report.file_unusable else INVALID_ROWS


def _run_with_progress(
    path: Path, data: bytes, *, kind: str | None, dry_run: bool, user: User
) -> ImportReport:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
        console=_console(sys.stderr),
    )
    task = None

    def progress(done: int, total: int) -> None:
        nonlocal task
        if total <= PROGRESS_BAR_ROWS:
            return
        if task is None:
            bar.start()
            task = bar.add_task(_("Checking %(name)s") % {"name": path.name}, total=total)
        bar.update(task, completed=done)

    try:
        return import_upload(kind, path.name, data, actor=user, dry_run=dry_run, progress=progress)
    finally:
        if task is not None:
            bar.stop()


def _console(stream: TextIO) -> Console:
    from rich.console import Console

    return Console(file=stream, highlight=False)


def print_report(report: ImportReport, stream: TextIO) -> None:
    """The summary, then every problem: a rich table on a terminal, plain lines otherwise."""
    if not report.errors or not stream.isatty():
        print(report.as_text(), file=stream)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(_("row"), _("column"), _("message"), show_lines=False)
    for error in report.sorted_errors():
        # Text, not str: a cell like "[/x]" from the file must never be read as markup.
        table.add_row(Text(error.where), Text(error.column), Text(error.message))
    console = Console(file=stream, highlight=False)
    console.print(table, markup=False)
    console.print(report.summary(), markup=False)


def cli_export(kind: str, path: Path) -> int:
    """Export everything of ``kind`` (as the first superuser, else ``admin``) to ``path``;
    the format comes from the extension."""
    err = sys.stderr
    fmt = path.suffix.lower().lstrip(".")
    if kind not in KINDS:
        print(_("branchops export: unknown kind %(kind)r") % {"kind": kind}, file=err)
        return UNUSABLE
    if fmt not in FORMATS:
        print(_("branchops export: the file name must end in .csv or .xlsx"), file=err)
        return UNUSABLE
    user = (
        User.objects.filter(Q(is_superuser=True) | Q(username="admin"), is_active=True)
        .order_by("-is_superuser", "pk")
        .first()
    )
    if user is None:
        print(_("branchops export: no administrator; run `branchops init` first."), file=err)
        return UNUSABLE
    data = export_kind(kind, fmt, user=user)
    try:
        path.write_bytes(data)
    except OSError as exc:
        print(
            _("branchops export: cannot write %(path)s: %(error)s")
            % {"path": path, "error": exc.strerror or exc},
            file=err,
        )
        return UNUSABLE
    label = KINDS[kind].label if kind in KINDS else kind
    sys.stdout.write(_("Exported %(kind)s to %(path)s.") % {"kind": label, "path": path} + "\n")
    return OK
