"""Import of zero-claim years (零报销名单, 004 (一)Q1 基金零报销激励): 身份证号码, 姓名, 年度[, 依据].

The settlement system's list of the people the fund reimbursed nothing in a year, entered in
bulk instead of one at a time on the resident's page (``enrollment.zero_claims``), with the
same rules for every row: the year has ended on the business date, the person is a resident
here (of the user's regions, and of ``region`` when given) under the name the list gives, and
holds a paid enrollment here for that year.  Key: resident + year — a year already recorded
is ``unchanged`` (a second import of the list changes nothing).  Everything is checked first,
every bad row reported in Chinese; then written in one transaction, set-based (the people's
rows locked in id order, ``INSERT … ON CONFLICT DO NOTHING`` ordered by key), audited
(``import_zero_claims``), and the unpaid enrollments of the people recorded priced again, as
``zero_claim_record`` does (the year is history "resident_zero_claim" to the rules).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from django.db import connection, transaction

from core import clock
from core.audit import audit_context
from core.audit_actor import acting_user

from ..spreadsheet import Table, has_invisible, plain, read_table
from .common import (
    HELD_ELSEWHERE,
    ImportResult,
    RowError,
    cell_errors,
    check_id,
    check_name,
    echo,
    report_errors,
    user_codes,
)

ZERO_CLAIM_REQUIRED = ["身份证号码", "姓名", "年度"]
ZERO_CLAIM_OPTIONAL = ["依据"]
FIRST_YEAR = 2025  # the incentive starts with the long-term mechanism (004 (一)Q1, from 2025)
READ_CHUNK = 5000
SOURCE_MAX = 200

NOT_ON_FILE = "未找到该参保人，请先办理人员登记"


@dataclass
class ZeroClaimRow:
    row: int
    id_number: str
    name: str
    year: int
    source: str
    resident_id: int | None = None
    action: str = "new"  # new / unchanged


@dataclass
class ZeroClaimImportResult(ImportResult):
    repriced_years: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"rows": self.total_rows, "created": self.created, "unchanged": self.unchanged,
                "repriced": self.repriced, "invalid_rows": len({e.row for e in self.errors}),
                "rejected": self.rejected}


class RepriceRefused(Exception):
    """People whose unpaid enrollments the rules refuse to price with the year recorded
    (rolled back): ID number -> the rules' message."""

    def __init__(self, refusals: dict[str, str]):
        super().__init__(f"{len(refusals)} refused")
        self.refusals = refusals


def default_source(filename: str) -> str:
    return f"零报销名单导入：{filename}"[:SOURCE_MAX]


def import_zero_claims(data: bytes, filename: str, **kwargs) -> ZeroClaimImportResult:
    table = read_table(data, filename, required=ZERO_CLAIM_REQUIRED, optional=ZERO_CLAIM_OPTIONAL)
    return import_zero_claims_table(table, filename=filename, **kwargs)


def _check_year(values: dict, errors: list, row: int, year: int | None, today: date) -> int | None:
    text = plain(values.get("年度", ""))
    if not text:
        if year is None:
            errors.append(RowError(row, "年度", "不能为空"))
        return year
    if not re.fullmatch(r"\d{4}", text):
        errors.append(RowError(row, "年度", f"应为四位年份，收到 {echo(text)}"))
        return None
    got = int(text)
    if year is not None and got != year:
        errors.append(RowError(row, "年度", f"与导入的年度 {year} 不符，收到 {got}"))
        return None
    if got < FIRST_YEAR:
        errors.append(RowError(row, "年度", f"零报销激励自 {FIRST_YEAR} 年度起，收到 {got}"))
        return None
    if got >= today.year:
        errors.append(RowError(row, "年度", f"{got} 年度尚未结束（今天是 {today.isoformat()}），不能登记为零报销年度"))
        return None
    return got


def _check_source(values: dict, errors: list, row: int, fallback: str) -> str:
    text = plain(values.get("依据", "")).strip()
    if not text:
        return fallback
    if len(text) > SOURCE_MAX:
        errors.append(RowError(row, "依据", f"超过 {SOURCE_MAX} 个字"))
    elif has_invisible(text):
        errors.append(RowError(row, "依据", "含有不可见或控制字符"))
    return text


