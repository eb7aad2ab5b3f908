"""Matching a file's header row to a kind's columns, and guessing the kind from it.

Unknown columns are an error, not a warning: a typo in a header ("序列吗") would otherwise
silently drop a whole column of data.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from openpyxl.utils.cell import get_column_letter

from branchops.cmdb.importing.report import HEADER_ROW, RowError
from branchops.cmdb.importing.spec import Kind

_DROP = str.maketrans("", "", " \t\r\n_-*:")


def normalise(header: str) -> str:
    """Width, case, spacing, underscores and a required-marker asterisk do not matter."""
    return unicodedata.normalize("NFKC", header).casefold().translate(_DROP)


@dataclass
class HeaderMap:
    """Where each column of ``kind`` is in the file, and how the file spells its header."""

    kind: Kind
    positions: dict[str, int] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)
    unnamed: list[int] = field(default_factory=list)  # positions with a blank header
    language: str = "zh-hans"
    errors: list[RowError] = field(default_factory=list)

    width: int = 0  # number of header cells

    def has(self, code: str) -> bool:
        return code in self.positions

    def code_at(self, position: int) -> str | None:
        for code, at in self.positions.items():
            if at == position:
                return code
        return None  # a column that is not this kind's (already reported on row 1)

    def header(self, code: str) -> str:
        """The column's header as written in the file (or as the template writes it)."""
        return self.written.get(code) or self.kind.column(code).header(self.language)


def _lookup(kind: Kind) -> dict[str, str]:
    names: dict[str, str] = {}
    for column in kind.columns:
        for name in column.names:
            names.setdefault(normalise(name), column.code)
    return names


def match(headers: list[str], kind: Kind) -> HeaderMap:
    names = _lookup(kind)
    found = HeaderMap(kind=kind, width=len(headers))
    zh = sum(1 for h in headers if any("\u4e00" <= ch <= "\u9fff" for ch in h))
    found.language = "zh-hans" if zh * 2 >= len([h for h in headers if h]) else "en"
    for position, header in enumerate(headers):
        if not header:
            found.unnamed.append(position)
            continue
        code = names.get(normalise(header))
        if code is None:
            known = ", ".join(c.header(found.language) for c in kind.columns)
            found.errors.append(
                RowError(
                    HEADER_ROW,
                    header,
                    _("Unknown column. The columns of %(kind)s are: %(known)s.")
                    % {"kind": kind.label, "known": known},
                )
            )
        elif code in found.positions:
            found.errors.append(
                RowError(
                    HEADER_ROW,
                    header,
                    _("This column appears twice (also column %(letter)s).")
                    % {"letter": get_column_letter(found.positions[code] + 1)},
                )
            )
        else:
            found.positions[code] = position
            found.written[code] = header
    for code in kind.key:  # the other required columns are needed only to create objects
        if code not in found.positions:
            found.errors.append(
                RowError(
                    HEADER_ROW,
                    kind.column(code).header(found.language),
                    _("This required column is missing."),
                )
            )
    return found


def guess(headers: list[str], kinds: dict[str, Kind]) -> Kind | RowError:
    """The kind whose columns fit the headers best; an error when none or several fit."""
    scores: list[tuple[int, int, str]] = []
    for name, kind in kinds.items():
        names = _lookup(kind)
        codes = {names[n] for h in headers if (n := normalise(h)) in names}
        complete = all(c.code in codes for c in kind.required)
        scores.append((int(complete), len(codes), name))
    scores.sort(reverse=True)
    best, runner_up = scores[0], scores[1]
    if best[1] == 0:
        return RowError(
            HEADER_ROW,
            "",
            _(
                "Cannot tell what the file holds from its headers; choose the kind (sites, "
                "devices, links, systems or contracts) or use a template."
            ),
        )
    if best[:2] == runner_up[:2]:
        return RowError(
            HEADER_ROW,
            "",
            _("The headers fit both %(a)s and %(b)s; choose the kind.")
            % {"a": kinds[best[2]].label, "b": kinds[runner_up[2]].label},
        )
    return kinds[best[2]]
