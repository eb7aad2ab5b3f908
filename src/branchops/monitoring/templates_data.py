"""The check templates shipped in profiles/check_templates.yaml, validated on load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from branchops.core.profiles import load_yaml_model
from branchops.monitoring.params import ParamsError, parse

SHIPPED = Path(__file__).resolve().parent / "profiles" / "check_templates.yaml"


class TemplateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    kind: str
    role: str | None = None  # DeviceRole slug
    link_kind: str | None = None
    interval_s: int = Field(60, ge=5, le=86_400)
    timeout_s: float = Field(5.0, gt=0, le=300)
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _target_and_params(self) -> TemplateSpec:
        if (self.role is None) == (self.link_kind is None):
            raise ValueError("give either role (devices) or link_kind (links)")
        try:
            parse(self.kind, self.params)
        except ParamsError as exc:
            raise ValueError(f"parameters: {exc.fields}") from exc
        return self


class TemplateFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    templates: list[TemplateSpec]


def shipped() -> list[TemplateSpec]:
    return load_yaml_model(SHIPPED, TemplateFile).templates
