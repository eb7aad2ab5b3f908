"""Choices of reportable incidents (网络安全事件): the regulator's grades, the reports a
broker sends, and the states of a reporting timer."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class IncidentGrade(models.TextChoices):
    """一般 / 较大 / 重大 / 特别重大, as the CSRC's incident rules name them."""

    GENERAL = "general", _("General")
    LARGE = "large", _("Large")
    MAJOR = "major", _("Major")
    ESPECIALLY_MAJOR = "especially_major", _("Especially major")


GRADE_RANK = {
    IncidentGrade.GENERAL: 1,
    IncidentGrade.LARGE: 2,
    IncidentGrade.MAJOR: 3,
    IncidentGrade.ESPECIALLY_MAJOR: 4,
}
"""A higher number is a graver incident; an incident's grade only ever rises."""


class ReportKind(models.TextChoices):
    """What was sent to the regulator (the local CSRC bureau)."""

    IMMEDIATE = "immediate", _("Immediate report")
    UPDATE = "update", _("Progress update")
    WRITTEN = "written", _("Written report")
    INVESTIGATION = "investigation", _("Investigation report")


class TimerState(models.TextChoices):
    NOT_NEEDED = "not_needed", _("Not needed")
    WAITING = "waiting", _("Not started")
    DUE = "due", _("Due")
    OVERDUE = "overdue", _("Overdue")
    DONE = "done", _("Done")
