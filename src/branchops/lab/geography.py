"""Where Example Securities does business: sales regions, provinces and cities.

Sales regions and provinces are short tables here; the cities, with their centre
coordinates and how many branches a city of that economic size gets, are in
``data/cities.csv`` so that they read (and can be corrected) as data.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

CITIES_CSV = Path(__file__).resolve().parent / "data" / "cities.csv"

# Mainland China, generously: a coordinate outside this box is a typo in the CSV.
LATITUDE_RANGE = (Decimal(18), Decimal(54))
LONGITUDE_RANGE = (Decimal(73), Decimal(136))


@dataclass(frozen=True)
class SalesRegion:
    code: str
    name: str
    name_en: str


@dataclass(frozen=True)
class Province:
    iso: str  # ISO 3166-2:CN subdivision code without the "CN-" prefix
    name: str  # full Chinese name, as written in an address: 浙江省
    short: str  # as used in a site name: 浙江
    name_en: str
    capital: str  # Chinese short name of the capital city, a row of cities.csv
    sales_region: str

    @property
    def code(self) -> str:
        return f"cn-{self.iso.lower()}"

    @property
    def is_municipality(self) -> bool:
        return self.name.endswith("市")


@dataclass(frozen=True)
class City:
    province: Province
    name: str  # Chinese short name: 杭州
    name_en: str
    latitude: Decimal
    longitude: Decimal
    weight: int  # branches this city gets in a 620-branch estate

    @property
    def code(self) -> str:
        return f"{self.province.code}-{re.sub(r'[^a-z0-9]+', '', self.name_en.lower())}"

    @property
    def full_name(self) -> str:
        """The region name: 杭州市."""
        return f"{self.name}市"

    @property
    def address_prefix(self) -> str:
        """How an address in this city starts: 浙江省杭州市, or 上海市 for a municipality."""
        if self.province.is_municipality:
            return self.province.name
        return f"{self.province.name}{self.full_name}"


SALES_REGIONS: tuple[SalesRegion, ...] = (
    SalesRegion("east-china", "华东", "East China"),
    SalesRegion("north-china", "华北", "North China"),
    SalesRegion("south-china", "华南", "South China"),
    SalesRegion("central-china", "华中", "Central China"),
    SalesRegion("southwest", "西南", "Southwest"),
    SalesRegion("northwest", "西北", "Northwest"),
    SalesRegion("northeast", "东北", "Northeast"),
)

PROVINCES: tuple[Province, ...] = (
    Province("SH", "上海市", "上海", "Shanghai", "上海", "east-china"),
    Province("JS", "江苏省", "江苏", "Jiangsu", "南京", "east-china"),
    Province("ZJ", "浙江省", "浙江", "Zhejiang", "杭州", "east-china"),
    Province("AH", "安徽省", "安徽", "Anhui", "合肥", "east-china"),
    Province("FJ", "福建省", "福建", "Fujian", "福州", "east-china"),
    Province("JX", "江西省", "江西", "Jiangxi", "南昌", "east-china"),
    Province("SD", "山东省", "山东", "Shandong", "济南", "east-china"),
    Province("BJ", "北京市", "北京", "Beijing", "北京", "north-china"),
    Province("TJ", "天津市", "天津", "Tianjin", "天津", "north-china"),
    Province("HE", "河北省", "河北", "Hebei", "石家庄", "north-china"),
    Province("SX", "山西省", "山西", "Shanxi", "太原", "north-china"),
    Province("NM", "内蒙古自治区", "内蒙古", "Inner Mongolia", "呼和浩特", "north-china"),
    Province("GD", "广东省", "广东", "Guangdong", "广州", "south-china"),
    Province("GX", "广西壮族自治区", "广西", "Guangxi", "南宁", "south-china"),
    Province("HI", "海南省", "海南", "Hainan", "海口", "south-china"),
    Province("HA", "河南省", "河南", "Henan", "郑州", "central-china"),
    Province("HB", "湖北省", "湖北", "Hubei", "武汉", "central-china"),
    Province("HN", "湖南省", "湖南", "Hunan", "长沙", "central-china"),
    Province("CQ", "重庆市", "重庆", "Chongqing", "重庆", "southwest"),
    Province("SC", "四川省", "四川", "Sichuan", "成都", "southwest"),
    Province("GZ", "贵州省", "贵州", "Guizhou", "贵阳", "southwest"),
    Province("YN", "云南省", "云南", "Yunnan", "昆明", "southwest"),
    Province("XZ", "西藏自治区", "西藏", "Xizang (Tibet)", "拉萨", "southwest"),
    Province("SN", "陕西省", "陕西", "Shaanxi", "西安", "northwest"),
    Province("GS", "甘肃省", "甘肃", "Gansu", "兰州", "northwest"),
    Province("QH", "青海省", "青海", "Qinghai", "西宁", "northwest"),
    Province("NX", "宁夏回族自治区", "宁夏", "Ningxia", "银川", "northwest"),
    Province("XJ", "新疆维吾尔自治区", "新疆", "Xinjiang", "乌鲁木齐", "northwest"),
    Province("LN", "辽宁省", "辽宁", "Liaoning", "沈阳", "northeast"),
    Province("JL", "吉林省", "吉林", "Jilin", "长春", "northeast"),
    Province("HL", "黑龙江省", "黑龙江", "Heilongjiang", "哈尔滨", "northeast"),
)

PROVINCE_BY_ISO = {p.iso: p for p in PROVINCES}
_PROVINCE_BY_NAME = {p.name: p for p in PROVINCES}


class CityDataError(ValueError):
    """cities.csv has a row that cannot be used."""


def _decimal(value: str, bounds: tuple[Decimal, Decimal], where: str) -> Decimal:
    try:
        number = Decimal(value)
    except ArithmeticError as exc:
        raise CityDataError(f"{where}: {value!r} is not a number") from exc
    if not bounds[0] <= number <= bounds[1]:
        raise CityDataError(f"{where}: {value} is outside {bounds[0]}..{bounds[1]}")
    return number


def _city(row: dict[str, str], line: int) -> City:
    where = f"{CITIES_CSV.name}:{line}"
    province = _PROVINCE_BY_NAME.get(row["province"])
    if province is None:
        raise CityDataError(f"{where}: unknown province {row['province']!r}")
    weight = int(row["weight"])
    if weight < 1:
        raise CityDataError(f"{where}: weight must be at least 1")
    return City(
        province=province,
        name=row["city"].strip(),
        name_en=row["city_en"].strip(),
        latitude=_decimal(row["latitude"], LATITUDE_RANGE, where),
        longitude=_decimal(row["longitude"], LONGITUDE_RANGE, where),
        weight=weight,
    )


@functools.cache
def cities() -> tuple[City, ...]:
    """Every city of the CSV, in file order, checked: known provinces, capitals present."""
    with CITIES_CSV.open(encoding="utf-8", newline="") as fh:
        rows = [_city(row, line) for line, row in enumerate(csv.DictReader(fh), start=2)]
    seen: set[str] = set()
    for city in rows:
        if city.code in seen:
            raise CityDataError(f"{CITIES_CSV.name}: {city.name} appears twice")
        seen.add(city.code)
    names = {(city.province.iso, city.name) for city in rows}
    for province in PROVINCES:
        if (province.iso, province.capital) not in names:
            raise CityDataError(f"{CITIES_CSV.name}: no row for {province.capital}")
    return tuple(rows)


def capital_of(province: Province) -> City:
    return next(c for c in cities() if c.province == province and c.name == province.capital)


def allocate(weights: list[int], total: int) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder; ties go to the first).

    With the CSV's weights summing to 620, a 620-branch estate gives each city exactly its
    weight; bigger or smaller estates scale every city alike.
    """
    whole = sum(weights)
    counts = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    left = total - sum(counts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in by_remainder[:left]:
        counts[i] += 1
    return counts
