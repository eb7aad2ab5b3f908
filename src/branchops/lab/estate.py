"""The demo estate of "示例证券 / Example Securities": build it as data, then load it.

``build`` is pure: the same number of branches, seed and ``today`` always give the same
estate, drawn from ``random.Random`` streams seeded from ``seed`` (never the global random
generator, never the clock). ``load`` writes an estate to the database in one transaction.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from branchops.lab import contacts, contracts, devices, links, sites, systems
from branchops.lab.draft import MAX_SITES, Draft
from branchops.lab.geography import PROVINCES
from branchops.lab.loading import LoadSummary, Progress, delete_estate, is_loaded, load
from branchops.lab.spec import Estate

__all__ = [
    "MAX_BRANCHES",
    "Estate",
    "LoadSummary",
    "Progress",
    "build",
    "delete_estate",
    "is_loaded",
    "load",
]

# Room in the 127/8 address plan after the data centres and one centre per province.
MAX_BRANCHES = MAX_SITES - 3 - len(PROVINCES)


def build(branches: int, seed: int, today: dt.date | None = None) -> Estate:
    """The estate with ``branches`` branches; contract and other dates are relative to
    ``today`` (default: the local date); management addresses start at 127.<block>.0.0
    (BRANCHOPS_LAB_ADDRESS_BLOCK, default 1)."""
    if not 1 <= branches <= MAX_BRANCHES:
        raise ValueError(f"branches must be between 1 and {MAX_BRANCHES}, not {branches}")
    draft = Draft(seed, today or timezone.localdate(), settings.LAB_ADDRESS_BLOCK)
    sites.add_regions(draft)
    sites.add_sites(draft, branches)
    devices.add_devices(draft)
    links.add_links(draft)
    contacts.add_contacts(draft)
    systems.add_systems(draft)
    contracts.add_contracts(draft)
    return draft.finish(branches)
