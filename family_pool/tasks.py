"""(beat) The December batch started from each region's policy year: from
``pool_batch_starts_on`` (Shanghai 12-21) up to the results date (12-28; a week after the
start when the policy names none).  Hourly and idempotent: a year with a queued, running or
finished run is left alone (a failed one is started again), and a scheduler that was down
on the starting day catches up on the next check."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from celery import shared_task

from core import batch, clock
from core.models import BatchRun
from policy.models import PolicyYear, PolicyYearStatus

log = logging.getLogger(__name__)


def _window(py: PolicyYear) -> tuple[date, date]:
    return py.pool_batch_starts_on, py.pool_results_on or py.pool_batch_starts_on + timedelta(days=7)


@shared_task
def schedule_pool_batches(today: str | None = None) -> list[str]:
    day = clock.today() if today is None else date.fromisoformat(today)
    years = (PolicyYear.objects.filter(status=PolicyYearStatus.PUBLISHED, pool_premium_payment=True,
                                       pool_premium_cutoff__isnull=False, pool_batch_starts_on__isnull=False,
                                       pool_batch_starts_on__lte=day, region__policy_region__isnull=True)
             .order_by("region_id", "year"))
    started = []
    for py in years:
        first, last = _window(py)
        if not first <= day <= last:
            continue
        scope = f"{py.region_id}-{py.year}"
        if BatchRun.objects.filter(kind="pool_batch", scope=scope).exclude(status=BatchRun.Status.FAILED).exists():
            continue
        try:
            out = batch.start("pool_batch", {"region": py.region_id, "year": py.year, "at": clock.now().isoformat()},
                              actor="celery schedule_pool_batches")
        except batch.BatchError as exc:
            log.warning("pool batch %s not started: %s", scope, exc.message)
            continue
        if not out.joined:
            started.append(scope)
    if started:
        log.info("pool batch started: %s", ", ".join(started))
    return started
