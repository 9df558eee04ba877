"""Caseworker screens for the departments' rosters (资助身份, 名单导入记录, 资助部分应退)
and the roster import page (upload → preview → confirm in the background).

Everything here is read-only: identities change only through roster imports, and
no record is deleted from the screen.  Every list is scoped to the user's regions.
The import page is thin: the preview is ``import_roster_table(..., dry_run=True)``,
the confirmation ``enrollment.import_jobs.import_submit`` (a 批处理任务).
"""

from __future__ import annotations


from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts.admin_mixins import RegionScopedAdmin, UserRegionFilter
from accounts.scoping import region_codes
from core import clock
from enrollment import idnumbers
from enrollment.admin.common import IdSearchMixin, MaskedIdColumnMixin, can_view_full_id
from enrollment.admin.staged import StagedUploads
from enrollment.import_jobs import clean_filename
from enrollment.models import Resident
from enrollment.spreadsheet import SpreadsheetError, read_table
from policy.rules.types import IDENTITIES

from .departments import DEPARTMENTS
from .forms import RosterUploadForm
from .models import AssistanceIdentity, OwedRefund, RosterChange, RosterImport
from .roster import ROSTER_OPTIONAL, ROSTER_REQUIRED, import_roster_table

UPLOADS = StagedUploads("roster_uploads", "名单")
SHOWN_LINES = 200  # lines of each preview list; the counts above them are complete
SHOWN_CHANGES = 1000  # lines of an import's difference on its page


class ReadOnlyAdmin(RegionScopedAdmin):
    """Filled by roster imports only: nothing added, changed or deleted here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def with_matched(queryset):
    """``matched``: a resident holds the number in a region running the policy of the
    identity's region (孝义 141181 with 吕梁 141100) — one EXISTS per query, not per row."""
    residents = (Resident.objects.annotate(policy=Coalesce("region__policy_region_id", "region_id"))
                 .filter(id_number=OuterRef("id_number"), policy=OuterRef("policy")))
    return queryset.annotate(policy=Coalesce("region__policy_region_id", "region_id"),
                             matched=Exists(residents))


