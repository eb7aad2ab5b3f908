"""The outcome of an import: counts and every problem, by row and column as the user sees them."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

FILE_ROW = 0  # a problem with the file as a whole
HEADER_ROW = 1  # a problem with the column headers


def size_text(size: float) -> str:
    """A file size for people: "812.0 KB", "20.0 MB"."""
    if size < 2**20:
        return f"{size / 2**10:.1f} KB"
    return f"{size / 2**20:.1f} MB"


def too_big(size: float, limit: float) -> str:
    return _("The file is %(size)s; the limit is %(limit)s.") % {
        "size": size_text(size),
        "limit": size_text(limit),
    }


@dataclass(frozen=True, order=True)
class RowError:
    """One problem: ``row`` as Excel numbers it (the header is row 1; 0 means the whole
    file), ``column`` as the file's header writes it ("" when no single column is at
    fault)."""

    row: int
    column: str
    message: str

    @property
    def where(self) -> str:
        return "" if self.row == FILE_ROW else str(self.row)


@dataclass
class ImportReport:
    """What an import did, or would do on a dry run: nothing at all when there are errors."""

    kind: str | None
    filename: str = ""
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    errors: list[RowError] = field(default_factory=list)
    file_format: str = ""
    encoding: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def written(self) -> bool:
        """True when the changes are in the database."""
        return self.ok and not self.dry_run

    @property
    def file_unusable(self) -> bool:
        """The file (or the user) could not be used at all: no row was looked at."""
        return any(e.row <= HEADER_ROW for e in self.errors)

    def add(self, row: int, column: str, message: str) -> None:
        self.errors.append(RowError(row, column, message))

    def sorted_errors(self) -> list[RowError]:
        return sorted(self.errors, key=lambda e: e.row)

    def summary(self) -> str:
        counts = {
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }
        if not self.ok:
            return _("%(errors)d problem(s) found in %(name)s; nothing was imported.") % {
                "errors": len(self.errors),
                "name": self.filename or _("the file"),
            }
        if self.dry_run:
            return (
                _(
                    "Dry run: %(total)d row(s) are valid; an import would create %(created)d, "
                    "update %(updated)d and leave %(unchanged)d unchanged. Nothing was written."
                )
                % counts
            )
        return (
            _(
                "Imported %(total)d row(s): %(created)d created, %(updated)d updated, "
                "%(unchanged)d unchanged."
            )
            % counts
        )

    def as_text(self) -> str:
        """The summary and a plain ``row | column | message`` table, for logs and pipes."""
        lines = [self.summary()]
        if self.errors:
            lines.append(" | ".join((_("row"), _("column"), _("message"))))
            lines.extend(" | ".join((e.where, e.column, e.message)) for e in self.sorted_errors())
        return "\n".join(lines)
