"""Exports and blank templates, as CSV (UTF-8 with a byte-order mark, so Excel shows Chinese
correctly) or XLSX.

Formula injection: a cell that starts with = + - @ (or a tab or carriage return) would be
run as a formula by Excel, WPS or LibreOffice when a CSV is opened. In CSV such text gets a
leading apostrophe (the OWASP advice); in XLSX it is stored as a string with Excel's "quote
prefix" style, so it stays text even when the cell is edited, and the value is unchanged.
The importer removes an apostrophe that precedes a formula character, so an exported file
imports back unchanged.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from branchops.cmdb.importing.kinds import KINDS
from branchops.cmdb.importing.registry import EXPORTERS
from branchops.cmdb.importing.spec import Column, Kind
from branchops.cmdb.importing.values import FORMULA_TRIGGERS, CellError, neutralise
from branchops.core.models import User

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
TEMPLATE_ROWS = 1000  # rows that get the drop-down lists in an XLSX template


def export_kind(kind: str, fmt: str, *, user: User) -> bytes:
    """Everything of ``kind`` that ``user`` may see, with headers in the active language."""
    spec = _kind(kind, fmt)
    language = translation.get_language() or "zh-hans"
    rows = ([row[c.code] for c in spec.columns] for row in EXPORTERS[kind](user))
    headers = [c.header(language) for c in spec.columns]
    if fmt == "csv":
        return _csv(headers, rows)
    return _xlsx(spec, headers, rows)


def template(kind: str, fmt: str, language: str) -> bytes:
    """The header row and one example row; an XLSX adds a sheet explaining each column."""
    spec = _kind(kind, fmt)
    with translation.override(language):
        headers = [c.header(language) for c in spec.columns]
        example = [_typed(c, c.sample(language)) for c in spec.columns]
        if fmt == "csv":
            return _csv(headers, [example])
        return _xlsx(spec, headers, [example], help_language=language)


def _kind(kind: str, fmt: str) -> Kind:
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    return KINDS[kind]


def _typed(column: Column, example: str) -> Any:
    """An example as the type a user would type it in Excel (a number, a date)."""
    try:
        return column.parse(example) if example and column.choices is None else example
    except CellError:
        return example


def _csv(headers: list[str], rows: Iterable[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_csv_text(value) for value in row])
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date | int | Decimal):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    return neutralise(str(value))


def _xlsx(
    spec: Kind,
    headers: list[str],
    rows: Iterable[list[Any]],
    help_language: str | None = None,
) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(spec.name)
    sheet.freeze_panes = "A2"
    for index, header in enumerate(headers, start=1):
        # A Chinese character is about two Latin ones wide, as it is two bytes in GBK.
        width = max(12, min(40, len(header.encode("gbk", "replace")) + 4))
        sheet.column_dimensions[get_column_letter(index)].width = width
    if help_language is not None:
        _add_drop_downs(sheet, spec)
    bold, required_fill = Font(bold=True), PatternFill("solid", fgColor="FFF2CC")
    header_cells = []
    for column, header in zip(spec.columns, headers, strict=True):
        cell = WriteOnlyCell(sheet, header)
        cell.font = bold
        if column.required:
            cell.fill = required_fill
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        sheet.append([_xlsx_value(sheet, value) for value in row])
    if help_language is not None:
        _help_sheet(workbook, spec, help_language)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_value(sheet: Any, value: Any) -> Any:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if not isinstance(value, str):
        return value
    text = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters XML cannot hold
    if not text.startswith(FORMULA_TRIGGERS):
        return text
    cell = WriteOnlyCell(sheet, text)
    cell.data_type = "s"  # never a formula
    cell.quotePrefix = True
    return cell


def _add_drop_downs(sheet: Any, spec: Kind) -> None:
    """Drop-down lists of the allowed codes; any other spelling (a label) is still allowed."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    for index, column in enumerate(spec.columns, start=1):
        if column.choices is None:
            continue
        options = ",".join(str(v) for v in column.choices.values)
        if len(options) > 250:
            continue
        validation = DataValidation(
            type="list", formula1=f'"{options}"', allow_blank=True, showErrorMessage=False
        )
        letter = get_column_letter(index)
        validation.add(f"{letter}2:{letter}{TEMPLATE_ROWS}")
        sheet.data_validations.append(validation)


def allowed_values(column: Column) -> str:
    if column.choices is None:
        return ""
    return "\n".join(f"{value} = {label}" for value, label in column.choices.choices)


def _help_sheet(workbook: Any, spec: Kind, language: str) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    sheet = workbook.create_sheet(_("Columns"))
    for letter, width in zip("ABCD", (22, 10, 70, 40), strict=True):
        sheet.column_dimensions[letter].width = width
    titles = [_("Column"), _("Required"), _("What to write"), _("Allowed values")]
    header = []
    for title in titles:
        cell = WriteOnlyCell(sheet, title)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    wrap = Alignment(wrap_text=True, vertical="top")
    for column in spec.columns:
        values = [
            column.header(language),
            _("yes") if column.required else "",
            str(column.help),
            allowed_values(column),
        ]
        cells = []
        for value in values:
            cell = WriteOnlyCell(sheet, value)
            cell.alignment = wrap
            cells.append(cell)
        sheet.append(cells)
    note = _(
        "Row 1 holds the headers (Chinese or English). Each row creates an object or, when "
        "its identifying columns match an existing one, updates it. A column left out of the "
        "file leaves that field unchanged; an empty cell clears it (or sets the default). "
        "Nothing is imported unless every row is valid."
    )
    sheet.append([])
    sheet.append([note])
