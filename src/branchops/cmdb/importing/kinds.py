"""The five kinds of estate file and their columns.

Column codes are stable identifiers (they are also accepted as headers); the Chinese and
English headers are what templates and exports write. References to other objects use
natural keys a person can type: site codes, role slugs or names, "manufacturer model",
"site code/device name" and serial numbers.
"""

from __future__ import annotations

from dataclasses import replace

from django.utils.translation import gettext_lazy as _

from branchops.cmdb import models as m
from branchops.cmdb.choices import (
    Coverage,
    Criticality,
    DeviceStatus,
    LinkKind,
    LinkRole,
    LinkStatus,
    ProviderKind,
    SiteKind,
    SiteStatus,
    SystemCategory,
)
from branchops.cmdb.importing.spec import Column, Kind, choice
from branchops.cmdb.importing.values import choice_parser, decimal_parser, parse_date, parse_int

DESCRIPTION_HELP = _("Free text.")
# Every kind ends with the same free-text column (a frozen dataclass: safe to share).
DESCRIPTION = Column(
    "description",
    "描述",
    "Description",
    DESCRIPTION_HELP,
    field="description",
    aliases=("备注",),
)

SITES = Kind(
    name="sites",
    label=_("sites"),
    model=m.Site,
    key=("code",),
    columns=(
        Column(
            "code",
            "站点编码",
            "Site code",
            _("Unique code of the site: letters, digits, '-' and '_'. Identifies the row."),
            required=True,
            field="code",
            example="BR-SH-001",
        ),
        Column(
            "name",
            "站点名称",
            "Site name",
            _("Name of the site."),
            required=True,
            field="name",
            example="上海浦东营业部",
            example_en="Shanghai Pudong branch",
        ),
        choice(
            "kind",
            "站点类型",
            "Site kind",
            _("What the site is."),
            SiteKind,
            required=True,
            example="branch",
        ),
        choice(
            "status",
            "站点状态",
            "Site status",
            _("Empty means active."),
            SiteStatus,
            example="active",
        ),
        Column(
            "region",
            "所属区域",
            "Region",
            _("Code (or unique name) of an existing region, usually the city."),
            required=True,
            example="shanghai",
            aliases=("区域", "城市", "city"),
        ),
        Column(
            "support_centre",
            "支撑中心",
            "Support centre",
            _(
                "Site code of the regional centre that holds this site's spare parts; may be "
                "a site in the same file."
            ),
            example="RC-SH",
        ),
        Column(
            "calendar",
            "业务日历",
            "Business calendar",
            _("Code or name of a business calendar, e.g. 24x7, cn-workdays, xshg-trading."),
            example="xshg-trading",
        ),
        Column(
            "address",
            "地址",
            "Address",
            _("Street address."),
            field="address",
            example="上海市浦东新区世纪大道100号",
            example_en="100 Century Avenue, Pudong",
        ),
        Column(
            "latitude",
            "纬度",
            "Latitude",
            _("Decimal degrees, -90 to 90; give both or neither."),
            parse=decimal_parser(6),
            field="latitude",
            example="31.235929",
        ),
        Column(
            "longitude",
            "经度",
            "Longitude",
            _("Decimal degrees, -180 to 180."),
            parse=decimal_parser(6),
            field="longitude",
            example="121.506058",
        ),
        Column(
            "opened_on",
            "开业日期",
            "Opened on",
            _("Date as YYYY-MM-DD."),
            parse=parse_date,
            field="opened_on",
            example="2015-06-18",
        ),
        DESCRIPTION,
    ),
)

