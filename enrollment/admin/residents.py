"""参保人: the resident form (checked by the services), its list, continuity and
audit trail, and the action that registers the selection for a year."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import connection, transaction
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX

from accounts.admin_mixins import RegionScopedAdmin, UserRegionFilter
from accounts.scoping import region_codes
from core import clock
from core.admin_export import ChineseExportForm
from core.widgets import DateInput
from policy.rules.types import HISTORY_VALUES
from policy.defaults import default_year, published_years
from policy.selectors import published_spec

from .. import idnumbers
from ..models import Enrollment, RegisteredVia, Resident, SchemeExit, ZeroClaimYear
from ..resources import ResidentExportResource, ResidentImportResource
from ..selectors import coverage_summary
from ..spreadsheet import has_invisible
from ..services import (
    EnrollmentError,
    enrollment_register,
    resident_create,
    resident_update,
    validate_resident_input,
)
from .common import IdSearchMixin, MaskedIdColumnMixin, can_view_full_id, form_action, refusal
from .dossier import SchemeExitInline, ZeroClaimYearInline, save_scheme_exits, save_zero_claim_years
from .imports import ServiceImportMixin


class ResidentForm(forms.ModelForm):
    id_number = forms.CharField(label="身份证号码", max_length=30,
                                help_text="18 位；全角数字和小写 x 会自动规范")
    birth_date = forms.DateField(label="出生日期", required=False,
                                 widget=DateInput(),
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

    def clean_id_number(self):
        """Written as imports, search and the API read it: full-width digits, spaces, dashes
        and a lower-case x are normalised before any check (idnumbers.normalise)."""
        value = self.cleaned_data.get("id_number")
        if self.instance.pk:
            return value
        number = idnumbers.normalise(value)
        if number:
            serialise_adds(number)
        return number

    def clean_name(self):
        """Refused as every path refuses it (enrollment.services), but on the form, so what
        the caseworker typed stays in front of them."""
        name = (self.cleaned_data.get("name") or "").strip()
        if has_invisible(name):
            raise forms.ValidationError("姓名含有不可见或控制字符，请删除后重新输入")
        return name

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
        try:
            with transaction.atomic():
                resident_update(resident=Resident.objects.get(pk=self.instance.pk), actor=None,
                                **resident_fields(data))
                transaction.set_rollback(True)
        except EnrollmentError as exc:
            raise forms.ValidationError(exc.message) from None


def serialise_adds(number: str) -> None:
    """Two 增加 of one number at once: the second waits here (the admin's change view is one
    transaction) until the first has committed, and then its duplicate check sees it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"resident_add:{number}"])


class NotSaved(Exception):
    """save_model refused by the service after the form was valid (a race with another path)."""


def resident_fields(data) -> dict:
    fields = {k: data.get(k) for k in ("name", "region", "hukou", "residence_permit",
                                       "residence_permit_expires_on", "student", "school", "phone")}
    fields["student"] = fields["student"] or ""
    return fields


