"""Celery tasks: thin, take ids, safe to run twice."""

from __future__ import annotations

import logging
from datetime import date

from celery import shared_task
from django.db.models import Min, Q

from core import batch, clock
from core.models import BatchRun
from policy.models import PolicyYear, PolicyYearStatus

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def renew_region(region: str, to_year: int) -> int:
    """Start (or join) default renewal of one region into to_year on the batch engine;
    the chunks fan out over the workers.  Returns the run's id."""
    return batch.start("renew_enrollments", {"region": region, "to_year": to_year},
                       actor="celery renew_region").run.pk


def _opening_day(py: PolicyYear) -> date | None:
    return py.registration_starts_on or py.first_window


@shared_task
def schedule_renewals(today: str | None = None) -> list[str]:
    """(beat) Start default renewal for every published year whose window has opened
    (on the day or any day since, up to the end of the benefit year) and that has no
    queued, running or finished run: a scheduler that was down on the opening day
    catches up; a failed run is started again."""
    day = clock.today() if today is None else date.fromisoformat(today)
    years = (PolicyYear.objects.filter(status=PolicyYearStatus.PUBLISHED, year__gte=day.year,
                                       region__policy_region__isnull=True)  # counties renew with their city
             .annotate(first_window=Min("paymentperiod__starts_on",
                                        filter=Q(paymentperiod__kind="window")))
             .select_related("region").order_by("region_id", "year"))
    started = []
    for py in years:
        opens = _opening_day(py)
        if opens is None or opens > day:
            continue
        scope = f"{py.region_id}-{py.year}"
        if BatchRun.objects.filter(kind="renew_enrollments", scope=scope).exclude(
                status=BatchRun.Status.FAILED).exists():
            continue  # queued, running or done: nothing to catch up
        try:
            out = batch.start("renew_enrollments", {"region": py.region_id, "to_year": py.year,
                                                    "today": day.isoformat()},
                              actor="celery schedule_renewals")
        except batch.BatchError as exc:
            log.warning("default renewal %s not started: %s", scope, exc.message)
            continue
        if not out.joined:
            started.append(scope)
    if started:
        log.info("default renewal started: %s", ", ".join(started))
    return started


@shared_task
def imports_cleanup() -> int:
    """(beat, hourly) Delete uploaded files no active import needs: they hold ID numbers."""
    from .import_jobs import imports_cleanup as cleanup

    return cleanup()


@shared_task
def refresh_enrollment_figures() -> int:
    """The home page's enrollment figures, recounted (enrollment.figures); safe to run twice."""
    from .figures import figures_refresh

    return figures_refresh()
