"""Default renewal of 1,000,000 enrollments on the batch engine: one process, then two workers.

    .venv/bin/python bench/renewal.py                     # 1,000,000 residents (about 8 minutes)
    .venv/bin/python bench/renewal.py --residents 50000   # a quick run
    .venv/bin/python bench/renewal.py --check             # ... exit 1 when the target is missed
    .venv/bin/python bench/renewal.py --keep              # keep the loaded template database
    .venv/bin/python bench/renewal.py --reuse --keep      # time again on a kept template
    .venv/bin/python bench/renewal.py --no-single         # the two workers only

Target (issue 7): default renewal of **1,000,000** enrollments with **two Celery
workers** on this 2-core machine in **under 60 seconds**, every inserted
enrollment leaving its pghistory event with the acting context.  The
single-process figure (the engine's ``run_inline``, what ``manage.py
renew_enrollments`` does) is printed beside it.

Data: the generator of ``bench/admin.py`` (COPY, audit triggers off for the load
only): N residents, 96 % of them in Lüliang (141100) and Xiaoyi (141181), each
with a 2026 (or 2025) enrollment, 98 % of the Lüliang ones paid; 2027 assistance
identities and employee coverage.  The loaded database is kept as a template
(``<name>_tpl``) and each measurement starts from a fresh copy of it
(``CREATE DATABASE … TEMPLATE``), so both figures renew the same rows.

Databases: ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/bench_renewal``,
the name must contain "bench"; it and ``<name>_tpl`` are dropped and created, and
dropped at the end unless ``--keep``).  Broker: ``CELERY_BROKER_URL`` (default Redis
database 10 on this machine), emptied before the workers start.  The two workers
are started here as subprocesses (``celery worker --pool=solo``) and killed at the
end, always; the run is given up after ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if p != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_renewal"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/10"
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
os.environ.setdefault("CELERY_BROKER_URL", DEFAULT_BROKER_URL)
os.environ.setdefault("CELERY_RESULT_BACKEND", os.environ["CELERY_BROKER_URL"])
os.environ.setdefault("DEBUG", "false")


def _load_data_module():
    """bench/_data.py: the shared generator (it imports bench/admin.py's)."""
    spec = importlib.util.spec_from_file_location("bench_data", Path(HERE) / "_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_data"] = module
    spec.loader.exec_module(module)
    return module


data = _load_data_module()

TARGET_S = 60.0
ROWS = 1_000_000
ACTOR = "bench/renewal.py"
REGION, TO_YEAR = data.RENEW_REGION, data.RENEW_TO
TODAY = data.RENEW_TODAY


# --- databases ------------------------------------------------------------------------


def _admin_url_and_names() -> tuple[str, str, str]:
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop and create {name!r}: the bench database's name must "
                         "contain 'bench' (DATABASE_URL)")
    return urlunsplit(parts._replace(scheme="postgresql", path="/postgres")), name, f"{name}_tpl"


def _admin_sql(*statements: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    admin, _, _ = _admin_url_and_names()
    with psycopg.connect(admin, autocommit=True) as conn:
        for s in statements:
            conn.execute(s)


def fresh_copy() -> float:
    """The bench database afresh from the template; seconds taken."""
    _, name, tpl = _admin_url_and_names()
    started = time.perf_counter()
    _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
               f'CREATE DATABASE "{name}" TEMPLATE "{tpl}" STRATEGY FILE_COPY')
    return time.perf_counter() - started


def settle() -> None:
    """What the copy and the previous run left behind is written out before timing:
    VACUUM ANALYZE (autovacuum may be off) and a checkpoint, so that no checkpoint
    caused by the copy's writes lands inside the measurement."""
    data.vacuum_analyze()
    _admin_sql("CHECKPOINT")


def build_template(n: int, seed: int) -> None:
    _, name, tpl = _admin_url_and_names()
    _admin_sql(f'DROP DATABASE IF EXISTS "{tpl}" WITH (FORCE)',
               f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    started = time.perf_counter()
    data.prepare_schema()
    counts, seconds = data.load(n, seed)
    data.vacuum_analyze()
    print(f"loaded: {counts.residents:,} residents, {sum(counts.enrollments.values()):,} enrollments, "
          f"{counts.identities:,} identities {TO_YEAR}, {counts.employees:,} employee coverages "
          f"{TO_YEAR} in {time.perf_counter() - started:.0f} s (COPY {seconds:.0f} s)", flush=True)
    _admin_sql(f'CREATE DATABASE "{tpl}" TEMPLATE "{name}" STRATEGY FILE_COPY')


def drop_all() -> None:
    _, name, tpl = _admin_url_and_names()
    _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'DROP DATABASE IF EXISTS "{tpl}" WITH (FORCE)')


