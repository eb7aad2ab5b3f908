"""A node_exporter-style page for a simulated server (Prometheus text format 0.0.4).

Every server of the estate answers on its management address (port 9100 by default), with
the metric names node_exporter uses, so the engine's scrape and any Prometheus can read it.
CPU seconds are counters that follow the device's CPU (a cpu-spike fault shows in them);
``node_time_seconds`` carries the clock-drift fault's offset, as a drifting host would show.
"""

from __future__ import annotations

from branchops.lab.sim import noise
from branchops.lab.sim.model import IN, OUT, SimDevice

# How busy seconds split between modes (idle is what is left).
MODE_SHARES = (
    ("user", 0.62),
    ("system", 0.27),
    ("iowait", 0.05),
    ("softirq", 0.03),
    ("irq", 0.01),
    ("nice", 0.01),
    ("steal", 0.01),
)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _family(lines: list[str], name: str, kind: str, help_text: str) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")


def page(device: SimDevice, now: float) -> bytes:
    lines: list[str] = []
    _cpu(lines, device, now)
    _memory(lines, device, now)
    _filesystems(lines, device, now)
    _network(lines, device, now)
    cpus = device.hardware.cpus
    load = cpus * (0.93 if device.cpu_spike else device.cpu_level())
    swing = 0.1 if device.cpu_spike else 0.3  # a saturated host's load stays high
    for name, period in (("node_load1", 1), ("node_load5", 5), ("node_load15", 15)):
        value = load * (1 + swing * noise.walk(noise.derive(device.key, 4000 + period), now))
        _family(lines, name, "gauge", f"{period}m load average.")
        lines.append(f"{name} {value:.2f}")
    _family(lines, "node_boot_time_seconds", "gauge", "Node boot time, in unixtime.")
    lines.append(f"node_boot_time_seconds {device.boot + device.clock_offset:.0f}")
    _family(lines, "node_time_seconds", "gauge", "System time in seconds since epoch (1970).")
    lines.append(f"node_time_seconds {now + device.clock_offset:.3f}")
    _family(lines, "node_uname_info", "gauge", "Labeled system information (uname).")
    spec = device.spec
    lines.append(
        f'node_uname_info{{nodename="{spec.name.lower()}",release="{_escape(spec.firmware)}",'
        f'sysname="{"Windows" if device.hardware.windows else "Linux"}",machine="x86_64"}} 1'
    )
    return ("\n".join(lines) + "\n").encode()


def _cpu(lines: list[str], device: SimDevice, now: float) -> None:
    _family(lines, "node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.")
    elapsed = max(now - device.boot, 0.0)
    for cpu in range(device.hardware.cpus):
        busy = min(device.cpu_busy_seconds(cpu, now), elapsed)
        lines.append(f'node_cpu_seconds_total{{cpu="{cpu}",mode="idle"}} {elapsed - busy:.2f}')
        for mode, share in MODE_SHARES:
            lines.append(f'node_cpu_seconds_total{{cpu="{cpu}",mode="{mode}"}} {busy * share:.2f}')


def _memory(lines: list[str], device: SimDevice, now: float) -> None:
    total = device.hardware.memory
    used = noise.gauge(noise.derive(device.key, 25_2_3, 0), now, 0.35, 0.8)
    available = int(total * (1 - used))
    values = {
        "MemTotal": total,
        "MemAvailable": available,
        "MemFree": int(available * 0.4),
        "Cached": int(available * 0.5),
        "Buffers": int(available * 0.05),
        "SwapTotal": 8 << 30,
        "SwapFree": 8 << 30,
    }
    for name, value in values.items():
        metric = f"node_memory_{name}_bytes"
        _family(lines, metric, "gauge", f"Memory information field {name}_bytes.")
        lines.append(f"{metric} {value}")


def _filesystems(lines: list[str], device: SimDevice, now: float) -> None:
    rows = []
    for n, disk in enumerate(device.hardware.disks, start=1):
        used = noise.gauge(noise.derive(device.key, 25_2_3, n), now, 0.15, 0.7)
        labels = (
            f'device="{_escape(disk.device)}",fstype="{disk.fstype}",'
            f'mountpoint="{_escape(disk.mount)}"'
        )
        rows.append((labels, disk.size, int(disk.size * (1 - used))))
    for metric, help_text, column in (
        ("node_filesystem_size_bytes", "Filesystem size in bytes.", 1),
        (
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
            2,
        ),
        ("node_filesystem_free_bytes", "Filesystem free space in bytes.", 2),
    ):
        _family(lines, metric, "gauge", help_text)
        lines.extend(f"{metric}{{{row[0]}}} {row[column]}" for row in rows)


def _network(lines: list[str], device: SimDevice, now: float) -> None:
    """The first network card's traffic: the same counter the SNMP agent shows for it."""
    position = next(
        (n for n, port in enumerate(device.layout.ports) if device.port_rate(n, IN) > 0), None
    )
    if position is None:
        return
    name = device.layout.ports[position].name
    for metric, direction in (("receive", IN), ("transmit", OUT)):
        family = f"node_network_{metric}_bytes_total"
        _family(lines, family, "counter", f"Network device statistic {metric}_bytes.")
        lines.append(f'{family}{{device="{name}"}} {device.octets(position, direction, now)}')


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
