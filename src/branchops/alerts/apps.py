from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "branchops.alerts"
    label = "alerts"
    verbose_name = _("Alerts")

    def ready(self) -> None:
        from branchops.alerts import models as m
        from branchops.core.permissions import Area
        from branchops.core.scoping import register

        register(m.Alert, Area.ALERTS, view=("site",))
        register(m.Silence, Area.ALERTS)
        register(m.AlertRule, Area.ALERT_RULES)
        register(m.RuleOverride, Area.ALERT_RULES)
        register(m.InhibitRule, Area.ALERT_RULES)
        register(m.Channel, Area.NOTIFICATIONS)
        register(m.EscalationPolicy, Area.NOTIFICATIONS)
        register(m.EscalationStep, Area.NOTIFICATIONS)
        register(m.Route, Area.NOTIFICATIONS)
        register(m.Notification, Area.NOTIFICATIONS)