def _read_rows(table: Table, *, year, today, fallback, errors, progress) -> list[ZeroClaimRow]:
    rows: list[ZeroClaimRow] = []
    seen: dict[tuple[str, int], int] = {}
    bad_cells = {e.row for e in errors}
    for i, (row, values) in enumerate(table.rows, 1):
        if progress and i % 10000 == 0:
            progress("检查", i, len(table.rows))
        row_errors: list[RowError] = []
        ident = check_id(values, row_errors, row, today)
        name = check_name(values, row_errors, row)
        got = _check_year(values, row_errors, row, year, today)
        source = _check_source(values, row_errors, row, fallback)
        if ident is not None and got is not None:
            key = (ident.number, got)
            if key in seen:
                row_errors.append(RowError(row, "身份证号码", f"{got} 年度与第 {seen[key]} 行重复"))
            else:
                seen[key] = row
        if row_errors or row in bad_cells:
            errors.extend(row_errors)
            continue
        rows.append(ZeroClaimRow(row, ident.number, name, got, source))
    return rows


_PEOPLE = """
SELECT r.id_number, r.id, r.name, r.region_id FROM unnest(%s::varchar[]) AS t(n)
JOIN enrollment_resident r ON r.id_number = t.n
"""
_PAID = """
SELECT e.resident_id, e.year FROM unnest(%s::bigint[], %s::int[]) AS t(resident_id, year)
JOIN enrollment_enrollment e ON e.resident_id = t.resident_id AND e.year = t.year AND e.status = 'paid'
"""
_RECORDED = """
SELECT z.resident_id, z.year FROM unnest(%s::bigint[], %s::int[]) AS t(resident_id, year)
JOIN enrollment_zeroclaimyear z ON z.resident_id = t.resident_id AND z.year = t.year
"""


def _check_database(rows: list[ZeroClaimRow], errors: list, *, codes, members) -> list[ZeroClaimRow]:
    """Who each row names, in the user's (and the import's) regions, paid here that year; a
    year already recorded is ``unchanged``.  Three reads per chunk of READ_CHUNK rows."""
    good: list[ZeroClaimRow] = []
    for start in range(0, len(rows), READ_CHUNK):
        chunk = rows[start:start + READ_CHUNK]
        with connection.cursor() as cur:
            cur.execute(_PEOPLE, [sorted({r.id_number for r in chunk})])
            people = {n: (rid, name, region) for n, rid, name, region in cur.fetchall()}
        known = []
        for r in chunk:
            found = people.get(r.id_number)
            if found is None:
                errors.append(RowError(r.row, "身份证号码", NOT_ON_FILE))
            elif codes is not None and found[2] not in codes:
                errors.append(RowError(r.row, "身份证号码", HELD_ELSEWHERE))
            elif members is not None and found[2] not in members:
                errors.append(RowError(r.row, "身份证号码", f"参保地为 {found[2]}，不属于导入的地区"))
            elif found[1] != r.name:
                errors.append(RowError(r.row, "姓名", f"与系统登记的姓名不符（系统登记为 {found[1]}）"))
            else:
                r.resident_id = found[0]
                known.append(r)
        if not known:
            continue
        pairs = [[r.resident_id for r in known], [r.year for r in known]]
        with connection.cursor() as cur:
            cur.execute(_PAID, pairs)
            paid = set(cur.fetchall())
            cur.execute(_RECORDED, pairs)
            recorded = set(cur.fetchall())
        for r in known:
            if (r.resident_id, r.year) not in paid:
                errors.append(RowError(r.row, "年度", f"{r.name} {r.year} 年度未在本市缴费参保，不能登记为零报销年度"))
                continue
            r.action = "unchanged" if (r.resident_id, r.year) in recorded else "new"
            good.append(r)
    return good


