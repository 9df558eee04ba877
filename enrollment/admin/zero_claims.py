"""零报销年度 (004 (一)Q1): the list of recorded years (scoped to the user's regions), the
import of the settlement system's lists (upload → preview → confirm in the background, as the
roster's page), and the correction or withdrawal of one record with a reason.  Thin: the
preview is ``import_zero_claims_table(..., dry_run=True)``, the confirmation
``enrollment.import_jobs.import_submit`` (a 批处理任务 whose page follows the run), the
correction and withdrawal ``zero_claim_correct`` / ``zero_claim_withdraw``."""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.admin_mixins import RegionScopedAdmin, UserRegionFilter
from accounts.scoping import region_codes
from core import clock

from .. import idnumbers
from ..import_jobs import clean_filename
from ..imports.zero_claims import ZERO_CLAIM_OPTIONAL, ZERO_CLAIM_REQUIRED, import_zero_claims_table
from ..models import ZeroClaimYear
from ..services import EnrollmentError
from ..spreadsheet import SpreadsheetError, read_table
from ..zero_claims import zero_claim_correct, zero_claim_withdraw
from .common import IdSearchMixin, MaskedIdColumnMixin, can_view_full_id
from .staged import StagedUploads

UPLOADS = StagedUploads("zero_claim_uploads", "名单")
SHOWN_LINES = 200
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def user_regions(user) -> list[tuple[str, str]]:
    from policy.models import Region

    codes = region_codes(user)
    qs = Region.objects.order_by("code")
    if codes is not None:
        qs = qs.filter(code__in=codes)
    return [(r.code, f"{r.name}（{r.code}）") for r in qs]


class ZeroClaimUploadForm(forms.Form):
    import_file = forms.FileField(label="零报销名单文件",
                                  help_text="xlsx 或 csv（UTF-8 或 GBK）；列：身份证号码、姓名、年度，可另加“依据”")
    region = forms.ChoiceField(label="地区", help_text="名单中的人员须为该地区（含执行其政策的县市）的参保人")
    year = forms.IntegerField(label="零报销年度", min_value=2025, max_value=2100,
                              help_text="已结束的年度；名单中“年度”为空的行按此年度，其他年度的行列为错误")
    skip_invalid = forms.BooleanField(label="跳过错误行", required=False,
                                      help_text="勾选：导入正确的行，错误行列出不导入；不勾选：有错误行时整份名单不导入")

    def __init__(self, *args, user, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        choices = user_regions(user)
        self.fields["region"].choices = choices
        self.today = today
        if choices and not self.is_bound:
            self.initial.setdefault("region", choices[0][0])
            self.initial.setdefault("year", today.year - 1)  # the last year that has ended
        if not choices:
            self.fields["region"].help_text = "您没有经办地区，不能导入名单，请联系管理员"

    def clean_import_file(self):
        f = self.cleaned_data["import_file"]
        if f.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"文件超过 {MAX_UPLOAD_BYTES // 1024 // 1024} MB")
        return f

    def clean_year(self):
        year = self.cleaned_data["year"]
        if year >= self.today.year:
            raise forms.ValidationError(f"{year} 年度尚未结束（今天是 {self.today.isoformat()}），不能登记为零报销年度")
        return year


class CorrectForm(forms.Form):
    year = forms.IntegerField(label="零报销年度", min_value=1990, max_value=2100)
    source = forms.CharField(label="依据", max_length=200)
    reason = forms.CharField(label="更正原因", max_length=200, help_text="必填，记入变更记录")


class WithdrawForm(forms.Form):
    reason = forms.CharField(label="撤销原因", max_length=200, help_text="必填，记入变更记录；撤销后下一年度不再按零报销计")


class ZeroClaimRegionFilter(UserRegionFilter):
    region_field = "resident__region"


