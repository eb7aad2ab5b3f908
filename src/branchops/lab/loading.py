"""Writing a built estate to the database fast: bulk inserts in one transaction.

The CMDB services validate and audit one object at a time, which is right for people and
far too slow for 25,000 rows. The estate is valid by construction (the lab's tests run
``full_clean`` on a sample of every model), so it is inserted in batches, in dependency
order, and recorded as one audit event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Protocol, TypeVar

from django.db import models, transaction

from branchops.cmdb.choices import RegionLevel, SiteKind
from branchops.cmdb.models import (
    Contact,
    Device,
    DeviceModel,
    DeviceRole,
    InformationSystem,
    Link,
    MaintenanceContract,
    Manufacturer,
    Platform,
    Region,
    Site,
    SystemDeployment,
)
from branchops.core import audit
from branchops.core.choices import AuditAction, ChangeSource
from branchops.core.models import BusinessCalendar
from branchops.lab.spec import HQ_CODE, DeviceRow, Estate, LinkRow, SiteRow

BATCH_SIZE = 1000
M = TypeVar("M", bound=models.Model)


class Progress(Protocol):
    def __call__(self, step: str, rows: int) -> None:
        """``rows`` more rows of ``step`` are written."""


def _no_progress(step: str, rows: int) -> None:
    return None


@dataclass(frozen=True)
class LoadSummary:
    regions: int
    data_centres: int
    regional_centres: int
    branches: int
    devices: int
    links: int
    contacts: int
    systems: int
    deployments: int
    contracts: int
    contract_devices: int
    contact_sites: int
    seconds: float

    @property
    def sites(self) -> int:
        return self.data_centres + self.regional_centres + self.branches

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if k != "seconds"}

    def message(self) -> str:
        return (
            f"Example Securities demo estate loaded: {self.regions} regions, "
            f"{self.data_centres} data centres, {self.regional_centres} regional centres, "
            f"{self.branches} branches, {self.devices} devices, {self.links} links, "
            f"{self.contacts} contacts, {self.systems} systems ({self.deployments} deployments), "
            f"{self.contracts} contracts covering {self.contract_devices} devices"
        )


class _Writer:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def insert(self, step: str, objs: Sequence[M]) -> list[M]:
        if not objs:
            return []
        manager = type(objs[0])._default_manager
        done: list[M] = []
        for start in range(0, len(objs), BATCH_SIZE):
            chunk = objs[start : start + BATCH_SIZE]
            done.extend(manager.bulk_create(chunk))
            self.progress(step, len(chunk))
        if done[0].pk is None:  # the backend cannot return ids from a bulk insert
            raise RuntimeError("the database must return ids from bulk inserts")
        return done


def _reference_ids() -> tuple[dict[str, int], dict[str, int]]:
    roles = dict(DeviceRole.objects.values_list("slug", "pk"))
    calendars = dict(BusinessCalendar.objects.values_list("code", "pk"))
    return roles, calendars


def _require(known: dict[str, int], wanted: set[str], what: str) -> None:
    missing = sorted(wanted - set(known))
    if missing:
        raise LookupError(f"missing reference {what}: {', '.join(missing)} (run migrations)")


def _regions(w: _Writer, estate: Estate) -> dict[str, int]:
    ids: dict[str, int] = {}
    for level in (RegionLevel.REGION, RegionLevel.PROVINCE, RegionLevel.CITY):
        rows = [r for r in estate.regions if r.level == level]
        objs = [
            Region(
                code=r.code,
                name=r.name,
                name_en=r.name_en,
                level=r.level,
                parent_id=ids[r.parent] if r.parent else None,
                latitude=r.latitude,
                longitude=r.longitude,
            )
            for r in rows
        ]
        ids.update((o.code, o.pk) for o in w.insert("regions", objs))
    return ids


def _slugged(
    w: _Writer,
    model: type[Manufacturer] | type[Platform],
    rows: Sequence[tuple[str, str]],
    make: Callable[[str, str], Manufacturer | Platform],
) -> dict[str, int]:
    """Ids by slug, reusing rows that exist already with the same slug or name."""
    existing = list(model._default_manager.values_list("slug", "name", "pk"))
    by_slug = {slug: pk for slug, _, pk in existing}
    by_name = {name: pk for _, name, pk in existing}
    ids: dict[str, int] = {}
    new = []
    for slug, name in rows:
        pk = by_slug.get(slug) or by_name.get(name)
        if pk is None:
            new.append(make(slug, name))
        else:
            ids[slug] = pk
    ids.update((o.slug, o.pk) for o in w.insert("catalogue", new))
    return ids


def _catalogue(
    w: _Writer, estate: Estate, roles: dict[str, int]
) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Manufacturers, platforms and device models; the ones a user already has are reused."""
    vendors = _slugged(
        w, Manufacturer, [(r.slug, r.name) for r in estate.manufacturers],
        lambda slug, name: Manufacturer(slug=slug, name=name),
    )  # fmt: skip
    owner = {r.slug: r.manufacturer for r in estate.platforms}
    platforms = _slugged(
        w, Platform, [(r.slug, r.name) for r in estate.platforms],
        lambda slug, name: Platform(
            slug=slug, name=name, manufacturer_id=vendors.get(owner[slug] or "")
        ),
    )  # fmt: skip
    slug_of = {pk: slug for slug, pk in vendors.items()}
    existing = {
        (slug_of[vendor_id], name): pk
        for vendor_id, name, pk in DeviceModel.objects.filter(
            manufacturer_id__in=slug_of
        ).values_list("manufacturer_id", "name", "pk")
    }
    new = [
        DeviceModel(
            manufacturer_id=vendors[r.manufacturer],
            name=r.name,
            default_role_id=roles[r.default_role],
            end_of_sale=r.end_of_sale,
            end_of_support=r.end_of_support,
        )
        for r in estate.device_models
        if (r.manufacturer, r.name) not in existing
    ]
    created = w.insert("catalogue", new)
    existing.update(((slug_of[o.manufacturer_id], o.name), o.pk) for o in created)
    return platforms, existing


