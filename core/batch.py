"""The batch engine: runs split into chunks that survive a crash.

A *job* (registered by the app that owns the work) says how to split a run into
key ranges (``plan``), what to do for one range (``process``, inside the chunk's
transaction) and how to sum the chunks up (``summarize``).  The engine does the
rest, the same way for every job:

- ``start`` records a run; a second start of the same kind and scope while one is
  queued or running joins it (a partial unique constraint), never doubles it.
- ``prepare`` plans the chunks once (the run row is locked while planning).
- ``process_chunk`` locks the chunk row (``FOR UPDATE SKIP LOCKED``), does the
  work and marks the chunk done in **one** transaction: a worker killed midway
  leaves nothing half-written and the chunk pending; a replayed chunk is a no-op.
- every finished chunk beats the run's heartbeat and moves its progress on;
  ``recover_stale`` (the watchdog, on the scheduler) takes over a run whose
  heartbeat is stale and sends its pending chunks out again.
- the last chunk's worker (or anyone after it) closes the run with its summary,
  exactly once (the run row is locked and its status checked).

The Celery side is in ``core.tasks``; the command line runs the same chunks in
its own process (``run_inline``), and joins a run that is already going.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from .audit_actor import acting_user
from .models import BatchChunk, BatchRun

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
ABANDONED_AFTER = timedelta(hours=1)


class BatchError(Exception):
    """A run that cannot go on for a reason a person can act on (message in Chinese)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Job:
    """What one kind of batch does; subclass and ``register`` it."""

    kind = ""
    label = ""  # shown in the batch list (Chinese)

    def validate(self, params: dict) -> dict:
        """Check and complete the parameters before a run is recorded (BatchError if bad)."""
        return params

    def scope(self, params: dict) -> str:
        """What the run works on; one active run per kind and scope ("" = no limit)."""
        return ""

    def plan(self, run: BatchRun) -> tuple[list[tuple[int, int]], int]:
        """(key ranges ``(lo, hi]`` in key order, number of items)."""
        raise NotImplementedError

    def process(self, run: BatchRun, lo: int, hi: int) -> dict:
        """Do one range inside the chunk's transaction; counts with at least
        ``processed``, ``succeeded`` and ``failed``."""
        raise NotImplementedError

    def summarize(self, run: BatchRun, counts: dict) -> dict:
        """The run's result from the sum of its chunks' counts."""
        return dict(counts)

    def describe(self, summary: dict) -> list[tuple[str, object]]:
        """The result for people: (Chinese label, value) pairs."""
        return [(k, v) for k, v in summary.items()]

    def refused(self, run: BatchRun, counts: dict) -> bool:
        """True when the work ran but its outcome is a refusal (a rejected file): the run
        is then closed as failed, with its summary and report."""
        return False


JOBS: dict[str, Job] = {}


def register(job: Job) -> Job:
    JOBS[job.kind] = job
    return job


def get_job(kind: str) -> Job:
    try:
        return JOBS[kind]
    except KeyError:
        raise BatchError("invalid_input", f"未知的批处理任务 {kind}") from None


def actor_of(run: BatchRun):
    """Who a run acts for in the audit trail: the user who started it, or its named actor."""
    return run.created_by if run.created_by_id else (run.params.get("actor") or f"batch {run.kind}")


# --- start -------------------------------------------------------------------------------------


@dataclass
class Started:
    run: BatchRun
    joined: bool  # True: a run of the same kind and scope was already going


def start(kind: str, params: dict, *, actor=None, dispatch: bool = True) -> Started:
    """Record a run (or join the active one of the same scope); with ``dispatch`` its
    planning is sent to the workers once the transaction commits."""
    job = get_job(kind)
    params = job.validate(dict(params))
    if actor is not None and acting_user(actor) is None:
        params.setdefault("actor", str(actor))
    scope = job.scope(params)
    try:
        with transaction.atomic():
            run = BatchRun.objects.create(kind=kind, scope=scope, params=params, created_by=acting_user(actor),
                                          heartbeat_at=timezone.now())
    except IntegrityError:
        run = BatchRun.objects.filter(kind=kind, scope=scope, status__in=BatchRun.ACTIVE).first()
        if run is None:  # finished between our insert and our read: start again
            return start(kind, params, actor=actor, dispatch=dispatch)
        return Started(run, True)
    if dispatch:
        from .tasks import batch_start

        batch_start.delay_on_commit(run.pk)
    return Started(run, False)


