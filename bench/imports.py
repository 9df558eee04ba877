"""A department's roster through ``import_residents``, and through the admin: rows per second.

    .venv/bin/python bench/imports.py                  # 100,000 rows (a few minutes)
    .venv/bin/python bench/imports.py --rows 20000     # a quick run
    .venv/bin/python bench/imports.py --no-admin       # the service only (no Redis, no worker)
    .venv/bin/python bench/imports.py --format xlsx    # the roster as .xlsx instead of CSV
    .venv/bin/python bench/imports.py --payments-only --no-admin   # only the import_payments measurement

What it does, in a scratch database (``DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/bench_imports``; its name must contain
"bench": it is dropped and created afresh, and dropped at the end): migrate,
load the policies, clone Lüliang 2026 to 2027 and publish it; write a roster
(CSV in UTF-8 with BOM, as a department's spreadsheet saves it, or .xlsx) of N
Lüliang residents with valid ID numbers, a fifth of them pupils, each to be
registered for 2027; then time, through the service the command and the admin
both use:

1. the first import (residents created and registered, audit triggers on),
   with its phases: reading the file, checking the rows, comparing with the
   database, gathering the facts for the rules (``quote_requests_for``),
   pricing, writing (stage, upsert, registrations, commit);
2. the same file again (nothing changes: every row reported unchanged);
3. a dry run of a file with every name changed (checked and counted, nothing written).

Then, unless ``--no-admin``, the residents and enrollments are emptied
(TRUNCATE: a scratch database) and the same file goes through the admin
(Django's test client, logged in as a superuser): the upload (its preview runs
the whole check as a dry run), the confirmation — timed: it must return at
once — and the background run on the batch engine, done by a Celery worker
subprocess on Redis (``--broker``, default database 8, on a queue of the
bench's own), timed until the BatchRun is done.  The worker is always killed at
the end; every wait has a deadline.

Then (unless ``--no-payments``) ``import_payments`` (issue 10): a school-and-village
collection file paying every registration just made (channel 集中代收, the amount due,
2026-11-23 10:00), timed through the service: the first import (every row paid: ledger
COPY, enrollments' paid columns, audit events), the same file again (every row
unchanged), and ``ledger_check`` after both.  Target: under 15 s for 100,000 rows.

Printed: seconds and rows per second of each, the SQL time of the slowest
statements, the phases, the audit events written.  Target (issue 7): the first
import under 10 s, the confirmation under 1 s; figures in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if p != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_imports")
os.environ.setdefault("DEBUG", "false")

HEADER = ["姓名", "身份证号码", "户籍", "居住证", "学生类别", "参保地", "参保年度"]
AREAS = ["141102", "141121", "141122", "141123", "141124", "141125", "141126", "141127", "141128",
         "141129", "141130", "141182"]
TODAY = date(2026, 11, 23)  # inside Lüliang's 2027 window once 2026 is cloned
QUEUE = f"bench-imports-{uuid.uuid4().hex[:12]}"  # a queue of the bench's own
RUN_DEADLINE = 600  # seconds the background run may take before the bench gives up


def database_parts() -> tuple[str, str]:
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop and create {name!r}: the bench database's name must "
                         "contain 'bench' (DATABASE_URL)")
    return urlunsplit(parts._replace(scheme="postgresql", path="/postgres")), name


def recreate(drop_only: bool = False) -> None:
    import psycopg

    admin, name = database_parts()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def roster_rows(n: int, seed: int, rename: bool = False) -> list[list[str]]:
    from enrollment.idnumbers import make_number

    rng = random.Random(seed)
    rows = [HEADER]
    seen: set[str] = set()
    while len(seen) < n:
        pupil = rng.random() < 0.2
        born = (date(2010, 1, 1) if pupil else date(1940, 1, 1)) + timedelta(
            days=rng.randint(0, 2900 if pupil else 24000))
        number = make_number(f"{rng.choice(AREAS)}{born:%Y%m%d}{rng.randrange(1000):03d}")
        if number in seen:
            continue
        seen.add(number)
        name = "王李张刘陈杨"[rng.randrange(6)] + "伟芳娜敏静丽强磊军洋"[rng.randrange(10)]
        rows.append([name + ("改" if rename else ""), number, "本地", "无",
                     "中小学生" if pupil else "", "141100", "2027"])
    return rows


def roster(n: int, seed: int, rename: bool = False, fmt: str = "csv") -> bytes:
    rows = roster_rows(n, seed, rename)
    if fmt == "xlsx":  # every cell text, as a department exports ID numbers
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet()
        for row in rows:
            ws.append(row)
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


class SqlTimer:
    def __init__(self):
        self.by_statement: dict[str, float] = {}

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = " ".join(sql.split())[:60]
            self.by_statement[key] = self.by_statement.get(key, 0.0) + time.perf_counter() - started


class Phases:
    """Wall time spent in named functions of the import, by wrapping them where the
    import looks them up (module globals); nothing of the service changes."""

    WRAPPED = [  # (module, function, phase)
        ("enrollment.imports.residents_write", "read_table", "read the file"),
        ("enrollment.imports.residents_write", "parse_residents", "check + price (all)"),
        ("enrollment.imports.residents", "_compare_with_database", "compare with the database"),
        ("enrollment.imports.residents", "_reprice_changes", "re-price changed people"),
        ("enrollment.imports.residents", "_price_registrations", "price registrations (all)"),
        ("enrollment.imports.residents", "quote_requests_for", "facts (quote_requests_for)"),
        ("enrollment.imports.residents_write", "write_residents", "write + commit"),
    ]

    def __init__(self):
        self.spent: dict[str, float] = {}

    @contextlib.contextmanager
    def wrapped(self):
        import importlib

        saved = []
        for module_name, attr, phase in self.WRAPPED:
            module = importlib.import_module(module_name)
            original = getattr(module, attr)
            saved.append((module, attr, original))
            setattr(module, attr, self._timed(original, phase))
        try:
            yield self
        finally:
            for module, attr, original in saved:
                setattr(module, attr, original)

    def _timed(self, fn, phase):
        def run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[phase] = self.spent.get(phase, 0.0) + time.perf_counter() - started
        return run

    def lines(self) -> list[str]:
        t = self.spent.get
        parse, price, facts = t("check + price (all)", 0), t("price registrations (all)", 0), t(
            "facts (quote_requests_for)", 0)
        shown = [("read the file", t("read the file", 0)),
                 ("check the rows (ID, columns)", parse - price - t("compare with the database", 0)
                  - t("re-price changed people", 0)),
                 ("compare with the database", t("compare with the database", 0)),
                 ("facts (quote_requests_for)", facts),
                 ("price (rules) and the rest", price - facts),
                 ("write + commit", t("write + commit", 0))]
        return [f"      {label:<30} {spent:6.2f} s" for label, spent in shown]


def timed(label: str, n: int, fn, phases: bool = False) -> object:
    from django.db import connection

    timer = SqlTimer()
    phase = Phases()
    started, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(timer), (phase.wrapped() if phases else contextlib.nullcontext()):
        result = fn()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    sql = sum(timer.by_statement.values())
    print(f"  {label:<34} {seconds:7.1f} s  {n / seconds:8,.0f} rows/s  (SQL {sql:5.1f} s, "
          f"Python CPU {cpu:5.1f} s)  {result.as_dict()}")
    for key, spent in sorted(timer.by_statement.items(), key=lambda kv: -kv[1])[:2]:
        print(f"      {spent:6.2f} s  {key}")
    if phases:
        print("    phases:")
        print("\n".join(phase.lines()))
    return result


def payments_file(n: int) -> bytes:
    """Every 2027 registration paid through 集中代收 at its amount due."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT r.id_number, r.name, e.amount_due FROM enrollment_enrollment e "
                    "JOIN enrollment_resident r ON r.id = e.resident_id WHERE e.year = 2027 ORDER BY e.id")
        rows = cur.fetchall()
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["渠道", "交易流水号", "身份证号码", "姓名", "待遇年度", "金额", "缴费时间", "缴费单位"])
    for i, (number, name, due) in enumerate(rows[:n]):
        w.writerow(["集中代收", f"JZ-{i:07d}", number, name, "2027", f"{due:.2f}", "2026-11-23 10:00:00",
                    f"第{i // 500 + 1}村委会"])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def payments_bench(rows: int, actor: str, profile: str | None = None) -> bool:
    from payments.imports import import_payments
    from payments.services import ledger_check

    data = payments_file(rows)
    print(f"import_payments: {rows:,} rows, {len(data) / 1e6:.1f} MB CSV; load average {load_average()}")
    marks = {}
    started = time.perf_counter()

    def mark(label, done, total):
        if done == total:
            marks.setdefault(label, time.perf_counter() - started)

    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU, not wall: the machine may be shared
        profiler.enable()
    first = timed("import_payments, first (all paid)", rows, lambda: import_payments(
        data, "payments.csv", actor=actor, today=TODAY, progress=mark))
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
        print(f"    CPU profile of the first import written to {profile} (python -m pstats {profile})")
    ended = time.perf_counter() - started
    print(f"    phases: read + check rows {marks.get('检查', 0):.1f} s, decide + write "
          f"{marks.get('写入', 0) - marks.get('检查', 0):.1f} s, commit (deferred key checks) "
          f"{ended - marks.get('写入', ended):.1f} s")
    again = timed("import_payments, same file again", rows, lambda: import_payments(
        data, "payments.csv", actor=actor, today=TODAY))
    started = time.perf_counter()
    disagree = ledger_check()
    print(f"  ledger_check: {len(disagree)} disagreeing, {time.perf_counter() - started:.1f} s")
    return first.paid == rows and again.unchanged == rows and not disagree


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


