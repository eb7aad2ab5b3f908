"""The devices at each site and what each one hangs off (``depends_on``).

In a branch the firewall is the edge and depends on nothing; the first switch (the core or
uplink switch) hangs off the firewall, further switches off the core switch, the WiFi
controller and the behaviour-management gateway off the core switch, servers off the last
switch, and access points off the WiFi controller. In a data centre the core switches are
the roots (the monitoring servers sit behind them) and everything else hangs below.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from branchops.cmdb.choices import Criticality, SiteKind
from branchops.lab.draft import Draft
from branchops.lab.spec import HQ_CODE, REMOTE_DR_CODE, SAME_CITY_DR_CODE, DeviceRow, SiteRow

T = TypeVar("T")

CRITICAL, HIGH, MEDIUM, LOW = (
    Criticality.CRITICAL.value,
    Criticality.HIGH.value,
    Criticality.MEDIUM.value,
    Criticality.LOW.value,
)


def pick(rng: random.Random, weighted: Sequence[tuple[T, int]]) -> T:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


@dataclass(frozen=True)
class Campus:
    """One vendor's switches and WLAN, as a branch buys them together."""

    core: str
    access: tuple[str, ...]
    controller: str
    access_points: tuple[str, ...]


CAMPUS = {
    "huawei": Campus(
        "S5735-S24T4X",
        ("S5735-L24T4S-A", "S5735-L48T4S-A", "S5720-28X-LI-AC"),
        "AirEngine 9700-M1",
        ("AirEngine 5761-11", "AirEngine 5760-10"),
    ),
    "h3c": Campus(
        "S5560X-30C-EI", ("S5130S-28S-EI", "S5130S-52S-EI"), "WX2510H-F", ("WA6320", "WA6322")
    ),
    "ruijie": Campus(
        "RG-S5310-24GT4XS-E",
        ("RG-S2910-24GT4XS-E", "RG-S2910-48GT4XS-E"),
        "RG-WS6008",
        ("RG-AP820-L(V3)",),
    ),
}
CAMPUS_VENDORS = (("huawei", 50), ("h3c", 30), ("ruijie", 20))
BRANCH_FIREWALLS = (
    ("SG-6000-E1600", 48),
    ("SG-6000-E2300", 32),
    ("FortiGate-60F", 4),
    ("FortiGate-100F", 6),
    ("AF-1000-B1080", 10),
)
BEHAVIOUR_GATEWAYS = (("AC-1000-B1280", 70), ("AC-1000-A620", 30))
BRANCH_SERVERS = (
    ("PowerEdge R650", 20),
    ("PowerEdge R750", 10),
    ("PowerEdge R730", 8),
    ("ThinkSystem SR650", 15),
    ("ThinkSystem SR650 V2", 12),
    ("ThinkSystem SR630 V2", 10),
    ("NF5280M6", 12),
    ("NF5270M6", 8),
    ("NF5280M5", 5),
)
DC_SERVERS = (("NF5280M6", 45), ("PowerEdge R750", 30), ("ThinkSystem SR650 V2", 25))
SERVER_OS = (("windows-server", 55), ("linux", 45))
BRANCH_SERVER_ROLES = ("柜台业务及文件服务器", "视频监控及备份服务器")


@dataclass(frozen=True)
class DataCentrePlan:
    concentrator: str | None
    core: str
    cores: int
    firewalls: int
    load_balancers: int
    switches: tuple[str, ...]
    servers: int
    hypervisors: int
    storage: int


DATA_CENTRES = {
    HQ_CODE: DataCentrePlan(
        "SG-6000-X10800", "CE12804", 2, 2, 2, ("CE6881-48S6CQ",) * 4 + ("C9300-48T",) * 2, 16, 6, 2
    ),
    SAME_CITY_DR_CODE: DataCentrePlan(
        "SG-6000-X7180", "CE12804", 2, 1, 1, ("CE6881-48S6CQ",) * 3, 10, 3, 1
    ),
    REMOTE_DR_CODE: DataCentrePlan(None, "CE6881-48S6CQ", 1, 1, 1, ("CE6881-48S6CQ",) * 2, 8, 2, 1),
}


