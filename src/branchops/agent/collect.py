"""What the agent measures on its host, with psutil: one call gives one cycle's samples.

Counters (disk and network bytes, operations, errors) become per-second rates between two
cycles, as the engine's SNMP collector turns octet counters into bits per second, so that
charts read the same from either metric store; a counter that went backwards (a reboot, a
driver reload) yields no rate for that cycle. Names follow Prometheus conventions in base
units under ``branchops_agent_``; the centre adds ``host`` (and the estate's ``region``,
``site``, ``device``, ``role`` when it knows the host) to every sample.

Pending OS updates are counted from the package manager's local cache only (never the
network) at most every ``patch_interval_s``: ``apt list --upgradable`` on Debian and Ubuntu,
``dnf``/``yum check-update -C`` on RHEL and CentOS. Windows updates are not counted.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import psutil

log = logging.getLogger(__name__)

# Filesystems that are not disks, or that can hang a stat() when their server is away.
SKIPPED_FSTYPES = frozenset(
    {
        "autofs", "binfmt_misc", "cgroup", "cgroup2", "cifs", "configfs", "debugfs",
        "devpts", "devtmpfs", "fuse.sshfs", "fusectl", "hugetlbfs", "mqueue", "nfs",
        "nfs4", "nsfs", "overlay", "proc", "pstore", "securityfs", "smbfs", "squashfs",
        "sysfs", "tmpfs", "tracefs",
    }
)  # fmt: skip
SKIPPED_DISKS = re.compile(r"^(loop|ram|zram|sr|fd)\d*")
SKIPPED_INTERFACES = re.compile(r"^(lo|veth|docker|br-|virbr|cni|flannel|cali|ifb|tap)")
MAX_FILESYSTEMS = 64
MAX_DISKS = 64
MAX_INTERFACES = 32
MAX_PORTS = 256
EPHEMERAL_PORTS_FROM = 32768  # UDP sockets above this are clients, not services
PATCH_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Sample:
    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


class Run(NamedTuple):
    returncode: int
    stdout: str


def run_command(argv: list[str], timeout_s: float) -> Run:
    """Run a package-manager query in C locale, with a timeout and no input."""
    done = subprocess.run(  # noqa: S603 - fixed argv from this module
        argv,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "LC_ALL": "C", "LANG": "C"},
    )
    return Run(done.returncode, done.stdout)


def host_facts(version: str) -> dict[str, Any]:
    """Who this host is: sent with every batch, kept on the centre's Agent row."""
    return {
        "hostname": socket.gethostname(),
        "os": platform.system(),
        "os_version": os_release() or platform.platform(),
        "ips": addresses(),
        "version": version,
        "extra": {
            "kernel": platform.release(),
            "arch": platform.machine(),
            "cpu_count": psutil.cpu_count() or 0,
            "memory_bytes": psutil.virtual_memory().total,
            "boot_time": psutil.boot_time(),
        },
    }


def os_release() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def addresses() -> list[str]:
    """The host's unicast addresses, loopback and link-local left out."""
    found: list[str] = []
    for name, addrs in psutil.net_if_addrs().items():
        if SKIPPED_INTERFACES.match(name):
            continue
        for addr in addrs:
            if addr.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            ip = addr.address.split("%", 1)[0]
            if ip.startswith(("127.", "169.254.", "fe80:")) or ip == "::1":
                continue
            if ip not in found:
                found.append(ip)
    return found[:64]


