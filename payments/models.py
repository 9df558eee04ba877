"""The payment ledger (缴费流水): every payment, refund and reversal as an immutable record.

An enrollment's paid columns (status, paid amount, date, channel, benefit dates) are a
cache of this ledger, written in the same transaction as the record that lands on it;
``payments.services.ledger_check`` proves they agree.  A record is never changed or
deleted (a database trigger refuses both); a refund or a reversal is a record of its own.
"""

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.audit import tracked
from policy.models import MONEY, Region
from policy.rules.io import SCHEMES

RESIDENT = "resident"


class Channel(models.TextChoices):
    TAX_HALL = "tax_hall", "办税服务厅"
    ETAX = "etax", "电子税务局/税务APP"
    WECHAT = "wechat", "微信"
    ALIPAY = "alipay", "支付宝"
    BANK = "bank", "银行"
    CASH = "cash", "现金"
    COLLECTIVE = "collective", "集中代收"
    ASSISTANCE = "assistance", "部门代缴"
    FAMILY_POOL = "family_pool", "家庭共济"
    CARRIED_OVER = "carried_over", "原系统结转"
    REFUND = "refund", "退费"


# Chinese names a spreadsheet or a caller may use for a channel.
CHANNEL_ALIASES = {
    "办税服务厅": "tax_hall", "税务大厅": "tax_hall", "办税厅": "tax_hall", "POS": "tax_hall",
    "电子税务局": "etax", "税务APP": "etax", "税务app": "etax", "电子税务局/税务APP": "etax",
    "微信": "wechat", "支付宝": "alipay", "银行": "bank", "银行APP": "bank", "银行柜台": "bank",
    "自助终端": "bank", "协议扣款": "bank", "现金": "cash", "集中代收": "collective",
    "学校代收": "collective", "村委会代收": "collective", "部门代缴": "assistance", "资助代缴": "assistance",
    "家庭共济": "family_pool", "原系统结转": "carried_over", "结转": "carried_over",
}


class PayerKind(models.TextChoices):
    SELF = "self", "本人"
    OTHER_PERSON = "other_person", "他人代缴"
    COLLECTOR = "collector", "集中代收单位"
    DEPARTMENT = "department", "资助部门"
    POOL = "pool", "家庭共济账户"


