"""Family pools (家庭共济, POLICY.md §6): employees' personal accounts, pool networks, and the
December premium deduction.

- **EmployeeAccount** is an employee's personal account as the employee scheme reports it
  (imported); its two balances are a cache of its **AccountEntry** ledger (append-only):
  balance = sum of entries per bucket, checked by ``family_pool.accounts.account_check``.
  The account year runs 1 July – 30 June; the 30 June settlement moves the current-year
  balance into the historical one (two entries).
- **Network**: one organizer who funds it with the historical balance; **Participation**
  holds the organizer and the members — one row per person and network, and a person takes
  part in at most one network at a time (a partial unique constraint over *active* rows of
  both roles: the organizer is never a member anywhere, a member never organises).
- **ModeChange**: the organizer's choices of 共济支付 / 共济缴费 over time (append-only), so
  the December batch takes the modes as they stood at the cut-off.
- **PoolDeduction**: one line per member and benefit year per batch decision; a deduction
  (status ``deducted``) is unique per (member, year) — never twice, whatever runs.
- **MedicalSettlement**: 共济支付 of a member's self-paid cost (own historical balance
  first for an employee member, then the pool), excluded from other cost-reduction schemes.
"""

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.audit import tracked
from policy.models import MONEY, Region
from policy.rules.types import RELATIONS


class AccountStatus(models.TextChoices):
    NORMAL = "normal", "正常"
    FROZEN = "frozen", "冻结"


# statement level: the December batch moves hundreds of thousands of balances with one UPDATE
# a chunk; the same events (one per changed row, with the acting context) written by one
# INSERT … SELECT instead of one PL/pgSQL call per row (bench/RESULTS.md)
@tracked(level=pghistory.Statement)
class EmployeeAccount(models.Model):
    id_number = models.CharField("身份证号码", max_length=18, unique=True)
    name = models.CharField("姓名", max_length=50)
    insured_region = models.CharField("职工医保参保地", max_length=6,
                                      help_text="行政区划代码；宁波、吕梁的组建人可在本省任一地参保")
    historical_balance = models.DecimalField("历年账户余额", **MONEY)
    current_balance = models.DecimalField("当年账户余额", **MONEY)
    status = models.CharField("账户状态", max_length=10, choices=AccountStatus.choices, default=AccountStatus.NORMAL)
    imported_at = models.DateTimeField("导入时间", default=timezone.now)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "职工个人账户"
        verbose_name_plural = "职工个人账户"
        ordering = ["id_number"]
        constraints = [
            models.CheckConstraint(condition=Q(id_number__regex=r"^\d{17}[\dX]$"), name="account_id_format"),
            models.CheckConstraint(condition=Q(historical_balance__gte=0) & Q(current_balance__gte=0),
                                   name="account_balances_not_negative"),
            models.CheckConstraint(condition=Q(insured_region__regex=r"^\d{6}$"), name="account_region_code"),
        ]

    def __str__(self):
        return f"{self.name} 个人账户"


