"""The bureau's admin site: Chinese titles and the extra pages (缴费测算)."""

from django.conf import settings
from django.contrib import admin
from django.urls import path, reverse


class BureauAdminSite(admin.AdminSite):
    site_header = settings.SITE_TITLE
    site_title = settings.SITE_TITLE
    index_title = "经办工作台"
    # The site has no public pages of its own (the root is the admin): no 查看站点 link
    # that would only lead back here.
    site_url = None
    index_template = "admin/bureau_index.html"

    def _figures(self, request):
        from accounts.scoping import region_codes
        from core import clock
        from enrollment.figures import figures_for

        year = clock.today().year
        years = [year - 1, year, year + 1]
        codes = region_codes(request.user)
        if not request.user.has_perm("enrollment.view_enrollment"):
            return [], None, years, codes
        figures, refreshed = figures_for(codes, years)
        return figures, refreshed, years, codes

    def figures_xlsx(self, request):
        """The home page's table as a spreadsheet (the same rows, the same regions)."""
        import io

        from django.http import HttpResponse
        from openpyxl import Workbook

        figures, _, _, _ = self._figures(request)
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("参保情况")
        ws.append(["参保地", "待遇年度", "已登记", "已缴费", "缴费率"])
        for f in figures:
            ws.append([f.region, f.year, f.registered, f.paid, f.rate])
        buf = io.BytesIO()
        wb.save(buf)
        response = HttpResponse(buf.getvalue(),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = 'attachment; filename="enrollment-figures.xlsx"'
        return response

    def index(self, request, extra_context=None):
        """The home page: the enrollment figures of the user's regions (a summary the engine
        refreshes, enrollment.figures), as a chart with its numbers in a table beside it."""
        figures, refreshed, years, codes = self._figures(request)
        chart = {"labels": [f"{f.region} {f.year}" for f in figures],
                 "registered": [f.registered for f in figures], "paid": [f.paid for f in figures]}
        context = {"figures": figures, "figures_refreshed": refreshed, "figure_years": years,
                   "figure_scope": "全部地区" if codes is None else "您负责的地区", "chart_data": chart,
                   **(extra_context or {})}
        return super().index(request, context)

    @property
    def login_form(self):
        from accounts.admin_login import LockoutAwareLoginForm  # says so when an account is locked

        return LockoutAwareLoginForm

    def get_urls(self):
        from policy.admin_views import QuoteView

        extra = [
            path("quote/", self.admin_view(QuoteView.as_view(admin_site=self)), name="quote"),
            path("figures.xlsx", self.admin_view(self.figures_xlsx), name="figures_xlsx"),
        ]
        return extra + super().get_urls()

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        for app in app_list:  # the audit library's English names, in the menu and on the index
            if app["app_label"] == "pghistory":
                app["name"] = "审计"
                for model in app["models"]:
                    model["name"] = {"Events": "变更记录", "Contexts": "操作上下文"}.get(str(model["name"]), "审计记录")
        if app_label is None and request.user.has_perm("policy.view_policyyear"):
            app_list.insert(0, {
                "name": "业务工具",
                "app_label": "tools",
                "app_url": reverse("admin:quote"),
                "has_module_perms": True,
                "models": [{
                    "name": "缴费测算",
                    "object_name": "Quote",
                    "admin_url": reverse("admin:quote"),
                    "view_only": True,
                    "perms": {"view": True, "add": False, "change": False, "delete": False},
                }],
            })
        return app_list
