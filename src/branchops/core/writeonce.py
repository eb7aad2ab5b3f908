"""Rows that are evidence: written once, never updated or deleted, one by one or in bulk.

Ticket events and dual-control records use it; a model says what its rows are called so
that the refusal reads well ("ticket events are never deleted").
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


class WriteOnceQuerySet(models.QuerySet[M]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError(f"{_noun(self.model)} are never updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError(f"{_noun(self.model)} are never deleted")


class WriteOnce(models.Model):
    """An abstract model whose rows are written once."""

    rows_are_called: ClassVar[str] = "these rows"

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError(f"{_noun(type(self))} are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError(f"{_noun(type(self))} are never deleted")


def _noun(model: Any) -> str:
    return str(getattr(model, "rows_are_called", "these rows"))
