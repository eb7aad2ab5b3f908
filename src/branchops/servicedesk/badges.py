"""The coloured label of a choice (a status, a grade) on the service desk's pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import TextChoices
from django.utils.html import format_html
from django.utils.safestring import SafeString

FALLBACK = "bg-secondary-lt"


def choice_badge(
    choices: type[TextChoices], value: str, css: Mapping[Any, str], attribute: str
) -> SafeString:
    """``<span class="badge …" data-bo-<attribute>="value">label</span>``; an unknown value
    is shown as it is, in grey."""
    label = choices(value).label if value in choices.values else value
    return format_html(
        '<span class="badge {}" data-bo-{}="{}">{}</span>',
        css.get(value, FALLBACK) or FALLBACK,
        attribute,
        value,
        label,
    )
