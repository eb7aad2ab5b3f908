"""Loading the estate: every row lands, every model rule holds, one audit event says so."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import IntegrityError, models

from branchops.cmdb.choices import SiteKind
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
from branchops.core.choices import AuditAction, ChangeSource
from branchops.core.models import AuditEvent, BusinessCalendar
from branchops.lab.estate import Estate, build, delete_estate, is_loaded, load

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 22)
CMDB_MODELS: tuple[type[models.Model], ...] = (
    Region,
    Site,
    Manufacturer,
    Platform,
    DeviceModel,
    Device,
    Link,
    Contact,
    InformationSystem,
    SystemDeployment,
    MaintenanceContract,
)


@pytest.fixture
def estate() -> Estate:
    return build(8, seed=11, today=TODAY)


def test_load_writes_every_row_and_one_audit_event(estate: Estate) -> None:
    summary = load(estate)
    assert Region.objects.count() == len(estate.regions) == summary.regions
    assert Site.objects.count() == len(estate.sites) == summary.sites
    assert Device.objects.count() == len(estate.devices) == summary.devices
    assert Link.objects.count() == len(estate.links) == summary.links
    assert Contact.objects.count() == len(estate.contacts)
    assert InformationSystem.objects.count() == len(estate.systems)
    assert SystemDeployment.objects.count() == len(estate.deployments)
    assert MaintenanceContract.objects.count() == len(estate.contracts)
    assert MaintenanceContract.devices.through.objects.count() == sum(
        len(c.devices) for c in estate.contracts
    )
    assert Contact.sites.through.objects.count() == sum(len(c.sites) for c in estate.contacts)
    events = list(AuditEvent.objects.all())
    assert len(events) == 1
    event = events[0]
    assert (event.action, event.source, event.actor) == (
        AuditAction.IMPORT,
        ChangeSource.SYSTEM,
        None,
    )
    assert f"{summary.devices} devices" in event.message
    assert event.after is not None
    assert event.after["branches"] == 8
    assert is_loaded()


def test_rows_match_the_estate(estate: Estate) -> None:
    load(estate)
    row = estate.devices[-1]
    device = Device.objects.select_related("site", "device_model", "platform", "role").get(
        name=row.name
    )
    assert device.site.code == row.site
    assert device.device_model.name == row.model
    assert device.role.slug == row.role
    assert device.management_ip == row.management_ip
    assert (device.depends_on.name if device.depends_on else None) == row.depends_on
    tunnel = Link.objects.select_related("underlay").get(name="BR-0001 VPN HQ")
    assert tunnel.underlay is not None
    assert tunnel.underlay.name == "BR-0001 INTERNET"
    branch = Site.objects.select_related("support_centre", "calendar").get(code="BR-0001")
    assert branch.support_centre is not None
    assert branch.support_centre.kind == SiteKind.REGIONAL_CENTRE
    assert branch.calendar is not None
    assert branch.calendar.code == "xshg-trading"


def test_full_clean_passes_on_a_sample_of_every_model(estate: Estate) -> None:
    load(estate)
    rng = random.Random(3)
    for model in CMDB_MODELS:
        pks = list(model._default_manager.values_list("pk", flat=True))
        assert pks, model.__name__
        for pk in {pks[0], pks[-1], *rng.sample(pks, min(25, len(pks)))}:
            obj = model._default_manager.get(pk=pk)
            obj.full_clean()


def test_dependencies_in_the_database_end_at_each_branch_firewall(estate: Estate) -> None:
    load(estate)
    parent = dict(Device.objects.values_list("pk", "depends_on_id"))
    info = {
        pk: (site, role)
        for pk, site, role in Device.objects.values_list("pk", "site_id", "role__slug")
    }
    branches = set(Site.objects.filter(kind=SiteKind.BRANCH).values_list("pk", flat=True))
    for pk, (site, _) in info.items():
        if site not in branches:
            continue
        seen = set()
        current = pk
        while parent[current] is not None:
            assert current not in seen
            seen.add(current)
            current = parent[current]
            assert info[current][0] == site
        assert info[current][1] == "firewall"


def test_progress_hears_about_every_row(estate: Estate) -> None:
    heard: dict[str, int] = {}

    def progress(step: str, rows: int) -> None:
        heard[step] = heard.get(step, 0) + rows

    load(estate, progress=progress)
    assert sum(heard.values()) == estate.row_count() + 1  # and the audit event
    assert heard["devices"] == len(estate.devices)


def test_existing_catalogue_rows_are_reused(estate: Estate) -> None:
    huawei = Manufacturer.objects.create(slug="huawei-tech", name="Huawei")
    load(estate)
    assert Manufacturer.objects.filter(name="Huawei").count() == 1
    assert Device.objects.filter(device_model__manufacturer=huawei).exists()


def test_delete_estate_removes_the_cmdb_but_keeps_reference_rows(estate: Estate) -> None:
    roles, calendars = DeviceRole.objects.count(), BusinessCalendar.objects.count()
    load(estate)
    delete_estate()
    for model in CMDB_MODELS:
        assert not model._default_manager.exists(), model.__name__
    assert not is_loaded()
    assert (DeviceRole.objects.count(), BusinessCalendar.objects.count()) == (roles, calendars)
    load(estate)
    assert Device.objects.count() == len(estate.devices)


def test_a_failed_load_leaves_nothing_behind(estate: Estate) -> None:
    broken = Estate(**{**estate.__dict__, "links": (*estate.links, estate.links[0])})
    with pytest.raises(IntegrityError):
        load(broken)
    assert not Site.objects.exists()
    assert not AuditEvent.objects.exists()
