"""Choices of the review work: problem records, corrective and preventive actions, and the
knowledge base's articles."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ProblemStatus(models.TextChoices):
    """问题管理: from first suspicion to the cause removed."""

    OPEN = "open", pgettext_lazy("problem status", "Open")
    INVESTIGATING = "investigating", pgettext_lazy("problem status", "Investigating")
    KNOWN_ERROR = "known_error", pgettext_lazy("problem status", "Known error")
    RESOLVED = "resolved", pgettext_lazy("problem status", "Resolved")
    CLOSED = "closed", pgettext_lazy("problem status", "Closed")


class ProblemEventKind(models.TextChoices):
    """What happened to a problem record: one immutable row each."""

    CREATED = "created", _("Created")
    STATUS = "status", _("Status changed")
    UPDATED = "updated", _("Fields changed")
    ACTION = "action", _("Action changed")


class ActionKind(models.TextChoices):
    """整改措施: fix what broke (corrective) or keep it from happening again (preventive)."""

    CORRECTIVE = "corrective", _("Corrective")
    PREVENTIVE = "preventive", _("Preventive")


class ActionStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("action status", "Open")
    IN_PROGRESS = "in_progress", pgettext_lazy("action status", "In progress")
    DONE = "done", pgettext_lazy("action status", "Done")
    CANCELLED = "cancelled", pgettext_lazy("action status", "Cancelled")


ACTION_FINISHED = frozenset({ActionStatus.DONE.value, ActionStatus.CANCELLED.value})
"""An action in one of these no longer holds its problem open."""


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
