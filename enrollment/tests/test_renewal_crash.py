"""A crash is a test case: a real Celery worker on the real Redis, killed with SIGKILL in
the middle of a default renewal; a new worker (with its scheduler) takes the run over.
Nothing may happen twice and nothing may be lost.  With CI=true a missing Redis fails."""

from __future__ import annotations

import os
import signal
import uuid

import pytest
import redis
from django.db import connection

from config.celery import app as celery_app
from core.tests.crash_support import broker_url, start_worker, wait_for
from core import batch
from core.tasks import batch_start
from core.models import BatchChunk, BatchRun
from enrollment.models import Enrollment

from .batch_support import paid_adults
from .support import clone

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

PEOPLE = 3000


QUEUE = f"crash-test-{uuid.uuid4().hex[:12]}"  # a queue of its own: other runs never see it


def test_renewal_survives_a_worker_killed_midway(policies, tmp_path):
    clone("330200", 2025, 2026)
    paid_adults(PEOPLE)
    broker = broker_url(11)
    run = batch.start("renew_enrollments", {"region": "330200", "to_year": 2026, "today": "2025-11-03",
                                            "chunk_size": 25}, actor="crash test", dispatch=False).run
    with celery_app.connection_for_write(broker) as conn:  # as batch.start sends it, to this broker
        batch_start.apply_async(args=(run.pk,), connection=conn, queue=QUEUE)

    first = start_worker(broker, tmp_path, "first", QUEUE, beat=False)
    try:
        wait_for(lambda: BatchChunk.objects.filter(run=run, status="done").count() >= 10, 30,
              "the first worker to finish ten chunks", tmp_path)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    done_at_kill = BatchChunk.objects.filter(run=run, status="done").count()
    assert 10 <= done_at_kill < 120, "the worker must die midway (120 chunks in all)"
    run.refresh_from_db()
    assert run.status == "running"
    # Worse than a crash: the broker lost every message still queued (and the one the dead
    # worker held unacknowledged).  Only the watchdog can bring the run home now.
    redis.Redis.from_url(broker).delete(QUEUE)

    second = start_worker(broker, tmp_path, "second", QUEUE, beat=True)
    try:
        wait_for(lambda: BatchRun.objects.filter(pk=run.pk, status__in=["done", "failed"]).exists(), 120,
              "the second worker to finish the run", tmp_path)
    finally:
        os.killpg(second.pid, signal.SIGKILL)
        second.wait(10)

    run.refresh_from_db()
    assert run.status == "done", run.report
    assert run.takeovers >= 1  # the watchdog took the stale run over
    assert run.summary == {"renewed": PEOPLE, "unchanged": 0, "reregister": {
        r: 0 for r in ("hukou_moved", "permit_expired", "category_changed", "graduated", "parent_permit",
                       "not_eligible", "value_not_in_source", "other_scheme")}}
    assert (run.total, run.processed, run.succeeded, run.chunks_done) == (PEOPLE, PEOPLE, PEOPLE, 120)
    renewed = Enrollment.objects.filter(year=2026, registered_via="default_renewal")
    assert renewed.count() == PEOPLE
    assert renewed.values("resident").distinct().count() == PEOPLE
    # one audit event per renewed enrollment: the killed chunk's work was rolled back, not doubled
    with connection.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT pgh_obj_id) FROM enrollment_enrollmentevent "
                    "WHERE pgh_label = 'insert' AND year = 2026")
        assert cur.fetchone() == (PEOPLE, PEOPLE)
    assert sum(BatchChunk.objects.filter(run=run).values_list("attempts", flat=True)) == 120
