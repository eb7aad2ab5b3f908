"""Backup capability levels: the editable profile and validation of a system's requirement."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from pydantic import BaseModel, Field

from branchops.core.profiles import cached

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"


class Scenario(BaseModel):
    name: str
    name_en: str


class Level(BaseModel):
    rto: str
    rpo: str


class CapabilityProfile(BaseModel):
    verified: bool
    source: str
    scenarios: dict[str, Scenario] = Field(min_length=1)
    levels: dict[int, Level] = Field(min_length=1)
    required_by_category: dict[str, dict[str, int]]


def profile() -> CapabilityProfile:
    return cached("backup_capability", PROFILE_DIR, CapabilityProfile)


def default_for(category: str) -> dict[str, int]:
    return dict(profile().required_by_category.get(category, {}))


def validate_required_capability(value: object) -> None:
    """Raise a field error unless ``value`` maps known scenarios to known levels."""
    if not isinstance(value, dict):
        raise ValidationError(
            {"required_capability": _('Give an object of scenario to level, e.g. {"fault": 4}.')}
        )
    prof = profile()
    problems = []
    for scenario, level in value.items():
        if scenario not in prof.scenarios:
            problems.append(
                _("unknown scenario %(s)s (known: %(known)s)")
                % {"s": scenario, "known": ", ".join(prof.scenarios)}
            )
        elif not isinstance(level, int) or isinstance(level, bool) or level not in prof.levels:
            problems.append(
                _("level for %(s)s must be one of %(levels)s")
                % {"s": scenario, "levels": ", ".join(str(n) for n in sorted(prof.levels))}
            )
    if problems:
        raise ValidationError({"required_capability": "; ".join(problems)})
