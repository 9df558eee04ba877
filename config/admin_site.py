"""The bureau's admin site: Chinese titles and the extra pages (缴费测算)."""

from django.conf import settings
from django.contrib import admin
from django.urls import path, reverse


def safe_cell(value):
    """A cell for the spreadsheet: numbers stay numbers; text that a spreadsheet would read as
    a formula (= + - @) is neutralised."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


class BureauAdminSite(admin.AdminSite):
    site_header = settings.SITE_TITLE
    site_title = settings.SITE_TITLE
    index_title = "经办工作台"
    # The site has no public pages of its own (the root is the admin): no 查看站点 link
    # that would only lead back here.
    site_url = None
    index_template = "admin/bureau_index.html"

    def figures_xlsx(self, request):
        """The home page's tables as a spreadsheet: one sheet per figure group, the same rows
        the page shows (the same regions)."""
        import io

        from django.http import HttpResponse
        from openpyxl import Workbook

        from .home import home

        wb = Workbook(write_only=True)
        panels = home(request)["panels"]
        for panel in panels:
            ws = wb.create_sheet(panel.sheet)
            ws.append(panel.headers)
            for row in panel.rows:
                ws.append([safe_cell(c) for c in row])
        if not panels:
            wb.create_sheet("首页").append(["暂无统计"])
        buf = io.BytesIO()
        wb.save(buf)
        response = HttpResponse(buf.getvalue(),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = 'attachment; filename="home-figures.xlsx"'
        return response

    def index(self, request, extra_context=None):
        """The home page of the user's role (config.home): figure groups of the user's regions,
        each a chart with its numbers in a table beside it, from summaries the engine
        refreshes."""
        from .home import home

        return super().index(request, {**home(request), **(extra_context or {})})

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
        tools = []
        if request.user.has_perm("policy.view_policyyear"):
            tools.append(_tool("缴费测算", "Quote", reverse("admin:quote")))
        if request.user.has_perm("payments.view_payment") and request.user.has_perm("enrollment.view_enrollment"):
            tools.append(_tool("代收缴费通知单", "CollectorNotice", reverse("payments_collector_notice")))
        if app_label is None and tools:
            app_list.insert(0, {"name": "业务工具", "app_label": "tools", "app_url": tools[0]["admin_url"],
                                "has_module_perms": True, "models": tools})
        return app_list


def _tool(name: str, object_name: str, url: str) -> dict:
    """A page of 业务工具 in the menu (a view, not a model)."""
    return {"name": name, "object_name": object_name, "admin_url": url, "view_only": True,
            "perms": {"view": True, "add": False, "change": False, "delete": False}}
