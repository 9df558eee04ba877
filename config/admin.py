"""Admin wiring of what the bottom floor owns: the batch runs (core), scoped by the
regions given to a user (accounts).  Here, in the composition root, because core may
not import accounts."""

from __future__ import annotations

import io
import re

from django.contrib import admin
from django.http import Http404, HttpResponse
from django.urls import path
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from openpyxl import Workbook

from accounts.admin_mixins import RegionScopedAdmin
from accounts.scoping import region_codes
from core.batch import JOBS
from core.models import BatchChunk, BatchRun

KIND_LABELS = {"import_residents": "导入参保人", "import_employee_coverage": "导入职工医保参保记录"}


class BatchChunkInline(admin.TabularInline):
    model = BatchChunk
    fields = ["seq", "lo", "hi", "status", "attempts", "worker", "finished_at", "error"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(status=BatchChunk.Status.DONE)

    def get_fields(self, request, obj=None):
        # a failed chunk's traceback is for operators, not for the people who started the run
        return self.fields if request.user.is_superuser else [f for f in self.fields if f != "error"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request, obj=None):
        return False


class KindFilter(admin.SimpleListFilter):
    title = "任务"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return sorted({**KIND_LABELS, **{k: j.label for k, j in JOBS.items()}}.items(), key=lambda kv: kv[1])

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(BatchRun)
class BatchRunAdmin(admin.ModelAdmin):
    list_display = ["id", "kind_label", "target", "status", "progress", "succeeded", "failed",
                    "started_by", "started_at", "finished_at"]
    list_filter = [KindFilter, "status"]
    list_select_related = ["created_by"]  # nullable: named, or it is one query per row
    fields = ["kind_label", "target", "status", "progress", "processed", "succeeded", "failed", "result",
              "report_text", "started_by", "created_at", "started_at", "heartbeat_at", "finished_at",
              "chunks_progress", "takeovers"]
    readonly_fields = fields
    inlines = [BatchChunkInline]
    change_form_template = "admin/core/batchrun/change_form.html"

    def get_inline_instances(self, request, obj=None):
        if obj is None or not obj.chunks.exclude(status=BatchChunk.Status.DONE).exists():
            return []  # every chunk done: nothing to show
        return super().get_inline_instances(request, obj)

    def get_urls(self):
        return [path("<int:object_id>/report.xlsx", self.admin_site.admin_view(self.report_xlsx),
                     name="core_batchrun_report")] + super().get_urls()

    def report_xlsx(self, request, object_id: int):
        """The error report as a spreadsheet: 行号, 列, 原因 (one line per fault)."""
        run = self.get_queryset(request).filter(pk=object_id).first()
        if run is None or not run.report or not self.has_view_permission(request, run):
            raise Http404("没有错误报告")
        return xlsx_response(report_rows(run.report), f"batch-{run.pk}-errors.xlsx")

    @admin.display(description="发起人", ordering="created_by")
    def started_by(self, obj):
        """The user, or — for a run no one started in the browser — where it came from."""
        if obj.created_by_id:
            return obj.created_by.get_username()
        actor = (obj.params or {}).get("actor")
        return actor or "系统（命令行或定时任务）"

    @admin.display(description="任务", ordering="kind")
    def kind_label(self, obj):
        job = JOBS.get(obj.kind)
        return job.label if job is not None else KIND_LABELS.get(obj.kind, obj.kind)

    @admin.display(description="对象")
    def target(self, obj):
        p = obj.params or {}
        if "file" in p:
            return p["file"]
        if "region" in p and "to_year" in p:
            return f"{getattr(obj, 'region_name', None) or p['region']} → {p['to_year']} 年度"
        if "region" in p and "year" in p:
            return f"{getattr(obj, 'region_name', None) or p['region']} {p['year']} 年度"
        return "—"

    @admin.display(description="结果")
    def result(self, obj):
        if not obj.summary:
            return "—"
        job = JOBS.get(obj.kind)
        pairs = job.describe(obj.summary) if job is not None else list(obj.summary.items())
        shown = format_html_join(mark_safe("<br>"), "{}：{}", pairs)
        links = job.links(obj) if job is not None and hasattr(job, "links") else []
        if links:  # a job's own pages (the pool batch: shortfalls, the tax bureau's file)
            shown += mark_safe("<br>") + format_html_join(mark_safe("　"), '<a href="{}">{}</a>',
                                                         [(url, label) for label, url in links])
        return shown

    @admin.display(description="错误报告")
    def report_text(self, obj):
        if not obj.report:
            return "—"
        rows = report_rows(obj.report)
        lines = [f"第 {r} 行　{c}：{why}" if r != "" else why for r, c, why in rows[:50]]
        if len(rows) > 50:
            lines.append(f"… 共 {len(rows)} 条，完整内容请下载错误报告")
        return format_html('<pre class="batch-report">{}</pre>', "\n".join(lines))  # CSP: no inline style

    @admin.display(description="分片")
    def chunks_progress(self, obj):
        return f"{obj.chunks_done} / {obj.chunks_total}" if obj.chunks_total else "—"

    @admin.display(description="进度")
    def progress(self, obj):
        if not obj.total:
            return f"{obj.processed}"
        pct = int(obj.processed * 100 / obj.total)
        return format_html('<progress max="100" value="{}"></progress> {}/{}（{}%）',
                           pct, obj.processed, obj.total, pct)

    def get_queryset(self, request):
        from django.db.models import OuterRef, Subquery
        from django.db.models.fields.json import KeyTextTransform

        from policy.models import Region

        # the region's name for 对象, in the list's one query (not one query per row)
        qs = super().get_queryset(request).annotate(region_name=Subquery(
            Region.objects.filter(code=KeyTextTransform("region", OuterRef("params"))).values("name")[:1]))
        codes = region_codes(request.user)
        if codes is None:
            return qs
        from django.db.models import Q

        from policy.selectors import policy_codes

        # a county's people are renewed in their city's run (孝义 141181 with 吕梁 141100)
        cities = set(policy_codes(codes).values())
        seen = Q(params__region__in=sorted(codes | cities)) | Q(created_by=request.user)
        for code in sorted(codes):  # an import submitted by a colleague of the same region
            seen |= Q(params__regions__contains=[code])
        return qs.filter(seen)

    # another region's run reached by a guessed id: 404, as for residents
    _get_obj_does_not_exist_redirect = RegionScopedAdmin._get_obj_does_not_exist_redirect

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the record of what ran is never deleted from the screen


_LINE = re.compile(r"^row (\d+): ([^:]+): (.*)$")


def report_rows(report: str) -> list[tuple]:
    """``row N: column: reason`` lines as (row, column, reason); other lines as reasons."""
    rows = []
    for line in report.splitlines():
        m = _LINE.match(line)
        rows.append((int(m.group(1)), m.group(2), m.group(3)) if m else ("", "", line))
    return rows


def _cell(value):
    """A value for a spreadsheet cell, never a formula (= + - @ at the start are neutralised)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def xlsx_response(rows: list[tuple], filename: str) -> HttpResponse:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("错误报告")
    ws.append(["行号", "列", "原因"])
    for row in rows:
        ws.append([_cell(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    response = HttpResponse(buf.getvalue(),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
