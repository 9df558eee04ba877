"""The December family-pool batch (共济缴费批量划扣, issue 11) at scale, on two Celery workers.

    .venv/bin/python bench/pool_batch.py --check                       # 1,000,000 members, 400,000 networks
    .venv/bin/python bench/pool_batch.py --members 100000 --networks 40000 --baseline 2000 --kill-runs 5

Target (issue 11): **1,000,000 members in 400,000 networks** decided by the batch with
**two Celery workers** on this 2-core machine in **under 60 s**; in the same run the
straightforward per-member path (every deduction through ``payments.services.payment_record``,
``writer=per_member``) on ``--baseline`` members (10,000) and the ratio (**at least 50×**);
then ``--kill-runs`` runs (20), each with one worker killed by SIGKILL at a random moment and
a new worker started (with the scheduler, whose watchdog takes the stale run over): every
run must end with **zero double and zero lost deductions** and **the books balanced**
(account balance = sum of its entries: ``family_pool.accounts.account_check``; the
enrollments agree with the payment ledger: ``payments.services.ledger_check``) — counted
from the database.

Data (COPY, audit triggers off for the load only): ``--networks`` Shanghai networks, each
an employee organizer (account with 5,000.00 of historical balance; every 20th network
400.00, so its later members fall short; every 100th account frozen) with 2 or 3 members
(two children and a grandchild, or a grandchild and a child: Shanghai's 2025 policy prices
pupils only), every member a resident registered (unpaid) for 2025; premium mode on since
2024-11-01 (every 25th network cancelled it before the 12-20 17:00 cut-off); every 50th member already paid by WeChat (a ledger row), so it is
skipped.  The batch runs as of 2024-12-22 10:00.  The data is loaded once into a template
database (``<name>_tpl``), and every run starts from a fresh file copy of it.

Databases: ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/bench_pool``; the
name must contain "bench"; it and ``<name>_tpl`` are dropped and created, and dropped at
the end unless ``--keep``).  Broker: ``CELERY_BROKER_URL`` (default Redis database 11),
emptied before the workers start.  The workers (``celery worker --pool=solo``) are started
here as subprocesses and always stopped at the end.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if p != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_pool")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/11")
os.environ.setdefault("CELERY_RESULT_BACKEND", os.environ["CELERY_BROKER_URL"])
os.environ.setdefault("DEBUG", "false")
_POOL = os.environ.get("DATABASE_POOL_MAX")
os.environ["DATABASE_POOL_MAX"] = "0"  # this process: plain connections (databases are dropped and copied)
# the watchdog takes a run over after 10 s without a finished chunk (kill runs)
os.environ.setdefault("BATCH_STALE_SECONDS", "10")
os.environ.setdefault("BATCH_WATCHDOG_SECONDS", "2")

SH = ZoneInfo("Asia/Shanghai")
REGION, YEAR = "310000", 2025
AT = datetime(2024, 12, 22, 10, 0, tzinfo=SH)
CREATED = datetime(2024, 11, 1, 9, 0, tzinfo=SH)
CANCELLED = datetime(2024, 12, 20, 16, 0, tzinfo=SH)
TARGET_S, TARGET_RATIO, MEMBERS = 60.0, 50.0, 1_000_000
ACTOR = "bench/pool_batch.py"
LOAD = 5000  # networks per COPY round
COORDINATOR = ("make bench-pool    # = DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_pool "
               ".venv/bin/python bench/pool_batch.py --check   (1,000,000 members, --baseline 10000, --kill-runs 20)")


def _load_data_module():
    spec = importlib.util.spec_from_file_location("bench_data", Path(HERE) / "_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_data"] = module
    spec.loader.exec_module(module)
    return module


# --- databases ------------------------------------------------------------------------


def names() -> tuple[str, str, str]:
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop and create {name!r}: the bench database's name must contain 'bench'")
    return urlunsplit(parts._replace(scheme="postgresql", path="/postgres")), name, f"{name}_tpl"


def admin_sql(*statements: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(names()[0], autocommit=True) as conn:
        for s in statements:
            conn.execute(s)


def fresh_copy() -> float:
    _, name, tpl = names()
    t0 = time.perf_counter()
    admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    template_of(tpl, name)
    return time.perf_counter() - t0


def drop_all(keep_template: bool) -> None:
    _, name, tpl = names()
    admin_sql(*([] if keep_template else [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)']),
              *([] if keep_template else [f'DROP DATABASE IF EXISTS "{tpl}" WITH (FORCE)']))


def value(sql: str, params=None):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


# --- the data -------------------------------------------------------------------------

def _number(area: str, birth: date, seq: int) -> str:
    from enrollment.idnumbers import make_number

    return make_number(f"{area}{birth:%Y%m%d}{seq:03d}")


def _person(area: str, first: date, k: int) -> tuple[str, date]:
    birth = first + timedelta(days=k // 1000)
    return _number(area, birth, k % 1000), birth


def family_shape(n: int) -> list[str]:
    """The members of network ``n`` (0-based) by relation: 2 or 3, 2.5 on average."""
    return ["grandchild", "child"] if n % 2 else ["child", "grandchild", "child"]


def networks_for(members: int, networks: int) -> int:
    held = sum(len(family_shape(n)) for n in range(2)) * (networks // 2) + (3 if networks % 2 else 0)
    if members != held:
        raise SystemExit(f"--members and --networks disagree: {networks:,} networks of 3 and 2 members "
                         f"(alternately) hold {held:,} members")
    return networks


def load(networks: int) -> dict:
    """COPY the networks, accounts, residents and enrollments (streamed in rounds of
    ``LOAD`` networks: never the whole set in memory)."""
    data = _load_data_module()
    tables = ["enrollment_resident", "enrollment_enrollment", "family_pool_employeeaccount", "family_pool_network",
              "family_pool_participation"]
    counts = {"networks": networks, "members": 0, "paid_by_wechat": 0}
    ids = {"resident": 0, "participation": 0, "payment": 0}
    with data.audit_triggers_disabled(tables):
        for first in range(0, networks, LOAD):
            _load_round(first, min(first + LOAD, networks), ids, counts)
    from django.db import connection

    with connection.cursor() as cur:
        for table, n in (("enrollment_resident", ids["resident"]), ("enrollment_enrollment", ids["resident"]),
                         ("family_pool_employeeaccount", networks), ("family_pool_network", networks),
                         ("family_pool_accountentry", networks), ("family_pool_modechange", networks),
                         ("family_pool_participation", ids["participation"]), ("payments_payment", ids["payment"])):
            if n:
                cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, n])
    return counts


def _load_round(lo: int, hi: int, ids: dict, counts: dict) -> None:
    data = sys.modules["bench_data"]
    accounts, entries, nets, modes, parts, residents, enrollments, payments = [], [], [], [], [], [], [], []
    for n in range(lo, hi):
        pk = n + 1
        org, _ = _person("310104", date(1975, 1, 1), n)
        balance = Decimal("400.00") if n % 20 == 7 else Decimal("5000.00")
        accounts.append((pk, org, f"组建人{pk}", REGION, balance, Decimal("0.00"),
                         "frozen" if n % 100 == 13 else "normal", CREATED, CREATED))
        entries.append((pk, pk, "historical", "import", balance, CREATED, ACTOR, "导入开户余额"))
        cancelled = n % 25 == 3
        nets.append((pk, org, f"组建人{pk}", False, not cancelled, "active", CREATED, None, pk, REGION))
        modes.append((pk, False, True, CREATED, ACTOR, None, pk))
        if cancelled:
            modes[-1] = (pk, False, False, CANCELLED, ACTOR, None, pk)
        ids["participation"] += 1
        parts.append((ids["participation"], org, f"组建人{pk}", "organizer", "", "", None, CREATED, None, pk))
        for relation in family_shape(n):
            ids["resident"] += 1
            rid = k = ids["resident"]
            # Shanghai's 2025 policy prices students (its source gives no adult bands): every
            # member is a primary or secondary school pupil, a child or a grandchild
            number, birth = _person("310101" if relation == "child" else "310105", date(2009, 1, 1), k)
            student, category = "primary_secondary", "student"
            name = f"成员{rid}"
            residents.append((rid, number, name, birth, "M" if int(number[16]) % 2 else "F", "local", False, None,
                              student, "", "", CREATED, CREATED, REGION))
            paid = rid % 50 == 17
            if paid:
                ids["payment"] += 1
                counts["paid_by_wechat"] += 1
                paid_at = datetime(2024, 12, 21, 9, 0, tzinfo=SH)
                payments.append((ids["payment"], "payment", "applied", "wechat", f"wx-bench-{rid}", rid, number, name,
                                 REGION, YEAR, Decimal("355.00"), paid_at, paid_at.date(), "self", "", "", "", None,
                                 201, paid_at, None, ACTOR, ""))
            enrollments.append((rid, YEAR, category, "paid" if paid else "registered", "school", CREATED, False,
                                None, None, "", None, Decimal("355.00"), "window",
                                Decimal("355.00") if paid else None, date(2024, 12, 21) if paid else None,
                                datetime(2024, 12, 21, 9, 0, tzinfo=SH) if paid else None,
                                "channel" if paid else "", date(2025, 1, 1) if paid else None,
                                date(2025, 12, 31) if paid else None, 0, 0, None, None, "", CREATED, None, REGION,
                                None, rid))
            ids["participation"] += 1
            parts.append((ids["participation"], number, name, "member", relation, "school", None, CREATED, None, pk))
            counts["members"] += 1
    from payments.bulk import PAYMENT_COLUMNS

    copy = data.copy_rows
    copy("family_pool_employeeaccount", ["id", "id_number", "name", "insured_region", "historical_balance",
                                         "current_balance", "status", "imported_at", "updated_at"], accounts)
    copy("family_pool_accountentry", ["id", "account_id", "bucket", "kind", "amount", "created_at", "actor", "note"],
         entries)
    copy("family_pool_network", ["id", "organizer_id_number", "organizer_name", "medical_mode", "premium_mode",
                                 "status", "created_at", "dissolved_at", "account_id", "region_id"], nets)
    copy("family_pool_modechange", ["id", "medical_mode", "premium_mode", "changed_at", "actor", "changed_by_id",
                                    "network_id"], modes)
    copy("enrollment_resident", ["id", "id_number", "name", "birth_date", "sex", "hukou", "residence_permit",
                                 "residence_permit_expires_on", "student", "school", "phone", "created_at",
                                 "updated_at", "region_id"], residents)
    copy("enrollment_enrollment", ["id", "year", "category", "status", "registered_via", "registered_at",
                                   "nonlocal_via_parent_permit", "personal_standard", "fiscal_subsidy",
                                   "assistance_identity", "assistance_amount", "amount_due", "timing", "paid_amount",
                                   "paid_on", "paid_at", "paid_via", "benefit_start", "benefit_end", "waiting_months",
                                   "waiting_days", "cap_adjustment", "cancelled_at", "cancel_reason", "updated_at",
                                   "cancelled_by_id", "region_id", "registered_by_id", "resident_id"], enrollments)
    copy("payments_payment", list(PAYMENT_COLUMNS), payments)
    copy("family_pool_participation", ["id", "id_number", "name", "role", "relation", "registered_via",
                                       "registered_on", "joined_at", "left_at", "network_id"], parts)


def vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        for table in ("enrollment_resident", "enrollment_enrollment", "family_pool_employeeaccount",
                      "family_pool_accountentry", "family_pool_network", "family_pool_modechange",
                      "family_pool_participation", "family_pool_pooldeduction", "payments_payment",
                      "enrollment_enrollmentevent", "family_pool_employeeaccountevent"):
            cur.execute(f"VACUUM (ANALYZE) {table}")


def build_template(networks: int) -> dict:
    _, name, tpl = names()
    admin_sql(f'DROP DATABASE IF EXISTS "{tpl}" WITH (FORCE)', f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
              f'CREATE DATABASE "{name}"')
    from django.core.management import call_command

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    call_command("load_policies", verbosity=0, stdout=io.StringIO())
    counts = load(networks)
    vacuum_analyze()
    counts["seconds"] = time.perf_counter() - t0
    template_of(name, tpl)
    return counts


def template_of(source: str, target: str) -> None:
    """CREATE DATABASE … TEMPLATE, once nobody (an autovacuum worker after the load) is on the source."""
    import psycopg

    for attempt in range(20):
        try:
            admin_sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{source}'",
                      f'CREATE DATABASE "{target}" TEMPLATE "{source}" STRATEGY FILE_COPY')
            return
        except psycopg.errors.ObjectInUse:
            time.sleep(0.5)
    raise RuntimeError(f"{source} stays in use")


def settle() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)  # migrations added since the template
    vacuum_analyze()
    admin_sql("CHECKPOINT")


# --- what the database says -------------------------------------------------------------

_CANDIDATES = """
SELECT count(*) FROM family_pool_participation p JOIN family_pool_network n ON n.id = p.network_id
JOIN family_pool_modechange mc ON mc.network_id = n.id
WHERE p.role = 'member' AND mc.premium_mode AND n.status = 'active'"""


def books() -> dict:
    """Counted from the database: decisions, doubles, lost ones, and the two ledgers."""
    from family_pool.accounts import account_check
    from family_pool.deductions import deduction_check
    from payments.services import ledger_check

    q = {
        "decisions": "SELECT count(*) FROM family_pool_pooldeduction",
        "members_decided": "SELECT count(DISTINCT member_id) FROM family_pool_pooldeduction",
        "deducted": "SELECT count(*) FROM family_pool_pooldeduction WHERE status = 'deducted'",
        "deducted_people": "SELECT count(DISTINCT (id_number, year)) FROM family_pool_pooldeduction "
                           "WHERE status = 'deducted'",
        "deducted_amount": "SELECT coalesce(sum(amount), 0) FROM family_pool_pooldeduction WHERE status = 'deducted'",
        "pool_payments": "SELECT count(*) FROM payments_payment WHERE channel = 'family_pool'",
        "pool_payment_amount": "SELECT coalesce(sum(amount), 0) FROM payments_payment WHERE channel = 'family_pool'",
        "pool_entries": "SELECT count(*) FROM family_pool_accountentry WHERE kind = 'pool_premium'",
        "pool_entry_amount": "SELECT coalesce(-sum(amount), 0) FROM family_pool_accountentry "
                             "WHERE kind = 'pool_premium'",
        "payments_without_deduction": "SELECT count(*) FROM payments_payment p WHERE p.channel = 'family_pool' "
                                      "AND NOT EXISTS (SELECT 1 FROM family_pool_pooldeduction d "
                                      "WHERE d.payment_id = p.id)",
        "paid_enrollments_pool": "SELECT count(*) FROM enrollment_enrollment WHERE paid_via = 'family_pool'",
        "insufficient": "SELECT count(*) FROM family_pool_pooldeduction WHERE status = 'insufficient_balance'",
        "skipped": "SELECT count(*) FROM family_pool_pooldeduction WHERE status = 'skipped_already_paid'",
        "failed": "SELECT count(*) FROM family_pool_pooldeduction WHERE status = 'failed'",
    }
    from django.db import connection

    with connection.cursor() as cur:  # the counts planned on the run's rows, not on the tables before it
        cur.execute("ANALYZE family_pool_pooldeduction, payments_payment, family_pool_accountentry, "
                    "enrollment_enrollment, family_pool_employeeaccount")
    out = {k: value(sql) for k, sql in q.items()}
    out["account_check"] = len(account_check())
    out["ledger_check"] = len(ledger_check())
    out["deduction_check"] = len(deduction_check())  # the deductions' references (no foreign keys)
    return out


def judge(b: dict, candidates: int, reference: dict | None) -> list[str]:
    """What is wrong (empty: nothing): doubles, lost deductions, unbalanced books."""
    wrong = []
    if b["decisions"] != candidates or b["members_decided"] != candidates:
        wrong.append(f"{b['decisions']:,} decisions for {b['members_decided']:,} members, {candidates:,} candidates")
    if b["deducted"] != b["deducted_people"]:
        wrong.append(f"double: {b['deducted'] - b['deducted_people']}")
    same = {b["deducted"], b["pool_payments"], b["pool_entries"], b["paid_enrollments_pool"]}
    if len(same) != 1 or b["payments_without_deduction"]:
        wrong.append("deductions, payments, entries and paid enrollments disagree")
    if not b["deducted_amount"] == b["pool_payment_amount"] == b["pool_entry_amount"]:
        wrong.append("amounts disagree")
    if b["account_check"] or b["ledger_check"] or b["deduction_check"]:
        wrong.append(f"books: {b['account_check']} accounts, {b['ledger_check']} enrollments off, "
                     f"{b['deduction_check']} deductions with broken references")
    if reference is not None:
        for key in ("deducted", "deducted_amount", "insufficient", "skipped", "failed"):
            if b[key] != reference[key]:
                wrong.append(f"{key}: {b[key]} against {reference[key]} in the unkilled run (lost?)")
    return wrong


# --- the per-member path (the baseline) ---------------------------------------------------

def baseline(members: int) -> dict:
    """``writer=per_member`` over the first networks holding about ``members`` members, in
    chunks of 500 networks in this process, rolled back afterwards (the batch run then
    starts from the same data)."""
    from django.db import connection, transaction

    from family_pool.batch import process_networks

    nets = max(1, round(members / 2.5))
    backend = value("SELECT pg_backend_pid()")
    py0, pg0 = _cpu(os.getpid()), _cpu(backend)
    t0 = time.perf_counter()
    decided = 0
    with transaction.atomic():
        for lo in range(0, nets, 500):
            counts = process_networks(region=REGION, year=YEAR, lo=lo, hi=min(lo + 500, nets), at=AT, run_id=None,
                                      actor=ACTOR, writer="per_member")
            decided += counts["members"]
        seconds = time.perf_counter() - t0
        cpu = {"python": _cpu(os.getpid()) - py0, "postgres": _cpu(backend) - pg0}
        transaction.set_rollback(True)
    connection.close()
    return {"members": decided, "seconds": seconds, "rate": decided / seconds, "cpu": cpu,
            "load": os.getloadavg()}


# --- workers ------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _peak_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Workers:
    def __init__(self, logdir: Path):
        self.logdir, self.procs, self.peak, self.cpu_seen = logdir, {}, {}, {}

    def start(self, name: str, *, beat: bool = False) -> None:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": "false"}
        env.pop("DATABASE_POOL_MAX")
        if _POOL is not None:
            env["DATABASE_POOL_MAX"] = _POOL
        cmd = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-n", f"{name}@%h",
               "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING",
               "--prefetch-multiplier=1"]
        if beat:
            cmd += ["-B", "-s", str(self.logdir / f"beat-{name}")]
        log = open(self.logdir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def sample(self) -> None:
        for name, p in self.procs.items():
            if p.poll() is None:
                self.peak[name] = max(self.peak.get(name, 0.0), _peak_mb(p.pid))
                self.cpu_seen[p.pid] = max(self.cpu_seen.get(p.pid, 0.0), _cpu(p.pid))

    def kill(self, name: str) -> None:
        self.sample()
        p = self.procs.pop(name)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(10)

    def wait_ready(self, count: int, timeout: float = 90) -> None:
        from config.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(app.control.ping(timeout=0.5) or []) >= count:
                return
        raise RuntimeError("the workers did not start:\n" + self.logs())

    def logs(self) -> str:
        return "\n".join(f.read_text(errors="replace")[-2000:] for f in self.logdir.glob("*.log"))

    def stop(self) -> None:
        self.sample()
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        self.procs = {}


def _flush_broker() -> None:
    import redis

    redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()


def _start_run(chunk_size: int | None):
    from core import batch

    params = {"region": REGION, "year": YEAR, "at": AT.isoformat()}
    if chunk_size:
        params["chunk_size"] = chunk_size
    return batch.start("pool_batch", params, actor=ACTOR).run


def _status(run_id: int) -> str:
    from core.models import BatchRun

    return BatchRun.objects.filter(pk=run_id).values_list("status", flat=True).get()


def measure_workers(args) -> dict:
    """The batch on two workers from start to the run's close; CPU of the workers and of
    their server processes, the workers' peak RSS."""
    from core.models import BatchRun

    _flush_broker()
    w = Workers(Path(tempfile.mkdtemp(prefix="bench-pool-")))
    try:
        w.start("w1")
        w.start("w2")
        w.wait_ready(2)
        w.sample()
        py0 = sum(w.cpu_seen.values())
        backends: dict[int, float] = {}
        t0 = time.perf_counter()
        run = _start_run(args.chunk_size)
        while _status(run.pk) in BatchRun.ACTIVE:
            if time.perf_counter() - t0 > args.timeout:
                raise RuntimeError(f"run {run.pk} not finished after {args.timeout} s\n{w.logs()}")
            w.sample()
            for pid in _backend_pids():
                backends[pid] = max(backends.get(pid, 0.0), _cpu(pid))
            time.sleep(0.05)
        seconds = time.perf_counter() - t0
        load = os.getloadavg()
        w.sample()
        for pid in _backend_pids():
            backends[pid] = max(backends.get(pid, 0.0), _cpu(pid))
        cpu = {"python": sum(w.cpu_seen.values()) - py0, "postgres": sum(backends.values())}
    finally:
        w.stop()
    run = BatchRun.objects.get(pk=run.pk)
    return {"seconds": seconds, "load": load, "run": run, "cpu": cpu, "peak_mb": max(w.peak.values()),
            "chunks": run.chunks_total}


