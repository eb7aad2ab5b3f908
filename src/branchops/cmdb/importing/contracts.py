"""Importing and exporting maintenance contracts and the devices they cover.

Covered devices are listed by serial number or "site code/device name", separated by ';'
(or the full-width semicolon). Without the column, a contract's devices stay as they are.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any

from django.utils.translation import gettext as _

from branchops.cmdb import models as m
from branchops.cmdb.importing.devices import site_and_name
from branchops.cmdb.importing.engine import Ambiguous, Importer, Index, Plan, Row
from branchops.cmdb.importing.kinds import CONTRACTS
from branchops.cmdb.importing.values import split_list
from branchops.cmdb.scoping import visible
from branchops.core.models import User

Through = m.MaintenanceContract.devices.through
CONTRACT_FK = m.MaintenanceContract.devices.field.m2m_column_name()
DEVICE_FK = m.MaintenanceContract.devices.field.m2m_reverse_name()


class ContractImporter(Importer[m.MaintenanceContract]):
    kind = CONTRACTS
    model = m.MaintenanceContract
    rule_columns = frozenset({"starts_on", "ends_on"})

    def preload(self) -> None:
        self.contracts = {c.number: c for c in m.MaintenanceContract.objects.all()}
        self.covered: dict[int, set[int]] = {}
        for contract_id, device_id in Through.objects.values_list(CONTRACT_FK, DEVICE_FK):
            self.covered.setdefault(contract_id, set()).add(device_id)
        self.sites = Index[m.Site]()
        for pk, code in m.Site.objects.values_list("pk", "code"):
            self.sites.add(code, m.Site(pk=pk, code=code))
        self.serials: dict[str, int] = {}
        self.devices = Index[int]()
        for pk, site_id, name, serial in m.Device.objects.values_list(
            "pk", "site_id", "name", "serial"
        ):
            self.devices.add(name, pk, site_id)
            if serial:
                self.serials[serial] = pk

    def key_of(self, row: Row) -> Hashable | None:
        number: str | None = row.parse("number")
        return number

    def existing(self, key: Hashable) -> m.MaintenanceContract | None:
        return self.contracts.get(str(key))

    def resolve(self, row: Row, plan: Plan[m.MaintenanceContract]) -> None:
        if plan.original is not None:
            plan.m2m_before["devices"] = self.covered.get(plan.obj.pk, set())
        if not row.has("devices"):
            return
        found: set[int] = set()
        unknown: list[str] = []
        for item in split_list(row.cells["devices"]):
            device = self.find_device(item)
            if device is None:
                unknown.append(item)
            else:
                found.add(device)
        if unknown:
            row.error("devices", _("Unknown device(s): %(items)s.") % {"items": ", ".join(unknown)})
        plan.m2m["devices"] = found

    def find_device(self, item: str) -> int | None:
        if item in self.serials:
            return self.serials[item]
        key = site_and_name(item, None, self.sites)
        if key is None:
            return None
        try:
            return self.devices.get(key[1], key[0])
        except Ambiguous:
            return None

    def written(self, plans: list[Plan[m.MaintenanceContract]]) -> None:
        changed = [
            p
            for p in plans
            if "devices" in p.m2m and p.m2m["devices"] != p.m2m_before.get("devices")
        ]
        Through.objects.filter(**{f"{CONTRACT_FK}__in": [p.obj.pk for p in changed]}).delete()
        Through.objects.bulk_create(
            [
                Through(**{CONTRACT_FK: p.obj.pk, DEVICE_FK: device})
                for p in changed
                for device in sorted(p.m2m["devices"])
            ],
            batch_size=500,
        )


def _device_ref(device: m.Device) -> str:
    return device.serial or f"{device.site.code}/{device.name}"


def export_rows(user: User) -> Iterator[dict[str, Any]]:
    contracts = visible(user, m.MaintenanceContract).order_by("number")
    covered = visible(user, m.Device).select_related("site").order_by("site__code", "name")
    by_contract: dict[int, list[str]] = {}
    for contract_id, device in _coverage(contracts, covered):
        by_contract.setdefault(contract_id, []).append(_device_ref(device))
    for contract in contracts:
        yield {
            "number": contract.number,
            "name": contract.name,
            "provider": contract.provider,
            "provider_kind": contract.provider_kind,
            "coverage": contract.coverage,
            "starts_on": contract.starts_on,
            "ends_on": contract.ends_on,
            "cost": contract.cost,
            "devices": ";".join(by_contract.get(contract.pk, [])),
            "notes": contract.notes,
        }


def _coverage(contracts: Any, devices: Any) -> Iterator[tuple[int, m.Device]]:
    """(contract id, device) for the devices the user may see; never another branch's."""
    links = Through.objects.filter(
        **{f"{CONTRACT_FK}__in": contracts.values("pk"), f"{DEVICE_FK}__in": devices.values("pk")}
    ).values_list(CONTRACT_FK, DEVICE_FK)
    by_device: dict[int, list[int]] = {}
    for contract_id, device_id in links:
        by_device.setdefault(device_id, []).append(contract_id)
    covered = devices.filter(pk__in=Through.objects.values(DEVICE_FK))
    for device in covered:
        for contract_id in by_device.get(device.pk, ()):
            yield contract_id, device
