"""The region tree and the sites: three data centres, regional centres and branches."""

from __future__ import annotations

import datetime as dt
import random
from collections import deque
from decimal import Decimal

from branchops.cmdb.choices import RegionLevel, SiteKind, SiteStatus
from branchops.lab.draft import Draft
from branchops.lab.geography import (
    PROVINCE_BY_ISO,
    PROVINCES,
    SALES_REGIONS,
    City,
    allocate,
    capital_of,
    cities,
)
from branchops.lab.spec import HQ_CODE, REMOTE_DR_CODE, SAME_CITY_DR_CODE, RegionRow, SiteRow

FIRM = "示例证券"
FIRM_EN = "Example Securities"
_MICRO = Decimal("0.000001")

# Roads any Chinese city has; big cities first use their own well-known business streets.
COMMON_ROADS: tuple[tuple[str, str], ...] = (
    ("解放路", "Jiefang Road"), ("人民路", "Renmin Road"), ("中山路", "Zhongshan Road"),
    ("建设路", "Jianshe Road"), ("新华路", "Xinhua Road"), ("和平路", "Heping Road"),
    ("胜利路", "Shengli Road"), ("文化路", "Wenhua Road"), ("长江路", "Changjiang Road"),
    ("黄河路", "Huanghe Road"), ("延安路", "Yan'an Road"), ("东方路", "Dongfang Road"),
    ("朝阳路", "Chaoyang Road"), ("复兴路", "Fuxing Road"), ("建国路", "Jianguo Road"),
    ("北京路", "Beijing Road"), ("上海路", "Shanghai Road"), ("光明路", "Guangming Road"),
    ("幸福路", "Xingfu Road"), ("团结路", "Tuanjie Road"), ("青年路", "Qingnian Road"),
    ("花园路", "Huayuan Road"), ("振兴路", "Zhenxing Road"), ("高新路", "Gaoxin Road"),
    ("科技路", "Keji Road"), ("学府路", "Xuefu Road"), ("湖滨路", "Hubin Road"),
    ("滨江大道", "Binjiang Avenue"), ("五一路", "Wuyi Road"), ("八一路", "Bayi Road"),
    ("迎宾大道", "Yingbin Avenue"), ("东风路", "Dongfeng Road"), ("红旗路", "Hongqi Road"),
    ("工业路", "Gongye Road"), ("新城大道", "Xincheng Avenue"), ("世纪大道", "Shiji Avenue"),
    ("金融街", "Jinrong Street"), ("商业街", "Shangye Street"), ("府前路", "Fuqian Road"),
    ("站前路", "Zhanqian Road"), ("环城路", "Huancheng Road"), ("体育路", "Tiyu Road"),
    ("公园路", "Gongyuan Road"), ("南京路", "Nanjing Road"), ("天山路", "Tianshan Road"),
    ("泰山路", "Taishan Road"), ("华山路", "Huashan Road"), ("珠江路", "Zhujiang Road"),
    ("淮海路", "Huaihai Road"), ("西湖路", "Xihu Road"), ("东湖路", "Donghu Road"),
    ("南湖路", "Nanhu Road"), ("友谊路", "Youyi Road"), ("民主路", "Minzhu Road"),
    ("民生路", "Minsheng Road"), ("富强路", "Fuqiang Road"), ("兴业路", "Xingye Road"),
    ("金桥路", "Jinqiao Road"), ("银河路", "Yinhe Road"), ("开元大道", "Kaiyuan Avenue"),
    ("锦绣路", "Jinxiu Road"), ("时代大道", "Shidai Avenue"), ("国贸路", "Guomao Road"),
    ("财富大道", "Caifu Avenue"), ("中华路", "Zhonghua Road"), ("市府路", "Shifu Road"),
)  # fmt: skip

