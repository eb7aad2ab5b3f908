"""List tables shared by every app: which columns a list shows and how each one sorts.

A table names its columns (label and the fields a click on the header orders by), the
template that draws one row, and what to fetch along with the rows. Sorting accepts only
the keys declared here, so a crafted ``?ordering=`` can never order by an arbitrary field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from django.db import models
from django.utils.functional import Promise


@dataclass(frozen=True)
class Column:
    key: str
    label: str | Promise
    order_by: tuple[str, ...] = ()
    css: str = ""

    @property
    def sortable(self) -> bool:
        return bool(self.order_by)


class Table:
    """One list's columns and row template; ``order`` applies a validated ``?ordering=``."""

    columns: ClassVar[tuple[Column, ...]]
    row_template: ClassVar[str]
    select_related: ClassVar[tuple[str, ...]] = ()
    prefetch_related: ClassVar[tuple[str, ...]] = ()
    annotations: ClassVar[dict[str, Any]] = {}
    # The order without a ``?ordering=``; empty: the model's own ordering.
    default_ordering: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ordering: str = "") -> None:
        key = ordering.removeprefix("-")
        self.column = next((c for c in self.columns if c.key == key and c.sortable), None)
        self.ordering = ordering if self.column is not None else ""

    def prepare(self, qs: models.QuerySet[Any]) -> models.QuerySet[Any]:
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        if self.prefetch_related:
            qs = qs.prefetch_related(*self.prefetch_related)
        if self.annotations:
            qs = qs.annotate(**self.annotations)
        if self.column is None:
            # Said explicitly: a query with counts would otherwise lose the model's ordering.
            return qs.order_by(*(self.default_ordering or qs.model._meta.ordering), "pk")
        descending = self.ordering.startswith("-")
        fields = [f"-{f}" if descending else f for f in self.column.order_by]
        return qs.order_by(*fields, "pk")
