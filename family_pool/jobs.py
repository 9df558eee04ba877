"""The December batch on the core engine (registered from ``FamilyPoolConfig.ready``)."""

from __future__ import annotations

from datetime import datetime

from core import clock
from core.batch import BatchError, Job, actor_of, register

from . import batch as pool


class PoolBatchJob(Job):
    """共济缴费批量划扣 of a region and benefit year, in key ranges of network ids.  ``at``
    (the deduction's payment time) is fixed when the run starts, so a run resumed later
    pays exactly as it began."""

    kind = "pool_batch"
    label = "家庭共济缴费批量划扣"
    chunk_size = pool.CHUNK

    def validate(self, params: dict) -> dict:
        region, year = str(params.get("region", "")), params.get("year")
        if not isinstance(year, int):
            raise BatchError("invalid_input", "待遇年度须为整数")
        try:
            pool.pool_policy(region, year)
        except pool.PoolBatchError as exc:
            raise BatchError(exc.code, exc.message) from None
        at = params.get("at") or clock.now().isoformat()
        try:
            parsed = datetime.fromisoformat(at)
        except ValueError:
            raise BatchError("invalid_input", f"扣款时间无效：{at!r}") from None
        if parsed.tzinfo is None:
            raise BatchError("invalid_input", "扣款时间须带时区")
        if params.get("writer", "bulk") not in pool.WRITERS:  # per_member: the reference path (bench, tests)
            raise BatchError("invalid_input", f"未知的写入方式 {str(params.get('writer'))[:20]!r}")
        return {**params, "region": region, "year": year, "at": parsed.isoformat()}

    def scope(self, params: dict) -> str:
        return f"{params['region']}-{params['year']}"

    def plan(self, run):
        p = run.params
        try:
            return pool.network_ranges(p["region"], p["year"], int(p.get("chunk_size") or self.chunk_size))
        except pool.PoolBatchError as exc:
            raise BatchError(exc.code, exc.message) from None

    def process(self, run, lo: int, hi: int) -> dict:
        p = run.params
        try:
            counts = pool.process_networks(region=p["region"], year=p["year"], lo=lo, hi=hi,
                                           at=datetime.fromisoformat(p["at"]), run_id=run.pk,
                                           actor=actor_of(run), writer=p.get("writer", "bulk"))
        except pool.PoolBatchError as exc:
            raise BatchError(exc.code, exc.message) from None
        return counts

    def summarize(self, run, counts: dict) -> dict:
        return pool.summary_of(counts)

    def describe(self, summary: dict) -> list[tuple[str, object]]:
        return [("扣款成功（人）", summary.get("deducted", 0)),
                ("扣款金额（元）", summary.get("amount", "0.00")),
                ("已缴费（跳过）", summary.get("skipped_already_paid", 0)),
                ("其中此前已由共济扣款（未重复扣款）", summary.get("already_deducted", 0)),
                ("余额不足", summary.get("insufficient_balance", 0)),
                ("处理失败", summary.get("failed", 0))]

    def links(self, run) -> list[tuple[str, str]]:
        from .batch_admin import links

        return links(run)


pool_batch_job = register(PoolBatchJob())
