from django.urls import path

from config.openapi import openapi_view
from enrollment import api as enrollment_api
from policy import api as policy_api

urlpatterns = [
    path("openapi.json", openapi_view, name="api-openapi"),
    path("quote", policy_api.quote_view, name="api-quote"),
    path("enrollments", enrollment_api.enrollments_view, name="api-enrollments"),
    path("enrollments/<str:id_number>/<int:year>", enrollment_api.enrollment_detail_view,
         name="api-enrollment-detail"),
]