class RegisterForm(forms.Form):
    """登记参保 for a selection: the year is one of the years published for every selected
    person's policy region (``years``), so a year without a policy cannot be chosen."""

    _selected_action = forms.CharField(widget=forms.MultipleHiddenInput)
    year = forms.TypedChoiceField(label="待遇年度", coerce=int, choices=[],
                                  error_messages={"invalid_choice": "请选择所列的已发布政策年度",
                                                  "required": "请选择待遇年度"})
    registered_via = forms.ChoiceField(label="登记方式", choices=[
        (v, label) for v, label in RegisteredVia.choices if v != RegisteredVia.DEFAULT_RENEWAL])

    years: tuple[int, ...] = ()
    withheld: tuple[tuple[int, str], ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [(y, f"{y} 年度") for y in self.years]
        notes = [f"{y} 年度暂不能登记：{reason}" for y, reason in self.withheld]
        if not self.years and not notes:
            notes.append("所选参保人的参保地没有共同的已发布政策年度：请按参保地分开办理")
        self.fields["year"].help_text = "；".join(notes)

    @classmethod
    def for_years(cls, years, withheld: dict[int, str] | None = None):
        return type("RegisterForm", (cls,), {"years": tuple(years),
                                             "withheld": tuple(sorted((withheld or {}).items(), reverse=True))})


class NewbornForm(RegisterForm):
    """外地新生儿凭父母居住证登记 (000 §1(一)): the parent by ID number, and whether the baby is in
    the parents' household register (if not, the birth certificate is also needed)."""

    parent_id_number = forms.CharField(label="父母一方身份证号码", max_length=30,
                                       help_text="父母一方须已在本市参保且待遇正常")
    same_household = forms.BooleanField(label="新生儿与父母登记在同一户口", required=False, initial=True,
                                        help_text="不在同一户口的，还须查验出生医学证明")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["registered_via"].choices = [(v, label) for v, label in RegisteredVia.choices
                                                 if v in (RegisteredVia.NEWBORN, RegisteredVia.COMMUNITY,
                                                          RegisteredVia.COUNTER)]

    def clean_parent_id_number(self):
        number = idnumbers.normalise(self.cleaned_data.get("parent_id_number"))
        try:
            idnumbers.parse(number)
        except idnumbers.IdNumberError as exc:
            raise forms.ValidationError(f"父母一方{exc}") from None
        return number

    @classmethod
    def for_years(cls, years):
        return type("NewbornForm", (cls,), {"years": tuple(years)})


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


@admin.register(Resident)
class ResidentAdmin(ServiceImportMixin, ExportMixin, IdSearchMixin, MaskedIdColumnMixin, RegionScopedAdmin):
    import_resource = ResidentImportResource
    resource_classes = [ResidentExportResource]
    # both buttons, 导入 and 导出 (each mixin alone names a template with only its own)
    import_export_change_list_template = "admin/import_export/change_list_import_export.html"
    export_form_class = ChineseExportForm
    export_formats = [XLSX, CSV]

    def get_export_resource_kwargs(self, request, **kwargs):
        return {"request": request}

    form = ResidentForm
    list_display = ["id_display", "name", "sex", "birth_date", "region", "hukou", "student"]
    list_filter = [UserRegionFilter, "hukou", "student", "sex"]
    list_select_related = ["region"]
    search_fields = ["id_number"]  # IdSearchMixin: exact number or name prefix
    search_help_text = "输入完整身份证号码（精确查找）或姓名开头"
    ordering = ["-id"]
    inlines = [EnrollmentInline, SchemeExitInline, ZeroClaimYearInline]
    actions = ["register_for_year", "register_newborn_on_parent_permit"]
    readonly_fields = ["sex", "created_at", "updated_at", "coverage", "identities", "audit_trail"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        class RequestForm(form):
            def __init__(self, *a, **kw):
                super().__init__(*a, request=request, **kw)

        return RequestForm

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except NotSaved as exc:  # the change view's transaction is rolled back
            self.message_user(request, f"未保存：{exc}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def get_fieldsets(self, request, obj=None):
        person = ["id_number", "birth_date", "name", "region", "hukou", "residence_permit",
                  "residence_permit_expires_on", "student", "school", "phone"]
        if obj is None:
            return [(None, {"fields": person})]
        return [(None, {"fields": person + ["sex", "created_at", "updated_at"]}),
                ("参保连续性", {"fields": ["coverage"]}),
                ("资助身份", {"fields": ["identities"]}),
                ("变更记录", {"classes": ["collapse"], "fields": ["audit_trail"]})]

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
            try:
                created = resident_create(id_number=data["id_number"], birth_date=data.get("birth_date"),
                                          actor=request.user, **fields)
            except EnrollmentError as exc:  # e.g. the same number created meanwhile by an import
                raise NotSaved(exc.message) from None
            obj.pk = created.pk
            obj.__dict__.update(created.__dict__)

    def save_formset(self, request, form, formset, change):
        if formset.model not in (SchemeExit, ZeroClaimYear):
            return super().save_formset(request, form, formset, change)
        what = "退出其他制度保障记录" if formset.model is SchemeExit else "零报销年度"

        def on_error(message):
            raise NotSaved(message)

        def on_repriced(enrollments):
            if enrollments:
                self.message_user(request, f"已按{what}重新计算未缴费的登记："
                                  + "、".join(f"{e.year} 年度" for e in enrollments), messages.INFO)

        save = save_scheme_exits if formset.model is SchemeExit else save_zero_claim_years
        save(request, form.instance, formset, on_error=on_error, on_repriced=on_repriced)

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
            rows or mark_safe("<tr><td colspan=2>2025 年度起无记录</td></tr>"), year, cont, waiting, cap)

    @admin.display(description="资助身份（各认定部门名单）")
    def identities(self, obj):
        from subsidies.admin import identities_panel  # subsidies owns the table and its screens

        if obj is None or obj.pk is None:
            return "—"
        return identities_panel(obj.id_number, getattr(obj, "visible_regions", frozenset()))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:  # per request (ModelAdmin instances are shared between threads)
            obj.visible_regions = region_codes(request.user)
        return obj

    @admin.display(description="变更记录（谁、何时、改了什么）")
    def audit_trail(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        from pghistory.models import Events

        from core import audit_display as show

        events = Events.objects.references(obj).order_by("-pgh_created_at")[:50]
        rows = []
        for ev in events:
            change = show.changes_text(show.changes(ev.pgh_obj_model, ev.pgh_label, ev.pgh_diff, ev.pgh_data))
            rows.append((show.local_time(ev.pgh_created_at), show.who(ev.pgh_context),
                         show.model_name(ev.pgh_obj_model), show.EVENT_LABELS.get(ev.pgh_label, "其他"),
                         show.action_text(ev.pgh_context), show.mask_ids(change) or "—"))
        if not rows:
            return "无"
        return format_html(
            "<table><thead><tr><th>时间</th><th>操作人</th><th>对象</th><th>事件</th><th>操作</th>"
            "<th>变化（前 → 后）</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows))

    @admin.action(description="登记参保（选择年度）", permissions=["add_enrollment"])
    def register_for_year(self, request, queryset):
        def apply(data):
            ok, failed = 0, []
            for resident in queryset.order_by("id"):
                try:
                    enrollment_register(resident=resident, year=data["year"],
                                        registered_via=data["registered_via"], actor=request.user)
                    ok += 1
                except EnrollmentError as exc:
                    failed.append(refusal(resident.name, resident.id_number, exc.message))
            return (f"已登记 {ok} 人" if ok else ""), failed

        from ..forms import registrable_years

        published = published_years(queryset.values_list("region_id", flat=True).distinct())
        # only what can succeed: a published year whose policy prices none of them is withheld
        years, withheld = registrable_years(queryset, published, clock.today())
        return form_action(self, request, queryset, form_class=RegisterForm.for_years(years, withheld),
                           title="登记参保",
                           action="register_for_year", apply=apply,
                           initial={"year": default_year(years, clock.today())})

    @admin.action(description="外地新生儿凭父母居住证登记（0-6个月）", permissions=["add_enrollment"])
    def register_newborn_on_parent_permit(self, request, queryset):
        from ..newborns import enrollment_register_newborn
        from ..selectors import residents_for

        def apply(data):
            parent = residents_for(request.user).filter(id_number=data["parent_id_number"]).first()
            if parent is None:
                return "", [f"未找到身份证号码为 {idnumbers.mask(data['parent_id_number'])} 的父母一方参保人记录"
                            "（须为本地区参保人），请先登记父母一方"]
            ok, failed = 0, []
            for resident in queryset.order_by("id"):
                try:
                    enrollment_register_newborn(resident=resident, year=data["year"], parent=parent,
                                                same_household=data["same_household"],
                                                registered_via=data["registered_via"], actor=request.user)
                    ok += 1
                except EnrollmentError as exc:
                    failed.append(refusal(resident.name, resident.id_number, exc.message))
            return (f"已凭 {parent.name} 的居住证登记 {ok} 人" if ok else ""), failed

        years = published_years(queryset.values_list("region_id", flat=True).distinct())
        return form_action(self, request, queryset, form_class=NewbornForm.for_years(years),
                           title="外地新生儿凭父母居住证登记", action="register_newborn_on_parent_permit", apply=apply,
                           initial={"year": default_year(years, clock.today()), "same_household": True,
                                    "registered_via": RegisteredVia.NEWBORN})

    def has_add_enrollment_permission(self, request):
        return request.user.has_perm("enrollment.add_enrollment")
