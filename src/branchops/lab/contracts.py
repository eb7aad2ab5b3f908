"""Maintenance contracts: original-vendor support per product family, third-party
maintainers per sales region, a few lapsed and a few about to lapse.

Dates are relative to the estate's ``today`` so that the demo always shows contracts that
expired, contracts that expire within 60 days and one renewal that has not started yet.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from branchops.cmdb.choices import DATA_CENTRE_KINDS, Coverage, ProviderKind
from branchops.lab.catalogue import VENDOR_BY_SLUG
from branchops.lab.draft import Draft
from branchops.lab.geography import PROVINCE_BY_ISO, SALES_REGIONS
from branchops.lab.spec import ContractRow, DeviceRow, SiteRow

Selector = Callable[[DeviceRow, SiteRow], bool]

# Fictional companies; any likeness to a real one is accidental.
MAINTAINERS: dict[str, str] = {
    "east-china": "沪杭信联技术服务有限公司",
    "north-china": "京津恒运信息技术有限公司",
    "south-china": "粤海网维科技有限公司",
    "central-china": "中原楚天信息服务有限公司",
    "southwest": "巴蜀云维技术有限公司",
    "northwest": "秦陇网络工程有限公司",
    "northeast": "辽吉黑信息技术有限公司",
}
FORMER_MAINTAINER = ("northeast-former", "北国运维服务有限公司")
SOFTWARE_VENDORS = {"vmware": "VMware (Broadcom)"}
THIRD_PARTY_ROLES = frozenset(
    {"core-switch", "access-switch", "wifi-controller", "wifi-ap", "server", "hypervisor"}
)
ACTIVE, EXPIRING, EXPIRED = "active", "expiring", "expired"


@dataclass(frozen=True)
class Plan:
    key: str
    name: str
    provider: str
    provider_kind: str
    coverage: str
    covers: Selector
    yearly: int  # CNY per device and year
    years: int
    state: str  # active, expiring or expired; or "after:<key>" / "before:<key>" for a term
    contact: str
    notes: str = ""


def _vendor(slug: str, where: str) -> Selector:
    def covers(device: DeviceRow, site: SiteRow) -> bool:
        in_dc = site.kind in DATA_CENTRE_KINDS
        return device.manufacturer == slug and (where == "any" or (where == "dc") == in_dc)

    return covers


def _platform(slug: str) -> Selector:
    return lambda device, site: device.platform == slug


def _region(region: str) -> Selector:
    def covers(device: DeviceRow, site: SiteRow) -> bool:
        return (
            site.kind not in DATA_CENTRE_KINDS
            and PROVINCE_BY_ISO[site.province].sales_region == region
            and device.role in THIRD_PARTY_ROLES
        )

    return covers


# key, name, vendor, coverage, where (branch side "edge", "dc" or "any"), CNY per device
# and year, years, state
VENDOR_PLANS: tuple[tuple[str, str, str, Coverage, str, int, int, str], ...] = (
    ("hs-edge", "山石网科防火墙原厂维保 (营业部及区域中心)", "hillstone", Coverage.H24_4H,
     "edge", 1600, 3, ACTIVE),
    ("hs-dc", "山石网科数据中心防火墙及 VPN 集中器原厂维保", "hillstone", Coverage.H24_4H,
     "dc", 38000, 1, EXPIRING),
    ("hs-dc-next", "山石网科数据中心防火墙及 VPN 集中器原厂维保 (续签)", "hillstone",
     Coverage.H24_4H, "dc", 36000, 3, "after:hs-dc"),
    ("hw-dc", "华为数据中心网络及存储原厂维保", "huawei", Coverage.H24_4H, "dc", 26000, 3, ACTIVE),
    ("hw-edge", "华为营业部交换机及无线原厂维保", "huawei", Coverage.H24_NBD, "edge", 380, 3,
     ACTIVE),
    ("hw-edge-prev", "华为营业部交换机及无线原厂维保 (上期)", "huawei", Coverage.H24_NBD, "edge",
     420, 3, "before:hw-edge"),
    ("h3c-edge", "新华三营业部交换机及无线原厂维保", "h3c", Coverage.H24_NBD, "edge", 350, 2,
     ACTIVE),
    ("rj-edge", "锐捷网络营业部交换机及无线原厂维保", "ruijie", Coverage.H8_NBD, "edge", 260, 3,
     EXPIRED),
    ("sangfor", "深信服上网行为管理及防火墙软件升级与维保", "sangfor", Coverage.SOFTWARE, "any",
     900, 1, ACTIVE),
    ("forti", "Fortinet FortiCare 7x24 支持服务", "fortinet", Coverage.H24_NBD, "any", 2200, 1,
     EXPIRING),
    ("dell", "戴尔服务器原厂维保", "dell", Coverage.H8_NBD, "any", 1200, 3, ACTIVE),
    ("lenovo", "联想服务器原厂维保", "lenovo", Coverage.H8_NBD, "any", 1100, 3, ACTIVE),
    ("inspur-dc", "浪潮数据中心服务器原厂维保", "inspur", Coverage.H24_4H, "dc", 5200, 3, ACTIVE),
    ("inspur-dc-prev", "浪潮数据中心服务器原厂维保 (上期)", "inspur", Coverage.H24_4H, "dc", 5600,
     2, "before:inspur-dc"),
    ("inspur-edge", "浪潮营业部服务器原厂维保", "inspur", Coverage.H8_NBD, "edge", 900, 3, EXPIRED),
    ("f5", "F5 负载均衡原厂维保", "f5", Coverage.H24_4H, "any", 45000, 1, ACTIVE),
    ("cisco", "思科数据中心交换机 SmartNet 服务", "cisco", Coverage.H24_NBD, "any", 6800, 1,
     EXPIRING),
)  # fmt: skip


def plans() -> list[Plan]:
    result = []
    for key, name, slug, coverage, where, yearly, years, state in VENDOR_PLANS:
        vendor = VENDOR_BY_SLUG[slug]
        result.append(
            Plan(
                key=key,
                name=name,
                provider=f"{vendor.name_zh} ({vendor.name})",
                provider_kind=ProviderKind.VENDOR,
                coverage=coverage,
                covers=_vendor(slug, where),
                yearly=yearly,
                years=years,
                state=state,
                contact=f"vendor/{slug}",
            )
        )
    result.append(
        Plan(
            "vmware",
            "VMware vSphere 软件订阅与支持",
            SOFTWARE_VENDORS["vmware"],
            ProviderKind.VENDOR,
            Coverage.SOFTWARE,
            _platform("esxi"),
            9000,
            1,
            ACTIVE,
            "vendor/vmware",
        )
    )
    for region in SALES_REGIONS:
        result.append(
            Plan(
                f"tp-{region.code}",
                f"{region.name}区域营业部网络及服务器第三方维保",
                MAINTAINERS[region.code],
                ProviderKind.THIRD_PARTY,
                Coverage.H24_NBD,
                _region(region.code),
                180,
                2,
                ACTIVE,
                f"maintainer/{region.code}",
                "第三方一线响应及备件更换, 原厂二线支持。",
            )
        )
    result.append(
        Plan(
            "tp-northeast-former",
            "东北区域营业部网络及服务器第三方维保 (原服务商)",
            FORMER_MAINTAINER[1],
            ProviderKind.THIRD_PARTY,
            Coverage.PARTS_ONLY,
            _region("northeast"),
            150,
            2,
            "before:tp-northeast",
            f"maintainer/{FORMER_MAINTAINER[0]}",
            "合同到期未续签后已更换服务商。",
        )
    )
    return result


def _month_end(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def _term_ending(ends: dt.date, years: int) -> tuple[dt.date, dt.date]:
    after = ends + dt.timedelta(days=1)
    return after.replace(year=after.year - years), ends


def _dates(
    plan: Plan, today: dt.date, rng: random.Random, done: dict[str, tuple[dt.date, dt.date]]
) -> tuple[dt.date, dt.date]:
    """Whole months, like real contracts (1 July to 30 June)."""
    if plan.state.startswith("after:"):
        starts = done[plan.state.removeprefix("after:")][1] + dt.timedelta(days=1)
        return starts, starts.replace(year=starts.year + plan.years) - dt.timedelta(days=1)
    if plan.state.startswith("before:"):
        return _term_ending(
            done[plan.state.removeprefix("before:")][0] - dt.timedelta(days=1), plan.years
        )
    if plan.state == EXPIRING:
        ends = _month_end(today)
        if (ends - today).days < 7:
            ends = _month_end(ends + dt.timedelta(days=1))
    elif plan.state == EXPIRED:
        ends = _month_end(today - dt.timedelta(days=rng.randint(40, 400)))
    else:
        ends = _month_end(today + dt.timedelta(days=rng.randint(90, 365 * plan.years - 60)))
    return _term_ending(ends, plan.years)


def add_contracts(draft: Draft) -> None:
    rng = draft.rng("contracts")
    all_plans = plans()
    dates: dict[str, tuple[dt.date, dt.date]] = {}
    # Terms that follow or precede another are dated after the one they refer to.
    for plan in sorted(all_plans, key=lambda p: ":" in p.state):
        dates[plan.key] = _dates(plan, draft.today, rng, dates)
    for number, plan in enumerate(all_plans, start=1):
        starts, ends = dates[plan.key]
        devices = tuple(
            d.name
            for d in draft.devices
            if d.installed_on is not None
            and d.installed_on <= ends
            and plan.covers(d, draft.site_by_code[d.site])
        )
        if not devices:
            continue
        years = Decimal(plan.years)
        cost = Decimal(plan.yearly * len(devices)) * years * Decimal(str(rng.uniform(0.9, 1.1)))
        draft.contracts.append(
            ContractRow(
                number=f"EXS-WB-{starts.year}-{number:03d}",
                name=plan.name,
                provider=plan.provider,
                provider_kind=plan.provider_kind,
                coverage=plan.coverage,
                starts_on=starts,
                ends_on=ends,
                cost=max(Decimal(20_000), cost.quantize(Decimal(100))).quantize(Decimal("0.01")),
                contact=plan.contact,
                devices=devices,
                notes=plan.notes,
            )
        )