def migrate() -> None:
    """Migrations added since the template was loaded (e.g. the audit trigger level)."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# --- measuring ------------------------------------------------------------------------


def _counts_before() -> dict:
    return {"events": data.sql_value("SELECT count(*) FROM enrollment_enrollmentevent")}


def _check_audit(before: dict) -> dict:
    """Every renewed enrollment has exactly one insert event with the renewal's context."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM enrollment_enrollment WHERE year = %s "
                    "AND registered_via = 'default_renewal'", [TO_YEAR])
        renewed = cur.fetchone()[0]
        cur.execute("""
            SELECT count(*), count(DISTINCT ev.pgh_obj_id),
                   count(*) FILTER (WHERE c.metadata->>'action' = 'renew_enrollments'
                                    AND c.metadata->>'region' = %s AND (c.metadata->>'year')::int = %s),
                   count(DISTINCT ev.pgh_context_id)
            FROM enrollment_enrollmentevent ev LEFT JOIN pghistory_context c ON c.id = ev.pgh_context_id
            WHERE ev.pgh_label = 'insert' AND ev.year = %s AND ev.registered_via = 'default_renewal'
            """, [REGION, TO_YEAR, TO_YEAR])
        events, objects, with_context, contexts = cur.fetchone()
        cur.execute("SELECT count(*) FROM enrollment_enrollment e WHERE year = %s AND registered_via = "
                    "'default_renewal' AND NOT EXISTS (SELECT 1 FROM enrollment_enrollmentevent ev "
                    "WHERE ev.pgh_obj_id = e.id AND ev.pgh_label = 'insert')", [TO_YEAR])
        missing = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM enrollment_reregistrationnotice WHERE year = %s", [TO_YEAR])
        notices = cur.fetchone()[0]
    total_events = data.sql_value("SELECT count(*) FROM enrollment_enrollmentevent") - before["events"]
    ok = renewed == events == objects == with_context and missing == 0
    return {"renewed_rows": renewed, "events": events, "events_all": total_events, "objects": objects,
            "with_context": with_context, "contexts": contexts, "missing": missing, "notices": notices,
            "ok": ok}


