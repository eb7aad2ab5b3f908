"""Exports and templates: only what the user may see, formula injection made inert, and an
exported file imports back with no errors and no changes."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from django.utils import translation

from branchops.cmdb.importing import KINDS, export_kind, import_upload, template
from branchops.cmdb.models import InformationSystem, Link, MaintenanceContract
from branchops.core.choices import Role
from branchops.core.models import BusinessCalendar
from branchops.core.testing import make_device, make_link, make_site, make_user

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example/","点击")'


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    with translation.override("en"):
        yield


@pytest.fixture
def estate():  # type: ignore[no-untyped-def]
    centre = make_site(code="RC-SH", kind="regional_centre", name="上海区域中心")
    branch = make_site(
        code="BR-SH-001",
        name="上海浦东营业部",
        support_centre=centre,
        latitude=Decimal("31.235929"),
        longitude=Decimal("121.506058"),
        opened_on=dt.date(2015, 6, 18),
        calendar=BusinessCalendar.objects.get(code="xshg-trading"),
        description=FORMULA,
    )
    other = make_site(code="BR-BJ-001", name="北京朝阳营业部")
    hq = make_site(code="DC-HQ", kind="hq_dc", name="总部数据中心")
    fw = make_device(
        branch,
        name="FW01",
        serial="HS001",
        management_ip="10.1.0.1",
        installed_on=dt.date(2023, 9, 1),
        criticality=1,
    )
    make_device(
        branch,
        name="-SW01",
        role="access-switch",
        depends_on=fw,
        management_ip="2001:db8::1",
        description="@risky\nsecond line",
    )
    bj_fw = make_device(other, name="FW01", serial="HS002")
    vpn = make_device(hq, role="vpn-concentrator", name="HQ/VPN01", depends_on=bj_fw)
    line = make_link(fw, None, kind="internet", name="BR-SH-001 internet", carrier="中国电信")
    make_link(fw, vpn, name="BR-SH-001 VPN", underlay=line, bandwidth_mbps=100)
    make_link(bj_fw, vpn, name="BR-BJ-001 VPN")
    InformationSystem.objects.create(
        code="central-trading",
        name="集中交易",
        category="real_time",
        required_capability={"fault": 4, "disaster": 5},
    )
    InformationSystem.objects.create(
        code="sms",
        name="短信",
        category="non_real_time",
        required_capability={},
        description="+86 gateway",
    )
    contract = MaintenanceContract.objects.create(
        number="WB-1",
        name="维保",
        provider="山石",
        coverage="7x24x4",
        starts_on=dt.date(2025, 1, 1),
        ends_on=dt.date(2025, 12, 31),
        cost=Decimal("1200.50"),
    )
    contract.devices.set([fw, bj_fw, vpn, fw.site.devices.get(name="-SW01")])
    return {"branch": branch, "other": other, "admin": make_user()}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_export_imports_back_unchanged(estate, kind, fmt) -> None:  # type: ignore[no-untyped-def]
    data = export_kind(kind, fmt, user=estate["admin"])
    report = import_upload(None, f"export.{fmt}", data, actor=estate["admin"], dry_run=False)
    assert report.errors == []
    assert report.kind == kind
    assert report.total == KINDS[kind].model._default_manager.count()
    assert (report.created, report.updated, report.unchanged) == (0, 0, report.total)


def test_csv_export_is_utf8_with_bom_and_chinese_headers(estate) -> None:  # type: ignore[no-untyped-def]
    with translation.override("zh-hans"):
        data = export_kind("sites", "csv", user=estate["admin"])
    assert data.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["站点编码", "站点名称", "站点类型"]
    assert rows[[r[0] for r in rows].index("BR-SH-001")][:3] == [
        "BR-SH-001",
        "上海浦东营业部",
        "branch",
    ]


def test_formulas_are_inert_in_csv(estate) -> None:  # type: ignore[no-untyped-def]
    text = export_kind("sites", "csv", user=estate["admin"]).decode("utf-8-sig")
    rows = {r[0]: r for r in csv.reader(io.StringIO(text))}
    assert rows["BR-SH-001"][-1] == "'" + FORMULA
    devices = export_kind("devices", "csv", user=estate["admin"]).decode("utf-8-sig")
    names = [r[1] for r in csv.reader(io.StringIO(devices))]
    assert "'-SW01" in names
    assert "-SW01" not in names


def test_formulas_are_inert_in_xlsx(estate) -> None:  # type: ignore[no-untyped-def]
    data = export_kind("sites", "xlsx", user=estate["admin"])
    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    cells = [c for row in sheet.iter_rows() for c in row if c.value == FORMULA]
    assert len(cells) == 1
    assert cells[0].data_type == "s"
    assert cells[0].quotePrefix


def test_liaison_exports_only_own_data(estate) -> None:  # type: ignore[no-untyped-def]
    liaison = make_user(Role.BRANCH_LIAISON, sites=(estate["branch"],))

    def codes(kind: str, column: int = 0) -> list[str]:
        text = export_kind(kind, "csv", user=liaison).decode("utf-8-sig")
        return [row[column] for row in list(csv.reader(io.StringIO(text)))[1:]]

    assert codes("sites") == ["BR-SH-001"]
    assert set(codes("devices")) == {"BR-SH-001"}
    assert codes("links") == ["BR-SH-001 VPN", "BR-SH-001 internet"]
    # The contract is visible through the liaison's devices, and lists only those.
    assert codes("contracts", column=8) == ["BR-SH-001/-SW01;HS001"]


def test_nothing_for_a_role_that_sees_nothing(estate) -> None:  # type: ignore[no-untyped-def]
    stranger = make_user(Role.BRANCH_LIAISON)
    assert export_kind("devices", "csv", user=stranger).decode("utf-8-sig").count("\n") == 1


@pytest.mark.parametrize("kind", list(KINDS))
def test_templates_in_both_languages(kind) -> None:  # type: ignore[no-untyped-def]
    spec = KINDS[kind]
    zh = openpyxl.load_workbook(io.BytesIO(template(kind, "xlsx", "zh-hans")))
    data, columns = zh.worksheets
    assert [c.value for c in data[1]] == [c.zh for c in spec.columns]
    assert data.max_row == 2  # the header and one example
    assert [r[0].value for r in columns.iter_rows(min_row=2, max_row=len(spec.columns) + 1)] == [
        c.zh for c in spec.columns
    ]
    en = template(kind, "csv", "en").decode("utf-8-sig")
    header, example = list(csv.reader(io.StringIO(en)))
    assert header == [c.en for c in spec.columns]
    assert len(example) == len(header)


def test_template_explains_allowed_values(estate) -> None:  # type: ignore[no-untyped-def]
    book = openpyxl.load_workbook(io.BytesIO(template("sites", "xlsx", "en")))
    help_rows = {r[0]: r for r in book.worksheets[1].iter_rows(values_only=True)}
    assert help_rows["Site kind"][1] == "yes"
    assert "branch = Branch" in help_rows["Site kind"][3]
    assert "regional_centre = Regional centre" in help_rows["Site kind"][3]
    assert book.worksheets[0].data_validations.dataValidation  # drop-down lists


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_filled_template_headers_are_accepted(estate, fmt) -> None:  # type: ignore[no-untyped-def]
    for kind in KINDS:
        for language in ("zh-hans", "en"):
            report = import_upload(
                kind, f"t.{fmt}", template(kind, fmt, language), actor=estate["admin"], dry_run=True
            )
            assert not report.file_unusable, (kind, language, report.errors)


def test_links_and_their_underlay_recreated_from_an_export(estate) -> None:  # type: ignore[no-untyped-def]
    data = export_kind("links", "xlsx", user=estate["admin"])
    Link.objects.update(underlay=None)
    Link.objects.all().delete()
    report = import_upload("links", "l.xlsx", data, actor=estate["admin"], dry_run=False)
    assert report.errors == []
    assert report.created == 3
    assert Link.objects.get(name="BR-SH-001 VPN").underlay == Link.objects.get(
        name="BR-SH-001 internet"
    )
