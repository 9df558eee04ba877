"""A department roster of 100,000 rows through ``import_roster`` over 1,000,000 residents.

    .venv/bin/python bench/import_roster.py                  # load 1,000,000 residents, then time
    .venv/bin/python bench/import_roster.py --keep           # keep the database afterwards
    .venv/bin/python bench/import_roster.py --reuse --keep   # time again on a kept database
    .venv/bin/python bench/import_roster.py --residents 100000 --rows 10000   # a quick run
    .venv/bin/python bench/import_roster.py --check          # exit 1 when a target is missed
    .venv/bin/python bench/import_roster.py --reuse --keep --profile csv   # cProfile of one import
    .venv/bin/python bench/import_roster.py --reuse --keep --first-only csv   # time one first import

Targets (issue 9): the 100,000-row roster imported end to end (read, check,
match, re-price, write) in **under 10 s as CSV** and **under 15 s as XLSX**,
peak memory **under 1 GB**, on this 2-core machine with PostgreSQL.

Database: never the developer's.  ``DATABASE_URL`` defaults to
``postgres://postgres@127.0.0.1:5432/bench_roster``; its name must contain
"bench" (dropped and created afresh unless ``--reuse``, dropped at the end
unless ``--keep``).  The residents are bench/admin.py's generator (COPY, audit
triggers off for the load only): 1,000,000 residents, Lüliang 141100 80 % and
Xiaoyi 141181 16 %, one enrollment each (Lüliang 2026).

The roster (seed 20261130): 90 % residents of Lüliang/Xiaoyi under their exact
names and ID numbers, 10 % numbers nobody registered (pending identities);
identities dibao / tekun (民政局) and monitored / returned_poverty (乡村振兴发展中心),
written as codes or any of the Chinese names the sources use, the department
as the county or city office writes it.  Of the matched people's 2026
enrollments, 70 % are made registered-unpaid before timing (to be re-priced),
the rest stay paid (Lüliang's dynamic adjustment: an owed refund when
certified in the window).  Business date 2025-11-10 (Lüliang's 2026 window open).

Timed, each in a fresh child process (so its peak RSS, ``ru_maxrss``, is the
import's own): the CSV (first import), the same file again (all unchanged), a
corrected file (1,000 removed, 1,000 new); then the state is put back (the
2026 identities, rosters, refunds deleted; the enrollments restored from a
snapshot) and the XLSX is imported first, then again.  Also: reading the XLSX
with openpyxl (read-only) vs python-calamine, and 10,000 rows through a plain
django-import-export ``ModelResource`` for AssistanceIdentity (default
options) against ours — rows/s and the ratio (ours ÷ plain).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if p != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_roster")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("CELERY_RESULT_BACKEND", "cache+memory://")
os.environ.setdefault("DEBUG", "false")

REGION, YEAR = "141100", 2026
TODAY = date(2025, 11, 10)  # Lüliang's 2026 window is open (2025-10-21 … 2026-02-25)
CSV_TARGET_S, XLSX_TARGET_S, MEMORY_TARGET_MB = 10.0, 15.0, 1024.0
HEADER = ["姓名", "身份证号码", "困难类别", "认定部门", "认定日期"]
ACTOR = "bench/import_roster.py"
UNPAID_SHARE = 0.70
# identity -> (weight, the names rosters write it as, the departments as written)
IDENTITIES = {
    "dibao": (50, ["低保对象", "最低生活保障家庭成员", "dibao"], ["民政局", "吕梁市民政局"]),
    "tekun": (10, ["特困人员", "特困供养人员", "tekun"], ["民政局", "吕梁市民政局"]),
    "monitored": (25, ["监测对象", "防止返贫监测对象", "monitored"],
                  ["乡村振兴发展中心", "吕梁市乡村振兴发展中心"]),
    "returned_poverty": (15, ["返贫致贫人口", "returned_poverty"], ["乡村振兴发展中心"]),
}
AREAS = ["141102", "141121", "141122", "141123", "141124", "141125", "141126", "141127", "141128",
         "141129", "141130", "141182", "141181"]


def database_parts() -> tuple[str, str]:
    name = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop and create {name!r}: the bench database's name must "
                         "contain 'bench' (DATABASE_URL)")
    return os.environ["DATABASE_URL"], name


def _data_module():
    spec = importlib.util.spec_from_file_location("bench_data", Path(HERE) / "_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_data"] = module
    spec.loader.exec_module(module)
    return module


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakSampler:
    """RSS sampled every 10 ms in a thread (ru_maxrss is kept too: the lifetime peak)."""

    def __init__(self):
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            self._stop.wait(0.01)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


# --- the roster ---------------------------------------------------------------------------


def sql(query: str, params=None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


def pick_residents(n: int, seed: int, exclude: set[int] = frozenset()) -> list[tuple[int, str, str]]:
    """n residents of Lüliang/Xiaoyi with a 2026 enrollment: (id, ID number, name), seeded."""
    rng = random.Random(seed)
    top = sql("SELECT max(id) FROM enrollment_resident")[0][0]
    out: dict[int, tuple] = {}
    while len(out) < n:
        ids = [i for i in rng.sample(range(1, top + 1), min(top, (n - len(out)) * 2 + 100))
               if i not in exclude and i not in out]
        for rid, number, name in sql(
                "SELECT r.id, r.id_number, r.name FROM enrollment_resident r JOIN enrollment_enrollment e "
                "ON e.resident_id = r.id AND e.year = %s AND e.status IN ('registered', 'paid') "
                "WHERE r.id = ANY(%s) AND r.region_id IN ('141100', '141181')", [YEAR, ids]):
            if len(out) < n:
                out[rid] = (rid, number, name)
    return sorted(out.values(), key=lambda t: rng.random())


def unregistered_numbers(n: int, seed: int, avoid: set[str]) -> list[str]:
    from enrollment.idnumbers import make_number

    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        batch = set()
        while len(batch) < (n - len(out)) + 50:
            born = date(1940, 1, 1) + timedelta(days=rng.randrange(30000))
            number = make_number(f"{rng.choice(AREAS)}{born:%Y%m%d}{rng.randrange(1000):03d}")
            if number not in avoid:
                batch.add(number)
        taken = {r[0] for r in sql("SELECT id_number FROM enrollment_resident WHERE id_number = ANY(%s)",
                                   [sorted(batch)])}
        for number in sorted(batch - taken):
            if len(out) < n:
                out.append(number)
                avoid.add(number)
    return out


def row_for(rng: random.Random, number: str, name: str) -> list[str]:
    codes = list(IDENTITIES)
    code = rng.choices(codes, weights=[IDENTITIES[c][0] for c in codes])[0]
    _, names, departments = IDENTITIES[code]
    certified = date(2025, 1, 1) + timedelta(days=rng.randrange(300))  # up to 2025-10-27
    return [name, number, rng.choice(names), rng.choice(departments), certified.isoformat()]


def build_rosters(rows: int, seed: int) -> dict:
    """The roster (matched and unregistered rows, shuffled) and its corrected version."""
    from bench_data import _admin

    rng = random.Random(seed)
    matched_n = rows * 9 // 10
    people = pick_residents(matched_n + 1000, seed)
    matched, extra = people[:matched_n], people[matched_n:]
    numbers = unregistered_numbers(rows - matched_n, seed + 1, {p[1] for p in people})
    lines = [row_for(rng, number, name) for _, number, name in matched]
    lines += [row_for(rng, number, _admin._name(rng)) for number in numbers]
    rng.shuffle(lines)
    corrected = lines[1000:] + [row_for(rng, number, name) for _, number, name in extra]
    return {"rows": lines, "corrected": corrected, "matched_ids": [p[0] for p in matched],
            "extra_ids": [p[0] for p in extra]}


def write_csv(lines: list[list[str]], path: Path) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(HEADER)
        w.writerows(lines)


def write_xlsx(lines: list[list[str]], path: Path) -> float:
    from openpyxl import Workbook

    started = time.perf_counter()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("名单")
    ws.append(HEADER)
    for line in lines:
        ws.append(line)
    wb.save(path)
    return time.perf_counter() - started


def make_unpaid(ids: list[int], seed: int) -> int:
    """70 % of these people's 2026 enrollments registered and unpaid (audit triggers off)."""
    from bench_data import audit_triggers_disabled

    rng = random.Random(seed)
    unpaid = sorted(i for i in ids if rng.random() < UNPAID_SHARE)
    with audit_triggers_disabled(["enrollment_enrollment"]):
        sql("UPDATE enrollment_enrollment SET status = 'registered', paid_amount = NULL, paid_on = NULL, "
            "paid_at = NULL, paid_via = '', benefit_start = NULL, benefit_end = NULL, waiting_months = 0, "
            "waiting_days = 0, cap_adjustment = NULL WHERE year = %s AND status = 'paid' "
            "AND resident_id = ANY(%s)", [YEAR, unpaid])
    return len(unpaid)


