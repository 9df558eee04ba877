"""Admin pages and default renewal over a million residents.

    .venv/bin/python bench/admin.py                      # 1,000,000 residents (about 10 minutes)
    .venv/bin/python bench/admin.py --residents 50000    # a quick run (under a minute)
    .venv/bin/python bench/admin.py --check              # ... exit 1 when a target is missed
    .venv/bin/python bench/admin.py --keep               # keep the database afterwards
    .venv/bin/python bench/admin.py --reuse --keep       # the pages again on a kept database
    .venv/bin/python bench/admin.py --reuse --keep --no-renewal --explain   # ... with plans

Targets (median of 20 requests through the Django test client, as a logged-in
caseworker of group 经办人员): a changelist page under 300 ms (the residents
list; the filtered enrollments list is held to the same figure), an exact ID
number search under 50 ms; default renewal of 1,000,000 enrollments under
5 minutes (the renewal covers about 95 % of N: its rate is scaled to 1,000,000).

Database: never the developer's.  ``DATABASE_URL`` defaults to
``postgres://postgres@127.0.0.1:5432/bench_admin`` (this machine's PostgreSQL);
set it to use another server, but its database name must contain "bench":
the database is dropped and created afresh, and dropped again at the end
unless ``--keep``.  The URL may carry libpq options to try a planner setting,
e.g. ``…/bench_admin?options=-c%20random_page_cost%3D1.1``.
``CELERY_BROKER_URL`` defaults to ``memory://`` (nothing is queued) and
``DEBUG`` to false, as in production.  Disk: about 1.3 GB at 1,000,000.

Data: N residents over the six regions, most of them in Lüliang (141100 80 %,
Xiaoyi 141181 16 %, 1 % in each of the others), so that default renewal of
Lüliang to 2027 has close to N candidates.  Valid ID numbers
(``enrollment.idnumbers.make_number``) with the area codes of each region's
districts (non-local residents: codes from elsewhere), names, birth dates
from infants to the very old, students, non-local residents with residence
permits (some expiring before 2027), phones.  One enrollment each, priced by
``policy.rules.quote`` for the region's policy year (Lüliang 2026, the others
2025): mostly paid in the window, a few registered and unpaid, a few with
assistance.  For 2027 some assistance identities and some employee coverage
(which stops renewal).  Loaded with COPY; the audit triggers (pghistory) of
the loaded tables are disabled for the load only and enabled again before
anything is measured.  Then VACUUM ANALYZE, as autovacuum would have done.

Measured, in order: the admin pages (three caseworkers: Lüliang only,
Lüliang + Xiaoyi, Ningbo; for the first also two pages shown for information
only), default renewal of Lüliang into 2027 (audit triggers on), VACUUM
ANALYZE, then the admin pages again over the doubled enrollments table (the
state of the office from late October on).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if p != HERE]  # bench/admin.py must not shadow anything
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_admin"
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("CELERY_RESULT_BACKEND", "cache+memory://")
os.environ.setdefault("DEBUG", "false")

HOME_TARGET_MS = 500  # issue 12: the home page on 1,000,000 residents
PAGE_TARGET_MS = 300.0  # a changelist page
SEARCH_TARGET_MS = 50.0  # an exact ID number search
RENEWAL_TARGET_S = 300.0  # 1,000,000 enrollments
RENEWAL_ROWS = 1_000_000
REQUESTS = 20
WARMUP = 3
CHUNK = 20_000  # residents per COPY round
TZ = ZoneInfo("Asia/Shanghai")
ACTOR = "bench/admin.py"

RENEW_REGION, RENEW_FROM, RENEW_TO = "141100", 2026, 2027
RENEW_TODAY = date(2026, 10, 21)

# region -> (weight, policy year of its enrollment, ID area codes of its districts)
REGIONS = {
    "141100": (80, 2026, ["141102", "141121", "141122", "141123", "141124", "141125", "141126",
                          "141127", "141128", "141129", "141130", "141182"]),
    "141181": (16, 2026, ["141181"]),
    "330200": (1, 2025, ["330203", "330205", "330206", "330211", "330212", "330213", "330225",
                         "330226", "330281", "330282"]),
    "630100": (1, 2025, ["630102", "630103", "630104", "630105", "630106", "630121", "630123"]),
    "610400": (1, 2025, ["610402", "610403", "610404", "610422", "610423", "610424", "610425",
                         "610481", "610482"]),
    "310000": (1, 2025, ["310101", "310104", "310105", "310106", "310107", "310109", "310110",
                         "310112", "310113", "310115"]),
}
NONLOCAL_AREAS = ["140105", "140106", "140202", "140302", "410105", "370102", "130102", "510104",
                  "500101", "620102", "340102", "430102", "610113", "150102", "640104"]
SURNAMES = ("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
            "苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史"
            "顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华慧建国子涵梓萱浩然一诺志刚玉兰桂英秀兰"
         "海燕俊杰晓东红梅春花丽娟文博宇轩欣怡思远嘉怡雨涵晨阳佳琪宏斌永平建华小红凤英淑珍"
         "鹏飞婷婷雪梅国强家豪瑞霖金凤文静晓明振华")
COLLEGES = ["吕梁学院", "山西大学", "太原理工大学", "山西医科大学", "宁波大学", "青海大学",
            "西北农林科技大学", "复旦大学", "同济大学", "陕西中医药大学"]
# Lüliang identities and their share of the assisted (tekun … disabled: 003 §二).
LL_IDENTITIES = [("dibao", 50), ("monitored", 25), ("tekun", 8), ("returned_poverty", 7),
                 ("disabled_certified", 10)]
DEPARTMENTS = {"dibao": "civil_affairs", "tekun": "civil_affairs", "monitored": "rural_revitalisation",
               "returned_poverty": "rural_revitalisation", "disabled_certified": "disabled_federation"}


# --- the database ---------------------------------------------------------------------


def database_parts() -> tuple[str, str]:
    """(DATABASE_URL of the maintenance database ``postgres``, the bench database's name)."""
    url = os.environ["DATABASE_URL"]
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop and create {name!r}: the bench database's name must "
                         "contain 'bench' (DATABASE_URL)")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    return admin, name


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


