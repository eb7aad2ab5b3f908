"""The estate while it is being built: rows so far, and the rules every new device follows.

Each building stage draws from its own random stream (``Draft.rng(stage)``), seeded from
the estate's seed and the stage's name, so a change in one stage does not reshuffle the
others and the same seed always gives the same estate.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from branchops.cmdb.choices import DeviceStatus, SiteStatus
from branchops.lab import catalogue
from branchops.lab.people import People
from branchops.lab.spec import (
    ContactRow,
    ContractRow,
    DeploymentRow,
    DeviceRow,
    Estate,
    LinkRow,
    RegionRow,
    SiteRow,
    SystemRow,
)

# Management addresses are 127.<block + site // 250>.<site % 250>.<10 + device>: always
# inside 127.0.0.0/8, never 127.0.0.1, unique, and readable (the third octet names the site).
# The block (default 1, BRANCHOPS_LAB_ADDRESS_BLOCK) lets two labs share one machine: the
# lab's faults drop traffic by address, so each needs addresses of its own.
SITES_PER_OCTET = 250
FIRST_HOST = 10
MAX_DEVICES_PER_SITE = 255 - FIRST_HOST
MAX_SITES = (255 - 1) * SITES_PER_OCTET

# Devices that carry a whole site rarely sit in a non-active state in the CMDB.
_STEADY_ROLES = frozenset({"firewall", "vpn-concentrator", "core-switch"})


def management_ip(site_index: int, device_index: int, block: int = 1) -> str:
    if not 0 <= site_index < MAX_SITES - (block - 1) * SITES_PER_OCTET:
        raise ValueError(f"site index {site_index} does not fit the 127/8 address plan")
    if not 0 <= device_index < MAX_DEVICES_PER_SITE:
        raise ValueError(f"device index {device_index} does not fit the 127/8 address plan")
    octet2, octet3 = divmod(site_index, SITES_PER_OCTET)
    return f"127.{block + octet2}.{octet3}.{FIRST_HOST + device_index}"


class Draft:
    def __init__(self, seed: int, today: dt.date, address_block: int = 1) -> None:
        self.seed = seed
        self.today = today
        self.address_block = address_block
        self.regions: list[RegionRow] = []
        self.sites: list[SiteRow] = []
        self.devices: list[DeviceRow] = []
        self.links: list[LinkRow] = []
        self.contacts: list[ContactRow] = []
        self.systems: list[SystemRow] = []
        self.deployments: list[DeploymentRow] = []
        self.contracts: list[ContractRow] = []
        self.people = People(self.rng("people"))
        self.site_by_code: dict[str, SiteRow] = {}
        self.devices_at: dict[str, list[DeviceRow]] = defaultdict(list)
        self._site_index: dict[str, int] = {}
        self._serials: set[str] = set()
        self._tokens: set[str] = set()
        self._asset_seq = 0
        # Dates and serials have streams of their own, so that what a site holds does not
        # change with ``today``.
        self._dates = self.rng("device-dates")
        self._serial_digits = self.rng("serials")

    def rng(self, stage: str) -> random.Random:
        return random.Random(f"example-securities:{self.seed}:{stage}")

    def days_ago(self, rng: random.Random, low: int, high: int) -> dt.date:
        return self.today - dt.timedelta(days=rng.randint(low, high))

    def add_site(self, site: SiteRow) -> SiteRow:
        if site.code in self.site_by_code:
            raise ValueError(f"duplicate site code {site.code}")
        self._site_index[site.code] = len(self.sites)
        self.sites.append(site)
        self.site_by_code[site.code] = site
        return site

    def unique_token(self, rng: random.Random, make: str, digits: int = 7) -> str:
        """``make`` with ``{n}`` replaced by random digits, never the same twice."""
        while True:
            token = make.format(n=f"{rng.randrange(10**digits):0{digits}d}")
            if token not in self._tokens:
                self._tokens.add(token)
                return token

    def add_device(
        self,
        rng: random.Random,
        site_code: str,
        suffix: str,
        role: str,
        model_name: str,
        *,
        on: DeviceRow | None = None,
        criticality: int,
        platform: str | None = None,
        description: str = "",
    ) -> DeviceRow:
        site = self.site_by_code[site_code]
        at_site = self.devices_at[site_code]
        model = catalogue.MODEL_BY_NAME[model_name]
        vendor = catalogue.VENDOR_BY_SLUG[model.vendor]
        platform = platform or model.platform
        status = self._status(rng, site, role)
        installed_on = None if status == DeviceStatus.PLANNED else self._installed_on(site)
        year = (installed_on or self.today).year
        serial = catalogue.serial_number(vendor, model, year, self._serial_digits)
        while serial in self._serials:
            serial = catalogue.serial_number(vendor, model, year, self._serial_digits)
        self._serials.add(serial)
        self._asset_seq += 1
        device = DeviceRow(
            name=f"{site_code}-{suffix}",
            site=site_code,
            role=role,
            manufacturer=vendor.slug,
            model=model.name,
            platform=platform,
            serial=serial,
            asset_tag=f"EXS-{year}-{self._asset_seq:06d}",
            status=status,
            management_ip=management_ip(
                self._site_index[site_code], len(at_site), self.address_block
            ),
            firmware_version=catalogue.firmware_for(model, platform, rng),
            criticality=criticality,
            depends_on=on.name if on else None,
            installed_on=installed_on,
            description=description,
        )
        if on is not None and on.site != site_code:
            raise ValueError(f"{device.name} cannot depend on a device at another site")
        at_site.append(device)
        self.devices.append(device)
        return device

    def _status(self, rng: random.Random, site: SiteRow, role: str) -> str:
        if site.status == SiteStatus.PLANNED:
            return DeviceStatus.PLANNED
        roll = rng.random()
        if role in _STEADY_ROLES:
            return DeviceStatus.MAINTENANCE if roll < 0.004 else DeviceStatus.ACTIVE
        if roll < 0.012:
            return DeviceStatus.MAINTENANCE
        if roll < 0.02:
            return DeviceStatus.FAILED
        if roll < 0.025:
            return DeviceStatus.PLANNED
        return DeviceStatus.ACTIVE

    def _installed_on(self, site: SiteRow) -> dt.date:
        # Kit is replaced every few years, so nothing in service is older than ~7 years.
        latest = self.today - dt.timedelta(days=14)
        earliest = min(max(site.opened_on, self.today - dt.timedelta(days=7 * 365)), latest)
        return earliest + dt.timedelta(days=self._dates.randint(0, (latest - earliest).days))

    def finish(self, branches: int) -> Estate:
        return Estate(
            seed=self.seed,
            branches=branches,
            today=self.today,
            regions=tuple(self.regions),
            sites=tuple(self.sites),
            manufacturers=catalogue.manufacturer_rows(),
            platforms=catalogue.platform_rows(),
            device_models=catalogue.device_model_rows(),
            devices=tuple(self.devices),
            links=tuple(self.links),
            contacts=tuple(self.contacts),
            systems=tuple(self.systems),
            deployments=tuple(self.deployments),
            contracts=tuple(self.contracts),
        )
