"""Reading import files: encodings, formats, size and row limits, headers and formulas.

Every bad file gives a clear error (never a traceback) and leaves the database untouched.
"""

from __future__ import annotations

import io
import os
import re
import zipfile

import pytest
from django.utils import translation

from branchops.cmdb.choices import SiteKind
from branchops.cmdb.importing import RowError, import_upload
from branchops.cmdb.importing.samples import csv_file, workbook
from branchops.cmdb.models import Device, Site
from branchops.core.models import AuditEvent
from branchops.core.testing import make_region, make_site, make_user

pytestmark = pytest.mark.django_db

SITE_HEADERS = ["站点编码", "站点名称", "站点类型", "所属区域", "地址"]
SITE_ROWS = [
    ["BR-HZ-01", "杭州西湖营业部", "branch", "hangzhou", "杭州市西湖区文三路 1 号"],
    ["BR-HZ-02", "杭州滨江营业部", "Branch", "hangzhou", ""],
]


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    # Messages are asserted in English, whatever the catalogs say in Chinese.
    with translation.override("en"):
        yield


@pytest.fixture
def admin():  # type: ignore[no-untyped-def]
    make_region(code="hangzhou", name="杭州")
    return make_user()


def run(data: bytes, user, kind: str | None = "sites", *, dry_run: bool = False, name="f.csv"):  # type: ignore[no-untyped-def]
    return import_upload(kind, name, data, actor=user, dry_run=dry_run)


def nothing_written() -> None:
    assert not Site.objects.filter(code__startswith="BR-HZ").exists()
    assert not AuditEvent.objects.exists()


# ---- encodings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "bom", "delimiter"),
    [
        ("gbk", False, ","),  # what Chinese Excel writes for "CSV (逗号分隔)"
        ("gb18030", False, ","),
        ("utf-8", True, ","),  # "CSV UTF-8"
        ("utf-8", False, ","),
        ("utf-16", True, "\t"),  # "Unicode text": UTF-16 with a BOM, tab-separated
    ],
)
def test_chinese_text_survives_every_excel_encoding(admin, encoding, bom, delimiter) -> None:  # type: ignore[no-untyped-def]
    data = csv_file([SITE_HEADERS, *SITE_ROWS], encoding=encoding, bom=bom, delimiter=delimiter)
    report = run(data, admin, kind=None)
    assert report.errors == []
    assert report.kind == "sites"
    assert (report.created, report.updated) == (2, 0)
    site = Site.objects.get(code="BR-HZ-01")
    assert site.name == "杭州西湖营业部"
    assert site.address == "杭州市西湖区文三路 1 号"
    assert Site.objects.get(code="BR-HZ-02").kind == "branch"  # by its English label


def test_choices_by_their_chinese_label(admin) -> None:  # type: ignore[no-untyped-def]
    with translation.override("zh-hans"):
        label = str(SiteKind.REGIONAL_CENTRE.label)  # whatever the catalog calls it
    data = csv_file([SITE_HEADERS, ["RC-HZ", "杭州区域中心", label, "hangzhou", ""]])
    assert run(data, admin).errors == []
    assert Site.objects.get(code="RC-HZ").kind == SiteKind.REGIONAL_CENTRE


def test_gbk_file_really_is_not_utf8(admin) -> None:  # type: ignore[no-untyped-def]
    data = csv_file([SITE_HEADERS, *SITE_ROWS], encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert run(data, admin).encoding == "gb18030"


# ---- files that are not usable ---------------------------------------------------------------


def file_error(report) -> str:  # type: ignore[no-untyped-def]
    assert not report.ok
    assert report.file_unusable
    assert [e.row for e in report.errors] == [0]
    return str(report.errors[0].message)


def test_empty_file(admin) -> None:  # type: ignore[no-untyped-def]
    assert "empty" in file_error(run(b"", admin))
    assert "empty" in file_error(run(b"\xef\xbb\xbf\r\n", admin))
    nothing_written()


def test_headers_only(admin) -> None:  # type: ignore[no-untyped-def]
    report = run(csv_file([SITE_HEADERS, [], []]), admin)
    assert "no data rows" in file_error(report)
    report = run(workbook([SITE_HEADERS]), admin, name="f.xlsx")
    assert "no data rows" in file_error(report)


def test_first_row_must_be_headers(admin) -> None:  # type: ignore[no-untyped-def]
    assert "first row" in file_error(run(csv_file([[], SITE_HEADERS, *SITE_ROWS]), admin))


def test_twenty_megabytes_of_garbage_is_refused_by_size(admin) -> None:  # type: ignore[no-untyped-def]
    garbage = os.urandom(20 * 1024 * 1024)
    message = file_error(run(garbage, admin, kind=None))
    assert message == "The file is 20.0 MB; the limit is 16.0 MB."
    nothing_written()


@pytest.mark.parametrize(
    "data",
    [
        os.urandom(200_000),  # binary noise
        b"\x89PNG\r\n\x1a\n" + os.urandom(5000),  # an image
        bytes(range(256)) * 10,
    ],
)
def test_binary_file_is_not_a_csv(admin, data) -> None:  # type: ignore[no-untyped-def]
    assert "not a CSV or XLSX" in file_error(run(data, admin, kind=None))
    nothing_written()


def test_old_xls_and_protected_workbooks(admin) -> None:  # type: ignore[no-untyped-def]
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096)
    assert ".xlsx" in file_error(run(data, admin, name="old.xls"))


