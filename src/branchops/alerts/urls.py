"""Alert pages (the UI): console, detail, rules, silences, channels and routes, the log."""

from django.urls import URLPattern, path

from branchops.alerts import views
from branchops.alerts import views_config as c

app_name = "alerts"

urlpatterns: list[URLPattern] = [
    path("", views.console, name="console"),
    path("bulk/", views.bulk, name="bulk"),
    path("<int:pk>/", views.alert_detail, name="alert_detail"),
    path("<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("<int:pk>/assign/", views.assign, name="assign"),
    path("ack/<str:token>/", views.ack_link, name="ack_link"),
    path("notifications/", views.notification_log, name="notification_log"),
    # rules and their overrides
    path("rules/", c.RuleListView.as_view(), name="rule_list"),
    path("rules/add/", c.RuleEditView.as_view(), name="rule_add"),
    path("rules/<int:pk>/", c.RuleDetailView.as_view(), name="rule_detail"),
    path("rules/<int:pk>/edit/", c.RuleEditView.as_view(), name="rule_edit"),
    path("rules/<int:pk>/delete/", c.RuleDeleteView.as_view(), name="rule_delete"),
    path("overrides/add/", c.OverrideEditView.as_view(), name="override_add"),
    path("overrides/<int:pk>/edit/", c.OverrideEditView.as_view(), name="override_edit"),
    path("overrides/<int:pk>/delete/", c.OverrideDeleteView.as_view(), name="override_delete"),
    # silences
    path("silences/", c.silence_list, name="silence_list"),
    path("silences/add/", c.silence_add, name="silence_add"),
    path("silences/<int:pk>/end/", c.silence_end, name="silence_end"),
    # channels, escalation policies and their steps, routes
    path("channels/", c.channel_list, name="channel_list"),
    path("channels/add/", c.ChannelEditView.as_view(), name="channel_add"),
    path("channels/<int:pk>/edit/", c.ChannelEditView.as_view(), name="channel_edit"),
    path("channels/<int:pk>/delete/", c.ChannelDeleteView.as_view(), name="channel_delete"),
    path("policies/add/", c.PolicyEditView.as_view(), name="policy_add"),
    path("policies/<int:pk>/edit/", c.PolicyEditView.as_view(), name="policy_edit"),
    path("policies/<int:pk>/delete/", c.PolicyDeleteView.as_view(), name="policy_delete"),
    path("steps/add/", c.StepEditView.as_view(), name="step_add"),
    path("steps/<int:pk>/edit/", c.StepEditView.as_view(), name="step_edit"),
    path("steps/<int:pk>/delete/", c.StepDeleteView.as_view(), name="step_delete"),
    path("routes/add/", c.RouteEditView.as_view(), name="route_add"),
    path("routes/<int:pk>/edit/", c.RouteEditView.as_view(), name="route_edit"),
    path("routes/<int:pk>/delete/", c.RouteDeleteView.as_view(), name="route_delete"),
]
