"""The role matrix: who may view, add, change and delete in each area."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import translation

from branchops.core.choices import Role
from branchops.core.models import User
from branchops.core.permissions import Action, Area, can, is_site_scoped, require


def user(role: Role, **kw: object) -> User:
    kw.setdefault("is_active", True)
    return User(username=role.value, role=role, **kw)


@pytest.mark.parametrize("role", list(Role))
def test_every_role_can_view_the_estate(role: Role) -> None:
    for area in (Area.REFERENCE, Area.SITES, Area.ESTATE, Area.SYSTEMS, Area.CONTRACTS):
        assert can(user(role), Action.VIEW, area)


@pytest.mark.parametrize(
    ("role", "except_for"),
    [(Role.AUDITOR, set()), (Role.NOC_OPERATOR, {Area.ALERTS, Area.SERVICE_DESK})],
)
def test_read_only_roles_change_nothing(role: Role, except_for: set[Area]) -> None:
    for area in set(Area) - except_for:
        for action in (Action.ADD, Action.CHANGE, Action.DELETE):
            assert not can(user(role), action, area)


def test_noc_operators_acknowledge_and_silence_but_delete_no_alert() -> None:
    noc = user(Role.NOC_OPERATOR)
    assert can(noc, Action.CHANGE, Area.ALERTS)
    assert can(noc, Action.ADD, Area.ALERTS)
    assert not can(noc, Action.DELETE, Area.ALERTS)


def test_auditor_reads_the_audit_trail_and_noc_operator_does_not() -> None:
    assert can(user(Role.AUDITOR), Action.VIEW, Area.AUDIT)
    assert not can(user(Role.NOC_OPERATOR), Action.VIEW, Area.AUDIT)


def test_only_admins_manage_users() -> None:
    assert can(user(Role.ADMIN), Action.CHANGE, Area.USERS)
    for role in set(Role) - {Role.ADMIN}:
        assert not can(user(role), Action.CHANGE, Area.USERS)


def test_liaison_is_scoped_to_sites_but_not_for_reference_data() -> None:
    liaison = user(Role.BRANCH_LIAISON)
    assert is_site_scoped(liaison, Area.ESTATE)
    assert not is_site_scoped(liaison, Area.REFERENCE)
    assert not can(liaison, Action.ADD, Area.SITES)
    assert can(liaison, Action.CHANGE, Area.SITES)


def test_disabled_users_can_do_nothing_and_superusers_everything() -> None:
    assert not can(user(Role.ADMIN, is_active=False), Action.VIEW, Area.SITES)
    assert can(user(Role.AUDITOR, is_superuser=True), Action.DELETE, Area.SITES)


def test_require_explains_the_refusal_in_the_users_language() -> None:
    with translation.override("en"), pytest.raises(PermissionDenied, match="may not delete sites"):
        require(user(Role.AUDITOR), Action.DELETE, Area.SITES)
    with translation.override("zh-hans"), pytest.raises(PermissionDenied) as refused:
        require(user(Role.AUDITOR), Action.DELETE, Area.SITES)
    assert "may not" not in str(refused.value)
