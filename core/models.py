"""Batch runs and their chunks: long work that survives a crash (core.batch runs them)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


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
