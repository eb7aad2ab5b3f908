"""The alert rules BranchOps ships with (decision 0008: reference data comes by migration).

Operators edit or switch them off; a later migration never overwrites an edited rule.
"""

from __future__ import annotations

from typing import Any

RULES: tuple[dict[str, Any], ...] = (
    {
        "name": "检查失败 / Check down",
        "kind": "check_state",
        "severity": 2,
        "params": {"by_criticality": True},
        "description": "A check went down or unknown; severity follows the device's criticality.",
    },
    {
        "name": "证书即将到期 / Certificate expires within 30 days",
        "kind": "cert_expiry",
        "severity": 2,
        "params": {"days": 30, "recovery_days": 31},
    },
    {
        "name": "时钟偏差超过 100 ms / Clock offset over 100 ms",
        "kind": "clock_offset",
        "severity": 3,
        "params": {"max_s": 0.1, "recovery_s": 0.08, "for_s": 0},
    },
    {
        "name": "设备重启 / Device rebooted",
        "kind": "reboot",
        "severity": 3,
        "params": {"hold_s": 900},
    },
    {
        "name": "CPU 超过 90% / CPU over 90 % for 5 minutes",
        "kind": "threshold",
        "severity": 2,
        "metric": "branchops_cpu_utilisation_ratio",
        "params": {"op": ">", "value": 0.9, "recovery": 0.8, "for_s": 300},
    },
    {
        "name": "内存超过 90% / Memory over 90 % for 5 minutes",
        "kind": "threshold",
        "severity": 2,
        "metric": "branchops_memory_utilisation_ratio",
        "params": {"op": ">", "value": 0.9, "recovery": 0.85, "for_s": 300},
    },
    {
        "name": "丢包超过 20% / Packet loss over 20 %",
        "kind": "threshold",
        "severity": 3,
        "metric": "branchops_icmp_loss_ratio",
        "params": {"op": ">", "value": 0.2, "recovery": 0.05, "for_s": 120},
    },
    {
        "name": "存储超过 90% / Storage over 90 %",
        "kind": "threshold",
        "severity": 2,
        "metric": "branchops_storage_used_ratio",
        "params": {"op": ">", "value": 0.9, "recovery": 0.88, "for_s": 0},
    },
    {
        "name": "流量偏离基线 / Interface traffic far from its usual level",
        "kind": "baseline",
        "severity": 3,
        "metric": "branchops_if_in_bits_per_second",
        "params": {"sigmas": 4.0, "min_samples": 20, "for_s": 600},
        "description": "Learned per interface and hour of the week; silent until learned.",
    },
)


def load(apps: Any, schema_editor: Any) -> None:
    AlertRule = apps.get_model("alerts", "AlertRule")
    for spec in RULES:
        fields = {k: v for k, v in spec.items() if k != "name"}
        AlertRule.objects.get_or_create(name=spec["name"], defaults={**fields, "shipped": True})
