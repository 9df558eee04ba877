"""Long work recorded as core BatchRun rows, so the admin shows its status and counts."""

from __future__ import annotations

import traceback
from datetime import date

from django.utils import timezone

from core import batch
from core.audit_actor import acting_user
from core.models import BatchRun

from .services import EnrollmentError
from .spreadsheet import SpreadsheetError


def run_renewal(*, region: str, to_year: int, actor=None, progress=None, today: date | None = None,
                chunk_size: int | None = None) -> dict:
    """Default renewal on the batch engine, worked in this process (the command line).
    A renewal of the same region and year already going is joined, not doubled: this
    process then works its remaining chunks beside the workers and reports its result."""
    params = {"region": region, "to_year": to_year}
    if today is not None:
        params["today"] = today.isoformat()
    if chunk_size:
        params["chunk_size"] = chunk_size
    try:
        started = batch.start("renew_enrollments", params, actor=actor, dispatch=False)
    except batch.BatchError as exc:
        raise EnrollmentError(exc.code, exc.message) from None
    run = batch.run_inline(started.run, progress=progress)
    if run.status != BatchRun.Status.DONE:
        raise EnrollmentError("batch_failed", f"默认续保（批处理任务 #{run.pk}）失败：{run.report[:500]}")
    return run.summary


REPORT_LINES = 2000  # a rejected file's first error lines kept on its BatchRun


def record_import(kind: str, work, *, source: str, actor=None, options: dict | None = None, regions_of=None):
    """Run an import (``work()`` returns an ImportResult) as a BatchRun: who, when, which
    file, the counts, and the error lines.  Dry runs change nothing and are not recorded:
    call ``work`` directly for those.  A file that cannot be read is recorded as failed
    with its reason, and the error is raised again for the caller to report."""
    params = {"file": source, **(options or {})}
    if actor is not None and acting_user(actor) is None:
        params["actor"] = str(actor)
    run = BatchRun.objects.create(kind=kind, params=params, status=BatchRun.Status.RUNNING,
                                  started_at=timezone.now(), heartbeat_at=timezone.now(),
                                  created_by=acting_user(actor))
    try:
        result = work()
    except Exception as exc:
        BatchRun.objects.filter(pk=run.pk).update(
            status=BatchRun.Status.FAILED, finished_at=timezone.now(),
            report=str(exc) if isinstance(exc, SpreadsheetError) else traceback.format_exc()[-4000:])
        raise
    summary = result.as_dict()
    if regions_of is not None:  # a command line's run: the regions its rows are about, for the admin's scope
        regions = {code for code in (regions_of(result) or ()) if code}
        if regions:
            params["regions"] = sorted(regions | set(params.get("regions") or ()))
            BatchRun.objects.filter(pk=run.pk).update(params=params)
    lines = [str(e) for e in result.errors]
    if len(lines) > REPORT_LINES:
        lines = lines[:REPORT_LINES] + [f"… 另有 {len(lines) - REPORT_LINES} 条错误未列出"]
    BatchRun.objects.filter(pk=run.pk).update(
        status=BatchRun.Status.FAILED if result.rejected else BatchRun.Status.DONE,
        finished_at=timezone.now(), total=result.total_rows, processed=result.total_rows,
        succeeded=0 if result.rejected else result.total_rows - summary["invalid_rows"],
        failed=summary["invalid_rows"], summary=summary, report="\n".join(lines))
    return result
