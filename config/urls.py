from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("", include("payments.urls_public")),  # /verify/<code>, /admin/payments/certificate/<id>/
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
]
