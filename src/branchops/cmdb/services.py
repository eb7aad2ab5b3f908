"""The estate's services: the audited changes every app shares, and region-tree questions.

Creating, changing and deleting estate objects goes through ``branchops.core.changes``
(permission, validation, audit in one transaction); this module re-exports those functions
under the estate's name, so that the UI, the API and imports keep one entry point, and adds
what only the estate knows.
"""

from __future__ import annotations

from branchops.cmdb.models import Region
from branchops.core.changes import create, create_many, delete, update, validate
from branchops.core.scoping import visible

__all__ = ["create", "create_many", "delete", "region_subtree_ids", "update", "validate", "visible"]


def region_subtree_ids(region: int | str) -> list[int]:
    """The region (by id or code) and every region below it; empty for an unknown region.

    The tree has a few hundred rows: one read of (id, parent, code) answers both "which
    region" and "what is below it".
    """
    if isinstance(region, str) and region.isdigit():
        region = int(region)  # digits are an id, as everywhere in the API
    children: dict[int | None, list[int]] = {}
    root: int | None = None
    for pk, parent, code in Region.objects.values_list("pk", "parent_id", "code"):
        children.setdefault(parent, []).append(pk)
        if region == (pk if isinstance(region, int) else code):
            root = pk
    if root is None:
        return []
    found, stack = [], [root]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found
