"""An agent is one server running ``branchops-agent``; a batch receipt is one accepted push.

The agent numbers its batches 1, 2, 3, ... and keeps the ones the centre did not take on
disk, replaying them in order. ``Agent.last_sequence`` is the highest number accepted: a
batch at or below it is a replay of something already stored and is acknowledged without
being stored again. ``AgentBatch`` rows are receipts kept for a day, to see gaps (batches
the agent dropped when its buffer was full) and to prove exactly-once delivery.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from branchops.cmdb.models import Device


class Agent(models.Model):
    """A server running the BranchOps agent, known by the id the agent generated at install."""

    agent_id = models.CharField(_("agent id"), max_length=64, unique=True)
    hostname = models.CharField(_("host name"), max_length=255, db_index=True)
    os = models.CharField(_("operating system"), max_length=100, blank=True)
    os_version = models.CharField(_("OS version"), max_length=200, blank=True)
    ips = models.JSONField(_("IP addresses"), default=list, blank=True)
    version = models.CharField(_("agent version"), max_length=32, blank=True)
    facts = models.JSONField(_("host facts"), default=dict, blank=True)
    device = models.ForeignKey(
        Device,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="agents",
        verbose_name=_("device"),
        help_text=_("The estate device with this host name or management IP, when there is one."),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="agents",
        verbose_name=_("pushing user"),
        help_text=_("Only this user's tokens may push for this agent."),
    )
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now, db_index=True)
    clock_offset_s = models.FloatField(_("clock offset (s)"), default=0.0)
    last_sequence = models.BigIntegerField(_("last accepted batch"), default=0)
    batches_accepted = models.BigIntegerField(_("batches accepted"), default=0)
    samples_accepted = models.BigIntegerField(_("samples accepted"), default=0)
    replays_ignored = models.BigIntegerField(_("replayed batches ignored"), default=0)
    batches_dropped = models.BigIntegerField(
        _("batches dropped by the agent"),
        default=0,
        help_text=_("Batches the agent threw away because its disk buffer was full."),
    )

    class Meta:
        verbose_name = _("agent")
        verbose_name_plural = _("agents")
        ordering = ["hostname", "agent_id"]

    def __str__(self) -> str:
        return f"{self.hostname} ({self.agent_id[:8]})"


class AgentBatch(models.Model):
    """The receipt of one batch the centre accepted; kept for a day."""

    agent = models.ForeignKey(
        Agent, on_delete=models.CASCADE, related_name="batches", verbose_name=_("agent")
    )
    sequence = models.BigIntegerField(_("sequence"))
    collected_at = models.DateTimeField(_("collected at"))
    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    samples = models.PositiveIntegerField(_("samples"), default=0)

    class Meta:
        verbose_name = _("agent batch")
        verbose_name_plural = _("agent batches")
        ordering = ["agent", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "sequence"], name="agentbatch_one_per_sequence"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} #{self.sequence}"