CITY_ROADS: dict[str, tuple[tuple[str, str], ...]] = {
    "上海": (
        ("南京西路", "Nanjing Road West"),
        ("淮海中路", "Huaihai Road Middle"),
        ("陆家嘴环路", "Lujiazui Ring Road"),
        ("浦东南路", "Pudong Road South"),
        ("张杨路", "Zhangyang Road"),
        ("四川北路", "Sichuan Road North"),
        ("漕溪北路", "Caoxi Road North"),
        ("虹桥路", "Hongqiao Road"),
        ("曹杨路", "Caoyang Road"),
        ("长宁路", "Changning Road"),
        ("武宁路", "Wuning Road"),
        ("控江路", "Kongjiang Road"),
        ("淞沪路", "Songhu Road"),
        ("吴中路", "Wuzhong Road"),
    ),
    "北京": (
        ("金融大街", "Financial Street"),
        ("建国门内大街", "Jianguomennei Avenue"),
        ("中关村大街", "Zhongguancun Avenue"),
        ("朝阳门北大街", "Chaoyangmen North Avenue"),
        ("复兴门外大街", "Fuxingmenwai Avenue"),
        ("东三环中路", "East 3rd Ring Road Middle"),
        ("西直门外大街", "Xizhimenwai Avenue"),
        ("安立路", "Anli Road"),
        ("望京街", "Wangjing Street"),
        ("知春路", "Zhichun Road"),
        ("学院路", "Xueyuan Road"),
    ),
    "深圳": (
        ("深南大道", "Shennan Avenue"),
        ("福华一路", "Fuhua 1st Road"),
        ("益田路", "Yitian Road"),
        ("华强北路", "Huaqiang North Road"),
        ("滨海大道", "Binhai Avenue"),
        ("南海大道", "Nanhai Avenue"),
        ("红荔路", "Hongli Road"),
        ("宝安大道", "Bao'an Avenue"),
        ("龙岗大道", "Longgang Avenue"),
        ("后海大道", "Houhai Avenue"),
    ),
    "广州": (
        ("天河路", "Tianhe Road"),
        ("花城大道", "Huacheng Avenue"),
        ("环市东路", "Huanshi East Road"),
        ("体育西路", "Tiyu West Road"),
        ("中山五路", "Zhongshan 5th Road"),
        ("江南大道", "Jiangnan Avenue"),
    ),
    "杭州": (
        ("庆春路", "Qingchun Road"),
        ("钱江路", "Qianjiang Road"),
        ("文三路", "Wensan Road"),
        ("凤起路", "Fengqi Road"),
    ),
    "南京": (
        ("汉中路", "Hanzhong Road"),
        ("洪武路", "Hongwu Road"),
        ("江东中路", "Jiangdong Middle Road"),
    ),
}

ORDINALS = ("", "第二", "第三", "第四", "第五", "第六", "第七", "第八", "第九")


def _coordinate(value: Decimal | float) -> Decimal:
    return Decimal(str(value)).quantize(_MICRO)


def _near(rng: random.Random, city: City, spread: float) -> tuple[Decimal, Decimal]:
    return (
        _coordinate(float(city.latitude) + rng.uniform(-spread, spread)),
        _coordinate(float(city.longitude) + rng.uniform(-spread, spread)),
    )


def _address(rng: random.Random, city: City, road: str) -> str:
    floor = rng.choice(("", "", "1层", "1-2层", "2层", "101室", "商务楼3层"))
    return f"{city.address_prefix}{road}{rng.randint(1, 999)}号{floor}"


def add_regions(draft: Draft) -> None:
    all_cities = cities()
    capitals = {p.iso: capital_of(p) for p in PROVINCES}
    for region in SALES_REGIONS:
        members = [capitals[p.iso] for p in PROVINCES if p.sales_region == region.code]
        lat = sum((c.latitude for c in members), Decimal(0)) / len(members)
        lon = sum((c.longitude for c in members), Decimal(0)) / len(members)
        draft.regions.append(
            RegionRow(
                region.code,
                region.name,
                region.name_en,
                RegionLevel.REGION,
                None,
                _coordinate(lat),
                _coordinate(lon),
            )
        )
    for p in PROVINCES:
        capital = capitals[p.iso]
        draft.regions.append(
            RegionRow(
                p.code,
                p.name,
                p.name_en,
                RegionLevel.PROVINCE,
                p.sales_region,
                capital.latitude.quantize(_MICRO),
                capital.longitude.quantize(_MICRO),
            )
        )
    for c in all_cities:
        draft.regions.append(
            RegionRow(
                c.code,
                c.full_name,
                c.name_en,
                RegionLevel.CITY,
                c.province.code,
                c.latitude.quantize(_MICRO),
                c.longitude.quantize(_MICRO),
            )
        )


def _data_centres(draft: Draft) -> list[SiteRow]:
    shanghai = capital_of(PROVINCE_BY_ISO["SH"])
    shenzhen = next(c for c in cities() if c.name == "深圳")
    opened = draft.today - dt.timedelta(days=16 * 365)
    common = {"status": SiteStatus.ACTIVE, "calendar": "24x7"}
    return [
        SiteRow(
            code=HQ_CODE,
            name=f"{FIRM}上海总部数据中心",
            kind=SiteKind.HQ_DATA_CENTRE,
            region=shanghai.code,
            province="SH",
            address="上海市浦东新区科苑路399号",
            latitude=Decimal("31.204400"),
            longitude=Decimal("121.593000"),
            opened_on=opened,
            description=f"{FIRM_EN} head-office data centre (production)",
            **common,
        ),
        SiteRow(
            code=SAME_CITY_DR_CODE,
            name=f"{FIRM}上海同城灾备中心",
            kind=SiteKind.SAME_CITY_DR,
            region=shanghai.code,
            province="SH",
            address="上海市徐汇区宜山路700号",
            latitude=Decimal("31.175000"),
            longitude=Decimal("121.401000"),
            opened_on=opened + dt.timedelta(days=3 * 365),
            description=f"{FIRM_EN} same-city disaster-recovery centre (hot standby)",
            **common,
        ),
        SiteRow(
            code=REMOTE_DR_CODE,
            name=f"{FIRM}深圳异地灾备中心 (金融行业云)",
            kind=SiteKind.REMOTE_DR,
            region=shenzhen.code,
            province="GD",
            address="广东省深圳市南山区科技南十二路18号",
            latitude=Decimal("22.528000"),
            longitude=Decimal("113.947000"),
            opened_on=opened + dt.timedelta(days=8 * 365),
            description=f"{FIRM_EN} remote disaster-recovery centre on a financial industry cloud",
            **common,
        ),
    ]


