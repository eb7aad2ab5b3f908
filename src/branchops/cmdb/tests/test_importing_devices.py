"""Importing devices: references by natural key, every row checked, all or nothing, upserts,
audit rows, liaison scope, speed of the bulk path."""

from __future__ import annotations

import pytest
from django.utils import translation

from branchops.cmdb.importing import RowError, import_upload
from branchops.cmdb.importing.samples import (
    csv_file,
    device_workbook,
    ensure_catalog,
    ensure_sites,
    workbook,
)
from branchops.cmdb.models import Device, DeviceModel, Manufacturer
from branchops.core.choices import AuditAction, ChangeSource, Role
from branchops.core.models import AuditEvent
from branchops.core.testing import make_device, make_site, make_user

pytestmark = pytest.mark.django_db

HEADERS = ["站点编码", "设备名称", "设备角色", "厂商", "设备型号", "序列号", "管理IP", "上联设备"]


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    with translation.override("en"):
        yield


@pytest.fixture
def estate():  # type: ignore[no-untyped-def]
    ensure_catalog()
    return {
        "sh": make_site(code="BR-SH-001", name="上海浦东营业部"),
        "bj": make_site(code="BR-BJ-001", name="北京朝阳营业部"),
        "admin": make_user(),
    }


def good_rows() -> list[list[object]]:
    return [
        ["BR-SH-001", "SH-FW01", "firewall", "Hillstone", "SG-6000-E2300", "HS001", "10.1.0.1", ""],
        [
            "BR-SH-001",
            "SH-SW01",
            "接入交换机",
            "",
            "H3C S5130S-28S-EI",
            "SN-2",
            "10.1.0.2",
            "SH-FW01",
        ],
        ["BR-BJ-001", "BJ-FW01", "Firewall", "hillstone", "sg-6000-e2300", "", "", ""],
    ]


def run(rows, user, *, fmt="xlsx", dry_run=False, kind="devices"):  # type: ignore[no-untyped-def]
    data = workbook([HEADERS, *rows]) if fmt == "xlsx" else csv_file([HEADERS, *rows])
    return import_upload(kind, f"devices.{fmt}", data, actor=user, dry_run=dry_run)


def db_state() -> list[tuple[object, ...]]:
    return sorted(Device.objects.values_list("site__code", "name", "serial", "management_ip"))


def test_creates_devices_with_references_by_natural_key(estate) -> None:  # type: ignore[no-untyped-def]
    report = run(good_rows(), estate["admin"])
    assert report.errors == []
    assert (report.total, report.created, report.updated, report.unchanged) == (3, 3, 0, 0)
    switch = Device.objects.select_related("role", "device_model", "depends_on").get(name="SH-SW01")
    assert switch.role.slug == "access-switch"  # by its Chinese name
    assert switch.device_model.name == "S5130S-28S-EI"  # "manufacturer model" in one cell
    assert switch.depends_on is not None
    assert switch.depends_on.name == "SH-FW01"
    assert Device.objects.get(name="BJ-FW01").site == estate["bj"]


def test_one_audit_row_per_object_marked_as_import(estate) -> None:  # type: ignore[no-untyped-def]
    run(good_rows(), estate["admin"])
    events = AuditEvent.objects.all()
    assert events.count() == 3
    assert {(e.action, e.source, e.actor_id) for e in events} == {
        (AuditAction.CREATE, ChangeSource.IMPORT, estate["admin"].pk)
    }
    fw = Device.objects.get(name="SH-FW01")
    event = AuditEvent.objects.get(object_id=str(fw.pk))
    assert event.after is not None
    assert event.after["serial"] == "HS001"


