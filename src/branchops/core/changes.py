"""Creating, changing and deleting objects: permission, validation, audit, in one place.

The UI, the REST API and bulk import of every app come through here, so the rules hold the
same way whichever door a change uses. Each function runs in one transaction and writes an
audit row with the state before and after. Permissions and site scoping come from
``core.scoping``, where each app registers its models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.deletion import ProtectedError, RestrictedError
from django.utils.translation import gettext as _

from branchops.core import audit, scoping
from branchops.core.choices import AuditAction, ChangeSource
from branchops.core.errors import BulkValidationError, Conflict
from branchops.core.models import User
from branchops.core.permissions import Action

M = TypeVar("M", bound=models.Model)


def _m2m_names(model: type[models.Model]) -> set[str]:
    return {f.name for f in model._meta.many_to_many}


def validate(obj: models.Model) -> None:
    """Full model validation; field errors first so ``clean()`` never sees a dangling id."""
    obj.clean_fields()
    errors: dict[str, list[ValidationError]] = {}
    for step in (obj.clean, obj.validate_unique, obj.validate_constraints):
        try:
            step()
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def _set_m2m(obj: models.Model, m2m: Mapping[str, Iterable[int]]) -> None:
    for name, ids in m2m.items():
        wanted = set(ids)
        related = obj._meta.get_field(name).related_model
        if related is None or isinstance(related, str):
            raise TypeError(f"{name} is not a resolved many-to-many field")
        found = set(related._default_manager.filter(pk__in=wanted).values_list("pk", flat=True))
        missing = sorted(wanted - found)
        if missing:
            raise ValidationError(
                {name: _("Unknown id(s): %(ids)s") % {"ids": ", ".join(map(str, missing))}}
            )
        getattr(obj, name).set(found)


def _apply(obj: M, data: Mapping[str, Any]) -> dict[str, Any]:
    """Set plain and foreign-key fields; return the many-to-many values for after save."""
    m2m_names = _m2m_names(type(obj))
    m2m: dict[str, Any] = {}
    for key, value in data.items():
        if key in m2m_names:
            m2m[key] = value
        else:
            setattr(obj, key, value)
    return m2m


def create(model: type[M], data: Mapping[str, Any], *, actor: User, source: ChangeSource) -> M:
    with transaction.atomic():
        obj = model()
        m2m = _apply(obj, data)
        _check_scope_before_save(actor, Action.ADD, obj, m2m)
        validate(obj)
        obj.save()
        _set_m2m(obj, m2m)
        audit.record_saved(obj, actor=actor, source=source)
    return obj


def update(obj: M, data: Mapping[str, Any], *, actor: User, source: ChangeSource) -> M:
    with transaction.atomic():
        scoping.require_change(actor, Action.CHANGE, obj)  # as it is now ...
        before = audit.snapshot(obj)
        m2m = _apply(obj, data)
        _check_scope_before_save(actor, Action.CHANGE, obj, m2m)  # ... and as it would be
        validate(obj)
        obj.save()
        _set_m2m(obj, m2m)
        after = audit.snapshot(obj)
        if after != before:
            audit.record(
                actor=actor,
                action=AuditAction.UPDATE,
                source=source,
                obj=obj,
                before=before,
                after=after,
            )
    return obj


def delete(obj: models.Model, *, actor: User, source: ChangeSource) -> None:
    with transaction.atomic():
        scoping.require_change(actor, Action.DELETE, obj)
        before = audit.snapshot(obj)
        label = str(obj)
        try:
            obj.delete()
        except (ProtectedError, RestrictedError) as exc:
            raise Conflict(
                _in_use_message(
                    label,
                    exc.protected_objects
                    if isinstance(exc, ProtectedError)
                    else exc.restricted_objects,
                )
            ) from exc
        audit.record(
            actor=actor,
            action=AuditAction.DELETE,
            source=source,
            before=before,
            message=label,
        )
        # record() keyed on the object would point at a deleted row; keep the label instead
        # and the id in the before snapshot.


def _in_use_message(label: str, blockers: Iterable[models.Model]) -> str:
    counts: dict[str, int] = {}
    for blocker in blockers:
        name = str(blocker._meta.verbose_name_plural)
        counts[name] = counts.get(name, 0) + 1
    used_by = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    return _("%(obj)s is still used by %(used)s; change or delete those first.") % {
        "obj": label,
        "used": used_by,
    }


def _check_scope_before_save(
    actor: User, action: Action, obj: models.Model, m2m: Mapping[str, Any]
) -> None:
    new_sites = set(m2m["sites"]) if "sites" in m2m else None
    scoping.require_change(actor, action, obj, new_sites=new_sites)


def create_many(
    model: type[M], rows: Sequence[Mapping[str, Any]], *, actor: User, source: ChangeSource
) -> list[M]:
    """All rows or none: every row is validated; any error rolls the whole batch back."""
    created: list[M] = []
    errors: dict[int, dict[str, list[str]]] = {}
    with transaction.atomic():
        for index, row in enumerate(rows):
            try:
                with transaction.atomic():
                    created.append(create(model, row, actor=actor, source=source))
            except ValidationError as exc:
                errors[index] = _messages(exc)
        if errors:
            raise BulkValidationError(errors)
    return created


def _messages(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {k: [str(m) for e in v for m in e.messages] for k, v in exc.error_dict.items()}
    return {"__all__": [str(m) for m in exc.messages]}


# The read side of the same rules, so that this module serves as a crud ResourceServices.
visible = scoping.visible
