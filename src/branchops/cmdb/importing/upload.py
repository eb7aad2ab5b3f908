"""``import_upload``: one file in, one report out, and all of its rows written or none."""

from __future__ import annotations

from django.db import DatabaseError, transaction
from django.utils.translation import gettext as _

from branchops.cmdb.importing import headers as header_rows
from branchops.cmdb.importing.engine import Progress
from branchops.cmdb.importing.kinds import KINDS
from branchops.cmdb.importing.reader import FileProblem, read_table
from branchops.cmdb.importing.registry import IMPORTERS
from branchops.cmdb.importing.report import FILE_ROW, ImportReport, RowError
from branchops.core.models import User


def import_upload(
    kind: str | None,
    filename: str,
    data: bytes,
    *,
    actor: User,
    dry_run: bool,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate every row of ``data`` and, unless ``dry_run`` or any row is invalid, upsert
    all of them in one transaction with their audit rows. Never raises for a bad file."""
    report = ImportReport(kind=kind, filename=filename, dry_run=dry_run)
    if kind is not None and kind not in KINDS:
        report.add(
            FILE_ROW,
            "",
            _("Unknown kind %(kind)s; use one of: %(kinds)s.")
            % {"kind": kind, "kinds": ", ".join(KINDS)},
        )
        return report
    try:
        table = read_table(data)
    except FileProblem as exc:
        report.add(FILE_ROW, "", exc.message)
        return report
    report.file_format, report.encoding = table.file_format, table.encoding
    chosen = KINDS[kind] if kind is not None else header_rows.guess(table.headers, KINDS)
    if isinstance(chosen, RowError):
        report.errors.append(chosen)
        return report
    report.kind = chosen.name
    report.total = len(table.rows)
    columns = header_rows.match(table.headers, chosen)
    report.errors.extend(columns.errors)
    if any(code not in columns.positions for code in chosen.key):
        return report  # rows that cannot be identified cannot be checked
    importer = IMPORTERS[chosen.name](columns, actor, report, table.bad_cells)
    refusal = importer.refused_outright()
    if refusal is not None:
        report.add(FILE_ROW, "", refusal)
        return report
    importer.validate(table.rows, progress)
    importer.count()
    order = {header: i for i, header in enumerate(table.headers)}
    report.errors.sort(key=lambda e: (e.row, order.get(e.column, len(order))))
    if report.ok and not dry_run:
        try:
            with transaction.atomic():
                importer.write()
        except DatabaseError as exc:
            # A concurrent change (a serial taken since the check) or a database limit.
            report.add(
                FILE_ROW,
                "",
                _("The database refused the import, so nothing was written: %(error)s")
                % {"error": exc},
            )
    return report
