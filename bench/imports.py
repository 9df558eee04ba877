"""A department's roster through ``import_residents``: rows per second.

    .venv/bin/python bench/imports.py                  # 100,000 rows (about a minute)
    .venv/bin/python bench/imports.py --rows 20000     # a quick run

What it does, in a scratch database (``DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/bench_imports``; its name must contain
"bench": it is dropped and created afresh, and dropped at the end): migrate,
load the policies, clone Lüliang 2026 to 2027 and publish it; write a CSV roster
(UTF-8 with BOM, as a department's spreadsheet saves it) of N Lüliang residents
with valid ID numbers, a fifth of them pupils, each to be registered for 2027;
then time, through the service the command and the admin both use:

1. the first import (residents created and registered, audit triggers on);
2. the same file again (nothing changes: every row reported unchanged);
3. a dry run of a file with every name changed (checked and counted, nothing written).

Printed: seconds and rows per second of each, the SQL time of the slowest
statements, the audit events written.  No target is set by an issue; the figure
is recorded in bench/RESULTS.md so that a change that slows imports shows.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
import time
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
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("CELERY_RESULT_BACKEND", "cache+memory://")
os.environ.setdefault("DEBUG", "false")

HEADER = ["姓名", "身份证号码", "户籍", "居住证", "学生类别", "参保地", "参保年度"]
AREAS = ["141102", "141121", "141122", "141123", "141124", "141125", "141126", "141127", "141128",
         "141129", "141130", "141182"]
TODAY = date(2026, 11, 23)  # inside Lüliang's 2027 window once 2026 is cloned


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


def roster(n: int, seed: int, rename: bool = False) -> bytes:
    from enrollment.idnumbers import make_number

    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
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
        writer.writerow([name + ("改" if rename else ""), number, "本地", "无",
                         "中小学生" if pupil else "", "141100", "2027"])
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


def timed(label: str, n: int, fn) -> object:
    from django.db import connection

    timer = SqlTimer()
    started = time.perf_counter()
    with connection.execute_wrapper(timer):
        result = fn()
    seconds = time.perf_counter() - started
    sql = sum(timer.by_statement.values())
    print(f"  {label:<34} {seconds:7.1f} s  {n / seconds:8,.0f} rows/s  (SQL {sql:5.1f} s)  "
          f"{result.as_dict()}")
    for key, spent in sorted(timer.by_statement.items(), key=lambda kv: -kv[1])[:2]:
        print(f"      {spent:6.2f} s  {key}")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args(argv)

    _, name = database_parts()
    recreate()
    import django

    django.setup()
    try:
        from django.core.management import call_command
        from django.db import connection

        from enrollment.imports import import_residents
        from policy.services import clone_policy_year, load_policies

        call_command("migrate", verbosity=0, interactive=False)
        load_policies(actor="bench/imports.py")
        clone_policy_year(region="141100", from_year=2026, to_year=2027, publish=True,
                          actor="bench/imports.py")
        with connection.cursor() as cur:
            cur.execute("SHOW server_version")
            version = cur.fetchone()[0]
        data = roster(args.rows, args.seed)
        renamed = roster(args.rows, args.seed, rename=True)
        print(f"database: {name} on PostgreSQL {version}; roster: {args.rows:,} rows, "
              f"{len(data) / 1e6:.1f} MB CSV (UTF-8 with BOM); today {TODAY}; "
              f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        actor = "bench/imports.py"
        first = timed("first import (create + register)", args.rows, lambda: import_residents(
            data, "roster.csv", actor=actor, today=TODAY))
        again = timed("same file again (unchanged)", args.rows, lambda: import_residents(
            data, "roster.csv", actor=actor, today=TODAY))
        timed("dry run, every name changed", args.rows, lambda: import_residents(
            renamed, "roster.csv", actor=actor, today=TODAY, dry_run=True))
        with connection.cursor() as cur:
            cur.execute("SELECT (SELECT count(*) FROM enrollment_residentevent), "
                        "(SELECT count(*) FROM enrollment_enrollmentevent)")
            residents_ev, enrollments_ev = cur.fetchone()
        print(f"  audit events: {residents_ev:,} resident, {enrollments_ev:,} enrollment")
        ok = (first.created == first.registered == args.rows and again.unchanged == args.rows
              and residents_ev == enrollments_ev == args.rows)
        if not ok:
            print("FAIL: the counts are not those expected")
        return 0 if ok else 1
    finally:
        from django.db import connections

        connections.close_all()
        recreate(drop_only=True)
        print(f"database {name} dropped")


if __name__ == "__main__":
    sys.exit(main())
