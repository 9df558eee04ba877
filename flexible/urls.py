"""The flexible-employment certificate's routes under /admin/ (admin login, region scoped),
included at the site root from config/urls.py before the admin's own URLs."""

from django.contrib import admin
from django.urls import path

from . import views

urlpatterns = [
    path("admin/flexible/certificate/<int:enrollment_id>/", admin.site.admin_view(views.certificate_page),
         name="flexible_certificate_page"),
    path("admin/flexible/certificate/<int:enrollment_id>/pdf/", admin.site.admin_view(views.certificate_pdf),
         name="flexible_certificate_pdf"),
]