def test_zip_that_is_not_a_workbook(admin) -> None:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    assert "not an XLSX" in file_error(run(buffer.getvalue(), admin, name="x.xlsx"))
    truncated = workbook([SITE_HEADERS, *SITE_ROWS])[:3000]
    assert "not an XLSX" in file_error(run(truncated, admin, name="x.xlsx"))


def test_too_many_rows(admin, settings) -> None:  # type: ignore[no-untyped-def]
    settings.IMPORT_MAX_ROWS = 1
    message = file_error(run(csv_file([SITE_HEADERS, *SITE_ROWS]), admin))
    assert "more than 1 data rows" in message
    nothing_written()


def test_unknown_kind(admin) -> None:  # type: ignore[no-untyped-def]
    assert "Unknown kind" in file_error(run(csv_file([SITE_HEADERS, *SITE_ROWS]), admin, "racks"))


# ---- headers -----------------------------------------------------------------------------------


def test_missing_required_columns_are_named(admin) -> None:  # type: ignore[no-untyped-def]
    data = csv_file([["站点编码", "地址"], ["BR-HZ-01", "x"]])
    report = run(data, admin)
    assert report.file_unusable
    assert {(e.row, e.column) for e in report.errors} == {
        (1, "站点名称"),
        (1, "站点类型"),
        (1, "所属区域"),
    }
    assert all("required column is missing" in e.message for e in report.errors)
    nothing_written()


def test_missing_columns_named_in_the_files_language(admin) -> None:  # type: ignore[no-untyped-def]
    report = run(csv_file([["Site code", "Address"], ["BR-HZ-01", "x"]]), admin)
    assert {e.column for e in report.errors} == {"Site name", "Site kind", "Region"}


def test_unknown_column_is_an_error_not_a_silent_drop(admin) -> None:  # type: ignore[no-untyped-def]
    headers = [*SITE_HEADERS, "地祉", "经度"]  # a typo'd header, and a known one
    rows = [[*SITE_ROWS[0], "x", "120.1"]]
    report = run(csv_file([headers, *rows]), admin)
    assert RowError(1, "地祉", report.errors[0].message) in report.errors
    assert "Unknown column" in report.errors[0].message
    # The rows are still checked, so one upload shows every problem.
    assert RowError(2, "经度", "Give both latitude and longitude, or neither.") in report.errors
    assert report.file_unusable
    nothing_written()


def test_duplicate_column(admin) -> None:  # type: ignore[no-untyped-def]
    report = run(csv_file([[*SITE_HEADERS, "Address"], [*SITE_ROWS[0], "y"]]), admin)
    assert [(e.row, e.column) for e in report.errors] == [(1, "Address")]
    assert "twice (also column E)" in report.errors[0].message


def test_headers_in_english_codes_and_odd_spacing(admin) -> None:  # type: ignore[no-untyped-def]
    data = csv_file(
        [[" site code ", "SITE_NAME", "kind", "Region*"], ["BR-HZ-01", "X", "branch", "hangzhou"]]
    )
    report = run(data, admin)
    assert report.errors == []
    assert report.created == 1


def test_short_chinese_headers_of_peoples_own_sheets(admin) -> None:  # type: ignore[no-untyped-def]
    data = csv_file(
        [["编码", "名称", "类型", "状态", "所属区域"], ["BR-HZ-01", "x", "branch", "", "杭州"]]
    )
    report = run(data, admin, kind=None)
    assert report.errors == []
    assert report.kind == "sites"