def sql_value(query: str, params=None):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchone()[0]


def server_description() -> str:
    version = sql_value("SHOW server_version")
    settings = ", ".join(f"{k} {sql_value(f'SHOW {k}')}" for k in
                         ("shared_buffers", "work_mem", "effective_cache_size", "random_page_cost",
                          "synchronous_commit"))
    return f"PostgreSQL {version} ({settings})"


def prepare_schema() -> None:
    from django.core.management import call_command

    from policy.services import clone_policy_year, load_policies

    call_command("migrate", verbosity=0, interactive=False)
    load_policies(actor=ACTOR)
    clone_policy_year(region=RENEW_REGION, from_year=RENEW_FROM, to_year=RENEW_TO, publish=True,
                      actor=ACTOR)


@contextlib.contextmanager
def audit_triggers_disabled(tables: list[str]):
    """The pghistory triggers off for a bulk load (ALTER TABLE … DISABLE TRIGGER USER);
    foreign keys (system triggers) stay checked."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'D' "
                    "AND tgrelid = ANY(%s::regclass[])", [tables])
        if cur.fetchone()[0]:
            raise RuntimeError("a user trigger is disabled already: refusing to toggle them")
        for table in tables:
            cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    try:
        yield
    finally:
        with connection.cursor() as cur:
            for table in tables:
                cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def enabled_audit_triggers(table: str) -> int:
    return sql_value("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'O' "
                     "AND tgrelid = %s::regclass", [table])


# --- the people -----------------------------------------------------------------------


def _day(rng: random.Random, lo: date, hi: date) -> date:
    return lo + timedelta(days=rng.randint(0, max(0, (hi - lo).days)))


def _at(rng: random.Random, day: date) -> datetime:
    return datetime.combine(day, dtime(rng.randint(8, 17), rng.randint(0, 59), rng.randint(0, 59)),
                            tzinfo=TZ)


def _name(rng: random.Random) -> str:
    surname = SURNAMES[min(int(rng.expovariate(1 / 14)), len(SURNAMES) - 1)]
    given = rng.choice(GIVEN)
    if rng.random() < 0.7:
        given += rng.choice(GIVEN)
    return surname + given


def _birth(rng: random.Random) -> date:
    band = rng.choices(((2019, 2025), (2008, 2018), (2001, 2007), (1966, 2000), (1930, 1965)),
                       weights=(7, 13, 8, 44, 28))[0]
    return _day(rng, date(band[0], 1, 1), min(date(band[1], 12, 31), date(2025, 9, 30)))


@dataclass
class Person:
    region: str
    number: str
    name: str
    birth: date
    hukou: str
    permit: bool
    permit_expires: date | None
    student: str
    school: str
    phone: str
    identity: str = ""  # assistance identity held in the enrollment year


class People:
    """Residents from a seeded generator; every ID number valid and unique."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.used: set[str] = set()
        self.regions = list(REGIONS)
        self.weights = [REGIONS[r][0] for r in self.regions]

    def number(self, area: str, birth: date) -> str:
        from enrollment.idnumbers import make_number

        while True:
            number = make_number(f"{area}{birth:%Y%m%d}{self.rng.randrange(1000):03d}")
            if number not in self.used:
                self.used.add(number)
                return number

    def person(self, region: str | None = None) -> Person:
        rng = self.rng
        region = region or rng.choices(self.regions, weights=self.weights)[0]
        birth = _birth(rng)
        age = 2025 - birth.year
        student = school = ""
        if 6 <= age <= 17 and rng.random() < 0.9:
            student = "primary_secondary"
            school = f"{'实验小学' if age < 12 else '第' + str(rng.randint(1, 12)) + '中学'}"
        elif 17 <= age <= 23 and rng.random() < 0.35:
            student, school = "college", rng.choice(COLLEGES)
        nonlocal_ = rng.random() < 0.06
        area = rng.choice(NONLOCAL_AREAS if nonlocal_ else REGIONS[region][2])
        expires = None
        if nonlocal_:  # valid when paying; some lapse before the next year (Lüliang: 2027)
            expires = (_day(rng, date(2026, 3, 1), date(2026, 11, 30)) if rng.random() < 0.15
                       else _day(rng, date(2027, 6, 1), date(2030, 12, 31)))
        phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}" if rng.random() < 0.9 else ""
        return Person(region=region, number=self.number(area, birth), name=_name(rng), birth=birth,
                      hukou="nonlocal" if nonlocal_ else "local", permit=nonlocal_,
                      permit_expires=expires, student=student, school=school, phone=phone)