def _branch(draft: Draft, rng: random.Random, site: SiteRow) -> None:
    def add(suffix: str, role: str, model: str, on: DeviceRow | None, **kw: Any) -> DeviceRow:
        return draft.add_device(rng, site.code, suffix, role, model, on=on, **kw)

    firewall = add("FW01", "firewall", pick(rng, BRANCH_FIREWALLS), None, criticality=CRITICAL)
    campus = CAMPUS[pick(rng, CAMPUS_VENDORS)]
    core = add("SW01", "core-switch", campus.core, firewall, criticality=HIGH)
    switches = [core]
    for n in range(2, pick(rng, ((1, 30), (2, 50), (3, 20))) + 1):
        model = rng.choice(campus.access)
        switches.append(add(f"SW{n:02d}", "access-switch", model, core, criticality=MEDIUM))
    controller = add("WLC01", "wifi-controller", campus.controller, core, criticality=MEDIUM)
    ap_model = rng.choice(campus.access_points)
    for n in range(1, rng.randint(2, 10) + 1):
        add(f"AP{n:02d}", "wifi-ap", ap_model, controller, criticality=LOW)
    gateway = pick(rng, BEHAVIOUR_GATEWAYS)
    add("BG01", "behaviour-gateway", gateway, core, criticality=MEDIUM)
    uplink = switches[-1]
    if rng.random() < 0.25:
        description = "营业部虚拟化主机 (柜台、文件、监控)"
        add("ESX01", "hypervisor", pick(rng, BRANCH_SERVERS), uplink, criticality=HIGH,
            platform="esxi", description=description)  # fmt: skip
        return
    for n in range(1, pick(rng, ((1, 60), (2, 40))) + 1):
        add(f"SRV{n:02d}", "server", pick(rng, BRANCH_SERVERS), uplink, criticality=MEDIUM,
            platform=pick(rng, SERVER_OS), description=BRANCH_SERVER_ROLES[n - 1])  # fmt: skip


def _regional_centre(draft: Draft, rng: random.Random, site: SiteRow) -> None:
    def add(suffix: str, role: str, model: str, on: DeviceRow | None, **kw: Any) -> DeviceRow:
        return draft.add_device(rng, site.code, suffix, role, model, on=on, **kw)

    firewall = add("FW01", "firewall", "SG-6000-E2800", None, criticality=CRITICAL)
    switch = add("SW01", "core-switch", "S5735-S24T4X", firewall, criticality=HIGH)
    add("SRV01", "server", "ThinkSystem SR650 V2", switch, criticality=MEDIUM, platform="linux",
        description="备件管理及运维跳板机")  # fmt: skip


def _data_centre(draft: Draft, rng: random.Random, site: SiteRow) -> None:
    def add(suffix: str, role: str, model: str, on: DeviceRow | None, **kw: Any) -> DeviceRow:
        return draft.add_device(rng, site.code, suffix, role, model, on=on, **kw)

    plan = DATA_CENTRES[site.code]
    cores = [
        add(f"CORE{n:02d}", "core-switch", plan.core, None, criticality=CRITICAL)
        for n in range(1, plan.cores + 1)
    ]
    if plan.concentrator:
        add("VPN01", "vpn-concentrator", plan.concentrator, cores[0], criticality=CRITICAL)
    for n in range(1, plan.firewalls + 1):
        add(f"FW{n:02d}", "firewall", "SG-6000-X7180", cores[(n - 1) % len(cores)],
            criticality=CRITICAL)  # fmt: skip
    for n in range(1, plan.load_balancers + 1):
        add(f"LB{n:02d}", "load-balancer", "BIG-IP i5800", cores[(n - 1) % len(cores)],
            criticality=CRITICAL)  # fmt: skip
    switches = [
        add(f"SW{n:02d}", "access-switch", model, cores[(n - 1) % len(cores)], criticality=HIGH)
        for n, model in enumerate(plan.switches, start=1)
    ]

    def below(n: int) -> DeviceRow:
        return switches[(n - 1) % len(switches)]

    for n in range(1, plan.servers + 1):
        os = pick(rng, (("linux", 80), ("windows-server", 20)))
        add(f"SRV{n:02d}", "server", pick(rng, DC_SERVERS), below(n), criticality=HIGH,
            platform=os)  # fmt: skip
    for n in range(1, plan.hypervisors + 1):
        add(f"ESX{n:02d}", "hypervisor", "PowerEdge R750", below(n), criticality=HIGH,
            platform="esxi")  # fmt: skip
    for n in range(1, plan.storage + 1):
        add(f"STOR{n:02d}", "storage", "OceanStor Dorado 5000 V6", below(n), criticality=CRITICAL)


def add_devices(draft: Draft) -> None:
    rng = draft.rng("devices")
    for site in draft.sites:
        if site.kind == SiteKind.BRANCH:
            _branch(draft, rng, site)
        elif site.kind == SiteKind.REGIONAL_CENTRE:
            _regional_centre(draft, rng, site)
        else:
            _data_centre(draft, rng, site)
