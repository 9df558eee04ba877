"""代收缴费通知单's routes under /admin/ (admin login, region scoped), included at the site root
before the admin's own URLs (config/urls.py)."""

from django.contrib import admin
from django.urls import path

from . import views_notices as views

urlpatterns = [
    path("admin/payments/collector-notice/", admin.site.admin_view(views.notice_page),
         name="payments_collector_notice"),
    path("admin/payments/collector-notice/pdf/", admin.site.admin_view(views.notice_pdf),
         name="payments_collector_notice_pdf"),
]
