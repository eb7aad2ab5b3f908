"""The estate as data: deterministic, complete, and shaped the way correlation and the lab
need it (dependencies, VPN pairs, loopback addresses). No database needed."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections import Counter

import pytest

from branchops.cmdb.capability import default_for
from branchops.cmdb.choices import DeploymentRole, LinkKind, LinkRole, SiteKind, SiteStatus
from branchops.cmdb.models import MaintenanceContract
from branchops.lab import geography
from branchops.lab.draft import management_ip
from branchops.lab.estate import build
from branchops.lab.spec import DR_CONCENTRATOR, HQ_CONCENTRATOR, Estate

TODAY = dt.date(2026, 11, 22)
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


@pytest.fixture(scope="module")
def small() -> Estate:
    return build(8, seed=7, today=TODAY)


@pytest.fixture(scope="module")
def full() -> Estate:
    return build(620, seed=2026, today=TODAY)


def test_same_seed_and_size_give_the_same_estate() -> None:
    assert build(8, seed=7, today=TODAY) == build(8, seed=7, today=TODAY)
    assert build(8, seed=7, today=TODAY) != build(8, seed=8, today=TODAY)


def test_today_moves_dates_but_not_what_each_site_holds() -> None:
    now, later = build(8, 7, TODAY), build(8, 7, TODAY + dt.timedelta(days=400))
    assert [(d.name, d.model, d.management_ip) for d in now.devices] == [
        (d.name, d.model, d.management_ip) for d in later.devices
    ]
    assert now.contracts[0].ends_on != later.contracts[0].ends_on


def test_rejects_impossible_sizes() -> None:
    with pytest.raises(ValueError, match="branches"):
        build(0, seed=1, today=TODAY)


def test_full_estate_has_the_promised_shape(full: Estate) -> None:
    kinds = Counter(s.kind for s in full.sites)
    assert kinds[SiteKind.BRANCH] == 620
    assert kinds[SiteKind.REGIONAL_CENTRE] == 31
    assert kinds[SiteKind.HQ_DATA_CENTRE] == kinds[SiteKind.SAME_CITY_DR] == 1
    assert kinds[SiteKind.REMOTE_DR] == 1
    assert len(full.devices) >= 5000
    assert 10 <= sum(d.site.startswith("BR-") for d in full.devices) / 620 <= 14
    levels = Counter(r.level for r in full.regions)
    assert (levels["region"], levels["province"]) == (7, 31)
    assert levels["city"] >= 150
    statuses = Counter(s.status for s in full.sites)
    assert statuses[SiteStatus.PLANNED] > 0
    assert statuses[SiteStatus.SUSPENDED] > 0
    assert 15 <= len(full.contracts) <= 30


def test_names_codes_serials_and_tags_are_unique(full: Estate) -> None:
    for values in (
        [s.code for s in full.sites],
        [s.name for s in full.sites],
        [r.code for r in full.regions],
        [d.name for d in full.devices],
        [d.serial for d in full.devices],
        [d.asset_tag for d in full.devices],
        [link.name for link in full.links],
        [c.key for c in full.contacts],
        [c.number for c in full.contracts],
    ):
        assert len(values) == len(set(values))
    branch = re.compile(r"^示例证券\w+营业部$")
    assert all(branch.match(s.name) for s in full.sites_of_kind(SiteKind.BRANCH))
    assert all(re.fullmatch(r"EXS-\d{4}-\d{6}", d.asset_tag) for d in full.devices)


def test_sites_point_at_their_province_centre_and_calendar(full: Estate) -> None:
    by_code = {s.code: s for s in full.sites}
    for site in full.sites_of_kind(SiteKind.BRANCH):
        centre = by_code[site.support_centre or ""]
        assert centre.kind == SiteKind.REGIONAL_CENTRE
        assert centre.province == site.province
        assert site.calendar == "xshg-trading"
        assert site.address.startswith(geography.PROVINCE_BY_ISO[site.province].name)
    capitals = {p.iso: geography.capital_of(p).code for p in geography.PROVINCES}
    for centre in full.sites_of_kind(SiteKind.REGIONAL_CENTRE):
        assert centre.region == capitals[centre.province]
    for code in ("DC-SH-HQ", "DC-SH-DR", "DC-SZ-DR"):
        assert by_code[code].calendar == "24x7"


@pytest.mark.parametrize("estate_name", ["small", "full"])
def test_every_branch_device_hangs_off_the_branch_firewall(
    estate_name: str, request: pytest.FixtureRequest
) -> None:
    estate: Estate = request.getfixturevalue(estate_name)
    devices = {d.name: d for d in estate.devices}
    branch_devices = [d for d in estate.devices if d.site.startswith("BR-")]
    assert branch_devices
    for device in branch_devices:
        seen: set[str] = set()
        current = device
        while current.depends_on is not None:
            assert current.name not in seen, f"dependency loop at {current.name}"
            seen.add(current.name)
            current = devices[current.depends_on]
            assert current.site == device.site
        assert current.role == "firewall"
        assert current.name == f"{device.site}-FW01"


def test_branch_roles_follow_the_topology(small: Estate) -> None:
    for site in small.sites_of_kind(SiteKind.BRANCH):
        at_site = {d.name: d for d in small.devices if d.site == site.code}
        roles = Counter(d.role for d in at_site.values())
        assert roles["firewall"] == roles["core-switch"] == roles["wifi-controller"] == 1
        assert roles["behaviour-gateway"] == 1
        assert 0 <= roles["access-switch"] <= 2
        assert 2 <= roles["wifi-ap"] <= 10
        assert 1 <= roles["server"] + roles["hypervisor"] <= 2
        for device in at_site.values():
            parent = at_site[device.depends_on].role if device.depends_on else None
            expected = {
                "firewall": None,
                "core-switch": "firewall",
                "access-switch": "core-switch",
                "wifi-controller": "core-switch",
                "behaviour-gateway": "core-switch",
                "wifi-ap": "wifi-controller",
            }.get(device.role, "switch")
            if expected == "switch":
                assert parent in ("core-switch", "access-switch")
            else:
                assert parent == expected, device.name


@pytest.mark.parametrize("estate_name", ["small", "full"])
def test_each_edge_site_has_a_vpn_pair_over_its_internet_line(
    estate_name: str, request: pytest.FixtureRequest
) -> None:
    estate: Estate = request.getfixturevalue(estate_name)
    links = {link.name: link for link in estate.links}
    for site in estate.sites:
        if site.kind not in (SiteKind.BRANCH, SiteKind.REGIONAL_CENTRE):
            continue
        own = [link for link in estate.links if link.a_site == site.code]
        internet = [link for link in own if link.kind == LinkKind.INTERNET]
        assert len(internet) == 1
        assert internet[0].b_site is None
        assert internet[0].carrier
        vpns = [link for link in own if link.kind == LinkKind.VPN]
        primary = [v for v in vpns if v.role == LinkRole.PRIMARY]
        backup = [v for v in vpns if v.role == LinkRole.BACKUP]
        assert [v.b_device for v in primary] == [HQ_CONCENTRATOR]
        assert [v.b_device for v in backup] == [DR_CONCENTRATOR]
        for tunnel in vpns:
            assert tunnel.a_device == f"{site.code}-FW01"
            assert tunnel.underlay == internet[0].name
            assert links[tunnel.underlay].kind == LinkKind.INTERNET
    leased = [
        link
        for link in estate.links
        if link.kind == LinkKind.LEASED_LINE and link.a_site.startswith("BR-")
    ]
    assert all(link.b_device == HQ_CONCENTRATOR and link.circuit_id for link in leased)
    if estate_name == "full":
        assert 0.2 <= len(leased) / 620 <= 0.4
        between_dcs = [link for link in estate.links if link.a_site.startswith("DC-")]
        assert {link.kind for link in between_dcs} == {LinkKind.LEASED_LINE, LinkKind.INTERNET}


def test_two_labs_on_one_machine_get_disjoint_address_blocks(settings) -> None:  # type: ignore[no-untyped-def]
    settings.LAB_ADDRESS_BLOCK = 1
    first = {d.management_ip for d in build(8, seed=7, today=TODAY).devices}
    settings.LAB_ADDRESS_BLOCK = 40
    second = {d.management_ip for d in build(8, seed=7, today=TODAY).devices}
    assert first.isdisjoint(second)
    assert all(address.startswith("127.40.") for address in second)
    with pytest.raises(ValueError, match="127/8"):
        management_ip(250, 0, block=254)  # a block near the top leaves room for fewer sites


@pytest.mark.parametrize("estate_name", ["small", "full"])
def test_management_addresses_are_unique_loopback_and_never_127_0_0_1(
    estate_name: str, request: pytest.FixtureRequest
) -> None:
    estate: Estate = request.getfixturevalue(estate_name)
    addresses = [ipaddress.ip_address(d.management_ip) for d in estate.devices]
    assert len(addresses) == len(set(addresses))
    assert all(a in LOOPBACK for a in addresses)
    assert ipaddress.ip_address("127.0.0.1") not in addresses


def test_address_plan_stays_in_loopback_far_beyond_a_thousand_branches() -> None:
    last = ipaddress.ip_address(management_ip(63_499, 244))
    assert last in LOOPBACK
    with pytest.raises(ValueError, match="127/8"):
        management_ip(63_500, 0)
    with pytest.raises(ValueError, match="127/8"):
        management_ip(0, 245)


@pytest.mark.parametrize("estate_name", ["small", "full"])
def test_contracts_include_lapsed_lapsing_and_running_ones(
    estate_name: str, request: pytest.FixtureRequest
) -> None:
    estate: Estate = request.getfixturevalue(estate_name)
    states = Counter(
        MaintenanceContract(starts_on=c.starts_on, ends_on=c.ends_on).state(TODAY)
        for c in estate.contracts
    )
    assert states["expired"] >= 1
    assert states["expiring"] >= 1
    assert states["active"] > states["expired"]
    names = {d.name for d in estate.devices}
    for contract in estate.contracts:
        assert contract.devices
        assert set(contract.devices) <= names
        assert contract.starts_on <= contract.ends_on
        assert contract.cost > 0
    hillstone = next(c for c in estate.contracts if c.name.startswith("山石网科防火墙"))
    assert hillstone.coverage == "7x24x4"


def test_every_system_is_deployed_where_its_category_requires(small: Estate) -> None:
    assert {s.code for s in small.systems} >= {"central-trading", "ta", "market-data"}
    roles: dict[str, set[str]] = {}
    for d in small.deployments:
        roles.setdefault(d.system, set()).add(d.role)
    for system in small.systems:
        assert system.required_capability == default_for(system.category)
        assert system.name
        assert system.name_en
        assert system.owner
        assert system.owner_contact
        must = {DeploymentRole.PRODUCTION, DeploymentRole.REMOTE_DR}
        if system.category == "real_time":
            must.add(DeploymentRole.SAME_CITY_DR)
        assert must <= roles[system.code], system.code
    hq = {d.system: d for d in small.deployments if d.role == DeploymentRole.PRODUCTION}
    assert all(d.site == "DC-SH-HQ" and d.device for d in hq.values())


def test_contacts_cover_every_branch(small: Estate) -> None:
    by_site: dict[str, set[str]] = {}
    for contact in small.contacts:
        for site in contact.sites:
            by_site.setdefault(site, set()).add(contact.role)
    for site in small.sites_of_kind(SiteKind.BRANCH):
        roles = by_site[site.code]
        assert {"branch_manager", "branch_it", "vendor_engineer", "carrier_support"} <= roles
    mobiles = [c.mobile for c in small.contacts]
    assert len(mobiles) == len(set(mobiles))
    assert all(re.fullmatch(r"13[5-9]-0000-\d{4}", m) for m in mobiles)
    assert all(c.email.endswith(".example") for c in small.contacts)


def test_city_data_is_plausible() -> None:
    cities = geography.cities()
    assert len(cities) >= 150
    assert {c.province.iso for c in cities} == set(geography.PROVINCE_BY_ISO)
    assert sum(c.weight for c in cities) == 620
    shanghai = geography.capital_of(geography.PROVINCE_BY_ISO["SH"])
    assert abs(float(shanghai.latitude) - 31.23) < 0.05
    assert abs(float(shanghai.longitude) - 121.47) < 0.05


def test_allocation_is_proportional_and_exact() -> None:
    assert geography.allocate([3, 2, 1], 6) == [3, 2, 1]
    assert geography.allocate([3, 2, 1], 3) == [2, 1, 0]
    assert sum(geography.allocate([c.weight for c in geography.cities()], 1000)) == 1000
