"""Pointing the demo's monitoring at the lab: the ports a lab can listen on without root.

The lab answers SNMP on the port of the "default" SNMP credential, so the demo moves that
credential to an unprivileged port. Without root the lab also cannot bind 443 on the
hypervisors, so their TCP template moves to the lab's unprivileged TLS port. A real
installation keeps 161 and 443; only the demo's database is changed.
"""

from __future__ import annotations

import os

from django.db import transaction

from branchops.monitoring.models import CheckTemplate, SnmpCredential

LAB_SNMP_PORT = 1161
LAB_UNPRIVILEGED_TLS_PORT = 10443
HYPERVISOR_TEMPLATE = "Hypervisor: management"


def running_as_root() -> bool:
    return os.geteuid() == 0


def configure_for_lab() -> dict[str, str]:
    """Adjust the demo database; returns the environment the lab process needs."""
    env: dict[str, str] = {}
    with transaction.atomic():
        SnmpCredential.objects.filter(name="default").update(port=LAB_SNMP_PORT)
        tls_port = 443 if running_as_root() else LAB_UNPRIVILEGED_TLS_PORT
        for template in CheckTemplate.objects.filter(name=HYPERVISOR_TEMPLATE):
            if template.params.get("port") != tls_port:
                template.params = {**template.params, "port": tls_port}
                template.save(update_fields=["params", "updated_at"])
        if tls_port != 443:
            env["BRANCHOPS_LAB_TLS_PORT"] = str(tls_port)
    return env
