"""Live progress written on a side connection is seen while the work's transaction is open."""

import psycopg
import pytest
from django.db import connection, transaction

from core.models import BatchRun
from core.progress import SideProgress


def _other_connection():
    params = {k: v for k, v in connection.get_connection_params().items()
              if k not in ("cursor_factory", "context", "prepare_threshold", "server_side_binding")}
    return psycopg.connect(**params, autocommit=True)


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_before_the_work_commits():
    run = BatchRun.objects.create(kind="import_residents", status="running")
    side = SideProgress(run.pk, interval=60)
    try:
        with transaction.atomic():
            BatchRun.objects.create(kind="uncommitted work", status="running")
            side.update(500, 1000, force=True)
            side.update(900, 1000)  # within the interval: not written
            with _other_connection() as other:
                assert other.execute("SELECT processed, total FROM core_batchrun WHERE id = %s",
                                     [run.pk]).fetchone() == (500, 1000)
                assert other.execute("SELECT count(*) FROM core_batchrun WHERE kind = 'uncommitted work'"
                                     ).fetchone() == (0,)
            transaction.set_rollback(True)
    finally:
        side.close()
    run.refresh_from_db()
    assert (run.processed, run.total) == (500, 1000) and run.heartbeat_at is not None
