"""Celery side of the batch engine: thin tasks that take ids and are safe to run twice.

Every task acknowledges late and is rejected (so redelivered) when its worker dies;
the time limits stay under the broker's visibility timeout (settings), so a message
is never handed to a second worker while the first may still be working on it.
What a lost message would leave undone the watchdog (``batch_watchdog``, on the
scheduler) sends out again once the run's heartbeat is stale.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import batch

_TASK = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(**_TASK, time_limit=settings.BATCH_TASK_TIME_LIMIT,
             soft_time_limit=settings.BATCH_TASK_TIME_LIMIT - 30)
def batch_start(run_id: int) -> int:
    """Plan a run (once) and send out its pending chunks; returns how many were sent."""
    run = batch.prepare(run_id)
    if run is None or run.status not in run.ACTIVE:
        return 0
    ids = batch.pending_chunk_ids(run_id)
    for chunk_id in ids:
        batch_chunk.delay(chunk_id)
    if not ids:
        batch.finish_if_complete(run_id)
    return len(ids)


@shared_task(bind=True, **_TASK, max_retries=batch.MAX_ATTEMPTS,
             time_limit=settings.BATCH_TASK_TIME_LIMIT, soft_time_limit=settings.BATCH_TASK_TIME_LIMIT - 30)
def batch_chunk(self, chunk_id: int) -> str:
    """Work one chunk; a failure with attempts left is retried after a pause."""
    outcome = batch.process_chunk(chunk_id, worker=self.request.hostname or "")
    if outcome == batch.RETRY:
        raise self.retry(countdown=2 ** self.request.retries)
    if outcome == batch.DONE:
        from .models import BatchChunk

        run_id = BatchChunk.objects.filter(pk=chunk_id).values_list("run_id", flat=True).first()
        if run_id is not None:
            batch.finish_if_complete(run_id)
    return outcome


@shared_task
def batch_watchdog() -> list[int]:
    """(beat) Take over the runs whose heartbeat is stale."""
    return batch.recover_stale()


@shared_task
def refresh_figures() -> dict:
    """(beat, every 5 minutes) The home page's figures: every refresher the composition root
    lists (settings.FIGURE_REFRESHERS) recounts its own tables; safe to run twice."""
    from .figures import refresh_all

    return refresh_all()
