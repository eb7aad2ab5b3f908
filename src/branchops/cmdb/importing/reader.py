"""Reading an uploaded file into a header row and data rows, whatever Excel or WPS saved.

XLSX is recognised by its zip signature, anything else is read as CSV (or tab-separated
text). CSV encodings: UTF-8 with or without a byte-order mark, UTF-16 with a mark (Excel's
"Unicode text"), else GB18030, which covers the GBK that Chinese Excel writes. A file is
never decoded into a second full copy: the encoding is checked chunk by chunk and the
rows are read through a streaming decoder.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from xml.etree import ElementTree

from django.conf import settings
from django.utils.translation import gettext as _

from branchops.cmdb.importing.report import too_big
from branchops.cmdb.importing.values import Cell, is_excel_error

ZIP_SIGNATURE = b"PK\x03\x04"
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and any password-protected workbook
CHUNK = 1 << 20
# Columns read past the last header, to catch values typed where no header says what they are.
EXTRA_COLUMNS = 10
# A workbook inflating to more than this many times the upload limit is a zip bomb.
MAX_INFLATION = 20
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
# The XML parts of an upload are untrusted. ElementTree never fetches external entities and
# the bundled expat (2.4+) caps entity amplification ("billion laughs"); openpyxl parses the
# same parts with the same parser. With defusedxml installed, openpyxl would use it.


class FileProblem(Exception):
    """The file cannot be read at all; the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Table:
    """The first sheet of a file: headers and non-blank data rows with Excel row numbers."""

    file_format: str
    encoding: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[tuple[int, list[Cell]]] = field(default_factory=list)
    # (row, 0-based column) -> why the cell cannot be used (a formula without a saved
    # value, an Excel error value).
    bad_cells: dict[tuple[int, int], str] = field(default_factory=dict)


def read_table(data: bytes, *, max_rows: int | None = None) -> Table:
    """Parse ``data``; raise FileProblem for anything that is not a usable table."""
    limit = settings.IMPORT_MAX_BYTES
    if len(data) > limit:
        raise FileProblem(too_big(len(data), limit))
    max_rows = settings.IMPORT_MAX_ROWS if max_rows is None else max_rows
    if not data.strip(b" \t\r\n\x00" + codecs.BOM_UTF8):
        raise FileProblem(_("The file is empty."))
    if data.startswith(ZIP_SIGNATURE):
        table = _read_xlsx(data, max_rows)
    elif data.startswith(OLE_SIGNATURE):
        raise FileProblem(
            _(
                "This is an old Excel 97-2003 (.xls) or a password-protected workbook. "
                "Save it as .xlsx without a password, or as CSV."
            )
        )
    else:
        table = _read_csv(data, max_rows)
    if not any(h.strip() for h in table.headers):
        raise FileProblem(_("The first row must hold the column headers, but it is empty."))
    if not table.rows:
        raise FileProblem(_("The file has column headers but no data rows."))
    return table


def _too_many(max_rows: int) -> FileProblem:
    return FileProblem(
        _("The file has more than %(max)d data rows; split it into smaller files.")
        % {"max": max_rows}
    )