def test_dry_run_writes_nothing(estate) -> None:  # type: ignore[no-untyped-def]
    report = run(good_rows(), estate["admin"], dry_run=True)
    assert report.ok
    assert report.dry_run
    assert not report.written
    assert report.created == 3
    assert Device.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_every_bad_row_is_reported_and_nothing_is_written(estate) -> None:  # type: ignore[no-untyped-def]
    make_device(estate["bj"], name="BJ-OLD", serial="TAKEN-1")
    before = db_state()
    rows = good_rows()
    rows[0][6] = "10.1.0.300"  # bad IP
    rows[1][0] = "BR-XX-999"  # unknown site
    rows[2][5] = "TAKEN-1"  # serial of a device already in the database
    rows.append(["BR-SH-001", "SH-SW02", "access-switch", "H3C", "S5130S-28S-EI", "HS001", "", ""])
    rows.append(["BR-SH-001", "SH-SW03", "coffee-machine", "H3C", "S9999", "", "fe80::1::2", ""])
    report = run(rows, estate["admin"])
    assert [(e.row, e.column) for e in report.errors] == [
        (2, "管理IP"),
        (3, "站点编码"),
        (4, "序列号"),
        (5, "序列号"),
        (6, "设备角色"),
        (6, "设备型号"),
        (6, "管理IP"),
    ]
    messages = {(e.row, e.column): e.message for e in report.errors}
    assert messages[(2, "管理IP")] == "Enter a valid IPv4 or IPv6 address."
    assert messages[(3, "站点编码")] == "BR-XX-999 is not known."
    assert messages[(4, "序列号")] == ("序列号 TAKEN-1 is already used by device BR-BJ-001/BJ-OLD.")
    assert messages[(5, "序列号")] == "序列号 HS001 is already on row 2."  # within the file
    assert messages[(6, "设备型号")] == "H3C has no model S9999."
    assert not report.file_unusable
    assert db_state() == before
    assert AuditEvent.objects.count() == 0


def test_csv_and_xlsx_report_the_same_rows(estate) -> None:  # type: ignore[no-untyped-def]
    rows = good_rows()
    rows[2][6] = "not-an-ip"
    xlsx = run(rows, estate["admin"], fmt="xlsx")
    csv = run(rows, estate["admin"], fmt="csv")
    assert (
        xlsx.errors == csv.errors == [RowError(4, "管理IP", "Enter a valid IPv4 or IPv6 address.")]
    )


def test_serials_may_move_between_devices_in_one_file(estate) -> None:  # type: ignore[no-untyped-def]
    a = make_device(estate["sh"], name="A", serial="S1", asset_tag="T1")
    b = make_device(estate["sh"], name="B", serial="S2", asset_tag="T2")
    rows = [
        ["站点编码", "设备名称", "设备角色", "设备型号", "序列号", "资产编号"],
        ["BR-SH-001", "A", "firewall", "Hillstone SG-6000-E2300", "S2", "T3"],  # swap with B
        ["BR-SH-001", "B", "firewall", "Hillstone SG-6000-E2300", "S1", "T2"],
        ["BR-SH-001", "C", "firewall", "Hillstone SG-6000-E2300", "S9", "T1"],  # takes A's tag
    ]
    data = workbook(rows)
    report = import_upload("devices", "f.xlsx", data, actor=estate["admin"], dry_run=False)
    assert report.errors == []
    assert (report.created, report.updated) == (1, 2)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.serial, a.asset_tag, b.serial, b.asset_tag) == ("S2", "T3", "S1", "T2")
    assert Device.objects.get(name="C").asset_tag == "T1"


def test_same_device_twice_in_the_file(estate) -> None:  # type: ignore[no-untyped-def]
    rows = [*good_rows(), good_rows()[0]]
    report = run(rows, estate["admin"])
    assert report.errors == [RowError(5, "设备名称", "The same 设备名称 is already on row 2.")]


def test_upsert_updates_changed_devices_only(estate) -> None:  # type: ignore[no-untyped-def]
    run(good_rows(), estate["admin"])
    AuditEvent.objects.all().delete()
    rows = good_rows()
    rows[0][6] = "10.1.0.11"
    rows.append(
        ["BR-BJ-001", "BJ-SW01", "access-switch", "H3C", "S5130S-28S-EI", "", "", "BJ-FW01"]
    )
    report = run(rows, estate["admin"])
    assert report.errors == []
    assert (report.created, report.updated, report.unchanged) == (1, 1, 2)
    assert Device.objects.get(name="SH-FW01").management_ip == "10.1.0.11"
    update = AuditEvent.objects.get(action=AuditAction.UPDATE)
    assert update.before["management_ip"] == "10.1.0.1"
    assert update.after["management_ip"] == "10.1.0.11"
    assert AuditEvent.objects.count() == 2


