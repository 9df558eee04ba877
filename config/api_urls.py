from django.urls import path, re_path

from config.openapi import not_found_view, openapi_view
from enrollment import api as enrollment_api
from family_pool import api as pool_api
from payments import api as payments_api
from policy import api as policy_api

urlpatterns = [
    path("openapi.json", openapi_view, name="api-openapi"),
    path("quote", policy_api.quote_view, name="api-quote"),
    path("enrollments", enrollment_api.enrollments_view, name="api-enrollments"),
    # year as text: the view answers 422 invalid_input for "abc", not the resolver's HTML 404
    path("enrollments/<str:id_number>/<str:year>", enrollment_api.enrollment_detail_view,
         name="api-enrollment-detail"),
    path("dues", payments_api.dues_view, name="api-dues"),
    path("payments", payments_api.payments_view, name="api-payments"),
    path("payment-records", payments_api.payment_records_view, name="api-payment-records"),
    path("back-payments", payments_api.back_payments_view, name="api-back-payments"),
    path("pool/networks", pool_api.networks_view, name="api-pool-networks"),
    path("pool/networks/<str:network_id>", pool_api.network_detail_view, name="api-pool-network"),
    path("pool/networks/<str:network_id>/members", pool_api.members_view, name="api-pool-members"),
    path("pool/networks/<str:network_id>/members/<str:id_number>", pool_api.member_detail_view,
         name="api-pool-member"),
    path("pool/networks/<str:network_id>/modes", pool_api.modes_view, name="api-pool-modes"),
    path("pool/networks/<str:network_id>/settlements", pool_api.settlements_view, name="api-pool-settlements"),
    path("pool/memberships/<str:id_number>", pool_api.membership_view_api, name="api-pool-membership"),
    re_path(r"", not_found_view),  # any other /api/v1/ path: 404 in the contract's shape
]
