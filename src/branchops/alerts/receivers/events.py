"""What the receivers hand to the alert pipeline: one typed event per message or trap.

Titles are built from a fixed table of English msgids, so an event name that a parse rule
introduces still gets a translatable (if generic) title, and operators never see raw regex
output as a title.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

SOURCE_SYSLOG: Final = "syslog"
SOURCE_TRAP: Final = "snmp-trap"
FIRING: Final = "firing"
RESOLVED: Final = "resolved"
INFO: Final = "info"
STATUSES: Final = frozenset((FIRING, RESOLVED, INFO))
MAX_MESSAGE: Final = 2000  # characters of original text kept on an event
MAX_LABEL: Final = 256  # characters per label value: labels end up in keys and URLs


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """One thing a device told us, already classified.

    ``key`` pairs a firing event with the resolving one from the same sender (for example
    ``"vpn:HQ"`` or ``"if:3"``); ``severity`` is 1 (most urgent) to 3 for firing events and
    None otherwise; ``status`` "info" means count it, raise nothing.
    """

    source: str
    sender: str
    received_at: float
    name: str
    status: str
    severity: int | None
    title: str
    message: str
    key: str
    labels: Mapping[str, str]


# The pipeline's callback. It runs on the event loop for every accepted message, so it must
# not block: put the event on a queue and return. Exceptions are counted, never propagated.
EventCallback = Callable[[InboundEvent], object]

TITLES: Final[dict[str, Promise]] = {
    "vpn-down": _("VPN tunnel down"),
    "vpn-up": _("VPN tunnel up"),
    "attack": _("Attack detected"),
    "admin-login": _("Administrator logged in"),
    "admin-login-failed": _("Administrator login failed"),
    "link-down": _("Interface down"),
    "link-up": _("Interface up"),
    "cold-start": _("Device restarted (cold start)"),
    "warm-start": _("Device restarted (warm start)"),
    "auth-failure": _("SNMP authentication failure"),
    "config-change": _("Configuration changed"),
    "message": _("Syslog message"),
    "trap": _("SNMP trap"),
}
_GENERIC_TITLE: Final = _("Device event")


def title_for(name: str, subject: str = "") -> str:
    """The translated title of an event name, with its subject (tunnel, interface) after it."""
    base = str(TITLES.get(name, _GENERIC_TITLE))
    if name not in TITLES:
        subject = f"{name} {subject}".strip()
    if not subject:
        return base
    return gettext("%(title)s: %(subject)s") % {"title": base, "subject": subject}


def bounded(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Labels with empty values dropped and long values bounded."""
    return {k: bounded(v.strip(), MAX_LABEL) for k, v in labels.items() if v and v.strip()}
