from django.urls import include, path, re_path
from django.views.i18n import JavaScriptCatalog
from ninja.openapi.views import openapi_view

from branchops.alerts.api import ingest_router
from branchops.alerts.api import router as alerts_router
from branchops.cmdb.api import router as cmdb_router
from branchops.core.api import api
from branchops.core.api_calendars import router as calendars_router
from branchops.core.api_views import api_not_found
from branchops.lab.api import router as lab_router
from branchops.monitoring.api import router as monitoring_router
from branchops.monitoring.push import router as push_router
from branchops.servicedesk.api import router as servicedesk_router

api.add_router("/", cmdb_router())
api.add_router("/", monitoring_router())
api.add_router("/push/", push_router())
api.add_router("/", alerts_router())
api.add_router("/ingest/", ingest_router())
api.add_router("/", servicedesk_router())
api.add_router("/lab/", lab_router())
api.add_router("/", calendars_router())

urlpatterns = [
    path("api/docs", lambda request: openapi_view(request, api), name="api-docs"),
    path("api/v1/", api.urls),
    re_path(r"^api/", api_not_found),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("branchops.core.urls")),
    path("estate/", include("branchops.cmdb.urls")),
    path("monitoring/", include("branchops.monitoring.urls")),
    path("alerts/", include("branchops.alerts.urls")),
    path("servicedesk/", include("branchops.servicedesk.urls")),
]