class _BranchNamer:
    """Hands out road names per city so that no two branches share a name."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._queues: dict[str, deque[tuple[str, str]]] = {}
        self._rounds: dict[str, int] = {}

    def next(self, city: City) -> tuple[str, str, int]:
        queue = self._queues.get(city.code)
        if not queue:
            own = CITY_ROADS.get(city.name, ())
            common = [r for r in COMMON_ROADS if r not in own]
            self._rng.shuffle(common)
            self._queues[city.code] = queue = deque(own + tuple(common))
            self._rounds[city.code] = self._rounds.get(city.code, -1) + 1
        road, road_en = queue.popleft()
        return road, road_en, self._rounds[city.code]


def _ordinal(round_: int) -> tuple[str, str]:
    if round_ == 0:
        return "", ""
    zh = ORDINALS[round_] if round_ < len(ORDINALS) else f"第{round_ + 1}"
    return zh, f" No. {round_ + 1}"


def _plan_branches(
    draft: Draft, rng: random.Random, count: int
) -> list[tuple[City, dt.date, SiteStatus]]:
    """Which city each branch is in, when it opened and its status, oldest first."""
    all_cities = cities()
    per_city = allocate([c.weight for c in all_cities], count)
    slots = [c for c, k in zip(all_cities, per_city, strict=True) for _ in range(k)]
    dates = [draft.days_ago(rng, 180, 24 * 365) for _ in slots]
    order = sorted(range(count), key=lambda i: (dates[i], i))
    planned = round(count * 0.012)
    suspended = set(rng.sample(range(count - planned), round(count * 0.008)))
    plans: list[tuple[City, dt.date, SiteStatus]] = []
    for rank, i in enumerate(order):
        if rank >= count - planned:
            ahead = 30 * (rank - (count - planned) + 1) + rng.randint(0, 20)
            plans.append((slots[i], draft.today + dt.timedelta(days=ahead), SiteStatus.PLANNED))
        else:
            status = SiteStatus.SUSPENDED if rank in suspended else SiteStatus.ACTIVE
            plans.append((slots[i], dates[i], status))
    return plans


def _regional_centre(draft: Draft, rng: random.Random, iso: str) -> SiteRow:
    province = PROVINCE_BY_ISO[iso]
    capital = capital_of(province)
    road, _ = rng.choice(COMMON_ROADS)
    lat, lon = _near(rng, capital, 0.03)
    return SiteRow(
        code=f"RC-{iso}",
        name=f"{FIRM}{province.short}区域中心",
        kind=SiteKind.REGIONAL_CENTRE,
        status=SiteStatus.ACTIVE,
        region=capital.code,
        province=iso,
        # An office: engineers and the spare-parts store keep working days.
        calendar="cn-workdays",
        address=_address(rng, capital, road),
        latitude=lat,
        longitude=lon,
        opened_on=draft.days_ago(rng, 2500, 5500),
        description=f"{FIRM_EN} {province.name_en} regional centre (spare parts, field engineers)",
    )


def add_sites(draft: Draft, branches: int) -> None:
    """Data centres first, then regional centres, then branches (this order fixes the
    management addresses: see draft.management_ip)."""
    rng = draft.rng("sites")
    plans = _plan_branches(draft, rng, branches)
    for site in _data_centres(draft):
        draft.add_site(site)
    with_branches = {city.province.iso for city, _, _ in plans}
    for province in PROVINCES:
        if province.iso in with_branches:
            draft.add_site(_regional_centre(draft, rng, province.iso))
    namer = _BranchNamer(rng)
    width = max(4, len(str(branches)))
    for number, (city, opened_on, status) in enumerate(plans, start=1):
        road, road_en, round_ = namer.next(city)
        nth, nth_en = _ordinal(round_)
        lat, lon = _near(rng, city, 0.08 if city.weight >= 10 else 0.04)
        draft.add_site(
            SiteRow(
                code=f"BR-{number:0{width}d}",
                name=f"{FIRM}{city.name}{road}{nth}营业部",
                kind=SiteKind.BRANCH,
                status=status,
                region=city.code,
                province=city.province.iso,
                calendar="xshg-trading",
                address=_address(rng, city, road),
                latitude=lat,
                longitude=lon,
                opened_on=opened_on,
                support_centre=f"RC-{city.province.iso}",
                description=f"{FIRM_EN} {city.name_en} {road_en}{nth_en} branch",
            )
        )
