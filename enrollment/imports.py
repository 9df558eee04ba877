"""Bulk imports of residents and employee coverage (INTERFACES.md section 4).

Every row is parsed and checked first, each fault reported as
``row N: column: reason``; then, only if nothing is wrong (or with
``skip_invalid``), everything is written in one transaction the set-based
way: COPY into a staging table, then ``INSERT … SELECT … ON CONFLICT``.  The
natural keys (ID number; ID number + year) make a second import a no-op.
The admin's import page (django-import-export) calls the same functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from core import clock
from django.db import connection, transaction
from django.utils import timezone

from accounts.audit import audit_context
from accounts.scoping import region_codes
from policy.models import Region
from policy.rules import QuoteError, quote
from policy.rules.types import Identity, Person, QuoteRequest

from . import idnumbers
from .services import registration_date
from .spreadsheet import Table, is_numeric_cell, plain, read_table

RESIDENT_REQUIRED = ["姓名", "身份证号码", "户籍", "居住证", "学生类别", "参保地"]
RESIDENT_OPTIONAL = ["参保年度"]
COVERAGE_REQUIRED = ["姓名", "身份证号码", "参保地", "参保年度"]
COVERAGE_OPTIONAL = ["中断日期"]

HUKOU = {"本地": "local", "本市": "local", "local": "local",
         "外地": "nonlocal", "非本市": "nonlocal", "nonlocal": "nonlocal"}
PERMIT = {"有": True, "是": True, "无": False, "否": False, "": False}
STUDENT = {"": "", "中小学生": "primary_secondary", "大学生": "college", "无": "",
           "primary_secondary": "primary_secondary", "college": "college"}
CHUNK = 2000


@dataclass
class RowError:
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.column}: {self.reason}"


@dataclass
class ParsedResident:
    row: int
    id_number: str
    name: str
    birth_date: date
    sex: str
    region_id: str
    hukou: str
    residence_permit: bool
    student: str
    year: int | None
    action: str = "new"  # new / update / unchanged
    existing_region: str = ""  # the region of the person already on file
    register: str = ""  # "" / "new" / "already"
    quote: object = None


@dataclass
class ImportResult:
    total_rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    registered: int = 0
    already_registered: int = 0
    errors: list[RowError] = field(default_factory=list)
    rejected: bool = False
    dry_run: bool = False
    rows: list = field(default_factory=list)  # parsed rows, for the admin preview

    def as_dict(self) -> dict:
        return {"rows": self.total_rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "registered": self.registered,
                "already_registered": self.already_registered,
                "invalid_rows": len({e.row for e in self.errors}), "rejected": self.rejected}


def _user_codes(user):
    return None if user is None else region_codes(user)


# --- checks ------------------------------------------------------------------------------


def _check_name(values: dict, errors: list, row: int) -> str:
    name = plain(values.get("姓名", ""))
    if not name:
        errors.append(RowError(row, "姓名", "不能为空"))
    elif len(name) > 50:
        errors.append(RowError(row, "姓名", "超过 50 个字"))
    return name


def _check_id(values: dict, errors: list, row: int, today: date):
    raw = values.get("身份证号码", "")
    if is_numeric_cell(raw):
        errors.append(RowError(row, "身份证号码",
                               "单元格为数字格式，18 位号码已丢失精度；请将该列设为文本后重新导出"))
        return None
    try:
        return idnumbers.parse(raw, today=today)
    except idnumbers.IdNumberError as exc:
        errors.append(RowError(row, "身份证号码", str(exc)))
        return None


def _check_region(values: dict, errors: list, row: int, regions: dict, codes) -> str | None:
    code = plain(values.get("参保地", ""))
    if not re.fullmatch(r"\d{6}", code):
        errors.append(RowError(row, "参保地", f"应为六位行政区划代码，收到 {code!r}"))
        return None
    if code not in regions:
        errors.append(RowError(row, "参保地", f"未知地区 {code}"))
        return None
    if codes is not None and code not in codes:
        errors.append(RowError(row, "参保地", f"{code} 不在您的经办地区内"))
        return None
    return code


def _check_year(values: dict, errors: list, row: int) -> int | None:
    text = plain(values.get("参保年度", ""))
    if not text:
        return None
    if not re.fullmatch(r"\d{4}", text):
        errors.append(RowError(row, "参保年度", f"应为四位年份，收到 {text!r}"))
        return None
    return int(text)


def parse_residents(table: Table, *, user=None, today: date | None = None,
                    progress: Callable[[int, int], None] | None = None) -> tuple[list, list]:
    """(parsed rows, errors): every row checked; nothing written."""
    today = today or clock.today()
    regions = {r.code: r for r in Region.objects.all()}
    codes = _user_codes(user)
    parsed: list[ParsedResident] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for row, values in table.rows:
        row_errors: list[RowError] = []
        name = _check_name(values, row_errors, row)
        ident = _check_id(values, row_errors, row, today)
        hukou = HUKOU.get(plain(values.get("户籍", "")))
        if hukou is None:
            row_errors.append(RowError(row, "户籍", f"应为“本地”或“外地”，收到 {plain(values.get('户籍', ''))!r}"))
        permit = PERMIT.get(plain(values.get("居住证", "")))
        if permit is None:
            row_errors.append(RowError(row, "居住证", f"应为“有”或“无”，收到 {plain(values.get('居住证', ''))!r}"))
        elif permit and hukou == "local":
            row_errors.append(RowError(row, "居住证", "本地户籍人员不登记居住证"))
        student = STUDENT.get(plain(values.get("学生类别", "")))
        if student is None:
            row_errors.append(RowError(row, "学生类别",
                                       f"应为“中小学生”“大学生”或空，收到 {plain(values.get('学生类别', ''))!r}"))
        region = _check_region(values, row_errors, row, regions, codes)
        year = _check_year(values, row_errors, row)
        if ident is not None:
            if ident.number in seen:
                row_errors.append(RowError(row, "身份证号码", f"与第 {seen[ident.number]} 行重复"))
            else:
                seen[ident.number] = row
        if row_errors:
            errors.extend(row_errors)
            continue
        parsed.append(ParsedResident(row=row, id_number=ident.number, name=name,
                                     birth_date=ident.birth_date, sex=ident.sex, region_id=region,
                                     hukou=hukou, residence_permit=permit, student=student, year=year))
    _compare_with_database(parsed)
    if codes is not None:  # a caseworker may not take over (or change) another region's resident
        for p in parsed:
            if p.action != "new" and p.existing_region not in codes:
                errors.append(RowError(p.row, "身份证号码",
                                       f"此人已在 {p.existing_region} 参保登记，不在您的经办地区内"))
        refused = {e.row for e in errors}
        parsed = [p for p in parsed if p.row not in refused]
    _price_registrations(parsed, errors, regions, today, progress)
    bad_rows = {e.row for e in errors}
    return [p for p in parsed if p.row not in bad_rows], sorted(errors, key=lambda e: (e.row, e.column))


def _compare_with_database(parsed: list[ParsedResident]) -> None:
    for start in range(0, len(parsed), CHUNK):
        chunk = parsed[start:start + CHUNK]
        with connection.cursor() as cur:
            cur.execute("SELECT id_number, name, region_id, hukou, residence_permit, student "
                        "FROM enrollment_resident WHERE id_number = ANY(%s)",
                        [[p.id_number for p in chunk]])
            existing = {r[0]: r[1:] for r in cur.fetchall()}
        for p in chunk:
            old = existing.get(p.id_number)
            if old is None:
                p.action = "new"
                continue
            p.existing_region = old[1]
            if old == (p.name, p.region_id, p.hukou, p.residence_permit, p.student):
                p.action = "unchanged"
            else:
                p.action = "update"


def _price_registrations(parsed, errors, regions, today, progress) -> None:
    """Price every requested registration with the rules (errors per row)."""
    from policy.selectors import published_spec

    wanted = [p for p in parsed if p.year is not None]
    specs: dict = {}
    done = 0
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        facts = bulk_facts([p.id_number for p in chunk], {p.year for p in chunk})
        for p in chunk:
            key = (p.region_id, p.year)
            if key not in specs:
                try:
                    specs[key] = published_spec(p.region_id, p.year)
                except QuoteError as exc:
                    specs[key] = exc
            spec = specs[key]
            if isinstance(spec, QuoteError):
                errors.append(RowError(p.row, "参保年度", spec.message))
                continue
            if (p.id_number, p.year) in facts["enrolled"]:
                p.register = "already"
                continue
            paid_on = registration_date(spec, today)
            insured = (p.id_number, p.year) in facts["employee_now"]
            req = QuoteRequest(
                region=p.region_id, year=p.year, paid_on=paid_on,
                person=Person(birth_date=p.birth_date, hukou=p.hukou, residence_permit=p.residence_permit,
                              student=p.student or None, employee_insured=insured),
                identities=tuple(facts["identities"].get((p.id_number, p.year), ())),
                history=facts["history"].get(p.id_number, {}),
                repaired_years=frozenset(facts["repaired"].get(p.id_number, ())),
                left_other_scheme_on=facts["left"].get(p.id_number))
            try:
                p.quote = quote(spec, req)
                p.register = "new"
            except QuoteError as exc:
                errors.append(RowError(p.row, "参保年度", f"不能登记 {p.year} 年度：{exc.message}"))
        done += len(chunk)
        if progress:
            progress(done, len(wanted))


def bulk_facts(id_numbers: list[str], years: set[int]) -> dict:
    """Coverage history, employee status, identities and existing registrations for many
    people in a few queries (the batch form of enrollment.selectors.quote_request_for)."""
    facts = {"history": {}, "employee_now": set(), "left": {}, "identities": {}, "enrolled": set(),
             "repaired": {}}
    years_list = sorted(years)
    with connection.cursor() as cur:
        cur.execute("SELECT r.id_number, e.year, e.status FROM enrollment_enrollment e "
                    "JOIN enrollment_resident r ON r.id = e.resident_id "
                    "WHERE r.id_number = ANY(%s) AND e.status <> 'cancelled'", [id_numbers])
        for number, year, status in cur.fetchall():
            if status == "paid":
                facts["history"].setdefault(number, {})[year] = "resident"
            if year in years:
                facts["enrolled"].add((number, year))
        cur.execute("SELECT id_number, year, ended_on FROM enrollment_employeecoverage "
                    "WHERE id_number = ANY(%s)", [id_numbers])
        for number, year, ended in cur.fetchall():
            facts["history"].setdefault(number, {}).setdefault(year, "employee")
            if year in years and ended is None:
                facts["employee_now"].add((number, year))
            if ended is not None and (number not in facts["left"] or ended > facts["left"][number]):
                facts["left"][number] = ended
        cur.execute("SELECT id_number, year, identity, certified_on FROM subsidies_assistanceidentity "
                    "WHERE id_number = ANY(%s) AND year = ANY(%s)", [id_numbers, years_list])
        for number, year, code, on in cur.fetchall():
            facts["identities"].setdefault((number, year), []).append(Identity(code, on))
        cur.execute("SELECT r.id_number, g.year FROM enrollment_gaprepair g "
                    "JOIN enrollment_resident r ON r.id = g.resident_id WHERE r.id_number = ANY(%s)",
                    [id_numbers])
        for number, year in cur.fetchall():
            facts["repaired"].setdefault(number, set()).add(year)
    return facts


# --- writes ------------------------------------------------------------------------------

_STAGE = """
CREATE TEMP TABLE import_resident_stage (
  id_number varchar(18), name varchar(50), birth_date date, sex varchar(1), region_id varchar(6),
  hukou varchar(10), residence_permit boolean, student varchar(20)
) ON COMMIT DROP
"""
_UPSERT = """
INSERT INTO enrollment_resident AS r
  (id_number, name, birth_date, sex, region_id, hukou, residence_permit, residence_permit_expires_on,
   student, school, phone, created_at, updated_at)