def _phases(run_id: int, t0: float, t_end: float) -> dict:
    from core.models import BatchChunk, BatchRun

    run = BatchRun.objects.get(pk=run_id)
    chunks = list(BatchChunk.objects.filter(run=run).order_by("finished_at"))
    first = min((c.finished_at for c in chunks), default=None)
    workers: dict[str, int] = {}
    last: dict[str, object] = {}
    spans = []  # (finished, seconds since the same worker's previous chunk)
    for c in chunks:
        workers[c.worker] = workers.get(c.worker, 0) + 1
        if c.worker in last:
            spans.append((c.finished_at, (c.finished_at - last[c.worker]).total_seconds()))
        last[c.worker] = c.finished_at
    fifth = max(1, len(spans) // 5)
    per_chunk = {"first": statistics.median(s for _, s in spans[:fifth]) if spans else None,
                 "last": statistics.median(s for _, s in spans[-fifth:]) if spans else None,
                 "median": statistics.median(s for _, s in spans) if spans else None}
    return {
        "planned_s": (run.started_at - run.created_at).total_seconds() if run.started_at else None,
        "first_chunk_s": (first - run.created_at).total_seconds() if first else None,
        "chunks_s": (run.finished_at - run.started_at).total_seconds() if run.finished_at else None,
        "chunks": len(chunks), "workers": workers, "per_chunk": per_chunk, "status": run.status, "summary": run.summary,
        "total": run.total, "report": run.report[:2000],
    }


_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _backend_pids() -> set[int]:
    """The server processes of this database's connections (this machine's server)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()")
        return {pid for (pid,) in cur.fetchall()}


def _cpu_of(pids) -> float:
    return sum(_proc_cpu(pid) for pid in pids)


class BackendCpu:
    """CPU of the workers' server processes, sampled while they live: Celery closes a
    task's database connection after the task (its Django fix-up, unless
    CELERY_DB_REUSE_MAX), so a backend may live for one chunk only; what it used after
    the last sample (under one sampling interval) is missed."""

    def __init__(self):
        self.seen: dict[int, float] = {}

    def sample(self) -> None:
        for pid in _backend_pids():
            self.seen[pid] = max(self.seen.get(pid, 0.0), _proc_cpu(pid))

    @property
    def total(self) -> float:
        return sum(self.seen.values())


def _params(chunk_size: int | None) -> dict:
    params = {"region": REGION, "to_year": TO_YEAR, "today": TODAY.isoformat()}
    if chunk_size:
        params["chunk_size"] = chunk_size
    return params


def measure_single(chunk_size: int | None) -> dict:
    from core import batch

    before = _counts_before()
    backend = data.sql_value("SELECT pg_backend_pid()")
    py0, pg0 = _proc_cpu(os.getpid()), _proc_cpu(backend)
    t0 = time.perf_counter()
    run = batch.start("renew_enrollments", _params(chunk_size), actor=ACTOR, dispatch=False).run
    run = batch.run_inline(run)
    seconds = time.perf_counter() - t0
    cpu = {"python": _proc_cpu(os.getpid()) - py0, "postgres": _proc_cpu(backend) - pg0}
    return {"seconds": seconds, "load": os.getloadavg()[0], **_phases(run.pk, t0, seconds),
            "audit": _check_audit(before), "cpu": cpu}


def _worker_cmd(name: str, args) -> list[str]:
    cmd = [sys.executable, "-m", "celery", "-A", "config", "worker", f"--pool={args.pool}",
           "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
           "-l", "WARNING", f"--prefetch-multiplier={args.prefetch}"]
    if args.pool == "prefork":
        cmd += [f"--concurrency={args.workers}"]
    return cmd


def start_workers(args, logdir: Path) -> list[subprocess.Popen]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": "false"}
    count = 1 if args.pool == "prefork" else args.workers
    procs = []
    for i in range(count):
        log = open(logdir / f"w{i + 1}.log", "wb")
        procs.append(subprocess.Popen(_worker_cmd(f"w{i + 1}", args), cwd=ROOT, env=env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True))
    return procs


def _worker_pids(procs) -> list[int]:
    """The worker processes and their children (prefork's pool)."""
    pids = []
    for p in procs:
        pids.append(p.pid)
        try:
            with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                pids += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return pids


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 10
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=5)


def _wait_ready(procs, logdir: Path, count: int, timeout: float = 60) -> None:
    from config.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        replies = app.control.ping(timeout=0.5) or []
        if len(replies) >= count:
            return
    logs = "\n".join(f.read_text(errors="replace")[-2000:] for f in logdir.glob("*.log"))
    raise RuntimeError(f"the workers did not start\n{logs}")


def measure_workers(args) -> dict:
    import redis

    from core import batch
    from core.models import BatchRun

    redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
    before = _counts_before()
    logdir = Path(tempfile.mkdtemp(prefix="bench-renewal-"))
    procs = start_workers(args, logdir)
    try:
        _wait_ready(procs, logdir, args.workers if args.pool == "solo" else 1)
        worker_pids = _worker_pids(procs)
        py0 = _cpu_of(worker_pids)
        backends = BackendCpu()
        t0 = time.perf_counter()
        run = batch.start("renew_enrollments", _params(args.chunk_size), actor=ACTOR).run
        deadline = t0 + args.timeout
        while True:
            status = BatchRun.objects.filter(pk=run.pk).values_list("status", flat=True).get()
            if status not in BatchRun.ACTIVE:
                break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"run {run.pk} not finished after {args.timeout} s")
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("a worker died: " + "\n".join(
                    f.read_text(errors="replace")[-2000:] for f in logdir.glob("*.log")))
            backends.sample()
            time.sleep(0.05)
        seconds = time.perf_counter() - t0
        load = os.getloadavg()[0]
        # the workers' connections stay open (CONN_MAX_AGE): read their server processes now
        backends.sample()
        cpu = {"python": _cpu_of(worker_pids) - py0, "postgres": backends.total,
               "connections": len(backends.seen)}
    finally:
        stop_workers(procs)
    return {"seconds": seconds, "load": load, **_phases(run.pk, t0, seconds),
            "audit": _check_audit(before), "logs": str(logdir), "cpu": cpu}