# --- their enrollments, priced by the rules --------------------------------------------


def _paid_on(rng: random.Random, spec) -> date:
    """A day in the first window mostly, else in the next period."""
    period = spec.periods[0] if rng.random() < 0.85 or len(spec.periods) == 1 else spec.periods[1]
    lo = period.starts_on or (spec.year_start - timedelta(days=75))
    return _day(rng, lo, period.ends_on or spec.year_end)


def price(rng: random.Random, spec, person: Person):
    """(paid_on, QuoteResult) for a person, or None when the rules refuse them."""
    from policy.rules import QuoteError, quote
    from policy.rules.types import Identity, Person as RulePerson, QuoteRequest

    rule_person = RulePerson(birth_date=person.birth, hukou=person.hukou,
                             residence_permit=person.permit, student=person.student or None)
    identities = ()
    if person.identity:
        identities = (Identity(code=person.identity, certified_on=date(spec.year - 1, 9, 1)),)
    history = {spec.year - 1: "resident"} if rng.random() < 0.9 else {}
    for _ in range(8):  # payment-day rules (Lüliang: the 1st to the 25th) refuse some days
        paid_on = _paid_on(rng, spec)
        req = QuoteRequest(region=person.region, year=spec.year, paid_on=paid_on,
                           person=rule_person, identities=identities, history=history)
        try:
            return paid_on, quote(spec, req)
        except QuoteError as exc:
            if exc.code not in ("payment_day_not_allowed", "window_not_open", "invalid_input"):
                return None
    return None


RESIDENT_COLUMNS = ["id", "id_number", "name", "birth_date", "sex", "region_id", "hukou",
                    "residence_permit", "residence_permit_expires_on", "student", "school", "phone",
                    "created_at", "updated_at"]
