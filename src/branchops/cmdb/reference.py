"""Reference rows the product ships with: device roles and the standard business calendars.

Loaded by a data migration so every database, the test ones included, has them; users may
rename them or add more.
"""

from __future__ import annotations

from typing import Any

# slug, Chinese name, English name, forwards traffic for others
DEVICE_ROLES: tuple[tuple[str, str, str, bool], ...] = (
    ("firewall", "防火墙", "Firewall", True),
    ("vpn-concentrator", "VPN 集中器", "VPN concentrator", True),
    ("core-switch", "核心交换机", "Core switch", True),
    ("access-switch", "接入交换机", "Access switch", True),
    ("router", "路由器", "Router", True),
    ("wifi-controller", "无线控制器", "WiFi controller", True),
    ("wifi-ap", "无线接入点", "WiFi access point", True),
    ("behaviour-gateway", "上网行为管理", "Behaviour-management gateway", True),
    ("load-balancer", "负载均衡", "Load balancer", True),
    ("server", "服务器", "Server", False),
    ("hypervisor", "虚拟化主机", "Hypervisor", False),
    ("storage", "存储", "Storage", False),
    ("ups", "不间断电源", "UPS", False),
    ("pos-terminal", "POS / 终端", "POS / terminal", False),
)

# code, Chinese name, English name, kind
CALENDARS: tuple[tuple[str, str, str, str], ...] = (
    ("24x7", "7x24 全天候", "Around the clock (7x24)", "24x7"),
    ("cn-workdays", "中国工作日 (5x8)", "Chinese working days (5x8)", "workdays"),
    ("xshg-trading", "沪深交易时段", "SSE/SZSE trading sessions", "trading"),
)


def load(apps: Any, schema_editor: Any) -> None:
    DeviceRole = apps.get_model("cmdb", "DeviceRole")
    BusinessCalendar = apps.get_model("core", "BusinessCalendar")
    for slug, name, name_en, is_network in DEVICE_ROLES:
        DeviceRole.objects.get_or_create(
            slug=slug, defaults={"name": name, "name_en": name_en, "is_network": is_network}
        )
    for code, name, name_en, kind in CALENDARS:
        BusinessCalendar.objects.get_or_create(
            code=code, defaults={"name": name, "name_en": name_en, "kind": kind}
        )
