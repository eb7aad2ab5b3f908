"""The import pipeline shared by every kind: validate every row, then write all or nothing.

Speed comes from never asking the database per row: an importer preloads what its kind
refers to (sites by code, roles, models, existing objects by natural key, serials) into
dicts, checks fields with the model fields' own ``clean()`` (validators, choices, lengths)
and uniqueness in memory, then writes with ``bulk_create`` / ``bulk_update`` and one
``audit.record_many`` in a single transaction. The model rules (``Site.clean``,
``Link.clean``, the device dependency-loop check, ...) run on the preloaded objects.

References to objects of the same kind (a branch's support centre, a device's upstream
device, a VPN tunnel's internet line) may point at rows further down the file, so they are
resolved after every row has been read; a reference to a row that creates an object is
written once that object exists.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _
from openpyxl.utils.cell import get_column_letter

from branchops.cmdb import scoping
from branchops.cmdb.importing.headers import HeaderMap
from branchops.cmdb.importing.report import HEADER_ROW, ImportReport
from branchops.cmdb.importing.spec import Column, Kind
from branchops.cmdb.importing.values import Cell, CellError, fold
from branchops.core import audit
from branchops.core.choices import AuditAction, ChangeSource
from branchops.core.models import User
from branchops.core.permissions import Action, can, is_site_scoped

M = TypeVar("M", bound=models.Model)
T = TypeVar("T")
Progress = Callable[[int, int], None]

BATCH = 500
PROGRESS_EVERY = 250
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


class Ambiguous(LookupError):
    """A name matches more than one object."""


class Index(Generic[T]):
    """Objects by every name a person may type for them: the exact spelling first, then
    ignoring case and width. A folded name shared by two objects is ambiguous, never a
    guess. ``scope`` keeps names apart that are unique only within something (a site)."""

    def __init__(self) -> None:
        self.exact: dict[tuple[Hashable, str], T | None] = {}
        self.folded: dict[tuple[Hashable, str], T | None] = {}

    def add(self, name: str, obj: T, scope: Hashable = None) -> None:
        if not name:
            return
        for table, key in ((self.exact, (scope, name)), (self.folded, (scope, fold(name)))):
            if key in table and table[key] is not obj:
                table[key] = None  # two objects answer to this name
            else:
                table[key] = obj

    def get(self, name: str, scope: Hashable = None) -> T | None:
        """The object, None when unknown; Ambiguous when the name fits several."""
        if (scope, name) in self.exact:
            found = self.exact[(scope, name)]
            if found is None:
                raise Ambiguous(name)
            return found
        key = (scope, fold(name))
        if key in self.folded and self.folded[key] is None:
            raise Ambiguous(name)
        return self.folded.get(key)


class Row:
    """One data row: its cells by column code, and where its problems are reported."""

    def __init__(self, number: int, cells: dict[str, Cell], importer: Importer[Any]) -> None:
        self.number = number
        self.cells = cells
        self.importer = importer
        self.failed = False
        self.bad: set[str] = set()  # columns already reported
        self._parsed: dict[str, Any] = {}

    def has(self, code: str) -> bool:
        return code in self.cells

    def error(self, code: str, message: str) -> None:
        self.failed = True
        self.bad.add(code)
        column = self.importer.headers.header(code) if code else ""
        self.importer.report.add(self.number, column, message)

    def parse(self, code: str) -> Any:
        """The cell parsed by its column's parser; None when blank, absent or invalid
        (reported once, however often it is asked for)."""
        if code in self._parsed:
            return self._parsed[code]
        value = None
        if code in self.cells and code not in self.bad:
            column = self.importer.kind.column(code)
            try:
                value = column.parse(self.cells[code])
            except CellError as exc:
                self.error(code, exc.message)
            else:
                if value is None and column.required:
                    self.error(code, _("A value is required."))
        self._parsed[code] = value
        return value


@dataclass(eq=False)
class Plan(Generic[M]):
    """What one row will do to one object."""

    line: Row
    key: Hashable
    obj: M
    original: M | None = None  # a copy of the stored object, before the row changed it
    changed: set[str] = field(default_factory=set)  # field names
    pending: dict[str, Plan[Any]] = field(default_factory=dict)  # FK to a row's new object
    m2m: dict[str, set[int]] = field(default_factory=dict)
    m2m_before: dict[str, set[int]] = field(default_factory=dict)

    @property
    def row(self) -> int:
        return self.line.number

    @property
    def action(self) -> str:
        if self.original is None:
            return CREATED
        if self.changed or self.pending:
            return UPDATED
        if any(ids != self.m2m_before.get(name) for name, ids in self.m2m.items()):
            return UPDATED
        return UNCHANGED


@dataclass(eq=False)
class Ref:
    """A reference to an object of the same kind, resolved once every row is read."""

    plan: Plan[Any]
    code: str  # the column
    field: str  # the model's foreign key
    text: str


class Scope:
    """The actor's rights for one kind, worked out once: ``scoping.require_change`` per
    row would query the liaison's sites for every row. Same rules, same messages."""

    def __init__(self, user: User, model: type[models.Model]) -> None:
        self.area = scoping.AREA[model]
        self.may_add = can(user, Action.ADD, self.area)
        self.may_change = can(user, Action.CHANGE, self.area)
        self.scoped = is_site_scoped(user, self.area)
        self.ownable = model in scoping.OWNER_PATHS
        self.own = scoping.own_site_ids(user) if self.scoped else set()

    def refusal(self, obj: models.Model, before: models.Model | None) -> str | None:
        """Why the actor may not write ``obj`` (``before``: as stored), or None."""
        if before is None and not self.may_add:
            return _("Your role may not add this kind of object.")
        if before is not None and not self.may_change:
            return _("Your role may not change this kind of object.")
        if not self.scoped:
            return None
        if not self.ownable:
            return _("Branch liaisons may not change this kind of object.")
        for version in (before, obj):  # as it is, and as it would be
            if version is not None:
                sites = scoping.site_ids_of(version)
                if not sites or not sites <= self.own:
                    return _("You may only change objects at your own sites.")
        return None


