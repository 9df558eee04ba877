"""Admin for residents and enrollments (region-scoped; writes go through services)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from import_export.admin import ExportMixin, ImportMixin
from import_export.formats.base_formats import CSV, XLSX

from core import batch, clock
from accounts.admin_mixins import RegionScopedAdmin, UserRegionFilter
from accounts.scoping import region_codes
from policy.rules.types import CATEGORIES, HISTORY_VALUES, IDENTITIES
from policy.selectors import published_spec

from . import idnumbers
from .models import (
    EmployeeCoverage,
    Enrollment,
    EnrollmentStatus,
    Hukou,
    RegisteredVia,
    ReregistrationNotice,
    Resident,
)
from .resources import (
    EmployeeCoverageImportResource,
    ResidentExportResource,
    ResidentImportResource,
    SpreadsheetFormat,
)
from .selectors import coverage_summary
from .services import (
    EnrollmentError,
    enrollment_cancel,
    enrollment_register,
    resident_create,
    resident_update,
    validate_resident_input,
)


# One by one, each with the rules and an audit event: more belongs in an import or a command.
ACTION_LIMIT = 1000


def too_many_for_an_action(modeladmin, request, queryset) -> bool:
    """Refuse (with a message, nothing done) a selection larger than ACTION_LIMIT."""
    if queryset.order_by()[:ACTION_LIMIT + 1].count() <= ACTION_LIMIT:
        return False
    modeladmin.message_user(
        request, f"所选超过 {ACTION_LIMIT} 条，未办理：请用筛选缩小范围，或用导入（参保年度列）"
                 "或命令行批量办理", messages.ERROR)
    return True


def can_view_full_id(request) -> bool:
    return request.user.has_perm("enrollment.view_full_id_number")


def id_column(request, path: str):
    """A list_display column with the ID number, masked unless the user may see it.
    Built per request (ModelAdmin instances are shared between threads)."""
    full = can_view_full_id(request)

    def id_display(obj):
        number = obj
        for part in path.split("."):
            number = getattr(number, part)
        return number if full else idnumbers.mask(number)

    id_display.short_description = "身份证号码"
    return id_display


class MaskedIdColumnMixin:
    id_path = "id_number"

    @admin.display(description="身份证号码")
    def id_display(self, obj):  # replaced per request by get_list_display
        return "—"

    def get_list_display(self, request):
        return [id_column(request, self.id_path) if f == "id_display" else f
                for f in super().get_list_display(request)]


def report_action(model_admin, request, done: str, failed: list[str]) -> None:
    """An action's outcome: what was done, then up to 20 refusals with their reasons."""
    if done:
        model_admin.message_user(request, done, messages.SUCCESS)
    for text in failed[:20]:
        model_admin.message_user(request, text, messages.ERROR)
    if len(failed) > 20:
        model_admin.message_user(request, f"另有 {len(failed) - 20} 条未能办理", messages.ERROR)


def id_search(queryset, term: str, field: str):
    """Exact ID number (normalised) when the term looks like one, else a name prefix."""
    term = term.strip()
    if not term:
        return queryset
    number = idnumbers.normalise(term)
    if len(number) == 18 and number[:17].isdigit():
        return queryset.filter(**{field: number})
    return queryset.filter(**{field.replace("id_number", "name") + "__startswith": term})


# --- residents -------------------------------------------------------------------------


