from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # pages that name no icon (the verification page, a PDF in a tab) still get the bureau's
    path("favicon.ico", RedirectView.as_view(url=static("core/favicon.svg"), permanent=True)),
    path("", include("payments.urls_public")),  # /verify/<code>, /admin/payments/certificate/<id>/
    path("", include("enrollment.urls_receipts")),  # /admin/enrollment/receipt/<id>/ (参保登记回执)
    path("", include("payments.urls_notices")),  # /admin/payments/collector-notice/ (代收缴费通知单)
    path("", include("flexible.urls")),  # /admin/flexible/certificate/<id>/ (灵活就业缴费证明)
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
]
