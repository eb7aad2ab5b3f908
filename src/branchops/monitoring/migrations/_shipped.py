"""Creates the shipped SNMP credential and check templates that are missing (idempotent)."""

from typing import Any


def load(apps: Any, schema_editor: Any) -> None:
    from branchops.core.secrets import seal
    from branchops.monitoring.templates_data import shipped

    credential_model = apps.get_model("monitoring", "SnmpCredential")
    template_model = apps.get_model("monitoring", "CheckTemplate")
    role_model = apps.get_model("cmdb", "DeviceRole")
    if not credential_model.objects.filter(name="default").exists():
        credential_model.objects.create(
            name="default", version="2c", port=161, community_sealed=seal("public")
        )
    roles = {r.slug: r for r in role_model.objects.all()}
    for spec in shipped():
        if template_model.objects.filter(name=spec.name).exists():
            continue
        if spec.role and spec.role not in roles:
            continue  # the role was renamed or removed by the user
        template_model.objects.create(
            name=spec.name,
            kind=spec.kind,
            target_kind="device" if spec.role else "link",
            role=roles.get(spec.role) if spec.role else None,
            link_kind=spec.link_kind or "",
            interval_s=spec.interval_s,
            timeout_s=spec.timeout_s,
            params=spec.params,
        )
