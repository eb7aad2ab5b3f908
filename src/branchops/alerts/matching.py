"""Label matchers: {"site": "BR-0001", "interface": "~wan.*"}.

A value starting with "~" is a regular expression matched in full; anything else must be
equal. Every listed label must match; an empty matcher matches everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any


class MatcherError(ValueError):
    """A matcher that cannot be used, with a message naming the label."""


@lru_cache(maxsize=4096)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def validate(matchers: Any) -> dict[str, str]:
    """The matchers as a clean dict, or MatcherError saying which label is wrong."""
    if not isinstance(matchers, Mapping):
        raise MatcherError("label matchers must be an object of label: value")
    clean: dict[str, str] = {}
    for label, value in matchers.items():
        if not isinstance(label, str) or not label or not isinstance(value, str):
            raise MatcherError(f"label matcher {label!r}: label and value must be text")
        if value.startswith("~"):
            try:
                _pattern(value[1:])
            except re.error as exc:
                raise MatcherError(
                    f"label matcher {label!r}: bad regular expression: {exc}"
                ) from exc
        clean[label] = value
    return clean


def matches(matchers: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    for label, wanted in matchers.items():
        value = labels.get(label, "")
        if wanted.startswith("~"):
            if _pattern(wanted[1:]).fullmatch(value) is None:
                return False
        elif value != wanted:
            return False
    return True
