"""A crash is a test case: a real Celery worker on the real Redis (a queue of its own),
killed with SIGKILL in the middle of the December batch; a new worker (with its scheduler,
whose watchdog takes the stale run over) finishes it.  Every deduction exactly once; the
books balance.  With CI=true a missing Redis fails."""

from __future__ import annotations

import os
import signal
import uuid

import pytest
import redis

from config.celery import app as celery_app
from core.tests.crash_support import broker_url, start_worker, wait_for
from core import batch
from core.models import BatchChunk, BatchRun
from core.tasks import batch_start
from family_pool.deductions import deduction_check
from family_pool.models import PoolDeduction
from payments.models import Payment

from .test_batch import AT, YEAR, assert_books_balance, family

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

NETWORKS, CHILDREN, CHUNK = 60, 2, 1  # 60 chunks of one network, 120 deductions
QUEUE = f"pool-crash-{uuid.uuid4().hex[:12]}"


def test_pool_batch_survives_a_worker_killed_midway(policies, tmp_path):
    for i in range(NETWORKS):
        family("1000.00", CHILDREN, tag=str(i))
    broker = broker_url(12)
    run = batch.start("pool_batch", {"region": "310000", "year": YEAR, "at": AT.isoformat(), "chunk_size": CHUNK},
                      actor="crash test", dispatch=False).run
    with celery_app.connection_for_write(broker) as conn:
        batch_start.apply_async(args=(run.pk,), connection=conn, queue=QUEUE)
    chunks = NETWORKS // CHUNK

    first = start_worker(broker, tmp_path, "first", QUEUE, beat=False)
    try:
        wait_for(lambda: BatchChunk.objects.filter(run=run, status="done").count() >= 8, 60,
              "the first worker to finish eight chunks", tmp_path)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    done_at_kill = BatchChunk.objects.filter(run=run, status="done").count()
    assert 8 <= done_at_kill < chunks, "the worker must die midway"
    run.refresh_from_db()
    assert run.status == "running"
    redis.Redis.from_url(broker).delete(QUEUE)  # every queued message lost: only the watchdog helps

    second = start_worker(broker, tmp_path, "second", QUEUE, beat=True)
    try:
        wait_for(lambda: BatchRun.objects.filter(pk=run.pk, status__in=["done", "failed"]).exists(), 120,
              "the second worker to finish the run", tmp_path)
    finally:
        os.killpg(second.pid, signal.SIGKILL)
        second.wait(10)

    run.refresh_from_db()
    members = NETWORKS * CHILDREN
    assert run.status == "done", run.report
    assert run.takeovers >= 1
    assert run.summary["deducted"] == members and run.summary["amount"] == f"{355 * members}.00"
    assert (run.summary["failed"], run.summary["insufficient_balance"], run.summary["skipped_already_paid"]) == (0, 0, 0)
    assert PoolDeduction.objects.filter(status="deducted").count() == members
    assert PoolDeduction.objects.values("id_number").distinct().count() == members
    assert Payment.objects.filter(channel="family_pool").count() == members
    assert sum(BatchChunk.objects.filter(run=run).values_list("attempts", flat=True)) == chunks
    assert_books_balance()
    assert deduction_check() == []  # the deductions' references (no database foreign keys) are sound