SNAPSHOT = "bench_roster_enrollments"


def snapshot(ids: list[int]) -> None:
    sql(f"DROP TABLE IF EXISTS {SNAPSHOT}")
    sql(f"CREATE TABLE {SNAPSHOT} AS SELECT * FROM enrollment_enrollment WHERE year = %s "
        "AND resident_id = ANY(%s)", [YEAR, ids])


def reset_state() -> None:
    """Back to before the first import: the year's identities, rosters and refunds gone, the
    enrollments as in the snapshot (triggers off for the restore)."""
    from bench_data import audit_triggers_disabled

    from enrollment.models import Enrollment

    cols = [f.column for f in Enrollment._meta.concrete_fields if f.column != "id"]
    sets = ", ".join(f"{c} = s.{c}" for c in cols)
    sql("DELETE FROM subsidies_owedrefund WHERE year = %s", [YEAR])
    sql("DELETE FROM subsidies_rosterchange WHERE roster_id IN (SELECT id FROM subsidies_rosterimport "
        "WHERE year = %s)", [YEAR])
    sql("DELETE FROM subsidies_assistanceidentity WHERE year = %s OR roster_id IN (SELECT id FROM "
        "subsidies_rosterimport WHERE year = %s)", [YEAR, YEAR])
    sql("DELETE FROM subsidies_rosterimport WHERE year = %s", [YEAR])
    with audit_triggers_disabled(["enrollment_enrollment"]):
        sql(f"UPDATE enrollment_enrollment e SET {sets} FROM {SNAPSHOT} s WHERE e.id = s.id")
    vacuum()


