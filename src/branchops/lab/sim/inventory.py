"""What the lab simulates, as plain data read once at start-up.

The estate comes from the CMDB (``from_database``: the only place the lab touches the ORM,
called before or beside the event loop, never in its hot path) or straight from a built
:class:`~branchops.lab.spec.Estate` (``from_estate``: benchmarks and tests that need no
database). Either way the rest of the lab sees frozen rows, never model instances.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from branchops.monitoring.snmp_profiles import DeviceProfile
from branchops.snmp import AuthProtocol, PrivProtocol, UsmUser

DEFAULT_CREDENTIAL = "default"
# Devices that exist on the floor; planned, failed and decommissioned ones stay silent.
LIVE_STATUSES = frozenset({"active", "maintenance"})
DATA_CENTRE_KINDS = frozenset({"hq_dc", "dr_same_city", "dr_remote"})

_AUTH = {
    "": AuthProtocol.NONE,
    "md5": AuthProtocol.MD5,
    "sha": AuthProtocol.SHA,
    "sha224": AuthProtocol.SHA224,
    "sha256": AuthProtocol.SHA256,
    "sha384": AuthProtocol.SHA384,
    "sha512": AuthProtocol.SHA512,
}
_PRIV = {
    "": PrivProtocol.NONE,
    "des": PrivProtocol.DES,
    "aes": PrivProtocol.AES,
    "aes192": PrivProtocol.AES192,
    "aes256": PrivProtocol.AES256,
}


class InventoryError(RuntimeError):
    """The estate or the SNMP credential cannot be simulated; the message says why."""


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    name: str
    site: str
    site_name: str
    site_kind: str
    role: str
    is_network: bool
    vendor: str  # manufacturer slug
    vendor_name: str
    model: str
    platform: str | None  # platform slug
    platform_name: str
    firmware: str
    serial: str
    status: str
    address: str
    depends_on: str | None


@dataclass(frozen=True, slots=True)
class LinkSpec:
    name: str
    kind: str  # vpn, leased_line, internet
    role: str  # primary, backup
    status: str
    a_site: str
    a_device: str | None
    b_site: str | None
    b_device: str | None
    underlay: str | None
    carrier: str
    bandwidth_mbps: int | None


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """An information system deployed on a device: the lab serves its web front end."""

    system: str  # code, e.g. online-trading
    name: str
    name_en: str
    device: str
    role: str  # production, dr_same_city, dr_remote, test


@dataclass(frozen=True)
class SnmpAccess:
    """How the engine talks SNMP to the estate: the "default" credential."""

    port: int
    version: str  # "2c" or "3"
    communities: tuple[str, ...] = ()
    users: tuple[UsmUser, ...] = ()

    def describe(self) -> str:
        if self.version == "3":
            names = ", ".join(f"{u.name} ({u.level.name.lower()})" for u in self.users)
            return f"SNMPv3 user {names}"
        return f"SNMPv2c, {len(self.communities)} community"


@dataclass(frozen=True)
class Inventory:
    devices: tuple[DeviceSpec, ...]
    links: tuple[LinkSpec, ...]
    services: tuple[ServiceSpec, ...]
    snmp: SnmpAccess
    profiles: dict[str, DeviceProfile] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()  # why some devices are not simulated


def credential_access(credential: Any) -> SnmpAccess:
    """The SnmpCredential (a model instance) as lab settings, secrets unsealed."""
    community, auth_password, priv_password = credential.secrets()
    if credential.version == "3":
        try:
            user = UsmUser(
                credential.username,
                _AUTH[credential.auth_protocol],
                auth_password,
                _PRIV[credential.priv_protocol],
                priv_password,
            )
        except (KeyError, ValueError) as exc:
            raise InventoryError(f"SNMP credential {credential.name!r} is unusable: {exc}") from exc
        return SnmpAccess(credential.port, "3", users=(user,))
    if not community:
        raise InventoryError(f"SNMP credential {credential.name!r} has no community")
    return SnmpAccess(credential.port, "2c", communities=(community,))


# DeviceSpec / LinkSpec field -> the ORM value path it is read from
DEVICE_COLUMNS = {
    "name": "name",
    "site": "site__code",
    "site_name": "site__name",
    "site_kind": "site__kind",
    "role": "role__slug",
    "is_network": "role__is_network",
    "vendor": "device_model__manufacturer__slug",
    "vendor_name": "device_model__manufacturer__name",
    "model": "device_model__name",
    "platform": "platform__slug",
    "platform_name": "platform__name",
    "firmware": "firmware_version",
    "serial": "serial",
    "status": "status",
    "address": "management_ip",
    "depends_on": "depends_on__name",
}
LINK_COLUMNS = {
    "name": "name",
    "kind": "kind",
    "role": "role",
    "status": "status",
    "a_site": "a_site__code",
    "a_device": "a_device__name",
    "b_site": "b_site__code",
    "b_device": "b_device__name",
    "underlay": "underlay__name",
    "carrier": "carrier",
    "bandwidth_mbps": "bandwidth_mbps",
}
SERVICE_COLUMNS = {
    "system": "system__code",
    "name": "system__name",
    "name_en": "system__name_en",
    "device": "device__name",
    "role": "role",
}


def _rows(queryset: Any, columns: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {name: row[path] for name, path in columns.items()}
        for row in queryset.values(*columns.values())
    ]


def from_database(credential_name: str = DEFAULT_CREDENTIAL) -> Inventory:
    """Read the estate, the SNMP credential and the device profiles (synchronous ORM)."""
    from branchops.cmdb.models import Device, Link, SystemDeployment
    from branchops.monitoring import snmp_profiles
    from branchops.monitoring.models import SnmpCredential

    credential = SnmpCredential.objects.filter(name=credential_name).first()
    if credential is None:
        raise InventoryError(
            f"no SNMP credential named {credential_name!r}: the lab answers with the "
            "credential the engine polls with (run `branchops init` or `branchops demo`)"
        )
    devices = [
        DeviceSpec(**{**row, "platform_name": row["platform_name"] or ""})
        for row in _rows(Device.objects.exclude(management_ip=None).order_by("id"), DEVICE_COLUMNS)
    ]
    links = [LinkSpec(**row) for row in _rows(Link.objects.order_by("name"), LINK_COLUMNS)]
    deployments = SystemDeployment.objects.exclude(device=None).order_by("system__code", "role")
    services = [ServiceSpec(**row) for row in _rows(deployments, SERVICE_COLUMNS)]
    access = credential_access(credential)
    return assemble(devices, links, services, access, snmp_profiles.load_all())


def from_estate(estate: Any, snmp: SnmpAccess, profiles: dict[str, DeviceProfile]) -> Inventory:
    """The same inventory from a built (not loaded) estate, without a database."""
    from branchops.cmdb.reference import DEVICE_ROLES

    network = {slug: is_network for slug, _, _, is_network in DEVICE_ROLES}
    sites = {s.code: s for s in estate.sites}
    vendors = {m.slug: m.name for m in estate.manufacturers}
    platforms = {p.slug: p.name for p in estate.platforms}
    devices = [
        DeviceSpec(
            **{f: getattr(d, f) for f in ("name", "site", "role", "model", "platform", "serial")},
            site_name=sites[d.site].name,
            site_kind=sites[d.site].kind,
            is_network=network.get(d.role, False),
            vendor=d.manufacturer,
            vendor_name=vendors[d.manufacturer],
            platform_name=platforms.get(d.platform or "", ""),
            firmware=d.firmware_version,
            status=d.status,
            address=d.management_ip,
            depends_on=d.depends_on,
        )
        for d in estate.devices
    ]
    links = [LinkSpec(**{f: getattr(link, f) for f in LINK_COLUMNS}) for link in estate.links]
    systems = {s.code: s for s in estate.systems}
    services = [
        ServiceSpec(d.system, systems[d.system].name, systems[d.system].name_en, d.device, d.role)
        for d in estate.deployments
        if d.device is not None
    ]
    return assemble(devices, links, services, snmp, profiles)


def assemble(
    devices: Iterable[DeviceSpec],
    links: Iterable[LinkSpec],
    services: Iterable[ServiceSpec],
    snmp: SnmpAccess,
    profiles: dict[str, DeviceProfile],
) -> Inventory:
    """Keep the devices the lab may simulate: on 127.0.0.0/8 (never 127.0.0.1), one per
    address. Anything else is reported, never answered for."""
    kept: list[DeviceSpec] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for device in devices:
        problem = _address_problem(device.address, seen)
        if problem:
            skipped.append(f"{device.name}: {problem}")
            continue
        seen.add(device.address)
        kept.append(device)
    names = {d.name for d in kept}
    return Inventory(
        devices=tuple(kept),
        # Primary links first: a firewall's tunnel1 is its primary tunnel, as engineers
        # number them.
        links=tuple(sorted(links, key=lambda link: (link.role != "primary", link.name))),
        services=tuple(s for s in services if s.device in names),
        snmp=snmp,
        profiles=profiles,
        skipped=tuple(skipped),
    )


def _address_problem(address: str, seen: set[str]) -> str:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return f"management address {address!r} is not an IP address"
    if parsed.version != 4 or not parsed.is_loopback:
        return f"management address {address} is outside 127.0.0.0/8 (the lab stays on loopback)"
    if address == "127.0.0.1":
        return "management address 127.0.0.1 is the host itself"
    if address in seen:
        return f"management address {address} is used by another device"
    return ""