class Payment(models.Model):
    """One movement of money on an enrollment: a payment (amount ≥ 0), a refund or a
    reversal (amount < 0).

    ``outcome``: ``applied`` — the payment paid the enrollment; ``duplicate`` — the money
    arrived for a person-year already paid (kept, and queued for refund); ``refund`` — money
    given back.  ``response`` is the channel API's first answer, returned again for a
    repeated request with the same body (``request_hash``)."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", "缴费"
        REFUND = "refund", "退费"
        REVERSAL = "reversal", "冲正"

    class Outcome(models.TextChoices):
        APPLIED = "applied", "已到账并计入参保登记"
        DUPLICATE = "duplicate", "重复缴费（待退费）"
        REFUND = "refund", "退费"

    kind = models.CharField("类型", max_length=10, choices=Kind.choices, default=Kind.PAYMENT)
    outcome = models.CharField("结果", max_length=10, choices=Outcome.choices)
    channel = models.CharField("缴费渠道", max_length=20, choices=Channel.choices)
    txn_id = models.CharField("交易流水号", max_length=64)
    # The references of a ledger row are checked once a statement by triggers, not by foreign-key
    # constraints checking each row at commit (payments 0007, core/db_references.py).
    enrollment = models.ForeignKey("enrollment.Enrollment", verbose_name="参保登记", on_delete=models.PROTECT,
                                   related_name="payments", null=True, blank=True, db_constraint=False)
    # the back-payment of a break year (断保补缴) lands on its repair, not on an enrollment — at
    # most one a repair (a partial unique index: the NULL of every other row is not indexed)
    gap_repair = models.ForeignKey("enrollment.GapRepair", verbose_name="断保补缴记录", on_delete=models.PROTECT,
                                   related_name="payments", null=True, blank=True, db_constraint=False,
                                   db_index=False)
    id_number = models.CharField("身份证号码", max_length=18)
    name = models.CharField("姓名", max_length=50)
    region = models.ForeignKey(Region, verbose_name="参保地", on_delete=models.PROTECT, related_name="+",
                               db_index=False, db_constraint=False)
    year = models.PositiveSmallIntegerField("待遇年度")
    amount = models.DecimalField("金额", **MONEY)
    paid_at = models.DateTimeField("缴费时间")
    paid_on = models.DateField("缴费日期（北京时间）")
    payer_kind = models.CharField("缴费人类型", max_length=20, choices=PayerKind.choices, default=PayerKind.SELF)
    payer_id = models.CharField("缴费人证件号/单位代码", max_length=64, blank=True)
    payer_name = models.CharField("缴费人/单位", max_length=100, blank=True)
    refund_of = models.ForeignKey("self", verbose_name="所退缴费", null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="refunds", db_constraint=False,
                                  db_index=False)  # indexed where set (Meta)
    request_hash = models.CharField("请求摘要", max_length=64, blank=True)
    response = models.JSONField("首次应答", null=True, blank=True)
    response_status = models.PositiveSmallIntegerField("首次应答状态码", null=True, blank=True)
    recorded_at = models.DateTimeField("记账时间", default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="记账人", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+", db_index=False,
                                    db_constraint=False)
    actor = models.CharField("来源", max_length=200, blank=True)
    note = models.CharField("说明", max_length=200, blank=True)
    # Another scheme than the resident one (payments.schemes; 灵活就业人员医疗保险): the row
    # names the scheme and its enrollment's id (that app links back with a foreign key).
    scheme = models.CharField("险种", max_length=30, choices=list(SCHEMES.items()), default=RESIDENT,
                              db_default=RESIDENT)
    scheme_enrollment_id = models.PositiveBigIntegerField("险种参保登记编号", null=True, blank=True)

    class Meta:
        verbose_name = "缴费流水"
        verbose_name_plural = "缴费流水"
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["id_number", "year"], name="payment_id_year"),
            models.Index(fields=["region", "paid_on", "channel"], name="payment_region_day_channel"),
            # the few rows of other schemes (payments.schemes), for their ledger check: a small index
            models.Index(fields=["scheme", "scheme_enrollment_id"], condition=~Q(scheme="resident"),
                         name="payment_other_scheme"),
            # Only the rows that name one: a full index held a NULL entry for every payment, and
            # every payment paid for it (bench/RESULTS.md, issue 11).
            models.Index(fields=["refund_of"], condition=Q(refund_of__isnull=False), name="payment_refund_of"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["channel", "txn_id"], name="payment_txn_unique_per_channel"),
            models.UniqueConstraint(fields=["gap_repair"], condition=Q(gap_repair__isnull=False),
                                    name="payment_one_per_gap_repair"),
            # at most one payment lands on an enrollment: the ledger's own guard against doubles
            models.UniqueConstraint(fields=["enrollment"], condition=Q(outcome="applied"),
                                    name="payment_one_applied_per_enrollment"),
            models.CheckConstraint(condition=Q(kind="payment", amount__gte=0) | Q(~Q(kind="payment"), amount__lt=0),
                                   name="payment_sign_by_kind"),
            models.CheckConstraint(condition=Q(kind="payment", outcome__in=["applied", "duplicate"])
                                   | Q(~Q(kind="payment"), outcome="refund"),
                                   name="payment_outcome_by_kind"),
            models.CheckConstraint(condition=~Q(txn_id=""), name="payment_txn_id_not_blank"),
            # a resident payment lands on an enrollment or a break-year repair; another scheme's
            # on that scheme's enrollment (issue 13)
            models.CheckConstraint(condition=Q(Q(scheme=RESIDENT, scheme_enrollment_id__isnull=True)
                                               & (Q(enrollment__isnull=False, gap_repair__isnull=True)
                                                  | Q(enrollment__isnull=True, gap_repair__isnull=False)))
                                   | Q(~Q(scheme=RESIDENT), enrollment__isnull=True, gap_repair__isnull=True,
                                       scheme_enrollment_id__isnull=False),
                                   name="payment_on_what_it_pays"),
            models.UniqueConstraint(fields=["scheme", "scheme_enrollment_id"],
                                    condition=Q(outcome="applied", scheme_enrollment_id__isnull=False),
                                    name="payment_one_applied_per_scheme_enrollment"),
        ]
        triggers = [
            pgtrigger.Protect(name="payment_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} {self.txn_id} {self.amount} 元"


@tracked()
class Refund(models.Model):
    """The refund queue: every reason in one list.  Requested (by the system or a
    caseworker), approved or rejected by a *different* caseworker (four eyes), then paid
    out as a ledger record (``payment``)."""

    class Reason(models.TextChoices):
        DUPLICATE = "duplicate", "重复缴费"
        DYNAMIC_ADJUSTMENT = "dynamic_adjustment", "动态调整退还资助部分"
        COLLEGE_LEAVER = "college_leaver", "大学生转学/退学/入伍退还剩余年度"
        CANCEL_PAID = "cancel_paid", "已缴费登记注销"

    class Status(models.TextChoices):
        REQUESTED = "requested", "待审核"
        APPROVED = "approved", "已审核（待退付）"
        REJECTED = "rejected", "已驳回"
        PAID = "paid", "已退付"

    # none for a refund of another scheme's payment (payments.schemes): its source payment says what
    enrollment = models.ForeignKey("enrollment.Enrollment", verbose_name="参保登记", on_delete=models.PROTECT,
                                   related_name="refund_requests", null=True, blank=True)
    source_payment = models.ForeignKey(Payment, verbose_name="所退缴费", null=True, blank=True,
                                       on_delete=models.PROTECT, related_name="refund_requests")
    id_number = models.CharField("身份证号码", max_length=18, db_index=True)
    name = models.CharField("姓名", max_length=50)
    region = models.ForeignKey(Region, verbose_name="参保地", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField("待遇年度")
    reason = models.CharField("退费原因", max_length=30, choices=Reason.choices)
    amount = models.DecimalField("退费金额", **MONEY)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.REQUESTED)
    requested_at = models.DateTimeField("申请时间", default=timezone.now)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="申请人", null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="+")
    requested_actor = models.CharField("申请来源", max_length=200, blank=True)
    decided_at = models.DateTimeField("审核时间", null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="审核人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    decision_note = models.CharField("审核意见", max_length=200, blank=True)
    # one open or paid request per owed refund; a rejected one may be followed by another
    owed_refund = models.ForeignKey("subsidies.OwedRefund", verbose_name="资助部分应退记录", null=True,
                                    blank=True, on_delete=models.PROTECT, related_name="refund_requests")
    payment = models.OneToOneField(Payment, verbose_name="退费流水", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="refund_request")
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "退费申请"
        verbose_name_plural = "退费申请"
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["region", "status"], name="refund_region_status")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(condition=Q(enrollment__isnull=False) | Q(source_payment__isnull=False),
                                   name="refund_names_what_it_refunds"),
            # four eyes: whoever requested it never decides it
            models.CheckConstraint(condition=Q(decided_by__isnull=True) | Q(requested_by__isnull=True)
                                   | ~Q(decided_by=models.F("requested_by")), name="refund_four_eyes"),
            models.UniqueConstraint(fields=["source_payment"], condition=Q(source_payment__isnull=False)
                                    & ~Q(status="rejected"), name="refund_once_per_payment"),
            models.UniqueConstraint(fields=["owed_refund"], condition=Q(owed_refund__isnull=False)
                                    & ~Q(status="rejected"), name="refund_once_per_owed_refund"),
        ]

    def __str__(self):
        return f"{self.name} {self.year} 年度 {self.get_reason_display()} {self.amount} 元"


# --- reconciliation with the tax bureau (对账) ------------------------------------------


class TaxDeposit(models.Model):
    """One deposit record of the tax bureau (税务入库记录), as its file gave it: kept once per
    channel and transaction id, so a file imported again adds nothing."""

    channel = models.CharField("缴费渠道", max_length=20, choices=Channel.choices)
    txn_id = models.CharField("交易流水号", max_length=64)
    deposited_on = models.DateField("入库日期")
    id_number = models.CharField("身份证号码", max_length=18)
    year = models.PositiveSmallIntegerField("待遇年度")
    amount = models.DecimalField("金额", **MONEY)
    run = models.ForeignKey("ReconciliationRun", verbose_name="首次导入于", on_delete=models.PROTECT,
                            related_name="deposits")
    imported_at = models.DateTimeField("导入时间", default=timezone.now)

    class Meta:
        verbose_name = "税务入库记录"
        verbose_name_plural = "税务入库记录"
        indexes = [models.Index(fields=["deposited_on", "channel"], name="taxdeposit_day_channel")]
        constraints = [
            models.UniqueConstraint(fields=["channel", "txn_id"], name="taxdeposit_txn_unique_per_channel"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="taxdeposit_amount_not_negative"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} {self.txn_id} {self.amount} 元"


class ReconciliationRun(models.Model):
    """One tax-bureau file matched against the ledger (对账批次).  The same file (the same
    deposits) imported again is the same run: its counts and items are worked out again and
    only rewritten when the ledger has changed since."""

    digest = models.CharField("文件内容摘要", max_length=64, unique=True)
    file_name = models.CharField("文件名", max_length=200, blank=True)
    day_from = models.DateField("入库日期自")
    day_to = models.DateField("入库日期至")
    channels = models.JSONField("渠道", default=list)
    regions = models.JSONField("涉及地区", default=list)
    rows = models.PositiveIntegerField("行数", default=0)
    matched = models.PositiveIntegerField("一致", default=0)
    missing_here = models.PositiveIntegerField("我方无记录", default=0)
    missing_there = models.PositiveIntegerField("税务无记录", default=0)
    amount_differs = models.PositiveIntegerField("金额不符", default=0)
    imported_at = models.DateTimeField("首次导入时间", default=timezone.now)
    checked_at = models.DateTimeField("最近核对时间", default=timezone.now)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="导入人", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    actor = models.CharField("来源", max_length=200, blank=True)

    class Meta:
        verbose_name = "对账批次"
        verbose_name_plural = "对账批次"
        ordering = ["-imported_at", "-id"]

    def __str__(self):
        return f"对账 {self.day_from}–{self.day_to}（{self.file_name or '命令行'}）"


class ReconciliationItem(models.Model):
    """A difference a run found: a deposit we hold no payment for, a payment the bureau's
    file does not hold, or one transaction with two amounts."""

    class Kind(models.TextChoices):
        MISSING_HERE = "missing_here", "我方无缴费记录"
        MISSING_THERE = "missing_there", "税务无入库记录"
        AMOUNT_DIFFERS = "amount_differs", "金额不符"

    run = models.ForeignKey(ReconciliationRun, verbose_name="对账批次", on_delete=models.CASCADE,
                            related_name="items")
    kind = models.CharField("差异类型", max_length=20, choices=Kind.choices)
    channel = models.CharField("缴费渠道", max_length=20, choices=Channel.choices)
    txn_id = models.CharField("交易流水号", max_length=64)
    id_number = models.CharField("身份证号码", max_length=18, blank=True)
    year = models.PositiveSmallIntegerField("待遇年度", null=True, blank=True)
    region = models.ForeignKey(Region, verbose_name="参保地", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    payment = models.ForeignKey(Payment, verbose_name="我方缴费", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")
    our_amount = models.DecimalField("我方金额", null=True, blank=True, **MONEY)
    their_amount = models.DecimalField("税务金额", null=True, blank=True, **MONEY)
    paid_on = models.DateField("缴费日期", null=True, blank=True)
    deposited_on = models.DateField("入库日期", null=True, blank=True)

    class Meta:
        verbose_name = "对账差异"
        verbose_name_plural = "对账差异"
        ordering = ["kind", "channel", "txn_id"]
        indexes = [models.Index(fields=["run", "kind"], name="reconitem_run_kind")]
        constraints = [
            # a transaction id may show on both sides: deposited for one person, paid here for another
            models.UniqueConstraint(fields=["run", "channel", "txn_id", "kind"],
                                    name="reconitem_once_per_run_txn_kind"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.txn_id}"
