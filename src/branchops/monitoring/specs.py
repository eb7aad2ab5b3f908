"""Turning check rows into detached CheckSpecs for the engine (the only ORM read it does).

A check that cannot run (no management address, a missing or unreadable credential,
parameters that no longer validate) is returned as a problem instead of a spec, so that
the engine records why on the check rather than failing on it later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import QuerySet

from branchops.core.secrets import SecretError
from branchops.monitoring.choices import PASSIVE_KINDS
from branchops.monitoring.collectors.base import CheckSpec, SnmpAccess
from branchops.monitoring.models import Check, SnmpCredential
from branchops.monitoring.params import ParamsError, parse

SNMP_KINDS = frozenset({"snmp_system", "snmp_interfaces", "snmp_profile", "vpn_tunnel"})


@dataclass
class Loaded:
    specs: list[CheckSpec] = field(default_factory=list)
    problems: dict[int, str] = field(default_factory=dict)  # check id -> why it cannot run


def credentials() -> tuple[dict[str, SnmpAccess], dict[str, str]]:
    """Every SNMP credential with its secrets unsealed; those that cannot be read, by name."""
    usable: dict[str, SnmpAccess] = {}
    broken: dict[str, str] = {}
    for cred in SnmpCredential.objects.all():
        try:
            community, auth_password, priv_password = cred.secrets()
        except SecretError as exc:
            broken[cred.name] = str(exc)
            continue
        usable[cred.name] = SnmpAccess(
            version=cred.version,
            port=cred.port,
            community=community,
            username=cred.username,
            auth_protocol=cred.auth_protocol,
            auth_password=auth_password,
            priv_protocol=cred.priv_protocol,
            priv_password=priv_password,
            timeout_s=cred.timeout_s,
            retries=cred.retries,
        )
    return usable, broken


def _queryset(check_ids: Iterable[int] | None) -> QuerySet[Check]:
    qs = Check.objects.filter(enabled=True).select_related(
        "site__region",
        "device__role",
        "device__platform",
        "link__a_device__role",
        "link__a_device__platform",
    )
    return qs if check_ids is None else qs.filter(pk__in=list(check_ids))


def load(check_ids: Iterable[int] | None = None) -> Loaded:
    usable, broken = credentials()
    loaded = Loaded()
    for check in _queryset(check_ids).iterator(chunk_size=2000):
        if check.kind in PASSIVE_KINDS:
            continue  # nothing to run: their data is pushed
        spec_or_problem = _spec(check, usable, broken)
        if isinstance(spec_or_problem, str):
            loaded.problems[check.pk] = spec_or_problem
        else:
            loaded.specs.append(spec_or_problem)
    return loaded


def _spec(check: Check, usable: dict[str, SnmpAccess], broken: dict[str, str]) -> CheckSpec | str:
    device = check.device or (check.link.a_device if check.link else None)
    if device is None or not device.management_ip:
        return "no management address to check"
    try:
        params = parse(check.kind, check.params)
    except ParamsError as exc:
        return f"invalid parameters: {exc.fields}"
    snmp = None
    if check.kind in SNMP_KINDS:
        name = getattr(params, "credential", "")
        if name in broken:
            return f"SNMP credential {name!r}: {broken[name]}"
        snmp = usable.get(name)
        if snmp is None:
            return f"no SNMP credential named {name!r}"
    labels = {
        "region": check.site.region.code,
        "site": check.site.code,
        "device": device.name,
        "role": device.role.slug,
    }
    if check.link is not None:
        labels["link"] = check.link.name
    return CheckSpec(
        check_id=check.pk,
        kind=check.kind,
        target=str(device.management_ip),
        timeout_s=check.timeout_s,
        interval_s=float(check.interval_s),
        params=params.model_dump(),
        labels=labels,
        snmp=snmp,
        platform=device.platform.slug if device.platform else "",
        link=check.link.name if check.link else "",
        **_far_end(check),
    )


def _far_end(check: Check) -> dict[str, str]:
    far = check.link.b_device if check.link is not None else None
    if far is None or not far.management_ip:
        return {}
    return {
        "far_target": str(far.management_ip),
        "far_platform": far.platform.slug if far.platform else "",
        "far_device": far.name,
    }