def _backend_pids() -> list[int]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return [pid for (pid,) in cur.fetchall()]


def kill_run(args, rng: random.Random, expected_s: float) -> dict:
    """One run with a worker killed by SIGKILL at a random moment, a new worker (with the
    scheduler) started in its place; the run finished."""
    from core.models import BatchChunk, BatchRun

    _flush_broker()
    w = Workers(Path(tempfile.mkdtemp(prefix="bench-pool-kill-")))
    try:
        w.start("w1")
        w.start("w2")
        w.wait_ready(2)
        t0 = time.perf_counter()
        run = _start_run(args.chunk_size)
        kill_at = rng.uniform(0.05, 0.9) * expected_s
        victim = rng.choice(["w1", "w2"])
        while time.perf_counter() - t0 < kill_at and _status(run.pk) in BatchRun.ACTIVE:
            time.sleep(0.02)
        mid = _status(run.pk) in BatchRun.ACTIVE
        done_at_kill = BatchChunk.objects.filter(run_id=run.pk, status="done").count()
        w.kill(victim)
        w.start(f"{victim}b", beat=True)
        while _status(run.pk) in BatchRun.ACTIVE:
            if time.perf_counter() - t0 > args.timeout:
                raise RuntimeError(f"run {run.pk} not finished after {args.timeout} s\n{w.logs()}")
            time.sleep(0.1)
        seconds = time.perf_counter() - t0
    finally:
        w.stop()
    run = BatchRun.objects.get(pk=run.pk)
    return {"kill_at": kill_at, "victim": victim, "mid": mid, "done_at_kill": done_at_kill, "seconds": seconds,
            "run": run}


