"""Choices of reportable incidents (网络安全事件): the regulator's grades, the reports a
broker sends, and the states of a reporting timer."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class IncidentGrade(models.TextChoices):
    """一般 / 较大 / 重大 / 特别重大, as the CSRC's incident rules name them."""

    GENERAL = "general", pgettext_lazy("incident grade", "General")
    LARGE = "large", pgettext_lazy("incident grade", "Large")
    MAJOR = "major", pgettext_lazy("incident grade", "Major")
    ESPECIALLY_MAJOR = "especially_major", pgettext_lazy("incident grade", "Especially major")


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
    NOT_NEEDED = "not_needed", pgettext_lazy("report timer", "Not needed")
    WAITING = "waiting", pgettext_lazy("report timer", "Not started")
    DUE = "due", pgettext_lazy("report timer", "Due")
    OVERDUE = "overdue", pgettext_lazy("report timer", "Overdue")
    DONE = "done", pgettext_lazy("report timer", "Done")