class HostCollector:
    """One host's measurements; keeps the previous counters to turn them into rates."""

    def __init__(
        self,
        *,
        top_processes: int = 5,
        patch_interval_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        run: Callable[[list[str], float], Run] = run_command,
    ) -> None:
        self.top_processes = top_processes
        self.patch_interval_s = patch_interval_s
        self._clock = clock
        self._run = run
        self._cpu_count = psutil.cpu_count() or 1
        self._previous: dict[tuple[str, str, str], float] = {}
        self._previous_at: float | None = None
        self._patches: list[Sample] = []
        self._patches_at: float | None = None
        # Prime what reports "since the last call", so the first cycle has rates too.
        psutil.cpu_percent(None)
        psutil.cpu_times_percent(None)
        for process in psutil.process_iter():
            _quietly(process.cpu_percent, None)
        _safely(lambda: self._disks(self._previous))
        _safely(lambda: self._network(self._previous))
        self._previous_at = clock()

    def collect(self) -> list[Sample]:
        now = self._clock()
        elapsed = None if self._previous_at is None else now - self._previous_at
        counters: dict[tuple[str, str, str], float] = {}
        samples: list[Sample] = []
        for part in (
            self._cpu,
            self._memory,
            self._filesystems,
            self._processes,
            self._ports,
            self._uptime,
        ):
            samples.extend(_safely(part))
        samples.extend(_safely(lambda: self._disks(counters)))
        samples.extend(_safely(lambda: self._network(counters)))
        samples.extend(self._rates(counters, elapsed))
        samples.extend(_safely(lambda: self._pending_updates(now)))
        self._previous, self._previous_at = counters, now
        return samples

    # ---- parts ----------------------------------------------------------------------------

    def _cpu(self) -> list[Sample]:
        out = [
            Sample("branchops_agent_cpu_utilisation_ratio", psutil.cpu_percent(None) / 100),
            Sample("branchops_agent_cpu_count", float(self._cpu_count)),
        ]
        modes = psutil.cpu_times_percent(None)._asdict()
        for mode in ("user", "system", "iowait", "steal", "idle"):
            if mode in modes:
                out.append(
                    Sample("branchops_agent_cpu_mode_ratio", modes[mode] / 100, {"mode": mode})
                )
        try:
            load1, load5, load15 = psutil.getloadavg()
        except (OSError, AttributeError):
            return out
        out += [
            Sample("branchops_agent_load1", load1),
            Sample("branchops_agent_load5", load5),
            Sample("branchops_agent_load15", load15),
        ]
        return out

    def _memory(self) -> list[Sample]:
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        return [
            Sample("branchops_agent_memory_total_bytes", float(memory.total)),
            Sample("branchops_agent_memory_available_bytes", float(memory.available)),
            Sample(
                "branchops_agent_memory_utilisation_ratio",
                1 - memory.available / memory.total if memory.total else 0.0,
            ),
            Sample("branchops_agent_swap_total_bytes", float(swap.total)),
            Sample("branchops_agent_swap_used_bytes", float(swap.used)),
        ]

    def _filesystems(self) -> list[Sample]:
        out: list[Sample] = []
        seen: set[str] = set()
        for part in psutil.disk_partitions(all=False):
            if part.fstype in SKIPPED_FSTYPES or part.mountpoint in seen:
                continue
            if len(seen) >= MAX_FILESYSTEMS:
                break
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except OSError:
                continue  # gone, or not ours to read
            seen.add(part.mountpoint)
            labels = {"mountpoint": part.mountpoint, "fstype": part.fstype, "device": part.device}
            out += [
                Sample("branchops_agent_filesystem_size_bytes", float(usage.total), labels),
                Sample("branchops_agent_filesystem_free_bytes", float(usage.free), labels),
                Sample("branchops_agent_filesystem_utilisation_ratio", usage.percent / 100, labels),
            ]
        return out

    def _disks(self, counters: dict[tuple[str, str, str], float]) -> list[Sample]:
        per_disk = psutil.disk_io_counters(perdisk=True) or {}
        for name in whole_disks(per_disk)[:MAX_DISKS]:
            io = per_disk[name]
            counters[("disk_read_bytes", "disk", name)] = io.read_bytes
            counters[("disk_written_bytes", "disk", name)] = io.write_bytes
            counters[("disk_reads", "disk", name)] = io.read_count
            counters[("disk_writes", "disk", name)] = io.write_count
            busy_ms = getattr(io, "busy_time", None)
            if busy_ms is not None:
                counters[("disk_busy_seconds", "disk", name)] = busy_ms / 1000
        return []

    def _network(self, counters: dict[tuple[str, str, str], float]) -> list[Sample]:
        out: list[Sample] = []
        stats = psutil.net_if_stats()
        nics = psutil.net_io_counters(pernic=True)
        names = [n for n in sorted(nics) if not SKIPPED_INTERFACES.match(n)][:MAX_INTERFACES]
        for name in names:
            io = nics[name]
            for metric, value in (
                ("network_receive_bytes", io.bytes_recv),
                ("network_transmit_bytes", io.bytes_sent),
                ("network_receive_errors", io.errin),
                ("network_transmit_errors", io.errout),
                ("network_receive_drops", io.dropin),
                ("network_transmit_drops", io.dropout),
            ):
                counters[(metric, "interface", name)] = value
            stat = stats.get(name)
            if stat is not None:
                labels = {"interface": name}
                out.append(Sample("branchops_agent_network_up", float(stat.isup), labels))
                if stat.speed:
                    out.append(
                        Sample(
                            "branchops_agent_network_speed_bits_per_second",
                            stat.speed * 1_000_000.0,
                            labels,
                        )
                    )
        return out

    def _rates(
        self, counters: dict[tuple[str, str, str], float], elapsed: float | None
    ) -> list[Sample]:
        if not elapsed or elapsed <= 0:
            return []
        out = []
        for key, value in counters.items():
            before = self._previous.get(key)
            if before is None or value < before:
                continue  # new, or reset: no honest rate this cycle
            metric, label, name = key
            rate = (value - before) / elapsed
            if metric == "disk_busy_seconds":
                out.append(Sample("branchops_agent_disk_busy_ratio", min(rate, 1.0), {label: name}))
            else:
                out.append(Sample(f"branchops_agent_{metric}_per_second", rate, {label: name}))
        return out

    def _processes(self) -> list[Sample]:
        by_name: dict[str, list[float]] = {}  # name -> [cpu ratio, resident bytes, count]
        count = 0
        for process in psutil.process_iter(["name", "memory_info"]):
            count += 1
            cpu = _quietly(process.cpu_percent, None)
            info = process.info
            name = str(info.get("name") or "?")[:100]
            entry = by_name.setdefault(name, [0.0, 0.0, 0.0])
            entry[0] += (cpu or 0.0) / 100 / self._cpu_count
            memory = info.get("memory_info")
            entry[1] += float(memory.rss) if memory is not None else 0.0
            entry[2] += 1
        out = [Sample("branchops_agent_processes", float(count))]
        top = sorted(by_name.items(), key=lambda item: (-item[1][0], -item[1][1]))
        for name, (cpu, rss, instances) in top[: self.top_processes]:
            labels = {"process": name}
            out += [
                # Over a short interval, tick granularity can overshoot: a share is <= 1.
                Sample("branchops_agent_process_cpu_ratio", min(cpu, 1.0), labels),
                Sample("branchops_agent_process_resident_memory_bytes", rss, labels),
                Sample("branchops_agent_process_instances", instances, labels),
            ]
        return out

    def _ports(self) -> list[Sample]:
        try:
            connections = psutil.net_connections(kind="inet")
        except psutil.AccessDenied:
            return []  # macOS without root
        names: dict[int, str] = {}
        listening: dict[tuple[str, int, str], str] = {}
        for conn in connections:
            if not conn.laddr:
                continue
            if conn.type == socket.SOCK_STREAM and conn.status == psutil.CONN_LISTEN:
                proto = "tcp"
            elif conn.type == socket.SOCK_DGRAM and not conn.raddr:
                if conn.laddr.port >= EPHEMERAL_PORTS_FROM:
                    continue
                proto = "udp"
            else:
                continue
            process = ""
            if conn.pid:
                if conn.pid not in names:
                    names[conn.pid] = _process_name(conn.pid)
                process = names[conn.pid]
            listening[(proto, conn.laddr.port, conn.laddr.ip)] = process
        out = [Sample("branchops_agent_listening_ports", float(len(listening)))]
        for (proto, port, address), process in sorted(listening.items())[:MAX_PORTS]:
            labels = {"proto": proto, "port": str(port), "address": address, "process": process}
            out.append(Sample("branchops_agent_listening_port", 1.0, labels))
        return out

    def _uptime(self) -> list[Sample]:
        return [Sample("branchops_agent_uptime_seconds", time.time() - psutil.boot_time())]

    def _pending_updates(self, now: float) -> list[Sample]:
        due = self._patches_at is None or now - self._patches_at >= self.patch_interval_s
        if self.patch_interval_s > 0 and due:
            self._patches_at = now
            self._patches = self._count_updates()
        return self._patches

    def _count_updates(self) -> list[Sample]:
        manager = next((m for m in ("apt", "dnf", "yum") if shutil.which(m)), None)
        if manager is None:
            return []
        try:
            if manager == "apt":
                result = self._run(["apt", "list", "--upgradable"], PATCH_TIMEOUT_S)
                total, security = count_apt_upgradable(result.stdout)
            else:
                result = self._run([manager, "check-update", "-C", "-q"], PATCH_TIMEOUT_S)
                if result.returncode not in (0, 100):  # 100: updates are available
                    raise OSError(f"{manager} check-update exited {result.returncode}")
                total, security = count_dnf_updates(result.stdout), None
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("cannot count pending updates with %s: %s", manager, exc)
            return []
        out = [Sample("branchops_agent_os_pending_updates", float(total), {"manager": manager})]
        if security is not None:
            out.append(
                Sample(
                    "branchops_agent_os_pending_security_updates",
                    float(security),
                    {"manager": manager},
                )
            )
        return out


