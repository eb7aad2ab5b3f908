"""WAN links: every branch and regional centre has an internet line and two VPN tunnels over
it (primary to the HQ concentrator, backup to the same-city DR concentrator); about 30 % of
branches also have a leased line to HQ; the data centres are joined by leased lines."""

from __future__ import annotations

import random

from branchops.cmdb.choices import LinkKind, LinkRole, LinkStatus, SiteKind, SiteStatus
from branchops.lab.devices import pick
from branchops.lab.draft import Draft
from branchops.lab.spec import (
    DR_CONCENTRATOR,
    HQ_CODE,
    HQ_CONCENTRATOR,
    REMOTE_DR_CODE,
    SAME_CITY_DR_CODE,
    LinkRow,
    SiteRow,
)

TELECOM, UNICOM, MOBILE = "中国电信", "中国联通", "中国移动"
CARRIER_CODES = {TELECOM: "CT", UNICOM: "CU", MOBILE: "CM"}
# China Unicom grew out of the northern incumbent; China Telecom is strongest in the south.
_NORTH = frozenset({"BJ", "TJ", "HE", "SX", "NM", "LN", "JL", "HL", "SD", "HA"})
LEASED_LINE_SHARE = 0.30


def carrier_for(rng: random.Random, province: str) -> str:
    if province in _NORTH:
        return pick(rng, ((UNICOM, 50), (TELECOM, 30), (MOBILE, 20)))
    return pick(rng, ((TELECOM, 55), (UNICOM, 25), (MOBILE, 20)))


def _circuit(draft: Draft, rng: random.Random, carrier: str, province: str, kind: str) -> str:
    return draft.unique_token(rng, f"{CARRIER_CODES[carrier]}-{province}-{kind}-{{n}}")


def _data_centre_links(draft: Draft, rng: random.Random) -> None:
    internet = (
        (HQ_CODE, HQ_CONCENTRATOR, TELECOM, 2000),
        (HQ_CODE, HQ_CONCENTRATOR, UNICOM, 2000),
        (SAME_CITY_DR_CODE, DR_CONCENTRATOR, MOBILE, 1000),
        (SAME_CITY_DR_CODE, DR_CONCENTRATOR, TELECOM, 1000),
        (REMOTE_DR_CODE, f"{REMOTE_DR_CODE}-FW01", TELECOM, 500),
    )
    numbers: dict[str, int] = {}
    for site, device, carrier, mbps in internet:
        numbers[site] = numbers.get(site, 0) + 1
        province = draft.site_by_code[site].province
        draft.links.append(
            LinkRow(
                name=f"{site} INTERNET {numbers[site]}",
                kind=LinkKind.INTERNET,
                role=LinkRole.PRIMARY if numbers[site] == 1 else LinkRole.BACKUP,
                status=LinkStatus.ACTIVE,
                a_site=site,
                a_device=device,
                b_site=None,
                b_device=None,
                carrier=carrier,
                circuit_id=_circuit(draft, rng, carrier, province, "INT"),
                bandwidth_mbps=mbps,
            )
        )
    leased = (
        (HQ_CODE, "CORE01", SAME_CITY_DR_CODE, "CORE01", TELECOM, 10_000, "同城 DWDM 主用"),
        (HQ_CODE, "CORE02", SAME_CITY_DR_CODE, "CORE02", UNICOM, 10_000, "同城 DWDM 备用"),
        (HQ_CODE, "CORE01", REMOTE_DR_CODE, "CORE01", TELECOM, 1_000, "异地 SDH 主用"),
        (HQ_CODE, "CORE02", REMOTE_DR_CODE, "CORE01", UNICOM, 1_000, "异地 SDH 备用"),
        (SAME_CITY_DR_CODE, "CORE01", REMOTE_DR_CODE, "CORE01", MOBILE, 1_000, "灾备中心互联"),
    )
    for a, a_dev, b, b_dev, carrier, mbps, note in leased:
        role = LinkRole.BACKUP if "备用" in note else LinkRole.PRIMARY
        draft.links.append(
            LinkRow(
                name=f"{a} to {b} LL {'2' if role == LinkRole.BACKUP else '1'}",
                kind=LinkKind.LEASED_LINE,
                role=role,
                status=LinkStatus.ACTIVE,
                a_site=a,
                a_device=f"{a}-{a_dev}",
                b_site=b,
                b_device=f"{b}-{b_dev}",
                carrier=carrier,
                circuit_id=_circuit(draft, rng, carrier, "SH", "DWDM" if mbps > 1000 else "SDH"),
                bandwidth_mbps=mbps,
                description=note,
            )
        )


def _edge_links(draft: Draft, rng: random.Random, site: SiteRow) -> None:
    status = LinkStatus.PLANNED if site.status == SiteStatus.PLANNED else LinkStatus.ACTIVE
    firewall = f"{site.code}-FW01"
    carrier = carrier_for(rng, site.province)
    is_branch = site.kind == SiteKind.BRANCH
    internet = LinkRow(
        name=f"{site.code} INTERNET",
        kind=LinkKind.INTERNET,
        role=LinkRole.PRIMARY,
        status=status,
        a_site=site.code,
        a_device=firewall,
        b_site=None,
        b_device=None,
        carrier=carrier,
        circuit_id=_circuit(draft, rng, carrier, site.province, "INT"),
        bandwidth_mbps=pick(rng, ((100, 35), (200, 35), (300, 15), (500, 15)))
        if is_branch
        else 500,
    )
    draft.links.append(internet)
    for suffix, role, hub_site, hub in (
        ("HQ", LinkRole.PRIMARY, HQ_CODE, HQ_CONCENTRATOR),
        ("DR", LinkRole.BACKUP, SAME_CITY_DR_CODE, DR_CONCENTRATOR),
    ):
        draft.links.append(
            LinkRow(
                name=f"{site.code} VPN {suffix}",
                kind=LinkKind.VPN,
                role=role,
                status=status,
                a_site=site.code,
                a_device=firewall,
                b_site=hub_site,
                b_device=hub,
                underlay=internet.name,
            )
        )
    if is_branch and rng.random() < LEASED_LINE_SHARE:
        carrier = carrier_for(rng, site.province)
        draft.links.append(
            LinkRow(
                name=f"{site.code} LL HQ",
                kind=LinkKind.LEASED_LINE,
                role=pick(rng, ((LinkRole.PRIMARY, 60), (LinkRole.BACKUP, 40))),
                status=status,
                a_site=site.code,
                a_device=firewall,
                b_site=HQ_CODE,
                b_device=HQ_CONCENTRATOR,
                carrier=carrier,
                circuit_id=_circuit(draft, rng, carrier, site.province, "MSTP"),
                bandwidth_mbps=pick(rng, ((10, 30), (20, 35), (50, 25), (100, 10))),
            )
        )


def add_links(draft: Draft) -> None:
    rng = draft.rng("links")
    _data_centre_links(draft, rng)
    for site in draft.sites:
        if site.kind in (SiteKind.BRANCH, SiteKind.REGIONAL_CENTRE):
            _edge_links(draft, rng, site)
