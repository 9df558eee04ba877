import json
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core import clock
from family_pool.batch import PoolBatchError, pool_policy, run_pool_batch
from policy.selectors import policy_region


class Command(BaseCommand):
    help = ("共济缴费批量划扣: deduct members' resident contributions for benefit year Y from their "
            "organizers' historical balances, as the modes stood at the region's cut-off; print "
            '{"run_id", "deducted", "amount", "skipped_already_paid", "insufficient_balance", "failed"}. '
            "A run of the same region and year already going is joined; running it again deducts nobody twice.")

    def add_arguments(self, parser):
        parser.add_argument("--region", required=True)
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--at", help="扣款时间 (ISO 8601; without an offset Beijing time); default now")
        parser.add_argument("--chunk-size", type=int)

    def handle(self, *args, region, year, at, chunk_size, **options):
        if at:
            try:
                moment = datetime.fromisoformat(at)
            except ValueError:
                raise CommandError(f"--at 不是有效时间：{at!r}") from None
            if moment.tzinfo is None:
                from zoneinfo import ZoneInfo

                moment = moment.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
        else:
            moment = clock.now()
        found = policy_region(region.strip())
        if found is None:
            raise CommandError(f"未知地区 {region!r}（--region 应为地区代码，如 310000）")
        region = found.code  # a county runs its city's batch (孝义 141181 → 吕梁 141100)
        try:
            cutoff = pool_policy(region, year).pool_premium_cutoff
        except PoolBatchError as exc:
            raise CommandError(exc.message) from None
        if moment <= cutoff:  # the organizer may still cancel 共济缴费 until then (004: 12-20 17:00)
            shown = timezone.localtime(cutoff).strftime("%Y-%m-%d %H:%M")
            raise CommandError(f"扣款时间 {timezone.localtime(moment):%Y-%m-%d %H:%M} 不晚于共济缴费选择截止时间 "
                               f"{shown}：截止前组建人仍可取消共济缴费，不能划扣")
        try:
            summary = run_pool_batch(region=region, year=year, at=moment, actor="manage.py run_pool_batch",
                                     chunk_size=chunk_size)
        except PoolBatchError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(json.dumps(summary, ensure_ascii=False))