@admin.register(ZeroClaimYear)
class ZeroClaimYearAdmin(IdSearchMixin, MaskedIdColumnMixin, RegionScopedAdmin):
    region_field = "resident__region"
    id_path = "id_number"
    list_display = ["id_display", "name", "year", "source", "region", "recorder", "recorded_at", "change_reason",
                    "links"]
    list_filter = ["year", ZeroClaimRegionFilter]
    list_select_related = ["resident", "resident__region", "recorded_by"]
    search_fields = ["id_number"]
    name_search_field = "resident__name"  # the record keeps the ID number, the name is the resident's
    search_help_text = "输入完整身份证号码或姓名开头"
    fields = ["id_full", "name", "region", "year", "source", "recorder", "recorded_at", "change_reason", "links"]
    readonly_fields = fields
    change_list_template = "admin/enrollment/zeroclaimyear/change_list.html"
    ordering = ["-year", "-id"]

    def has_add_permission(self, request):
        return False  # one at a time on the resident's page, or a list by 导入零报销名单

    def has_change_permission(self, request, obj=None):
        return False  # corrected (更正) or withdrawn (撤销) with a reason, never edited in place

    def has_delete_permission(self, request, obj=None):
        return False

    def can_correct(self, request) -> bool:
        return request.user.has_perm("enrollment.change_zeroclaimyear")

    def can_withdraw(self, request) -> bool:
        return request.user.has_perm("enrollment.delete_zeroclaimyear")

    def has_import_permission(self, request) -> bool:
        return request.user.has_perm("enrollment.add_zeroclaimyear")

    # --- columns ---------------------------------------------------------------------------

    @admin.display(description="姓名", ordering="resident__name")
    def name(self, obj):
        return obj.resident.name

    @admin.display(description="参保地")
    def region(self, obj):
        return obj.resident.region

    @admin.display(description="记录人")
    def recorder(self, obj):
        u = obj.recorded_by
        return (u.get_full_name() or u.get_username()) if u else "—"

    @admin.display(description="身份证号码")
    def id_full(self, obj):
        return idnumbers.mask(obj.id_number)  # the list shows it in full to those who may see it

    @admin.display(description="办理")
    def links(self, obj):
        return format_html('<a href="{}" class="zc-correct">更正</a> <a href="{}" class="zc-withdraw">撤销</a> '
                           '<a href="{}">参保人</a>',
                           reverse("admin:enrollment_zeroclaimyear_correct", args=[obj.pk]),
                           reverse("admin:enrollment_zeroclaimyear_withdraw", args=[obj.pk]),
                           reverse("admin:enrollment_resident_change", args=[obj.resident_id]))

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_import": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("import/", view(self.import_view), name="enrollment_zeroclaimyear_import"),
                path("import/confirm/", view(self.confirm_view), name="enrollment_zeroclaimyear_confirm"),
                path("<int:pk>/correct/", view(self.correct_view), name="enrollment_zeroclaimyear_correct"),
                path("<int:pk>/withdraw/", view(self.withdraw_view), name="enrollment_zeroclaimyear_withdraw"),
                ] + super().get_urls()

    # --- correct / withdraw ---------------------------------------------------------------

    def _record(self, request, pk: int) -> ZeroClaimYear:
        row = self.get_queryset(request).filter(pk=pk).select_related("resident").first()
        if row is None:  # another region's, or withdrawn: not found, whoever asks
            raise Http404("未找到该零报销年度记录")
        return row

    def _form_page(self, request, row, form, title: str, submit: str):
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form, "title": title,
                   "record": row, "who": f"{row.resident.name}（{idnumbers.mask(row.id_number)}）",
                   "submit": submit}
        return TemplateResponse(request, "admin/enrollment/zero_claim_form.html", context)

    def correct_view(self, request, pk: int):
        if not self.can_correct(request):
            raise PermissionDenied
        row = self._record(request, pk)
        if request.method == "POST":
            form = CorrectForm(request.POST)
            if form.is_valid():
                d = form.cleaned_data
                try:
                    done = zero_claim_correct(zero_claim=row, year=d["year"], source=d["source"], reason=d["reason"],
                                              actor=request.user)
                except EnrollmentError as exc:
                    form.add_error(None, exc.message)
                else:
                    self.message_user(request, f"已更正 {row.resident.name} 的零报销年度：{done.year} 年度", messages.SUCCESS)
                    self._report_repriced(request, done.repriced)
                    return HttpResponseRedirect(reverse("admin:enrollment_zeroclaimyear_changelist"))
        else:
            form = CorrectForm(initial={"year": row.year, "source": row.source})
        return self._form_page(request, row, form, f"更正零报销年度：{row.year} 年度", "更正")

    def withdraw_view(self, request, pk: int):
        if not self.can_withdraw(request):
            raise PermissionDenied
        row = self._record(request, pk)
        if request.method == "POST":
            form = WithdrawForm(request.POST)
            if form.is_valid():
                try:
                    repriced = zero_claim_withdraw(zero_claim=row, reason=form.cleaned_data["reason"],
                                                   actor=request.user)
                except EnrollmentError as exc:
                    form.add_error(None, exc.message)
                else:
                    self.message_user(request, f"已撤销 {row.resident.name} 的 {row.year} 年度零报销记录", messages.SUCCESS)
                    self._report_repriced(request, repriced)
                    return HttpResponseRedirect(reverse("admin:enrollment_zeroclaimyear_changelist"))
        else:
            form = WithdrawForm()
        return self._form_page(request, row, form, f"撤销零报销年度：{row.year} 年度", "撤销")

    def _report_repriced(self, request, enrollments):
        if enrollments:
            self.message_user(request, "已按零报销年度重新计算未缴费的登记："
                              + "、".join(f"{e.year} 年度" for e in enrollments), messages.INFO)

    # --- the import ----------------------------------------------------------------------

    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        today = clock.today()
        if request.method == "POST":
            form = ZeroClaimUploadForm(request.POST, request.FILES, user=request.user, today=today)
            if form.is_valid():
                preview = self._preview(request, form)
                if preview is not None:
                    return self._render(request, form, preview)
        else:
            form = ZeroClaimUploadForm(user=request.user, today=today)
        return self._render(request, form, None)

    def _preview(self, request, form) -> dict | None:
        data = form.cleaned_data
        region, year, skip = data["region"], data["year"], data["skip_invalid"]
        upload = data["import_file"]
        filename = clean_filename(upload.name)
        content = upload.read()
        try:
            table = read_table(content, filename, required=ZERO_CLAIM_REQUIRED, optional=ZERO_CLAIM_OPTIONAL)
            result = import_zero_claims_table(table, region=region, year=year, filename=filename,
                                              skip_invalid=skip, dry_run=True, actor=request.user,
                                              user=request.user)
        except SpreadsheetError as exc:
            form.add_error("import_file", f"文件无法导入：{exc}")
            return None
        token = None
        if not result.rejected:
            token = UPLOADS.keep(request, content, filename=filename, region=region, year=year, skip=skip)
        full = can_view_full_id(request)
        new = [(r.row, r.id_number if full else idnumbers.mask(r.id_number), r.name, r.year, r.source)
               for r in result.rows if r.action == "new"]
        errors = [f"第 {e.row} 行 {e.column}：{e.reason}" for e in result.errors]
        return {"result": result, "token": token, "filename": filename, "year": year, "skip": skip,
                "region": dict(form.fields["region"].choices).get(region, region),
                "invalid_rows": result.as_dict()["invalid_rows"], "new_rows": new[:SHOWN_LINES],
                "new_count": len(new), "error_lines": errors[:SHOWN_LINES * 5],
                "error_more": max(len(errors) - SHOWN_LINES * 5, 0), "shown_lines": SHOWN_LINES}

    def _render(self, request, form, preview):
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form,
                   "preview": preview, "title": "导入零报销名单"}
        return TemplateResponse(request, "admin/enrollment/zero_claim_import.html", context)

    def confirm_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied

        return UPLOADS.confirm_for_region(self, request, back=reverse("admin:enrollment_zeroclaimyear_import"), kind="import_zero_claims")
