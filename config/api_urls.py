from django.urls import path

from config import api
from policy import api as policy_api

urlpatterns = [
    path("openapi.json", api.openapi_view, name="api-openapi"),
    path("quote", policy_api.quote_view, name="api-quote"),
]
