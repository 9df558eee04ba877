"""Celery tasks: thin, take ids, safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from core import clock
from django.db.models import Q
from django.utils import timezone

from policy.models import PolicyYear, PolicyYearStatus

from .batches import run_renewal
from .models import BatchRun

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def renew_region(region: str, to_year: int, run_id: int | None = None) -> dict:
    """Default renewal of one region into to_year (idempotent: renews nobody twice)."""
    run = BatchRun.objects.select_related("created_by").filter(pk=run_id).first() if run_id else None
    actor = run.created_by if run is not None and run.created_by is not None else "celery renew_region"
    return run_renewal(region=region, to_year=to_year, actor=actor, run=run)


@shared_task
def schedule_renewals(today: str | None = None) -> list[str]:
    """Daily (beat): start default renewal for every published year whose window opens today."""
    day = clock.today() if today is None else timezone.datetime.fromisoformat(today).date()
    started = []
    years = PolicyYear.objects.filter(status=PolicyYearStatus.PUBLISHED).filter(
        Q(registration_starts_on=day) | Q(registration_starts_on__isnull=True, paymentperiod__kind="window",
                                          paymentperiod__starts_on=day)).distinct()
    for py in years.select_related("region"):
        if py.region.policy_region_id:
            continue  # counties are renewed with their city
        if BatchRun.objects.filter(kind="renew_enrollments", params__region=py.region_id,
                                   params__to_year=py.year).exclude(status=BatchRun.Status.FAILED).exists():
            continue  # already queued, running or done (a second beat tick queues nothing)
        run = BatchRun.objects.create(kind="renew_enrollments",
                                      params={"region": py.region_id, "to_year": py.year})
        renew_region.delay_on_commit(py.region_id, py.year, run.pk)
        started.append(f"{py.region_id}-{py.year}")
    if started:
        log.info("default renewal started: %s", ", ".join(started))
    return started