DEVICES = Kind(
    name="devices",
    label=_("devices"),
    model=m.Device,
    key=("site", "name"),
    columns=(
        Column(
            "site",
            "站点编码",
            "Site code",
            _("Code of an existing site."),
            required=True,
            example="BR-SH-001",
        ),
        Column(
            "name",
            "设备名称",
            "Device name",
            _("Name of the device, unique within its site. With the site it identifies the row."),
            required=True,
            field="name",
            example="BR-SH-001-FW01",
        ),
        Column(
            "role",
            "设备角色",
            "Device role",
            _("Code or name of a device role, e.g. firewall, access-switch, 防火墙."),
            required=True,
            example="firewall",
        ),
        Column(
            "manufacturer",
            "厂商",
            "Manufacturer",
            _(
                "Name or code of the manufacturer. Leave empty when the model column names "
                "the manufacturer too."
            ),
            example="Hillstone",
        ),
        Column(
            "model",
            "设备型号",
            "Device model",
            _('Model name of that manufacturer, or "manufacturer model" in one cell.'),
            required=True,
            example="SG-6000-E2300",
        ),
        Column(
            "platform",
            "操作系统",
            "Platform",
            _("Code or name of a platform (StoneOS, VRP, Comware, ...)."),
            example="StoneOS",
        ),
        Column(
            "serial",
            "序列号",
            "Serial number",
            _("Unique across the estate when given."),
            field="serial",
            example="HS2309A00123",
            aliases=("SN",),
        ),
        Column(
            "asset_tag",
            "资产编号",
            "Asset tag",
            _("Unique across the estate when given."),
            field="asset_tag",
            example="ZC-2023-00123",
        ),
        choice(
            "status",
            "设备状态",
            "Device status",
            _("Empty means active."),
            DeviceStatus,
            example="active",
        ),
        Column(
            "management_ip",
            "管理IP",
            "Management IP",
            _("IPv4 or IPv6 address."),
            field="management_ip",
            example="10.8.1.1",
            aliases=("管理地址", "IP地址", "IP"),
        ),
        Column(
            "firmware_version",
            "软件版本",
            "Firmware version",
            _("Free text."),
            field="firmware_version",
            example="5.5R9P3",
            aliases=("固件版本",),
        ),
        Column(
            "criticality",
            "重要程度",
            "Criticality",
            _("1 (critical) to 4 (low), or the name; empty means 3 (medium)."),
            parse=choice_parser(Criticality),
            field="criticality",
            choices=Criticality,
            example="2",
        ),
        Column(
            "depends_on",
            "上联设备",
            "Depends on",
            _(
                "The device this one is reached through: a device name at the same site, or "
                '"site code/device name"; may be a device in the same file.'
            ),
            example="BR-SH-001-CORE01",
        ),
        Column(
            "installed_on",
            "安装日期",
            "Installed on",
            _("Date as YYYY-MM-DD."),
            parse=parse_date,
            field="installed_on",
            example="2023-09-01",
        ),
        DESCRIPTION,
    ),
)

LINKS = Kind(
    name="links",
    label=_("links"),
    model=m.Link,
    key=("name",),
    columns=(
        Column(
            "name",
            "链路名称",
            "Link name",
            _("Unique name of the link. Identifies the row."),
            required=True,
            field="name",
            example="BR-SH-001 VPN HQ",
        ),
        choice(
            "kind",
            "链路类型",
            "Link kind",
            _("What the link is."),
            LinkKind,
            required=True,
            example="vpn",
        ),
        choice("role", "主备", "Link role", _("Empty means primary."), LinkRole, example="primary"),
        choice(
            "status",
            "链路状态",
            "Link status",
            _("Empty means active."),
            LinkStatus,
            example="active",
        ),
        Column(
            "a_site",
            "A端站点",
            "A site",
            _("Code of the site the link starts at."),
            required=True,
            example="BR-SH-001",
        ),
        Column(
            "a_device",
            "A端设备",
            "A device",
            _('Device name at the A site, or "site code/device name".'),
            example="BR-SH-001-FW01",
        ),
        Column(
            "b_site",
            "B端站点",
            "B site",
            _("Code of the far site; empty only for an internet line."),
            example="DC-HQ",
        ),
        Column(
            "b_device",
            "B端设备",
            "B device",
            _('Device name at the B site, or "site code/device name".'),
            example="DC-HQ-VPN01",
        ),
        Column(
            "underlay",
            "承载线路",
            "Runs over",
            _(
                "For a VPN tunnel: name of the internet "
                "line it runs over; may be a link in the same file."
            ),
            example="BR-SH-001 internet",
        ),
        Column(
            "carrier",
            "运营商",
            "Carrier",
            _("Free text."),
            field="carrier",
            example="中国电信",
            example_en="China Telecom",
        ),
        Column(
            "circuit_id",
            "电路编号",
            "Circuit ID",
            _("Free text."),
            field="circuit_id",
            example="SH-CT-0012345",
        ),
        Column(
            "bandwidth_mbps",
            "带宽(Mbps)",
            "Bandwidth (Mbit/s)",
            _("Whole number of Mbit/s."),
            parse=parse_int,
            field="bandwidth_mbps",
            example="100",
            aliases=("带宽",),
        ),
        DESCRIPTION,
    ),
)

