"""资助资金报表 in the admin: the funding report of one region and year, with the
XLSX and the tax bureau's 特殊缴费标识 file to download.

The page is a custom admin view, not a model: it is added to the bureau's
admin site from ``SubsidiesConfig.ready()`` by wrapping the site's
``get_urls``/``get_app_list`` (one URL set, one link under 资助参保), so no
proxy model and no migration are needed.

Who: users with view permission on assistance identities (caseworkers and
auditors).  Which regions: a caseworker only their own (accounts.scoping); a
region outside them is refused (403), never silently replaced.  The people
sheet of the XLSX shows full ID numbers only to users who may see them; the
tax file is all full ID numbers, so it needs ``enrollment.view_full_id_number``.
"""

from __future__ import annotations

import logging

import io

from django import forms
from django.contrib import admin
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.urls import path, reverse
from django.views.generic import TemplateView

from accounts.scoping import can_see_region, region_codes
from core import clock
from policy.models import PolicyYear, PolicyYearStatus, Region
from policy.rules import QuoteError
from policy.selectors import policy_region

from .reports import funding_report, write_tax_flags, write_xlsx

PERMISSION = "subsidies.view_assistanceidentity"
FULL_ID = "enrollment.view_full_id_number"
TAX_EXPORT = "subsidies.export_tax_flags"
logger = logging.getLogger("audit.exports")


def may_export_tax(user) -> bool:
    return user.has_perm(FULL_ID) or user.has_perm(TAX_EXPORT)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def user_regions(user) -> list[Region]:
    codes = region_codes(user)
    qs = Region.objects.order_by("code")
    return list(qs if codes is None else qs.filter(code__in=codes))


def default_year(region: str) -> int | None:
    """The year of the business date when its policy is published, else the latest published."""
    place = policy_region(region)
    if place is None:
        return None
    years = set(PolicyYear.objects.filter(region=place, status=PolicyYearStatus.PUBLISHED)
                .values_list("year", flat=True))
    today = clock.today().year
    return today if today in years else max(years, default=None)


class ReportForm(forms.Form):
    region = forms.ChoiceField(label="参保地")
    year = forms.IntegerField(label="待遇年度", min_value=2000, max_value=2100)

    def __init__(self, *args, regions: list[Region], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [(r.code, f"{r.name}（{r.code}）") for r in regions]


class ReportView(PermissionRequiredMixin, TemplateView):
    template_name = "admin/subsidies/report.html"
    permission_required = PERMISSION
    admin_site = None
    download = None  # None: the page; "xlsx" or "csv": the file

    def get(self, request, *args, **kwargs):
        regions = user_regions(request.user)
        data = request.GET.copy()
        asked = data.get("region")
        if asked and not can_see_region(request.user, asked):
            raise PermissionDenied("该地区不在您的经办地区内")
        if regions and not asked:
            data["region"] = regions[0].code
        if data.get("region") and not data.get("year"):
            data["year"] = default_year(data["region"]) or clock.today().year
        form = ReportForm(data, regions=regions)
        report, error = None, None
        if form.is_valid():
            region, year = form.cleaned_data["region"], form.cleaned_data["year"]
            try:
                report = funding_report(region, year)
            except QuoteError as exc:
                error = exc.message
            if report is not None and self.download:
                return self.file(report)
        elif self.download:
            raise PermissionDenied("请选择您经办的地区和待遇年度")
        ctx = self.get_context_data(form=form, report=report, error=error, regions=regions)
        return self.render_to_response(ctx)

    def file(self, report) -> HttpResponse:
        name = f"{report.region}-{report.year}"
        if self.download == "xlsx":
            buf = io.BytesIO()
            write_xlsx(buf, report, full_id_numbers=self.request.user.has_perm(FULL_ID))
            response = HttpResponse(buf.getvalue(), content_type=XLSX_TYPE)
            response["Content-Disposition"] = f'attachment; filename="assistance-report-{name}.xlsx"'
            return response
        if not may_export_tax(self.request.user):
            raise PermissionDenied("税务特殊缴费标识文件含完整身份证号码，需要“可以导出税务特殊缴费标识文件”权限")
        logger.info("tax flags exported by %s: region %s, year %s", self.request.user.get_username(),
                    report.region, report.year)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="tax-flags-{name}.csv"'
        write_tax_flags(response, report.region, report.year)
        return response

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(self.admin_site.each_context(self.request))
        ctx["title"] = "资助资金报表"
        ctx["may_export_tax"] = may_export_tax(self.request.user)
        report = kwargs.get("report")
        if report is not None:
            query = f"?region={report.region}&year={report.year}"
            ctx["xlsx_url"] = reverse("admin:subsidies_report_xlsx") + query
            ctx["csv_url"] = reverse("admin:subsidies_report_csv") + query
        return ctx


def _link() -> dict:
    url = reverse("admin:subsidies_report")
    return {"name": "资助资金报表", "object_name": "AssistanceReport", "admin_url": url, "add_url": None,
            "view_only": True, "perms": {"view": True, "add": False, "change": False, "delete": False}}


def install(site) -> None:
    """Add the page's URLs to ``site`` and its link under 资助参保 on the index."""
    site_urls, site_app_list = site.get_urls, site.get_app_list

    def get_urls():
        def view(**kw):
            return site.admin_view(ReportView.as_view(admin_site=site, **kw))

        return [
            path("subsidies/report/", view(), name="subsidies_report"),
            path("subsidies/report/xlsx/", view(download="xlsx"), name="subsidies_report_xlsx"),
            path("subsidies/report/tax-flags/", view(download="csv"), name="subsidies_report_csv"),
        ] + site_urls()

    def get_app_list(request, app_label=None):
        app_list = site_app_list(request, app_label)
        if app_label not in (None, "subsidies") or not request.user.has_perm(PERMISSION):
            return app_list
        app = next((a for a in app_list if a["app_label"] == "subsidies"), None)
        if app is None:
            app = {"name": "资助参保", "app_label": "subsidies", "app_url": reverse("admin:subsidies_report"),
                   "has_module_perms": True, "models": []}
            app_list.append(app)
        app["models"].append(_link())
        return app_list

    site.get_urls, site.get_app_list = get_urls, get_app_list


install(admin.site)
