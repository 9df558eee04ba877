"""Admin wiring of what the bottom floor owns: the batch runs (core), scoped by the
regions given to a user (accounts).  Here, in the composition root, because core may
not import accounts."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

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

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(BatchRun)
class BatchRunAdmin(admin.ModelAdmin):
    list_display = ["id", "kind_label", "scope", "status", "progress", "succeeded", "failed",
                    "created_by", "started_at", "finished_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["created_by"]  # nullable: named, or it is one query per row
    readonly_fields = ["kind", "scope", "params", "status", "progress", "total", "processed", "succeeded",
                       "failed", "chunks_total", "chunks_done", "summary", "report", "created_by",
                       "created_at", "started_at", "heartbeat_at", "takeovers", "finished_at"]
    inlines = [BatchChunkInline]

    @admin.display(description="任务", ordering="kind")
    def kind_label(self, obj):
        job = JOBS.get(obj.kind)
        return job.label if job is not None else KIND_LABELS.get(obj.kind, obj.kind)

    @admin.display(description="进度")
    def progress(self, obj):
        if not obj.total:
            return f"{obj.processed}"
        pct = int(obj.processed * 100 / obj.total)
        return format_html('<progress max="100" value="{}"></progress> {}/{}（{}%）',
                           pct, obj.processed, obj.total, pct)

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        codes = region_codes(request.user)
        if codes is None:
            return qs
        return qs.filter(params__region__in=list(codes)) | qs.filter(created_by=request.user)

    # another region's run reached by a guessed id: 404, as for residents
    _get_obj_does_not_exist_redirect = RegionScopedAdmin._get_obj_does_not_exist_redirect

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the record of what ran is never deleted from the screen
