"""Import of employee-insurance years (职工医保参保记录): 姓名, 身份证号码, 参保地, 参保年度[, 中断日期].

Key: ID number + year; staged with COPY, upserted in key order.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Callable

from django.db import connection, transaction
from django.utils import timezone

from core.audit import audit_context
from core import clock
from policy.models import Region

from ..models import Resident
from ..spreadsheet import Table, plain, read_table
from .common import (
    HELD_ELSEWHERE,
    ImportResult,
    RowError,
    check_id,
    check_name,
    check_year,
    cell_errors,
    echo,
    parse_date,
    report_errors,
    user_codes,
)

COVERAGE_REQUIRED = ["姓名", "身份证号码", "参保地", "参保年度"]
COVERAGE_OPTIONAL = ["中断日期"]
FIRST_YEAR = 2000  # no employee-insurance year before this is carried over
EARLIEST_END = date(1950, 1, 1)


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
    codes = user_codes(user)
    known = set(Region.objects.values_list("code", flat=True))
    latest_end = date(today.year + 2, 12, 31)  # the end of the latest year a row may hold
    rows, numbers, errors, seen = [], [], cell_errors(table), {}
    bad_cells = {e.row for e in errors}
    for i, (row, values) in enumerate(table.rows, 1):
        if progress and i % 10000 == 0:
            progress("检查", i, len(table.rows))
        row_errors: list[RowError] = []
        name = check_name(values, row_errors, row)
        ident = check_id(values, row_errors, row, today)
        code = plain(values.get("参保地", ""))
        if not re.fullmatch(r"\d{6}", code):
            row_errors.append(RowError(row, "参保地", f"应为六位行政区划代码，收到 {echo(code)}"))
        elif code not in known:
            row_errors.append(RowError(row, "参保地", f"未知地区 {code}"))
        elif codes is not None and code not in codes:
            row_errors.append(RowError(row, "参保地", f"{code} 不在您的经办地区内"))
        year = check_year(values, row_errors, row)
        if year is None and not any(e.column == "参保年度" for e in row_errors):
            row_errors.append(RowError(row, "参保年度", "不能为空"))
        elif year is not None and not FIRST_YEAR <= year <= today.year + 2:
            # the business year (next year's collection runs in this one) and the one after
            row_errors.append(RowError(row, "参保年度", f"应在 {FIRST_YEAR}–{today.year + 2} 之间，收到 {year}"))
            year = None
        ended = None
        text = plain(values.get("中断日期", ""))
        if text:
            try:
                ended = parse_date(text)
            except ValueError:
                row_errors.append(RowError(row, "中断日期", f"应为 YYYY-MM-DD 日期，收到 {echo(text)}"))
            else:
                if not EARLIEST_END <= ended <= latest_end:
                    row_errors.append(RowError(row, "中断日期", f"应在 {EARLIEST_END.isoformat()} 至 "
                                                              f"{latest_end.isoformat()} 之间，收到 {text}"))
        if ident is not None and year is not None:
            key = (ident.number, year)
            if key in seen:
                row_errors.append(RowError(row, "身份证号码", f"{year} 年度与第 {seen[key]} 行重复"))
            seen[key] = row
        if row_errors or row in bad_cells:
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
                errors.append(RowError(row, "身份证号码", f"{r[3]} 年度：{HELD_ELSEWHERE}"))
        # Nor write coverage for a person another region holds as its resident.
        held = set(Resident.objects.filter(id_number__in=[r[0] for r in rows])
                   .exclude(region_id__in=codes).values_list("id_number", flat=True))
        for row, r in zip(numbers, rows):
            if r[0] in held and (r[0], r[3]) not in foreign:
                errors.append(RowError(row, "身份证号码", HELD_ELSEWHERE))
        rows = [r for r in rows if (r[0], r[3]) not in foreign and r[0] not in held]
        errors.sort(key=lambda e: e.row)  # stable: a row keeps its order of checks
    if progress:
        progress("检查", len(table.rows), len(table.rows))
    errors.sort(key=lambda e: e.row)  # stable: a row keeps its order of checks
    report_errors(progress, errors, len(table.rows))
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
                ORDER BY id_number, year  -- key order: two imports of the same people never deadlock
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