def count_apt_upgradable(listing: str) -> tuple[int, int]:
    """(all, security) from ``apt list --upgradable``: ``name/suite[,suite] version arch
    [upgradable from: old]``; a suite ending in -security carries a security fix."""
    total = security = 0
    for line in listing.splitlines():
        if "[upgradable from:" not in line:
            continue
        total += 1
        suites = line.split(" ", 1)[0].partition("/")[2]
        if any(s.endswith("-security") for s in suites.split(",")):
            security += 1
    return total, security


def count_dnf_updates(listing: str) -> int:
    """Packages listed by ``dnf check-update``: ``name.arch  version  repo`` lines, up to
    the "Obsoleting Packages" section."""
    count = 0
    for line in listing.splitlines():
        if line.startswith("Obsoleting"):
            break
        parts = line.split()
        if len(parts) == 3 and "." in parts[0] and not line.startswith(" "):
            count += 1
    return count


def whole_disks(names: Iterable[str]) -> list[str]:
    """Disks without their partitions (sda, not sda1; nvme0n1, not nvme0n1p1) and without
    loop, RAM and optical devices."""
    candidates = sorted(n for n in names if not SKIPPED_DISKS.match(n))
    whole = []
    for name in candidates:
        partition = any(
            name != other and name.startswith(other) and re.fullmatch(r"p?\d+", name[len(other) :])
            for other in candidates
        )
        if not partition:
            whole.append(name)
    return whole


def _process_name(pid: int) -> str:
    try:
        return psutil.Process(pid).name()[:100]
    except (psutil.Error, OSError):
        return ""


def _quietly(function: Callable[[Any], float], arg: Any) -> float | None:
    try:
        return function(arg)
    except (psutil.Error, OSError):
        return None  # the process is gone or not ours


def _safely(part: Callable[[], list[Sample]]) -> list[Sample]:
    """A part that fails (a permission, an odd mount) costs its own samples, not the cycle's."""
    try:
        return part()
    except Exception:
        log.warning("collecting %s failed", getattr(part, "__name__", part), exc_info=True)
        return []
