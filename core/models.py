"""Batch runs and their chunks (core.batch runs them); the working-day calendar (core.workdays reads it)."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from core.audit import tracked


class BatchRun(models.Model):
    """One piece of long work (a renewal, an import, a December batch) with its progress.

    A run is split into chunks (key ranges).  ``scope`` names what the run works on
    (e.g. ``330200-2026``): at most one queued or running run per kind and scope, by a
    constraint, so a second start joins the first instead of doubling it.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "进行中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    kind = models.CharField("任务", max_length=40)
    scope = models.CharField("范围", max_length=100, blank=True,
                             help_text="同一任务同一范围同时只能有一个在排队或进行中")
    params = models.JSONField("参数", default=dict)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField("总数", default=0)
    processed = models.PositiveIntegerField("已处理", default=0)
    succeeded = models.PositiveIntegerField("成功", default=0)
    failed = models.PositiveIntegerField("失败/跳过", default=0)
    chunks_total = models.PositiveIntegerField("分片数", default=0)
    chunks_done = models.PositiveIntegerField("已完成分片", default=0)
    summary = models.JSONField("结果", default=dict, blank=True)
    report = models.TextField("错误报告", blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="发起人", null=True,
                                   blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)
    heartbeat_at = models.DateTimeField("最近心跳", null=True, blank=True)
    takeovers = models.PositiveSmallIntegerField("接管次数", default=0)

    class Meta:
        verbose_name = "批处理任务"
        verbose_name_plural = "批处理任务"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="batchrun_status_heartbeat")]
        constraints = [
            models.UniqueConstraint(fields=["kind", "scope"],
                                    condition=Q(status__in=["queued", "running"]) & ~Q(scope=""),
                                    name="batchrun_one_active_per_scope"),
        ]

    def __str__(self):
        from .batch import JOBS

        job = JOBS.get(self.kind)
        return f"{job.label if job else self.kind} #{self.pk}"


class BatchChunk(models.Model):
    """A key range of a run: ``lo < key <= hi``.  Its work and its state commit together."""

    class Status(models.TextChoices):
        PENDING = "pending", "待处理"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    run = models.ForeignKey(BatchRun, verbose_name="批处理任务", on_delete=models.CASCADE,
                            related_name="chunks")
    seq = models.PositiveIntegerField("序号")
    lo = models.BigIntegerField("起（不含）")
    hi = models.BigIntegerField("止（含）")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    counts = models.JSONField("计数", default=dict, blank=True)
    error = models.TextField("错误", blank=True)
    worker = models.CharField("处理进程", max_length=200, blank=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "批处理分片"
        verbose_name_plural = "批处理分片"
        ordering = ["run_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["run", "seq"], name="batchchunk_unique_seq"),
            models.CheckConstraint(condition=Q(hi__gte=models.F("lo")), name="batchchunk_range"),
        ]
        indexes = [models.Index(fields=["run", "status"], name="batchchunk_run_status")]

    def __str__(self):
        return f"{self.run_id}/{self.seq} ({self.lo}, {self.hi}]"


# --- The working-day calendar (工作日日历) ----------------------------------------------------
# Only the exceptions to the Monday–Friday rule are stored: holidays on weekdays and working
# weekends (调休上班).  A date whose year has no WorkdayCalendarYear is unknown, never guessed.
# core.workdays reads these tables; chinesecalendar seeds the years it knows.

@tracked()
class WorkdayCalendarYear(models.Model):
    """A year whose holiday arrangement the bureau holds (from chinesecalendar or entered by hand)."""

    MANUAL = "经办人录入"

    year = models.PositiveSmallIntegerField(
        "年度", unique=True, validators=[MinValueValidator(2000, "年度应在 2000 至 2100 之间"),
                                           MaxValueValidator(2100, "年度应在 2000 至 2100 之间")],
        help_text="保存年度即表示该年的节假日安排已完整录入：未列出的日期按周一至周五上班、周六周日休息判断")
    source = models.CharField("来源", max_length=50, default=MANUAL,
                              help_text="“chinesecalendar 版本号”或“经办人录入”")
    notes = models.TextField("备注", blank=True, help_text="例如国务院办公厅通知的文号")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="录入人", null=True,
                                   blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField("录入时间", auto_now_add=True)
    updated_at = models.DateTimeField("修改时间", auto_now=True)

    class Meta:
        verbose_name = "工作日日历"
        verbose_name_plural = "工作日日历"
        ordering = ["-year"]
        constraints = [
            models.CheckConstraint(condition=Q(year__gte=2000) & Q(year__lte=2100),
                                   name="workdaycalendaryear_year_range"),
        ]

    def __str__(self):
        return f"{self.year} 年"


@tracked()
class CalendarDay(models.Model):
    """One exception to the Monday–Friday rule: a weekday off (春节…) or a weekend worked (调休上班)."""

    WORKDAY_CHOICES = [(True, "上班"), (False, "放假")]

    year = models.ForeignKey(WorkdayCalendarYear, verbose_name="年度", on_delete=models.CASCADE,
                             related_name="days")
    date = models.DateField("日期", unique=True)
    is_workday = models.BooleanField("上班/放假", choices=WORKDAY_CHOICES)
    name = models.CharField("名称", max_length=50, blank=True, help_text="例如 春节、国庆节、调休上班")

    class Meta:
        verbose_name = "节假日调整"
        verbose_name_plural = "节假日调整（周一至周五放假、周末上班）"
        ordering = ["date"]

    def __str__(self):
        return f"{self.date:%Y-%m-%d} {'上班' if self.is_workday else '放假'} {self.name}".rstrip()


# --- The home page's figures (首页统计) --------------------------------------------------------
# A generic summary store: each app's refresher (payments.figures, subsidies.figures,
# family_pool.figures, enrollment.figures) recounts its own tables every few minutes and
# replaces its group's rows here (core.figures.replace); the home page reads a few rows per
# group instead of counting millions of records per page view.  Core sits below policy, so a
# region is its code, not a foreign key.

class Figure(models.Model):
    """One number (and, where it is money, an amount) of a figure group, for one region."""

    group = models.CharField("统计项", max_length=40)
    region = models.CharField("地区代码", max_length=6)
    year = models.PositiveSmallIntegerField("待遇年度", null=True, blank=True)
    day = models.DateField("日期", null=True, blank=True)
    key = models.CharField("分类代码", max_length=100)
    label = models.CharField("分类", max_length=200)
    count = models.BigIntegerField("人数/笔数", default=0)
    amount = models.DecimalField("金额（元）", max_digits=16, decimal_places=2, null=True, blank=True)
    refreshed_at = models.DateTimeField("统计时间")

    class Meta:
        verbose_name = "首页统计"
        verbose_name_plural = "首页统计"
        ordering = ["group", "region", "year", "day", "key"]
        indexes = [models.Index(fields=["group", "region"], name="figure_group_region")]
        constraints = [
            models.UniqueConstraint(fields=["group", "region", "year", "day", "key"], nulls_distinct=False,
                                    name="figure_unique_cell"),
            models.CheckConstraint(condition=Q(count__gte=0), name="figure_count_nonneg"),
        ]

    def __str__(self):
        return f"{self.group} {self.region} {self.label}"
