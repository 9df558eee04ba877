"""参保登记回执's routes under /admin/ (admin login, region scoped), included at the site root
before the admin's own URLs (config/urls.py)."""

from django.contrib import admin
from django.urls import path

from . import views_receipts as views

urlpatterns = [
    path("admin/enrollment/receipt/<int:enrollment_id>/", admin.site.admin_view(views.receipt_page),
         name="enrollment_receipt"),
    path("admin/enrollment/receipt/<int:enrollment_id>/pdf/", admin.site.admin_view(views.receipt_pdf),
         name="enrollment_receipt_pdf"),
    path("admin/enrollment/notices/print/", admin.site.admin_view(views.notices_page), name="enrollment_notices"),
    path("admin/enrollment/notices/print/pdf/", admin.site.admin_view(views.notices_pdf),
         name="enrollment_notices_pdf"),
]
