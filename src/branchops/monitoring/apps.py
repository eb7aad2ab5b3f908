from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "branchops.monitoring"
    label = "monitoring"
    verbose_name = _("Monitoring")

    def ready(self) -> None:
        from branchops.core.permissions import Area
        from branchops.core.scoping import register
        from branchops.monitoring import models as m
        from branchops.monitoring import signals  # noqa: F401 - connects the receivers

        register(m.Check, Area.MONITORING, view=("site",), owner=("site",))
        register(m.CheckTemplate, Area.MONITORING)
        register(m.SnmpCredential, Area.CREDENTIALS)
