"""Ticket pages (the UI): the list, logging a ticket, a ticket's page and its actions."""

from django.urls import URLPattern, path

from branchops.servicedesk import reportable_views, views

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
    path("reportable/", reportable_views.incident_list, name="reportable_list"),
    path("<int:pk>/report/", reportable_views.record_report, name="reportable_record"),
    path("<int:pk>/report.<str:extension>", reportable_views.document, name="reportable_document"),
]