def _sites(
    w: _Writer, estate: Estate, regions: dict[str, int], calendars: dict[str, int]
) -> dict[str, int]:
    ids: dict[str, int] = {}

    def build(r: SiteRow) -> Site:
        return Site(
            code=r.code,
            name=r.name,
            kind=r.kind,
            status=r.status,
            region_id=regions[r.region],
            support_centre_id=ids[r.support_centre] if r.support_centre else None,
            calendar_id=calendars[r.calendar],
            address=r.address,
            latitude=r.latitude,
            longitude=r.longitude,
            opened_on=r.opened_on,
            description=r.description,
        )

    # Regional centres exist before the branches that name them as support centre.
    for first in (True, False):
        rows = [r for r in estate.sites if (r.support_centre is None) == first]
        ids.update((o.code, o.pk) for o in w.insert("sites", [build(r) for r in rows]))
    return ids


def _device_levels(rows: Sequence[DeviceRow]) -> list[list[DeviceRow]]:
    """Devices grouped by how far they hang below a root, so a parent is always written first."""
    parent = {d.name: d.depends_on for d in rows}
    depth: dict[str, int] = {}
    for name in parent:
        chain = [name]
        while chain[-1] not in depth and parent[chain[-1]] is not None:
            chain.append(parent[chain[-1]])  # type: ignore[arg-type]
            if len(chain) > len(parent):
                raise ValueError(f"dependency loop through {name}")
        base = depth.get(chain[-1], 0)
        for offset, item in enumerate(reversed(chain)):
            depth.setdefault(item, base + offset)
    levels: list[list[DeviceRow]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for d in rows:
        levels[depth[d.name]].append(d)
    return levels


def _devices(
    w: _Writer,
    estate: Estate,
    *,
    sites: dict[str, int],
    roles: dict[str, int],
    platforms: dict[str, int],
    device_models: dict[tuple[str, str], int],
) -> dict[str, int]:
    ids: dict[str, int] = {}
    for level in _device_levels(estate.devices):
        objs = [
            Device(
                name=d.name,
                site_id=sites[d.site],
                role_id=roles[d.role],
                device_model_id=device_models[(d.manufacturer, d.model)],
                platform_id=platforms[d.platform] if d.platform else None,
                serial=d.serial,
                asset_tag=d.asset_tag,
                status=d.status,
                management_ip=d.management_ip,
                firmware_version=d.firmware_version,
                criticality=d.criticality,
                depends_on_id=ids[d.depends_on] if d.depends_on else None,
                installed_on=d.installed_on,
                description=d.description,
            )
            for d in level
        ]
        ids.update((o.name, o.pk) for o in w.insert("devices", objs))
    return ids


def _links(w: _Writer, estate: Estate, sites: dict[str, int], devices: dict[str, int]) -> int:
    ids: dict[str, int] = {}

    def build(r: LinkRow) -> Link:
        return Link(
            name=r.name,
            kind=r.kind,
            role=r.role,
            status=r.status,
            a_site_id=sites[r.a_site],
            a_device_id=devices[r.a_device] if r.a_device else None,
            b_site_id=sites[r.b_site] if r.b_site else None,
            b_device_id=devices[r.b_device] if r.b_device else None,
            underlay_id=ids[r.underlay] if r.underlay else None,
            carrier=r.carrier,
            circuit_id=r.circuit_id,
            bandwidth_mbps=r.bandwidth_mbps,
            description=r.description,
        )

    # Lines first, then the tunnels that run over them.
    for lines in (True, False):
        rows = [r for r in estate.links if (r.underlay is None) == lines]
        ids.update((o.name, o.pk) for o in w.insert("links", [build(r) for r in rows]))
    return len(ids)


def _through(
    w: _Writer, step: str, model: type[models.Model], field: str, pairs: list[tuple[int, int]]
) -> int:
    """Insert many-to-many rows directly into the field's through table."""
    m2m = model._meta.get_field(field)
    if not isinstance(m2m, models.ManyToManyField):
        raise TypeError(f"{model.__name__}.{field} is not a many-to-many field")
    through: type[models.Model] | str | None = m2m.remote_field.through
    if through is None or isinstance(through, str):
        raise TypeError(f"{model.__name__}.{field} is not resolved")
    own, other = (
        f.attname
        for f in (
            through._meta.get_field(m2m.m2m_field_name()),
            through._meta.get_field(m2m.m2m_reverse_field_name()),
        )
        if isinstance(f, models.ForeignKey)
    )
    w.insert(step, [through(**{own: a, other: b}) for a, b in pairs])
    return len(pairs)


def _contacts(w: _Writer, estate: Estate, sites: dict[str, int]) -> tuple[dict[str, int], int]:
    objs = [
        Contact(
            name=r.name,
            role=r.role,
            organisation=r.organisation,
            title=r.title,
            phone=r.phone,
            mobile=r.mobile,
            email=r.email,
            notes=r.notes,
        )
        for r in estate.contacts
    ]
    created = w.insert("contacts", objs)
    ids = {r.key: o.pk for r, o in zip(estate.contacts, created, strict=True)}
    pairs = [(ids[r.key], sites[code]) for r in estate.contacts for code in r.sites]
    return ids, _through(w, "contact sites", Contact, "sites", pairs)


def _systems(
    w: _Writer,
    estate: Estate,
    sites: dict[str, int],
    devices: dict[str, int],
    contacts: dict[str, int],
) -> int:
    systems = w.insert(
        "systems",
        [
            InformationSystem(
                code=r.code,
                name=r.name,
                name_en=r.name_en,
                category=r.category,
                owner=r.owner,
                owner_contact_id=contacts[r.owner_contact] if r.owner_contact else None,
                required_capability=dict(r.required_capability),
                description=r.description,
            )
            for r in estate.systems
        ],
    )
    ids = {o.code: o.pk for o in systems}
    deployments = [
        SystemDeployment(
            system_id=ids[r.system],
            site_id=sites[r.site],
            device_id=devices[r.device] if r.device else None,
            role=r.role,
            description=r.description,
        )
        for r in estate.deployments
    ]
    return len(w.insert("systems", deployments))


def _contracts(
    w: _Writer, estate: Estate, devices: dict[str, int], contacts: dict[str, int]
) -> int:
    created = w.insert(
        "contracts",
        [
            MaintenanceContract(
                number=r.number,
                name=r.name,
                provider=r.provider,
                provider_kind=r.provider_kind,
                coverage=r.coverage,
                starts_on=r.starts_on,
                ends_on=r.ends_on,
                cost=r.cost,
                contact_id=contacts[r.contact] if r.contact else None,
                notes=r.notes,
            )
            for r in estate.contracts
        ],
    )
    pairs = [
        (o.pk, devices[name])
        for r, o in zip(estate.contracts, created, strict=True)
        for name in r.devices
    ]
    return _through(w, "contract devices", MaintenanceContract, "devices", pairs)


def load(estate: Estate, progress: Progress | None = None) -> LoadSummary:
    """Insert ``estate`` in one transaction and record one audit event for it."""
    started = time.perf_counter()
    w = _Writer(progress or _no_progress)
    with transaction.atomic():
        roles, calendars = _reference_ids()
        _require(roles, {d.role for d in estate.devices}, "device roles")
        _require(roles, {m.default_role for m in estate.device_models}, "device roles")
        _require(calendars, {s.calendar for s in estate.sites}, "business calendars")
        regions = _regions(w, estate)
        platforms, device_models = _catalogue(w, estate, roles)
        sites = _sites(w, estate, regions, calendars)
        devices = _devices(
            w, estate, sites=sites, roles=roles, platforms=platforms, device_models=device_models
        )
        links = _links(w, estate, sites, devices)
        contacts, contact_sites = _contacts(w, estate, sites)
        deployments = _systems(w, estate, sites, devices, contacts)
        contract_devices = _contracts(w, estate, devices, contacts)
        kinds = [s.kind for s in estate.sites]
        summary = LoadSummary(
            regions=len(regions),
            data_centres=sum(k not in (SiteKind.BRANCH, SiteKind.REGIONAL_CENTRE) for k in kinds),
            regional_centres=kinds.count(SiteKind.REGIONAL_CENTRE),
            branches=kinds.count(SiteKind.BRANCH),
            devices=len(devices),
            links=links,
            contacts=len(contacts),
            systems=len(estate.systems),
            deployments=deployments,
            contracts=len(estate.contracts),
            contract_devices=contract_devices,
            contact_sites=contact_sites,
            seconds=0.0,
        )
        audit.record(
            actor=None,
            action=AuditAction.IMPORT,
            source=ChangeSource.SYSTEM,
            after={"seed": estate.seed, "today": estate.today.isoformat(), **summary.counts()},
            message=summary.message(),
        )
        w.progress("audit", 1)
    return replace(summary, seconds=round(time.perf_counter() - started, 2))


def is_loaded() -> bool:
    """The estate's marker is its HQ data centre."""
    return Site.objects.filter(code=HQ_CODE).exists()


def delete_estate() -> None:
    """Delete every CMDB row (device roles and calendars, which migrations ship, stay), and
    the demo's tickets, which refer to its sites."""
    from branchops.servicedesk.wipe import wipe_tickets

    with transaction.atomic():
        wipe_tickets()
        MaintenanceContract.devices.through.objects.all().delete()
        MaintenanceContract.objects.all().delete()
        SystemDeployment.objects.all().delete()
        InformationSystem.objects.all().delete()
        Contact.sites.through.objects.all().delete()
        Contact.objects.all().delete()
        # Self-references first, so the bulk deletes need not cascade row by row.
        Link.objects.update(underlay=None)
        Link.objects.all().delete()
        Device.objects.update(depends_on=None)
        Device.objects.all().delete()
        Site.liaisons.through.objects.all().delete()
        Site.objects.update(support_centre=None)
        Site.objects.all().delete()
        DeviceModel.objects.all().delete()
        Platform.objects.all().delete()
        Manufacturer.objects.all().delete()
        for level in (RegionLevel.CITY, RegionLevel.PROVINCE, RegionLevel.REGION):
            Region.objects.filter(level=level).delete()
        audit.record(
            actor=None,
            action=AuditAction.DELETE,
            source=ChangeSource.SYSTEM,
            message="Demo estate deleted (branchops demo --reset)",
        )