class ResidentForm(forms.ModelForm):
    id_number = forms.CharField(label="身份证号码", max_length=30,
                                help_text="18 位；全角数字和小写 x 会自动规范")
    birth_date = forms.DateField(label="出生日期", required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text="可不填：由身份证号码得出；填写时须与号码一致")

    class Meta:
        model = Resident
        fields = ["id_number", "name", "region", "hukou", "residence_permit",
                  "residence_permit_expires_on", "student", "school", "phone"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["id_number"].disabled = True
            self.fields["id_number"].required = False
            self.initial["id_number"] = (self.instance.id_number if request and can_view_full_id(request)
                                         else idnumbers.mask(self.instance.id_number))
            self.fields["birth_date"].disabled = True
            self.initial["birth_date"] = self.instance.birth_date

    def clean(self):
        data = super().clean()
        if self.instance.pk:
            # The disabled field shows a masked number; the number itself never changes here
            # (a masked value would otherwise be written back into the instance and fail validation).
            data["id_number"] = self.instance.id_number
            data["birth_date"] = self.instance.birth_date
        if self.errors:
            return data
        try:
            validate_resident_input(
                id_number=None if self.instance.pk else data.get("id_number"),
                birth_date=None if self.instance.pk else data.get("birth_date"),
                region=data.get("region"), hukou=data.get("hukou"), student=data.get("student"),
                creating=not self.instance.pk)
        except EnrollmentError as exc:
            raise forms.ValidationError(exc.message) from None
        if self.instance.pk:
            self._try_update(data)
        return data

    def _try_update(self, data) -> None:
        """A change the service would refuse (an unpaid enrollment that cannot be priced
        again under the new facts) is a form error: tried in a savepoint, rolled back."""
        from django.db import transaction

        try:
            with transaction.atomic():
                resident_update(resident=Resident.objects.get(pk=self.instance.pk), actor=None,
                                **resident_fields(data))
                transaction.set_rollback(True)
        except EnrollmentError as exc:
            raise forms.ValidationError(exc.message) from None


def resident_fields(data) -> dict:
    fields = {k: data.get(k) for k in ("name", "region", "hukou", "residence_permit",
                                       "residence_permit_expires_on", "student", "school", "phone")}
    fields["student"] = fields["student"] or ""
    return fields


class RegisterForm(forms.Form):
    _selected_action = forms.CharField(widget=forms.MultipleHiddenInput)
    year = forms.IntegerField(label="待遇年度", min_value=2025, max_value=2100)
    registered_via = forms.ChoiceField(label="登记方式", choices=[
        (v, label) for v, label in RegisteredVia.choices if v != RegisteredVia.DEFAULT_RENEWAL])


class CancelForm(forms.Form):
    _selected_action = forms.CharField(widget=forms.MultipleHiddenInput)
    reason = forms.CharField(label="注销原因", max_length=200)


class EnrollmentInline(admin.TabularInline):
    model = Enrollment
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["year", "category", "status", "registered_via", "amount_due", "paid_amount", "paid_via",
              "benefit_start", "benefit_end", "waiting_months", "waiting_days", "cancel_reason"]
    readonly_fields = fields
    ordering = ["-year"]

    def has_add_permission(self, request, obj=None):
        return False


class ServiceImportMixin(ImportMixin):
    """The admin import (upload → preview → confirm) over the import services."""

    import_formats = [SpreadsheetFormat]
    skip_admin_log = True  # the audit trail (pghistory) records every row written

    def get_import_resource_classes(self, request):
        return [self.import_resource]

    def get_import_data_kwargs(self, request, *args, **kwargs):
        return {}

    def process_import(self, request, **kwargs):
        """The confirmation: the file is kept and its import started in the background
        (a 批处理任务); the page returns at once to the run, which shows its progress."""
        from django.core.exceptions import PermissionDenied
        from django.http import HttpResponseRedirect

        from .import_jobs import import_submit

        if not self.has_import_permission(request):
            raise PermissionDenied
        confirm_form = self.create_confirm_form(request)
        if not confirm_form.is_valid():
            return super().process_import(request, **kwargs)  # shows the form's errors
        tmp = self.get_tmp_storage_class()(name=confirm_form.cleaned_data["import_file_name"], encoding=None,
                                           read_mode="rb", **self.get_tmp_storage_class_kwargs())
        try:
            data = tmp.read()
        except OSError:
            self.message_user(request, "导入未执行：预览时上传的文件已过期，请重新上传", messages.ERROR)
            return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import"))
        tmp.remove()
        run = import_submit(kind=self.import_resource.batch_kind, data=data,
                            filename=confirm_form.cleaned_data.get("original_file_name", "") or "upload",
                            actor=request.user).run
        self.message_user(request, f"已提交后台导入（批处理任务 #{run.pk}），本页显示进度与结果", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:core_batchrun_change", args=[run.pk]))

    def import_summary(self, outcome) -> str:
        return (f"导入完成：新增 {outcome.created}，更新 {outcome.updated}，无变化 {outcome.unchanged}"
                + (f"，登记参保 {outcome.registered}，已登记 {outcome.already_registered}"
                   if outcome.registered or outcome.already_registered else ""))


@admin.register(Resident)
class ResidentAdmin(ServiceImportMixin, ExportMixin, MaskedIdColumnMixin, RegionScopedAdmin):
    import_resource = ResidentImportResource
    resource_classes = [ResidentExportResource]
    export_formats = [XLSX, CSV]

    def get_export_resource_kwargs(self, request, **kwargs):
        return {"request": request}

    form = ResidentForm
    list_display = ["id_display", "name", "sex", "birth_date", "region", "hukou", "student"]
    list_filter = [UserRegionFilter, "hukou", "student", "sex"]
    list_select_related = ["region"]
    search_fields = ["id_number"]  # handled by get_search_results: exact number or name prefix
    search_help_text = "输入完整身份证号码（精确查找）或姓名开头"
    ordering = ["-id"]
    inlines = [EnrollmentInline]
    actions = ["register_for_year"]
    readonly_fields = ["sex", "created_at", "updated_at", "coverage", "audit_trail"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        class RequestForm(form):
            def __init__(self, *a, **kw):
                super().__init__(*a, request=request, **kw)

        return RequestForm

    def get_fieldsets(self, request, obj=None):
        person = ["id_number", "birth_date", "name", "region", "hukou", "residence_permit",
                  "residence_permit_expires_on", "student", "school", "phone"]
        if obj is None:
            return [(None, {"fields": person})]
        return [(None, {"fields": person + ["sex", "created_at", "updated_at"]}),
                ("参保连续性", {"fields": ["coverage"]}),
                ("变更记录", {"classes": ["collapse"], "fields": ["audit_trail"]})]

    def get_search_results(self, request, queryset, search_term):
        return id_search(queryset, search_term, "id_number"), False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = resident_fields(data)
        if change:
            try:
                result = resident_update(resident=obj, actor=request.user, **fields)
            except EnrollmentError as exc:  # changed by someone else since the form was checked
                self.message_user(request, f"未保存：{exc.message}", messages.ERROR)
                return
            for problem in result.problems:
                self.message_user(request, problem, messages.WARNING)
            if result.recomputed:
                self.message_user(request, "已按新情况重新计算未缴费的登记："
                                  + "、".join(f"{e.year} 年度" for e in result.recomputed), messages.INFO)
        else:
            created = resident_create(id_number=data["id_number"], birth_date=data.get("birth_date"),
                                      actor=request.user, **fields)
            obj.pk = created.pk
            obj.__dict__.update(created.__dict__)

    @admin.display(description="参保连续性（下一待遇年度）")
    def coverage(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        year = clock.today().year + 1
        try:
            spec = published_spec(obj.region_id, year)
        except Exception:
            spec = None
            try:
                year -= 1
                spec = published_spec(obj.region_id, year)
            except Exception:
                spec = None
        s = coverage_summary(obj, year, spec)
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td></tr>",
                                ((y, HISTORY_VALUES[v]) for y, v in s.timeline))
        if s.continuous:
            cont = f"连续参保（此前连续 {s.continuous_years} 年）"
        else:
            cont = (f"断保 {len(s.gap_years)} 年（{'、'.join(map(str, s.gap_years))}），"
                    f"已补缴 {len(s.repaired)} 年")
        if s.waiting_months_in_window is None:
            waiting = f"{year} 年度政策未发布，无法计算"
        else:
            waiting = f"{s.waiting_months_in_window} 个月（按集中缴费期内缴费计）"
        if spec is None:
            cap = f"{year} 年度政策未发布，无法计算"
        elif s.cap_adjustment is None:
            cap = "来源文件未给出金额（未设定）"
        else:
            cap = f"{s.cap_adjustment} 元"
        return format_html(
            "<table><thead><tr><th>年度</th><th>参保情况</th></tr></thead><tbody>{}</tbody></table>"
            "<p>测算年度：{} 年度</p><p>连续性：{}</p><p>等待期：{}</p><p>大病保险最高支付限额调整：{}</p>",
            rows or format_html("<tr><td colspan=2>2025 年度起无记录</td></tr>"), year, cont, waiting, cap)

    @admin.display(description="变更记录（谁、何时、改了什么）")
    def audit_trail(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        from pghistory.models import Events

        events = Events.objects.references(obj).order_by("-pgh_created_at")[:50]
        rows = []
        for ev in events:
            ctx = ev.pgh_context or {}
            who = ctx.get("username") or ctx.get("actor") or (f"用户 #{ctx['user']}" if ctx.get("user") else "系统")
            diff = ev.pgh_diff or {}
            if diff:
                change = "；".join(f"{k}: {v[0]} → {v[1]}" for k, v in diff.items()
                                  if k not in ("updated_at",))
            else:
                change = ""
            rows.append((timezone.localtime(ev.pgh_created_at).strftime("%Y-%m-%d %H:%M:%S"), who,
                         ev.pgh_model.split(".")[-1], ev.pgh_label, ctx.get("action", ""),
                         change.replace(obj.id_number, idnumbers.mask(obj.id_number))))
        if not rows:
            return "无"
        return format_html(
            "<table><thead><tr><th>时间</th><th>操作人</th><th>对象</th><th>事件</th><th>操作</th>"
            "<th>变化（前 → 后）</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows))

    @admin.action(description="登记参保（选择年度）", permissions=["add_enrollment"])
    def register_for_year(self, request, queryset):
        if too_many_for_an_action(self, request, queryset):
            return None
        if "apply" in request.POST:
            form = RegisterForm(request.POST)
            if form.is_valid():
                ok, failed = 0, []
                for resident in queryset.order_by("id"):
                    try:
                        enrollment_register(resident=resident, year=form.cleaned_data["year"],
                                            registered_via=form.cleaned_data["registered_via"],
                                            actor=request.user)
                        ok += 1
                    except EnrollmentError as exc:
                        failed.append(f"{resident.name}：{exc.message}")
                report_action(self, request, f"已登记 {ok} 人" if ok else "", failed)
                return None
        else:
            form = RegisterForm(initial={"_selected_action": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                                         "year": clock.today().year + 1})
        return render(request, "admin/enrollment/action_form.html", {
            **self.admin_site.each_context(request), "title": "登记参保", "form": form,
            "objects": queryset[:50], "count": queryset.count(), "action": "register_for_year",
            "opts": self.model._meta})

    def has_add_enrollment_permission(self, request):
        return request.user.has_perm("enrollment.add_enrollment")


# --- enrollments -----------------------------------------------------------------------


class PaidFilter(admin.SimpleListFilter):
    title = "是否缴费"
    parameter_name = "paid"

    def lookups(self, request, model_admin):
        return [("yes", "已缴费"), ("no", "未缴费")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status=EnrollmentStatus.PAID)
        if self.value() == "no":
            return queryset.filter(status=EnrollmentStatus.REGISTERED)
        return queryset


class YearFilter(admin.SimpleListFilter):
    """Years without a COUNT/DISTINCT over the table: the published policy years."""

    title = "待遇年度"
    parameter_name = "year"

    def lookups(self, request, model_admin):
        from policy.models import PolicyYear

        years = sorted(set(PolicyYear.objects.values_list("year", flat=True)), reverse=True)
        return [(str(y), f"{y} 年度") for y in years]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(year=int(self.value()))
        return queryset


@admin.register(Enrollment)
class EnrollmentAdmin(MaskedIdColumnMixin, RegionScopedAdmin):
    id_path = "resident.id_number"
    list_display = ["name", "id_display", "year", "region", "category", "status", "registered_via",
                    "amount_due", "paid_amount", "paid_via", "benefit_start"]
    list_filter = [UserRegionFilter, YearFilter, "category", "status", PaidFilter, "registered_via",
                   "paid_via", "timing"]
    list_select_related = ["resident", "region"]
    search_fields = ["resident__id_number"]
    search_help_text = "输入完整身份证号码（精确查找）或姓名开头"
    ordering = ["-id"]
    actions = ["cancel_with_reason", "start_default_renewal"]
    readonly_fields = [f.name for f in Enrollment._meta.fields]

    @admin.display(description="姓名", ordering="resident__name")
    def name(self, obj):
        return obj.resident.name

    def get_search_results(self, request, queryset, search_term):
        return id_search(queryset, search_term, "resident__id_number"), False

    def has_add_permission(self, request):
        return False  # registration goes through 参保人 › 登记参保, the API or the import

    def has_delete_permission(self, request, obj=None):
        return False  # cancel with a reason instead

    def get_fields(self, request, obj=None):
        return [f for f in self.readonly_fields if f != "id"]

    @admin.action(description="注销登记（填写原因）", permissions=["change"])
    def cancel_with_reason(self, request, queryset):
        if too_many_for_an_action(self, request, queryset):
            return None
        if "apply" in request.POST:
            form = CancelForm(request.POST)
            if form.is_valid():
                ok, failed = 0, []
                for e in queryset.select_related("resident").order_by("id"):
                    try:
                        enrollment_cancel(enrollment=e, reason=form.cleaned_data["reason"], actor=request.user)
                        ok += 1
                    except EnrollmentError as exc:
                        failed.append(f"{e.resident.name} {e.year} 年度：{exc.message}")
                report_action(self, request, f"已注销 {ok} 条登记" if ok else "", failed)
                return None
        else:
            form = CancelForm(initial={"_selected_action": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)})
        return render(request, "admin/enrollment/action_form.html", {
            **self.admin_site.each_context(request), "title": "注销登记", "form": form,
            "objects": queryset.select_related("resident")[:50], "count": queryset.count(),
            "action": "cancel_with_reason", "opts": self.model._meta})

    @admin.action(description="默认续保（所选登记的地区续保到下一年度）", permissions=["renew"])
    def start_default_renewal(self, request, queryset):
        """Start default renewal of the selection's regions into Y+1 on the batch engine (joins one going)."""
        from policy.models import Region

        from .renewal import renewal_regions
        from .services import spec_for

        codes = region_codes(request.user)
        targets = set()
        for region_id, year in queryset.values_list("region_id", "year").distinct():
            targets.add((Region.objects.get(pk=region_id).policy_code, year + 1))
        for city, year in sorted(targets):
            try:
                spec_for(city, year)
            except EnrollmentError as exc:
                self.message_user(request, f"{city} {year} 年度不能续保：{exc.message}", messages.ERROR)
                continue
            regions = renewal_regions(city)
            if codes is not None and not set(regions) <= codes:
                self.message_user(request, f"{city} 的默认续保包括 {'、'.join(regions)}，须由负责全部这些地区的人员发起",
                                  messages.ERROR)
                continue
            try:
                out = batch.start("renew_enrollments", {"region": city, "to_year": year}, actor=request.user)
            except batch.BatchError as exc:
                self.message_user(request, f"{city} {year} 年度不能续保：{exc.message}", messages.ERROR)
                continue
            if out.joined:
                self.message_user(request, f"{city} {year} 年度默认续保已在进行中（批处理任务 #{out.run.pk}）",
                                  messages.WARNING)
                continue
            self.message_user(request, f"已开始 {city} {year} 年度默认续保（批处理任务 #{out.run.pk}）",
                              messages.SUCCESS)

    def has_renew_permission(self, request):
        return request.user.has_perm("enrollment.add_enrollment")


# --- other lists -------------------------------------------------------------------------


@admin.register(EmployeeCoverage)
class EmployeeCoverageAdmin(ServiceImportMixin, MaskedIdColumnMixin, RegionScopedAdmin):
    import_resource = EmployeeCoverageImportResource

    region_field = "region_code"
    list_display = ["id_display", "name", "region_code", "year", "ended_on", "imported_at"]
    list_filter = ["year"]
    search_fields = ["id_number"]
    readonly_fields = ["id_number", "name", "region_code", "year", "ended_on", "imported_at"]

    def get_search_results(self, request, queryset, search_term):
        return id_search(queryset, search_term, "id_number"), False

    def has_add_permission(self, request):
        return False  # imported (import_employee_coverage)

    def has_change_permission(self, request, obj=None):
        return False


class ReasonRegionFilter(UserRegionFilter):
    pass


@admin.register(ReregistrationNotice)
class ReregistrationNoticeAdmin(RegionScopedAdmin):
    list_display = ["resident", "region", "year", "reason", "detail", "created_at"]
    list_filter = [ReasonRegionFilter, "year", "reason"]
    list_select_related = ["resident", "region"]
    search_fields = ["resident__id_number"]
    readonly_fields = ["resident", "region", "year", "reason", "detail", "created_at"]

    def get_search_results(self, request, queryset, search_term):
        return id_search(queryset, search_term, "resident__id_number"), False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
