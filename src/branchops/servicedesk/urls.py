"""Ticket pages (the UI): the list, logging a ticket, a ticket's page and its actions."""

from django.urls import URLPattern, path

from branchops.servicedesk import (
    reportable_views,
    views,
    views_attachments,
    views_duty,
    views_kpis,
    views_oncall,
    views_satisfaction,
    views_spare_parts,
)

app_name = "servicedesk"

urlpatterns: list[URLPattern] = [
    path("", views.ticket_list, name="ticket_list"),
    path("add/", views.ticket_add, name="ticket_add"),
    path("add/priority/", views.priority_preview, name="priority_preview"),
    path("<int:pk>/", views.ticket_detail, name="ticket_detail"),
    path("<int:pk>/move/", views.ticket_move, name="ticket_move"),
    path("<int:pk>/assign/", views.ticket_assign, name="ticket_assign"),
    path("<int:pk>/worklog/", views.ticket_worklog, name="ticket_worklog"),
    path("<int:pk>/visit/", views.ticket_visit, name="ticket_visit"),
    path("<int:pk>/attach/", views_attachments.ticket_attach, name="ticket_attach"),
    path(
        "<int:pk>/attachments/<int:aid>/",
        views_attachments.attachment_download,
        name="attachment_download",
    ),
    path("kpis/", views_kpis.kpi_page, name="kpis"),
    path(
        "satisfaction/<str:token>/",
        views_satisfaction.satisfaction_page,
        name="satisfaction",
    ),  # public: the signed link is the permission
    # On call, duty shifts and handover, dual-person operations, spare parts of a ticket
    path("oncall/", views_oncall.oncall_now, name="oncall"),
    path("oncall/<int:pk>/", views_oncall.oncall_group, name="oncall_group"),
    path("oncall/<int:pk>/override/", views_oncall.oncall_override, name="oncall_override"),
    path("oncall/<int:pk>/swap/", views_oncall.oncall_swap, name="oncall_swap"),
    path("duty/", views_duty.shift_list, name="shift_list"),
    path("duty/handover/", views_duty.handover_start, name="handover_start"),
    path("duty/shifts/<int:pk>/handover/", views_duty.handover_write, name="handover_write"),
    path("duty/handovers/", views_duty.handover_list, name="handover_list"),
    path("duty/handovers/<int:pk>/", views_duty.handover_detail, name="handover_detail"),
    path("duty/handovers/<int:pk>/sign/", views_duty.handover_sign, name="handover_sign"),
    path("duty/dual-control/", views_duty.dual_control, name="dual_control"),
    path("<int:pk>/spare-parts/", views_spare_parts.spare_part_request, name="spare_part_request"),
    path(
        "<int:pk>/spare-parts/<int:part>/move/",
        views_spare_parts.spare_part_move,
        name="spare_part_move",
    ),
]

# Review: problems, corrective actions, postmortems, knowledge base (issue 5, item 4).
from branchops.servicedesk import knowledge_views, review_views  # noqa: E402

urlpatterns += [
    path("problems/", review_views.problem_list, name="problem_list"),
    path("problems/add/", review_views.problem_add, name="problem_add"),
    path("problems/<int:pk>/", review_views.problem_detail, name="problem_detail"),
    path("problems/<int:pk>/edit/", review_views.problem_edit, name="problem_edit"),
    path("problems/<int:pk>/move/", review_views.problem_move, name="problem_move"),
    path("problems/<int:pk>/actions/", review_views.problem_action_add, name="problem_action_add"),
    path("actions/", review_views.action_list, name="action_list"),
    path("actions/<int:pk>/", review_views.action_update, name="action_update"),
    path("postmortems/add/", review_views.postmortem_add, name="postmortem_add"),
    path("postmortems/<int:pk>/", review_views.postmortem_detail, name="postmortem_detail"),
    path("postmortems/<int:pk>/edit/", review_views.postmortem_edit, name="postmortem_edit"),
    path(
        "postmortems/<int:pk>/entries/",
        review_views.postmortem_entry_add,
        name="postmortem_entry_add",
    ),
    path(
        "postmortems/<int:pk>/actions/",
        review_views.postmortem_action_add,
        name="postmortem_action_add",
    ),
    path("kb/", knowledge_views.kb_list, name="kb_list"),
    path("kb/add/", knowledge_views.kb_add, name="kb_add"),
    path("kb/suggest/", knowledge_views.kb_suggest, name="kb_suggest"),
    path("kb/<int:pk>/", knowledge_views.kb_detail, name="kb_detail"),
    path("kb/<int:pk>/edit/", knowledge_views.kb_edit, name="kb_edit"),
    path("reportable/", reportable_views.incident_list, name="reportable_list"),
    path("<int:pk>/report/", reportable_views.record_report, name="reportable_record"),
    path("<int:pk>/report.<str:extension>", reportable_views.document, name="reportable_document"),
]
