"""Admin pages of a December batch run (共济缴费批量划扣): the remittance file for the tax
bureau and the list of insufficient balances with their shortfalls.  The engine's run page
(``BatchRunAdmin``) shows progress and counts; these two hang under the admin site at
``family_pool/pool-batch/<run id>/`` (added to the site's URLs from ``FamilyPoolConfig.ready``)."""

from __future__ import annotations

from django.contrib import admin
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.models import BatchRun

from .batch import insufficient_rows, remittance_csv


def _run(request, run_id: int) -> BatchRun:
    if not request.user.has_perm("core.view_batchrun") or not request.user.has_perm("family_pool.view_pooldeduction"):
        raise Http404("没有权限")
    run = BatchRun.objects.filter(pk=run_id, kind="pool_batch").first()
    if run is None or not may_see(request.user, run):
        raise Http404("没有这个共济缴费批量划扣任务")
    return run


def may_see(user, run: BatchRun) -> bool:
    """A caseworker sees the runs of their regions (a city's run also by its counties' staff)."""
    from accounts.scoping import region_codes
    from policy.selectors import policy_members

    codes = region_codes(user)
    if codes is None:
        return True
    region = str(run.params.get("region", ""))
    return bool(region) and any(code in codes for code in policy_members(region))


def links(run: BatchRun) -> list[tuple[str, str]]:
    """(label, URL) of the run's own pages, shown on the engine's run page."""
    return [("余额不足名单", reverse("admin:family_pool_pool_batch", args=[run.pk])),
            ("下载税务划缴文件（CSV）", reverse("admin:family_pool_pool_batch_remittance", args=[run.pk]))]


def remittance_view(request, run_id: int):
    run = _run(request, run_id)
    body = "\ufeff" + remittance_csv(run.pk)  # BOM: Excel opens the Chinese header right
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="pool-{run.params.get("region")}-{run.params.get("year")}-run{run.pk}.csv"'
    return response


def run_view(request, run_id: int):
    run = _run(request, run_id)
    rows = list(insufficient_rows(run.pk)[:5000])
    context = {**admin.site.each_context(request), "title": f"共济缴费批量划扣 #{run.pk}", "run": run,
               "rows": rows, "download": reverse("admin:family_pool_pool_batch_remittance", args=[run.pk]),
               "run_page": reverse("admin:core_batchrun_change", args=[run.pk])}
    return TemplateResponse(request, "admin/family_pool/pool_batch_run.html", context)


def urls():
    return [
        path("family_pool/pool-batch/<int:run_id>/", admin.site.admin_view(run_view), name="family_pool_pool_batch"),
        path("family_pool/pool-batch/<int:run_id>/remittance.csv", admin.site.admin_view(remittance_view),
             name="family_pool_pool_batch_remittance"),
    ]


def install(site=admin.site) -> None:
    """Put the pages in front of the site's own URLs (once)."""
    if getattr(site, "_pool_batch_urls", False):
        return
    original = site.get_urls
    site.get_urls = lambda: urls() + original()
    site._pool_batch_urls = True


install()
