"""The home page's December-batch figures (issue 12), per region and benefit year.

- ``refresh``: the batch's decisions counted by result (扣款成功, 余额不足, …) with their
  amounts — one grouped statement on the (region, year, status) index, stored in core's
  summary (core.figures), refreshed by the engine every few minutes;
- ``batch_states``: where each region's December batch stands (the policy's start date, the
  latest run's state and progress, a link to it): a read of the policy years and of the
  engine's run rows, a handful of rows whatever the number of members.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Sum

from core.figures import Row, replace
from core.models import BatchRun
from policy.models import PolicyYear, PolicyYearStatus

from .models import PoolDeduction

GROUP = "pool_deductions"


def refresh() -> int:
    labels = dict(PoolDeduction.Status.choices)
    counted = (PoolDeduction.objects.values_list("region_id", "year", "status")
               .annotate(n=Count("id"), total=Sum("amount")).order_by())
    rows = [Row(region=region, year=year, key=status, label=labels.get(status, "其他"), count=n, amount=total)
            for region, year, status, n, total in counted]
    return replace(GROUP, rows)


@dataclass(frozen=True)
class BatchState:
    region: str  # the region's name
    region_code: str
    year: int
    starts_on: date | None
    state: str  # in words
    progress: str
    run_id: int | None


def batch_states(region_codes, years) -> list[BatchState]:
    """The December batch of every published policy year with family-pool premium payment, for
    ``region_codes`` (None: every region) and ``years``: its start date and its latest run."""
    pys = (PolicyYear.objects.filter(status=PolicyYearStatus.PUBLISHED, pool_premium_payment=True,
                                     year__in=list(years), region__policy_region__isnull=True)
           .select_related("region").order_by("region_id", "year"))
    if region_codes is not None:  # a county's batch is its city's (孝义 141181 → 吕梁 141100)
        from policy.selectors import policy_codes

        pys = pys.filter(region_id__in=sorted(set(policy_codes(region_codes).values())))
    pys = list(pys)
    scopes = [f"{py.region_id}-{py.year}" for py in pys]
    latest: dict[str, BatchRun] = {}
    for run in BatchRun.objects.filter(kind="pool_batch", scope__in=scopes).order_by("scope", "-created_at", "-id"):
        latest.setdefault(run.scope, run)
    out = []
    for py in pys:
        run = latest.get(f"{py.region_id}-{py.year}")
        if run is None:
            state = f"未开始（{py.pool_batch_starts_on:%Y-%m-%d} 起自动划扣）" if py.pool_batch_starts_on else "未开始（政策未定划扣日期）"
            progress = "—"
        else:
            state = run.get_status_display()
            progress = f"{run.processed}/{run.total}" if run.total else "—"
        out.append(BatchState(py.region.name, py.region_id, py.year, py.pool_batch_starts_on, state, progress,
                              run.pk if run else None))
    return out
