"""Live progress of a run written on a connection of its own.

Work that writes in one long transaction (an all-or-nothing import) cannot show
its progress through that transaction: nobody sees it before the commit.  This
writer updates the run's counts and heartbeat on a separate autocommit
connection, at most every ``interval`` seconds, so the batch list shows rows
done while the work goes on.
"""

from __future__ import annotations

import logging
import time

import psycopg
from django.db import connection
from django.utils import timezone

log = logging.getLogger(__name__)


class SideProgress:
    def __init__(self, run_id: int, *, interval: float = 0.5):
        self.run_id = run_id
        self.interval = interval
        self._last = 0.0
        self._conn = None
        self.last_done = 0

    def _connect(self):
        params = {k: v for k, v in connection.get_connection_params().items()
                  if k not in ("cursor_factory", "context", "prepare_threshold", "server_side_binding")}
        return psycopg.connect(**params, autocommit=True)

    def update(self, done: int, total: int, *, failed: int | None = None, force: bool = False) -> None:
        self.last_done = done
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        try:
            if self._conn is None:
                self._conn = self._connect()
            self._conn.execute(
                "UPDATE core_batchrun SET processed = %s, total = GREATEST(total, %s), "
                "failed = COALESCE(%s, failed), heartbeat_at = %s WHERE id = %s",
                [done, total, failed, timezone.now(), self.run_id])
        except psycopg.Error:  # progress is a courtesy: never fail the work for it
            log.warning("progress of batch run %s not written", self.run_id, exc_info=True)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