def test_many_rows_with_the_same_change_and_some_with_others(estate) -> None:  # type: ignore[no-untyped-def]
    run(good_rows(), estate["admin"])
    rows = [
        ["站点编码", "设备名称", "软件版本", "上联设备"],
        ["BR-SH-001", "SH-FW01", "6.0", ""],
        ["BR-SH-001", "SH-SW01", "6.0", "BR-BJ-001/BJ-FW01"],
        ["BR-BJ-001", "BJ-FW01", "6.0", ""],
        ["BR-BJ-001", "BJ-SW09", "7.1", "BJ-FW01"],
    ]
    data = workbook(rows)
    report = import_upload("devices", "f.xlsx", data, actor=estate["admin"], dry_run=False)
    assert report.file_unusable  # BJ-SW09 is new and the role and model columns are missing
    report = import_upload(
        "devices", "f.xlsx", workbook(rows[:4]), actor=estate["admin"], dry_run=False
    )
    assert report.errors == []
    assert report.updated == 3
    firmware = dict(Device.objects.values_list("name", "firmware_version"))
    assert firmware == {"SH-FW01": "6.0", "SH-SW01": "6.0", "BJ-FW01": "6.0"}
    switch = Device.objects.select_related("depends_on").get(name="SH-SW01")
    assert switch.depends_on is not None
    assert switch.depends_on.name == "BJ-FW01"
    updates = AuditEvent.objects.filter(action=AuditAction.UPDATE)
    assert updates.count() == 3
    assert {e.after["firmware_version"] for e in updates if e.after} == {"6.0"}


def test_a_left_out_column_keeps_its_values(estate) -> None:  # type: ignore[no-untyped-def]
    run(good_rows(), estate["admin"])
    data = workbook([["站点编码", "设备名称", "固件版本"], ["BR-SH-001", "SH-FW01", "5.5R10"]])
    report = import_upload("devices", "f.xlsx", data, actor=estate["admin"], dry_run=False)
    assert report.errors == []
    assert report.updated == 1
    device = Device.objects.get(name="SH-FW01")
    assert (device.firmware_version, device.serial, device.management_ip) == (
        "5.5R10",
        "HS001",
        "10.1.0.1",
    )


def test_new_device_needs_its_required_values(estate) -> None:  # type: ignore[no-untyped-def]
    data = workbook([["站点编码", "设备名称", "固件版本"], ["BR-SH-001", "NEW", "1.0"]])
    report = import_upload("devices", "f.xlsx", data, actor=estate["admin"], dry_run=False)
    assert report.file_unusable
    assert [(e.row, e.column) for e in report.errors] == [(1, "设备角色"), (1, "设备型号")]
    assert Device.objects.count() == 0


def test_ambiguous_model_name_asks_for_the_manufacturer(estate) -> None:  # type: ignore[no-untyped-def]
    other = Manufacturer.objects.create(slug="clone", name="Clone")
    DeviceModel.objects.create(manufacturer=other, name="SG-6000-E2300")
    rows = [["BR-SH-001", "SH-FW01", "firewall", "", "SG-6000-E2300", "", "", ""]]
    report = run(rows, estate["admin"])
    assert report.errors == [
        RowError(
            2, "设备型号", "Several manufacturers make SG-6000-E2300; fill in the manufacturer."
        )
    ]


def test_dependency_loops_are_refused(estate) -> None:  # type: ignore[no-untyped-def]
    rows = [
        ["BR-SH-001", "A", "firewall", "Hillstone", "SG-6000-E2300", "", "", "C"],
        ["BR-SH-001", "B", "firewall", "Hillstone", "SG-6000-E2300", "", "", "A"],
        ["BR-SH-001", "C", "firewall", "Hillstone", "SG-6000-E2300", "", "", "B"],
        ["BR-SH-001", "D", "firewall", "Hillstone", "SG-6000-E2300", "", "", "D"],
        ["BR-SH-001", "E", "firewall", "Hillstone", "SG-6000-E2300", "", "", "BR-BJ-001/nope"],
    ]
    report = run(rows, estate["admin"])
    assert [(e.row, e.column, e.message) for e in report.errors] == [
        (2, "上联设备", "This would make a dependency loop."),
        (3, "上联设备", "This would make a dependency loop."),
        (4, "上联设备", "This would make a dependency loop."),
        (5, "上联设备", "This would make a dependency loop."),
        (6, "上联设备", "BR-BJ-001/nope is not known."),
    ]


