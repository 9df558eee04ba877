"""The payment channel API (INTERFACES.md §5) served by gunicorn, driven from another process.

    .venv/bin/python bench/channel_api.py                    # 110,000 residents, 100,000 payments
    .venv/bin/python bench/channel_api.py --check            # ... exit 1 when a target is missed
    .venv/bin/python bench/channel_api.py --residents 12000 --payments 10000   # a quick run
    .venv/bin/python bench/channel_api.py --workers 3 --threads 4 --concurrency 8

Targets (issue 10): ``GET /api/v1/dues`` **p50 under 20 ms and at least 500 requests/s**;
``POST /api/v1/payments`` **at least 200/s**; 100,000 payments posted with **zero lost or
doubled**, checked against the database.

Database ``bench_channel`` on this machine's PostgreSQL (``DATABASE_URL`` overrides it; its
name must contain "bench"): dropped, created, migrated, the bundled policies loaded; N
Lüliang (141100) residents registered for 2026 and unpaid, written with COPY — the
generator of bench/admin.py restricted to those whom the rules price at exactly 400.00
on 2025-11-10 (adults and children of the region, local and non-local, no assistance),
so every payment posts ``"amount": "400.00"``.  Dropped at the end unless ``--keep``.

Server: gunicorn (``config.wsgi``), ``--workers`` processes of the ``gthread`` worker
(``--threads`` each, keep-alive), settings ``config.settings.local`` with ``DEBUG=false``
and ``BUSINESS_DATE=2025-11-10`` (a Monday inside Lüliang's days 1–25; production settings
refuse a pinned date), the connection pool of the settings, no access log.

Client: a separate process (``multiprocessing``, spawn) with ``--concurrency`` threads,
each on its own keep-alive ``http.client`` connection, taking the next request from a
shared list; per request the wall time from send to the whole answer read.

Measured, in order:
1. dues: ``--dues`` queries for random registered residents (unpaid: the full pricing
   path); every answer must be 200 with amount_due 400.00;
2. payments: ``--payments`` distinct residents paid once each over the channels wechat,
   alipay, bank, etax and tax_hall, each with its own txn_id; about 1 % of them posted a
   second time right after the first in the list (often at the same moment on another
   connection, else as a retry): the pair must answer one 201 and one 200 with the same
   JSON (the repeat comes from the stored jsonb, so its keys may come in another order);
3. dues again on paid residents (for information: the cheap path);
4. the check against the database: one applied Payment per resident posted and no other
   Payment row; every 201's payment_id is that row (txn, channel, person); no answer other
   than 201/200; each posted enrollment paid with 400.00; ``ledger_check()`` empty.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if p != HERE]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_channel"
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or (
    os.environ["DATABASE_URL"] if "bench" in os.environ.get("DATABASE_URL", "") else DEFAULT_DATABASE_URL)
os.environ["CELERY_BROKER_URL"] = "memory://"
os.environ["CELERY_RESULT_BACKEND"] = "cache+memory://"
os.environ["DEBUG"] = "false"

TODAY = date(2025, 11, 10)
PAID_AT = "2025-11-10T10:30:00+08:00"
REGION, YEAR, AMOUNT = "141100", 2026, Decimal("400.00")
CHANNELS = ("wechat", "alipay", "bank", "etax", "tax_hall")
DUES_P50_MS, DUES_RPS, PAYMENTS_RPS = 20.0, 500.0, 200.0
CHUNK = 20_000
ACTOR = "bench/channel_api.py"


# --- the database -----------------------------------------------------------------------


def database_parts() -> tuple[str, str]:
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop and create {name!r}: the name must contain 'bench'")
    return urlunsplit(parts._replace(scheme="postgresql", path="/postgres")), name


def recreate_database() -> None:
    import psycopg

    admin, name = database_parts()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database() -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    admin, name = database_parts()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load(n: int, seed: int) -> list[tuple[str, str]]:
    """N Lüliang residents registered for 2026, each priced at exactly 400.00 on TODAY; their
    (id_number, name)."""
    from django.db import connection

    from bench._data import audit_triggers_disabled, vacuum_analyze
    from bench_admin import (ENROLLMENT_COLUMNS, RESIDENT_COLUMNS, People, _at, _day, check_columns,
                             copy_rows, enrollment_row)
    from policy.rules import QuoteError, quote
    from policy.rules.types import Person as RulePerson, QuoteRequest
    from policy.selectors import published_spec

    check_columns()
    spec = published_spec(REGION, YEAR)
    people = People(seed)
    rng = people.rng
    out: list[tuple[str, str]] = []
    refused = 0
    with audit_triggers_disabled(["enrollment_resident", "enrollment_enrollment"]):
        next_id = 1
        while next_id <= n:
            residents, enrollments = [], []
            while len(residents) < min(CHUNK, n + 1 - next_id):
                person = people.person(REGION)
                req = QuoteRequest(region=REGION, year=YEAR, paid_on=TODAY, person=RulePerson(
                    birth_date=person.birth, hukou=person.hukou, residence_permit=person.permit,
                    student=person.student or None), identities=(), history={})
                try:
                    result = quote(spec, req)
                except QuoteError:
                    result = None
                if result is None or result.amount_due != AMOUNT:
                    people.used.discard(person.number)
                    refused += 1
                    continue
                rid = next_id + len(residents)
                created = _at(rng, _day(rng, date(2023, 1, 1), date(2025, 9, 30)))
                residents.append((rid, person.number, person.name, person.birth,
                                  "M" if int(person.number[16]) % 2 else "F", REGION, person.hukou,
                                  person.permit, person.permit_expires, person.student, person.school,
                                  person.phone, created, created))
                enrollments.append(enrollment_row(rng, rid, person, YEAR, TODAY, result, paid=False))
                out.append((person.number, person.name))
            copy_rows("enrollment_resident", RESIDENT_COLUMNS, residents)
            copy_rows("enrollment_enrollment", ENROLLMENT_COLUMNS, enrollments)
            next_id += len(residents)
    with connection.cursor() as cur:
        cur.execute("SELECT setval(pg_get_serial_sequence('enrollment_resident', 'id'), %s)", [n])
    vacuum_analyze()
    print(f"  ({refused:,} generated people priced otherwise were skipped)")
    return out


# --- the server -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, workers: int, threads: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": "false",
           "BUSINESS_DATE": TODAY.isoformat(), "ALLOWED_HOSTS": "127.0.0.1",
           "DATABASE_POOL_MAX": str(max(2, threads))}
    cmd = [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi:application",
           "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
           "--worker-class", "gthread" if threads > 1 else "sync", "--threads", str(threads),
           "--keep-alive", "30", "--backlog", "512", "--log-level", "warning", "--timeout", "120"]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# --- the client (a separate process) ------------------------------------------------------


def _drive(port: int, token: str, requests: list[tuple[str, str, bytes | None]], concurrency: int,
           out) -> None:
    """Runs in the client process: send every request on `concurrency` keep-alive
    connections; sends back (wall seconds, [(status, body bytes, latency s)] in order)."""
    import http.client

    results: list = [None] * len(requests)
    cursor = iter(range(len(requests)))
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    errors: list[str] = []

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            method, path, body = requests[i]
            for attempt in range(3):
                started = time.perf_counter()
                try:
                    conn.request(method, path, body, headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except (http.client.HTTPException, OSError) as exc:
                    # a connection the server closed (keep-alive timeout): reconnect and send again;
                    # a payment sent again is exactly what idempotency is for
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                    if attempt == 2:
                        errors.append(f"{method} {path}: {exc!r}")
                        results[i] = (0, b"", time.perf_counter() - started)
                    continue
                results[i] = (resp.status, data, time.perf_counter() - started)
                if resp.will_close:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                break
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.send((time.perf_counter() - started, results, errors))
    out.close()


def drive(port: int, token: str, requests: list, concurrency: int):
    """(wall seconds, results, errors) from a client process."""
    ctx = mp.get_context("spawn")
    mine, theirs = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_drive, args=(port, token, requests, concurrency, theirs))
    proc.start()
    theirs.close()
    answer = mine.recv()
    proc.join()
    return answer


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def report(label: str, wall: float, results: list) -> tuple[float, float, float]:
    latencies = [r[2] * 1000 for r in results]
    rate = len(results) / wall
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    statuses: dict[int, int] = {}
    for status, _, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    print(f"  {label:<34} {len(results):>7,} in {wall:6.1f} s  {rate:7.0f} req/s  p50 {p50:6.1f} ms  "
          f"p99 {p99:6.1f} ms  max {max(latencies):7.1f} ms  statuses {dict(sorted(statuses.items()))}",
          flush=True)
    return rate, p50, p99


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def server_cpu(server: subprocess.Popen) -> tuple[float, float]:
    """CPU seconds used so far by the gunicorn workers and by the PostgreSQL backends of the
    bench database (this machine's server; the client's own connection left out)."""
    from django.db import connection

    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    with connection.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()")
        backends = [row[0] for row in cur.fetchall()]
    return sum(_cpu_seconds(int(p)) for p in children), sum(_cpu_seconds(p) for p in backends)


def measured(server, port, token, requests, concurrency, label):
    """drive + report + the server's CPU per request (gunicorn workers, PostgreSQL backends)."""
    before = server_cpu(server)
    wall, results, errors = drive(port, token, requests, concurrency)
    after = server_cpu(server)
    rate, p50, p99 = report(label, wall, results)
    app, db = ((a - b) * 1000 / len(results) for a, b in zip(after, before))
    print(f"  {'':<34} server CPU per request: gunicorn {app:5.1f} ms + PostgreSQL backends {db:4.1f} ms "
          f"→ at most {2000 / (app + db):,.0f} req/s on 2 idle cores; load average {load_average()}",
          flush=True)
    return wall, results, errors, rate, p50, p99


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- the run ------------------------------------------------------------------------------