def print_result(title: str, r: dict, candidates: int) -> None:
    rate = candidates / r["seconds"]
    scaled = ROWS / rate
    print(f"\n{title}")
    print(f"  time: {r['seconds']:.1f} s for {candidates:,} candidates  {rate:,.0f} rows/s  "
          f"-> {ROWS:,} rows at that rate: {scaled:.1f} s; load average {r['load']:.2f} at the end")
    planned = f"{r['planned_s']:.2f} s" if r["planned_s"] is not None else "-"
    chunks = f"{r['chunks_s']:.1f} s" if r["chunks_s"] is not None else "-"
    cpu = r["cpu"]
    conns = f", {cpu['connections']} connections" if "connections" in cpu else ""
    print(f"  CPU used: {cpu['python']:.1f} s Python + {cpu['postgres']:.1f} s PostgreSQL "
          f"(its connections{conns}) = {cpu['python'] + cpu['postgres']:.1f} s "
          f"({(cpu['python'] + cpu['postgres']) / candidates * 1e6:.0f} µs a candidate); "
          f"on {os.cpu_count()} free cores at least {(cpu['python'] + cpu['postgres']) / os.cpu_count():.1f} s")
    print(f"  phases: start -> planned {planned}; chunks {chunks} ({r['chunks']} chunks; "
          f"by worker {json.dumps(r['workers'])})")
    pc = r["per_chunk"]
    if pc["median"] is not None:
        print(f"  seconds per chunk and worker: median {pc['median']:.2f}, first fifth {pc['first']:.2f}, "
              f"last fifth {pc['last']:.2f}")
    print(f"  run: {r['status']}; summary: {json.dumps(r['summary'], ensure_ascii=False)}")
    a = r["audit"]
    print(f"  audit: {a['renewed_rows']:,} renewed rows, {a['events']:,} insert events on "
          f"{a['objects']:,} enrollments, {a['with_context']:,} with the renewal's context "
          f"({a['contexts']:,} contexts), {a['missing']} rows without an event -> "
          f"{'ok' if a['ok'] else 'WRONG'}; notices {a['notices']:,}")
    if r.get("report"):
        print(f"  report: {r['report']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=ROWS)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--reuse", action="store_true", help="use the kept template (no load)")
    parser.add_argument("--keep", action="store_true", help="keep the template database afterwards")
    parser.add_argument("--no-single", action="store_true", help="skip the single-process figure")
    parser.add_argument("--no-workers", action="store_true", help="skip the two-worker figure")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool", choices=["solo", "prefork"], default="solo",
                        help="solo: N worker processes; prefork: one worker, concurrency N")
    parser.add_argument("--prefetch", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=600.0, help="give the run up after (s)")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)

    import django

    django.setup()
    _, name, tpl = _admin_url_and_names()
    ok = True
    try:
        if not args.reuse:
            build_template(args.residents, args.seed)
        copy_s = fresh_copy()
        migrate()
        settle()
        candidates = data.sql_value(
            "SELECT count(*) FROM enrollment_enrollment WHERE year = %s AND status = 'paid' "
            "AND region_id = ANY(%s)", [TO_YEAR - 1, ["141100", "141181"]])
        print(f"database: {name} (fresh copy of {tpl} in {copy_s:.0f} s) on {data.server_description()}")
        print(f"default renewal of {REGION} (with 141181) into {TO_YEAR}, today {TODAY}: "
              f"{candidates:,} candidates; chunk size {args.chunk_size or 'default'}", flush=True)
        results = {}
        if not args.no_single:
            results["single"] = measure_single(args.chunk_size)
            print_result("one process (run_inline)", results["single"], candidates)
            ok = ok and results["single"]["audit"]["ok"]
            if not args.no_workers:
                print(f"(fresh copy in {fresh_copy():.0f} s)", flush=True)
                migrate()
                settle()
        if not args.no_workers:
            r = results["workers"] = measure_workers(args)
            label = (f"{args.workers} Celery workers (--pool=solo each)" if args.pool == "solo"
                     else f"one Celery worker --pool=prefork --concurrency={args.workers}")
            print_result(label, r, candidates)
            met = r["seconds"] * ROWS / candidates < TARGET_S
            print(f"  target: {ROWS:,} in under {TARGET_S:.0f} s -> {'ok' if met else 'MISSED'}")
            ok = ok and met and r["audit"]["ok"]
        if "single" in results and "workers" in results:
            print(f"\nspeed-up two workers / one process: "
                  f"{results['single']['seconds'] / results['workers']['seconds']:.2f}x")
    finally:
        if args.keep:
            _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            drop_all()
    if args.check and not ok:
        print("FAIL: the target was missed or an audit event is wrong")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
