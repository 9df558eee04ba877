"""Import of residents: the write, in one transaction, set-based, every table in key order.

Residents are staged with COPY and upserted ordered by ID number; unpaid
enrollments of changed people are priced again (and moved) and new
registrations inserted by the one enrollment writer (enrollment.writer),
which locks and inserts ordered by key too — so two imports of the same
people, in whatever order their files list them, wait for each other and
never deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Callable

from django.db import connection, transaction

from core.audit import audit_context
from core import clock
from core.audit_actor import acting_user

from ..spreadsheet import Table, read_table
from ..writer import enrollments_insert, enrollments_reprice, row_from_quote
from .common import HELD_ELSEWHERE, ImportResult, RowError, report_errors, user_codes
from .residents import RESIDENT_OPTIONAL, RESIDENT_REQUIRED, ParsedResident, parse_residents

_STAGE = """
CREATE TEMP TABLE import_resident_stage (
  id_number varchar(18), name varchar(50), birth_date date, sex varchar(1), region_id varchar(6),
  hukou varchar(10), residence_permit boolean, student varchar(20)
) ON COMMIT DROP
"""
_UPSERT = """
WITH written AS (
INSERT INTO enrollment_resident AS r
  (id_number, name, birth_date, sex, region_id, hukou, residence_permit, residence_permit_expires_on,
   student, school, phone, created_at, updated_at)
SELECT s.id_number, s.name, s.birth_date, s.sex, s.region_id, s.hukou, s.residence_permit, NULL,
       s.student, '', '', %(now)s, %(now)s
FROM import_resident_stage s
ORDER BY s.id_number  -- key order: two imports of the same people never deadlock
ON CONFLICT (id_number) DO UPDATE SET
  name = EXCLUDED.name, region_id = EXCLUDED.region_id, hukou = EXCLUDED.hukou,
  residence_permit = EXCLUDED.residence_permit,
  residence_permit_expires_on = CASE WHEN EXCLUDED.residence_permit
                                     THEN r.residence_permit_expires_on END,
  student = EXCLUDED.student, updated_at = EXCLUDED.updated_at
WHERE (r.name, r.region_id, r.hukou, r.residence_permit, r.student)
      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.region_id, EXCLUDED.hukou,
                        EXCLUDED.residence_permit, EXCLUDED.student)
  -- checked when the file was read, and again here on the locked row: a person another
  -- region created or moved meanwhile is never taken over (see HeldElsewhere)
  AND (%(codes)s::varchar[] IS NULL OR r.region_id = ANY(%(codes)s::varchar[]))
RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written
"""
# Rows of the file whose person is (now, locked by the upsert) held by a region not the user's.
_HELD_ELSEWHERE = """
SELECT s.id_number FROM import_resident_stage s JOIN enrollment_resident r ON r.id_number = s.id_number
WHERE NOT r.region_id = ANY(%(codes)s::varchar[]) ORDER BY s.id_number
"""


class HeldElsewhere(Exception):
    """People of the file another region created or took while the import ran (rolled back)."""

    def __init__(self, numbers: list[str]):
        super().__init__(f"{len(numbers)} held elsewhere")
        self.numbers = numbers


class OtherScheme(Exception):
    """People of the file another scheme took for the year while the file was read (rolled
    back): ``refusals`` maps their ID numbers to the reason."""

    def __init__(self, refusals: dict[str, str]):
        super().__init__(f"{len(refusals)} in another scheme")
        self.refusals = refusals


@dataclass
class Written:
    created: int = 0
    updated: int = 0
    registered: int = 0
    already: int = 0
    repriced: int = 0


def write_residents(parsed: list[ParsedResident], *, actor, registered_via: str = "community",
                    today: date | None = None, codes=None,
                    progress: Callable[[int, int], None] | None = None) -> Written:
    """Write checked rows — one transaction, set-based.

    ``codes``: the importing user's regions (None: every region).  A row whose person is
    held by another region when written raises HeldElsewhere, the transaction rolled back."""
    today = today or clock.today()
    now = clock.now()
    out = Written()
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
            # Not run when the file changes nobody: the audit triggers (statement level) would
            # still open an audit context for the no-op, and a second import must leave no trace.
            if any(p.action != "unchanged" for p in parsed):
                cur.execute(_UPSERT, {"now": now, "codes": None if codes is None else sorted(codes)})
                out.created, out.updated = cur.fetchone()
                if codes is not None:
                    cur.execute(_HELD_ELSEWHERE, {"codes": sorted(codes)})
                    held = [n for (n,) in cur.fetchall()]
                    if held:
                        raise HeldElsewhere(held)
        out.repriced = len(enrollments_reprice([u for p in parsed for u in p.repriced], now=now))
        out.registered = len(enrollments_insert(
            _registrations(parsed, actor, registered_via, today, now), now=now))
    wanted = sum(1 for p in parsed if p.register == "new")
    out.already = sum(1 for p in parsed if p.register == "already") + wanted - out.registered
    return out


def _registrations(parsed, actor, registered_via, today, now) -> list:
    todo = [p for p in parsed if p.register == "new"]
    if not todo:
        return []
    with connection.cursor() as cur:  # the staged file joined: no list of numbers to send
        cur.execute("SELECT r.id_number, r.id FROM import_resident_stage s "
                    "JOIN enrollment_resident r ON r.id_number = s.id_number")
        ids = dict(cur.fetchall())
    _check_other_scheme(todo, ids)
    user_id = getattr(acting_user(actor), "pk", None)
    return [row_from_quote(p.quote, resident_id=ids[p.id_number], region_id=p.region_id,
                           registered_via=p.registered_via or registered_via, registered_on=today,
                           registered_by_id=user_id,
                           via_parent_permit=False, now=now)
            for p in todo]


def _check_other_scheme(todo, ids: dict) -> None:
    """The one-scheme rule again, on the locked rows of the people on file before the import
    (people new to the file hold no other scheme): a person another scheme registered while
    the file was read raises OtherScheme, and the whole write is rolled back."""
    from ..services import lock_residents_shared, other_scheme_refusals

    known = [p for p in todo if p.resident_id is not None]
    if not known:
        return
    lock_residents_shared([ids[p.id_number] for p in known])
    refusals: dict[str, str] = {}
    for year in sorted({p.year for p in known}):
        of_year = [p for p in known if p.year == year]
        refused = other_scheme_refusals([ids[p.id_number] for p in of_year], year)
        refusals.update({p.id_number: f"不能登记 {year} 年度：{refused[ids[p.id_number]]}"
                         for p in of_year if ids[p.id_number] in refused})
    if refusals:
        raise OtherScheme(refusals)


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
    report_errors(progress, errors, len(table.rows))
    if errors and not skip_invalid:
        result.rejected = True
        return result
    result.unchanged = sum(1 for p in parsed if p.action == "unchanged")
    if dry_run:
        result.created = sum(1 for p in parsed if p.action == "new")
        result.updated = sum(1 for p in parsed if p.action == "update")
        result.registered = sum(1 for p in parsed if p.register == "new")
        result.already_registered = sum(1 for p in parsed if p.register == "already")
        result.repriced = sum(len(p.repriced) for p in parsed)
        return result
    codes = user_codes(user)
    while True:
        try:
            written = write_residents(
                parsed, actor=actor, today=today, codes=codes,
                progress=(lambda d, t: progress("写入", d, t)) if progress else None)
            break
        except (HeldElsewhere, OtherScheme) as exc:  # another region or scheme took them meanwhile
            if isinstance(exc, HeldElsewhere):
                held = dict.fromkeys(exc.numbers, ("身份证号码", HELD_ELSEWHERE))
            else:
                held = {n: ("参保年度", reason) for n, reason in exc.refusals.items()}
            result.errors = sorted(
                [*result.errors, *(RowError(p.row, *held[p.id_number])
                                   for p in parsed if p.id_number in held)],
                key=lambda e: (e.row, e.column))
            parsed = [p for p in parsed if p.id_number not in held]
            result.rows = parsed
            if not skip_invalid:
                result.rejected = True
                result.unchanged = 0
                return result
    result.created, result.updated = written.created, written.updated
    result.registered, result.already_registered = written.registered, written.already
    result.repriced = written.repriced
    result.unchanged = len(parsed) - result.created - result.updated
    return result
