"""Shared by the alert tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _channels_speak_english(request: pytest.FixtureRequest) -> Iterator[None]:
    """The transports' tests read the words of messages ("Firing", "Resolved") in English;
    the product's default language is zh-hans."""
    if request.module.__name__.rpartition(".")[2].startswith("test_transports_"):
        with translation.override("en"):
            yield
    else:
        yield
