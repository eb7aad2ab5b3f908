"""Importing and exporting important information systems (重要信息系统).

The required backup capability is written "fault=4;disaster=5;major_disaster=6" (scenario
by code or by its Chinese or English name); an empty cell means the profile's default for
the system's category, "none" means no requirement at all.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator
from typing import Any

from django.utils.translation import gettext as _

from branchops.cmdb import models as m
from branchops.cmdb.capability import default_for, profile
from branchops.cmdb.importing.engine import Importer, Plan, Row
from branchops.cmdb.importing.kinds import SYSTEMS
from branchops.cmdb.importing.values import CellError, fold, split_list
from branchops.cmdb.scoping import visible
from branchops.core.models import User

NO_REQUIREMENT = "none"
_NONE_SPELLINGS = frozenset({"none", "无", "-", "n/a"})
_PAIR = re.compile(r"^(?P<scenario>[^=:\uff1a\uff1d]+)[=:\uff1a\uff1d]\s*(?P<level>\S+)$")


def parse_capability(text: str) -> dict[str, int]:
    """``"fault=4;disaster=5"`` -> ``{"fault": 4, "disaster": 5}``; CellError when malformed.

    Unknown scenarios and levels are left to the model's own validation.
    """
    if fold(text) in _NONE_SPELLINGS:
        return {}
    names: dict[str, str] = {}
    for code, scenario in profile().scenarios.items():
        for name in (code, scenario.name, scenario.name_en):
            names[fold(name)] = code
    result: dict[str, int] = {}
    for item in split_list(text.replace(",", ";").replace("\uff0c", ";")):
        match = _PAIR.match(item)
        if match is None or not match["level"].isdigit():
            raise CellError(_("Write the levels as scenario=level pairs, e.g. fault=4;disaster=5."))
        written = match["scenario"].strip()
        result[names.get(fold(written), written)] = int(match["level"])
    return result


def format_capability(value: dict[str, Any]) -> str:
    if not value:
        return NO_REQUIREMENT
    order = list(profile().scenarios)
    keys = sorted(value, key=lambda k: (order.index(k) if k in order else len(order), k))
    return ";".join(f"{k}={value[k]}" for k in keys)


class SystemImporter(Importer[m.InformationSystem]):
    kind = SYSTEMS
    model = m.InformationSystem
    rule_columns = frozenset({"category", "required_capability"})

    def preload(self) -> None:
        self.systems = {s.code: s for s in m.InformationSystem.objects.all()}

    def key_of(self, row: Row) -> Hashable | None:
        code: str | None = row.parse("code")
        return code

    def existing(self, key: Hashable) -> m.InformationSystem | None:
        return self.systems.get(str(key))

    def resolve(self, row: Row, plan: Plan[m.InformationSystem]) -> None:
        system = plan.obj
        if not row.has("required_capability"):
            if plan.original is None:
                system.required_capability = default_for(system.category or "")
            return
        text = row.parse("required_capability")
        if not text:
            system.required_capability = default_for(system.category or "")
            return
        try:
            system.required_capability = parse_capability(text)
        except CellError as exc:
            row.error("required_capability", exc.message)


def export_rows(user: User) -> Iterator[dict[str, Any]]:
    for system in visible(user, m.InformationSystem).order_by("code"):
        yield {
            "code": system.code,
            "name": system.name,
            "name_en": system.name_en,
            "category": system.category,
            "owner": system.owner,
            "required_capability": format_capability(system.required_capability or {}),
            "description": system.description,
        }