def test_row_numbers_count_records_not_lines(admin) -> None:  # type: ignore[no-untyped-def]
    headers = [*SITE_HEADERS[:4], "描述"]
    rows = [
        ["BR-HZ-01", "a", "branch", "hangzhou", "第一行\n第二行\n第三行"],
        [],
        ["BR-HZ-02", "b", "nope", "hangzhou", ""],
    ]
    report = run(csv_file([headers, *rows]), admin)
    assert [(e.row, e.column) for e in report.errors] == [(4, "站点类型")]
    run(csv_file([headers, rows[0]]), admin)
    assert Site.objects.get(code="BR-HZ-01").description == "第一行\n第二行\n第三行"


def test_value_under_no_header(admin) -> None:  # type: ignore[no-untyped-def]
    data = csv_file([SITE_HEADERS, [*SITE_ROWS[0], "", "stray"], SITE_ROWS[1]])
    report = run(data, admin)
    assert report.errors == [
        RowError(2, "G", "This cell has a value but its column has no header.")
    ]
    nothing_written()


def test_kind_is_guessed_or_asked_for(admin) -> None:  # type: ignore[no-untyped-def]
    devices = csv_file(
        [["站点编码", "设备名称", "设备角色", "设备型号"], ["S1", "fw", "firewall", "m"]]
    )
    assert run(devices, admin, kind=None).kind == "devices"
    report = run(csv_file([["颜色", "大小"], ["红", "大"]]), admin, kind=None)
    assert report.errors[0].row == 1
    assert "Cannot tell what the file holds" in report.errors[0].message


# ---- XLSX specifics ----------------------------------------------------------------------------


def with_cached_result(data: bytes, cell: str, result: str) -> bytes:
    """Give a formula cell the saved result Excel would store (openpyxl writes none)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = content.decode()
                # An empty value is <v/>, or <v></v> when openpyxl writes with lxml.
                text, count = re.subn(
                    rf'<c r="{cell}"([^>]*)><f>(.*?)</f>(?:<v\s*/>|<v></v>)',
                    rf'<c r="{cell}"\1 t="str"><f>\2</f><v>{result}</v>',
                    text,
                )
                assert count == 1, text
                content = text.encode()
            target.writestr(item, content)
    return out.getvalue()


def test_xlsx_formulas_use_the_saved_result(admin) -> None:  # type: ignore[no-untyped-def]
    rows = [SITE_HEADERS, ["BR-HZ-01", '=CONCATENATE("杭州","西湖营业部")', "branch", "hangzhou"]]
    data = with_cached_result(workbook(rows), "B2", "杭州西湖营业部")
    report = run(data, admin, name="f.xlsx")
    assert report.errors == []
    assert Site.objects.get(code="BR-HZ-01").name == "杭州西湖营业部"


def test_xlsx_formula_without_saved_result_asks_to_paste_values(admin) -> None:  # type: ignore[no-untyped-def]
    rows = [SITE_HEADERS, SITE_ROWS[0], ["BR-HZ-02", "=B2", "branch", "hangzhou"]]
    report = run(workbook(rows), admin, name="f.xlsx")
    assert [(e.row, e.column) for e in report.errors] == [(3, "站点名称")]
    assert "paste it back as values" in report.errors[0].message
    assert not report.file_unusable
    nothing_written()


def test_xlsx_error_values(admin) -> None:  # type: ignore[no-untyped-def]
    report = run(workbook([SITE_HEADERS, [*SITE_ROWS[0][:4], "#N/A"]]), admin, name="f.xlsx")
    assert [(e.row, e.column) for e in report.errors] == [(2, "地址")]
    assert "#N/A" in report.errors[0].message


def test_xlsx_row_numbers_count_blank_rows(admin) -> None:  # type: ignore[no-untyped-def]
    rows = [SITE_HEADERS, SITE_ROWS[0], [], [], ["BR-HZ-03", "x", "shop", "hangzhou"]]
    report = run(workbook(rows), admin, name="f.xlsx")
    assert [(e.row, e.column) for e in report.errors] == [(5, "站点类型")]


def test_xlsx_typed_cells(admin) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    headers = [*SITE_HEADERS, "纬度", "经度", "开业日期"]
    rows = [headers, [*SITE_ROWS[0], 30.274085, 120.15507, dt.datetime(2015, 6, 18)]]
    report = run(workbook(rows), admin, name="f.xlsx")
    assert report.errors == []
    site = Site.objects.get(code="BR-HZ-01")
    assert str(site.latitude) == "30.274085"
    assert site.opened_on == dt.date(2015, 6, 18)


def test_devices_table_untouched_by_failed_site_import(admin) -> None:  # type: ignore[no-untyped-def]
    make_site(code="KEEP")
    before = Device.objects.count(), Site.objects.count()
    run(csv_file([SITE_HEADERS, ["bad code!", "x", "branch", "hangzhou"]]), admin)
    assert (Device.objects.count(), Site.objects.count()) == before