def prepare(run_id: int) -> BatchRun | None:
    """Plan the run's chunks once and mark it running (idempotent)."""
    with transaction.atomic():
        run = (BatchRun.objects.select_for_update(of=("self",)).select_related("created_by")
               .filter(pk=run_id).first())
        if run is None or run.status not in BatchRun.ACTIVE:
            return run
        if run.chunks_total or BatchChunk.objects.filter(run=run).exists():
            return run
        job = get_job(run.kind)
        try:
            ranges, total = job.plan(run)
        except BatchError as exc:
            _fail(run, exc.message)
            return run
        BatchChunk.objects.bulk_create(
            BatchChunk(run=run, seq=i, lo=lo, hi=hi) for i, (lo, hi) in enumerate(ranges))
        now = timezone.now()
        run.status = BatchRun.Status.RUNNING
        run.started_at = run.started_at or now
        run.heartbeat_at = now
        run.total = total
        run.chunks_total = len(ranges)
        run.save(update_fields=["status", "started_at", "heartbeat_at", "total", "chunks_total"])
    if not ranges:
        finish_if_complete(run_id)
        run.refresh_from_db()
    return run


def _fail(run: BatchRun, report: str) -> None:
    BatchRun.objects.filter(pk=run.pk).update(status=BatchRun.Status.FAILED, finished_at=timezone.now(),
                                              report=report[:20000])
    run.refresh_from_db()


# --- chunks ------------------------------------------------------------------------------------

_PROGRESS = """
UPDATE core_batchrun r SET heartbeat_at = %(now)s,
  chunks_done = GREATEST(r.chunks_done, s.n),
  processed = GREATEST(r.processed, s.processed),
  succeeded = GREATEST(r.succeeded, s.succeeded),
  failed = GREATEST(r.failed, s.failed)
FROM (SELECT count(*) AS n,
             coalesce(sum((counts->>'processed')::bigint), 0) AS processed,
             coalesce(sum((counts->>'succeeded')::bigint), 0) AS succeeded,
             coalesce(sum((counts->>'failed')::bigint), 0) AS failed
      FROM core_batchchunk WHERE run_id = %(run)s AND status = 'done') s
WHERE r.id = %(run)s
"""


def heartbeat(run_id: int) -> None:
    """The run is alive: its heartbeat and its progress from the chunks done."""
    with connection.cursor() as cur:
        cur.execute(_PROGRESS, {"run": run_id, "now": timezone.now()})


def pending_chunk_ids(run_id: int) -> list[int]:
    return list(BatchChunk.objects.filter(run_id=run_id, status=BatchChunk.Status.PENDING)
                .order_by("seq").values_list("pk", flat=True))


DONE, BUSY, RETRY, FAILED = "done", "busy", "retry", "failed"


def process_chunk(chunk_id: int, *, worker: str = "") -> str:
    """Do one chunk: ``done`` (now or before), ``busy`` (another worker holds it),
    ``retry`` (failed, attempts left) or ``failed`` (the run fails)."""
    try:
        with transaction.atomic():
            chunk = (BatchChunk.objects.select_for_update(skip_locked=True, of=("self",))
                     .select_related("run", "run__created_by").filter(pk=chunk_id).first())
            if chunk is None:
                return BUSY if BatchChunk.objects.filter(pk=chunk_id).exists() else DONE
            if chunk.status != BatchChunk.Status.PENDING or chunk.run.status != BatchRun.Status.RUNNING:
                return DONE
            counts = get_job(chunk.run.kind).process(chunk.run, chunk.lo, chunk.hi)
            BatchChunk.objects.filter(pk=chunk.pk).update(
                status=BatchChunk.Status.DONE, counts=counts, attempts=F("attempts") + 1,
                worker=worker[:200], finished_at=timezone.now(), error="")
    except Exception as exc:  # recorded on the chunk; the run fails after MAX_ATTEMPTS
        return _chunk_failed(chunk_id, exc, worker)
    heartbeat(chunk.run_id)
    return DONE


def _chunk_failed(chunk_id: int, exc: Exception, worker: str) -> str:
    text = exc.message if isinstance(exc, BatchError) else traceback.format_exc()[-4000:]
    log.warning("batch chunk %s failed: %s", chunk_id, text)
    with transaction.atomic():
        chunk = BatchChunk.objects.select_for_update().get(pk=chunk_id)
        chunk.attempts += 1
        chunk.error = text  # the traceback, for operators
        chunk.worker = worker[:200]
        # for people: the reason when it is one, else only that it failed
        chunk.counts = {"message": exc.message if isinstance(exc, BatchError)
                        else f"处理出错（{type(exc).__name__}），已记录供运维人员排查"}
        final = isinstance(exc, BatchError) or chunk.attempts >= MAX_ATTEMPTS
        if final:
            chunk.status = BatchChunk.Status.FAILED
        chunk.save(update_fields=["attempts", "error", "worker", "status", "counts"])
    if final:
        finish_if_complete(chunk.run_id, force=True)
        return FAILED
    return RETRY


