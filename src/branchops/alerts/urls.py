"""Alert pages (the UI): console, detail, rules, silences, channels and routes, the log."""

from django.urls import path

from branchops.alerts import views

app_name = "alerts"

urlpatterns = [
    path("ack/<str:token>/", views.ack_link, name="ack_link"),
]
