"""Importing and exporting devices.

A device is identified by its site code and name. Its model is named by manufacturer and
model (two columns, or "manufacturer model" in one), its role and platform by code or name,
its upstream device (``depends_on``) by a name at the same site or "site code/device name".
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any, cast

from django.utils.translation import gettext as _

from branchops.cmdb import models as m
from branchops.cmdb.importing.engine import (
    BATCH,
    Ambiguous,
    Importer,
    Index,
    Plan,
    Ref,
    Row,
    lookup,
)
from branchops.cmdb.importing.kinds import DEVICES
from branchops.cmdb.scoping import visible
from branchops.core.models import User

DeviceKey = tuple[int, str]  # (site id, device name)


def site_and_name(text: str, default_site: int | None, sites: Index[m.Site]) -> DeviceKey | None:
    """Where "name" or "site code/name" points: at ``default_site`` unless a site is named."""
    if "/" in text:
        code, _sep, name = text.partition("/")
        site = sites.get(code.strip())
        if site is not None:
            return (site.pk, name.strip())
    return (default_site, text) if default_site is not None else None


class DeviceImporter(Importer[m.Device]):
    kind = DEVICES
    model = m.Device
    rule_columns = frozenset()

    def preload(self) -> None:
        self.sites = Index[m.Site]()
        self.site_codes: dict[int, str] = {}
        for pk, code in m.Site.objects.values_list("pk", "code"):
            site = m.Site(pk=pk, code=code)
            self.sites.add(code, site)
            self.site_codes[pk] = code
        self.roles = Index[m.DeviceRole]()
        for role in m.DeviceRole.objects.all():
            for name in (role.slug, role.name, role.name_en):
                self.roles.add(name, role)
        self.makers = Index[m.Manufacturer]()
        for maker in m.Manufacturer.objects.all():
            self.makers.add(maker.slug, maker)
            self.makers.add(maker.name, maker)
        self.models = Index[m.DeviceModel]()  # scoped by manufacturer id, and unscoped
        for model in m.DeviceModel.objects.all():
            self.models.add(model.name, model, model.manufacturer_id)
            self.models.add(model.name, model)
        self.platforms = Index[m.Platform]()
        for platform in m.Platform.objects.all():
            self.platforms.add(platform.slug, platform)
            self.platforms.add(platform.name, platform)
        self.devices: dict[DeviceKey, m.Device] = {}
        self.device_names = Index[m.Device]()
        for device in m.Device.objects.all():
            self.devices[(device.site_id, device.name)] = device
            self.device_names.add(device.name, device, device.site_id)

    def key_of(self, row: Row) -> Hashable | None:
        code, name = row.parse("site"), row.parse("name")
        site = lookup(row, "site", self.sites, code) if code else None
        if site is None or not name:
            return None
        return (site.pk, name)

    def existing(self, key: Hashable) -> m.Device | None:
        return self.devices.get(cast(DeviceKey, key))

    def new(self, row: Row, key: Hashable) -> m.Device:
        device = m.Device()
        if key is not None:
            device.site_id = cast(DeviceKey, key)[0]
        return device

    def resolve(self, row: Row, plan: Plan[m.Device]) -> None:
        device = plan.obj
        if row.has("role") and (text := row.parse("role")):
            role = lookup(row, "role", self.roles, text)
            if role is not None:
                device.role = role
        if row.has("model") and (text := row.parse("model")):
            model = self.find_model(row, text)
            if model is not None:
                device.device_model = model
        if row.has("platform"):
            text = row.parse("platform")
            device.platform = lookup(row, "platform", self.platforms, text) if text else None
        self.defer(plan, "depends_on", "depends_on")

    def find_model(self, row: Row, text: str) -> m.DeviceModel | None:
        maker_text = row.parse("manufacturer") if row.has("manufacturer") else None
        if maker_text:
            maker = lookup(row, "manufacturer", self.makers, maker_text)
            if maker is None:
                return None
            found = self.models.get(text, maker.pk)
            if found is None:
                row.error(
                    "model",
                    _("%(maker)s has no model %(model)s.") % {"maker": maker.name, "model": text},
                )
            return found
        try:
            found = self.models.get(text)
        except Ambiguous:
            row.error(
                "model",
                _("Several manufacturers make %(model)s; fill in the manufacturer.")
                % {"model": text},
            )
            return None
        found = found or self.split_model(text)
        if found is None:
            row.error("model", _("%(name)s is not known.") % {"name": text})
        return found

    def split_model(self, text: str) -> m.DeviceModel | None:
        """ "Hillstone SG-6000-E2300" or "Hillstone + SG-6000-E2300": a maker, then its model."""
        words = text.replace("+", " ").split()
        for cut in range(1, len(words)):
            try:
                maker = self.makers.get(" ".join(words[:cut]))
                if maker is not None:
                    found = self.models.get(" ".join(words[cut:]), maker.pk)
                    if found is not None:
                        return found
            except Ambiguous:
                continue
        return None

    def check(self, row: Row, plan: Plan[m.Device]) -> None:
        # Device.clean() only looks for dependency loops, querying per step; check_all()
        # does that on the preloaded devices.
        del row, plan

    def target_in_file(self, ref: Ref) -> Plan[m.Device] | None:
        key = site_and_name(ref.text, ref.plan.obj.site_id, self.sites)
        if key in self.plans:
            return self.plans[key]
        if "/" in ref.text:  # a name with a slash in it, at the device's own site
            return self.plans.get((ref.plan.obj.site_id, ref.text))
        return None

    def target_in_db(self, ref: Ref) -> m.Device | None:
        key = site_and_name(ref.text, ref.plan.obj.site_id, self.sites)
        if key is None:
            return None
        return self.device_names.get(key[1], key[0]) or self.device_names.get(
            ref.text, ref.plan.obj.site_id
        )

    def before_write(self, updates: list[Plan[m.Device]]) -> None:
        # Serials and asset tags may move between devices in one file (a swap, or a new
        # device taking over the serial of a replaced one). The database checks uniqueness
        # row by row, so the old values are cleared first; an empty value is never unique.
        for name in ("serial", "asset_tag"):
            ids = [p.obj.pk for p in updates if name in p.changed]
            for start in range(0, len(ids), BATCH):
                m.Device.objects.filter(pk__in=ids[start : start + BATCH]).update(**{name: ""})

    def check_all(self) -> None:
        self.check_loops()
        for name in ("serial", "asset_tag"):
            self.check_unique(name)

    def check_unique(self, name: str) -> None:
        """Serials and asset tags are unique across the estate, after the import too."""
        owner: dict[str, m.Device | Plan[m.Device]] = {}
        for stored, device in self.devices.items():
            value = getattr(device, name)
            if value and stored not in self.plans:
                owner[value] = device
        for plan in self.plans.values():
            value = getattr(plan.obj, name)
            if not value:
                continue
            holder = owner.setdefault(value, plan)
            if holder is plan:
                continue
            label = self.kind.column(name).header(self.headers.language)
            if isinstance(holder, Plan):
                message = _("%(what)s %(value)s is already on row %(row)d.") % {
                    "what": label,
                    "value": value,
                    "row": holder.row,
                }
            elif self.scope.scoped:  # never name another branch's device to a liaison
                message = _("%(what)s %(value)s is already used by another device.") % {
                    "what": label,
                    "value": value,
                }
            else:
                message = _("%(what)s %(value)s is already used by device %(device)s.") % {
                    "what": label,
                    "value": value,
                    "device": self.label(holder),
                }
            plan.line.error(name, message)

    def label(self, device: m.Device) -> str:
        return f"{self.site_codes.get(device.site_id, '?')}/{device.name}"

    def check_loops(self) -> None:
        """No device may (indirectly) depend on itself (Device.clean, on preloaded data)."""
        by_id = {d.pk: key for key, d in self.devices.items()}
        parent: dict[Hashable, Hashable] = {}
        for stored, device in self.devices.items():
            if device.depends_on_id is not None and device.depends_on_id in by_id:
                parent[stored] = by_id[device.depends_on_id]
        for key, plan in self.plans.items():
            target = plan.pending.get("depends_on")
            if target is not None:
                parent[key] = target.key
            elif plan.obj.depends_on_id is not None and plan.obj.depends_on_id in by_id:
                parent[key] = by_id[plan.obj.depends_on_id]
            else:
                parent.pop(key, None)
        safe: set[Hashable] = set()  # devices whose chain ends without a loop
        for key, plan in self.plans.items():
            seen: list[Hashable] = []
            current: Hashable | None = key
            while current is not None and current not in safe:
                if current in seen:
                    if current == key:
                        plan.line.error("depends_on", _("This would make a dependency loop."))
                    break  # a loop further up is reported on its own rows
                seen.append(current)
                current = parent.get(current)
            else:
                safe.update(seen)


def export_rows(user: User) -> Iterator[dict[str, Any]]:
    devices = visible(user, m.Device).select_related(
        "site", "role", "device_model__manufacturer", "platform", "depends_on__site"
    )
    for device in devices.order_by("site__code", "name"):
        upstream = device.depends_on
        if upstream is None:
            depends_on = ""
        elif upstream.site_id == device.site_id and "/" not in upstream.name:
            depends_on = upstream.name
        else:
            depends_on = f"{upstream.site.code}/{upstream.name}"
        yield {
            "site": device.site.code,
            "name": device.name,
            "role": device.role.slug,
            "manufacturer": device.device_model.manufacturer.name,
            "model": device.device_model.name,
            "platform": device.platform.slug if device.platform else "",
            "serial": device.serial,
            "asset_tag": device.asset_tag,
            "status": device.status,
            "management_ip": device.management_ip or "",
            "firmware_version": device.firmware_version,
            "criticality": device.criticality,
            "depends_on": depends_on,
            "installed_on": device.installed_on,
            "description": device.description,
        }