def vacuum() -> None:
    for table in ("enrollment_enrollment", "subsidies_assistanceidentity", "subsidies_rosterchange",
                  "subsidies_rosterimport", "subsidies_owedrefund"):
        sql(f"VACUUM (ANALYZE) {table}")


# --- one import, in a child process ---------------------------------------------------------


PHASES = [  # functions of subsidies.roster timed where it looks them up (module globals)
    ("read_table", "read the file"),
    ("_check_rows", "check the rows"),
    ("_match", "match residents"),
    ("resident_names", "  of which names read"),
    ("_on_file", "list on file"),
    ("_difference", "difference"),
    ("_plan", "plan (facts + re-price + refunds)"),
    ("live_enrollments_of", "  of which enrollments read"),
    ("quote_requests_for", "  of which facts (quote_requests_for)"),
    ("_write", "write"),
    ("_write_identities", "  of which identities (COPY, INSERT, UPDATE)"),
    ("enrollments_reprice", "  of which enrollments_reprice"),
    ("_write_owed", "  of which owed refunds"),
]


def child(path: str, profile: bool) -> None:
    """Import one file and print the figures as JSON (the last line of stdout)."""
    import django

    django.setup()
    from django.db import connection

    from subsidies import roster

    spent: dict[str, float] = {}
    db_spent: dict[str, float] = {}  # the database server's CPU seconds by phase and statement
    connection.ensure_connection()
    backend = sql("SELECT pg_backend_pid()")[0][0]

    py_spent: dict[str, float] = {}  # this process's CPU seconds by phase

    def timed(fn, label):
        def run(*args, **kwargs):
            t, c, p = time.perf_counter(), process_cpu(backend), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t
                db_spent[label] = db_spent.get(label, 0.0) + process_cpu(backend) - c
                py_spent[label] = py_spent.get(label, 0.0) + time.process_time() - p
        return run

    for attr, label in PHASES:
        setattr(roster, attr, timed(getattr(roster, attr), label))
    sql_spent = [0.0]
    by_statement: dict[str, float] = {}
    db_by_statement: dict[str, float] = {}

    def sql_timer(execute, q, params, many, context):
        t, c = time.perf_counter(), process_cpu(backend)
        try:
            return execute(q, params, many, context)
        finally:
            took = time.perf_counter() - t
            sql_spent[0] += took
            key = " ".join(q.split())[:90]
            by_statement[key] = by_statement.get(key, 0.0) + took
            db_by_statement[key] = db_by_statement.get(key, 0.0) + process_cpu(backend) - c

    # the commit (deferred foreign-key checks run there) is timed on its own
    from django.db import connections

    conn = connections["default"]
    conn.commit = timed(conn.commit, "commit (deferred key checks)")
    data = Path(path).read_bytes()
    base = rss_mb()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    with PeakSampler() as sampler, connection.execute_wrapper(sql_timer):
        started, cpu, db_cpu = time.perf_counter(), time.process_time(), process_cpu(backend)
        if profiler:
            profiler.enable()
        result = roster.import_roster(data, Path(path).name, region=REGION, year=YEAR, actor=ACTOR,
                                      today=TODAY)
        if profiler:
            profiler.disable()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        db_cpu = process_cpu(backend) - db_cpu
    if profiler:
        import pstats

        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(35)
        print(out.getvalue(), file=sys.stderr)
    print(json.dumps({"seconds": seconds, "cpu": cpu, "db_cpu": db_cpu, "sql": sql_spent[0], "phases": spent,
                      "slowest_sql": sorted(by_statement.items(), key=lambda kv: -kv[1])[:6],
                      "db_phases": db_spent, "db_sql": db_by_statement, "py_phases": py_spent,
                      "base_mb": base, "peak_mb": sampler.peak,
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "result": result.as_dict(), "errors": [str(e) for e in result.errors[:5]],
                      "warnings": result.warnings[:3]}, ensure_ascii=False))


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process of this machine has used: the database server's
    process serving the import (same machine), whose work a loaded machine slows down in wall
    time far more than in CPU time."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_child(path: Path, profile: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", str(path)] + (["--profile-child"] if profile else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, sep="\n", file=sys.stderr)
        raise RuntimeError(f"the import of {path.name} failed")
    if profile:
        print(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def show(label: str, n: int, r: dict, target: float | None) -> bool:
    met = target is None or r["seconds"] < target
    mem_ok = r["peak_mb"] < MEMORY_TARGET_MB and r["maxrss_mb"] < MEMORY_TARGET_MB
    verdict = ("" if target is None else f"  target < {target:.0f} s {'ok' if met else 'MISSED'}")
    print(f"  {label:<34} {r['seconds']:6.2f} s  {n / r['seconds']:8,.0f} rows/s  (SQL {r['sql']:5.2f} s, "
          f"CPU {r['cpu']:5.2f} s, database server CPU {r.get('db_cpu', float('nan')):5.2f} s)  peak RSS {r['peak_mb']:6.0f} MB (ru_maxrss {r['maxrss_mb']:.0f} MB, "
          f"{r['base_mb']:.0f} MB before){verdict}")
    print(f"      {json.dumps(r['result'], ensure_ascii=False)}")
    for e in r["errors"] + r["warnings"]:
        print(f"      ! {e}")
    print("      phases (wall s): " + ", ".join(f"{k} {v:.2f}" for k, v in r["phases"].items()))
    if r.get("db_phases"):
        print("      phases (database server CPU s): "
              + ", ".join(f"{k} {v:.2f}" for k, v in r["db_phases"].items()))
    if r.get("py_phases"):
        print("      phases (Python CPU s): "
              + ", ".join(f"{k} {v:.2f}" for k, v in r["py_phases"].items()))
    for key, spent in r["slowest_sql"]:
        print(f"      SQL {spent:6.2f} s (server CPU {r.get('db_sql', {}).get(key, float('nan')):5.2f} s)  {key}")
    return met and mem_ok


# --- readers and the plain resource ------------------------------------------------------------


def time_readers(path: Path) -> tuple[float, float, int]:
    from openpyxl import load_workbook
    from python_calamine import CalamineWorkbook

    started = time.perf_counter()
    wb = load_workbook(path, read_only=True, data_only=True)
    n1 = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    openpyxl_s = time.perf_counter() - started
    started = time.perf_counter()
    n2 = len(CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python())
    calamine_s = time.perf_counter() - started
    assert n1 == n2, (n1, n2)
    return openpyxl_s, calamine_s, n1


def plain_child(n: int, seed: int) -> None:
    """n rows through a ModelResource for AssistanceIdentity written as a newcomer would."""
    import django

    django.setup()
    import tablib
    from import_export import resources

    from core.audit import audit_context
    from subsidies.models import AssistanceIdentity

    class IdentityResource(resources.ModelResource):
        class Meta:
            model = AssistanceIdentity
            fields = ("id_number", "name", "region", "year", "identity", "department", "certified_on")
            import_id_fields = ("id_number",)

    taken = {r[0] for r in sql("SELECT id_number FROM subsidies_assistanceidentity")}
    numbers = unregistered_numbers(n, seed, taken)
    rng = random.Random(seed)
    data = tablib.Dataset(headers=["id_number", "name", "region", "year", "identity", "department",
                                   "certified_on"])
    for number in numbers:
        code = rng.choice(["dibao", "tekun"])
        data.append([number, "张三", "141100", YEAR + 1, code, "civil_affairs",
                     (date(2025, 1, 1) + timedelta(days=rng.randrange(300))).isoformat()])
    with PeakSampler() as sampler, audit_context(ACTOR):
        started = time.perf_counter()
        result = IdentityResource().import_data(data, dry_run=False, raise_errors=True)
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rows": n, "peak_mb": sampler.peak,
                      "totals": dict(result.totals)}))


