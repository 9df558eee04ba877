"""A person's flexible-employment enrollment per benefit year (灵活就业人员医疗保险参保).

The amounts, timing and dates are the answer of the pure rule
(policy.rules.flexible), written by the services; nothing is computed here.  A payment is a
row of the payments ledger (``payment``); the paid columns are its cache (flexible.ledger).
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.audit import tracked
from policy.rules.flexible import FILE_HOLDERS, FLEX_STATUSES, FLEX_TIMINGS

MONEY = {"max_digits": 14, "decimal_places": 2,
         "validators": [MinValueValidator(Decimal("0"), message="金额不能为负数")]}


class FlexibleStatus(models.TextChoices):
    REGISTERED = "registered", "已登记（待缴费）"
    PAID = "paid", "已缴费"
    CANCELLED = "cancelled", "已注销"


@tracked()
class FlexibleEnrollment(models.Model):
    resident = models.ForeignKey("enrollment.Resident", verbose_name="参保人", on_delete=models.PROTECT,
                                 related_name="flexible_enrollments")
    region = models.ForeignKey("policy.Region", verbose_name="参保地", on_delete=models.PROTECT,
                               related_name="+")
    year = models.PositiveSmallIntegerField("待遇年度")
    status = models.CharField("状态", max_length=12, choices=FlexibleStatus.choices,
                              default=FlexibleStatus.REGISTERED)
    person_status = models.CharField("人员状态", max_length=12, choices=list(FLEX_STATUSES.items()))
    file_held_at = models.CharField("档案托管", max_length=30, choices=list(FILE_HOLDERS.items()))
    paid_previous_year = models.BooleanField("已缴纳上一年度医疗保险费")
    retirement_age_reached_on = models.DateField("到达法定退休年龄日期", null=True, blank=True)

    basic_amount = models.DecimalField("基本医疗保险（元）", null=True, blank=True,
                                       help_text="退休人员不缴纳，为空", **MONEY)
    large_medical_amount = models.DecimalField("大额医疗补助（元）", null=True, blank=True, **MONEY)
    critical_illness_amount = models.DecimalField("大病保险（元）", null=True, blank=True, **MONEY)
    amount_due = models.DecimalField("应缴金额（元）", **MONEY)

    timing = models.CharField("缴费情形", max_length=20, blank=True, choices=list(FLEX_TIMINGS.items()))
    interruption_months = models.PositiveSmallIntegerField("中断月数", default=0)
    makeup_basic = models.DecimalField("补足中断期间基本医疗保险费（元）", default=Decimal("0.00"),
                                       help_text="已含在应缴金额内", **MONEY)
    paid_amount = models.DecimalField("实缴金额（元）", null=True, blank=True, **MONEY)
    paid_on = models.DateField("缴费日期", null=True, blank=True)
    benefit_start = models.DateField("待遇开始", null=True, blank=True)
    benefit_end = models.DateField("待遇结束", null=True, blank=True)
    waiting_months = models.PositiveSmallIntegerField("等待期（月）", default=0)
    certificate_from = models.DateField("缴费证明可打印日", null=True, blank=True)
    retired_from = models.DateField("在职转退休自", null=True, blank=True)
    # the ledger row that paid it (payments.Payment, scheme flexible_employment): the paid
    # columns above are its cache, written with it in one transaction (flexible.ledger)
    payment = models.OneToOneField("payments.Payment", verbose_name="缴费流水", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="flexible_enrollment")

    registered_at = models.DateTimeField("登记时间", default=timezone.now)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="登记人", null=True,
                                      blank=True, on_delete=models.PROTECT, related_name="+")
    cancelled_at = models.DateTimeField("注销时间", null=True, blank=True)
    cancel_reason = models.CharField("注销原因", max_length=200, blank=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "灵活就业人员参保"
        verbose_name_plural = "灵活就业人员参保"
        ordering = ["-year", "-id"]
        indexes = [models.Index(fields=["region", "year", "status"], name="flex_region_year_status")]
        constraints = [
            models.UniqueConstraint(fields=["resident", "year"], condition=~Q(status="cancelled"),
                                    name="flex_one_per_person_year"),
            models.CheckConstraint(condition=Q(amount_due__gte=0), name="flex_amount_due_nonneg"),
            models.CheckConstraint(condition=Q(paid_amount__isnull=True) | Q(paid_amount__gte=0),
                                   name="flex_paid_amount_nonneg"),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_on__isnull=False, paid_amount__isnull=False,
                                                benefit_start__isnull=False),
                name="flex_paid_has_payment"),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | (Q(cancelled_at__isnull=False) & ~Q(cancel_reason="")),
                name="flex_cancelled_has_reason"),
            # paid exactly when a ledger row is linked (issue 13)
            models.CheckConstraint(condition=Q(status="paid", payment__isnull=False)
                                   | Q(~Q(status="paid"), payment__isnull=True),
                                   name="flex_paid_is_on_the_ledger"),
        ]

    def __str__(self):
        return f"{self.year} 年度灵活就业人员医疗保险 {self.get_person_status_display()}（{self.get_status_display()}）"