def _blank(values: Iterable[Cell]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


# ---- CSV -----------------------------------------------------------------------------------


def detect_encoding(data: bytes) -> str:
    """The codec to read ``data`` with; FileProblem when it is binary or not Chinese text."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _CONTROL.search(data[:65536]):
        raise FileProblem(_("This is not a CSV or XLSX file (it holds binary data)."))
    for encoding in ("utf-8", "gb18030"):
        if _decodes(data, encoding):
            return encoding
    raise FileProblem(
        _(
            "This is not a CSV or XLSX file, or its text is in an unknown encoding "
            "(use UTF-8 or GBK)."
        )
    )


def _decodes(data: bytes, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    view = memoryview(data)
    try:
        for start in range(0, len(view), CHUNK):
            decoder.decode(view[start : start + CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _read_csv(data: bytes, max_rows: int) -> Table:
    encoding = detect_encoding(data)
    text = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    first_line = text.readline()
    text.seek(0)
    # Excel's "Unicode text" is tab-separated; some European locales use ';'.
    delimiter = max((",", "\t", ";"), key=first_line.count)
    table = Table(file_format="csv", encoding=encoding.removesuffix("-sig"))
    try:
        records = csv.reader(text, delimiter=delimiter)
        table.headers = [h.strip() for h in next(records, [])]
        table.headers[:1] = [h.lstrip("\ufeff") for h in table.headers[:1]]
        for number, record in enumerate(records, start=2):
            if _blank(record):
                continue
            if len(table.rows) >= max_rows:
                raise _too_many(max_rows)
            table.rows.append((number, list(record)))
    except csv.Error as exc:
        raise FileProblem(
            _("The CSV file is malformed near line %(line)d: %(error)s")
            % {"line": records.line_num, "error": exc}
        ) from None
    except UnicodeDecodeError:
        raise FileProblem(
            _("The text of the file is not valid %(encoding)s.") % {"encoding": encoding}
        ) from None
    return table


# ---- XLSX ----------------------------------------------------------------------------------


def _read_xlsx(data: bytes, max_rows: int) -> Table:
    import openpyxl

    buffer = io.BytesIO(data)
    try:
        archive = zipfile.ZipFile(buffer)
        inflated = sum(info.file_size for info in archive.infolist())
        if inflated > settings.IMPORT_MAX_BYTES * MAX_INFLATION:
            raise FileProblem(_("The workbook inflates to an unreasonable size."))
        sheet_path = _first_sheet_path(archive)
        uncached = _uncached_formulas(archive, sheet_path)
        archive.close()
        buffer.seek(0)
        with warnings.catch_warnings():
            # openpyxl warns about styles, extensions and odd dates it skips; none matter.
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(buffer, read_only=True, data_only=True)
            try:
                table = _read_sheet(workbook.worksheets[0], max_rows)
            finally:
                workbook.close()
    except FileProblem:
        raise
    except (
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        TypeError,
        OSError,
        EOFError,
        ElementTree.ParseError,
        IndexError,
    ) as exc:
        raise FileProblem(
            _("This is not an XLSX workbook Excel can open, or it is damaged (%(error)s).")
            % {"error": type(exc).__name__}
        ) from None
    for row, column in uncached:
        table.bad_cells[(row, column)] = _(
            "The cell holds a formula without a saved result; in Excel, copy the column and "
            "paste it back as values, then save."
        )
    return table


def _read_sheet(sheet: object, max_rows: int) -> Table:
    sheet.reset_dimensions()  # type: ignore[attr-defined]  # a stale <dimension> lies
    table = Table(file_format="xlsx")
    header = next(sheet.iter_rows(max_row=1, values_only=True), ())  # type: ignore[attr-defined]
    width = max((i + 1 for i, h in enumerate(header) if not _blank([h])), default=0)
    table.headers = ["" if h is None else str(h).strip() for h in header[:width]]
    rows: Iterator[tuple[Cell, ...]] = sheet.iter_rows(  # type: ignore[attr-defined]
        min_row=2, max_col=width + EXTRA_COLUMNS, values_only=True
    )
    for number, values in enumerate(rows, start=2):
        if _blank(values):
            continue
        if len(table.rows) >= max_rows:
            raise _too_many(max_rows)
        for column, value in enumerate(values):
            if is_excel_error(value):
                table.bad_cells[(number, column)] = _(
                    "The cell holds the Excel error %(error)s."
                ) % {"error": str(value).strip()}
        table.rows.append((number, list(values)))
    return table


def _first_sheet_path(archive: zipfile.ZipFile) -> str:
    """The zip member of the workbook's first worksheet, the one openpyxl reads as
    ``worksheets[0]`` (chart sheets do not count)."""
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))  # noqa: S314
    targets = {
        rel.get("Id"): rel.get("Target", "") for rel in rels.iter(f"{{{_PKG_REL_NS}}}Relationship")
    }
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))  # noqa: S314
    for sheet in workbook.iter():
        if not sheet.tag.endswith("}sheet"):
            continue
        target = targets.get(sheet.get(f"{{{_REL_NS}}}id"), "")
        if "worksheets/" in target:
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    raise KeyError("no worksheet")


def _has_formulas(archive: zipfile.ZipFile, path: str) -> bool:
    tail = b""
    with archive.open(path) as part:
        while chunk := part.read(CHUNK):
            if _FORMULA_TAG.search(tail + chunk):
                return True
            tail = chunk[-64:]
    return False


def _uncached_formulas(archive: zipfile.ZipFile, path: str) -> list[tuple[int, int]]:
    """Cells with a formula but no saved result: openpyxl would read them as blank.

    Excel saves every result; files written by scripts often do not. A formula whose result
    is the empty string is saved as ``t="str"`` with an empty value and is fine.
    """
    if not _has_formulas(archive, path):
        return []
    from openpyxl.utils.cell import coordinate_to_tuple

    found = []
    with archive.open(path) as part:
        for _event, element in ElementTree.iterparse(part, events=("end",)):  # noqa: S314
            if not element.tag.endswith("}c"):
                continue
            formula = value = None
            for child in element:
                if child.tag.endswith("}f"):
                    formula = child
                elif child.tag.endswith("}v"):
                    value = child
            empty = value is None or (not value.text and element.get("t") != "str")
            if formula is not None and empty and element.get("r"):
                row, column = coordinate_to_tuple(element.get("r", ""))
                found.append((row, column - 1))
            element.clear()
    return found
