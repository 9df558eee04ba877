"""A crash is a test case: a real Celery worker on the real Redis (a queue of its own),
killed with SIGKILL in the middle of the December batch; a new worker (with its scheduler,
whose watchdog takes the stale run over) finishes it.  Every deduction exactly once; the
books balance.  With CI=true a missing Redis fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from core import batch
from core.models import BatchChunk, BatchRun
from core.tasks import batch_start
from family_pool.models import PoolDeduction
from payments.models import Payment

from .test_batch import AT, YEAR, assert_books_balance, family

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
NETWORKS, CHILDREN, CHUNK = 60, 2, 1  # 60 chunks of one network, 120 deductions
QUEUE = f"pool-crash-{uuid.uuid4().hex[:12]}"


def _broker_url() -> str:
    base = settings.CELERY_BROKER_URL.split("?")[0]
    scheme_host = base[: base.index("/", len("redis://"))] if base.count("/") > 2 else base
    url = f"{scheme_host}/12"
    redis.Redis.from_url(url).ping()  # no Redis: the test fails (never skips)
    return url


def _worker(broker: str, tmp_path: Path, name: str, *, beat: bool) -> subprocess.Popen:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    if db.get("PASSWORD"):
        url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": url,
           "CELERY_BROKER_URL": broker, "CELERY_RESULT_BACKEND": broker, "BATCH_STALE_SECONDS": "3",
           "BATCH_WATCHDOG_SECONDS": "1", "CELERY_QUEUE": QUEUE, "LOG_LEVEL": "INFO"}
    cmd = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", QUEUE,
           "-n", f"{name}-{QUEUE}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
    if beat:
        cmd += ["-B", "-s", str(tmp_path / "beat-schedule")]
    log = open(tmp_path / f"{name}.log", "wb")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait(predicate, timeout: float, what: str, tmp_path: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("*.log"))
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def test_pool_batch_survives_a_worker_killed_midway(policies, tmp_path):
    for i in range(NETWORKS):
        family("1000.00", CHILDREN, tag=str(i))
    broker = _broker_url()
    run = batch.start("pool_batch", {"region": "310000", "year": YEAR, "at": AT.isoformat(), "chunk_size": CHUNK},
                      actor="crash test", dispatch=False).run
    with celery_app.connection_for_write(broker) as conn:
        batch_start.apply_async(args=(run.pk,), connection=conn, queue=QUEUE)
    chunks = NETWORKS // CHUNK

    first = _worker(broker, tmp_path, "first", beat=False)
    try:
        _wait(lambda: BatchChunk.objects.filter(run=run, status="done").count() >= 8, 60,
              "the first worker to finish eight chunks", tmp_path)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    done_at_kill = BatchChunk.objects.filter(run=run, status="done").count()
    assert 8 <= done_at_kill < chunks, "the worker must die midway"
    run.refresh_from_db()
    assert run.status == "running"
    redis.Redis.from_url(broker).delete(QUEUE)  # every queued message lost: only the watchdog helps

    second = _worker(broker, tmp_path, "second", beat=True)
    try:
        _wait(lambda: BatchRun.objects.filter(pk=run.pk, status__in=["done", "failed"]).exists(), 120,
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
