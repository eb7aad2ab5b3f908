"""What the estate is built from: vendors, platforms, device models, firmware and serials.

Model names are real products of the kind Chinese brokers run; serial numbers follow each
vendor's visible pattern but are made up.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from dataclasses import dataclass

from branchops.lab.spec import DeviceModelRow, ManufacturerRow, PlatformRow


@dataclass(frozen=True)
class Vendor:
    slug: str
    name: str
    name_zh: str  # how a contract or a contact names the company
    serial_pattern: str  # see serial_number()


@dataclass(frozen=True)
class Model:
    vendor: str
    name: str
    role: str
    platform: str | None
    firmware: tuple[str, ...] = ()  # empty: take the platform's versions
    end_of_sale: dt.date | None = None
    end_of_support: dt.date | None = None


VENDORS: tuple[Vendor, ...] = (
    Vendor("hillstone", "Hillstone", "山石网科", "04YY############"),
    Vendor("huawei", "Huawei", "华为", "2102######@#@#######"),
    Vendor("h3c", "H3C", "新华三", "219801A***@YY#######"),
    Vendor("ruijie", "Ruijie", "锐捷网络", "G1@@##*######"),
    Vendor("sangfor", "Sangfor", "深信服", "SFYY@@#######"),
    Vendor("fortinet", "Fortinet", "飞塔", "{prefix}TKYY######"),
    Vendor("cisco", "Cisco", "思科", "FOC{cisco_year}WW****"),
    Vendor("dell", "Dell", "戴尔", "???????"),
    Vendor("lenovo", "Lenovo", "联想", "J30*****"),
    Vendor("inspur", "Inspur", "浪潮", "2YY#########"),
    Vendor("f5", "F5", "F5", "f5-~~~~-~~~~"),
)
VENDOR_BY_SLUG = {v.slug: v for v in VENDORS}

# slug, name, manufacturer, versions seen in the field (for devices whose model lists none)
PLATFORMS: tuple[tuple[str, str, str | None, tuple[str, ...]], ...] = (
    ("stoneos", "StoneOS", "hillstone", ("5.5R8P10", "5.5R9P3", "5.5R10P2")),
    ("vrp", "VRP", "huawei", ("V200R021C00SPC100", "V200R022C00SPC500", "V200R023C00SPC500")),
    ("comware", "Comware", "h3c", ("7.1.070 Release 6728P22", "7.1.070 Release 6729")),
    ("rgos", "RGOS", "ruijie", ("RGOS 12.5(4)B1005", "RGOS 12.6(1)B0102")),
    ("sangfor", "Sangfor", "sangfor", ("AC13.0.62", "AC13.0.80")),
    ("fortios", "FortiOS", "fortinet", ("7.0.15", "7.2.8", "7.4.4")),
    ("ios-xe", "IOS XE", "cisco", ("17.9.4a", "17.12.3")),
    ("tmos", "TMOS", "f5", ("16.1.4.2", "17.1.1.3")),
    ("oceanstor", "OceanStor OS", "huawei", ("6.1.6", "6.1.7")),
    (
        "windows-server",
        "Windows Server",
        None,
        ("2016 Standard (10.0.14393)", "2019 Standard (10.0.17763)", "2022 Standard (10.0.20348)"),
    ),
    ("linux", "Linux", None, ("CentOS 7.9.2009", "RHEL 8.8", "RHEL 9.2", "Kylin V10 SP3")),
    ("esxi", "ESXi", None, ("7.0 U3n", "8.0 U2b")),
)
PLATFORM_VERSIONS = {slug: versions for slug, _, _, versions in PLATFORMS}

_D = dt.date
MODELS: tuple[Model, ...] = (
    # Hillstone firewalls: E-series at branches and regional centres, X-series in the DCs
    Model("hillstone", "SG-6000-E1600", "firewall", "stoneos"),
    Model("hillstone", "SG-6000-E2300", "firewall", "stoneos"),
    Model("hillstone", "SG-6000-E2800", "firewall", "stoneos"),
    Model("hillstone", "SG-6000-X7180", "vpn-concentrator", "stoneos"),
    Model("hillstone", "SG-6000-X10800", "vpn-concentrator", "stoneos"),
    Model("fortinet", "FortiGate-60F", "firewall", "fortios"),
    Model("fortinet", "FortiGate-100F", "firewall", "fortios"),
    Model("sangfor", "AF-1000-B1080", "firewall", "sangfor", ("AF8.0.75", "AF8.0.85")),
    Model("sangfor", "AC-1000-A620", "behaviour-gateway", "sangfor"),
    Model("sangfor", "AC-1000-B1280", "behaviour-gateway", "sangfor"),
    # Campus switches and WLAN, one vendor per branch
    Model("huawei", "S5735-S24T4X", "core-switch", "vrp"),
    Model("huawei", "S5735-L24T4S-A", "access-switch", "vrp"),
    Model("huawei", "S5735-L48T4S-A", "access-switch", "vrp"),
    Model(
        "huawei",
        "S5720-28X-LI-AC",
        "access-switch",
        "vrp",
        ("V200R011C10SPC600", "V200R019C10SPC500"),
        end_of_sale=_D(2020, 12, 31),
        end_of_support=_D(2025, 12, 31),
    ),
    Model("huawei", "AirEngine 9700-M1", "wifi-controller", "vrp", ("V200R022C10SPC100",)),
    Model("huawei", "AirEngine 5761-11", "wifi-ap", "vrp", ("V200R022C10SPC100",)),
    Model("huawei", "AirEngine 5760-10", "wifi-ap", "vrp", ("V200R021C00SPC200",)),
    Model("h3c", "S5560X-30C-EI", "core-switch", "comware"),
    Model("h3c", "S5130S-28S-EI", "access-switch", "comware"),
    Model("h3c", "S5130S-52S-EI", "access-switch", "comware"),
    Model("h3c", "WX2510H-F", "wifi-controller", "comware", ("7.1.064 Release 5452P09",)),
    Model("h3c", "WA6320", "wifi-ap", "comware", ("7.1.064 Release 2463P08",)),
    Model("h3c", "WA6322", "wifi-ap", "comware", ("7.1.064 Release 2463P08",)),
    Model("ruijie", "RG-S5310-24GT4XS-E", "core-switch", "rgos"),
    Model("ruijie", "RG-S2910-24GT4XS-E", "access-switch", "rgos"),
    Model("ruijie", "RG-S2910-48GT4XS-E", "access-switch", "rgos"),
    Model("ruijie", "RG-WS6008", "wifi-controller", "rgos", ("AC_RGOS 11.9(6)W3B3",)),
    Model("ruijie", "RG-AP820-L(V3)", "wifi-ap", "rgos", ("AP_RGOS 11.9(6)W3B3",)),
    # Data-centre network, storage and load balancing
    Model("huawei", "CE12804", "core-switch", "vrp", ("V300R021C10SPC200", "V300R022C00SPC100")),
    Model("huawei", "CE6881-48S6CQ", "access-switch", "vrp", ("V300R021C10SPC200",)),
    Model("cisco", "C9300-48T", "access-switch", "ios-xe"),
    Model("huawei", "OceanStor Dorado 5000 V6", "storage", "oceanstor"),
    Model("f5", "BIG-IP i5800", "load-balancer", "tmos"),
    # Servers (the platform is the operating system or hypervisor installed)
    Model("dell", "PowerEdge R650", "server", None),
    Model("dell", "PowerEdge R750", "server", None),
    Model(
        "dell",
        "PowerEdge R730",
        "server",
        None,
        end_of_sale=_D(2019, 5, 31),
        end_of_support=_D(2024, 5, 31),
    ),
    Model("lenovo", "ThinkSystem SR650", "server", None),
    Model("lenovo", "ThinkSystem SR650 V2", "server", None),
    Model("lenovo", "ThinkSystem SR630 V2", "server", None),
    Model("inspur", "NF5280M6", "server", None),
    Model("inspur", "NF5270M6", "server", None),
    Model(
        "inspur",
        "NF5280M5",
        "server",
        None,
        end_of_sale=_D(2022, 6, 30),
        end_of_support=_D(2027, 6, 30),
    ),
)
MODEL_BY_NAME = {m.name: m for m in MODELS}

_SERIAL_CHARS = {
    "#": string.digits,
    "@": string.ascii_uppercase,
    "*": string.ascii_uppercase.replace("I", "").replace("O", "") + string.digits,
    "?": "0123456789BCDFGHJKLMNPQRSTVWXYZ",
    "~": string.ascii_lowercase,
}


def serial_number(vendor: Vendor, model: Model, year: int, rng: random.Random) -> str:
    """A serial in the vendor's pattern.

    ``#`` digit, ``@`` letter, ``*`` letter or digit, ``?`` Dell service-tag character,
    ``~`` lower-case letter, ``YY`` two-digit year, ``WW`` week; ``{prefix}`` is the model
    code and ``{cisco_year}`` the year as Cisco counts it (years since 1996). Everything
    else is literal.
    """
    pattern = vendor.serial_pattern.format(
        prefix=model.name.replace("FortiGate-", "FG"), cisco_year=f"{year - 1996:02d}"
    )
    pattern = pattern.replace("YY", f"{year % 100:02d}").replace("WW", f"{rng.randint(1, 52):02d}")
    return "".join(rng.choice(_SERIAL_CHARS[ch]) if ch in _SERIAL_CHARS else ch for ch in pattern)


def firmware_for(model: Model, platform: str | None, rng: random.Random) -> str:
    versions = model.firmware or (PLATFORM_VERSIONS.get(platform, ()) if platform else ())
    return rng.choice(versions) if versions else ""


def manufacturer_rows() -> tuple[ManufacturerRow, ...]:
    return tuple(ManufacturerRow(v.slug, v.name) for v in VENDORS)


def platform_rows() -> tuple[PlatformRow, ...]:
    return tuple(PlatformRow(slug, name, vendor) for slug, name, vendor, _ in PLATFORMS)


def device_model_rows() -> tuple[DeviceModelRow, ...]:
    return tuple(
        DeviceModelRow(m.vendor, m.name, m.role, m.end_of_sale, m.end_of_support) for m in MODELS
    )