def import_zero_claims_table(table: Table, *, region: str | None = None, year: int | None = None,
                             filename: str = "", skip_invalid: bool = False, dry_run: bool = False,
                             actor=None, user=None, today: date | None = None,
                             progress: Callable[[str, int, int], None] | None = None) -> ZeroClaimImportResult:
    """Read, check and (unless rejected or ``dry_run``) write a zero-claim list.

    ``region``: the list's region (its people must be residents of it or of a county that runs
    its policy); ``year``: the list's year (a row's 年度 must be it; a blank 年度 takes it).
    ``user``: the importing caseworker (only people of their regions); None = every region."""
    from policy.selectors import policy_members, policy_region

    today = today or clock.today()
    result = ZeroClaimImportResult(total_rows=len(table.rows), dry_run=dry_run)
    codes = user_codes(user)
    if codes is not None and region is not None and region not in codes:
        result.errors = [RowError(0, "地区", f"{region} 不在您的经办地区内")]
        result.rejected = True
        return result
    if region is not None and policy_region(region) is None:
        result.errors = [RowError(0, "地区", f"未知地区 {echo(region)}")]
        result.rejected = True
        return result
    members = set(policy_members(region)) if region else None
    errors: list[RowError] = cell_errors(table)
    rows = _read_rows(table, year=year, today=today, fallback=default_source(filename or "未命名文件"),
                      errors=errors, progress=progress)
    rows = _check_database(rows, errors, codes=codes, members=members)
    if progress:
        progress("检查", len(table.rows), len(table.rows))
    while True:
        errors.sort(key=lambda e: (e.row, e.column))
        report_errors(progress, errors, len(table.rows))
        result.errors = list(errors)
        result.rows = rows
        if errors and not skip_invalid:
            result.rejected = True
            return result
        try:
            written = _write(rows, actor=actor, today=today, dry_run=dry_run, progress=progress)
            break
        except RepriceRefused as exc:
            errors.extend(RowError(r.row, "身份证号码", f"记录后未缴费的登记无法重新核定：{exc.refusals[r.id_number]}")
                          for r in rows if r.id_number in exc.refusals)
            rows = [r for r in rows if r.id_number not in exc.refusals]
    result.created, result.repriced = written
    result.unchanged = len(rows) - result.created
    return result


_INSERT = """
INSERT INTO enrollment_zeroclaimyear (resident_id, id_number, year, source, recorded_at, recorded_by_id,
                                      change_reason)
SELECT t.resident_id, t.id_number, t.year, t.source, %(now)s, %(user)s, ''
FROM unnest(%(resident_ids)s::bigint[], %(numbers)s::varchar[], %(years)s::int[], %(sources)s::varchar[])
     AS t(resident_id, id_number, year, source)
ORDER BY t.resident_id, t.year  -- key order: two imports of the same people never deadlock
ON CONFLICT (resident_id, year) DO NOTHING
RETURNING resident_id
"""


def _write(rows: list[ZeroClaimRow], *, actor, today: date, dry_run: bool, progress) -> tuple[int, int]:
    """(years recorded, unpaid enrollments priced again) — one transaction; a dry run rolls
    it back, so its counts are the real ones."""
    from ..pricing import plan_repricing
    from ..selectors import PersonFacts
    from ..writer import enrollments_reprice

    todo = sorted((r for r in rows if r.action == "new"), key=lambda r: (r.resident_id, r.year))
    if not todo:  # nothing to write: no audit context is opened, the re-import leaves no trace
        return 0, 0
    user = acting_user(actor)
    with transaction.atomic(), audit_context(actor, action="import_zero_claims"):
        created: set[int] = set()
        inserted = 0
        with connection.cursor() as cur:
            # the people's rows in id order, as zero_claim_record locks its one
            cur.execute("SELECT id FROM enrollment_resident WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE",
                        [sorted({r.resident_id for r in todo})])
            for start in range(0, len(todo), READ_CHUNK):
                chunk = todo[start:start + READ_CHUNK]
                cur.execute(_INSERT, {"resident_ids": [r.resident_id for r in chunk],
                                      "numbers": [r.id_number for r in chunk], "years": [r.year for r in chunk],
                                      "sources": [r.source for r in chunk], "now": clock.now(),
                                      "user": user.pk if user else None})
                got = [rid for (rid,) in cur.fetchall()]
                inserted += len(got)
                created.update(got)
                if progress:
                    progress("写入", min(start + READ_CHUNK, len(todo)), len(todo))
        repriced = 0
        if created:
            from ..models import Resident

            people = Resident.objects.filter(pk__in=sorted(created)).order_by("id")
            plan = plan_repricing([PersonFacts.of(p) for p in people], today=today)
            if plan.refused:
                raise RepriceRefused({n: refusal.message for n, refusal in plan.refused.items()})
            repriced = len(enrollments_reprice(plan.updates))
        if dry_run:
            transaction.set_rollback(True)
    return inserted, repriced