def finish_if_complete(run_id: int, *, force: bool = False) -> BatchRun | None:
    """Close the run once no chunk is pending (or at once after a failed chunk): exactly once."""
    if not force and BatchChunk.objects.filter(run_id=run_id, status=BatchChunk.Status.PENDING).exists():
        return None
    with transaction.atomic():
        run = BatchRun.objects.select_for_update().get(pk=run_id)
        if run.status != BatchRun.Status.RUNNING:
            return run
        chunks = list(BatchChunk.objects.filter(run=run).order_by("seq"))
        counts: Counter = Counter()
        for c in chunks:
            if c.status == BatchChunk.Status.DONE:
                counts.update({k: v for k, v in c.counts.items() if isinstance(v, int)})
        failed = [c for c in chunks if c.status == BatchChunk.Status.FAILED]
        run.chunks_done = sum(1 for c in chunks if c.status == BatchChunk.Status.DONE)
        run.processed = counts.get("processed", 0)
        run.total = max(run.total, run.processed)
        run.succeeded = counts.get("succeeded", 0)
        run.failed = counts.get("failed", 0)
        run.finished_at = timezone.now()
        if failed:
            run.status = BatchRun.Status.FAILED
            run.report = "\n\n".join(c.counts.get("message") or c.error for c in failed)[:20000]
        else:
            job = get_job(run.kind)
            run.summary = job.summarize(run, dict(counts))
            run.status = BatchRun.Status.FAILED if job.refused(run, dict(counts)) else BatchRun.Status.DONE
        run.save()
        return run


# --- running -----------------------------------------------------------------------------------


def run_inline(run: BatchRun, *, progress: Callable[[int, int], None] | None = None,
               poll: float = 0.2) -> BatchRun:
    """Work a run's chunks in this process (the command line), sharing them with any
    worker on the same run, until the run is closed; returns it closed."""
    run = prepare(run.pk)
    while run.status in BatchRun.ACTIVE:
        worked = False
        for chunk_id in pending_chunk_ids(run.pk):
            outcome = process_chunk(chunk_id, worker="inline")
            worked = worked or outcome in (DONE, RETRY)
            if outcome == FAILED:
                break
            if progress:
                run.refresh_from_db(fields=["processed", "total"])
                progress(run.processed, run.total)
        closed = finish_if_complete(run.pk)
        run.refresh_from_db()
        if closed is None and not worked and run.status in BatchRun.ACTIVE:
            time.sleep(poll)  # the chunks left are held by other workers
    if progress:
        progress(run.processed, run.total)
    return run


def stale_after() -> timedelta:
    return timedelta(seconds=getattr(settings, "BATCH_STALE_SECONDS", 120))


def _close_abandoned(runs) -> None:
    """Work recorded as running without chunks (an import run by a command in its own
    transaction) whose process died: nothing of it was written; say so."""
    n = runs.update(status=BatchRun.Status.FAILED, finished_at=timezone.now(),
                    report="处理进程已中断（超过时限没有心跳），未写入任何数据，请重新执行")
    if n:
        log.warning("%s abandoned batch runs closed as failed", n)


def recover_stale(*, dispatch: bool = True) -> list[int]:
    """The watchdog: every active run whose heartbeat is older than BATCH_STALE_SECONDS
    is taken over (claimed by moving its heartbeat) and its planning and pending
    chunks are sent out again.  A chunk still held by a live worker is skipped by
    the lock; a finished one is a no-op."""
    now = timezone.now()
    cutoff = now - stale_after()
    taken = []
    stale = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    # a command's own transaction beats no heartbeat: give it an hour before calling it dead
    abandoned = Q(heartbeat_at__lt=now - ABANDONED_AFTER) | Q(heartbeat_at__isnull=True,
                                                             created_at__lt=now - ABANDONED_AFTER)
    _close_abandoned(BatchRun.objects.filter(abandoned, status=BatchRun.Status.RUNNING, chunks_total=0))
    engine_runs = BatchRun.objects.filter(stale, kind__in=list(JOBS)).filter(
        Q(status=BatchRun.Status.QUEUED) | Q(status=BatchRun.Status.RUNNING, chunks_total__gt=0))
    for run in engine_runs.only("pk", "heartbeat_at"):
        claimed = BatchRun.objects.filter(pk=run.pk, heartbeat_at=run.heartbeat_at).update(
            heartbeat_at=now, takeovers=F("takeovers") + 1)
        if not claimed:
            continue  # another watchdog took it
        taken.append(run.pk)
        if dispatch:
            from .tasks import batch_start

            batch_start.delay(run.pk)
    if taken:
        log.warning("batch runs taken over after a stale heartbeat: %s", taken)
    return taken
