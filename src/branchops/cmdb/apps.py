from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CmdbConfig(AppConfig):
    name = "branchops.cmdb"
    label = "cmdb"
    verbose_name = _("Estate")

    def ready(self) -> None:
        from branchops.cmdb.scoping import register_estate

        register_estate()
