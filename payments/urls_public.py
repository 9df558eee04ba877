"""The payment certificate's routes, included once at the site root (config/urls.py):
the public verification page and the caseworker's certificate under /admin/ (admin login,
region scoped; listed before the admin's own URLs)."""

from django.contrib import admin
from django.urls import path, re_path

from . import views_certificates as views

urlpatterns = [
    path("verify/", views.verify_lookup, name="certificate_verify_form"),
    re_path(r"^verify/(?P<code>[0-9A-Za-z-]{1,40})/?$", views.verify_page, name="certificate_verify"),
    path("admin/payments/certificate/<int:enrollment_id>/", admin.site.admin_view(views.certificate_page),
         name="certificate_page"),
    path("admin/payments/certificate/<int:enrollment_id>/pdf/", admin.site.admin_view(views.certificate_pdf),
         name="certificate_pdf"),
]
