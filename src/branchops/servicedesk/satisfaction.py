"""满意度回访: after a ticket is resolved, the branch's reporter says how we did.

The link is signed (``django.core.signing``) and names the ticket and the moment it was
resolved; it works from that moment for :func:`link_days` days (setting
``SERVICEDESK_SATISFACTION_LINK_DAYS``, default 14), without signing in. The same ticket
always gives the same link until it is resolved again, so copying it twice does not make
it last longer. Why *resolved* and not *closed*: the reporter is asked while the fix is
fresh (tickets are closed days later), and a resolved ticket may still be reopened; the
answer stays with the ticket either way.

One answer per ticket (a database constraint too): a score of 1 to 5 and an optional
comment, kept as a :class:`SatisfactionAnswer` and written to the ticket's log as a
``satisfaction`` event.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from branchops.servicedesk.choices import DONE_STATUSES, EventKind
from branchops.servicedesk.models import SatisfactionAnswer, Ticket, TicketEvent
from branchops.servicedesk.services import Refused

SALT = "branchops.servicedesk.satisfaction"
LINK_DAYS = 14
MAX_COMMENT = 2000


def link_days() -> int:
    return int(getattr(settings, "SERVICEDESK_SATISFACTION_LINK_DAYS", LINK_DAYS))


def token(ticket: Ticket) -> str | None:
    """The signed token of a resolved or closed ticket (None before it is resolved)."""
    if ticket.status not in DONE_STATUSES or ticket.resolved_at is None:
        return None
    stamp = int(ticket.resolved_at.timestamp())
    return signing.Signer(salt=SALT).sign(f"{ticket.pk}.{stamp}")


def satisfaction_link(ticket: Ticket, request_base: str = "") -> str | None:
    """The page the reporter answers on (a path, or a full address given the site's base,
    e.g. ``https://ops.example.com``); None while the ticket is not resolved. For the
    notification to the reporter, when there is one."""
    found = token(ticket)
    if found is None:
        return None
    return request_base.rstrip("/") + reverse("servicedesk:satisfaction", args=[found])


def expires_at(ticket: Ticket) -> dt.datetime | None:
    if ticket.resolved_at is None:
        return None
    return ticket.resolved_at + dt.timedelta(days=link_days())


def read_token(value: str, now: dt.datetime | None = None) -> Ticket:
    """The ticket a link is for; Refused when it was tampered with, has expired, or the
    ticket is gone or no longer resolved."""
    try:
        signed = signing.Signer(salt=SALT).unsign(value)
        pk_text, _dot, stamp_text = signed.partition(".")
        pk, stamp = int(pk_text), int(stamp_text)
    except (signing.BadSignature, ValueError):
        raise Refused(_("This satisfaction link is not valid."), status=400) from None
    resolved = dt.datetime.fromtimestamp(stamp, tz=dt.UTC)
    if (now or timezone.now()) > resolved + dt.timedelta(days=link_days()):
        raise Refused(_("This satisfaction link has expired. Thank you all the same."), status=410)
    ticket = Ticket.objects.select_related("site").filter(pk=pk).first()
    if ticket is None:
        raise Refused(_("This satisfaction link is not valid."), status=400)
    return ticket


def existing_answer(ticket: Ticket) -> SatisfactionAnswer | None:
    return SatisfactionAnswer.objects.filter(ticket=ticket).first()


def answer(
    ticket: Ticket, *, score: int, comment: str = "", at: dt.datetime | None = None
) -> SatisfactionAnswer:
    """Record the reporter's answer and its event; refused when the score is not 1-5, the
    ticket is not resolved or closed, or it has been answered already."""
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise Refused(_("Choose a score from 1 to 5."), status=400, field="score")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise Refused(
            _("Keep the comment under %(n)d characters.") % {"n": MAX_COMMENT},
            status=400,
            field="comment",
        )
    when = at or timezone.now()
    try:
        with transaction.atomic():
            current = Ticket.objects.select_for_update().get(pk=ticket.pk)
            if current.status not in DONE_STATUSES:
                raise Refused(
                    _("The ticket is being worked on again; you will be asked once it is resolved.")
                )
            earlier = existing_answer(current)
            if earlier is not None:
                raise already_answered(earlier)
            found = SatisfactionAnswer.objects.create(
                ticket=current, score=score, comment=comment, answered_at=when
            )
            TicketEvent.objects.create(
                ticket=current,
                at=when,
                recorded_at=when,
                kind=EventKind.SATISFACTION,
                detail=f"{score}/5" + (f": {comment}" if comment else ""),
            )
    except IntegrityError:  # answered at the same moment by someone else
        earlier = existing_answer(ticket)
        if earlier is None:
            raise
        raise already_answered(earlier) from None
    return found


def already_answered(earlier: SatisfactionAnswer) -> Refused:
    return Refused(
        _("This ticket was already rated on %(date)s. Thank you, one answer is enough.")
        % {"date": timezone.localtime(earlier.answered_at).strftime("%Y-%m-%d")}
    )
