"""Assistance identities (资助参保身份) from the certifying departments' rosters.

An identity is kept by ID number, as the rosters give it: a person not yet
registered here is a *pending* identity, which applies by itself when they
register (every pricing path reads identities by ID number through
``subsidies.selectors``).  Whether an identity is matched is therefore a fact
of the data, never a flag to keep in step: a resident with that number whose
region runs the policy of the identity's region (``subsidies.selectors.matched``).

A department's roster for a region and year is replaced whole by its next
import: identities it no longer holds are marked removed (never deleted), and
each import keeps its difference (new / updated / removed) as RosterChange rows.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.audit import tracked
from policy.models import MONEY, Region
from policy.rules.types import IDENTITIES

from .departments import DEPARTMENTS


class RosterImport(models.Model):
    """One department's roster for a region and benefit year, as imported once."""

    region = models.ForeignKey(Region, verbose_name="地区", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField("待遇年度")
    department = models.CharField("认定部门", max_length=30, choices=list(DEPARTMENTS.items()))
    department_name = models.CharField("名单上的部门名称", max_length=100, blank=True)
    file_name = models.CharField("文件", max_length=200)
    run = models.ForeignKey("core.BatchRun", verbose_name="批处理任务", null=True, blank=True,
                            on_delete=models.SET_NULL, related_name="+")
    imported_at = models.DateTimeField("导入时间", default=timezone.now)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="导入人", null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    actor = models.CharField("执行者", max_length=200, blank=True)
    rows = models.PositiveIntegerField("名单人数", default=0)
    new = models.PositiveIntegerField("新增", default=0)
    updated = models.PositiveIntegerField("信息变更", default=0)
    unchanged = models.PositiveIntegerField("无变化", default=0)
    removed = models.PositiveIntegerField("移出", default=0)
    pending = models.PositiveIntegerField("尚未参保登记", default=0)
    repriced = models.PositiveIntegerField("重新核定应缴", default=0)
    refunds_owed = models.PositiveIntegerField("应退资助部分", default=0)

    class Meta:
        verbose_name = "困难人员名单导入"
        verbose_name_plural = "困难人员名单导入"
        ordering = ["-imported_at", "-id"]
        # the hand-over to the tax bureau holds full ID numbers: a permission of its own
        permissions = [("export_tax_flags", "可以导出税务特殊缴费标识文件（含完整身份证号码）")]
        indexes = [models.Index(fields=["region", "year", "department"], name="roster_region_year_dept")]

    def __str__(self):
        return f"{self.get_department_display()} {self.year} 年度名单（{self.imported_at:%Y-%m-%d}）"


@tracked()
class AssistanceIdentity(models.Model):
    """One person's identity for one benefit year, as certified by a department.

    ``removed_at`` set: the department's later roster no longer holds it (kept
    for the record; it no longer counts)."""

    id_number = models.CharField("身份证号码", max_length=18)
    name = models.CharField("姓名", max_length=50)
    # no index of its own: (region, year, department) serves every region lookup, and the FK's
    # two indexes (plain and varchar_pattern_ops) cost every roster import (bench/RESULTS.md)
    # The three references are checked by statement-level triggers, not foreign-key constraints
    # (REFERENCES_CHECKED_BY_STATEMENT below): as strict, a set-based check a statement instead
    # of a deferred check a row (100,000 rows a roster import: ~2 s at commit, bench/RESULTS.md).
    region = models.ForeignKey(Region, verbose_name="地区", on_delete=models.PROTECT, related_name="+",
                               db_index=False, db_constraint=False)
    year = models.PositiveSmallIntegerField("待遇年度")
    identity = models.CharField("困难身份", max_length=40, choices=list(IDENTITIES.items()))
    department = models.CharField("认定部门", max_length=30, blank=True, choices=list(DEPARTMENTS.items()))
    certified_on = models.DateField("认定日期", null=True, blank=True)
    # 003 §二(五): a disability certificate new in 2025 counts only if assessed (残疾评定) by 10-31
    assessed_on = models.DateField("残疾评定日期", null=True, blank=True)
    source = models.CharField("来源名单", max_length=200, blank=True)
    roster = models.ForeignKey(RosterImport, verbose_name="导入批次", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="identities", db_index=False,
                               db_constraint=False)
    removed_at = models.DateTimeField("移出时间", null=True, blank=True)
    removed_by = models.ForeignKey(RosterImport, verbose_name="移出批次", null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+", db_index=False,
                                   db_constraint=False)
    created_at = models.DateTimeField("导入时间", auto_now_add=True)

    class Meta:
        verbose_name = "资助身份"
        verbose_name_plural = "资助身份"
        ordering = ["region_id", "year", "id_number"]
        # By ID number: the unique constraint's index (id_number first) serves every lookup; an
        # index of (id_number, year) beside it went unused and cost every roster import
        # (bench/RESULTS.md).
        indexes = [
            models.Index(fields=["region", "year", "department"], name="identity_region_year_dept"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["id_number", "region", "year", "department", "identity"],
                                    name="identity_unique_per_department"),
            models.CheckConstraint(condition=Q(id_number__regex=r"^\d{17}[\dX]$"),
                                   name="identity_id_format"),
            models.CheckConstraint(condition=Q(removed_at__isnull=True) | Q(removed_by__isnull=False)
                                   | Q(roster__isnull=True), name="identity_removed_by_a_roster"),
        ]

    def __str__(self):
        return f"{self.get_identity_display()} {self.year}"


class RosterChange(models.Model):
    """One line of a roster import's difference: who came, changed or left."""

    class Change(models.TextChoices):
        NEW = "new", "新增"
        UPDATED = "updated", "信息变更"
        REMOVED = "removed", "移出"

    roster = models.ForeignKey(RosterImport, verbose_name="导入批次", on_delete=models.CASCADE,
                               related_name="changes", db_constraint=False)  # checked by a trigger
    id_number = models.CharField("身份证号码", max_length=18)
    name = models.CharField("姓名", max_length=50)
    identity = models.CharField("困难身份", max_length=40, choices=list(IDENTITIES.items()))
    change = models.CharField("变化", max_length=10, choices=Change.choices)
    certified_on = models.DateField("认定日期", null=True, blank=True)

    class Meta:
        verbose_name = "名单变化"
        verbose_name_plural = "名单变化"
        ordering = ["roster_id", "change", "id_number"]

    def __str__(self):
        return f"{self.name} {self.get_change_display()}"


@tracked()
class OwedRefund(models.Model):
    """Dynamic adjustment (003 §二): a person certified during the window after
    having paid is owed the assistance part back.  Recorded here; the payments
    ledger pays it out (status → paid).  One per enrollment: a later, higher
    identity raises the amount while it is still owed; a department's removal of
    the identity cancels it."""

    class Status(models.TextChoices):
        OWED = "owed", "待退付"
        PAID = "paid", "已退付"
        CANCELLED = "cancelled", "已撤销"

    enrollment = models.OneToOneField("enrollment.Enrollment", verbose_name="参保登记",
                                      on_delete=models.PROTECT, related_name="owed_refund")
    id_number = models.CharField("身份证号码", max_length=18, db_index=True)
    name = models.CharField("姓名", max_length=50)
    region = models.ForeignKey(Region, verbose_name="参保地", on_delete=models.PROTECT, related_name="+",
                               db_constraint=False)  # checked by a trigger (see AssistanceIdentity)
    year = models.PositiveSmallIntegerField("待遇年度")
    identity = models.CharField("资助身份", max_length=40, choices=list(IDENTITIES.items()))
    paid_amount = models.DecimalField("已缴金额", **MONEY)
    due_with_assistance = models.DecimalField("资助后应缴", **MONEY)
    amount = models.DecimalField("应退金额", **MONEY)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.OWED)
    roster = models.ForeignKey(RosterImport, verbose_name="产生于名单导入", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+", db_index=False,
                               db_constraint=False)  # checked by a trigger (see AssistanceIdentity)
    created_at = models.DateTimeField("生成时间", default=timezone.now)
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "资助部分应退"
        verbose_name_plural = "资助部分应退"
        ordering = ["region_id", "year", "id"]
        indexes = [models.Index(fields=["region", "year", "status"], name="owed_refund_region_year")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="owed_refund_positive"),
            models.CheckConstraint(condition=Q(amount__lte=models.F("paid_amount")),
                                   name="owed_refund_not_over_paid"),
        ]

    def __str__(self):
        return f"{self.name} {self.year} 年度应退 {self.amount} 元"