def test_loop_through_the_database_is_refused(estate) -> None:  # type: ignore[no-untyped-def]
    fw = make_device(estate["sh"], name="FW")
    make_device(estate["sh"], name="SW", depends_on=fw)
    rows = [["BR-SH-001", "FW", "firewall", "Hillstone", "SG-6000-E2300", "", "", "SW"]]
    report = run(rows, estate["admin"])
    assert report.errors == [RowError(2, "上联设备", "This would make a dependency loop.")]


def test_upstream_device_further_down_the_file_and_at_another_site(estate) -> None:  # type: ignore[no-untyped-def]
    rows = [
        ["BR-SH-001", "SW", "access-switch", "H3C", "S5130S-28S-EI", "", "", "CORE"],
        ["BR-SH-001", "CORE", "core-switch", "Huawei", "S5735-S24T4X", "", "", "BR-BJ-001/FW"],
        ["BR-BJ-001", "FW", "firewall", "Hillstone", "SG-6000-E2300", "", "", ""],
    ]
    report = run(rows, estate["admin"])
    assert report.errors == []
    sw = Device.objects.select_related("depends_on__depends_on__site").get(name="SW")
    assert sw.depends_on is not None
    assert sw.depends_on.name == "CORE"
    assert sw.depends_on.depends_on is not None
    assert sw.depends_on.depends_on.site.code == "BR-BJ-001"


def test_liaison_imports_only_at_own_sites(estate) -> None:  # type: ignore[no-untyped-def]
    liaison = make_user(Role.BRANCH_LIAISON, sites=(estate["sh"],))
    other = make_device(estate["bj"], name="BJ-FW01", serial="X1")
    report = run(good_rows(), liaison)
    assert report.errors == [
        RowError(4, "站点编码", "You may only change objects at your own sites.")
    ]
    assert Device.objects.filter(site=estate["sh"]).count() == 0
    other.refresh_from_db()
    assert other.serial == "X1"
    report = run(good_rows()[:2], liaison)
    assert report.errors == []
    assert report.created == 2
    assert AuditEvent.objects.filter(actor=liaison).count() == 2


def test_liaison_never_learns_about_other_branches_devices(estate) -> None:  # type: ignore[no-untyped-def]
    liaison = make_user(Role.BRANCH_LIAISON, sites=(estate["sh"],))
    make_device(estate["bj"], name="SECRET", serial="HS001")
    report = run(good_rows()[:1], liaison)
    assert report.errors == [
        RowError(2, "序列号", "序列号 HS001 is already used by another device.")
    ]


def test_a_role_without_rights_is_refused_once(estate) -> None:  # type: ignore[no-untyped-def]
    noc = make_user(Role.NOC_OPERATOR)
    report = run(good_rows(), noc)
    assert [(e.row, e.column) for e in report.errors] == [(0, "")]
    assert "may not add or change" in report.errors[0].message
    assert Device.objects.count() == 0


def test_sample_workbook_imports_with_progress(estate) -> None:  # type: ignore[no-untyped-def]
    calls: list[tuple[int, int]] = []
    data = device_workbook(600, ensure_sites(60))
    report = import_upload(
        None,
        "sample.xlsx",
        data,
        actor=estate["admin"],
        dry_run=False,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert report.errors == []
    assert report.kind == "devices"
    assert report.created == Device.objects.count() == 600
    assert calls[-1] == (600, 600)
    assert len(calls) >= 3
    assert Device.objects.filter(depends_on__isnull=False).count() == 540
    assert AuditEvent.objects.count() == 600