# --- main ---------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--plain-rows", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="a database kept by --keep: no load")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--profile", choices=["csv", "xlsx"], help="cProfile one first import, then stop")
    parser.add_argument("--first-only", choices=["csv", "xlsx"],
                        help="time one first import (no profiler), then stop")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--profile-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plain-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _data_module()
        child(args.child, args.profile_child)
        return 0
    if args.plain_child:
        _data_module()
        plain_child(args.plain_child, args.seed + 7)
        return 0

    _, name = database_parts()
    data = _data_module()
    admin = data._admin
    if not args.reuse:
        admin.recreate_database()
    import django

    django.setup()
    print(f"database: {name} on {data.server_description()}")
    try:
        return run(args, data)
    finally:
        if not args.keep:
            admin.drop_database()
            print(f"database {name} dropped")


def run(args, data) -> int:
    if not args.reuse:
        started = time.perf_counter()
        data.prepare_schema()
        counts, seconds = data.load(args.residents, args.seed)
        print(f"loaded: {counts.residents:,} residents and their enrollments in "
              f"{time.perf_counter() - started:.0f} s (COPY, audit triggers off)")
    else:  # a kept database: the migrations written since
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
    # statistics for the fresh tables, as autovacuum would have gathered them: without them the
    # bench's own sampling of residents (an id = ANY join) took minutes on a planner's guess
    data._admin.vacuum_analyze()
    residents = data.sql_value("SELECT count(*) FROM enrollment_resident")
    print(f"residents: {residents:,}; machine: {os.cpu_count()} cores, load average "
          + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    scratch = Path(tempfile.mkdtemp(prefix="bench-roster-"))
    started = time.perf_counter()
    rosters = build_rosters(args.rows, args.seed)
    if not data.sql_value("SELECT count(*) FROM pg_tables WHERE tablename = %s", [SNAPSHOT]):
        unpaid = make_unpaid(rosters["matched_ids"] + rosters["extra_ids"], args.seed)
        snapshot(rosters["matched_ids"] + rosters["extra_ids"])
        print(f"made unpaid: {unpaid:,} of the roster people's {YEAR} enrollments")
    reset_state()
    csv_path, fixed_path, xlsx_path = scratch / "名单.csv", scratch / "名单-更正.csv", scratch / "名单.xlsx"
    write_csv(rosters["rows"], csv_path)
    write_csv(rosters["corrected"], fixed_path)
    # a CSV-only timing (--first-only csv, --profile csv) does not wait for the XLSX to be written
    csv_only = "csv" in (args.first_only, args.profile)
    xlsx_s = 0.0 if csv_only else write_xlsx(rosters["rows"], xlsx_path)
    status = dict(data._admin.sql_value("SELECT json_object_agg(status, n) FROM (SELECT e.status, count(*) n "
                                        "FROM enrollment_enrollment e JOIN enrollment_resident r ON r.id = "
                                        "e.resident_id WHERE e.year = %s AND r.id = ANY(%s) GROUP BY 1) s",
                                        [YEAR, rosters["matched_ids"]]))
    print(f"roster: {len(rosters['rows']):,} rows ({len(rosters['matched_ids']):,} residents, "
          f"{len(rosters['rows']) - len(rosters['matched_ids']):,} unregistered); their {YEAR} "
          f"enrollments {status}; CSV {csv_path.stat().st_size / 1e6:.1f} MB, XLSX "
          + ("not written (CSV only)" if csv_only else
             f"{xlsx_path.stat().st_size / 1e6:.1f} MB (openpyxl write_only {xlsx_s:.1f} s)") + "; built in "
          f"{time.perf_counter() - started:.0f} s")
    if args.profile:
        run_child(csv_path if args.profile == "csv" else xlsx_path, profile=True)
        return 0
    if args.first_only:
        label = f"{args.first_only.upper()}, first import"
        target = CSV_TARGET_S if args.first_only == "csv" else XLSX_TARGET_S
        print("load average before: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
        met = show(label, len(rosters["rows"]), run_child(csv_path if args.first_only == "csv" else xlsx_path),
                   target)
        print("load average after: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
        return 1 if args.check and not met else 0

    n = len(rosters["rows"])
    met = True
    print(f"\nimport_roster(region={REGION!r}, year={YEAR}, today={TODAY}) — each in a fresh process")
    first_csv = run_child(csv_path)
    met &= show("CSV, first import", n, first_csv, CSV_TARGET_S)
    vacuum()
    met &= show("CSV, same file again", n, run_child(csv_path), CSV_TARGET_S)
    met &= show("CSV, corrected (1,000 out, 1,000 in)", len(rosters["corrected"]), run_child(fixed_path),
                CSV_TARGET_S)
    reset_state()
    met &= show("XLSX, first import", n, run_child(xlsx_path), XLSX_TARGET_S)
    vacuum()
    met &= show("XLSX, same file again", n, run_child(xlsx_path), XLSX_TARGET_S)

    openpyxl_s, calamine_s, read_rows = time_readers(xlsx_path)
    print(f"\nreading the XLSX ({read_rows:,} rows): openpyxl read-only {openpyxl_s:.2f} s, "
          f"python-calamine {calamine_s:.2f} s — calamine {openpyxl_s / calamine_s:.1f}× faster")

    proc = subprocess.run([sys.executable, __file__, "--plain-child", str(args.plain_rows),
                           "--seed", str(args.seed)], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, file=sys.stderr)
        raise RuntimeError("the plain ModelResource import failed")
    plain = json.loads(proc.stdout.strip().splitlines()[-1])
    ours_rate = n / first_csv["seconds"]
    plain_rate = plain["rows"] / plain["seconds"]
    print(f"plain django-import-export ModelResource (AssistanceIdentity, import_id_fields id_number): "
          f"{plain['rows']:,} rows in {plain['seconds']:.1f} s = {plain_rate:,.0f} rows/s "
          f"(peak RSS {plain['peak_mb']:.0f} MB) {plain['totals']}")
    print(f"ours (CSV first import): {ours_rate:,.0f} rows/s — ours ÷ plain = {ours_rate / plain_rate:.1f}")
    sql("DELETE FROM subsidies_assistanceidentity WHERE year = %s AND source = ''", [YEAR + 1])
    if args.check and not met:
        print("FAIL: a target was missed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
