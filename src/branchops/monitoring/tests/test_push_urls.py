"""Where the push router is served in tests, and whether the product serves it yet.

This module is the URLconf of the push tests (``pytest.mark.urls``): an API with the
product's authentication and JSON errors and the push router at ``/api/v1/push/``, so the
endpoint tests do not depend on urls.py. The tests below check the product's URLconf and
the published schema.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import path, resolve
from ninja import NinjaAPI

from branchops.core.api import BearerOrSession, BearerToken
from branchops.core.api import api as product_api
from branchops.core.api_views import api_not_found
from branchops.monitoring import push

test_api = NinjaAPI(
    auth=[BearerToken(), BearerOrSession()],
    urls_namespace="push-tests",
    docs_url=None,
    openapi_url="/openapi.json",
)
test_api._exception_handlers = product_api._exception_handlers  # the product's JSON errors
test_api.add_router("/push/", push.router())
urlpatterns = [path("api/v1/", test_api.urls)]


@pytest.mark.urls("branchops.urls")
def test_the_router_is_mounted_in_the_product() -> None:
    if resolve("/api/v1/push/agent").func is api_not_found:
        pytest.skip('not mounted yet: api.add_router("/push/", push_router()) in urls.py')
    assert resolve("/api/v1/push/metrics").func is not api_not_found


@pytest.mark.urls(__name__)
def test_the_schema_lists_both_endpoints_with_their_bodies() -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    agent = schema["paths"]["/api/v1/push/agent"]["post"]
    metrics = schema["paths"]["/api/v1/push/metrics"]["post"]
    assert agent["operationId"] == "push_agent_batch"
    assert set(metrics["requestBody"]["content"]) == {"text/plain", "application/json"}
    assert agent["security"] == [{"BearerToken": []}]
