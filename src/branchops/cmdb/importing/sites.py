"""Importing and exporting sites (branches, regional centres, data centres)."""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from typing import Any

from django.utils.translation import gettext as _

from branchops.cmdb import models as m
from branchops.cmdb.choices import SiteKind
from branchops.cmdb.importing.engine import Importer, Index, Plan, Ref, Row, lookup
from branchops.cmdb.importing.kinds import SITES
from branchops.cmdb.scoping import visible
from branchops.core.models import BusinessCalendar, User


class SiteImporter(Importer[m.Site]):
    kind = SITES
    model = m.Site
    rule_columns = frozenset({"latitude", "longitude"})

    def preload(self) -> None:
        self.sites = Index[m.Site]()
        self.by_code: dict[str, m.Site] = {}
        for site in m.Site.objects.all():
            self.by_code[site.code] = site
            self.sites.add(site.code, site)
        self.regions = Index[m.Region]()
        for region in m.Region.objects.all():
            self.regions.add(region.code, region)
            self.regions.add(region.name, region)
        self.calendars = Index[BusinessCalendar]()
        for calendar in BusinessCalendar.objects.all():
            for name in (calendar.code, calendar.name, calendar.name_en):
                self.calendars.add(name, calendar)

    def key_of(self, row: Row) -> Hashable | None:
        code: str | None = row.parse("code")
        return code

    def existing(self, key: Hashable) -> m.Site | None:
        return self.by_code.get(str(key))

    def resolve(self, row: Row, plan: Plan[m.Site]) -> None:
        site = plan.obj
        if row.has("region") and (text := row.parse("region")):
            region = lookup(row, "region", self.regions, text)
            if region is not None:
                site.region = region
        if row.has("calendar"):
            text = row.parse("calendar")
            site.calendar = lookup(row, "calendar", self.calendars, text) if text else None
        self.defer(plan, "support_centre", "support_centre")

    def check(self, row: Row, plan: Plan[m.Site]) -> None:
        # Site.clean() on preloaded data: the support centre's kind is checked in
        # check_ref(), as it may be a row further down the file.
        site = plan.obj
        if (site.latitude is None) != (site.longitude is None):
            row.error(
                "longitude" if row.has("longitude") else "latitude",
                _("Give both latitude and longitude, or neither."),
            )

    def target_in_file(self, ref: Ref) -> Plan[m.Site] | None:
        return self.plans.get(ref.text)

    def target_in_db(self, ref: Ref) -> m.Site | None:
        return self.sites.get(ref.text)

    def check_ref(self, ref: Ref, target: m.Site) -> None:
        if target.kind != SiteKind.REGIONAL_CENTRE:
            ref.plan.line.error(ref.code, _("Choose a regional centre."))


def export_rows(user: User) -> Iterator[dict[str, Any]]:
    sites = visible(user, m.Site).select_related("region", "support_centre", "calendar")
    for site in sites.order_by("code"):
        yield {
            "code": site.code,
            "name": site.name,
            "kind": site.kind,
            "status": site.status,
            "region": site.region.code,
            "support_centre": site.support_centre.code if site.support_centre else "",
            "calendar": site.calendar.code if site.calendar else "",
            "address": site.address,
            "latitude": site.latitude,
            "longitude": site.longitude,
            "opened_on": site.opened_on,
            "description": site.description,
        }