# --- the admin: upload (preview), confirm (timed), the background run on a worker ----------------

def start_worker(broker: str, log_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "CELERY_BROKER_URL": broker, "CELERY_RESULT_BACKEND": broker,
           "CELERY_QUEUE": QUEUE}
    cmd = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", QUEUE,
           "-n", f"{QUEUE}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
           "-l", "WARNING"]
    log = open(log_dir / "worker.log", "wb")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop_worker(worker: subprocess.Popen | None, broker: str) -> None:
    if worker is None:
        return
    if worker.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    import redis  # the queue's own keys go too (task results expire by themselves)

    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(broker)
        keys = list(client.scan_iter(match=f"*{QUEUE}*"))
        if keys:
            client.delete(*keys)


def wait_ready(worker: subprocess.Popen, log_dir: Path, deadline: float = 60) -> float:
    from config.celery import app

    started = time.perf_counter()
    while time.perf_counter() - started < deadline:
        if worker.poll() is not None:
            raise SystemExit("the worker stopped:\n" + (log_dir / "worker.log").read_text(errors="replace")[-3000:])
        if app.control.ping(destination=[f"{QUEUE}@{socket.gethostname()}"], timeout=0.5):
            return time.perf_counter() - started
    raise SystemExit("the worker did not answer within a minute")


