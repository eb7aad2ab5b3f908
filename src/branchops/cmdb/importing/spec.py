"""What a column of an import file is: its code, its headers, whether it is required, how its
cells parse and which model field it fills."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models
from django.utils.functional import Promise

from branchops.cmdb.importing.values import Parser, choice_parser, parse_text


@dataclass(frozen=True)
class Column:
    """One column of an import file.

    ``field`` names the model field the parsed value goes into as it is; ``None`` means the
    kind's importer resolves the value itself (a reference by natural key, a list, ...).
    Headers are matched on the code, the Chinese and the English header and any alias,
    ignoring case, width and spacing. The headers are part of the file format, so they are
    literals here, never translations that a catalog could change.
    """

    code: str
    zh: str
    en: str
    help: str | Promise
    required: bool = False
    parse: Parser = parse_text
    field: str | None = None
    choices: type[models.Choices] | None = None
    example: str = ""
    example_en: str | None = None
    aliases: tuple[str, ...] = ()

    def header(self, language: str) -> str:
        return self.zh if language.startswith("zh") else self.en

    def sample(self, language: str) -> str:
        if self.example_en is not None and not language.startswith("zh"):
            return self.example_en
        return self.example

    @property
    def names(self) -> tuple[str, ...]:
        return (self.code, self.zh, self.en, *self.aliases)


def choice(
    code: str,
    zh: str,
    en: str,
    help: str | Promise,
    choices: type[models.Choices],
    *,
    required: bool = False,
    example: str = "",
) -> Column:
    """A column holding one of a model field's choices, by value or by label."""
    return Column(
        code=code,
        zh=zh,
        en=en,
        help=help,
        required=required,
        parse=choice_parser(choices),
        field=code,
        choices=choices,
        example=example,
    )


@dataclass(frozen=True)
class Kind:
    """A kind of estate object that can be imported and exported: its model and columns.

    ``key`` lists the columns that identify an object (its natural key): a row whose key
    matches an existing object updates it, any other row creates one.
    """

    name: str
    label: str | Promise
    model: type[models.Model]
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    by_code: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_code", {c.code: c for c in self.columns})

    def column(self, code: str) -> Column:
        return self.by_code[code]

    @property
    def required(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.required)
