"""Realistic device workbooks for tests and the import benchmark.

Deterministic (no randomness): the same arguments always give the same file, so a
benchmark measures the same work every time.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence

from django.db import transaction

from branchops.cmdb import models as m
from branchops.cmdb.choices import RegionLevel, SiteKind
from branchops.cmdb.importing.kinds import DEVICES

# role, manufacturer, model, platform, name suffix, criticality: a typical branch.
BRANCH_KIT: tuple[tuple[str, str, str, str, str, int], ...] = (
    ("firewall", "Hillstone", "SG-6000-E2300", "StoneOS", "FW01", 1),
    ("core-switch", "Huawei", "S5735-S24T4X", "VRP", "CORE01", 2),
    ("access-switch", "H3C", "S5130S-28S-EI", "Comware", "SW01", 3),
    ("access-switch", "H3C", "S5130S-28S-EI", "Comware", "SW02", 3),
    ("wifi-controller", "Ruijie", "WS6008", "RGOS", "AC01", 3),
    ("wifi-ap", "Ruijie", "AP720-L", "RGOS", "AP01", 4),
    ("wifi-ap", "Ruijie", "AP720-L", "RGOS", "AP02", 4),
    ("wifi-ap", "Ruijie", "AP720-L", "RGOS", "AP03", 4),
    ("behaviour-gateway", "Sangfor", "AC-1000-B1350", "Sangfor AC", "AC-GW01", 3),
    ("server", "Inspur", "NF5280M6", "Windows Server", "SRV01", 2),
)
SERIAL_PREFIX = {
    "Hillstone": "HS",
    "Huawei": "21",
    "H3C": "219801",
    "Ruijie": "G1",
    "Sangfor": "SF",
    "Inspur": "NF",
}


def ensure_catalog() -> None:
    """Create the manufacturers, models and platforms that sample files name."""
    with transaction.atomic():
        for _role, maker, model, platform, _suffix, _crit in BRANCH_KIT:
            vendor, _ = m.Manufacturer.objects.get_or_create(
                name=maker, defaults={"slug": maker.lower()}
            )
            m.DeviceModel.objects.get_or_create(manufacturer=vendor, name=model)
            m.Platform.objects.get_or_create(
                name=platform,
                defaults={"slug": platform.lower().replace(" ", "-"), "manufacturer": vendor},
            )


def ensure_sites(count: int, prefix: str = "BR") -> list[str]:
    """``count`` branch sites (codes ``BR-0001`` ...) under one sample city; their codes."""
    with transaction.atomic():
        region, _ = m.Region.objects.get_or_create(
            code="sample-region", defaults={"name": "样例大区", "level": RegionLevel.REGION}
        )
        province, _ = m.Region.objects.get_or_create(
            code="sample-province",
            defaults={"name": "样例省", "level": RegionLevel.PROVINCE, "parent": region},
        )
        city, _ = m.Region.objects.get_or_create(
            code="sample-city",
            defaults={"name": "样例市", "level": RegionLevel.CITY, "parent": province},
        )
        codes = [f"{prefix}-{i:04d}" for i in range(1, count + 1)]
        existing = set(m.Site.objects.filter(code__in=codes).values_list("code", flat=True))
        m.Site.objects.bulk_create(
            m.Site(code=code, name=f"样例营业部 {code}", kind=SiteKind.BRANCH, region=city)
            for code in codes
            if code not in existing
        )
    return codes


def device_rows(n: int, sites: Sequence[str]) -> Iterator[list[object]]:
    """``n`` device rows in the column order of the devices kind, spread over ``sites``:
    a branch's kit per site, then a second round of kit (with a numbered name) and so on."""
    for i in range(n):
        site_index, kit_index = divmod(i, len(BRANCH_KIT))
        rounds, site_pos = divmod(site_index, len(sites))
        site = sites[site_pos]
        role, maker, model, platform, suffix, criticality = BRANCH_KIT[kit_index]
        name = f"{site}-{suffix}" + (f"-{rounds + 1}" if rounds else "")
        if rounds or kit_index == 0:
            upstream = ""
        else:  # the core switch hangs off the firewall, everything else off the core switch
            upstream = f"{site}-FW01" if kit_index == 1 else f"{site}-CORE01"
        host = kit_index + 1 + rounds * len(BRANCH_KIT)
        values = {
            "site": site,
            "name": name,
            "role": role,
            "manufacturer": maker,
            "model": model,
            "platform": platform,
            "serial": f"{SERIAL_PREFIX[maker]}{2300000 + i:09d}",
            "asset_tag": f"ZC-{i + 1:07d}",
            "status": "active",
            # Loopback, like the demo estate: sample rows may end up polled by a lab engine.
            "management_ip": f"127.{200 + site_pos // 250 % 50}.{site_pos % 250}.{host % 254 + 1}",
            "firmware_version": "5.5R9" if maker == "Hillstone" else "V200R021",
            "criticality": criticality,
            "depends_on": upstream,
            "installed_on": None,
            "description": "",
        }
        yield [values[c.code] for c in DEVICES.columns]


def device_workbook(n: int, sites: Sequence[str], *, language: str = "zh-hans") -> bytes:
    """An XLSX of ``n`` realistic device rows over the given (existing) site codes.

    Run :func:`ensure_catalog` first so that the models and platforms exist.
    """
    from openpyxl import Workbook

    if not sites:
        raise ValueError("give at least one site code")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("devices")
    sheet.append([c.header(language) for c in DEVICES.columns])
    for row in device_rows(n, sites):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def workbook(rows: Sequence[Sequence[object]], *, title: str = "data") -> bytes:
    """An XLSX whose first sheet holds ``rows`` (the first is the header row)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def csv_file(
    rows: Sequence[Sequence[object]],
    *,
    encoding: str = "utf-8",
    bom: bool = False,
    delimiter: str = ",",
) -> bytes:
    """A CSV as Excel would save it: CRLF line ends, the given encoding, maybe a BOM."""
    import codecs
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    data = buffer.getvalue().encode(encoding)
    if bom and encoding.replace("-", "").lower() == "utf8":
        data = codecs.BOM_UTF8 + data
    return data
