"""Admin for regions and policy years: caseworkers edit a draft and publish it."""

import re

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import FileResponse, Http404
from django.urls import path, reverse
from django.utils.html import format_html

from .models import (
    AssistanceTier,
    Category,
    FlexibleEmploymentRate,
    PaymentPeriod,
    PolicyYear,
    Region,
    SpecialGroup,
)
from .services import (
    PolicyError,
    policy_year_as_data,
    policy_year_publish,
    policy_year_touch,
    policy_year_unpublish,
    clone_policy_year,
)
from .validation import check_categories, check_periods, validate_policy


class _RowsFormSet(forms.BaseInlineFormSet):
    """Cross-row checks (overlaps) on the rows as they will be saved."""

    check = None

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        rows = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            rows.append(data)
        problems = type(self).check(rows, self.instance)
        if problems:
            raise ValidationError(problems)


class CategoryFormSet(_RowsFormSet):
    check = staticmethod(lambda rows, py: check_categories(rows))


class PeriodFormSet(_RowsFormSet):
    check = staticmethod(lambda rows, py: check_periods(rows, py.year) if py.year else [])


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "province", "policy_region"]
    search_fields = ["code", "name"]
    readonly_fields = []

    def has_delete_permission(self, request, obj=None):
        return False


class _ReadOnlyWhenPublished:
    """Inlines of a published year are shown but cannot be changed."""

    extra = 0

    def _locked(self, obj):
        return obj is not None and obj.is_published

    def has_add_permission(self, request, obj=None):
        return not self._locked(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._locked(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._locked(obj) and super().has_delete_permission(request, obj)


class CategoryInline(_ReadOnlyWhenPublished, admin.TabularInline):
    model = Category
    formset = CategoryFormSet
    fields = ["sort_order", "code", "name", "student", "born_from", "born_to", "birth_range_in_source",
              "personal_standard", "fiscal_subsidy", "source_note"]


class PaymentPeriodInline(_ReadOnlyWhenPublished, admin.TabularInline):
    model = PaymentPeriod
    formset = PeriodFormSet
    fields = ["sort_order", "kind", "starts_on", "ends_on", "benefit_start", "offset", "charge", "source_note"]


class AgeRangesField(forms.CharField):
    """年龄条件 as words, not JSON: ranges of whole years, inclusive, "下限-上限" with an open
    side left empty, separated by 、 — "-18、60-" is 18 and under, or 60 and over."""

    HELP = "年龄条件写法：如 -18、60-（18 周岁及以下或 60 周岁及以上）、3-6；留空表示不限年龄"
    _RANGE = re.compile(r"^(\d{0,3})\s*[-－~～至]\s*(\d{0,3})$")

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "年龄条件")
        kwargs.setdefault("help_text", self.HELP)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, str):
            return value
        return "、".join(f"{'' if lo is None else lo}-{'' if hi is None else hi}" for lo, hi in value or [])

    def to_python(self, value):
        text = (value or "").strip()
        if not text:
            return []
        ranges = []
        for part in re.split(r"[、，,；;\s]+", text):
            if not part:
                continue
            m = self._RANGE.match(part)
            if m is None or (not m.group(1) and not m.group(2)):
                raise ValidationError(self.HELP)
            lo, hi = (int(g) if g else None for g in m.groups())
            if lo is not None and hi is not None and lo > hi:
                raise ValidationError(f"年龄区间 {part} 的下限大于上限")
            ranges.append([lo, hi])
        return ranges


class AssistanceTierForm(forms.ModelForm):
    age_ranges = AgeRangesField()

    class Meta:
        model = AssistanceTier
        fields = "__all__"


class AssistanceTierInline(_ReadOnlyWhenPublished, admin.TabularInline):
    model = AssistanceTier
    form = AssistanceTierForm
    fields = ["sort_order", "identity", "kind", "percentage", "amount", "age_ranges", "certified_by", "assessed_by",
              "local_hukou_only", "funding_source", "certifying_department", "source_note"]


class SpecialGroupInline(_ReadOnlyWhenPublished, admin.TabularInline):
    model = SpecialGroup
    fields = ["sort_order", "code", "exempt_from_periods", "exempt_from_waiting", "benefit_start",
              "free_in_birth_year", "within_months", "source_note"]


class FlexibleEmploymentRateInline(_ReadOnlyWhenPublished, admin.TabularInline):
    model = FlexibleEmploymentRate
    fields = ["sort_order", "status", "component", "annual_amount", "monthly_amount", "source_note"]


class PolicyYearForm(forms.ModelForm):
    class Meta:
        model = PolicyYear
        exclude = ["status", "published_at", "published_by"]


