"""Importing and exporting WAN links: VPN tunnels, leased lines and internet lines.

Ends are named by site code; devices by their name at that end's site (or "site code/device
name"); a tunnel's underlay by the internet line's link name, possibly a row of the file.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any

from django.utils.translation import gettext as _

from branchops.cmdb import models as m
from branchops.cmdb.choices import LinkKind
from branchops.cmdb.importing.devices import site_and_name
from branchops.cmdb.importing.engine import Ambiguous, Importer, Index, Plan, Ref, Row, lookup
from branchops.cmdb.importing.kinds import LINKS
from branchops.cmdb.scoping import visible
from branchops.core.models import User


class LinkImporter(Importer[m.Link]):
    kind = LINKS
    model = m.Link
    rule_columns = frozenset({"kind", "a_site", "a_device", "b_site", "b_device"})

    def preload(self) -> None:
        self.sites = Index[m.Site]()
        for pk, code in m.Site.objects.values_list("pk", "code"):
            self.sites.add(code, m.Site(pk=pk, code=code))
        self.devices = Index[m.Device]()
        for device in m.Device.objects.only("pk", "site_id", "name"):
            self.devices.add(device.name, device, device.site_id)
        self.links: dict[str, m.Link] = {}
        self.link_names = Index[m.Link]()
        related = ("a_device", "b_device", "underlay")
        for link in m.Link.objects.select_related(*related):
            self.links[link.name] = link
            self.link_names.add(link.name, link)

    def key_of(self, row: Row) -> Hashable | None:
        name: str | None = row.parse("name")
        return name

    def existing(self, key: Hashable) -> m.Link | None:
        return self.links.get(str(key))

    def resolve(self, row: Row, plan: Plan[m.Link]) -> None:
        link = plan.obj
        for end in ("a", "b"):
            site_code = f"{end}_site"
            if row.has(site_code):
                text = row.parse(site_code)
                site = lookup(row, site_code, self.sites, text) if text else None
                setattr(link, f"{end}_site", site)
            device_code = f"{end}_device"
            if row.has(device_code):
                setattr(link, device_code, self.find_device(row, device_code, link, end))
        self.defer(plan, "underlay", "underlay")

    def find_device(self, row: Row, code: str, link: m.Link, end: str) -> m.Device | None:
        text = row.parse(code)
        if not text:
            return None
        site_id = getattr(link, f"{end}_site_id")
        key = site_and_name(text, site_id, self.sites)
        if key is None:
            return None  # the site column already says what is wrong
        try:
            found = self.devices.get(key[1], key[0]) or self.devices.get(text, site_id)
        except Ambiguous:
            found = None
        if found is None:
            row.error(code, _("%(name)s is not known.") % {"name": text})
        return found

    def check(self, row: Row, plan: Plan[m.Link]) -> None:
        # Link.clean() checks an underlay only when it is stored; check_ref() does that
        # once the reference (maybe to a row further down) is resolved.
        link = plan.obj
        underlay = link.underlay_id
        if row.has("underlay"):
            link.underlay_id = None
        self.clean_model(row, link)
        link.underlay_id = underlay

    def target_in_file(self, ref: Ref) -> Plan[m.Link] | None:
        return self.plans.get(ref.text)

    def target_in_db(self, ref: Ref) -> m.Link | None:
        return self.link_names.get(ref.text)

    def check_ref(self, ref: Ref, target: m.Link) -> None:
        if ref.plan.obj.kind != LinkKind.VPN:
            ref.plan.line.error(ref.code, _("Only a VPN tunnel runs over another line."))
        elif target.kind != LinkKind.INTERNET:
            ref.plan.line.error(ref.code, _("A VPN tunnel runs over an internet line."))


def _device_name(device: m.Device | None, site_id: int | None) -> str:
    if device is None:
        return ""
    if device.site_id == site_id and "/" not in device.name:
        return device.name
    return f"{device.site.code}/{device.name}"


def export_rows(user: User) -> Iterator[dict[str, Any]]:
    links = visible(user, m.Link).select_related(
        "a_site", "b_site", "a_device__site", "b_device__site", "underlay"
    )
    for link in links.order_by("name"):
        yield {
            "name": link.name,
            "kind": link.kind,
            "role": link.role,
            "status": link.status,
            "a_site": link.a_site.code,
            "a_device": _device_name(link.a_device, link.a_site_id),
            "b_site": link.b_site.code if link.b_site else "",
            "b_device": _device_name(link.b_device, link.b_site_id),
            "underlay": link.underlay.name if link.underlay else "",
            "carrier": link.carrier,
            "circuit_id": link.circuit_id,
            "bandwidth_mbps": link.bandwidth_mbps,
            "description": link.description,
        }