SYSTEMS = Kind(
    name="systems",
    label=_("information systems"),
    model=m.InformationSystem,
    key=("code",),
    columns=(
        Column(
            "code",
            "系统编码",
            "System code",
            _("Unique code of the system: letters, digits, '-' and '_'. Identifies the row."),
            required=True,
            field="code",
            example="central-trading",
        ),
        Column(
            "name",
            "系统名称",
            "System name",
            _("Chinese name of the system."),
            required=True,
            field="name",
            example="集中交易系统",
        ),
        Column(
            "name_en",
            "英文名称",
            "English name",
            _("Shown when the interface is in English."),
            field="name_en",
            example="Central trading",
        ),
        choice(
            "category",
            "系统类别",
            "System category",
            _("Real-time or not."),
            SystemCategory,
            required=True,
            example="real_time",
        ),
        Column(
            "owner",
            "负责部门",
            "Owner",
            _("Free text."),
            field="owner",
            example="信息技术部",
            example_en="IT department",
        ),
        Column(
            "required_capability",
            "备份能力要求",
            "Required backup capability",
            _(
                'Level per scenario as "fault=4;disaster=5;major_disaster=6"; empty for the '
                'default of the category; "none" for no requirement.'
            ),
            example="fault=4;disaster=5;major_disaster=6",
        ),
        DESCRIPTION,
    ),
)

CONTRACTS = Kind(
    name="contracts",
    label=_("maintenance contracts"),
    model=m.MaintenanceContract,
    key=("number",),
    columns=(
        Column(
            "number",
            "合同编号",
            "Contract number",
            _("Unique number of the contract. Identifies the row."),
            required=True,
            field="number",
            example="WB-2025-001",
        ),
        Column(
            "name",
            "合同名称",
            "Contract name",
            _("Name of the contract."),
            required=True,
            field="name",
            example="防火墙维保",
            example_en="Firewall maintenance",
        ),
        Column(
            "provider",
            "服务商",
            "Provider",
            _("Who provides the service."),
            required=True,
            field="provider",
            example="山石网科",
            example_en="Hillstone Networks",
        ),
        choice(
            "provider_kind",
            "服务商类型",
            "Provider kind",
            _("Empty means the original vendor."),
            ProviderKind,
            example="vendor",
        ),
        choice(
            "coverage",
            "服务级别",
            "Coverage",
            _("Service level."),
            Coverage,
            required=True,
            example="7x24x4",
        ),
        Column(
            "starts_on",
            "开始日期",
            "Starts on",
            _("Date as YYYY-MM-DD."),
            required=True,
            parse=parse_date,
            field="starts_on",
            example="2025-01-01",
        ),
        Column(
            "ends_on",
            "结束日期",
            "Ends on",
            _("Date as YYYY-MM-DD, not before the start."),
            required=True,
            parse=parse_date,
            field="ends_on",
            example="2025-12-31",
        ),
        Column(
            "cost",
            "金额(元)",
            "Cost (CNY)",
            _("Amount in yuan, two decimals."),
            parse=decimal_parser(2),
            field="cost",
            example="120000.00",
            aliases=("金额",),
        ),
        Column(
            "devices",
            "覆盖设备",
            "Covered devices",
            _(
                "Serial numbers or \"site code/device name\", separated by ';'. Empty covers no "
                "device; leave the column out to keep the devices as they are."
            ),
            example="HS2309A00123;BR-SH-001/BR-SH-001-FW02",
        ),
        Column("notes", "备注", "Notes", DESCRIPTION_HELP, field="notes"),
    ),
)

# Short Chinese headers that people's own sheets use ("名称", "状态"). Within one kind each
# names a single column, so they are accepted too. (The English ones, "Name", "Status",
# are the column codes, which are always accepted.)
GENERIC_HEADERS = {
    "code": ("编码", "代码"),
    "name": ("名称",),
    "kind": ("类型",),
    "status": ("状态",),
    "role": ("角色",),
    "model": ("型号",),
    "category": ("类别",),
    "number": ("编号",),
}


def _with_generic_headers(kind: Kind) -> Kind:
    columns = tuple(
        replace(c, aliases=(*c.aliases, *GENERIC_HEADERS.get(c.code, ()))) for c in kind.columns
    )
    return replace(kind, columns=columns)


SITES, DEVICES, LINKS, SYSTEMS, CONTRACTS = (
    _with_generic_headers(k) for k in (SITES, DEVICES, LINKS, SYSTEMS, CONTRACTS)
)
KINDS: dict[str, Kind] = {k.name: k for k in (SITES, DEVICES, LINKS, SYSTEMS, CONTRACTS)}
