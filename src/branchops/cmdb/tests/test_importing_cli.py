"""``branchops import`` and ``branchops export`` through cli_import / cli_export: exit
status 0 (imported), 1 (invalid rows, each printed), 2 (unusable file or user)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest
from django.utils import translation

from branchops.cmdb.importing import cli_export, cli_import
from branchops.cmdb.importing.samples import csv_file, device_workbook, ensure_catalog, ensure_sites
from branchops.cmdb.models import Device
from branchops.core.models import AuditEvent
from branchops.core.testing import make_site, make_user

pytestmark = pytest.mark.django_db

HEADERS = [
    "Site code",
    "Device name",
    "Device role",
    "Manufacturer",
    "Device model",
    "Management IP",
]


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    with translation.override("en"):
        yield


@pytest.fixture
def setup(tmp_path):  # type: ignore[no-untyped-def]
    ensure_catalog()
    make_site(code="BR-1")
    make_user(username="ops")
    return tmp_path


def write(path: Path, rows: list[list[object]]) -> Path:
    path.write_bytes(csv_file([HEADERS, *rows], encoding="gbk"))
    return path


GOOD = [["BR-1", "防火墙01", "firewall", "Hillstone", "SG-6000-E2300", "10.0.0.1"]]


def test_import_succeeds_with_exit_0(setup, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write(setup / "devices.csv", GOOD)
    assert cli_import(path, kind=None, dry_run=False, username="ops") == 0
    assert "Imported 1 row(s): 1 created" in capsys.readouterr().out
    assert Device.objects.get().name == "防火墙01"
    assert AuditEvent.objects.get().actor_name == "ops"


def test_dry_run_exit_0_and_nothing_written(setup, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write(setup / "devices.csv", GOOD)
    assert cli_import(path, kind="devices", dry_run=True, username="ops") == 0
    assert "Dry run" in capsys.readouterr().out
    assert not Device.objects.exists()


def test_invalid_rows_exit_1_with_every_error_in_a_table(setup, capsys) -> None:  # type: ignore[no-untyped-def]
    rows = [
        *GOOD,
        ["BR-1", "sw01", "firewall", "Hillstone", "SG-6000-E2300", "300.1.1.1"],
        ["BR-9", "sw02", "firewall", "Hillstone", "SG-6000-E2300", ""],
    ]
    path = write(setup / "devices.csv", rows)
    assert cli_import(path, kind="devices", dry_run=False, username="ops") == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2 problem(s) found in devices.csv; nothing was imported."
    assert out[1:] == [
        "row | column | message",
        "3 | Management IP | Enter a valid IPv4 or IPv6 address.",
        "4 | Site code | BR-9 is not known.",
    ]
    assert not Device.objects.exists()


@pytest.mark.parametrize(
    "content", [b"", b"\x00\x01\x02garbage" * 100, b"Colour,Size\r\nred,big\r\n"]
)
def test_unusable_file_exit_2(setup, capsys, content) -> None:  # type: ignore[no-untyped-def]
    path = setup / "bad.csv"
    path.write_bytes(content)
    assert cli_import(path, kind=None, dry_run=False, username="ops") == 2
    assert "nothing was imported" in capsys.readouterr().out


def test_missing_column_exit_2(setup, capsys) -> None:  # type: ignore[no-untyped-def]
    path = setup / "d.csv"
    path.write_bytes(csv_file([["Site code", "Device name", "Device role"], GOOD[0][:3]]))
    assert cli_import(path, kind="devices", dry_run=False, username="ops") == 2
    assert "1 | Device model | This required column is missing" in capsys.readouterr().out


def test_oversized_file_is_refused_before_reading(setup, settings, capsys) -> None:  # type: ignore[no-untyped-def]
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    path = setup / "big.csv"
    with path.open("wb") as fh:
        fh.truncate(3 * 1024 * 1024)  # sparse: 3 MB of nothing
    assert cli_import(path, kind=None, dry_run=False, username="ops") == 2
    assert "The file is 3.0 MB; the limit is 1.0 MB." in capsys.readouterr().err


def test_unusable_user_or_path_exit_2(setup, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write(setup / "devices.csv", GOOD)
    assert cli_import(path, kind=None, dry_run=False, username="nobody") == 2
    make_user(username="gone", is_active=False)
    assert cli_import(path, kind=None, dry_run=False, username="gone") == 2
    assert cli_import(setup / "missing.csv", kind=None, dry_run=False, username="ops") == 2
    assert cli_import(setup, kind=None, dry_run=False, username="ops") == 2
    assert cli_import(path, kind="racks", dry_run=False, username="ops") == 2
    err = capsys.readouterr().err
    assert "no active user named 'nobody'" in err
    assert "cannot read" in err
    assert not Device.objects.exists()


def test_large_file_with_progress(setup, capsys) -> None:  # type: ignore[no-untyped-def]
    path = setup / "many.xlsx"
    path.write_bytes(device_workbook(700, ensure_sites(70)))
    assert cli_import(path, kind=None, dry_run=False, username="ops") == 0
    assert "Imported 700 row(s)" in capsys.readouterr().out
    assert Device.objects.count() == 700


def test_export_format_from_the_extension(setup, capsys) -> None:  # type: ignore[no-untyped-def]
    make_user(username="root", is_superuser=True)
    cli_import(write(setup / "devices.csv", GOOD), kind=None, dry_run=False, username="ops")
    assert cli_export("devices", setup / "out.csv") == 0
    text = (setup / "out.csv").read_bytes().decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text)))[1][:2] == ["BR-1", "防火墙01"]
    assert cli_export("devices", setup / "OUT.XLSX") == 0
    sheet = openpyxl.load_workbook(setup / "OUT.XLSX").worksheets[0]
    assert sheet.cell(2, 2).value == "防火墙01"
    assert "Exported devices to" in capsys.readouterr().out
    assert cli_export("devices", setup / "out.pdf") == 2
    assert cli_export("racks", setup / "out.csv") == 2


def test_export_needs_an_administrator(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli_export("sites", tmp_path / "s.csv") == 2
    assert "no administrator" in capsys.readouterr().err
    make_user(username="admin")  # an account named admin will do
    assert cli_export("sites", tmp_path / "s.csv") == 0
