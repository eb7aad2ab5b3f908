"""Editable data profiles (YAML) shipped with the product, validated on load.

A profile named ``x`` is read from ``$BRANCHOPS_HOME/profiles/x.yaml`` when the user has put
one there, otherwise from the copy shipped in the owning app. Errors name the file and,
where YAML knows it, the line.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TypeVar

import yaml
from django.conf import settings
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ProfileError(ValueError):
    """A profile file cannot be read or does not match its schema."""


def profile_path(name: str, shipped_dir: Path) -> Path:
    override = Path(settings.HOME) / "profiles" / f"{name}.yaml"
    return override if override.exists() else shipped_dir / f"{name}.yaml"


def load_yaml_model(path: Path, schema: type[M]) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProfileError(f"{path}{where}: not valid YAML: {problem}") from exc
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        line = _line_of(text, first["loc"])
        raise ProfileError(f"{path}{f':{line}' if line else ''}: {where}: {first['msg']}") from exc


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """The line of the deepest YAML node on the error's path (pydantic keeps no lines)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for step in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if str(k.value) == str(step)), None)
            key = next((k for k, v in node.value if str(k.value) == str(step)), None)
            if match is None or key is None:
                break
            line, node = key.start_mark.line + 1, match
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            if step >= len(node.value):
                break
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            break
    return line


@functools.cache
def _cached(name: str, shipped_dir: Path, schema: type[BaseModel]) -> BaseModel:
    return load_yaml_model(profile_path(name, shipped_dir), schema)


def cached(name: str, shipped_dir: Path, schema: type[M]) -> M:
    """The profile, read and validated once per process."""
    model = _cached(name, shipped_dir, schema)
    if not isinstance(model, schema):
        raise TypeError(f"profile {name} was loaded with another schema")
    return model
