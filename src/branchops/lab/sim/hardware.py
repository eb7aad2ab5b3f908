"""What each simulated device is: CPUs, memory and disks, sysDescr and sysObjectID.

Sizes are plausible for the kind of box, not taken from data sheets. sysObjectID values sit
under each vendor's real enterprise number (or, where the device's profile names prefixes,
under the profile's first prefix, so that matching by sysObjectID finds the profile), but
the arcs below it are invented: the lab needs them stable and distinct per model, not true.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from branchops.lab.sim import noise
from branchops.lab.sim.inventory import DATA_CENTRE_KINDS, DeviceSpec
from branchops.monitoring.snmp_profiles import DeviceProfile
from branchops.snmp import Oid, parse_oid

GIB = 1 << 30

# Roles whose agents answer HOST-RESOURCES-MIB (hrProcessorLoad, hrStorage). Firewalls and
# concentrators report CPU and memory through their vendor MIB (the device profile) instead.
HOST_RESOURCES_ROLES = frozenset(
    {
        "server",
        "hypervisor",
        "storage",
        "load-balancer",
        "behaviour-gateway",
        "core-switch",
        "access-switch",
        "router",
        "wifi-controller",
    }
)
HOST_ROLES = frozenset({"server", "hypervisor"})

ENTERPRISE = {
    "hillstone": 28557,
    "huawei": 2011,
    "h3c": 25506,
    "ruijie": 4881,
    "sangfor": 35047,
    "fortinet": 12356,
    "cisco": 9,
    "dell": 674,
    "lenovo": 19046,
    "inspur": 37945,
    "f5": 3375,
}
# Servers answer with their operating system's agent, whose sysObjectID names the OS.
OS_OBJECT_ID = {
    "linux": "1.3.6.1.4.1.8072.3.2.10",  # net-snmp on Linux
    "windows-server": "1.3.6.1.4.1.311.1.1.3.1.2",  # Windows Server SNMP service
    "esxi": "1.3.6.1.4.1.6876.4.1",  # VMware ESXi
}


@dataclass(frozen=True, slots=True)
class Disk:
    mount: str
    device: str
    fstype: str
    size: int  # bytes


@dataclass(frozen=True, slots=True)
class Hardware:
    cpus: int
    memory: int  # bytes
    disks: tuple[Disk, ...]
    host_resources: bool
    windows: bool = False

    @property
    def shape(self) -> tuple[int, int, bool]:
        """What the MIB layout depends on (row counts), not the sizes."""
        return self.cpus, len(self.disks), self.host_resources


def hardware_for(spec: DeviceSpec) -> Hardware:
    host_resources = spec.role in HOST_RESOURCES_ROLES
    in_dc = spec.site_kind in DATA_CENTRE_KINDS
    if spec.role in HOST_ROLES:
        return _server(spec, in_dc)
    if spec.role == "storage":
        return Hardware(8, 128 * GIB, (Disk("/", "ctrl0", "ext4", 64 * GIB),), host_resources)
    cpus = 8 if in_dc else 4 if spec.role in ("firewall", "core-switch") else 2
    memory = (16 if in_dc else 4 if spec.role != "wifi-ap" else 1) * GIB
    flash = Disk("flash:", "flash", "flash", (4 if in_dc else 1) * GIB)
    return Hardware(cpus, memory, (flash,), host_resources)


def _server(spec: DeviceSpec, in_dc: bool) -> Hardware:
    windows = spec.platform == "windows-server"
    cpus, memory = (
        (32, 256 * GIB)
        if in_dc
        else (16, 128 * GIB)
        if spec.role == "hypervisor"
        else (8, 64 * GIB)
    )
    if spec.platform == "esxi":
        disks: tuple[Disk, ...] = (Disk("/vmfs/volumes/datastore1", "naa.1", "vmfs", 4000 * GIB),)
    elif windows:
        disks = (Disk("C:", "C:", "NTFS", 200 * GIB), Disk("D:", "D:", "NTFS", 1800 * GIB))
    else:
        data = (4000 if in_dc else 1800) * GIB
        disks = (Disk("/", "/dev/sda2", "xfs", 100 * GIB), Disk("/data", "/dev/sdb1", "xfs", data))
    return Hardware(cpus, memory, disks, True, windows)


def model_arc(model: str) -> int:
    """A stable small number per model name (the invented last arc of its sysObjectID)."""
    return 1 + noise.text_key(0, model) % 9000


def object_id(spec: DeviceSpec, profile: DeviceProfile | None) -> Oid:
    if profile is not None and profile.match.sys_object_id_prefixes:
        return (*parse_oid(profile.match.sys_object_id_prefixes[0]), 1, model_arc(spec.model))
    if spec.platform in OS_OBJECT_ID:
        return parse_oid(OS_OBJECT_ID[spec.platform])
    enterprise = ENTERPRISE.get(spec.vendor, 99999)
    return (1, 3, 6, 1, 4, 1, enterprise, 1, model_arc(spec.model))


# sysDescr as each platform words it (shortened): vendor, model and firmware.
DESCRIPTIONS = {
    "stoneos": "Hillstone Networks StoneOS software, Version {firmware}, {model}",
    "vrp": (
        "Huawei Versatile Routing Platform Software\r\n"
        "VRP (R) software, Version {firmware}\r\nHUAWEI {model}"
    ),
    "comware": "H3C Comware Platform Software, Software Version {firmware}\r\nH3C {model}",
    "rgos": "Ruijie Networks {model} ({firmware})",
    "fortios": "{model} v{firmware}",
    "linux": "Linux {host} ({firmware}) x86_64 ({vendor} {model})",
    "windows-server": (
        "Hardware: Intel64 Family 6 Model 106 - Software: Windows Server {firmware} "
        "({vendor} {model})"
    ),
    "esxi": "VMware ESXi {firmware} ({vendor} {model})",
}


def description(spec: DeviceSpec) -> str:
    template = DESCRIPTIONS.get(spec.platform or "", "{vendor} {model} {platform} {firmware}")
    text = template.format(
        firmware=spec.firmware or "unknown",
        model=spec.model,
        vendor=spec.vendor_name,
        platform=spec.platform_name,
        host=spec.name.lower(),
    )
    return re.sub(r" {2,}", " ", text).strip()  # no double space where a part is empty
