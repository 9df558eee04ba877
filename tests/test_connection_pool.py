"""Forty parallel requests to a threaded server (the one `make run` starts, with the local
settings) hold at most DATABASE_POOL_MAX database connections (issue 8: without a pool
each thread kept its own and a shared server ran out)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from accounts.services import api_token_create

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[1]
POOL = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _connections(dbname: str) -> int:
    params = {k: v for k, v in connection.get_connection_params().items()
              if k not in ("cursor_factory", "context", "prepare_threshold", "server_side_binding")}
    with psycopg.connect(**params, autocommit=True) as other:
        return other.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                             "AND pid <> pg_backend_pid() AND application_name <> 'probe'",
                             [dbname]).fetchone()[0]


def test_forty_parallel_requests_hold_at_most_the_pool(policies, tmp_path):
    _, token = api_token_create(name="pool-test", scope="staff")
    db = connection.settings_dict
    auth = f"{db['USER']}:{db['PASSWORD']}" if db.get("PASSWORD") else db["USER"]
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": "false",
           "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "DATABASE_POOL_MAX": str(POOL), "ALLOWED_HOSTS": "127.0.0.1"}
    baseline = _connections(db["NAME"])  # this process's own (and earlier tests' threads')
    log = open(tmp_path / "server.log", "wb")
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    from enrollment.idnumbers import make_number

    url = f"http://127.0.0.1:{port}/api/v1/enrollments/{make_number('11010519800101001')}/2026"
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        statuses, peak, done = [], [0], threading.Event()

        def watch():
            while not done.is_set():
                peak[0] = max(peak[0], _connections(db["NAME"]))
                time.sleep(0.02)

        def call():
            req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
            try:
                with urllib.request.urlopen(req, timeout=60) as resp:
                    statuses.append(resp.status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)

        watcher = threading.Thread(target=watch)
        watcher.start()
        calls = [threading.Thread(target=call) for _ in range(40)]
        for t in calls:
            t.start()
        for t in calls:
            t.join(120)
        done.set()
        watcher.join(10)
    finally:
        server.kill()
        server.wait(10)
    assert statuses.count(404) == 40, (statuses, (tmp_path / "server.log").read_text()[-2000:])
    assert 1 <= peak[0] - baseline <= POOL
