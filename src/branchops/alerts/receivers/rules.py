"""Parse rules as data: one YAML file per vendor maps syslog lines and trap OIDs to events.

Shipped files live in ``branchops/alerts/parse_rules/``; an operator adds or overrides one
by dropping a YAML file into another folder passed to :func:`load_rules` (the engine passes
``$BRANCHOPS_HOME/parse_rules``); a file there with the same name replaces the shipped one.
Every file is validated on load and an error names the file and the rule. The format is
described in docs/syslog-and-traps.md.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from branchops.alerts.receivers.events import FIRING, INFO, RESOLVED
from branchops.core.profiles import ProfileError, load_yaml_model

SHIPPED_DIR: Final = Path(__file__).resolve().parent.parent / "parse_rules"
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_OID = re.compile(r"^1(?:\.\d+)+$")
_POSITION = re.compile(r"^#([1-9]\d?)$")

# Status and severity of each event name unless a rule says otherwise.
DEFAULTS: Final[dict[str, tuple[str, int | None]]] = {
    "vpn-down": (FIRING, 2),
    "vpn-up": (RESOLVED, None),
    "attack": (FIRING, 2),
    "admin-login": (INFO, None),
    "admin-login-failed": (FIRING, 3),
    "config-change": (INFO, None),
    "link-down": (FIRING, 2),
    "link-up": (RESOLVED, None),
    "cold-start": (INFO, None),
    "warm-start": (INFO, None),
    "auth-failure": (FIRING, 3),
}
# The label naming what an event is about, in order of preference: its title and key suffix.
SUBJECT_LABELS: Final = ("tunnel", "interface", "peer", "attack", "user", "src_ip")
BUILTIN_LABELS: Final = frozenset(("hostname", "app", "vendor", "facility"))


class ParseRuleError(ValueError):
    """A parse rule file cannot be used; the message names the file and the rule."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sample(_Strict):
    """A message the rule must recognise: the shipped samples are run by the tests."""

    text: str
    origin: Literal["documented", "approximation"]
    ref: str = ""  # where the format is documented
    labels: dict[str, str] = Field(default_factory=dict)  # labels the rule must extract


class _EventRule(_Strict):
    id: str
    event: str
    status: Literal["firing", "resolved", "info"] | None = None
    severity: int | None = Field(None, ge=1, le=3)
    key: str = ""  # template over labels, e.g. "vpn:{tunnel}"

    @field_validator("id", "event")
    @classmethod
    def _kebab(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"use kebab-case (a-z, 0-9, -): {value!r}")
        return value


class SyslogRule(_EventRule):
    pattern: str  # searched in the line after PRI; named groups become labels
    # label -> name in the line's key=value pairs (FortiOS, Huawei "(SrcIP=..., DstIP=...)"),
    # for fields whose order the vendor does not fix
    fields: dict[str, str] = Field(default_factory=dict)
    samples: list[Sample] = Field(default_factory=list)


class TrapRule(_EventRule):
    oid: str  # the notification's snmpTrapOID
    # label -> "#N" (the Nth variable binding after sysUpTime and snmpTrapOID, from 1) or
    # an OID prefix (the first binding whose name starts with it)
    labels: dict[str, str] = Field(default_factory=dict)
    origin: Literal["documented", "approximation"] = "documented"
    ref: str = ""

    @field_validator("oid")
    @classmethod
    def _numeric(cls, value: str) -> str:
        value = value.strip().lstrip(".")
        if not _OID.match(value):
            raise ValueError(f"not a numeric OID: {value!r}")
        return value


class VendorFile(_Strict):
    vendor: str
    description: str = ""
    references: list[str] = Field(default_factory=list)
    rules: list[SyslogRule] = Field(default_factory=list)
    traps: list[TrapRule] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a rule decided: the event name, status, severity and key template."""

    rule: str
    vendor: str
    name: str
    status: str
    severity: int | None
    key: str


@dataclass(frozen=True, slots=True)
class CompiledSyslogRule:
    outcome: Outcome
    pattern: re.Pattern[str]
    fields: Mapping[str, str]

    def labels(self, found: re.Match[str], line: str) -> dict[str, str]:
        labels = {k: v for k, v in found.groupdict().items() if v}
        if self.fields:
            pairs = key_values(line)
            labels.update((label, pairs[k]) for label, k in self.fields.items() if pairs.get(k))
        return labels


# An unquoted value runs to a comma, semicolon or parenthesis (Huawei: "Reason=dpd timeout,")
# or to the next " name=" (FortiOS: "remip=1.2.3.4 locip=...").
_PAIR = re.compile(r'([A-Za-z_][\w.-]{0,63})=(?:"([^"]*)"|((?:(?! [A-Za-z_][\w.-]*=)[^,;)"])*))')


def key_values(line: str) -> dict[str, str]:
    """``key=value`` and ``key="quoted value"`` pairs of a line; the first of a name wins."""
    pairs: dict[str, str] = {}
    for match in _PAIR.finditer(line):
        pairs.setdefault(
            match.group(1), match.group(2) if match.group(2) is not None else match.group(3)
        )
    return pairs


@dataclass(frozen=True, slots=True)
class CompiledTrapRule:
    outcome: Outcome
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class RuleBook:
    """Every loaded rule: syslog rules in file then rule order, trap rules by OID."""

    syslog: tuple[CompiledSyslogRule, ...]
    traps: Mapping[str, CompiledTrapRule]
    files: tuple[Path, ...]

    def match(self, line: str) -> tuple[Outcome, dict[str, str]] | None:
        """The first rule whose pattern is found in ``line``, with the labels it extracted."""
        for rule in self.syslog:
            found = rule.pattern.search(line)
            if found:
                return rule.outcome, rule.labels(found, line)
        return None


def render_key(template: str, labels: Mapping[str, str], family: str) -> str:
    """The pairing key: the rule's template, or ``family:subject`` by default."""
    if template:
        return template.format_map(_Blank(labels))
    subject = subject_of(labels)
    return f"{family}:{subject}" if subject else family