class AccountEntry(models.Model):
    """One movement on an account, in one bucket; never changed or deleted."""

    class Bucket(models.TextChoices):
        HISTORICAL = "historical", "历年账户"
        CURRENT = "current", "当年账户"

    class Kind(models.TextChoices):
        IMPORT = "import", "导入（与职工医保系统对齐）"
        SETTLEMENT = "settlement", "6月30日结转"
        POOL_PREMIUM = "pool_premium", "共济缴费扣款"
        POOL_MEDICAL = "pool_medical", "共济支付"
        OWN_MEDICAL = "own_medical", "本人历年账户支付"
        POOL_REFUND = "pool_refund", "共济缴费退回"
        REVERSAL = "reversal", "冲正"

    # checked once a statement by triggers, not per row at commit (family_pool 0004)
    account = models.ForeignKey(EmployeeAccount, verbose_name="账户", on_delete=models.PROTECT,
                                related_name="entries", db_constraint=False)
    bucket = models.CharField("账户", max_length=10, choices=Bucket.choices)
    kind = models.CharField("类型", max_length=20, choices=Kind.choices)
    amount = models.DecimalField("金额", **MONEY)  # + in, − out
    created_at = models.DateTimeField("记账时间", default=timezone.now)
    actor = models.CharField("来源", max_length=200, blank=True)
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "个人账户流水"
        verbose_name_plural = "个人账户流水"
        ordering = ["account_id", "id"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="account_entry_not_zero")]
        triggers = [pgtrigger.Protect(name="account_entry_append_only",
                                      operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount}（{self.get_bucket_display()}）"


@tracked()
class Network(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "有效"
        DISSOLVED = "dissolved", "已解散"

    organizer_id_number = models.CharField("组建人身份证号码", max_length=18)
    organizer_name = models.CharField("组建人姓名", max_length=50)
    account = models.ForeignKey(EmployeeAccount, verbose_name="组建人账户", on_delete=models.PROTECT,
                                related_name="networks")
    region = models.ForeignKey(Region, verbose_name="共济网所在地区", on_delete=models.PROTECT, related_name="+")
    medical_mode = models.BooleanField("共济支付", default=False)
    premium_mode = models.BooleanField("共济缴费", default=False)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField("组建时间", default=timezone.now)
    dissolved_at = models.DateTimeField("解散时间", null=True, blank=True)

    class Meta:
        verbose_name = "家庭共济网"
        verbose_name_plural = "家庭共济网"
        ordering = ["-id"]
        indexes = [models.Index(fields=["region", "status"], name="network_region_status")]
        constraints = [
            models.UniqueConstraint(fields=["organizer_id_number"], condition=Q(status="active"),
                                    name="network_one_active_per_organizer"),
            models.CheckConstraint(condition=Q(status="active", dissolved_at__isnull=True)
                                   | Q(status="dissolved", dissolved_at__isnull=False),
                                   name="network_dissolved_has_time"),
        ]

    def __str__(self):
        return f"{self.organizer_name} 的家庭共济网"


class RegisteredVia(models.TextChoices):
    SCHOOL = "school", "学校登记"
    COMMUNITY = "community", "社区登记"
    ONLINE = "online", "网上登记"
    COUNTER = "counter", "经办窗口"


@tracked()
class Participation(models.Model):
    class Role(models.TextChoices):
        ORGANIZER = "organizer", "组建人"
        MEMBER = "member", "成员"

    network = models.ForeignKey(Network, verbose_name="共济网", on_delete=models.PROTECT,
                                related_name="participations")
    id_number = models.CharField("身份证号码", max_length=18)
    name = models.CharField("姓名", max_length=50)
    role = models.CharField("角色", max_length=10, choices=Role.choices)
    relation = models.CharField("与组建人关系", max_length=30, blank=True, choices=list(RELATIONS.items()))
    registered_via = models.CharField("登记方式", max_length=10, blank=True, choices=RegisteredVia.choices,
                                      help_text="子女的共济缴费取消期限按登记方式而定（学校：12月20日17时前；社区：登记当日）")
    registered_on = models.DateField("登记日期", null=True, blank=True)
    joined_at = models.DateTimeField("加入时间", default=timezone.now)
    left_at = models.DateTimeField("退出时间", null=True, blank=True)

    class Meta:
        verbose_name = "共济网成员"
        verbose_name_plural = "共济网成员"
        ordering = ["network_id", "role", "id"]
        indexes = [models.Index(fields=["network", "left_at"], name="participation_network_active")]
        constraints = [
            # one network per person at a time, whatever the role
            models.UniqueConstraint(fields=["id_number"], condition=Q(left_at__isnull=True),
                                    name="participation_one_network_at_a_time"),
            models.CheckConstraint(condition=Q(role="organizer", relation="") | Q(role="member") & ~Q(relation=""),
                                   name="participation_member_has_relation"),
        ]

    def __str__(self):
        return f"{self.name}（{self.get_role_display()}）"


class ModeChange(models.Model):
    """The organizer's modes from ``changed_at`` on (append-only): the batch reads the last
    change at or before the cut-off."""

    network = models.ForeignKey(Network, verbose_name="共济网", on_delete=models.PROTECT, related_name="mode_changes")
    medical_mode = models.BooleanField("共济支付")
    premium_mode = models.BooleanField("共济缴费")
    changed_at = models.DateTimeField("变更时间", default=timezone.now)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    actor = models.CharField("来源", max_length=200, blank=True)

    class Meta:
        verbose_name = "共济方式变更"
        verbose_name_plural = "共济方式变更"
        ordering = ["network_id", "changed_at", "id"]
        indexes = [models.Index(fields=["network", "changed_at"], name="mode_change_network_time")]
        triggers = [pgtrigger.Protect(name="mode_change_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self):
        modes = "、".join(m for m, on in (("共济支付", self.medical_mode), ("共济缴费", self.premium_mode)) if on)
        return f"{timezone.localtime(self.changed_at):%Y-%m-%d %H:%M} 改为：{modes or '均不开通'}"


class PoolDeduction(models.Model):
    """The December batch's decision for one member and benefit year.

    Its references are plain columns, not database foreign keys (``db_constraint=False``):
    the batch writes this table in the same transaction in which it reads the member and
    network, holds the enrollment's row lock, and creates the payment and the account
    entry (both append-only); ``region`` copies the enrollment's.  Seven foreign-key checks
    a row at commit were a quarter of the batch's database time (bench/RESULTS.md).  What
    they guarded — and more: the member belongs to the network, the payment and the entry
    are the deduction's own, one deduction per payment and per entry — is proved by
    ``family_pool.deductions.deduction_check`` (``manage.py deduction_check``)."""

    class Status(models.TextChoices):
        DEDUCTED = "deducted", "已扣款"
        INSUFFICIENT = "insufficient_balance", "余额不足"
        SKIPPED_PAID = "skipped_already_paid", "已由其他渠道缴费"
        FAILED = "failed", "处理失败"

    run = models.ForeignKey("core.BatchRun", verbose_name="批处理任务", null=True, blank=True,
                            on_delete=models.PROTECT, related_name="+", db_constraint=False)
    network = models.ForeignKey(Network, verbose_name="共济网", on_delete=models.PROTECT, related_name="deductions",
                                db_constraint=False, db_index=False)
    member = models.ForeignKey(Participation, verbose_name="成员", on_delete=models.PROTECT,
                               related_name="deductions", db_constraint=False, db_index=False)
    id_number = models.CharField("身份证号码", max_length=18)
    name = models.CharField("姓名", max_length=50)
    region = models.ForeignKey(Region, verbose_name="参保地", on_delete=models.PROTECT, related_name="+",
                               db_constraint=False, db_index=False)
    year = models.PositiveSmallIntegerField("待遇年度")
    enrollment = models.ForeignKey("enrollment.Enrollment", verbose_name="参保登记", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False)
    amount = models.DecimalField("应缴金额", **MONEY)
    status = models.CharField("结果", max_length=25, choices=Status.choices)
    shortfall = models.DecimalField("差额", null=True, blank=True, **MONEY)
    payment = models.ForeignKey("payments.Payment", verbose_name="缴费流水", null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False)
    entry = models.ForeignKey(AccountEntry, verbose_name="账户流水", null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False)
    decided_at = models.DateTimeField("处理时间", default=timezone.now)
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "共济缴费扣款"
        verbose_name_plural = "共济缴费扣款"
        ordering = ["-decided_at", "-id"]
        indexes = [models.Index(fields=["region", "year", "status"], name="deduction_region_year_status")]
        constraints = [
            models.UniqueConstraint(fields=["id_number", "year"], condition=Q(status="deducted"),
                                    name="deduction_once_per_member_year"),
            models.CheckConstraint(condition=~Q(status="deducted") | Q(payment__isnull=False, entry__isnull=False),
                                   name="deduction_has_payment_and_entry"),
            models.CheckConstraint(condition=~Q(status="insufficient_balance") | Q(shortfall__gte=0),
                                   name="deduction_insufficient_has_shortfall"),
        ]

    def __str__(self):
        return f"{self.name} {self.year}年度 {self.get_status_display()}"


class MedicalSettlement(models.Model):
    """共济支付: a member's self-paid cost met from the pool (and an employee member's own
    historical balance first); excluded from other cost-reduction schemes."""

    network = models.ForeignKey(Network, verbose_name="共济网", on_delete=models.PROTECT,
                                related_name="settlements")
    member = models.ForeignKey(Participation, verbose_name="成员", on_delete=models.PROTECT, related_name="+")
    request_id = models.CharField("结算请求号", max_length=64, unique=True)
    purpose = models.CharField("用途", max_length=20, default="medical",
                               choices=[("medical", "医疗费用自付部分"), ("commercial", "商业健康保险（如沪惠保）")])
    cost = models.DecimalField("自付费用", **MONEY)
    from_own = models.DecimalField("本人历年账户支付", **MONEY)
    from_pool = models.DecimalField("共济账户支付", **MONEY)
    unpaid = models.DecimalField("仍需自付", **MONEY)
    excluded_from_other_schemes = models.BooleanField("不再纳入其他减负范围", default=True)
    settled_at = models.DateTimeField("结算时间", default=timezone.now)

    class Meta:
        verbose_name = "共济支付结算"
        verbose_name_plural = "共济支付结算"
        ordering = ["-settled_at", "-id"]
        constraints = [models.CheckConstraint(
            condition=Q(cost=models.F("from_own") + models.F("from_pool") + models.F("unpaid")),
            name="settlement_parts_add_up")]

    def __str__(self):
        return f"共济支付结算 {self.request_id}"
