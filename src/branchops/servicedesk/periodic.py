"""The service desk's work that no ticket change triggers: clocks and outages grow while
nobody writes. ``branchops engine`` calls :func:`desk_minute` once a minute."""

from __future__ import annotations

import datetime as dt
import logging

from branchops.servicedesk import sla_escalation
from branchops.servicedesk.reportable import check_reportable
from branchops.servicedesk.services import note_sla_crossings

log = logging.getLogger(__name__)


def desk_minute(now: dt.datetime) -> tuple[int, int]:
    """The service desk's periodic work: SLA crossings (breaches raise alerts), breach
    alerts of finished tickets resolved, then reportable incidents.

    Each part runs on its own, so a failure in one does not stop the other.
    """
    noted = reportable = 0
    try:
        noted = note_sla_crossings(now)
    except Exception:
        log.exception("SLA crossings not noted; will retry")
    try:
        sla_escalation.settle(now)
    except Exception:
        log.exception("SLA breach alerts not settled; will retry")
    try:
        reportable = check_reportable(now)
    except Exception:
        log.exception("reportable incidents not checked; will retry")
    return noted, reportable
