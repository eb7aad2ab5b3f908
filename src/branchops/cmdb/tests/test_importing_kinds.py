"""Importing sites, links, information systems and maintenance contracts: their references,
their model rules applied to every row, and upserts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from branchops.cmdb.importing import RowError, import_upload
from branchops.cmdb.importing.samples import csv_file, workbook
from branchops.cmdb.models import InformationSystem, Link, MaintenanceContract, Site
from branchops.core.choices import Role
from branchops.core.models import AuditEvent
from branchops.core.testing import make_device, make_region, make_site, make_user

pytestmark = pytest.mark.django_db

FULLWIDTH_SEMICOLON = "\uff1b"  # what a Chinese input method types


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    with translation.override("en"):
        yield


@pytest.fixture
def admin():  # type: ignore[no-untyped-def]
    return make_user()


def run(kind: str, rows, user, **kw):  # type: ignore[no-untyped-def]
    return import_upload(kind, "f.xlsx", workbook(rows), actor=user, dry_run=False, **kw)


# ---- sites ---------------------------------------------------------------------------------

SITE_HEADERS = [
    "Site code",
    "Site name",
    "Site kind",
    "Region",
    "Support centre",
    "Latitude",
    "Longitude",
    "Business calendar",
]


def test_sites_with_support_centre_further_down_the_file(admin) -> None:  # type: ignore[no-untyped-def]
    make_region(code="hangzhou", name="杭州")
    rows = [
        SITE_HEADERS,
        ["BR-HZ-01", "西湖营业部", "branch", "hangzhou", "RC-ZJ", 30.27, 120.15, "xshg-trading"],
        ["RC-ZJ", "浙江区域中心", "regional_centre", "杭州", "", None, None, "7x24 全天候"],
    ]
    report = run("sites", rows, admin)
    assert report.errors == []
    branch = Site.objects.select_related("support_centre", "calendar").get(code="BR-HZ-01")
    assert branch.support_centre is not None
    assert branch.support_centre.code == "RC-ZJ"
    assert branch.calendar is not None
    assert branch.calendar.code == "xshg-trading"
    assert branch.latitude == Decimal("30.270000")
    assert Site.objects.get(code="RC-ZJ").calendar.code == "24x7"  # type: ignore[union-attr]
    assert AuditEvent.objects.count() == 2


def test_site_rules_on_every_row(admin) -> None:  # type: ignore[no-untyped-def]
    make_region(code="hangzhou", name="杭州")
    make_site(code="BR-OTHER")
    rows = [
        SITE_HEADERS,
        ["BR-1", "a", "branch", "hangzhou", "BR-OTHER", None, None, ""],  # not a regional centre
        ["BR-2", "b", "branch", "hangzhou", "", 30.1, None, ""],  # latitude without longitude
        ["BR 3", "c", "branch", "nowhere", "", 91, 10, "moon"],  # code, region, latitude, calendar
    ]
    report = run("sites", rows, admin)
    assert [(e.row, e.column) for e in report.errors] == [
        (2, "Support centre"),
        (3, "Longitude"),
        (4, "Site code"),
        (4, "Region"),
        (4, "Latitude"),
        (4, "Business calendar"),
    ]
    assert report.errors[0].message == "Choose a regional centre."
    assert report.errors[3].message == "nowhere is not known."
    assert "less than or equal to 90" in report.errors[4].message
    assert not Site.objects.filter(code__in=["BR-1", "BR-2"]).exists()


def test_ambiguous_region_name(admin) -> None:  # type: ignore[no-untyped-def]
    make_region(code="chaoyang-bj", name="朝阳区")
    make_region(code="chaoyang-cc", name="朝阳区")
    report = run("sites", [SITE_HEADERS[:4], ["BR-1", "a", "branch", "朝阳区"]], admin)
    assert report.errors == [RowError(2, "Region", "朝阳区 matches more than one; use its code.")]


def test_liaison_may_change_own_site_but_not_add_one(admin) -> None:  # type: ignore[no-untyped-def]
    region = make_region(code="hangzhou")
    own = make_site(code="BR-OWN", region=region)
    liaison = make_user(Role.BRANCH_LIAISON, sites=(own,))
    rows = [
        SITE_HEADERS[:4],
        ["BR-OWN", "新名字", "branch", "hangzhou"],
        ["BR-NEW", "x", "branch", "hangzhou"],
    ]
    report = run("sites", rows, liaison)
    assert report.errors == [RowError(3, "Site code", "Your role may not add this kind of object.")]
    assert run("sites", rows[:2], liaison).updated == 1
    own.refresh_from_db()
    assert own.name == "新名字"


# ---- links -----------------------------------------------------------------------------------

LINK_HEADERS = [
    "链路名称",
    "链路类型",
    "A端站点",
    "A端设备",
    "B端站点",
    "B端设备",
    "承载线路",
    "带宽(Mbps)",
]


@pytest.fixture
def wan():  # type: ignore[no-untyped-def]
    branch, hq = make_site(code="BR-1"), make_site(code="DC-HQ", kind="hq_dc")
    return {
        "fw": make_device(branch, name="BR-1-FW01"),
        "vpn": make_device(hq, role="vpn-concentrator", name="HQ-VPN01"),
        "other": make_device(hq, name="HQ-FW"),
    }


def test_tunnel_over_an_internet_line_further_down(admin, wan) -> None:  # type: ignore[no-untyped-def]
    rows = [
        LINK_HEADERS,
        ["BR-1 VPN HQ", "vpn", "BR-1", "BR-1-FW01", "DC-HQ", "HQ-VPN01", "BR-1 internet", 100],
        ["BR-1 internet", "Internet line", "BR-1", "BR-1-FW01", "", "", "", "200"],
    ]
    report = run("links", rows, admin)
    assert report.errors == []
    tunnel = Link.objects.select_related("underlay", "b_device").get(name="BR-1 VPN HQ")
    assert tunnel.underlay is not None
    assert tunnel.underlay.name == "BR-1 internet"
    assert tunnel.b_device == wan["vpn"]
    assert tunnel.bandwidth_mbps == 100


def test_link_rules_on_every_row(admin, wan) -> None:  # type: ignore[no-untyped-def]
    rows = [
        LINK_HEADERS,
        ["L1", "vpn", "BR-1", "BR-1-FW01", "", "", "", ""],  # a tunnel needs a far end
        ["L2", "leased_line", "BR-1", "DC-HQ/HQ-FW", "DC-HQ", "", "", ""],  # device elsewhere
        ["L3", "vpn", "BR-1", "", "DC-HQ", "HQ-VPN01", "L4", ""],  # underlay is not internet
        ["L4", "leased_line", "BR-1", "", "DC-HQ", "", "L5", "fast"],  # only a VPN runs over
        ["L5", "internet", "BR-1", "", "BR-1", "", "", ""],
    ]
    report = run("links", rows, admin)
    assert [(e.row, e.column, e.message) for e in report.errors] == [
        (2, "B端站点", "A VPN tunnel or leased line needs a far end."),
        (3, "A端设备", "The A device must be at the A site."),
        (4, "承载线路", "A VPN tunnel runs over an internet line."),
        (5, "承载线路", "Only a VPN tunnel runs over another line."),
        (5, "带宽(Mbps)", "Enter a whole number."),
        (6, "B端站点", "The two ends must be different sites."),
    ]
    assert Link.objects.count() == 0


def test_liaison_links_start_at_own_site(admin, wan) -> None:  # type: ignore[no-untyped-def]
    liaison = make_user(Role.BRANCH_LIAISON, sites=(wan["fw"].site,))
    rows = [
        LINK_HEADERS,
        ["BR-1 VPN", "vpn", "BR-1", "BR-1-FW01", "DC-HQ", "HQ-VPN01", "", ""],
        ["HQ out", "internet", "DC-HQ", "HQ-FW", "", "", "", ""],
    ]
    report = run("links", rows, liaison)
    assert report.errors == [
        RowError(3, "链路名称", "You may only change objects at your own sites.")
    ]
    assert run("links", rows[:2], liaison).created == 1


# ---- information systems ----------------------------------------------------------------------

SYSTEM_HEADERS = ["System code", "System name", "System category", "Required backup capability"]


def test_systems_with_capability_levels(admin) -> None:  # type: ignore[no-untyped-def]
    rows = [
        SYSTEM_HEADERS,
        ["central-trading", "集中交易系统", "real_time", ""],  # the category's default
        [
            "valuation",
            "估值系统",
            "Non-real-time system",
            f"故障=3{FULLWIDTH_SEMICOLON}disaster: 5",
        ],
        ["sms", "短信平台", "non_real_time", "none"],
    ]
    report = run("systems", rows, admin)
    assert report.errors == []
    levels = dict(InformationSystem.objects.values_list("code", "required_capability"))
    assert levels == {
        "central-trading": {"fault": 4, "disaster": 5, "major_disaster": 6},
        "valuation": {"fault": 3, "disaster": 5},
        "sms": {},
    }


def test_bad_capability_levels(admin) -> None:  # type: ignore[no-untyped-def]
    rows = [
        SYSTEM_HEADERS,
        ["a", "甲", "real_time", "fault=high"],
        ["b", "乙", "real_time", "flood=4"],
        ["c", "丙", "real_time", "fault=9"],
        ["d", "丁", "sometimes", ""],
    ]
    report = run("systems", rows, admin)
    assert [(e.row, e.column) for e in report.errors] == [
        (2, "Required backup capability"),
        (3, "Required backup capability"),
        (4, "Required backup capability"),
        (5, "System category"),
    ]
    assert "scenario=level" in report.errors[0].message
    assert "unknown scenario flood" in report.errors[1].message
    assert "level for fault must be one of" in report.errors[2].message
    assert InformationSystem.objects.count() == 0


def test_systems_are_not_for_liaisons(admin) -> None:  # type: ignore[no-untyped-def]
    liaison = make_user(Role.BRANCH_LIAISON, sites=(make_site(),))
    report = run("systems", [SYSTEM_HEADERS, ["a", "甲", "real_time", ""]], liaison)
    assert report.file_unusable
    assert "may not add or change information systems" in report.errors[0].message


# ---- maintenance contracts ----------------------------------------------------------------------

CONTRACT_HEADERS = [
    "合同编号",
    "合同名称",
    "服务商",
    "服务级别",
    "开始日期",
    "结束日期",
    "金额(元)",
    "覆盖设备",
]


@pytest.fixture
def kit():  # type: ignore[no-untyped-def]
    site = make_site(code="BR-1")
    return [make_device(site, name=f"FW0{i}", serial=f"SN{i}") for i in (1, 2)] + [
        make_device(site, name="SW01")
    ]


def test_contracts_cover_devices_by_serial_or_site_and_name(admin, kit) -> None:  # type: ignore[no-untyped-def]
    rows = [
        CONTRACT_HEADERS,
        [
            "WB-1",
            "防火墙维保",
            "山石网科",
            "7x24x4",
            "2025-01-01",
            "2025/12/31",
            "120,000.5",
            f"SN1{FULLWIDTH_SEMICOLON}SN2; BR-1/SW01",
        ],
    ]
    report = run("contracts", rows, admin)
    assert report.errors == []
    contract = MaintenanceContract.objects.get(number="WB-1")
    assert set(contract.devices.all()) == set(kit)
    assert contract.ends_on == dt.date(2025, 12, 31)
    assert contract.cost == Decimal("120000.50")
    rows[1][7] = "SN2"
    report = run("contracts", rows, admin)
    assert (report.updated, report.unchanged) == (1, 0)
    assert list(contract.devices.all()) == [kit[1]]
    event = AuditEvent.objects.filter(action="update").get()
    assert event.before is not None
    assert event.after is not None
    assert (len(event.before["devices"]), event.after["devices"]) == (3, [kit[1].pk])
    assert run("contracts", rows, admin).unchanged == 1


def test_contract_rules(admin, kit) -> None:  # type: ignore[no-untyped-def]
    rows = [
        CONTRACT_HEADERS,
        ["WB-1", "x", "y", "7x24x4", "2025-06-01", "2025-01-01", "", "SN1;NOPE;BR-1/GONE"],
        ["WB-2", "x", "y", "weekly", "2025-02-30", "", "-5", ""],
    ]
    report = run("contracts", rows, admin)
    assert [(e.row, e.column, e.message) for e in report.errors] == [
        (2, "结束日期", "The end date is before the start date."),
        (2, "覆盖设备", "Unknown device(s): NOPE, BR-1/GONE."),
        (3, "服务级别", report.errors[2].message),
        (3, "开始日期", "2025-02-30 is not a real date."),
        (3, "结束日期", "A value is required."),
        (3, "金额(元)", "Ensure this value is greater than or equal to 0."),
    ]
    assert MaintenanceContract.objects.count() == 0


def test_contract_devices_kept_when_the_column_is_left_out(admin, kit) -> None:  # type: ignore[no-untyped-def]
    rows = [CONTRACT_HEADERS, ["WB-1", "x", "y", "7x24x4", "2025-01-01", "2025-12-31", "", "SN1"]]
    run("contracts", rows, admin)
    rows = [[*r[:7]] for r in rows]
    rows[1][1] = "renamed"
    assert run("contracts", rows, admin).updated == 1
    contract = MaintenanceContract.objects.get()
    assert contract.name == "renamed"
    assert list(contract.devices.all()) == [kit[0]]


def test_csv_contract_with_gbk_and_fullwidth_separators(admin, kit) -> None:  # type: ignore[no-untyped-def]
    rows = [
        CONTRACT_HEADERS,
        [
            "WB-1",
            "维保合同",
            "华三",
            "5x8xNBD",
            "2025-01-01",
            "2025-12-31",
            "",
            f"SN1{FULLWIDTH_SEMICOLON}SN2",
        ],
    ]
    data = csv_file(rows, encoding="gbk")
    report = import_upload("contracts", "c.csv", data, actor=admin, dry_run=False)
    assert report.errors == []
    assert MaintenanceContract.objects.get().name == "维保合同"
