"""Shared by the alert tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _channels_speak_english(request: pytest.FixtureRequest) -> Iterator[None]:
    """The transports' and receivers' tests read the words of messages ("Firing",
    "Interface down") in English; the product's default language is zh-hans."""
    name = request.module.__name__.rpartition(".")[2]
    if name.startswith(("test_transports_", "test_receivers_")):
        with translation.override("en"):
            yield
    else:
        yield
