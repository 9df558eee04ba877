"""灵活就业人员参保: the list and record of the caseworker's regions, registering a person
(登记参保), recording a payment and cancelling with a reason — each through the services.
Cancelling a paid enrollment (注销并申请退费) is offered on the same action's page, which
says what follows (a refund request, benefits stopping on the business date) and asks for
a tick to confirm; without it a paid enrollment is refused as before."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html

from accounts.admin_mixins import RegionScopedAdmin, UserRegionFilter
from core import clock
from enrollment import idnumbers
from enrollment.admin.common import (
    IdSearchMixin,
    MaskedIdColumnMixin,
    form_action,
    refusal,
    report_action,
    too_many_for_an_action,
)
from enrollment.selectors import residents_for
from payments.models import Channel
from payments.services import API_CHANNELS
from policy.rules.flexible import FILE_HOLDERS, FLEX_STATUSES, FLEX_TIMINGS

from .models import FlexibleEnrollment, FlexibleStatus
from .services import (
    FlexibleError,
    benefits_stop_on,
    flexible_cancel,
    flexible_cancel_paid,
    flexible_enroll,
    flexible_record_payment,
)


class EnrollForm(forms.ModelForm):
    """登记参保: the person by ID number (a resident of the caseworker's regions) and the facts
    the rule decides on; the service is asked in ``clean`` so a refusal is shown on the form."""

    id_number = forms.CharField(label="身份证号码", max_length=30,
                                help_text="参保人须已在“参保人”中登记")
    special_group = forms.BooleanField(
        label="特殊群体、困难军转干部、对越作战、涉核退休人员", required=False,
        help_text="此类人员须到咸阳市政务服务中心医保窗口办理")

    class Meta:
        model = FlexibleEnrollment
        fields = ["year", "person_status", "file_held_at", "paid_previous_year", "retirement_age_reached_on"]
        widgets = {"retirement_age_reached_on": forms.DateInput(attrs={"type": "date"})}
        help_texts = {"retirement_age_reached_on": "在职人员当年到达法定退休年龄的，填写到龄日期"}

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.created = None
        self.fields["year"].initial = clock.today().year + (1 if clock.today().month >= 9 else 0)
        self.fields["person_status"].choices = list(FLEX_STATUSES.items())
        self.fields["file_held_at"].choices = list(FILE_HOLDERS.items())

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        number = idnumbers.normalise(data.get("id_number", ""))
        resident = residents_for(self.request.user).filter(id_number=number).first()
        if resident is None:
            raise forms.ValidationError("没有这个参保人（或不在您负责的地区），请先在“参保人”中登记")
        try:
            self.created = flexible_enroll(
                resident=resident, year=data["year"], person_status=data["person_status"],
                file_held_at=data["file_held_at"], paid_previous_year=data["paid_previous_year"],
                special_group=data.get("special_group", False),
                retirement_age_reached_on=data.get("retirement_age_reached_on"), actor=self.request.user)
        except FlexibleError as exc:
            raise forms.ValidationError(f"不能登记：{exc.message}") from None
        return data


# The channels a caseworker records a counter or channel payment under (not the pool's or a
# department's, which have their own paths).
COUNTER_CHANNELS = [(c, label) for c, label in Channel.choices if c in API_CHANNELS
                    and c not in ("family_pool", "assistance", "collective")]


class PaymentForm(forms.Form):
    """登记缴费: recorded on the payments ledger (flexible_record_payment → payment_record)."""

    _selected_action = forms.CharField(widget=forms.MultipleHiddenInput)
    paid_on = forms.DateField(label="缴费日期", widget=forms.DateInput(attrs={"type": "date"}))
    amount = forms.DecimalField(label="缴费金额（元）", max_digits=14, decimal_places=2, min_value=Decimal("0"))
    channel = forms.ChoiceField(label="缴费渠道", choices=COUNTER_CHANNELS, initial="tax_hall")
    txn_id = forms.CharField(label="交易流水号", max_length=64, required=False,
                             help_text="税务缴费凭证上的流水号（对账用）；不填则由系统生成")


class CancelForm(forms.Form):
    _selected_action = forms.CharField(widget=forms.MultipleHiddenInput)
    reason = forms.CharField(label="注销原因", max_length=200)


class CancelPaidForm(CancelForm):
    """The cancel form when the selection holds paid enrollments: the tick that confirms
    cancelling them with a refund request (without it they are refused, nothing done)."""

    refund_confirmed = forms.BooleanField(
        label="注销已缴费登记并申请退费", required=False,
        help_text="勾选即确认：已缴费的登记注销，待遇终止，并生成退费申请（须由另一名经办人员审核后退付）")


def cn_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def paid_consequence(e: FlexibleEnrollment, today: date) -> str:
    """What cancelling a paid enrollment does, in words: the refund and the benefits' end."""
    from payments.refunds import refundable

    left = refundable(e.payment) if e.payment_id else Decimal("0.00")
    money = (f"将申请退还 {left} 元" if left > 0 else "缴费已全部退还或在退费中，不能注销并退费")
    if e.benefit_start is not None and e.benefit_start > today:
        benefits = f"待遇原定 {cn_date(e.benefit_start)} 开始，注销后不再享受"
    else:
        benefits = f"待遇于 {cn_date(benefits_stop_on(e, today))} 终止"
    return f"{describe(e)}，已缴 {e.paid_amount} 元：{money}，{benefits}"


def cancel_each(queryset, data, user) -> tuple[str, list[str]]:
    """注销登记 of each selected enrollment: an unpaid one cancelled, a paid one cancelled with a
    refund request when ``refund_confirmed`` is ticked (refused otherwise); (done, refusals)."""
    ok, refunded, total, failed = 0, 0, Decimal("0.00"), []
    confirmed = data.get("refund_confirmed", False)
    for e in queryset.order_by("id"):
        try:
            if e.status == FlexibleStatus.PAID and confirmed:
                total += flexible_cancel_paid(enrollment=e, reason=data["reason"], actor=user).amount
                refunded += 1
            elif e.status == FlexibleStatus.PAID:
                failed.append(refusal(e.resident.name, e.resident.id_number,
                                      f"{e.year} 年度已缴费，不能直接注销；如需注销并退费，"
                                      "请勾选“注销已缴费登记并申请退费”后确定"))
            else:
                flexible_cancel(enrollment=e, reason=data["reason"], actor=user)
                ok += 1
        except FlexibleError as exc:
            failed.append(refusal(e.resident.name, e.resident.id_number, exc.message))
    done = [f"已注销 {ok} 条登记"] if ok else []
    if refunded:
        done.append(f"已注销 {refunded} 条已缴费登记并提交退费申请，合计 {total:.2f} 元，待另一名经办人员审核")
    return "；".join(done), failed


def describe(e: FlexibleEnrollment) -> str:
    return f"{e.resident.name}（{idnumbers.mask(e.resident.id_number)}）{e}，应缴 {e.amount_due} 元"


@admin.register(FlexibleEnrollment)
class FlexibleEnrollmentAdmin(IdSearchMixin, MaskedIdColumnMixin, RegionScopedAdmin):
    id_path = "resident.id_number"
    list_display = ["name", "id_display", "year", "region_name", "person_status", "status", "amount_due",
                    "timing_name", "paid_on", "benefit_start"]
    list_filter = [UserRegionFilter, "year", "status", "person_status"]
    list_select_related = ["resident", "region"]
    search_fields = ["resident__id_number"]
    search_help_text = "输入完整身份证号码（精确查找）或姓名开头"
    ordering = ["-id"]
    actions = ["record_payment", "cancel_with_reason"]
    readonly_fields = [{"timing": "timing_name", "payment": "payment_text"}.get(f.name, f.name)
                       for f in FlexibleEnrollment._meta.fields if f.name != "id"] + ["certificate_text"]

    @admin.display(description="姓名", ordering="resident__name")
    def name(self, obj):
        return obj.resident.name

    @admin.display(description="参保地", ordering="region_id")
    def region_name(self, obj):
        return obj.region.name

    @admin.display(description="缴费情形", ordering="timing")
    def timing_name(self, obj):
        return FLEX_TIMINGS.get(obj.timing, "—") if obj.timing else "—"

    @admin.display(description="缴费流水")
    def payment_text(self, obj):
        from payments.models import Payment, Refund

        p = obj.payment
        if p is None and obj.status == FlexibleStatus.CANCELLED and obj.paid_amount is not None:
            # paid, then cancelled with a refund: the ledger row still names the enrollment
            p = Payment.objects.filter(scheme="flexible_employment", scheme_enrollment_id=obj.pk,
                                       outcome=Payment.Outcome.APPLIED).first()
        if p is None:
            return "—"
        text = f"{p.get_channel_display()} {p.txn_id}，{p.amount} 元，{p.paid_on.isoformat()}"
        if obj.payment_id is None:
            r = Refund.objects.filter(source_payment=p).exclude(status=Refund.Status.REJECTED).first()
            text += (f"（登记已注销；退费申请 {r.pk}：{r.amount} 元，{r.get_status_display()}）" if r
                     else "（登记已注销，没有进行中的退费申请）")
        return text

    @admin.display(description="缴费证明")
    def certificate_text(self, obj):
        from payments.certificates import CertificateError

        from .selectors import flexible_certificate

        if obj is None or obj.pk is None:
            return "—"
        try:
            cert = flexible_certificate(obj, today=clock.today())
        except CertificateError as exc:
            return exc.message
        return format_html('可以打印（验证码 {}）<a href="{}" id="certificate-link">打开缴费证明</a>', cert.code,
                           reverse("flexible_certificate_page", args=[obj.pk]))

    def has_delete_permission(self, request, obj=None):
        return False  # cancel with a reason instead

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            form = EnrollForm

            class Bound(form):
                def __init__(self, *args, **kw):
                    super().__init__(*args, request=request, **kw)

            return Bound
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["id_number", "year", "person_status", "file_held_at", "paid_previous_year", "special_group",
                    "retirement_age_reached_on"]
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change and form.created is not None:
            obj.__dict__.update(form.created.__dict__)
        # a record is never edited here: every field of the change page is read-only

    def save_related(self, request, form, formsets, change):
        pass

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if change:  # every field is read-only: payment and cancellation are the list's actions
            context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False,
                           show_delete=False)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.action(description="登记缴费（填写缴费日期和金额）", permissions=["change"])
    def record_payment(self, request, queryset):
        queryset = queryset.select_related("resident")

        def apply(data):
            ok, failed = 0, []
            rows = list(queryset.order_by("id"))
            if data.get("txn_id") and len(rows) > 1:
                return "", [refusal(e.resident.name, e.resident.id_number,
                                    "一个交易流水号只对应一笔缴费，请逐条登记（或不填流水号）") for e in rows]
            for e in rows:
                try:
                    flexible_record_payment(enrollment=e, amount=data["amount"], paid_on=data["paid_on"],
                                            channel=data["channel"], txn_id=data.get("txn_id") or None,
                                            actor=request.user)
                    ok += 1
                except FlexibleError as exc:
                    failed.append(refusal(e.resident.name, e.resident.id_number, exc.message))
            return (f"已登记缴费 {ok} 条" if ok else ""), failed

        return form_action(self, request, queryset, form_class=PaymentForm, title="登记缴费",
                           action="record_payment", apply=apply, describe=describe,
                           initial={"paid_on": date.isoformat(clock.today())})

    @admin.action(description="注销登记（填写原因；已缴费的注销并申请退费）", permissions=["change"])
    def cancel_with_reason(self, request, queryset):
        """注销登记: an unpaid enrollment is cancelled (flexible_cancel); a paid one, once the
        page's tick confirms it, is cancelled with a refund request (flexible_cancel_paid) —
        the page says so and when benefits stop.  The selection is the changelist's, so of the
        caseworker's regions only; the action needs the change permission."""
        queryset = queryset.select_related("resident", "payment")
        if too_many_for_an_action(self, request, queryset):
            return None
        today = clock.today()
        paid = list(queryset.filter(status=FlexibleStatus.PAID).order_by("id"))
        form_class = CancelPaidForm if paid else CancelForm

        if "apply" in request.POST:
            form = form_class(request.POST)
            if form.is_valid():
                done, failed = cancel_each(queryset, form.cleaned_data, request.user)
                report_action(self, request, done, failed)
                return None
        else:
            form = form_class(initial={"_selected_action": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)})
        return render(request, "admin/flexible/cancel_form.html", {
            **self.admin_site.each_context(request), "title": "注销登记", "form": form,
            "objects": [describe(e) for e in queryset.order_by("id")[:50]], "count": queryset.count(),
            "paid": [paid_consequence(e, today) for e in paid[:50]], "paid_count": len(paid),
            "today": cn_date(today), "action": "cancel_with_reason", "opts": self.model._meta})
