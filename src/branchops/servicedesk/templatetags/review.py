"""Template helpers of the review pages: problem and action status badges, and the
knowledge articles suggested for a ticket (its page and the new-ticket form)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from branchops.servicedesk import knowledge
from branchops.servicedesk.badges import choice_badge
from branchops.servicedesk.review_choices import ActionKind, ActionStatus, ProblemStatus

register = template.Library()

PROBLEM_CSS = {
    ProblemStatus.OPEN: "bg-blue-lt",
    ProblemStatus.INVESTIGATING: "bg-indigo-lt",
    ProblemStatus.KNOWN_ERROR: "bg-orange-lt",
    ProblemStatus.RESOLVED: "bg-green-lt",
    ProblemStatus.CLOSED: "bg-secondary-lt",
}
ACTION_CSS = {
    ActionStatus.OPEN: "bg-blue-lt",
    ActionStatus.IN_PROGRESS: "bg-indigo-lt",
    ActionStatus.DONE: "bg-green-lt",
    ActionStatus.CANCELLED: "bg-secondary-lt",
}


@register.simple_tag
def problem_status_badge(status: str) -> SafeString:
    return choice_badge(ProblemStatus, status, PROBLEM_CSS, "problem-status")


@register.simple_tag
def action_status_badge(status: str) -> SafeString:
    return choice_badge(ActionStatus, status, ACTION_CSS, "action-status")


@register.filter
def action_kind_label(value: str) -> str:
    return str(ActionKind(value).label) if value in ActionKind.values else value


@register.simple_tag
def suggested_articles(title: str, description: str = "") -> list[knowledge.Suggestion]:
    """The top published articles for a ticket's title and description."""
    return knowledge.suggest(knowledge.ticket_text(title, description or ""))
