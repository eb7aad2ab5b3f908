"""The regulatory rules BranchOps ships with (decision 0008): the 2012 CSRC rules on
information-security incidents of securities and futures firms, as DOMAIN.md records them.

The 2021 rules replaced them and their thresholds are not confirmed here, so these are
data: operators edit them; this only creates rules whose name is missing, so it never
overwrites an edit or brings back a rule someone deleted and replaced under another name.
"""

from __future__ import annotations

from typing import Any

SOURCE_2012 = "证券期货业信息安全事件报告与调查处理办法 (2012); check against the 2021 rules"

RULES: tuple[dict[str, Any], ...] = (
    {
        "name": "Central or online trading down 5 min",
        "order": 10,
        "system_codes": ["central-trading", "online-trading"],
        "min_outage_minutes": 5,
        "min_active_clients": None,
        "grade": "large",
    },
    {
        "name": "Central or online trading down 30 min, 100,000 active clients",
        "order": 20,
        "system_codes": ["central-trading", "online-trading"],
        "min_outage_minutes": 30,
        "min_active_clients": 100_000,
        "grade": "major",
    },
    {
        "name": "Depository or margin trading down 30 min",
        "order": 30,
        "system_codes": ["margin-trading", "third-party-depository"],
        "min_outage_minutes": 30,
        "min_active_clients": None,
        "grade": "large",
    },
)


def load(apps: Any, schema_editor: Any) -> None:
    RegulatoryRule = apps.get_model("servicedesk", "RegulatoryRule")
    for spec in RULES:
        fields = {k: v for k, v in spec.items() if k != "name"}
        RegulatoryRule.objects.get_or_create(
            name=spec["name"], defaults={**fields, "source": SOURCE_2012, "shipped": True}
        )