SELECT s.id_number, s.name, s.birth_date, s.sex, s.region_id, s.hukou, s.residence_permit, NULL,
       s.student, '', '', %(now)s, %(now)s
FROM import_resident_stage s
ON CONFLICT (id_number) DO UPDATE SET
  name = EXCLUDED.name, region_id = EXCLUDED.region_id, hukou = EXCLUDED.hukou,
  residence_permit = EXCLUDED.residence_permit,
  residence_permit_expires_on = CASE WHEN EXCLUDED.residence_permit
                                     THEN r.residence_permit_expires_on END,
  student = EXCLUDED.student, updated_at = EXCLUDED.updated_at
WHERE (r.name, r.region_id, r.hukou, r.residence_permit, r.student)
      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.region_id, EXCLUDED.hukou,
                        EXCLUDED.residence_permit, EXCLUDED.student)
RETURNING (xmax = 0)
"""
_REGISTER = """
INSERT INTO enrollment_enrollment
  (resident_id, year, region_id, category, status, registered_via, registered_at, registered_by_id,
   nonlocal_via_parent_permit, personal_standard, fiscal_subsidy, assistance_identity,
   assistance_amount, amount_due, timing, paid_via, waiting_months, waiting_days, cancel_reason,
   updated_at, paid_amount, paid_on, paid_at, benefit_start, benefit_end, cap_adjustment)
