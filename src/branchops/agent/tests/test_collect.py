"""What the agent measures: real psutil readings on this machine, and the package-manager
parsers on the outputs apt and dnf really print."""

from __future__ import annotations

import logging
import shutil
import subprocess

import psutil
import pytest

from branchops.agent import collect
from branchops.agent.collect import (
    HostCollector,
    Run,
    Sample,
    count_apt_upgradable,
    count_dnf_updates,
    host_facts,
    whole_disks,
)

APT_LISTING = """\

WARNING: apt does not have a stable CLI interface. Use with caution in scripts.

Listing...
libssl3/bookworm-security 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]
openssl/bookworm-security,bookworm-updates 3.0.15-1 amd64 [upgradable from: 3.0.14-1]
tzdata/bookworm-updates 2024b-0+deb12u1 all [upgradable from: 2024a-0+deb12u1]
"""

DNF_LISTING = """\

kernel.x86_64                    5.14.0-427.22.1.el9_4          baseos
openssl-libs.x86_64              1:3.0.7-27.el9_4.1             baseos
python3-urllib3.noarch           1.26.5-5.el9_4.1               appstream
Obsoleting Packages
grub2-tools.x86_64               1:2.06-80.el9_4                baseos
    grub2-tools.x86_64           1:2.06-77.el9                  @baseos
"""


def by_name(samples: list[Sample]) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for s in samples:
        out.setdefault(s.name, []).append(s)
    return out


def test_apt_listing() -> None:
    assert count_apt_upgradable(APT_LISTING) == (3, 2)
    assert count_apt_upgradable("Listing...\n") == (0, 0)


def test_dnf_listing() -> None:
    assert count_dnf_updates(DNF_LISTING) == 3
    assert count_dnf_updates("") == 0


def test_whole_disks_leave_partitions_and_pseudo_devices_out() -> None:
    names = ["sda", "sda1", "sda2", "sdaa", "nvme0n1", "nvme0n1p1", "loop0", "ram0", "zram0",
             "dm-0", "dm-1", "vda", "mmcblk0", "mmcblk0p1", "sr0", "md0"]  # fmt: skip
    assert whole_disks(names) == ["dm-0", "dm-1", "md0", "mmcblk0", "nvme0n1", "sda", "sdaa", "vda"]


def test_a_real_cycle_on_this_machine() -> None:
    collector = HostCollector(patch_interval_s=0)
    found = by_name(collector.collect())
    for name in (
        "branchops_agent_cpu_utilisation_ratio",
        "branchops_agent_memory_available_bytes",
        "branchops_agent_memory_utilisation_ratio",
        "branchops_agent_filesystem_free_bytes",
        "branchops_agent_processes",
        "branchops_agent_process_cpu_ratio",
        "branchops_agent_uptime_seconds",
        "branchops_agent_listening_ports",
        "branchops_agent_network_receive_bytes_per_second",
    ):
        assert name in found, name
    for name, samples in found.items():
        if name.endswith("_ratio"):
            assert all(0.0 <= s.value <= 1.0 for s in samples), name
        assert all(s.value >= 0 for s in samples), name
    assert found["branchops_agent_processes"][0].value > 1
    root = [
        s for s in found["branchops_agent_filesystem_size_bytes"] if s.labels["mountpoint"] == "/"
    ]
    assert root
    assert root[0].value > 0
    assert "branchops_agent_os_pending_updates" not in found  # patch_interval_s=0: off


def test_a_listening_socket_is_seen_with_its_process() -> None:
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = str(server.getsockname()[1])
        found = by_name(HostCollector(patch_interval_s=0).collect())
    ours = [s for s in found["branchops_agent_listening_port"] if s.labels["port"] == port]
    assert len(ours) == 1
    assert ours[0].labels["proto"] == "tcp"
    assert ours[0].labels["address"] == "127.0.0.1"
    assert ours[0].labels["process"] == psutil.Process().name()


def test_pending_updates_are_counted_at_most_every_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        collect.shutil, "which", lambda name: "/usr/bin/dnf" if name == "dnf" else None
    )
    calls: list[list[str]] = []

    def dnf(argv: list[str], timeout_s: float) -> Run:
        calls.append(argv)
        return Run(100, DNF_LISTING)

    now = [1000.0]
    collector = HostCollector(patch_interval_s=3600, run=dnf, clock=lambda: now[0])
    first = by_name(collector.collect())
    now[0] += 60
    second = by_name(collector.collect())
    assert calls == [["dnf", "check-update", "-C", "-q"]]  # cache only, once an hour
    for found in (first, second):
        [pending] = found["branchops_agent_os_pending_updates"]
        assert (pending.value, pending.labels) == (3.0, {"manager": "dnf"})
    now[0] += 3600
    collector.collect()
    assert len(calls) == 2


@pytest.mark.parametrize(
    "failure",
    [OSError("no such file"), subprocess.TimeoutExpired(["apt"], 120.0), Run(1, "error")],
)
def test_a_failing_package_manager_costs_only_its_samples(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failure: Exception | Run,
) -> None:
    monkeypatch.setattr(
        collect.shutil, "which", lambda name: "/usr/bin/dnf" if name == "dnf" else None
    )

    def broken(argv: list[str], timeout_s: float) -> Run:
        if isinstance(failure, Run):
            return failure
        raise failure

    with caplog.at_level(logging.WARNING):
        found = by_name(HostCollector(run=broken).collect())
    assert "branchops_agent_os_pending_updates" not in found
    assert "branchops_agent_cpu_utilisation_ratio" in found
    assert "cannot count pending updates" in caplog.text


@pytest.mark.skipif(shutil.which("apt") is None, reason="not a Debian or Ubuntu machine")
def test_the_real_apt_answers_from_its_cache() -> None:
    found = by_name(HostCollector().collect())
    [pending] = found["branchops_agent_os_pending_updates"]
    assert pending.labels == {"manager": "apt"}
    assert pending.value >= 0


def test_host_facts() -> None:
    facts = host_facts("1.2.3")
    assert facts["hostname"]
    assert facts["os"]
    assert facts["version"] == "1.2.3"
    assert all(not ip.startswith("127.") for ip in facts["ips"])
    assert facts["extra"]["cpu_count"] >= 1
