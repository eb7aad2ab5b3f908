"""SNMP device profiles: the vendor OIDs a device of a platform answers, as YAML data.

Standard MIBs (sysUpTime, IF-MIB, HOST-RESOURCES-MIB) are built into the SNMP collector;
a profile adds what only the vendor's private MIB has: CPU and memory where the standard
table is missing, session counts, VPN tunnel tables. Users add a profile by dropping a YAML
file into ``$BRANCHOPS_HOME/profiles/snmp/`` (same name replaces a shipped one); every file
is validated on load and an error names the file and the line.

The lab serves exactly these OIDs, so a profile is also the simulated device's MIB.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from branchops.core.profiles import ProfileError, load_yaml_model

SHIPPED_DIR = Path(__file__).resolve().parent / "profiles" / "snmp"
OID_RE = re.compile(r"^1(\.\d+)+$")
METRIC_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _oid(value: str) -> str:
    value = value.strip().lstrip(".")
    if not OID_RE.match(value):
        raise ValueError(f"not a numeric OID: {value!r}")
    return value


class Scalar(_Strict):
    """One value per device (``.0`` instance), e.g. the CPU load."""

    metric: str
    oid: str
    kind: Literal["gauge", "counter"] = "gauge"
    scale: float = 1.0  # e.g. 0.01 turns percent into a ratio
    help: str = ""
    # Lab: how the simulated agent makes this value (see branchops.lab).
    simulate: str = Field("", description="e.g. 'percent 5..40', 'counter 1000/s', 'const 3'")

    _check_oid = field_validator("oid")(classmethod(lambda cls, v: _oid(v)))

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if not METRIC_RE.match(value):
            raise ValueError(f"not a Prometheus metric name: {value!r}")
        return value


class Column(_Strict):
    """One column of a vendor table: a label (the row's name) or a measurement."""

    oid: str
    label: str | None = None  # this column names the row: becomes this label
    metric: str | None = None  # this column is a value: becomes this metric
    kind: Literal["gauge", "counter"] = "gauge"
    scale: float = 1.0
    states: dict[int, float] | None = None  # enumerations mapped to values, e.g. {1: 0, 2: 1}
    help: str = ""
    simulate: str = ""

    _check_oid = field_validator("oid")(classmethod(lambda cls, v: _oid(v)))

    @model_validator(mode="after")
    def _label_or_metric(self) -> Column:
        if (self.label is None) == (self.metric is None):
            raise ValueError("a column has either 'label' or 'metric'")
        if self.label is not None and not LABEL_RE.match(self.label):
            raise ValueError(f"not a label name: {self.label!r}")
        if self.metric is not None and not METRIC_RE.match(self.metric):
            raise ValueError(f"not a Prometheus metric name: {self.metric!r}")
        return self


class Table(_Strict):
    """A vendor table walked with GETBULK; ``role`` says what BranchOps uses it for."""

    name: str
    role: Literal["vpn_tunnels", "other"] = "other"
    columns: list[Column] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_label(self) -> Table:
        labels = [c for c in self.columns if c.label]
        if len(labels) != 1:
            raise ValueError(f"table {self.name}: exactly one column must be the row's label")
        return self


class Match(_Strict):
    platforms: list[str] = Field(default_factory=list)  # Platform slugs
    sys_object_id_prefixes: list[str] = Field(default_factory=list)


class DeviceProfile(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    verified: bool = Field(False, description="OIDs checked against the vendor's MIB files.")
    match: Match = Field(default_factory=Match)
    scalars: list[Scalar] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)

    def table_for(self, role: str) -> Table | None:
        return next((t for t in self.tables if t.role == role), None)


def load_all(extra_dir: Path | None = None) -> dict[str, DeviceProfile]:
    """Every shipped profile, then the user's (which replace shipped ones of the same name)."""
    user_dir = extra_dir or Path(settings.HOME) / "profiles" / "snmp"
    profiles: dict[str, DeviceProfile] = {}
    for folder in (SHIPPED_DIR, user_dir):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")):
            profile = load_yaml_model(path, DeviceProfile)
            if profile.name != path.stem:
                raise ProfileError(f"{path}: name {profile.name!r} must match the file name")
            profiles[profile.name] = profile
    return profiles


def for_platform(
    profiles: dict[str, DeviceProfile], platform_slug: str | None
) -> DeviceProfile | None:
    if not platform_slug:
        return None
    return next((p for p in profiles.values() if platform_slug in p.match.platforms), None)