# --- the run -------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=MEMBERS)
    parser.add_argument("--networks", type=int, default=None, help="default: members / 2.5")
    parser.add_argument("--baseline", type=int, default=10_000, help="members for the per-member path (0: skip)")
    parser.add_argument("--kill-runs", type=int, default=20)
    parser.add_argument("--chunk-size", type=int, default=None, help="networks per chunk (default: the batch's)")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--reuse", action="store_true", help="use the kept template (no load)")
    parser.add_argument("--keep", action="store_true", help="keep the template database afterwards")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    networks = networks_for(args.members, args.networks or round(args.members / 2.5))

    import django

    django.setup()
    _load_data_module()
    ok = True
    rng = random.Random(args.seed)
    _, name, tpl = names()
    try:
        if not args.reuse:
            built = build_template(networks)
            print(f"loaded {built['members']:,} members in {networks:,} networks ({built['paid_by_wechat']:,} paid by "
                  f"WeChat already) in {built['seconds']:.0f} s", flush=True)
        print(f"(fresh copy of {tpl} in {fresh_copy():.0f} s)", flush=True)
        settle()
        candidates = value(_CANDIDATES)
        print(f"database {name} on {sys.modules['bench_data'].server_description()}")
        print(f"the batch of {REGION} for {YEAR} as of {AT.isoformat()}: {candidates:,} members in premium mode at "
              f"the cut-off; {os.cpu_count()} cores, load average {_load()}", flush=True)

        base = None
        if args.baseline:
            base = baseline(args.baseline)
            print(f"\nper-member path (payment_record for each deduction, one process): {base['members']:,} members "
                  f"in {base['seconds']:.1f} s = {base['rate']:,.1f} members/s; CPU {base['cpu']['python']:.1f} s "
                  f"Python + {base['cpu']['postgres']:.1f} s PostgreSQL; load average {_load(base['load'])}",
                  flush=True)

        r = measure_workers(args)
        rate = candidates / r["seconds"]
        print(f"\nset-based writer, 2 Celery workers (--pool=solo): {candidates:,} members in {r['seconds']:.1f} s = "
              f"{rate:,.0f} members/s ({r['chunks']} chunks) -> {MEMBERS:,} at that rate: {MEMBERS / rate:.1f} s; "
              f"load average {_load(r['load'])}")
        cpu = r["cpu"]
        print(f"  CPU: {cpu['python']:.1f} s workers + {cpu['postgres']:.1f} s PostgreSQL = "
              f"{cpu['python'] + cpu['postgres']:.1f} s ({(cpu['python'] + cpu['postgres']) / candidates * 1e6:.0f} µs "
              f"a member; on 2 free cores at least {(cpu['python'] + cpu['postgres']) / 2:.1f} s)")
        print(f"  peak RSS: {r['peak_mb']:.0f} MB a worker; this process "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        print(f"  run #{r['run'].pk}: {r['run'].status}; summary {json.dumps(r['run'].summary, ensure_ascii=False)}")
        reference = books()
        wrong = judge(reference, candidates, None)
        print(f"  books: {json.dumps({k: str(v) for k, v in reference.items()}, ensure_ascii=False)} -> "
              f"{'ok' if not wrong else 'WRONG: ' + '; '.join(wrong)}", flush=True)
        met = r["seconds"] * MEMBERS / candidates < TARGET_S
        print(f"  target: {MEMBERS:,} in under {TARGET_S:.0f} s -> {'ok' if met else 'MISSED'}")
        ok = ok and met and not wrong and r["run"].status == "done"
        if base:
            ratio = rate / base["rate"]
            print(f"  ratio set-based (two workers) / per-member (one process): {ratio:,.0f}x -> "
                  f"{'ok' if ratio >= TARGET_RATIO else 'MISSED'} (target {TARGET_RATIO:.0f}x)", flush=True)
            ok = ok and ratio >= TARGET_RATIO

        failures = 0
        for i in range(1, args.kill_runs + 1):
            copy_s = fresh_copy()
            settle()
            k = kill_run(args, rng, r["seconds"])
            b = books()
            wrong = judge(b, candidates, reference)
            if k["run"].status != "done":
                wrong.append(f"run {k['run'].status}: {k['run'].report[:300]}")
            failures += bool(wrong)
            print(f"kill run {i:2}/{args.kill_runs}: SIGKILL {k['victim']} at {k['kill_at']:.1f} s "
                  f"({'mid-run, ' + str(k['done_at_kill']) + ' chunks done' if k['mid'] else 'after the run ended'}), "
                  f"finished in {k['seconds']:.1f} s, takeovers {k['run'].takeovers}; deducted {b['deducted']:,} "
                  f"({b['deducted_people']:,} people), payments {b['pool_payments']:,}, entries {b['pool_entries']:,}, "
                  f"decisions {b['decisions']:,}; account_check {b['account_check']}, ledger_check {b['ledger_check']}, "
                  f"deduction_check {b['deduction_check']} "
                  f"-> {'ok' if not wrong else 'WRONG: ' + '; '.join(wrong)} (copy {copy_s:.0f} s; load {_load()})",
                  flush=True)
        if args.kill_runs:
            print(f"kill runs: {args.kill_runs - failures} of {args.kill_runs} with zero double, zero lost, books "
                  "balanced")
            ok = ok and failures == 0
    finally:
        drop_all(keep_template=args.keep)
    print(f"\nThe target run, on a quiet machine (at 1,000,000: about 5 minutes of load, 4 of baseline, 3–4 for "
          f"the main run, then about 5 minutes a kill run — some 2 hours with 20):\n    {COORDINATOR}")
    if args.check and not ok:
        print("FAIL: a target was missed or the books are wrong")
        return 1
    return 0


def _load(avg=None) -> str:
    return ", ".join(f"{x:.2f}" for x in (avg or os.getloadavg()))


if __name__ == "__main__":
    sys.exit(main())
