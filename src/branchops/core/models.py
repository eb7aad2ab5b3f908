"""People, their access (roles, API tokens), the audit trail and business calendars."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from branchops.core.choices import AuditAction, CalendarKind, ChangeSource, Role, TokenScope


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text)


class User(AbstractUser):
    """A member of the operations team (or a branch liaison) who signs in to BranchOps."""

    role = models.CharField(
        _("role"), max_length=32, choices=Role.choices, default=Role.NOC_OPERATOR
    )
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Leave empty to follow the browser."),
    )
    failed_logins = models.PositiveSmallIntegerField(_("failed logins in a row"), default=0)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full} ({self.username})" if full else self.username

    def get_full_name(self) -> str:
        """Chinese names read family name first with no space (刘洋); others "Given Family"."""
        first, last = self.first_name.strip(), self.last_name.strip()
        if _has_cjk(first + last):
            return f"{last}{first}"
        return f"{first} {last}".strip()

    def is_locked(self, now: Any = None) -> bool:
        now = now or timezone.now()
        return self.locked_until is not None and self.locked_until > now


class ApiToken(models.Model):
    """A bearer token for scripts. Only a SHA-256 digest of the secret is stored."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    digest = models.CharField(_("digest"), max_length=64, editable=False)
    scope = models.CharField(
        _("scope"), max_length=8, choices=TokenScope.choices, default=TokenScope.WRITE
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} (bo_{self.prefix}_…)"

    def is_usable(self, now: Any = None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now


class AuditEvent(models.Model):
    """One change or security event: who did what to which object, and the state before and after.

    Rows are never updated or deleted by the application.
    """

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_name = models.CharField(_("actor name"), max_length=150)
    source = models.CharField(_("source"), max_length=16, choices=ChangeSource.choices)
    action = models.CharField(_("action"), max_length=16, choices=AuditAction.choices)
    content_type = models.ForeignKey(
        ContentType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("object type"),
    )
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    message = models.CharField(_("message"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["actor", "at"], name="audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.object_repr}"

    def changed_fields(self) -> list[tuple[str, Any, Any]]:
        """(field, before, after) for every field whose value differs."""
        before = self.before or {}
        after = self.after or {}
        keys = sorted(set(before) | set(after))
        return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


class BilingualName(models.Model):
    """A name kept in Chinese, with an optional English name shown when the UI is in English."""

    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name


class BusinessCalendar(BilingualName):
    """A calendar that sites, SLAs and rules refer to: 7x24, working days or trading sessions.

    Holidays, make-up workdays and exchange closures are :class:`CalendarDay` rows. The daily
    window (``opens_at`` to ``closes_at`` less an optional break) is data too: 09:00-17:00 for
    5x8, 09:30-15:00 with a break 11:30-13:00 for trading. A 7x24 calendar ignores both.
    ``known_from``/``known_until`` bound the days whose exceptions are recorded; outside them
    the weekday rule applies and the answer is flagged as unknown (decision 0012).
    """

    code = models.SlugField(_("code"), max_length=50, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=CalendarKind.choices)
    description = models.TextField(_("description"), blank=True)
    opens_at = models.TimeField(
        _("opens at"),
        default=dt.time(9, 0),
        help_text=_("Start of the working day or of the morning session, local time."),
    )
    closes_at = models.TimeField(
        _("closes at"),
        default=dt.time(17, 0),
        help_text=_("End of the working day or of the afternoon session, local time."),
    )
    break_starts_at = models.TimeField(
        _("break starts at"),
        null=True,
        blank=True,
        help_text=_("Start of a midday break the clock does not count, e.g. 11:30."),
    )
    break_ends_at = models.TimeField(
        _("break ends at"), null=True, blank=True, help_text=_("End of the midday break.")
    )
    known_from = models.DateField(
        _("known from"),
        null=True,
        blank=True,
        help_text=_("First day whose holidays and closures are recorded."),
    )
    known_until = models.DateField(
        _("known until"),
        null=True,
        blank=True,
        help_text=_(
            "Last day whose holidays and closures are recorded; later days follow the "
            "weekday rule and are flagged as unknown."
        ),
    )
    # A fresh random number on every change of the calendar or its days, never an
    # increment: a rolled-back change must not leave a number a later change reuses.
    revision = models.PositiveIntegerField(_("revision"), default=0, editable=False)

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(opens_at__lt=models.F("closes_at")),
                name="core_calendar_opens_before_closes",
                violation_error_message=_("The calendar must open before it closes."),
            ),
            models.CheckConstraint(
                condition=models.Q(break_starts_at__isnull=True, break_ends_at__isnull=True)
                | models.Q(
                    break_starts_at__gt=models.F("opens_at"),
                    break_starts_at__lt=models.F("break_ends_at"),
                    break_ends_at__lt=models.F("closes_at"),
                ),
                name="core_calendar_break_inside_hours",
                violation_error_message=_(
                    "A break needs both a start and an end, inside the opening hours."
                ),
            ),
            models.CheckConstraint(
                condition=models.Q(known_from__isnull=True, known_until__isnull=True)
                | models.Q(known_from__lte=models.F("known_until")),
                name="core_calendar_known_range_ordered",
                violation_error_message=_(
                    "The known range needs both ends, the first not after the last."
                ),
            ),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.revision = new_revision()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "revision"}
        super().save(*args, **kwargs)


def new_revision() -> int:
    """A new value for ``BusinessCalendar.revision``.

    Each process keeps one snapshot per calendar (core.calendars.load) tagged with the
    revision it was built from; a new revision in the database is how a change made in one
    process reaches the others.
    """
    return secrets.randbelow(2**31 - 2) + 1


def _bump_revision(calendar_id: int) -> None:
    BusinessCalendar.objects.filter(pk=calendar_id).update(revision=new_revision())


class CalendarDayKind(models.TextChoices):
    """How a day departs from the weekday rule (Monday to Friday open, weekends closed).

    Declared here rather than in choices.py only because that file was outside this change.
    """

    HOLIDAY = "holiday", _("Public holiday")
    MAKE_UP_WORKDAY = "make_up_workday", _("Make-up workday")
    EXCHANGE_CLOSED = "exchange_closed", _("Exchange closed")
    TRADING_DAY = "trading_day", _("Trading day")


class CalendarDay(models.Model):
    """One date on which a calendar departs from the weekday rule: 国庆节, a 调休 Saturday.

    Workday calendars hold holidays and make-up workdays, trading calendars exchange
    closures (and, rarely, weekend trading days). Rows come from the libraries
    (``source`` = system), from an import or from a hand edit; a library refresh replaces
    only its own rows, so a hand edit wins.
    """

    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.CASCADE,
        related_name="days",
        verbose_name=_("business calendar"),
    )
    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=16, choices=CalendarDayKind.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)
    source = models.CharField(
        _("source"), max_length=16, choices=ChangeSource.choices, default=ChangeSource.SYSTEM
    )

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["calendar", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["calendar", "date"],
                name="core_calendarday_one_per_date",
                violation_error_message=_("This calendar already has an entry for that date."),
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=CalendarDayKind.values),
                name="core_calendarday_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        label = self.name or self.get_kind_display()
        return f"{self.date:%Y-%m-%d} {label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        _bump_revision(self.calendar_id)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        result = super().delete(*args, **kwargs)
        _bump_revision(self.calendar_id)
        return result