SELECT r.id, t.year, r.region_id, t.category, t.status, t.via, %(now)s, %(user)s, false, t.personal,
       t.fiscal, t.assist_identity, t.assist_amount, t.due, t.timing, '', 0, 0, '', %(now)s,
       t.paid_amount, t.paid_on, t.paid_at, t.benefit_start, t.benefit_end, t.cap
FROM unnest(%(numbers)s::varchar[], %(years)s::int[], %(categories)s::varchar[],
            %(statuses)s::varchar[], %(vias)s::varchar[], %(personal)s::numeric[],
            %(fiscal)s::numeric[], %(assist_identity)s::varchar[], %(assist_amount)s::numeric[],
            %(due)s::numeric[], %(timing)s::varchar[], %(paid_amount)s::numeric[],
            %(paid_on)s::date[], %(paid_at)s::timestamptz[], %(benefit_start)s::date[],
            %(benefit_end)s::date[], %(cap)s::int[])
     AS t(id_number, year, category, status, via, personal, fiscal, assist_identity, assist_amount,
          due, timing, paid_amount, paid_on, paid_at, benefit_start, benefit_end, cap)
JOIN enrollment_resident r ON r.id_number = t.id_number
ON CONFLICT DO NOTHING
RETURNING resident_id
"""


def write_residents(parsed: list[ParsedResident], *, actor, registered_via: str = "community",
                    today: date | None = None,
                    progress: Callable[[int, int], None] | None = None) -> tuple[int, int, int, int]:
    """(created, updated, registered, already) — one transaction, set-based."""
    today = today or clock.today()
    now = timezone.now()
    user_id = getattr(actor, "pk", None)
    created = updated = registered = 0
    with transaction.atomic(), audit_context(actor, action="import_residents"):
        with connection.cursor() as cur:
            # A caller's outer transaction (a test, a task) keeps an earlier stage alive.
            cur.execute("DROP TABLE IF EXISTS pg_temp.import_resident_stage")
            cur.execute(_STAGE)
            with cur.copy("COPY import_resident_stage FROM STDIN") as copy:
                for i, p in enumerate(parsed, 1):
                    copy.write_row((p.id_number, p.name, p.birth_date, p.sex, p.region_id, p.hukou,
                                    p.residence_permit, p.student))
                    if progress and i % 10000 == 0:
                        progress(i, len(parsed))
            if progress:
                progress(len(parsed), len(parsed))
            cur.execute(_UPSERT, {"now": now})
            for (inserted,) in cur.fetchall():
                if inserted:
                    created += 1
                else:
                    updated += 1
            todo = [p for p in parsed if p.register == "new"]
            for start in range(0, len(todo), CHUNK):
                chunk = todo[start:start + CHUNK]
                cols = {k: [] for k in ("numbers", "years", "categories", "statuses", "vias", "personal",
                                        "fiscal", "assist_identity", "assist_amount", "due", "timing",
                                        "paid_amount", "paid_on", "paid_at", "benefit_start",
                                        "benefit_end", "cap")}
                for p in chunk:
                    q = p.quote
                    newborn = q.timing == "newborn"
                    cols["numbers"].append(p.id_number)
                    cols["years"].append(p.year)
                    cols["categories"].append(q.category)
                    cols["statuses"].append("paid" if newborn else "registered")
                    cols["vias"].append("newborn" if newborn else registered_via)
                    cols["personal"].append(q.personal_standard)
                    cols["fiscal"].append(q.fiscal_subsidy)
                    cols["assist_identity"].append(q.assistance.identity if q.assistance else "")
                    cols["assist_amount"].append(q.assistance.amount if q.assistance else None)
                    cols["due"].append(q.amount_due)
                    cols["timing"].append(q.timing)
                    cols["paid_amount"].append(q.amount_due if newborn else None)
                    cols["paid_on"].append(today if newborn else None)
                    cols["paid_at"].append(now if newborn else None)
                    cols["benefit_start"].append(q.benefit_start if newborn else None)
                    cols["benefit_end"].append(q.benefit_end if newborn else None)
                    cols["cap"].append(q.cap_adjustment if newborn else None)
                cur.execute(_REGISTER, {**cols, "now": now, "user": user_id})
                registered += len(cur.fetchall())
    already = sum(1 for p in parsed if p.register == "already") + (
        sum(1 for p in parsed if p.register == "new") - registered)
    return created, updated, registered, already


def import_residents(data: bytes, filename: str, **kwargs) -> ImportResult:
    """Read, check and (unless rejected or dry_run) write a residents file."""
    table = read_table(data, filename, required=RESIDENT_REQUIRED, optional=RESIDENT_OPTIONAL)
    return import_residents_table(table, **kwargs)


def import_residents_table(table: Table, *, skip_invalid: bool = False, dry_run: bool = False,
                           actor=None, user=None, today: date | None = None,
                           progress: Callable[[str, int, int], None] | None = None) -> ImportResult:
    result = ImportResult(total_rows=len(table.rows), dry_run=dry_run)
    parsed, errors = parse_residents(
        table, user=user, today=today,
        progress=(lambda d, t: progress("检查参保登记", d, t)) if progress else None)
    result.errors = errors
    result.rows = parsed
    if errors and not skip_invalid:
        result.rejected = True
        return result
    result.unchanged = sum(1 for p in parsed if p.action == "unchanged")
    if dry_run:
        result.created = sum(1 for p in parsed if p.action == "new")
        result.updated = sum(1 for p in parsed if p.action == "update")
        result.registered = sum(1 for p in parsed if p.register == "new")
        result.already_registered = sum(1 for p in parsed if p.register == "already")
        return result
    result.created, result.updated, result.registered, result.already_registered = write_residents(
        parsed, actor=actor, today=today,
        progress=(lambda d, t: progress("写入", d, t)) if progress else None)
    result.unchanged = len(parsed) - result.created - result.updated
    return result


# --- employee coverage -----------------------------------------------------------------------


def _parse_date(text: str) -> date:
    """2025-06-30, and 2025/6/30 as spreadsheets save dates (ValueError otherwise)."""
    m = re.fullmatch(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})", text)
    if m is None:
        raise ValueError(text)
    return date(*map(int, m.groups()))


def import_employee_coverage(data: bytes, filename: str, **kwargs) -> ImportResult:
    """Employee-insurance years (姓名, 身份证号码, 参保地, 参保年度[, 中断日期]); key: ID + year."""
    table = read_table(data, filename, required=COVERAGE_REQUIRED, optional=COVERAGE_OPTIONAL)
    return import_employee_coverage_table(table, **kwargs)


def import_employee_coverage_table(table: Table, *, skip_invalid: bool = False, dry_run: bool = False,
                                   actor=None, user=None, today: date | None = None,
                                   progress: Callable[[str, int, int], None] | None = None
                                   ) -> ImportResult:
    today = today or clock.today()
    result = ImportResult(total_rows=len(table.rows), dry_run=dry_run)
    regions = {r.code: r for r in Region.objects.all()}
    codes = _user_codes(user)
    rows, numbers, errors, seen = [], [], [], {}
    for i, (row, values) in enumerate(table.rows, 1):
        if progress and i % 10000 == 0:
            progress("检查", i, len(table.rows))
        row_errors: list[RowError] = []
        name = _check_name(values, row_errors, row)
        ident = _check_id(values, row_errors, row, today)
        code = plain(values.get("参保地", ""))
        if not re.fullmatch(r"\d{6}", code):
            row_errors.append(RowError(row, "参保地", f"应为六位行政区划代码，收到 {code!r}"))
        elif codes is not None and code not in codes:
            row_errors.append(RowError(row, "参保地", f"{code} 不在您的经办地区内"))
        year = _check_year(values, row_errors, row)
        if year is None and not any(e.column == "参保年度" for e in row_errors):
            row_errors.append(RowError(row, "参保年度", "不能为空"))
        ended = None
        text = plain(values.get("中断日期", ""))
        if text:
            try:
                ended = _parse_date(text)
            except ValueError:
                row_errors.append(RowError(row, "中断日期", f"应为 YYYY-MM-DD 日期，收到 {text!r}"))
        if ident is not None and year is not None:
            key = (ident.number, year)
            if key in seen:
                row_errors.append(RowError(row, "身份证号码", f"{year} 年度与第 {seen[key]} 行重复"))
            seen[key] = row
        if row_errors:
            errors.extend(row_errors)
            continue
        rows.append((ident.number, name, code, year, ended))
        numbers.append(row)
    if codes is not None and rows:  # nor may a caseworker rewrite another region's record
        with connection.cursor() as cur:
            cur.execute("SELECT id_number, year, region_code FROM enrollment_employeecoverage "
                        "WHERE id_number = ANY(%s)", [[r[0] for r in rows]])
            foreign = {(n, y): c for n, y, c in cur.fetchall() if c not in codes}
        for row, r in zip(numbers, rows):
            if (r[0], r[3]) in foreign:
                errors.append(RowError(row, "身份证号码", f"此人 {r[3]} 年度的记录属 {foreign[r[0], r[3]]}，"
                                                          "不在您的经办地区内"))
        rows = [r for r in rows if (r[0], r[3]) not in foreign]
        errors.sort(key=lambda e: e.row)  # stable: a row keeps its order of checks
    if progress:
        progress("检查", len(table.rows), len(table.rows))
    result.errors = errors
    if errors and not skip_invalid:
        result.rejected = True
        return result
    now = timezone.now()
    # A dry run writes inside a savepoint and rolls it back: its counts are the real ones.
    with transaction.atomic(), audit_context(actor, action="import_employee_coverage"):
        with connection.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS pg_temp.import_coverage_stage")
            cur.execute("CREATE TEMP TABLE import_coverage_stage (id_number varchar(18), "
                        "name varchar(50), region_code varchar(6), year int, ended_on date) ON COMMIT DROP")
            with cur.copy("COPY import_coverage_stage FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            cur.execute("""
                INSERT INTO enrollment_employeecoverage AS c (id_number, name, region_code, year, ended_on, imported_at)
                SELECT id_number, name, region_code, year, ended_on, %(now)s FROM import_coverage_stage
                ON CONFLICT (id_number, year) DO UPDATE SET name = EXCLUDED.name,
                  region_code = EXCLUDED.region_code, ended_on = EXCLUDED.ended_on,
                  imported_at = EXCLUDED.imported_at
                WHERE (c.name, c.region_code, c.ended_on) IS DISTINCT FROM
                      (EXCLUDED.name, EXCLUDED.region_code, EXCLUDED.ended_on)
                RETURNING (xmax = 0)""", {"now": now})
            for (inserted,) in cur.fetchall():
                if inserted:
                    result.created += 1
                else:
                    result.updated += 1
        if dry_run:
            transaction.set_rollback(True)
    if progress and not dry_run:
        progress("写入", len(rows), len(rows))
    result.unchanged = len(rows) - result.created - result.updated
    return result
