"""Which objects a user may see and change: the areas of the role matrix, plus site scoping.

Each app registers its models here (``register``), saying which area of the permission
matrix a model belongs to and how its objects reach their sites. Branch liaisons see an
object when any of its sites is theirs (a link from their branch to HQ, a contract covering
one of their devices) but may change it only when every site it belongs to is theirs, so
they can never edit the HQ end of anything.
"""

from __future__ import annotations

from typing import TypeVar

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext as _

from branchops.core.models import User
from branchops.core.permissions import Action, Area, can, is_site_scoped

M = TypeVar("M", bound=models.Model)

AREA: dict[type[models.Model], Area] = {}
# How an object reaches its sites, for seeing it (any) ...
VIEW_PATHS: dict[type[models.Model], tuple[str, ...]] = {}
# ... and for changing it (all of these must be the user's).
OWNER_PATHS: dict[type[models.Model], tuple[str, ...]] = {}


def register(
    model: type[models.Model],
    area: Area,
    *,
    view: tuple[str, ...] = (),
    owner: tuple[str, ...] = (),
) -> None:
    """Called from each app's AppConfig.ready(); ``view``/``owner`` empty: not site-scoped."""
    AREA[model] = area
    if view:
        VIEW_PATHS[model] = view
    if owner:
        OWNER_PATHS[model] = owner


def own_site_ids(user: User) -> set[int]:
    return set(user.liaison_sites.values_list("pk", flat=True))


def visible(
    user: User, model: type[M], queryset: models.QuerySet[M] | None = None
) -> models.QuerySet[M]:
    """The objects of ``model`` this user may see (empty when the role sees none)."""
    qs = queryset if queryset is not None else model._default_manager.all()
    area = AREA[model]
    if not can(user, Action.VIEW, area):
        return qs.none()
    if not is_site_scoped(user, area) or model not in VIEW_PATHS:
        return qs  # not site data (a check template): whoever may view the area sees it
    sites = own_site_ids(user)
    condition = Q()
    for path in VIEW_PATHS[model]:
        condition |= Q(**{f"{path}__in": sites})
    # A subquery instead of .distinct(): many-to-many paths would repeat rows.
    return qs.filter(pk__in=model._default_manager.filter(condition).values("pk"))


def site_ids_of(obj: models.Model, new_sites: set[int] | None = None) -> set[int]:
    """The sites an object belongs to for the purpose of changing it.

    ``new_sites`` stands for a many-to-many ``sites`` value about to be written.
    """
    ids: set[int] = set()
    for path in OWNER_PATHS.get(type(obj), ()):
        if path == "id":
            if obj.pk is not None:
                ids.add(obj.pk)
        elif path == "sites":
            if new_sites is not None:
                ids.update(new_sites)
            elif obj.pk is not None:
                ids.update(obj.sites.values_list("pk", flat=True))  # type: ignore[attr-defined]
        else:
            value = getattr(obj, f"{path}_id")
            if value is not None:
                ids.add(value)
    return ids


def require_change(
    user: User, action: Action, obj: models.Model, new_sites: set[int] | None = None
) -> None:
    """Raise PermissionDenied unless the user may ``action`` this object (at its sites)."""
    model = type(obj)
    area = AREA[model]
    if not can(user, action, area):
        raise PermissionDenied(_("Your role may not change this kind of object."))
    if not is_site_scoped(user, area):
        return
    if model not in OWNER_PATHS:
        raise PermissionDenied(_("Branch liaisons may not change this kind of object."))
    sites = site_ids_of(obj, new_sites)
    if not sites or not sites <= own_site_ids(user):
        raise PermissionDenied(_("You may only change objects at your own sites."))