class MatchedFilter(admin.SimpleListFilter):
    title = "匹配状态"
    parameter_name = "matched"

    def lookups(self, request, model_admin):
        return [("yes", "已匹配参保人"), ("no", "待登记")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(matched=self.value() == "yes")
        return queryset


class ActiveFilter(admin.SimpleListFilter):
    title = "是否有效"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", "有效"), ("no", "已移出")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(removed_at__isnull=self.value() == "yes")
        return queryset


class IdentityRegionFilter(UserRegionFilter):
    title = "地区"


@admin.register(AssistanceIdentity)
class AssistanceIdentityAdmin(IdSearchMixin, MaskedIdColumnMixin, ReadOnlyAdmin):
    list_display = ["id_display", "name", "identity", "department", "certified_on", "region", "year",
                    "matched_display", "active_display"]
    list_filter = ["year", "department", "identity", MatchedFilter, ActiveFilter, IdentityRegionFilter]
    list_select_related = ["region"]
    search_fields = ["id_number"]  # IdSearchMixin: exact number or name prefix
    search_help_text = "输入完整身份证号码（精确查找）或姓名开头"
    fields = ["id_display_full", "name", "identity", "department", "certified_on", "assessed_on", "region", "year",
              "matched_display", "active_display", "roster", "removed_at", "removed_by", "source", "created_at"]
    readonly_fields = fields
    change_list_template = "admin/subsidies/assistanceidentity/change_list.html"

    def get_queryset(self, request):
        return with_matched(super().get_queryset(request))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:  # per request: ModelAdmin instances are shared between threads
            obj.full_id_shown = can_view_full_id(request)
        return obj

    @admin.display(description="身份证号码")
    def id_display_full(self, obj):
        return obj.id_number if getattr(obj, "full_id_shown", False) else idnumbers.mask(obj.id_number)

    @admin.display(description="匹配状态", ordering="matched")
    def matched_display(self, obj):
        return "已匹配参保人" if obj.matched else "待登记"

    @admin.display(description="是否有效")
    def active_display(self, obj):
        return "有效" if obj.removed_at is None else "已移出"

    def has_import_permission(self, request) -> bool:
        return request.user.has_perm("subsidies.add_rosterimport")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_import": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("import/", view(self.import_view), name="subsidies_assistanceidentity_import"),
                path("import/confirm/", view(self.confirm_view), name="subsidies_assistanceidentity_confirm"),
                ] + super().get_urls()

    # --- the roster import -------------------------------------------------------------

    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        today = clock.today()
        if request.method == "POST":
            form = RosterUploadForm(request.POST, request.FILES, user=request.user, today=today)
            if form.is_valid():
                preview = self._preview(request, form)
                if preview is not None:
                    return self._render(request, form, preview)
        else:
            form = RosterUploadForm(user=request.user, today=today)
        return self._render(request, form, None)

    def _preview(self, request, form) -> dict | None:
        """The dry run; a file that cannot be read at all is an error on the form."""
        data = form.cleaned_data
        region, year, skip = data["region"], data["year"], data["skip_invalid"]
        codes = region_codes(request.user)
        if codes is not None and region not in codes:  # the form's choices already say so
            form.add_error("region", "只能导入您经办地区的名单")
            return None
        upload = data["import_file"]
        filename = clean_filename(upload.name)
        content = upload.read()
        try:
            table = read_table(content, filename, required=ROSTER_REQUIRED, optional=ROSTER_OPTIONAL)
            result = import_roster_table(table, region=region, year=year, skip_invalid=skip, dry_run=True,
                                         actor=request.user, user=request.user, filename=filename)
        except SpreadsheetError as exc:
            form.add_error("import_file", f"文件无法导入：{exc}")
            return None
        token = None
        if not result.rejected:
            token = UPLOADS.keep(request, content, filename=filename, region=region, year=year, skip=skip)
        label = dict(form.fields["region"].choices).get(region, region)
        return {"result": result, "token": token, "filename": filename, "region": label, "year": year,
                "skip": skip, "invalid_rows": result.as_dict()["invalid_rows"], **self._lists(request, result)}

    def _lists(self, request, result) -> dict:
        full = can_view_full_id(request)

        def show(number):
            return number if full else idnumbers.mask(number)

        lists = {"new": [], "updated": [], "unchanged": []}
        for r in result.rows:
            lists[r.change].append((r.row, show(r.id_number), r.name, IDENTITIES.get(r.identity, r.identity),
                                    DEPARTMENTS.get(r.department, r.department), r.certified_on,
                                    "已匹配参保人" if r.matched else "待登记"))
        removed = [(show(o.id_number), o.name, IDENTITIES.get(o.identity, o.identity),
                    DEPARTMENTS.get(o.department, o.department), o.certified_on) for o in result.removed_rows]
        errors = [f"第 {e.row} 行 {e.column}：{e.reason}" for e in result.errors]
        sections = [("新增", lists["new"]), ("信息变更", lists["updated"]), ("无变化", lists["unchanged"])]
        return {"sections": [(title, rows[:SHOWN_LINES], len(rows)) for title, rows in sections],
                "removed_list": removed[:SHOWN_LINES], "removed_count": len(removed),
                "error_lines": errors[:SHOWN_LINES * 5], "error_more": max(len(errors) - SHOWN_LINES * 5, 0),
                "shown_lines": SHOWN_LINES}

    def _render(self, request, form, preview):
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form,
                   "preview": preview, "title": "导入困难人员名单"}
        return TemplateResponse(request, "admin/subsidies/roster_import.html", context)

    def confirm_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied

        return UPLOADS.confirm_for_region(self, request, back=reverse("admin:subsidies_assistanceidentity_import"), kind="import_roster")


