"""Receivers that keep generated checks in step with the estate and the templates.

Changes through the UI and the API save objects one by one and arrive here; bulk imports
and the demo loader write in bulk without signals, and the engine's periodic reconcile
(monitoring.services.sync) catches those within a minute.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from branchops.cmdb.models import Device, Link
from branchops.monitoring import services
from branchops.monitoring.models import Check, CheckTemplate


@receiver(post_save, sender=Device, dispatch_uid="monitoring.device_saved")
def device_saved(sender: type[Device], instance: Device, **kwargs: Any) -> None:
    transaction.on_commit(lambda: services.sync(devices=[instance], links=[]))


@receiver(post_save, sender=Link, dispatch_uid="monitoring.link_saved")
def link_saved(sender: type[Link], instance: Link, **kwargs: Any) -> None:
    transaction.on_commit(lambda: services.sync(devices=[], links=[instance]))


@receiver(pre_delete, sender=CheckTemplate, dispatch_uid="monitoring.template_deleting")
def template_deleting(sender: type[CheckTemplate], instance: CheckTemplate, **kwargs: Any) -> None:
    """Its generated checks go with it; checks someone customised stay, as hand-made ones."""
    Check.objects.filter(template=instance, customised=False).delete()


@receiver(post_save, sender=CheckTemplate, dispatch_uid="monitoring.template_saved")
@receiver(post_delete, sender=CheckTemplate, dispatch_uid="monitoring.template_deleted")
def template_changed(sender: type[CheckTemplate], instance: CheckTemplate, **kwargs: Any) -> None:
    transaction.on_commit(services.sync)