ENROLLMENT_COLUMNS = [
    "resident_id", "year", "region_id", "category", "status", "registered_via", "registered_at",
    "registered_by_id", "nonlocal_via_parent_permit", "personal_standard", "fiscal_subsidy",
    "assistance_identity", "assistance_amount", "amount_due", "timing", "paid_amount", "paid_on",
    "paid_at", "paid_via", "benefit_start", "benefit_end", "waiting_months", "waiting_days",
    "cap_adjustment", "cancelled_at", "cancelled_by_id", "cancel_reason", "updated_at"]
IDENTITY_COLUMNS = ["id_number", "name", "region_id", "year", "identity", "department",
                    "certified_on", "source", "roster_id", "removed_at", "removed_by_id", "created_at",
                    "assessed_on"]
EMPLOYEE_COLUMNS = ["id_number", "name", "region_code", "year", "ended_on", "imported_at"]


def check_columns() -> None:
    """The COPY column lists name every column of the models (a new field stops the bench)."""
    from enrollment.models import EmployeeCoverage, Enrollment, Resident
    from subsidies.models import AssistanceIdentity

    for model, columns in ((Resident, RESIDENT_COLUMNS), (Enrollment, ENROLLMENT_COLUMNS),
                           (AssistanceIdentity, IDENTITY_COLUMNS),
                           (EmployeeCoverage, EMPLOYEE_COLUMNS)):
        have = {f.column for f in model._meta.concrete_fields} - {"id"}
        if have != set(columns) - {"id"}:
            raise SystemExit(f"bench/admin.py: columns of {model.__name__} changed: "
                             f"{sorted(have ^ (set(columns) - {'id'}))}")


def enrollment_row(rng: random.Random, resident_id: int, person: Person, year: int,
                   paid_on: date, result, paid: bool) -> tuple:
    registered_on = paid_on - timedelta(days=rng.randint(0, 10)) if paid else paid_on
    if person.student:
        via = "school" if rng.random() < 0.7 else "online"
    else:
        via = "community" if rng.random() < 0.5 else "online"
    if not paid:
        paid_fields = (None, None, None, "", None, None, 0, 0, None)
    else:
        paid_via = ("assistance" if result.amount_due == 0 else
                    rng.choices(("channel", "collective", "family_pool"), weights=(88, 6, 6))[0])
        paid_fields = (result.amount_due, paid_on, _at(rng, paid_on), paid_via,
                       result.benefit_start, result.benefit_end, result.waiting_months,
                       result.waiting_days, result.cap_adjustment)
    assistance = result.assistance
    registered_at = _at(rng, registered_on)
    return (resident_id, year, person.region, result.category, "paid" if paid else "registered",
            via, registered_at, None, False, result.personal_standard, result.fiscal_subsidy,
            assistance.identity if assistance else "", assistance.amount if assistance else None,
            result.amount_due, result.timing, *paid_fields, None, None, "",
            paid_fields[2] or registered_at)


@dataclass
class LoadCounts:
    residents: int = 0
    enrollments: dict = field(default_factory=dict)  # (region, year, status) -> n
    identities: int = 0
    employees: int = 0
    refused_retries: int = 0


def build_chunk(people: People, specs: dict, first_id: int, size: int, counts: LoadCounts):
    """Rows for residents first_id … first_id+size-1: residents, enrollments, 2027 identities
    and 2027 employee coverage."""
    rng = people.rng
    residents, enrollments, identities, employees = [], [], [], []
    for resident_id in range(first_id, first_id + size):
        while True:
            person = people.person()
            year = REGIONS[person.region][1]
            lueliang = year == RENEW_FROM
            tiers = specs[person.region].assistance
            if rng.random() < 0.04 and tiers:
                person.identity = (rng.choices([i for i, _ in LL_IDENTITIES],
                                               weights=[w for _, w in LL_IDENTITIES])[0] if lueliang
                                   else rng.choice(tiers).identity)
            priced = price(rng, specs[person.region], person)
            if priced is not None:
                break
            people.used.discard(person.number)
            counts.refused_retries += 1
        created = _at(rng, _day(rng, date(2023, 1, 1), date(2025, 9, 30)))
        residents.append((resident_id, person.number, person.name, person.birth,
                          "M" if int(person.number[16]) % 2 else "F", person.region, person.hukou,
                          person.permit, person.permit_expires, person.student, person.school,
                          person.phone, created, created))
        paid = rng.random() < (0.98 if lueliang else 0.90)
        enrollments.append(enrollment_row(rng, resident_id, person, year, *priced, paid))
        key = (person.region, year, "paid" if paid else "registered")
        counts.enrollments[key] = counts.enrollments.get(key, 0) + 1
        if lueliang and person.identity and rng.random() < 0.85:  # still certified for 2027
            identities.append((person.number, person.name, person.region, RENEW_TO,
                               person.identity, DEPARTMENTS[person.identity],
                               _day(rng, date(2026, 8, 1), date(2026, 10, 15)), "bench", None, None,
                               None, created, None))
        if lueliang and 18 <= 2026 - person.birth.year <= 59 and rng.random() < 0.012:
            employees.append((person.number, person.name, person.region, RENEW_TO, None, created))
    counts.residents += size
    counts.identities += len(identities)
    counts.employees += len(employees)
    return residents, enrollments, identities, employees


