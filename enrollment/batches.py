"""Long work recorded as BatchRun rows, so the admin shows its status and counts."""

from __future__ import annotations

import time
import traceback

from django.utils import timezone

from .models import BatchRun
from .renewal import renew_enrollments
from .spreadsheet import SpreadsheetError


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


REPORT_LINES = 2000  # a rejected file's first error lines kept on its BatchRun


def record_import(kind: str, work, *, source: str, actor=None, options: dict | None = None):
    """Run an import (``work()`` returns an ImportResult) as a BatchRun: who, when, which
    file, the counts, and the error lines.  Dry runs change nothing and are not recorded:
    call ``work`` directly for those.  A file that cannot be read is recorded as failed
    with its reason, and the error is raised again for the caller to report."""
    run = BatchRun.objects.create(kind=kind, params={"file": source, **(options or {})},
                                  status=BatchRun.Status.RUNNING, started_at=timezone.now(),
                                  created_by=_actor_user(actor))
    try:
        result = work()
    except Exception as exc:
        BatchRun.objects.filter(pk=run.pk).update(
            status=BatchRun.Status.FAILED, finished_at=timezone.now(),
            report=str(exc) if isinstance(exc, SpreadsheetError) else traceback.format_exc()[-4000:])
        raise
    summary = result.as_dict()
    lines = [str(e) for e in result.errors]
    if len(lines) > REPORT_LINES:
        lines = lines[:REPORT_LINES] + [f"… 另有 {len(lines) - REPORT_LINES} 条错误未列出"]
    BatchRun.objects.filter(pk=run.pk).update(
        status=BatchRun.Status.FAILED if result.rejected else BatchRun.Status.DONE,
        finished_at=timezone.now(), total=result.total_rows, processed=result.total_rows,
        succeeded=0 if result.rejected else result.total_rows - summary["invalid_rows"],
        failed=summary["invalid_rows"], summary=summary, report="\n".join(lines))
    return result