def through_admin(data: bytes, filename: str, rows: int, worker: subprocess.Popen, log_dir: Path) -> bool:
    from django.contrib.auth.models import User
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django.test import Client

    from core.models import BatchRun

    with connection.cursor() as cur:  # a scratch database: start from no residents again
        cur.execute("TRUNCATE enrollment_enrollment, enrollment_enrollmentevent, enrollment_resident, "
                    "enrollment_residentevent CASCADE")
    user = User.objects.create_superuser("bench", "bench@example.invalid", "bench-only-password")
    client = Client()
    client.force_login(user)
    started = time.perf_counter()
    preview = client.post("/admin/enrollment/resident/import/", {
        "import_file": SimpleUploadedFile(filename, data), "format": "0", "resource": "0"})
    preview_s = time.perf_counter() - started
    if preview.status_code != 200 or preview.context is None or "confirm_form" not in preview.context:
        print(f"FAIL: the upload gave {preview.status_code} without a confirmation form")
        return False
    print(f"  admin upload (preview: a dry run)  {preview_s:7.1f} s  {rows / preview_s:8,.0f} rows/s")
    form = preview.context["confirm_form"]
    fields = {name: form.initial[name] for name in ("import_file_name", "original_file_name", "format",
                                                   "resource")}
    wait_ready(worker, log_dir)
    started = time.perf_counter()
    confirmed = client.post("/admin/enrollment/resident/process_import/", fields)
    confirm_s = time.perf_counter() - started
    run = BatchRun.objects.order_by("-id").first()
    print(f"  admin confirm (response)           {confirm_s:7.2f} s  -> {confirmed.status_code} "
          f"{confirmed.get('Location', '')}")
    while run.status in BatchRun.ACTIVE:
        if time.perf_counter() - started > RUN_DEADLINE:
            print(f"FAIL: the background run #{run.pk} is still {run.status} after {RUN_DEADLINE} s")
            return False
        if worker.poll() is not None:
            print("FAIL: the worker stopped:\n" + (log_dir / "worker.log").read_text(errors="replace")[-3000:])
            return False
        time.sleep(0.1)
        run.refresh_from_db()
    done_s = time.perf_counter() - started
    ran = (run.finished_at - run.started_at).total_seconds() if run.started_at and run.finished_at else 0
    print(f"  background run (confirm -> done)   {done_s:7.1f} s  {rows / done_s:8,.0f} rows/s  "
          f"(run started -> finished {ran:.1f} s)  #{run.pk} {run.status} {run.summary}")
    return (confirm_s < 1 and run.status == BatchRun.Status.DONE
            and run.summary.get("created") == run.summary.get("registered") == rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    parser.add_argument("--no-admin", dest="admin", action="store_false",
                        help="the service only: no upload, no worker")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/8",
                        help="Redis for the admin's background run (its database is the bench's own)")
    parser.add_argument("--no-payments", dest="payments", action="store_false",
                        help="skip the import_payments measurement")
    parser.add_argument("--payments-only", action="store_true",
                        help="register the roster, then only the import_payments measurement")
    parser.add_argument("--profile", metavar="FILE",
                        help="cProfile (CPU time) of the first import_payments, written to FILE")
    args = parser.parse_args(argv)

    _, name = database_parts()
    os.environ["CELERY_BROKER_URL"] = os.environ["CELERY_RESULT_BACKEND"] = (
        args.broker if args.admin else "memory://")
    os.environ["CELERY_QUEUE"] = QUEUE
    scratch = Path(tempfile.mkdtemp(prefix="bench-imports-"))
    os.environ["MEDIA_ROOT"] = str(scratch / "media")  # uploads kept by the admin, then deleted
    recreate()
    import django

    django.setup()
    worker = None
    try:
        from django.core.management import call_command
        from django.db import connection
        from django.test.utils import setup_test_environment

        from enrollment.imports import import_residents
        from policy.services import clone_policy_year, load_policies

        setup_test_environment()  # the test client's response.context
        call_command("migrate", verbosity=0, interactive=False)
        load_policies(actor="bench/imports.py")
        clone_policy_year(region="141100", from_year=2026, to_year=2027, publish=True,
                          actor="bench/imports.py")
        with connection.cursor() as cur:
            cur.execute("SHOW server_version")
            version = cur.fetchone()[0]
        filename = f"roster.{args.format}"
        data = roster(args.rows, args.seed, fmt=args.format)
        renamed = roster(args.rows, args.seed, rename=True, fmt=args.format)
        print(f"database: {name} on PostgreSQL {version}; roster: {args.rows:,} rows, "
              f"{len(data) / 1e6:.1f} MB {args.format.upper()}"
              f"{' (UTF-8 with BOM)' if args.format == 'csv' else ''}; today {TODAY}; "
              f"{os.cpu_count()} cores, load average {load_average()}")
        actor = "bench/imports.py"
        first = timed("first import (create + register)", args.rows, lambda: import_residents(
            data, filename, actor=actor, today=TODAY), phases=True)
        if args.payments_only:
            return 0 if payments_bench(args.rows, actor, args.profile) else 1
        again = timed("same file again (unchanged)", args.rows, lambda: import_residents(
            data, filename, actor=actor, today=TODAY), phases=True)
        timed("dry run, every name changed", args.rows, lambda: import_residents(
            renamed, filename, actor=actor, today=TODAY, dry_run=True))
        with connection.cursor() as cur:
            cur.execute("SELECT (SELECT count(*) FROM enrollment_residentevent), "
                        "(SELECT count(*) FROM enrollment_enrollmentevent)")
            residents_ev, enrollments_ev = cur.fetchone()
        print(f"  audit events: {residents_ev:,} resident, {enrollments_ev:,} enrollment")
        ok = (first.created == first.registered == args.rows and again.unchanged == args.rows
              and residents_ev == enrollments_ev == args.rows)
        if args.payments:
            ok = payments_bench(args.rows, actor, args.profile) and ok
            with connection.cursor() as cur:  # the admin's run below starts from empty tables
                cur.execute("TRUNCATE payments_refund, payments_payment")
        if args.admin:
            worker = start_worker(args.broker, scratch)
            ok = through_admin(data, filename, args.rows, worker, scratch) and ok
            with connection.cursor() as cur:
                cur.execute("SELECT (SELECT count(*) FROM enrollment_resident), "
                            "(SELECT count(*) FROM enrollment_enrollment), "
                            "(SELECT count(*) FROM enrollment_residentevent), "
                            "(SELECT count(*) FROM enrollment_enrollmentevent)")
                counts = cur.fetchone()
            print(f"  after the admin's run: {counts[0]:,} residents, {counts[1]:,} enrollments, "
                  f"audit events {counts[2]:,} resident, {counts[3]:,} enrollment")
            ok = ok and counts == (args.rows,) * 4
        print(f"  load average at the end: {load_average()}")
        if not ok:
            print("FAIL: the counts or times are not those expected")
        return 0 if ok else 1
    finally:
        stop_worker(worker, args.broker)
        from django.db import connections

        connections.close_all()
        recreate(drop_only=True)
        shutil.rmtree(scratch, ignore_errors=True)
        print(f"database {name} dropped")


if __name__ == "__main__":
    sys.exit(main())