class Importer(Generic[M]):
    """Validates the rows of one kind, then writes them. A subclass preloads what its rows
    refer to, resolves the columns that are references and applies the model's rules."""

    kind: ClassVar[Kind]
    model: type[M]
    # The columns the model's rules (check()) read: a row with a problem in one of these is
    # not checked against the rules, as they would only report the same problem again.
    rule_columns: ClassVar[frozenset[str]]

    def __init__(
        self,
        headers: HeaderMap,
        actor: User,
        report: ImportReport,
        bad_cells: dict[tuple[int, int], str] | None = None,
    ) -> None:
        self.headers = headers
        self.actor = actor
        self.report = report
        self.scope = Scope(actor, self.model)
        self.plans: dict[Hashable, Plan[M]] = {}  # by natural key, in file order
        self.refs: list[Ref] = []
        self.fields = [f for f in self.model._meta.concrete_fields if not f.primary_key]
        self.missing_required = [
            c.code for c in self.kind.required if c.code not in headers.positions
        ]
        self.needed: set[str] = set()  # required columns that rows creating objects lack
        self.bad_cells: dict[int, list[tuple[int, str]]] = {}
        for (number, position), message in (bad_cells or {}).items():
            self.bad_cells.setdefault(number, []).append((position, message))

    # ---- what a kind provides --------------------------------------------------------

    def preload(self) -> None:
        """Read everything the rows may refer to, in a few queries."""

    def key_of(self, row: Row) -> Hashable | None:
        """The row's natural key, or None (reported) when it has none."""
        raise NotImplementedError

    def existing(self, key: Hashable) -> M | None:
        raise NotImplementedError

    def new(self, row: Row, key: Hashable) -> M:
        del row, key
        return self.model()

    def resolve(self, row: Row, plan: Plan[M]) -> None:
        """Set the fields that need lookups (references, lists, defaults) on ``plan.obj``."""

    def check(self, row: Row, plan: Plan[M]) -> None:
        """The model's rules for one object; by default its own ``clean()``."""
        self.clean_model(row, plan.obj)

    def target_in_file(self, ref: Ref) -> Plan[M] | None:
        raise NotImplementedError

    def target_in_db(self, ref: Ref) -> M | None:
        """The stored object a reference names; may raise Ambiguous."""
        raise NotImplementedError

    def check_ref(self, ref: Ref, target: M) -> None:
        """Rules about a resolved same-kind reference."""

    def check_all(self) -> None:
        """Rules across rows and the database: unique values, dependency loops."""

    def before_write(self, updates: list[Plan[M]]) -> None:
        """Before anything is saved (e.g. free unique values that rows hand on)."""

    def written(self, plans: list[Plan[M]]) -> None:
        """After the objects are saved: many-to-many values."""

    # ---- validating --------------------------------------------------------------------

    def refused_outright(self) -> str | None:
        if not self.scope.may_add and not self.scope.may_change:
            return _("Your role may not add or change %(kind)s.") % {"kind": self.kind.label}
        return None

    def validate(self, rows: list[tuple[int, list[Cell]]], progress: Progress | None) -> None:
        self.preload()
        total = len(rows)
        for done, (number, values) in enumerate(rows, start=1):
            self.validate_row(number, values)
            if progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
                progress(done, total)
        self.link_refs()
        self.check_all()
        for column in self.kind.columns:
            if column.code in self.needed:
                self.report.add(
                    HEADER_ROW,
                    column.header(self.headers.language),
                    _("This required column is missing (rows that create new objects need it)."),
                )
        for plan in self.plans.values():
            self.note_changes(plan)

    def cells_of(self, number: int, values: list[Cell]) -> dict[str, Cell]:
        """The row's cells by column code; a value under no header is reported."""
        cells = {
            code: values[pos] if pos < len(values) else None
            for code, pos in self.headers.positions.items()
        }
        for position in [*self.headers.unnamed, *range(self.headers.width, len(values))]:
            if position < len(values) and _filled(values[position]):
                self.report.add(
                    number,
                    get_column_letter(position + 1),
                    _("This cell has a value but its column has no header."),
                )
        return cells

    def validate_row(self, number: int, values: list[Cell]) -> None:
        row = Row(number, self.cells_of(number, values), self)
        for position, message in self.bad_cells.get(number, ()):
            code = self.headers.code_at(position)
            if code is not None:
                row.error(code, message)
        key = self.key_of(row)
        if key is not None and key in self.plans:
            code = self.kind.key[-1]
            row.error(
                code,
                _("The same %(what)s is already on row %(row)d.")
                % {"what": self.headers.header(code), "row": self.plans[key].row},
            )
            return
        original = self.existing(key) if key is not None else None
        if original is None and self.missing_required:
            # Creating needs the required columns; updating does not (a partial file).
            self.needed.update(self.missing_required)
            row.failed = True
            row.bad.update(self.missing_required)  # reported once, on row 1
        obj = original if original is not None else self.new(row, key)
        plan: Plan[M] = Plan(line=row, key=key, obj=obj)
        if original is not None:
            plan.original = copy.copy(original)
        self.apply_plain(row, plan)
        self.resolve(row, plan)
        if self.rule_columns.isdisjoint(row.bad):  # rules on bad values would only mislead
            self.check(row, plan)
        if key is None:
            return
        refusal = self.scope.refusal(plan.obj, plan.original)
        if refusal is not None:
            row.error(self.kind.key[0], refusal)
        self.plans[key] = plan

    def apply_plain(self, row: Row, plan: Plan[M]) -> None:
        """Columns that map straight onto a field: parse, then the field's own clean()."""
        for code in row.cells:
            column = self.kind.column(code)
            if column.field is not None:
                value = row.parse(code)
                if code not in row.bad:
                    self.set_field(row, plan.obj, column, value)

    def set_field(self, row: Row, obj: M, column: Column, value: Any) -> None:
        model_field = obj._meta.get_field(column.field or column.code)
        if not isinstance(model_field, models.Field):
            raise TypeError(f"{column.code} does not name a concrete field")
        if value is None:
            value = blank_value(model_field)
        try:
            value = model_field.clean(value, obj)
        except ValidationError as exc:
            row.error(column.code, " ".join(exc.messages))
            return
        setattr(obj, model_field.attname, value)

    def clean_model(self, row: Row, obj: M) -> None:
        """``obj.clean()``, each message reported under the column of its field."""
        try:
            obj.clean()
        except ValidationError as exc:
            for name, messages in _by_field(exc).items():
                row.error(self.column_of_field(name), " ".join(messages))

    def column_of_field(self, name: str) -> str:
        for column in self.kind.columns:
            if name in (column.field, column.code) and self.headers.has(column.code):
                return column.code
        return self.kind.key[0]

    def defer(self, plan: Plan[M], code: str, field_name: str) -> None:
        """Resolve this reference column once every row has been read."""
        if not plan.line.has(code):
            return
        text = plan.line.parse(code)
        if text:
            self.refs.append(Ref(plan, code, field_name, text))
        else:
            setattr(plan.obj, field_name, None)

    def link_refs(self) -> None:
        for ref in self.refs:
            if ref.plan.key is None:
                continue  # the row cannot be identified; that is reported already
            line = ref.plan.line
            in_file = self.target_in_file(ref)
            try:
                target = in_file.obj if in_file is not None else self.target_in_db(ref)
            except Ambiguous:
                line.error(
                    ref.code,
                    _("%(name)s matches more than one; use its code.") % {"name": ref.text},
                )
                continue
            if target is None:
                line.error(ref.code, _("%(name)s is not known.") % {"name": ref.text})
                continue
            if in_file is not None and in_file.original is None:
                # The target is created by this import: point at it once it exists.
                ref.plan.pending[ref.field] = in_file
                setattr(ref.plan.obj, ref.field, None)
            else:
                setattr(ref.plan.obj, ref.field, target)
            self.check_ref(ref, target)

    def note_changes(self, plan: Plan[M]) -> None:
        if plan.original is not None:
            plan.changed = {
                f.name
                for f in self.fields
                if getattr(plan.obj, f.attname) != getattr(plan.original, f.attname)
            }

    def valid_plans(self) -> list[Plan[M]]:
        return [p for p in self.plans.values() if not p.line.failed]

    def count(self) -> None:
        for plan in self.valid_plans():
            setattr(self.report, plan.action, getattr(self.report, plan.action) + 1)

    # ---- writing -------------------------------------------------------------------------

    def write(self) -> None:
        """Save every planned change and its audit rows. The caller holds the transaction."""
        plans = self.valid_plans()
        creates = [p for p in plans if p.action == CREATED]
        updates = [p for p in plans if p.action == UPDATED]
        # Before-images first: they read many-to-many values that the writes change.
        befores = [audit.snapshot(p.original) for p in updates if p.original is not None]
        self.before_write(updates)
        manager = self.model._default_manager
        self.create_in_order(creates)
        late: dict[str, list[M]] = {}
        for plan in [*creates, *updates]:
            for name, target in plan.pending.items():
                setattr(plan.obj, name, target.obj)
                if plan.original is None:
                    late.setdefault(name, []).append(plan.obj)
                else:
                    plan.changed.add(name)
        for name, objs in late.items():
            manager.bulk_update(objs, [name], batch_size=BATCH)
        self.save_updates([p for p in updates if p.changed])
        self.written([*creates, *updates])
        changes: list[tuple[AuditAction, models.Model, dict[str, Any] | None, dict[str, Any]]]
        changes = [(AuditAction.CREATE, p.obj, None, audit.snapshot(p.obj)) for p in creates]
        changes += [
            (AuditAction.UPDATE, p.obj, before, audit.snapshot(p.obj))
            for p, before in zip(updates, befores, strict=True)
        ]
        audit.record_many(actor=self.actor, source=ChangeSource.IMPORT, changes=changes)

    def save_updates(self, updates: list[Plan[M]]) -> None:
        """Rows that set the same fields to the same values (a firmware upgrade across
        every firewall) become one ``UPDATE ... WHERE id IN``; the rest ``bulk_update``."""
        manager = self.model._default_manager
        attname = {f.name: f.attname for f in self.fields}
        same: dict[tuple[tuple[str, ...], tuple[Any, ...]], list[M]] = {}
        for plan in updates:
            names = tuple(sorted(plan.changed))
            values = tuple(getattr(plan.obj, attname[n]) for n in names)
            try:
                same.setdefault((names, values), []).append(plan.obj)
            except TypeError:  # an unhashable value (JSON): no grouping
                same[(names, (id(plan),))] = [plan.obj]
        singles: dict[tuple[str, ...], list[M]] = {}
        for (names, values), objs in same.items():
            if len(objs) == 1:
                singles.setdefault(names, []).extend(objs)
                continue
            assignments = {attname[n]: v for n, v in zip(names, values, strict=True)}
            for start in range(0, len(objs), BATCH):
                manager.filter(pk__in=[o.pk for o in objs[start : start + BATCH]]).update(
                    **assignments
                )
        for names, objs in singles.items():
            manager.bulk_update(objs, list(names), batch_size=BATCH)

    def create_in_order(self, creates: list[Plan[M]]) -> None:
        """Create the objects that others in the file point at first, so that a reference
        is set on insert; only objects pointing at each other need an update afterwards."""
        remaining = creates
        while remaining:
            ready: list[Plan[M]] = []
            waiting: list[Plan[M]] = []
            for plan in remaining:
                saved = all(t is plan or t.obj.pk is not None for t in plan.pending.values())
                (ready if saved else waiting).append(plan)
            if not ready:  # a ring of new objects: insert them all, point them afterwards
                ready, waiting = waiting, []
            for plan in ready:
                for name, target in list(plan.pending.items()):
                    if target.obj.pk is not None:
                        setattr(plan.obj, name, target.obj)
                        del plan.pending[name]
            self.model._default_manager.bulk_create([p.obj for p in ready], batch_size=BATCH)
            remaining = waiting


def blank_value(model_field: Any) -> Any:
    """What an empty cell means for a field: its default, else NULL, else empty text."""
    if model_field.has_default():
        return model_field.get_default()
    return None if model_field.null else ""


def lookup(row: Row, code: str, index: Index[T], text: str, scope: Hashable = None) -> T | None:
    """``index.get`` that reports unknown and ambiguous names under the row's column."""
    try:
        found = index.get(text, scope)
    except Ambiguous:
        row.error(code, _("%(name)s matches more than one; use its code.") % {"name": text})
        return None
    if found is None:
        row.error(code, _("%(name)s is not known.") % {"name": text})
    return found


def _by_field(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            name: [str(m) for e in errs for m in e.messages]
            for name, errs in exc.error_dict.items()
        }
    return {"": [str(m) for m in exc.messages]}


def _filled(value: Cell) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())
