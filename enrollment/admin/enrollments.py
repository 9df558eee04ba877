"""参保登记: the read-only list, cancelling with a reason, and starting default renewal."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters

from accounts.admin_mixins import RegionScopedAdmin, UserRegionFilter
from accounts.scoping import region_codes
from core import batch
from policy.rules.types import IDENTITIES, TIMING_NAMES

from .. import idnumbers
from ..models import Enrollment, EnrollmentStatus
from ..services import EnrollmentError, enrollment_cancel
from .common import IdSearchMixin, MaskedIdColumnMixin, form_action, refusal
from .dossier import AgentInline, DocumentInline, ParentLinkInline, checklist_html, save_registration_formset


class CancelForm(forms.Form):
    _selected_action = forms.CharField(widget=forms.MultipleHiddenInput)
    reason = forms.CharField(label="注销原因", max_length=200)


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
        value = self.value()
        if not value:
            return queryset
        if not (value.isascii() and value.isdigit() and len(value) == 4):
            # the admin answers ?e=1 (the list, unfiltered) instead of a 500
            raise IncorrectLookupParameters(f"待遇年度无效：{value[:20]}")
        return queryset.filter(year=int(value))


class TimingFilter(admin.SimpleListFilter):
    """缴费时段 in words (the column holds the rules' codes)."""

    title = "缴费时段"
    parameter_name = "timing"

    def lookups(self, request, model_admin):
        return list(TIMING_NAMES.items())

    def queryset(self, request, queryset):
        if self.value() in TIMING_NAMES:
            return queryset.filter(timing=self.value())
        return queryset


def describe_enrollment(e: Enrollment) -> str:
    """Whom an action touches: 张一（330203********0175）2025 年度 成年居民（已登记（待缴费））."""
    return f"{e.resident.name}（{idnumbers.mask(e.resident.id_number)}）{e}"


@admin.register(Enrollment)
class EnrollmentAdmin(IdSearchMixin, MaskedIdColumnMixin, RegionScopedAdmin):
    id_path = "resident.id_number"
    # fits 1400 px beside the menu and the filters (the browser test measures it); 缴费方式
    # and 登记方式 are filters and on the record's page
    list_display = ["name", "id_display", "year", "region_name", "category", "status", "timing_name",
                    "amount_due", "paid_amount", "benefit_start"]
    list_filter = [UserRegionFilter, YearFilter, "category", "status", PaidFilter, "registered_via",
                   "paid_via", TimingFilter]
    list_select_related = ["resident", "region"]
    search_fields = ["resident__id_number"]  # IdSearchMixin: exact number or name prefix
    search_help_text = "输入完整身份证号码（精确查找）或姓名开头"
    ordering = ["-id"]
    actions = ["cancel_with_reason", "start_default_renewal"]
    # the rules' codes (缴费时段, 资助身份) are shown by name
    readonly_fields = [{"timing": "timing_name", "assistance_identity": "assistance_name"}.get(f.name, f.name)
                       for f in Enrollment._meta.fields] + ["documents_checklist"]
    # 代办人, 已查验材料 and the newborn's parent (000 §2), saved through their services
    inlines = [ParentLinkInline, AgentInline, DocumentInline]

    @admin.display(description="姓名", ordering="resident__name")
    def name(self, obj):
        return obj.resident.name

    def get_list_display(self, request):
        """参保地 only for a user of more than one region (for one it is the same on every row)."""
        shown = super().get_list_display(request)
        codes = region_codes(request.user)
        return [f for f in shown if f != "region_name"] if codes is not None and len(codes) == 1 else shown

    @admin.display(description="参保地", ordering="region_id")
    def region_name(self, obj):
        return obj.region.name

    @admin.display(description="缴费时段", ordering="timing")
    def timing_name(self, obj):
        return TIMING_NAMES.get(obj.timing, "—") if obj.timing else "—"

    @admin.display(description="资助身份")
    def assistance_name(self, obj):
        return IDENTITIES.get(obj.assistance_identity, "—") if obj.assistance_identity else "无"

    def has_add_permission(self, request):
        return False  # registration goes through 参保人 › 登记参保, the API or the import

    def has_delete_permission(self, request, obj=None):
        return False  # cancel with a reason instead

    def get_fields(self, request, obj=None):
        return [f for f in self.readonly_fields if f not in ("id", "documents_checklist")]

    def get_fieldsets(self, request, obj=None):
        return [(None, {"fields": self.get_fields(request, obj)}),
                ("登记材料核对", {"fields": ["documents_checklist"]})]

    @admin.display(description="所需材料")
    def documents_checklist(self, obj):
        return checklist_html(obj) if obj is not None and obj.pk else "—"

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        from django.http import HttpResponseRedirect

        from .residents import NotSaved

        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except NotSaved as exc:  # the change view's transaction is rolled back
            self.message_user(request, f"未保存：{exc}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        pass  # the registration itself is never edited here (every field is read-only)

    def save_formset(self, request, form, formset, change):
        from .residents import NotSaved

        def on_error(message):
            raise NotSaved(message)

        if not save_registration_formset(request, form.instance, formset, on_error=on_error):
            super().save_formset(request, form, formset, change)

    @admin.action(description="注销登记（填写原因）", permissions=["change"])
    def cancel_with_reason(self, request, queryset):
        queryset = queryset.select_related("resident")

        def apply(data):
            ok, failed = 0, []
            for e in queryset.order_by("id"):
                try:
                    enrollment_cancel(enrollment=e, reason=data["reason"], actor=request.user)
                    ok += 1
                except EnrollmentError as exc:
                    failed.append(refusal(e.resident.name, e.resident.id_number, exc.message))
            return (f"已注销 {ok} 条登记" if ok else ""), failed

        return form_action(self, request, queryset, form_class=CancelForm, title="注销登记",
                           action="cancel_with_reason", apply=apply, describe=describe_enrollment)

    @admin.action(description="默认续保（所选登记的地区续保到下一年度）", permissions=["renew"])
    def start_default_renewal(self, request, queryset):
        """Start default renewal of the selection's regions into Y+1 on the batch engine (joins one going)."""
        from policy.models import Region

        from ..renewal import renewal_regions
        from ..services import spec_for

        codes = region_codes(request.user)
        names = dict(Region.objects.values_list("code", "name"))
        targets = set()
        for region_id, year in queryset.values_list("region_id", "year").distinct():
            targets.add((Region.objects.get(pk=region_id).policy_code, year + 1))
        for city, year in sorted(targets):
            what = f"{names.get(city, city)} {year} 年度默认续保"
            try:
                spec_for(city, year)
            except EnrollmentError as exc:
                self.message_user(request, f"{names.get(city, city)} {year} 年度不能续保：{exc.message}",
                                  messages.ERROR)
                continue
            regions = renewal_regions(city)
            if codes is not None and not set(regions) <= codes:
                self.message_user(request, f"{names.get(city, city)}的默认续保包括"
                                  f"{'、'.join(names.get(r, r) for r in regions)}，须由负责全部这些地区的人员发起",
                                  messages.ERROR)
                continue
            try:
                out = batch.start("renew_enrollments", {"region": city, "to_year": year}, actor=request.user)
            except batch.BatchError as exc:
                self.message_user(request, f"{names.get(city, city)} {year} 年度不能续保：{exc.message}",
                                  messages.ERROR)
                continue
            if out.joined:
                self.message_user(request, f"{what}已在进行中（批处理任务 #{out.run.pk}）", messages.WARNING)
                continue
            self.message_user(request, f"已开始{what}（批处理任务 #{out.run.pk}）", messages.SUCCESS)

    def has_renew_permission(self, request):
        return request.user.has_perm("enrollment.add_enrollment")
