"""Important information systems (seed 003) and where they run.

Production runs at HQ, each system on its own server there. Real-time systems also run in
the same-city DR centre (hot standby) and every system has a remote-DR deployment; the
legal-entity clearing system, without which the next day cannot open, is kept in the
same-city DR centre too.
"""

from __future__ import annotations

from branchops.cmdb.capability import default_for
from branchops.cmdb.choices import DeploymentRole, SystemCategory
from branchops.lab.draft import Draft
from branchops.lab.spec import (
    HQ_CODE,
    REMOTE_DR_CODE,
    SAME_CITY_DR_CODE,
    DeploymentRow,
    SystemRow,
)

REAL_TIME, NON_REAL_TIME = SystemCategory.REAL_TIME.value, SystemCategory.NON_REAL_TIME.value

# code, Chinese name, English name, category, owning department
SYSTEMS: tuple[tuple[str, str, str, str, str], ...] = (
    ("central-trading", "集中交易系统", "Central trading system", REAL_TIME, "信息技术部"),
    (
        "third-party-depository",
        "第三方存管系统",
        "Third-party depository system",
        REAL_TIME,
        "运营管理部",
    ),
    ("margin-trading", "融资融券系统", "Margin trading system", REAL_TIME, "融资融券部"),
    ("online-trading", "网上交易系统", "Online trading system", REAL_TIME, "经纪业务总部"),
    ("mobile-trading", "手机证券系统", "Mobile trading system", REAL_TIME, "经纪业务总部"),
    ("market-data", "行情系统", "Market data system", REAL_TIME, "信息技术部"),
    ("call-centre", "呼叫中心系统", "Call centre system", REAL_TIME, "客户服务中心"),
    ("account-management", "账户管理系统", "Account management system", REAL_TIME, "运营管理部"),
    (
        "remote-account-opening",
        "网上开户系统",
        "Remote account opening system",
        REAL_TIME,
        "经纪业务总部",
    ),
    ("sms", "短信平台", "SMS platform", REAL_TIME, "客户服务中心"),
    ("valuation", "估值系统", "Valuation system", NON_REAL_TIME, "资产托管部"),
    (
        "legal-entity-clearing",
        "法人清算系统",
        "Legal-entity clearing system",
        NON_REAL_TIME,
        "运营管理部",
    ),
    ("wealth-management", "财富管理系统", "Wealth management system", NON_REAL_TIME, "财富管理部"),
    (
        "fund-custody-outsourcing",
        "基金托管外包系统",
        "Fund custody and outsourcing system",
        NON_REAL_TIME,
        "资产托管部",
    ),
    (
        "investment-banking",
        "投资银行业务管理系统",
        "Investment banking management system",
        NON_REAL_TIME,
        "投资银行部",
    ),
    ("ta", "登记过户系统 (TA)", "Transfer agent (TA) system", NON_REAL_TIME, "资产管理部"),
)

DEPARTMENTS = {
    "信息技术部": "it",
    "运营管理部": "operations",
    "融资融券部": "margin",
    "经纪业务总部": "brokerage",
    "客户服务中心": "customer-service",
    "资产托管部": "custody",
    "财富管理部": "wealth",
    "投资银行部": "investment-banking",
    "资产管理部": "asset-management",
}
SAME_CITY_DR_TOO = frozenset({"legal-entity-clearing"})
TEST_ENVIRONMENTS = frozenset({"central-trading", "online-trading"})


def owner_key(department: str) -> str:
    return f"owner/{DEPARTMENTS[department]}"


def _servers(draft: Draft, site: str) -> list[str]:
    return [d.name for d in draft.devices_at[site] if d.role == "server"]


def add_systems(draft: Draft) -> None:
    hq, same_city, remote = (
        _servers(draft, HQ_CODE),
        _servers(draft, SAME_CITY_DR_CODE),
        _servers(draft, REMOTE_DR_CODE),
    )
    for n, (code, name, name_en, category, department) in enumerate(SYSTEMS):
        draft.systems.append(
            SystemRow(
                code=code,
                name=name,
                name_en=name_en,
                category=category,
                owner=department,
                owner_contact=owner_key(department),
                required_capability=default_for(category),
            )
        )
        deploy = draft.deployments.append
        deploy(DeploymentRow(code, HQ_CODE, hq[n % len(hq)], DeploymentRole.PRODUCTION, "生产主站"))
        if category == REAL_TIME or code in SAME_CITY_DR_TOO:
            # The SMS platform's standby is a vendor appliance, not one of our servers.
            device = None if code == "sms" else same_city[n % len(same_city)]
            deploy(
                DeploymentRow(
                    code, SAME_CITY_DR_CODE, device, DeploymentRole.SAME_CITY_DR, "同城灾备 (热备)"
                )
            )
        device = None if n % 4 == 3 else remote[n % len(remote)]
        deploy(
            DeploymentRow(
                code, REMOTE_DR_CODE, device, DeploymentRole.REMOTE_DR, "异地灾备 (行业云温备)"
            )
        )
        if code in TEST_ENVIRONMENTS:
            deploy(DeploymentRow(code, HQ_CODE, None, DeploymentRole.TEST, "测试环境"))
