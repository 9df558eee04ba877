"""The payments admin: 缴费流水 (read-only ledger, with 渠道日汇总) and 退费申请 (the refund
queue: 审核通过 / 驳回 / 退付 through payments.refunds, 生成资助退费申请, the approved list as CSV).

Thin: every write goes through a service; a refusal (four eyes included) is a message.
Region-scoped, never deleted; ID numbers masked unless the user may see them in full."""

from __future__ import annotations

import re
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.admin_mixins import RegionScopedAdmin, UserRegionFilter
from accounts.scoping import region_codes, scope
from core import clock
from enrollment import idnumbers
from enrollment.admin.common import MaskedIdColumnMixin, can_view_full_id, form_action, report_action, \
    too_many_for_an_action
from enrollment.admin.enrollments import YearFilter
from enrollment.models import Enrollment, EnrollmentStatus, Resident
from policy.models import Region
from policy.selectors import policy_region

from . import refunds
from .models import Channel, Payment, Refund

SUMMARY_MAX_DAYS = 366


class PaymentRegionFilter(UserRegionFilter):
    pass


@admin.register(Payment)
class PaymentAdmin(MaskedIdColumnMixin, RegionScopedAdmin):
    change_list_template = "admin/payments/payment/change_list.html"
    list_display = ["paid_on", "id_display", "name", "region", "year", "scheme", "channel", "kind", "outcome",
                    "amount", "txn_id", "payer_name", "recorded_at"]
    list_filter = ["scheme", "channel", "kind", "outcome", ("paid_on", admin.DateFieldListFilter),
                   PaymentRegionFilter, YearFilter]
    list_select_related = ["region"]
    ordering = ["-id"]  # the primary key's index, not a sort of the whole ledger
    search_fields = ["id_number", "txn_id"]
    search_help_text = "输入完整身份证号码或交易流水号"
    date_hierarchy = None
    fields = ["kind", "outcome", "scheme", "channel", "txn_id", "id_shown", "name", "region", "year", "amount",
              "paid_at", "paid_on", "payer_kind", "payer_id", "payer_name", "refund_of", "enrollment",
              "scheme_enrollment_id", "recorded_at", "recorded_by", "actor", "note"]
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        number = idnumbers.normalise(term)
        if len(number) == 18 and number[:17].isdigit():
            return queryset.filter(id_number=number), False
        return queryset.filter(txn_id=term), False

    @admin.display(description="身份证号码")
    def id_shown(self, obj):
        return obj.id_number  # replaced below when the user may not see it in full

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def render_change_form(self, request, context, *args, **kwargs):
        obj = kwargs.get("obj")
        if obj is not None and not can_view_full_id(request):
            obj.id_number = idnumbers.mask(obj.id_number)
            obj.payer_id = idnumbers.mask(obj.payer_id) if len(obj.payer_id) == 18 else obj.payer_id
        return super().render_change_form(request, context, *args, **kwargs)

    def has_add_permission(self, request):
        return False  # recorded by the channel API, imports and services only

    def has_change_permission(self, request, obj=None):
        return False  # append-only: a correction is a record of its own

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("summary/", view(self.summary_view), name="payments_payment_summary")] + super().get_urls()

    def summary_view(self, request):
        """渠道日汇总: per day and channel, payments and refunds (counts and amounts)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = clock.today()
        form = SummaryForm(request.GET or None, user=request.user,
                           initial={"date_from": today - timedelta(days=30), "date_to": today})
        rows, totals, error = [], None, ""
        if not request.GET or form.is_valid():
            data = form.cleaned_data if request.GET else {"date_from": today - timedelta(days=30), "date_to": today,
                                                          "region": ""}
            rows, totals = channel_day_totals(request.user, data["date_from"], data["date_to"], data.get("region"))
        context = {**self.admin_site.each_context(request), "title": "渠道日汇总", "form": form, "rows": rows,
                   "totals": totals, "error": error, "opts": self.model._meta}
        return TemplateResponse(request, "admin/payments/payment/summary.html", context)


class SummaryForm(forms.Form):
    date_from = forms.DateField(label="缴费日期自")
    date_to = forms.DateField(label="至")
    region = forms.ChoiceField(label="参保地", required=False)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        codes = region_codes(user)
        qs = Region.objects.order_by("code")
        if codes is not None:
            qs = qs.filter(code__in=codes)
        self.fields["region"].choices = [("", "我经办的全部地区")] + [(r.code, f"{r.name}（{r.code}）") for r in qs]

    def clean(self):
        data = super().clean()
        lo, hi = data.get("date_from"), data.get("date_to")
        if lo and hi:
            if lo > hi:
                raise forms.ValidationError("起始日期晚于结束日期")
            if (hi - lo).days >= SUMMARY_MAX_DAYS:
                raise forms.ValidationError(f"一次最多汇总 {SUMMARY_MAX_DAYS} 天")
        return data


def channel_day_totals(user, date_from, date_to, region=""):
    """Per (day, channel) of the user's regions: payments (count, amount), refunds (count,
    amount, negative) and the net; with the grand totals."""
    qs = scope(Payment.objects.filter(paid_on__gte=date_from, paid_on__lte=date_to), user)
    if region:
        qs = qs.filter(region_id=region)
    money_in = Q(kind=Payment.Kind.PAYMENT)
    grouped = (qs.values("paid_on", "channel").order_by("-paid_on", "channel")
               .annotate(paid_n=Count("id", filter=money_in), paid_sum=Sum("amount", filter=money_in),
                         refund_n=Count("id", filter=~money_in), refund_sum=Sum("amount", filter=~money_in),
                         net=Sum("amount")))
    names = dict(Channel.choices)
    rows, zero = [], 0
    totals = {"paid_n": 0, "paid_sum": zero, "refund_n": 0, "refund_sum": zero, "net": zero}
    for g in grouped:
        row = {**g, "channel_name": names.get(g["channel"], g["channel"]),
               "paid_sum": g["paid_sum"] or 0, "refund_sum": g["refund_sum"] or 0}
        rows.append(row)
        for k in totals:
            totals[k] += row[k]
    return rows, totals


class RefundRegionFilter(UserRegionFilter):
    pass


class DecisionForm(forms.Form):
    _selected_action = forms.CharField(widget=forms.MultipleHiddenInput)
    note = forms.CharField(label="审核意见", max_length=200)


@admin.register(Refund)
class RefundAdmin(MaskedIdColumnMixin, RegionScopedAdmin):
    change_list_template = "admin/payments/refund/change_list.html"
    list_display = ["id", "status", "id_display", "name", "year", "reason", "amount", "requester", "decided_by",
                    "payment_txn", "region", "requested_at"]
    list_display_links = ["id"]
    list_filter = ["status", "reason", RefundRegionFilter, YearFilter]
    list_select_related = ["region", "requested_by", "decided_by", "payment"]
    search_fields = ["id_number"]
    search_help_text = "输入完整身份证号码或姓名"
    actions = ["approve", "reject", "pay"]
    fields = ["id", "status", "reason", "amount", "id_shown", "name", "region", "year", "enrollment",
              "source_payment", "owed_refund", "requested_at", "requester", "decided_at", "decided_by",
              "decision_note", "payment", "note"]
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        from enrollment.admin.common import id_search

        return id_search(queryset, search_term, "id_number"), False

    @admin.display(description="申请人")
    def requester(self, obj):
        if obj.requested_by_id:
            return obj.requested_by.get_username()
        return obj.requested_actor or "系统"

    @admin.display(description="退费流水号")
    def payment_txn(self, obj):
        return obj.payment.txn_id if obj.payment_id else "—"

    @admin.display(description="身份证号码")
    def id_shown(self, obj):
        return obj.id_number

    def render_change_form(self, request, context, *args, **kwargs):
        obj = kwargs.get("obj")
        if obj is not None and not can_view_full_id(request):
            obj.id_number = idnumbers.mask(obj.id_number)
        return super().render_change_form(request, context, *args, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request):
        return False  # requests come from the services (duplicates, rosters, cancellations, leavers)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)  # the actions; pages read-only

    def has_delete_permission(self, request, obj=None):
        return False

    # --- actions: each refund through its service, each refusal reported --------------------

    def _each(self, request, queryset, act, done_text):
        if too_many_for_an_action(self, request, queryset):
            return
        done, failed = 0, []
        for r in queryset.order_by("pk"):
            try:
                act(r)
                done += 1
            except refunds.RefundError as exc:
                failed.append(f"退费申请 {r.pk}（{r.name}）：{exc.message}")
        report_action(self, request, f"{done_text} {done} 条" if done else "", failed)

    @admin.action(description="审核通过", permissions=["change"])
    def approve(self, request, queryset):
        self._each(request, queryset, lambda r: refunds.refund_decide(refund=r, approve=True, actor=request.user),
                   "已审核通过")

    @admin.action(description="驳回", permissions=["change"])
    def reject(self, request, queryset):
        def apply(data):
            done, failed = 0, []
            for r in queryset.order_by("pk"):
                try:
                    refunds.refund_decide(refund=r, approve=False, actor=request.user, note=data["note"])
                    done += 1
                except refunds.RefundError as exc:
                    failed.append(f"退费申请 {r.pk}（{r.name}）：{exc.message}")
            return (f"已驳回 {done} 条" if done else ""), failed

        return form_action(self, request, queryset, form_class=DecisionForm, title="驳回退费申请", action="reject",
                           apply=apply)

    @admin.action(description="退付（生成退费流水）", permissions=["change"])
    def pay(self, request, queryset):
        self._each(request, queryset, lambda r: refunds.refund_pay(refund=r, actor=request.user), "已退付")

    # --- the queue's own pages ---------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("queue-owed/", view(self.queue_owed_view), name="payments_refund_queue_owed"),
            path("export/", view(self.export_view), name="payments_refund_export"),
            path("request/", view(self.request_view), name="payments_refund_request"),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra = {"can_queue": self.has_change_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def queue_owed_view(self, request):
        """生成资助退费申请: every owed assistance part of the user's regions into the queue."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        codes = region_codes(request.user)
        if codes is not None and not codes:
            self.message_user(request, "您还没有经办地区，请联系管理员", messages.ERROR)
        else:
            n = refunds.queue_owed_refunds(region=codes, actor=request.user)
            self.message_user(request, f"已生成资助退费申请 {n} 条" if n else "没有待生成的资助部分应退记录",
                              messages.SUCCESS if n else messages.INFO)
        return HttpResponseRedirect(reverse("admin:payments_refund_changelist"))

    def export_view(self, request):
        """已审核待退付的退费清单 (CSV) of the user's regions, or the one chosen."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        codes = region_codes(request.user)
        region = request.GET.get("region", "")
        if region:
            if codes is not None and region not in codes:
                raise PermissionDenied
            if not re.fullmatch(r"[0-9]{6}", region) or policy_region(region) is None:
                raise Http404("未知地区")  # not a region code (a NUL, any text): nothing to export
            wanted = region
        else:
            wanted = codes
        body = refunds.approved_refunds_csv(region=wanted, full_ids=can_view_full_id(request))
        name = f"approved-refunds-{region or 'all'}-{clock.today():%Y%m%d}.csv"
        resp = HttpResponse(body, content_type="text/csv; charset=utf-8")
        resp["Content-Disposition"] = f'attachment; filename="{name}"'
        return resp

    def request_view(self, request):
        """申请退费: cancel a paid year and ask for its refund, or a college leaver's remaining
        years — the requester is the user (someone else approves)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = RefundRequestForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            resident = Resident.objects.filter(id_number=data["id_number"]).first()
            codes = region_codes(request.user)
            if resident is None or (codes is not None and resident.region_id not in codes):
                form.add_error("id_number", "未找到该参保人，或不在您的经办地区内")
            else:
                try:
                    made = self._request(request, resident, data)
                except refunds.RefundError as exc:
                    form.add_error(None, exc.message)
                else:
                    total = sum(r.amount for r in made)
                    self.message_user(request, f"已提交退费申请 {len(made)} 条，合计 {total:.2f} 元，待另一名经办人员审核",
                                      messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:payments_refund_changelist"))
        context = {**self.admin_site.each_context(request), "title": "申请退费", "form": form,
                   "opts": self.model._meta}
        return TemplateResponse(request, "admin/payments/refund/request.html", context)

    def _request(self, request, resident, data):
        codes = region_codes(request.user)
        if data["kind"] == "cancel_paid":
            e = Enrollment.objects.filter(resident=resident, year=data["year"]).exclude(
                status=EnrollmentStatus.CANCELLED).first()
            if e is None:  # cancelled already (its refund rejected, say): the refund asked for again
                e = (Enrollment.objects.filter(resident=resident, year=data["year"], status=EnrollmentStatus.CANCELLED,
                                               paid_on__isnull=False).order_by("-cancelled_at").first())
                if e is not None and (codes is None or e.region_id in codes):
                    return [refunds.cancelled_refund_again(enrollment=e, reason=data["reason"], actor=request.user)]
            if e is None or (codes is not None and e.region_id not in codes):
                raise refunds.RefundError("not_paid", f"未找到 {data['year']} 年度的有效参保登记")
            return [refunds.enrollment_cancel_paid(enrollment=e, reason=data["reason"], actor=request.user)]
        return refunds.college_leaver_refund(resident=resident, left_on=data["left_on"], how=data["how"],
                                             actor=request.user)


class RefundRequestForm(forms.Form):
    kind = forms.ChoiceField(label="退费事项", choices=[
        ("cancel_paid", "注销已缴费的参保登记并退费（待遇于今天终止；已注销而退费被驳回的，再次申请退费）"),
        ("college_leaver", "大学生转学/退学/入伍：退还离校年度以后的剩余年度")])
    id_number = forms.CharField(label="身份证号码", max_length=18)
    year = forms.IntegerField(label="待遇年度", required=False, min_value=2000, max_value=2100,
                              help_text="注销已缴费登记时填写")
    reason = forms.CharField(label="注销原因", max_length=200, required=False, help_text="注销已缴费登记时填写")
    left_on = forms.DateField(label="离校日期", required=False, help_text="大学生离校时填写，如 2026-09-01")
    how = forms.ChoiceField(label="离校方式", required=False, choices=[("", "---------")] + list(
        refunds.LEAVING.items()))

    def clean_id_number(self):
        number = idnumbers.normalise(self.cleaned_data["id_number"])
        if not (len(number) == 18 and number[:17].isascii() and number[:17].isdigit()):
            raise forms.ValidationError("请输入 18 位身份证号码")
        return number

    def clean(self):
        data = super().clean()
        if data.get("kind") == "cancel_paid":
            if not data.get("year"):
                self.add_error("year", "请填写待遇年度")
            if not (data.get("reason") or "").strip():
                self.add_error("reason", "请填写注销原因")
        elif data.get("kind") == "college_leaver":
            if not data.get("left_on"):
                self.add_error("left_on", "请填写离校日期")
            if not data.get("how"):
                self.add_error("how", "请选择离校方式")
        return data
