from django.urls import URLPattern, path

from branchops.monitoring import views as v

app_name = "monitoring"

urlpatterns: list[URLPattern] = [
    path("checks/", v.CheckListView.as_view(), name="check_list"),
    path("checks/add/", v.CheckAddView.as_view(), name="check_add"),
    path("checks/<int:pk>/", v.CheckDetailView.as_view(), name="check_detail"),
    path("checks/<int:pk>/edit/", v.CheckEditView.as_view(), name="check_edit"),
    path("checks/<int:pk>/delete/", v.CheckDeleteView.as_view(), name="check_delete"),
    path("sites/", v.site_health_list, name="site_health_list"),
    path("panels/devices/<int:pk>/", v.device_panel, name="device_panel"),
    path("panels/sites/<int:pk>/", v.site_panel, name="site_panel"),
    path("templates/", v.TemplateListView.as_view(), name="template_list"),
    path("templates/add/", v.TemplateEditView.as_view(), name="template_add"),
    path("templates/<int:pk>/", v.TemplateDetailView.as_view(), name="template_detail"),
    path("templates/<int:pk>/edit/", v.TemplateEditView.as_view(), name="template_edit"),
    path("templates/<int:pk>/delete/", v.TemplateDeleteView.as_view(), name="template_delete"),
    path("credentials/", v.CredentialListView.as_view(), name="credential_list"),
    path("credentials/add/", v.CredentialEditView.as_view(), name="credential_add"),
    path("credentials/<int:pk>/edit/", v.CredentialEditView.as_view(), name="credential_edit"),
]
