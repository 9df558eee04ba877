"""The batch engine (core.batch) under default renewal: chunks, joins, replays, takeover, failure."""

import threading
from datetime import date, timedelta
from unittest import mock

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from core import batch
from core.models import BatchChunk, BatchRun
from enrollment.batches import run_renewal
from enrollment.models import Enrollment

from .batch_support import paid_adults
from .support import clone

pytestmark = pytest.mark.usefixtures("policies")

PARAMS = {"region": "330200", "to_year": 2026, "today": "2025-11-03", "chunk_size": 10}


@pytest.fixture
def ningbo_25():
    clone("330200", 2025, 2026)
    return paid_adults(25)


def renewed():
    return Enrollment.objects.filter(year=2026, registered_via="default_renewal").count()


def test_a_run_is_planned_in_key_ranges_and_worked_chunk_by_chunk(ningbo_25):
    run = batch.start("renew_enrollments", PARAMS, actor="test", dispatch=False).run
    assert (run.status, run.scope, run.chunks_total) == ("queued", "330200-2026", 0)
    run = batch.prepare(run.pk)
    ids = sorted(Enrollment.objects.filter(year=2025).values_list("id", flat=True))
    assert (run.status, run.total, run.chunks_total) == ("running", 25, 3)
    assert list(run.chunks.values_list("lo", "hi")) == [(0, ids[9]), (ids[9], ids[19]), (ids[19], ids[24])]
    assert batch.prepare(run.pk).chunks_total == 3 and BatchChunk.objects.count() == 3  # planned once

    first = run.chunks.get(seq=0)
    assert batch.process_chunk(first.pk) == batch.DONE
    run.refresh_from_db()
    assert (renewed(), run.processed, run.succeeded, run.chunks_done, run.status) == (10, 10, 10, 1, "running")
    # a replayed chunk (a redelivered message) is a no-op
    assert batch.process_chunk(first.pk) == batch.DONE
    assert renewed() == 10 and BatchChunk.objects.get(pk=first.pk).attempts == 1

    for chunk_id in batch.pending_chunk_ids(run.pk):
        batch.process_chunk(chunk_id)
    assert batch.finish_if_complete(run.pk).status == "done"
    run.refresh_from_db()
    assert run.summary["renewed"] == 25 and (run.processed, run.succeeded, run.failed) == (25, 25, 0)
    assert renewed() == 25
    assert batch.finish_if_complete(run.pk).finished_at == run.finished_at  # closed once


def test_a_second_start_joins_the_active_run(ningbo_25):
    first = batch.start("renew_enrollments", PARAMS, actor="test", dispatch=False)
    second = batch.start("renew_enrollments", {**PARAMS, "today": "2025-11-04"}, actor="test", dispatch=False)
    assert (first.joined, second.joined, second.run.pk) == (False, True, first.run.pk)
    assert BatchRun.objects.count() == 1
    batch.run_inline(first.run)
    third = batch.start("renew_enrollments", PARAMS, actor="test", dispatch=False)  # the first is done
    assert not third.joined
    assert batch.run_inline(third.run).summary["renewed"] == 0 and renewed() == 25


def test_a_chunk_held_by_another_worker_is_skipped(ningbo_25):
    run = batch.prepare(batch.start("renew_enrollments", PARAMS, dispatch=False).run.pk)
    chunk = run.chunks.get(seq=0)
    with mock.patch("core.batch.BatchChunk.objects.select_for_update") as locked:
        locked.return_value.select_related.return_value.filter.return_value.first.return_value = None
        assert batch.process_chunk(chunk.pk) == batch.BUSY
    assert renewed() == 0 and BatchChunk.objects.get(pk=chunk.pk).status == "pending"


def test_a_failing_chunk_is_retried_then_fails_the_run_with_its_reason(ningbo_25):
    run = batch.prepare(batch.start("renew_enrollments", PARAMS, dispatch=False).run.pk)
    chunk = run.chunks.get(seq=1)
    with mock.patch("enrollment.jobs.renew_range", side_effect=RuntimeError("connection reset")):
        assert [batch.process_chunk(chunk.pk) for _ in range(3)] == [batch.RETRY, batch.RETRY, batch.FAILED]
    chunk.refresh_from_db()
    run.refresh_from_db()
    assert (chunk.status, chunk.attempts) == ("failed", 3) and "connection reset" in chunk.error
    # the traceback stays on the chunk for operators; people read a plain sentence
    assert run.status == "failed" and run.report == "处理出错（RuntimeError），已记录供运维人员排查"
    assert "Traceback" not in run.report
    assert renewed() == 0  # nothing of the failed attempts was written


def test_the_watchdog_takes_over_a_run_with_a_stale_heartbeat(ningbo_25, settings):
    settings.BATCH_STALE_SECONDS = 60
    run = batch.prepare(batch.start("renew_enrollments", PARAMS, dispatch=False).run.pk)
    assert batch.recover_stale(dispatch=False) == []  # alive
    BatchRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=61))
    assert batch.recover_stale(dispatch=False) == [run.pk]
    assert batch.recover_stale(dispatch=False) == []  # claimed: its heartbeat moved
    run.refresh_from_db()
    assert run.takeovers == 1
    # an import a command ran in its own transaction is not taken over: when its process
    # died (stale, no chunks), nothing of it was written, and the run says so
    cli = BatchRun.objects.create(kind="import_residents", status="running",
                                  heartbeat_at=timezone.now() - timedelta(hours=1))
    BatchRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    with mock.patch("core.tasks.batch_start.delay") as sent:
        assert batch.recover_stale() == [run.pk]
    sent.assert_called_once_with(run.pk)
    cli.refresh_from_db()
    assert cli.status == "failed" and cli.report.startswith("处理进程已中断")


def test_the_watchdog_resends_the_pending_chunks(ningbo_25):
    from core.tasks import batch_start

    run = batch.prepare(batch.start("renew_enrollments", PARAMS, dispatch=False).run.pk)
    batch.process_chunk(run.chunks.get(seq=0).pk)
    with mock.patch("core.tasks.batch_chunk.delay") as sent:
        assert batch_start.apply(args=(run.pk,)).get() == 2
    assert sorted(c.args[0] for c in sent.call_args_list) == sorted(
        run.chunks.filter(seq__in=[1, 2]).values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True)
def test_two_renewals_started_at_once_renew_nobody_twice(policies):
    clone("330200", 2025, 2026)
    paid_adults(400)
    results, errors = [], []

    def cli():
        try:
            results.append(run_renewal(region="330200", to_year=2026, actor="test", today=date(2025, 11, 3),
                                       chunk_size=20))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=cli) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert renewed() == 400
    assert Enrollment.objects.filter(year=2026).values("resident").distinct().count() == 400
    runs = list(BatchRun.objects.filter(kind="renew_enrollments"))
    # the second either joined the first or (when the first had already finished) renewed nobody
    total = sum(r.summary["renewed"] for r in runs)
    assert total == 400 and all(r.status == "done" for r in runs)
    assert all(r["renewed"] in (0, 400) for r in results) and len(results) == 2
