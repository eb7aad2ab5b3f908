"""Spreadsheet cells to Python values: text, whole numbers, decimals, dates and choices.

A cell arrives as whatever the file format gives: always text from a CSV, and text, numbers,
dates or booleans from an XLSX. Every parser accepts all of them, so a column behaves the
same whichever format the user saved in. A blank cell parses to ``None``; the importer
decides what blank means for the field (its default, NULL or the empty string).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

from django.db import models
from django.utils import translation
from django.utils.translation import gettext as _

Cell: TypeAlias = str | int | float | bool | Decimal | dt.datetime | dt.date | dt.time | None
Parser: TypeAlias = Callable[[Cell], object]

# Characters that make Excel, LibreOffice or WPS read a cell as a formula (OWASP "CSV
# injection"); tab and carriage return can hide a formula behind whitespace.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# Error values Excel stores in place of a result.
EXCEL_ERRORS = frozenset(
    {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA"}
)

FULLWIDTH_SEMICOLON = "\uff1b"
LIST_SEPARATORS = re.compile(f"[;{FULLWIDTH_SEMICOLON}]")
_DATE = re.compile(
    r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:[ T]0{1,2}:00(?::00(?:\.0+)?)?)?$"
)
_DIGITS = re.compile(r"^[+-]?\d+$")


class CellError(ValueError):
    """A cell's value cannot be used; the message tells the person who typed it why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def neutralise(text: str) -> str:
    """Make text inert in a spreadsheet: a leading formula character gets an apostrophe."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _restore(text: str) -> str:
    # Undo neutralise() so that an exported file imports back unchanged.
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text


def as_text(value: Cell) -> str:
    """The cell as trimmed text; numbers lose a spurious ``.0``; dates are ISO."""
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = _restore(value.strip())
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, dt.datetime):
        midnight = value.time() == dt.time(0, 0)
        text = value.date().isoformat() if midnight else value.isoformat(sep=" ")
    elif isinstance(value, dt.date | dt.time):
        text = value.isoformat()
    else:
        text = str(value)
    return text


def parse_text(value: Cell) -> str | None:
    return as_text(value) or None


def parse_int(value: Cell) -> int | None:
    if isinstance(value, bool):
        raise CellError(_("Enter a whole number."))
    if isinstance(value, int):
        return value
    text = as_text(value).replace(",", "")
    if not text:
        return None
    if not _DIGITS.match(text):
        raise CellError(_("Enter a whole number."))
    return int(text)


def decimal_parser(places: int) -> Parser:
    """Decimals rounded to the field's places, so Excel's float noise never fails a row."""
    quantum = Decimal(1).scaleb(-places)

    def parse(value: Cell) -> Decimal | None:
        if isinstance(value, bool):
            raise CellError(_("Enter a number."))
        if isinstance(value, float):
            text = repr(value)
        else:
            text = as_text(value)
            for noise in (",", "\uff0c", "\u00a5", "\uffe5", " "):  # commas, yuan signs
                text = text.replace(noise, "")
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise CellError(_("Enter a number.")) from None
        if not number.is_finite():
            raise CellError(_("Enter a number."))
        return number.quantize(quantum)

    return parse


def parse_date(value: Cell) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A date typed into a cell that is not formatted as a date: an Excel serial number.
        from openpyxl.utils.datetime import from_excel

        if 1 <= value < 2958466:
            serial = from_excel(value)
            return serial.date() if isinstance(serial, dt.datetime) else None
        raise CellError(_("Enter a date as YYYY-MM-DD."))
    text = as_text(value)
    if not text:
        return None
    match = _DATE.match(text)
    if match is None:
        raise CellError(_("Enter a date as YYYY-MM-DD."))
    try:
        return dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        raise CellError(_("%(value)s is not a real date.") % {"value": text}) from None


def fold(text: str) -> str:
    """Compare names the way a person would: width, case and spacing do not matter."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def choice_labels(choices: type[models.Choices]) -> dict[str, object]:
    """Every spelling of every choice (value, English label, Chinese label), folded."""
    spellings: dict[str, object] = {}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for value, label in choices.choices:
                spellings.setdefault(fold(str(label)), value)
    for value in choices.values:
        spellings[fold(str(value))] = value
    return spellings


def choice_parser(choices: type[models.Choices]) -> Parser:
    """Accept a choice by its value (``branch``) or by its label in English or Chinese."""
    cache: dict[str, object] = {}

    def parse(value: Cell) -> object:
        text = as_text(value)
        if not text:
            return None
        if not cache:
            # Built on first use, once the translation catalogs are loaded.
            cache.update(choice_labels(choices))
        found = cache.get(fold(text))
        if found is None:
            allowed = ", ".join(str(v) for v in choices.values)
            raise CellError(
                _("%(value)s is not allowed here; use one of: %(allowed)s.")
                % {"value": text, "allowed": allowed}
            )
        return found

    return parse


def split_list(value: Cell) -> list[str]:
    """Items separated by ';' or the full-width semicolon that Chinese input methods type."""
    return [item.strip() for item in LIST_SEPARATORS.split(as_text(value)) if item.strip()]


def is_excel_error(value: Cell) -> bool:
    return isinstance(value, str) and value.strip() in EXCEL_ERRORS