@admin.register(RosterImport)
class RosterImportAdmin(ReadOnlyAdmin):
    list_display = ["imported_at", "department", "region", "year", "file_name", "rows", "new", "updated",
                    "unchanged", "removed", "pending", "repriced", "refunds_owed", "imported_by"]
    list_filter = ["year", "department", IdentityRegionFilter]
    list_select_related = ["region", "imported_by"]
    fields = ["department", "department_name", "region", "year", "file_name", "imported_at", "imported_by",
              "run_link", "rows", "new", "updated", "unchanged", "removed", "pending", "repriced",
              "refunds_owed", "difference"]
    readonly_fields = fields
    change_list_template = "admin/subsidies/rosterimport/change_list.html"

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}),
                         "can_import": request.user.has_perm("subsidies.add_rosterimport")}
        return super().changelist_view(request, extra_context)

    @admin.display(description="批处理任务")
    def run_link(self, obj):
        if obj.run_id is None:
            return "—（命令行导入）"
        return format_html('<a href="{}">批处理任务 #{}</a>', reverse("admin:core_batchrun_change",
                                                                  args=[obj.run_id]), obj.run_id)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:  # per request: ModelAdmin instances are shared between threads
            obj.full_id_shown = can_view_full_id(request)
        return obj

    @admin.display(description="名单变化")
    def difference(self, obj):
        changes = list(RosterChange.objects.filter(roster=obj).order_by("change", "id_number")[:SHOWN_CHANGES + 1])
        if not changes:
            return "无变化（名单与上次相同）"
        full = getattr(obj, "full_id_shown", False)
        rows = ((c.get_change_display(), c.id_number if full else idnumbers.mask(c.id_number), c.name,
                 c.get_identity_display(), c.certified_on or "—") for c in changes[:SHOWN_CHANGES])
        more = (format_html("<p>只列出前 {} 条</p>", SHOWN_CHANGES) if len(changes) > SHOWN_CHANGES else "")
        return format_html(
            '<table class="roster-diff"><thead><tr><th>变化</th><th>身份证号码</th><th>姓名</th><th>困难身份</th>'
            "<th>认定日期</th></tr></thead><tbody>{}</tbody></table>{}",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows), more)


@admin.register(OwedRefund)
class OwedRefundAdmin(IdSearchMixin, MaskedIdColumnMixin, ReadOnlyAdmin):
    list_display = ["id_display", "name", "region", "year", "identity", "paid_amount", "due_with_assistance",
                    "amount", "status", "created_at"]
    list_filter = ["status", "year", UserRegionFilter]
    list_select_related = ["region"]
    search_fields = ["id_number"]
    search_help_text = "输入完整身份证号码（精确查找）或姓名开头"
    fields = ["name", "region", "year", "identity", "paid_amount", "due_with_assistance", "amount", "status",
              "roster", "created_at", "updated_at", "note"]
    readonly_fields = fields


def identities_panel(id_number: str, regions: frozenset[str] | None):
    """The person's identities in the regions the user may see (``regions``: their codes,
    None for all) for the resident page: active and removed, with department, dates and
    the roster import they came from."""
    rows = AssistanceIdentity.objects.filter(id_number=id_number)
    if regions is not None:
        rows = rows.filter(region_id__in=regions)
    rows = rows.select_related(
        "region", "roster", "removed_by").order_by("-year", "region_id", "identity")
    lines = []
    for a in rows:
        roster = (format_html('<a href="{}">{}</a>', reverse("admin:subsidies_rosterimport_change",
                                                            args=[a.roster_id]), a.roster)
                  if a.roster_id else "—")
        state = "有效" if a.removed_at is None else f"已移出（{a.removed_at:%Y-%m-%d}）"
        lines.append((a.year, a.region, a.get_identity_display(), a.get_department_display() or "—",
                      a.certified_on or "—", roster, state))
    if not lines:
        return "无"
    return format_html(
        "<table><thead><tr><th>待遇年度</th><th>地区</th><th>困难身份</th><th>认定部门</th><th>认定日期</th>"
        "<th>来自名单导入</th><th>状态</th></tr></thead><tbody>{}</tbody></table>",
        format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                             "</tr>", lines))