def copy_rows(table: str, columns: list[str], rows: list[tuple]) -> None:
    from django.db import connection

    if not rows:
        return
    with connection.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def load(n: int, seed: int) -> tuple[LoadCounts, float]:
    from tqdm import tqdm

    from policy.selectors import published_spec

    check_columns()
    specs = {code: published_spec(code, year) for code, (_, year, _) in REGIONS.items()}
    people = People(seed)
    counts = LoadCounts()
    tables = ["enrollment_resident", "enrollment_enrollment", "subsidies_assistanceidentity",
              "enrollment_employeecoverage"]
    started = time.perf_counter()
    with audit_triggers_disabled(tables), tqdm(total=n, desc="loading (COPY)", unit="人",
                                               disable=None, file=sys.stderr) as bar:
        for first in range(1, n + 1, CHUNK):
            size = min(CHUNK, n + 1 - first)
            residents, enrollments, identities, employees = build_chunk(people, specs, first, size,
                                                                        counts)
            copy_rows("enrollment_resident", RESIDENT_COLUMNS, residents)
            copy_rows("enrollment_enrollment", ENROLLMENT_COLUMNS, enrollments)
            copy_rows("subsidies_assistanceidentity", IDENTITY_COLUMNS, identities)
            copy_rows("enrollment_employeecoverage", EMPLOYEE_COLUMNS, employees)
            bar.update(size)
    seconds = time.perf_counter() - started
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT setval(pg_get_serial_sequence('enrollment_resident', 'id'), %s)", [n])
    return counts, seconds


def vacuum_analyze() -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cur:
        for table in ("enrollment_resident", "enrollment_enrollment", "enrollment_enrollmentevent",
                      "subsidies_assistanceidentity", "enrollment_employeecoverage",
                      "enrollment_reregistrationnotice"):
            cur.execute(f"VACUUM (ANALYZE) {table}")
    return time.perf_counter() - started


# --- the caseworkers and their pages ---------------------------------------------------

# (username, regions, region of the filtered enrollments list, its year)
CASEWORKERS = [
    ("bench_lvliang", ["141100"], "141100", 2026),
    ("bench_lvliang_xiaoyi", ["141100", "141181"], "141181", 2026),
    ("bench_ningbo", ["330200"], "330200", 2025),
]


def make_caseworkers() -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from core.audit import audit_context
    from accounts.models import StaffRegion
    from accounts.roles import CASEWORKER

    users = {}
    group = Group.objects.get(name=CASEWORKER)
    with audit_context(ACTOR):
        for username, regions, _, _ in CASEWORKERS:
            user, _ = get_user_model().objects.get_or_create(username=username,
                                                             defaults={"is_staff": True})
            user.groups.add(group)
            for code in regions:
                StaffRegion.objects.get_or_create(user=user, region_id=code)
            users[username] = user
    return users


def sample_residents(regions: list[str], k: int, seed: int, column: str = "id_number") -> list[str]:
    """k distinct values of ``column`` (ID number, name) of residents of these regions, spread
    over the table (seeded)."""
    from django.db import connection

    rng = random.Random(seed)
    top = sql_value("SELECT max(id) FROM enrollment_resident")
    values: dict[str, None] = {}
    with connection.cursor() as cur:
        for _ in range(k * 10):
            cur.execute(f"SELECT {column} FROM enrollment_resident WHERE region_id = ANY(%s) "
                        "AND id >= %s ORDER BY id LIMIT 1", [regions, rng.randint(1, top)])
            row = cur.fetchone()
            if row:
                values[row[0]] = None
            if len(values) == k:
                return list(values)
    raise RuntimeError(f"only {len(values)} residents found in {regions}")


