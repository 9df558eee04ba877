"""What the crash tests share (a crash is a test case): a real Celery worker on the real Redis,
on a queue of the test's own, started as a separate process so it can be SIGKILLed, and a
wait that shows the workers' logs when it times out.  With no Redis the test fails (never
skips)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def broker_url(db_number: int) -> str:
    """Redis database ``db_number`` on the configured server (the queue is the test's own)."""
    base = settings.CELERY_BROKER_URL.split("?")[0]
    scheme_host = base[: base.index("/", len("redis://"))] if base.count("/") > 2 else base
    url = f"{scheme_host}/{db_number}"
    redis.Redis.from_url(url).ping()  # no Redis: the test fails (never skips)
    return url


def start_worker(broker: str, tmp_path: Path, name: str, queue: str, *, beat: bool) -> subprocess.Popen:
    """A solo-pool worker on ``queue`` against the test database; with ``beat`` its scheduler
    too, whose watchdog takes stale runs over after 3 s."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    if db.get("PASSWORD"):
        url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_URL": url,
           "CELERY_BROKER_URL": broker, "CELERY_RESULT_BACKEND": broker, "BATCH_STALE_SECONDS": "3",
           "BATCH_WATCHDOG_SECONDS": "1", "CELERY_QUEUE": queue, "LOG_LEVEL": "INFO"}
    cmd = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue,
           "-n", f"{name}-{queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
    if beat:
        cmd += ["-B", "-s", str(tmp_path / "beat-schedule")]
    log = open(tmp_path / f"{name}.log", "wb")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(predicate, timeout: float, what: str, tmp_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("*.log"))
    raise AssertionError(f"timed out waiting for {what}\n{logs}")