def dues_requests(people: list[tuple[str, str]], k: int, rng: random.Random) -> list:
    return [("GET", "/api/v1/dues?" + urlencode({"id_number": number, "name": name, "year": YEAR}), None)
            for number, name in (rng.choice(people) for _ in range(k))]


def payment_bodies(people: list[tuple[str, str]], k: int, retry: float,
                   rng: random.Random) -> tuple[list[dict], list]:
    """(bodies, requests): each of k people paid once; about `retry` of them posted twice
    in a row (the same body)."""
    chosen = rng.sample(people, k)
    bodies, requests = [], []
    for i, (number, name) in enumerate(chosen):
        channel = CHANNELS[i % len(CHANNELS)]
        body = {"channel": channel, "txn_id": f"B{i:07d}-{rng.randrange(16**8):08x}", "id_number": number,
                "name": name, "year": YEAR, "amount": str(AMOUNT), "paid_at": PAID_AT}
        bodies.append(body)
        raw = json.dumps(body, ensure_ascii=False).encode()
        requests.append(("POST", "/api/v1/payments", raw))
        if rng.random() < retry:
            requests.append(("POST", "/api/v1/payments", raw))
    return bodies, requests


def check_payments(bodies: list[dict], requests: list, results: list) -> list[str]:
    """What the answers and the database say; the problems found (empty: none lost or doubled)."""
    from django.db import connection

    from payments.models import Payment
    from payments.services import ledger_check

    problems: list[str] = []
    answers: dict[tuple[str, str], list[tuple[int, bytes]]] = {}
    for (_, _, raw), (status, data, _) in zip(requests, results):
        body = json.loads(raw)
        answers.setdefault((body["channel"], body["txn_id"]), []).append((status, data))
    firsts: dict[tuple[str, str], dict] = {}
    for key, got in answers.items():
        statuses = sorted(s for s, _ in got)
        if statuses not in ([201], [200, 201]):
            problems.append(f"{key}: statuses {statuses}")
            continue
        if len({json.dumps(json.loads(d), sort_keys=True) for _, d in got}) != 1:
            problems.append(f"{key}: a repeat answered another body {got}")
        firsts[key] = json.loads(next(d for s, d in got if s == 201))
    repeated = sum(1 for got in answers.values() if len(got) == 2)
    rows = {(p.channel, p.txn_id): p for p in Payment.objects.only(
        "id", "channel", "txn_id", "id_number", "outcome", "amount", "enrollment_id")}
    lost = [k for k in firsts if k not in rows or rows[k].pk != firsts[k]["payment_id"]]
    extra = [k for k in rows if k not in firsts]
    by_person = {(b["channel"], b["txn_id"]): b["id_number"] for b in bodies}
    wrong = [k for k, p in rows.items() if k in by_person and (
        p.id_number != by_person[k] or p.outcome != "applied" or p.amount != AMOUNT)]
    with connection.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT enrollment_id) FROM payments_payment "
                    "WHERE outcome = 'applied'")
        applied, enrollments = cur.fetchone()
        cur.execute("SELECT count(*) FROM enrollment_enrollment e JOIN enrollment_resident r "
                    "ON r.id = e.resident_id WHERE r.id_number = ANY(%s) AND e.year = %s "
                    "AND e.status = 'paid' AND e.paid_amount = %s",
                    [[b["id_number"] for b in bodies], YEAR, AMOUNT])
        paid = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM payments_refund")
        refunds = cur.fetchone()[0]
    mismatches = ledger_check()
    print(f"  posted {len(bodies):,} payments ({len(requests):,} requests, {repeated:,} posted twice); "
          f"201 answers {len(firsts):,}; Payment rows {len(rows):,} (applied {applied:,} on {enrollments:,} "
          f"enrollments); enrollments paid 400.00 {paid:,}; refunds {refunds}; lost {len(lost)}; "
          f"extra rows {len(extra)}; wrong rows {len(wrong)}; ledger_check {len(mismatches)} rows")
    if lost:
        problems.append(f"{len(lost)} lost, e.g. {lost[:3]}")
    if extra:
        problems.append(f"{len(extra)} Payment rows without a 201, e.g. {extra[:3]}")
    if wrong:
        problems.append(f"{len(wrong)} rows not as posted, e.g. {wrong[:3]}")
    if not (applied == enrollments == paid == len(bodies) == len(firsts) == len(rows)):
        problems.append(f"counts differ: bodies {len(bodies)}, 201s {len(firsts)}, rows {len(rows)}, "
                        f"applied {applied} on {enrollments} enrollments, paid {paid}")
    if refunds:
        problems.append(f"{refunds} refunds queued (no person was paid twice)")
    if mismatches:
        problems.append(f"ledger_check: {mismatches[:5]}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=110_000)
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--dues", type=int, default=20_000, help="dues queries measured")
    parser.add_argument("--retry", type=float, default=0.01, help="share of payments posted twice")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="threads per worker (1: the sync worker)")
    parser.add_argument("--concurrency", type=int, default=8, help="client connections")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if args.payments > args.residents:
        parser.error("--payments cannot exceed --residents (one payment per person)")

    _, name = database_parts()
    recreate_database()
    import django

    django.setup()
    server = None
    ok = True
    try:
        from django.core.management import call_command
        from django.db import connection

        from accounts.services import api_token_create
        from bench._data import server_description
        from policy.services import load_policies

        call_command("migrate", verbosity=0, interactive=False)
        load_policies(actor=ACTOR)
        print(f"database {name}: {server_description()}")
        print(f"machine: {os.cpu_count()} cores, load average {load_average()}; business date {TODAY}")
        started = time.perf_counter()
        people = load(args.residents, args.seed)
        print(f"loaded {len(people):,} residents registered for {YEAR} ({REGION}) in "
              f"{time.perf_counter() - started:.1f} s (COPY, then VACUUM ANALYZE)")
        _, token = api_token_create(name="bench-channel", scope="channel")

        port = free_port()
        log = Path(tempfile.mkdtemp(prefix="bench-channel-")) / "gunicorn.log"
        server = start_server(port, args.workers, args.threads, log)
        kind = f"gthread, {args.threads} threads" if args.threads > 1 else "sync"
        print(f"gunicorn: {args.workers} workers ({kind}); client: 1 process, {args.concurrency} "
              f"keep-alive connections; load average {load_average()}", flush=True)

        rng = random.Random(args.seed)
        drive(port, token, dues_requests(people, 400, rng), args.concurrency)  # warm-up: every worker's pool
        _, results, errors, dues_rate, dues_p50, _ = measured(
            server, port, token, dues_requests(people, args.dues, rng), args.concurrency,
            "dues (unpaid: priced today)")
        bad = [r for r in results if r[0] != 200 or json.loads(r[1]).get("amount_due") != "400.00"]
        if bad or errors:
            print(f"  dues answers not 200/400.00: {len(bad)}, e.g. {bad[:2]}; errors {errors[:3]}")
            ok = False

        bodies, requests = payment_bodies(people, args.payments, args.retry, rng)
        _, pay_results, errors, pay_rate, _, _ = measured(
            server, port, token, requests, args.concurrency, "payments (new, ~1 % posted twice)")
        if errors:
            print(f"  client errors (sent again up to 3 times): {len(errors)}, e.g. {errors[:3]}")

        paid_people = [(b["id_number"], b["name"]) for b in bodies]
        measured(server, port, token, dues_requests(paid_people, min(args.dues, 5000), rng), args.concurrency,
                 "dues (paid, for information)")
        stop_server(server)
        server = None

        problems = check_payments(bodies, requests, pay_results)
        targets = [
            (f"dues p50 {dues_p50:.1f} ms < {DUES_P50_MS:.0f} ms", dues_p50 < DUES_P50_MS),
            (f"dues {dues_rate:.0f} req/s ≥ {DUES_RPS:.0f}", dues_rate >= DUES_RPS),
            (f"payments {pay_rate:.0f}/s ≥ {PAYMENTS_RPS:.0f}", pay_rate >= PAYMENTS_RPS),
            (f"{args.payments:,} payments: zero lost or doubled, ledger_check empty", not problems),
        ]
        for text, met in targets:
            print(f"  {'met    ' if met else 'MISSED '} {text}")
        for problem in problems:
            print(f"  problem: {problem}")
        ok = ok and all(met for _, met in targets)
    finally:
        if server is not None:
            stop_server(server)
        if not args.keep:
            drop_database()
            print(f"database {name} dropped")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
