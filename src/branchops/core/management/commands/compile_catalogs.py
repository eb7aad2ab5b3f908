"""Compile the .po message catalogs to .mo with polib (no GNU gettext needed at set-up)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# The message ids are English. An English catalog may leave msgstr empty: gettext then shows
# the id itself, which is the English text. Every other catalog must be complete.
SOURCE_LANGUAGE = "en"


class Command(BaseCommand):
    help = (
        "Compile every .po catalog under LOCALE_PATHS; fail on fuzzy entries, and on "
        "untranslated ones in any language but the source language (English)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--allow-incomplete", action="store_true", help="compile even when entries are missing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        problems = []
        count = 0
        for locale_dir in settings.LOCALE_PATHS:
            for po_path in sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po")):
                language = po_path.parent.parent.name
                catalog = polib.pofile(str(po_path))
                missing = (
                    []
                    if language == SOURCE_LANGUAGE
                    else [e.msgid for e in catalog.untranslated_entries()]
                )
                fuzzy = [e.msgid for e in catalog.fuzzy_entries()]
                if missing or fuzzy:
                    problems.append(
                        f"{po_path}: {len(missing)} untranslated, {len(fuzzy)} fuzzy "
                        f"(first: {(missing + fuzzy)[0]!r})"
                    )
                catalog.save_as_mofile(str(po_path.with_suffix(".mo")))
                count += 1
        if problems and not options["allow_incomplete"]:
            raise CommandError("incomplete catalogs:\n" + "\n".join(problems))
        self.stdout.write(f"compiled {count} catalog(s)")