@dataclass
class Series:
    label: str
    user: str
    target_ms: float
    times_ms: list[float]
    queries: int
    sql_ms: float
    slowest_sql_ms: float
    slowest_sql: str
    rows: int
    info: bool = False  # shown for information; no target of its own


    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p90(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[math.ceil(0.9 * len(ordered)) - 1]

    @property
    def met(self) -> bool:
        return self.info or self.median < self.target_ms

    def line(self) -> str:
        return (f"  {self.label:<28} {self.user:<21} median {self.median:7.1f} ms  "
                f"p90 {self.p90:7.1f}  min {min(self.times_ms):7.1f}  {self.queries:2d} queries "
                f"(SQL {self.sql_ms:6.1f} ms, slowest {self.slowest_sql_ms:6.1f})  "
                f"rows {self.rows:>3}"
                + ("  (information only)" if self.info else
                   f"  target < {self.target_ms:.0f} ms {'ok' if self.met else 'MISSED'}"))


class QueryTimer:
    """An execute wrapper timing each query to the microsecond (Django's own log rounds to 1 ms)."""

    def __init__(self):
        self.ms: list[float] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.ms.append((time.perf_counter() - started) * 1000)


def _rows_on_page(response) -> int:
    return response.content.count(b'name="_selected_action"')


def time_page(client, label: str, user: str, urls: list[str], target_ms: float,
              expect_rows=None, warmup: list[str] | None = None) -> Series:
    """Warm up, time len(urls) requests, then capture the queries of one more."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for url in warmup or urls[:WARMUP]:
        client.get(url)
    times, rows = [], None
    for url in urls:
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {response.status_code}")
        rows = _rows_on_page(response)
        if expect_rows is not None and rows != expect_rows:
            raise RuntimeError(f"{url}: {rows} rows on the page, expected {expect_rows}")
    timer = QueryTimer()
    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timer):
        client.get(urls[0])
    timed = list(zip(timer.ms, (q["sql"] for q in captured.captured_queries)))
    slowest = max(timed) if timed else (0.0, "")
    return Series(label, user, target_ms, times, len(timed), sum(t for t, _ in timed), slowest[0],
                  slowest[1], rows)


def measure_pages(users: dict, seed: int) -> list[Series]:
    from django.test import Client

    from core.figures import refresh_all

    # the home page reads summary rows the engine refreshes (beat, every 5 minutes): refresh
    # once, timed, then time the page a caseworker opens first (issue 12: under 500 ms)
    started = time.perf_counter()
    refresh_all()
    print(f"\nhome page figures refreshed (every refresher of settings.FIGURE_REFRESHERS, over "
          f"the whole database) in {time.perf_counter() - started:.1f} s")
    series = []
    for username, regions, list_region, list_year in CASEWORKERS:
        client = Client()
        client.force_login(users[username])
        series.append(time_page(client, "home page (figures, charts)", username, ["/admin/"] * REQUESTS,
                                HOME_TARGET_MS))
        series.append(time_page(client, "residents changelist", username,
                                ["/admin/enrollment/resident/"] * REQUESTS, PAGE_TARGET_MS, 100))
        series.append(time_id_search(client, username, regions, seed))
        query = urlencode({"region": list_region, "status__exact": "paid", "year": list_year})
        series.append(time_page(client, f"enrollments {list_region} {list_year} paid", username,
                                [f"/admin/enrollment/enrollment/?{query}"] * REQUESTS,
                                PAGE_TARGET_MS))
        if username == CASEWORKERS[0][0]:
            series.extend(time_extra_pages(client, username, regions, list_region, seed))
        client.logout()
    outside = sample_residents(["330200"], 1, seed)[0]  # another region's resident: not found
    client = Client()
    client.force_login(users[CASEWORKERS[0][0]])
    if _rows_on_page(client.get(f"/admin/enrollment/resident/?{urlencode({'q': outside})}")) != 0:
        raise RuntimeError("a Lüliang caseworker found a Ningbo resident: scoping is off")
    return series


def time_id_search(client, username: str, regions: list[str], seed: int) -> Series:
    """An exact ID number per request, each a different resident (three more to warm up)."""
    from enrollment.idnumbers import mask

    numbers = sample_residents(regions, REQUESTS + WARMUP, seed)
    urls = [f"/admin/enrollment/resident/?{urlencode({'q': n})}" for n in numbers]
    series = time_page(client, "ID search (exact)", username, urls[WARMUP:], SEARCH_TARGET_MS, 1,
                       warmup=urls[:WARMUP])
    page = client.get(urls[-1]).content.decode()
    if mask(numbers[-1]) not in page and numbers[-1] not in page:
        raise RuntimeError("the searched resident is not on the page")
    return series


def time_extra_pages(client, username: str, regions: list[str], list_region: str,
                     seed: int) -> list[Series]:
    """Two more things a caseworker does, shown for information: 是否缴费 = 已缴费 without a
    year, and a search by full name (the search box's other half: a name prefix)."""
    paid = urlencode({"region": list_region, "paid": "yes"})
    names = sample_residents(regions, REQUESTS + WARMUP, seed, column="name")
    urls = [f"/admin/enrollment/resident/?{urlencode({'q': n})}" for n in names]
    out = [time_page(client, "enrollments paid, any year", username,
                     [f"/admin/enrollment/enrollment/?{paid}"] * REQUESTS, PAGE_TARGET_MS),
           time_page(client, "name search (prefix)", username, urls[WARMUP:], PAGE_TARGET_MS,
                     warmup=urls[:WARMUP])]
    for s in out:
        s.info = True
    return out


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(r[0] for r in cur.fetchall())


def print_pages(title: str, series: list[Series], show_explain: bool) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{title} (median of {REQUESTS} requests after {WARMUP} warm-up; queries of one "
          f"request; load average {load})")
    for s in series:
        print(s.line())
        if show_explain:
            print(f"    slowest SQL ({s.slowest_sql_ms:.1f} ms): {s.slowest_sql}")
            print("    " + explain(s.slowest_sql).replace("\n", "\n    "))


# --- default renewal --------------------------------------------------------------------


def measure_renewal() -> dict | None:
    from tqdm import tqdm

    from enrollment.renewal import renew_enrollments, renewal_regions

    regions = renewal_regions(RENEW_REGION)
    if sql_value("SELECT count(*) FROM enrollment_enrollment WHERE year = %s", [RENEW_TO]):
        print(f"\ndefault renewal: skipped, {RENEW_TO} enrollments exist already "
              "(load afresh to time it)")
        return None
    candidates = sql_value("SELECT count(*) FROM enrollment_enrollment WHERE year = %s AND "
                           "status = 'paid' AND region_id = ANY(%s)", [RENEW_FROM, regions])
    events_before = sql_value("SELECT count(*) FROM enrollment_enrollmentevent")
    triggers = enabled_audit_triggers("enrollment_enrollment")
    with tqdm(total=candidates, desc="默认续保", unit="行", disable=None, file=sys.stderr) as bar:
        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)

        started = time.perf_counter()
        summary = renew_enrollments(region=RENEW_REGION, to_year=RENEW_TO, actor=ACTOR,
                                    today=RENEW_TODAY, progress=progress)
        seconds = time.perf_counter() - started
    load = os.getloadavg()[0]
    events = sql_value("SELECT count(*) FROM enrollment_enrollmentevent") - events_before
    notices = sql_value("SELECT count(*) FROM enrollment_reregistrationnotice WHERE year = %s",
                        [RENEW_TO])
    return {"candidates": candidates, "seconds": seconds, "summary": summary, "events": events,
            "notices": notices, "triggers": triggers, "regions": regions, "load": load}


def print_renewal(r: dict) -> bool:
    rate = r["candidates"] / r["seconds"]
    projected = RENEWAL_ROWS / rate
    met = projected < RENEWAL_TARGET_S
    print(f"\ndefault renewal: renew_enrollments(region={RENEW_REGION!r}, to_year={RENEW_TO}, "
          f"today={RENEW_TODAY.isoformat()}) over {'+'.join(r['regions'])}; "
          f"{r['triggers']} audit triggers enabled on enrollment_enrollment; load average "
          f"{r['load']:.2f} at the end")
    print(f"  candidates (paid {RENEW_FROM}): {r['candidates']:,}")
    print(f"  time: {r['seconds']:.1f} s  {rate:,.0f} rows/s  -> {RENEWAL_ROWS:,} rows at that "
          f"rate: {projected:.0f} s  (target < {RENEWAL_TARGET_S:.0f} s) "
          f"{'ok' if met else 'MISSED'}")
    print(f"  summary: {json.dumps(r['summary'], ensure_ascii=False)}")
    print(f"  audit events written: {r['events']:,}; re-registration notices: {r['notices']:,}")
    return met


# --- main --------------------------------------------------------------------------------


def print_dataset(n: int, counts: LoadCounts | None, seconds: float | None) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT region_id, year, status, count(*) FROM enrollment_enrollment "
                    "GROUP BY 1, 2, 3 ORDER BY 2 DESC, 1, 3")
        groups = cur.fetchall()
    if counts is not None:
        print(f"loaded: {counts.residents:,} residents, {sum(counts.enrollments.values()):,} "
              f"enrollments, {counts.identities:,} assistance identities {RENEW_TO}, "
              f"{counts.employees:,} employee coverages {RENEW_TO} in {seconds:.0f} s "
              f"(COPY, audit triggers off; {counts.refused_retries:,} people re-drawn because "
              "the rules refused them)")
    print("enrollments: " + ", ".join(f"{r} {y} {s} {c:,}" for r, y, s, c in groups))


