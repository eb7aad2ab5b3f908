from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceDeskConfig(AppConfig):
    name = "branchops.servicedesk"
    label = "servicedesk"
    verbose_name = _("Service desk")

    def ready(self) -> None:
        from branchops.core.permissions import Area
        from branchops.core.scoping import register
        from branchops.servicedesk import models as m

        # Tickets belong to their site: a branch liaison sees and opens those of their own
        # branches. Routing and SLA data is reference data that everyone reads.
        register(m.Ticket, Area.SERVICE_DESK, view=("site",), owner=("site",))
        register(m.TicketEvent, Area.SERVICE_DESK, view=("ticket__site",))
        register(m.Attachment, Area.SERVICE_DESK, view=("ticket__site",))
        register(m.Category, Area.REFERENCE)
        register(m.PriorityMatrix, Area.REFERENCE)
        register(m.AssignmentGroup, Area.REFERENCE)
        register(m.SlaPolicy, Area.REFERENCE)
        # On-call and duty are the desk's own data, not any site's; handovers and
        # dual-control records list the whole estate, so the API keeps them from liaisons.
        for model in (m.Rotation, m.RotationMember, m.Override, m.Shift):
            register(model, Area.SERVICE_DESK)
        register(m.HandoverLog, Area.SERVICE_DESK)
        register(m.DualControlRecord, Area.SERVICE_DESK, view=("ticket__site",))
        register(m.TicketPolicy, Area.REFERENCE)
        register(m.AlertTicket, Area.SERVICE_DESK, view=("ticket__site",))
        # Review: a problem or postmortem belongs to the sites of its incidents (and, for a
        # problem, of its affected devices); only the desk changes them, never a liaison.
        # Knowledge articles are the whole desk's.
        problem_sites = ("tickets__site", "devices__site")
        register(m.Problem, Area.SERVICE_DESK, view=problem_sites)
        register(
            m.ProblemEvent, Area.SERVICE_DESK, view=tuple(f"problem__{p}" for p in problem_sites)
        )
        postmortem_sites = ("ticket__site", *(f"problem__{p}" for p in problem_sites))
        register(m.Postmortem, Area.SERVICE_DESK, view=postmortem_sites)
        register(
            m.CorrectiveAction,
            Area.SERVICE_DESK,
            view=(
                *(f"problem__{p}" for p in problem_sites),
                *(f"postmortem__{p}" for p in postmortem_sites),
            ),
        )
        register(m.KnowledgeArticle, Area.SERVICE_DESK)

        # Reportable incidents: the ruleset is reference data (edited by administrators
        # only, api_reportable.py); incidents and their reports follow their ticket's site.
        from branchops.servicedesk import reportable

        register(m.RegulatoryRule, Area.REFERENCE)
        register(m.ReportableIncident, Area.SERVICE_DESK, view=("ticket__site",))
        register(m.IncidentReport, Area.SERVICE_DESK, view=("incident__ticket__site",))
        reportable.connect()