@admin.register(PolicyYear)
class PolicyYearAdmin(admin.ModelAdmin):
    form = PolicyYearForm
    list_display = ["region", "year", "status", "published_at", "published_by", "source_document",
                    "unset_figures"]
    list_filter = ["status", "region", "year"]
    list_select_related = ["region", "published_by"]
    search_fields = ["region__name", "region__code"]
    readonly_fields = ["status", "published_at", "published_by", "revision", "unset_figures",
                       "problems", "source_link"]
    inlines = [CategoryInline, PaymentPeriodInline, AssistanceTierInline, SpecialGroupInline,
               FlexibleEmploymentRateInline]
    actions = ["publish", "unpublish", "start_next_year"]
    fieldsets = [
        (None, {"fields": ["region", "year", "status", "published_at", "published_by", "revision",
                           "source_document", "source_link", "source_title", "notes", "unset_figures",
                           "problems"]}),
        ("参保与缴费", {"fields": ["age_reference_date", "registration_starts_on", "registration_ends_on",
                              "payment_day_from", "payment_day_to", "cash_working_days_only",
                              "bank_record_delay_working_days", "nonlocal_requires_permit",
                              "nonlocal_infant_parent_months", "assistance_refund_in_window",
                              "college_course_prepay", "registration_documents_listed"]}),
        ("连续参保与等待期", {"fields": ["continuity_from_year", "fixed_waiting_months", "variable_waiting",
                                  "variable_floor_gap_years", "variable_floor_months"]}),
        ("大病保险最高支付限额", {"fields": ["cap_after_years", "cap_increase_per_year",
                                    "cap_break_decrease", "cap_break_decrease_per_year",
                                    "cap_zero_claim_incentive", "cap_zero_claim_increase"]}),
        ("灵活就业人员医疗保险", {"fields": ["flex_pay_by", "flex_makeup_within_months",
                                    "flex_waiting_months", "flex_certificate_after_days"]}),
        ("家庭共济", {"classes": ["collapse"], "fields": [
            "pool_relations", "pool_organizer_scope", "pool_medical_payment", "pool_premium_payment",
            "pool_premium_cutoff", "pool_batch_starts_on", "pool_results_on",
            "pool_certificate_working_days", "pool_school_cancel_deadline",
            "pool_community_cancel_same_day"]}),
    ]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_published:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_published:
            return False
        return super().has_delete_permission(request, obj)

    def get_urls(self):
        return [path("source/<str:name>", self.admin_site.admin_view(self.source_view),
                     name="policy_policyyear_source")] + super().get_urls()

    _SOURCE_NAME = re.compile(r"^[0-9A-Za-z_-]{1,80}\.txt$")

    def source_view(self, request, name: str):
        """The text of a source document (policies/sources/), for the people who check the figures."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        path_ = settings.POLICY_DATA_DIR / "sources" / name
        if not self._SOURCE_NAME.match(name) or not path_.is_file():
            raise Http404("没有该来源文件")
        return FileResponse(path_.open("rb"), content_type="text/plain; charset=utf-8")

    @admin.display(description="查看来源文件")
    def source_link(self, obj):
        name = getattr(obj, "source_document", "") or ""
        if not name or not self._SOURCE_NAME.match(name) or not (settings.POLICY_DATA_DIR / "sources" / name).is_file():
            return "—"
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>',
                           reverse("admin:policy_policyyear_source", args=[name]), obj.source_title or name)

    @admin.action(description="复制为下一年度草稿（日期顺延一年）", permissions=["add"])
    def start_next_year(self, request, queryset):
        for py in queryset.select_related("region").order_by("region_id", "year"):
            try:
                clone_policy_year(region=py.region_id, from_year=py.year, to_year=py.year + 1, actor=request.user)
            except PolicyError as exc:
                self.message_user(request, f"{py.region.name} {py.year + 1} 年度未建立：{exc}", messages.ERROR)
            else:
                self.message_user(request, f"已建立草稿：{py.region.name} {py.year + 1} 年度（复制自 {py.year} 年度，"
                                           "日期顺延一年）", messages.SUCCESS)

    @admin.display(description="未设定（来源未给出）的数值")
    def unset_figures(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        names = []
        for c in obj.category_set.all():
            if c.personal_standard is None:
                names.append(f"{c.name}个人缴费标准")
            if c.fiscal_subsidy is None:
                names.append(f"{c.name}财政补助")
            if not c.birth_range_in_source and not c.student:
                names.append(f"{c.name}出生日期区间")
        for t in obj.assistancetier_set.all():
            if (t.kind == "fixed" and t.amount is None) or (t.kind == "percentage" and t.percentage is None):
                names.append(f"{t.get_identity_display()}资助标准")
        if obj.cap_after_years is not None and obj.cap_increase_per_year is None:
            names.append("大病限额提高金额")
        return "、".join(names) or "无"

    @admin.display(description="发布前检查")
    def problems(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        found = validate_policy(policy_year_as_data(obj))
        if not found:
            return "通过"
        return format_html("<br>".join(["{}"] * len(found)), *found)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        policy_year_touch(policy_year=form.instance)

    @admin.action(description="发布所选政策年度", permissions=["publish"])
    def publish(self, request, queryset):
        for py in queryset.select_related("region"):
            try:
                with transaction.atomic():
                    policy_year_publish(policy_year=py, actor=request.user)
            except PolicyError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"已发布：{py.region.name} {py.year} 年度", messages.SUCCESS)

    @admin.action(description="撤回为草稿（撤回期间不能测算）", permissions=["publish"])
    def unpublish(self, request, queryset):
        for py in queryset.select_related("region"):
            try:
                policy_year_unpublish(policy_year=py, actor=request.user)
            except PolicyError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"已撤回为草稿：{py.region.name} {py.year} 年度", messages.WARNING)

    def has_publish_permission(self, request):
        return request.user.has_perm("policy.publish_policyyear")