def sizes() -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        total = cur.fetchone()[0]
        out = []
        for table in ("enrollment_resident", "enrollment_enrollment", "enrollment_enrollmentevent"):
            cur.execute("SELECT pg_size_pretty(pg_total_relation_size(%s::regclass))", [table])
            out.append(f"{table} {cur.fetchone()[0]}")
    return f"database size {total} ({', '.join(out)})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=1_000_000,
                        help="residents to load (default 1000000)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="use a database kept by --keep: no drop, no load")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--explain", action="store_true",
                        help="print EXPLAIN ANALYZE of each page's slowest query")
    parser.add_argument("--no-renewal", action="store_true", help="measure the pages only")
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args(argv)
    if args.residents < 10_000:
        parser.error("--residents: at least 10000 (each small region needs its 1 %)")

    _, name = database_parts()
    if not args.reuse:
        recreate_database()
    import django

    django.setup()
    print(f"database: {name} on {server_description()}")
    try:
        return run(args)
    finally:
        if not args.keep:
            drop_database()
            print(f"database {name} dropped")


def run(args) -> int:
    counts = seconds = None
    if not args.reuse:
        started = time.perf_counter()
        prepare_schema()
        print(f"schema: migrate + load_policies + clone {RENEW_REGION} {RENEW_FROM}->{RENEW_TO} "
              f"in {time.perf_counter() - started:.0f} s")
        counts, seconds = load(args.residents, args.seed)
        print(f"VACUUM ANALYZE in {vacuum_analyze():.0f} s")
    n = sql_value("SELECT count(*) FROM enrollment_resident")
    print(f"residents: {n:,}; audit triggers enabled on enrollment_resident "
          f"{enabled_audit_triggers('enrollment_resident')}, on enrollment_enrollment "
          f"{enabled_audit_triggers('enrollment_enrollment')}")
    print_dataset(n, counts, seconds)
    users = make_caseworkers()
    before = measure_pages(users, args.seed)
    print_pages("admin pages", before, args.explain)
    met = all(s.met for s in before)
    if not args.no_renewal:
        renewal = measure_renewal()
        if renewal is not None:
            met = print_renewal(renewal) and met
            print(f"VACUUM ANALYZE in {vacuum_analyze():.0f} s")
            after = measure_pages(users, args.seed + 1)
            total = sql_value("SELECT count(*) FROM enrollment_enrollment")
            print_pages(f"admin pages after renewal ({total:,} enrollments)", after, args.explain)
            met = met and all(s.met for s in after)
    print(f"\n{sizes()}")
    if args.check and not met:
        print("FAIL: a target was missed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