def subject_of(labels: Mapping[str, str]) -> str:
    return next((labels[name] for name in SUBJECT_LABELS if labels.get(name)), "")


def family_of(name: str) -> str:
    """vpn-down and vpn-up pair as "vpn"; link-down/up as "if"."""
    base = re.sub(r"-(down|up|failed)$", "", name)
    return "if" if base == "link" else base


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def load_rules(*folders: Path, include_shipped: bool = True) -> RuleBook:
    """Rules from the shipped folder and then ``folders``; a later file of the same name
    replaces an earlier one, and missing folders are skipped."""
    chosen: dict[str, Path] = {}
    for folder in ((SHIPPED_DIR,) if include_shipped else ()) + folders:
        if folder.is_dir():
            chosen.update((path.name, path) for path in sorted(folder.glob("*.yaml")))
    syslog: list[CompiledSyslogRule] = []
    traps: dict[str, CompiledTrapRule] = {}
    for name in sorted(chosen):
        vendor_file = read_file(chosen[name])
        syslog.extend(_compile_syslog(chosen[name], vendor_file))
        traps.update(_compile_traps(chosen[name], vendor_file))
    return RuleBook(tuple(syslog), traps, tuple(chosen[name] for name in sorted(chosen)))


def read_file(path: Path) -> VendorFile:
    try:
        return load_yaml_model(path, VendorFile)
    except ProfileError as exc:
        raise ParseRuleError(str(exc)) from exc


def _outcome(path: Path, vendor: str, rule: _EventRule, fields: Iterable[str]) -> Outcome:
    def fail(problem: str) -> ParseRuleError:
        return ParseRuleError(f"{path}: rule {rule.id!r}: {problem}")

    status, severity = DEFAULTS.get(rule.event, (INFO, None))
    if rule.status is not None:
        status, severity = rule.status, rule.severity if rule.status == FIRING else None
    elif rule.severity is not None:
        severity = rule.severity
    if status == FIRING and severity is None:
        raise fail("a firing event needs a severity (1, 2 or 3)")
    if status != FIRING and rule.severity is not None:
        raise fail(f"severity is only for firing events, this one is {status}")
    known = set(fields) | BUILTIN_LABELS
    try:
        used = {f for _, f, _, _ in string.Formatter().parse(rule.key) if f is not None}
    except ValueError as exc:
        raise fail(f"key template is not valid: {exc}") from None
    if used - known:
        raise fail(f"key uses labels the rule never sets: {', '.join(sorted(used - known))}")
    return Outcome(rule.id, vendor, rule.event, status, severity, rule.key)


def _compile_syslog(path: Path, vendor_file: VendorFile) -> Iterable[CompiledSyslogRule]:
    seen: set[str] = set()
    for rule in vendor_file.rules:
        if rule.id in seen:
            raise ParseRuleError(f"{path}: rule {rule.id!r} is defined twice")
        seen.add(rule.id)
        try:
            pattern = re.compile(rule.pattern)
        except re.error as exc:
            raise ParseRuleError(
                f"{path}: rule {rule.id!r}: pattern does not compile: {exc}"
            ) from None
        labels = set(pattern.groupindex) | set(rule.fields)
        outcome = _outcome(path, vendor_file.vendor, rule, labels)
        yield CompiledSyslogRule(outcome, pattern, dict(rule.fields))


def _compile_traps(path: Path, vendor_file: VendorFile) -> dict[str, CompiledTrapRule]:
    compiled: dict[str, CompiledTrapRule] = {}
    for rule in vendor_file.traps:
        if rule.oid in compiled:
            raise ParseRuleError(f"{path}: rule {rule.id!r}: OID {rule.oid} is mapped twice")
        for label, where in rule.labels.items():
            if not (_POSITION.match(where) or _OID.match(where.lstrip("."))):
                raise ParseRuleError(
                    f"{path}: rule {rule.id!r}: label {label!r} must be '#N' or an OID prefix"
                )
        outcome = _outcome(path, vendor_file.vendor, rule, rule.labels)
        compiled[rule.oid] = CompiledTrapRule(outcome, dict(rule.labels))
    return compiled
