"""Long work recorded as BatchRun rows, so the admin shows its status and counts."""

from __future__ import annotations

import time
import traceback

from django.utils import timezone

from .models import BatchRun
from .renewal import renew_enrollments


def _actor_user(actor):
    return actor if getattr(actor, "pk", None) is not None else None


def run_renewal(*, region: str, to_year: int, actor=None, progress=None, run: BatchRun | None = None,
                today=None) -> dict:
    """Default renewal with its BatchRun: progress saved at most every second."""
    if run is None:
        run = BatchRun.objects.create(kind="renew_enrollments",
                                      params={"region": region, "to_year": to_year},
                                      created_by=_actor_user(actor))
    BatchRun.objects.filter(pk=run.pk).update(status=BatchRun.Status.RUNNING, started_at=timezone.now())
    last = [0.0]

    def tick(done, total):
        now = time.monotonic()
        if now - last[0] >= 1 or done >= total:
            last[0] = now
            BatchRun.objects.filter(pk=run.pk).update(processed=done, total=total)
        if progress:
            progress(done, total)

    try:
        summary = renew_enrollments(region=region, to_year=to_year, actor=actor, progress=tick,
                                    today=today)
    except Exception as exc:
        BatchRun.objects.filter(pk=run.pk).update(
            status=BatchRun.Status.FAILED, finished_at=timezone.now(),
            report=getattr(exc, "message", None) or traceback.format_exc()[-4000:])
        raise
    BatchRun.objects.filter(pk=run.pk).update(
        status=BatchRun.Status.DONE, finished_at=timezone.now(), summary=summary,
        succeeded=summary["renewed"], failed=sum(summary["reregister"].values()))
    return summary
