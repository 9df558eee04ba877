"""The one raw writer of ``enrollment_enrollment`` (STYLE.md: one writer per table).

Every path that creates enrollments — the single registration, the import,
default renewal — hands rows to ``enrollments_insert``; every path that prices
unpaid enrollments again (a resident changed by the service or by an import)
hands them to ``enrollments_reprice``.  Both touch rows in key order
(resident id, enrollment id), so two writers running at once wait for each
other instead of deadlocking, and both are set-based (``unnest`` of arrays).
The pghistory triggers record an event per row with the acting user.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import NamedTuple

from django.db import connection, transaction

from core import clock
from core.audit import audit_context
from policy.rules.types import QuoteResult

CHUNK = 5000


@dataclass(slots=True)
class EnrollmentRow:
    """One enrollment to insert: every column a path may need to set."""

    resident_id: int
    year: int
    region_id: str
    category: str
    amount_due: Decimal
    registered_via: str
    status: str = "registered"
    registered_by_id: int | None = None
    registered_at: datetime | None = None  # None: the time of the insert
    nonlocal_via_parent_permit: bool = False
    personal_standard: Decimal | None = None
    fiscal_subsidy: Decimal | None = None
    assistance_identity: str = ""
    assistance_amount: Decimal | None = None
    timing: str = ""
    paid_amount: Decimal | None = None
    paid_on: date | None = None
    paid_at: datetime | None = None
    paid_via: str = ""
    benefit_start: date | None = None
    benefit_end: date | None = None
    waiting_months: int = 0
    waiting_days: int = 0
    cap_adjustment: int | None = None


class Inserted(NamedTuple):  # a tuple: 100,000 of them are made in a blink
    id: int
    resident_id: int
    year: int


_SQL_TYPES = {
    "resident_id": "bigint", "year": "int", "region_id": "varchar", "category": "varchar",
    "amount_due": "numeric", "registered_via": "varchar", "status": "varchar",
    "registered_by_id": "int", "registered_at": "timestamptz", "nonlocal_via_parent_permit": "boolean",
    "personal_standard": "numeric", "fiscal_subsidy": "numeric", "assistance_identity": "varchar",
    "assistance_amount": "numeric", "timing": "varchar", "paid_amount": "numeric", "paid_on": "date",
    "paid_at": "timestamptz", "paid_via": "varchar", "benefit_start": "date", "benefit_end": "date",
    "waiting_months": "int", "waiting_days": "int", "cap_adjustment": "int",
}
_COLUMNS = [f.name for f in fields(EnrollmentRow)]
assert set(_COLUMNS) == set(_SQL_TYPES)

_INSERT = (
    "INSERT INTO enrollment_enrollment ({cols}, cancel_reason, updated_at) "
    "SELECT {values}, '', %(now)s "
    "FROM {{source}} "
    "ORDER BY t.resident_id, t.year "
    "ON CONFLICT DO NOTHING "
    "RETURNING id, resident_id, year"
).format(
    cols=", ".join(_COLUMNS),
    values=", ".join("COALESCE(t.registered_at, %(now)s)" if c == "registered_at" else f"t.{c}"
                     for c in _COLUMNS),
)
_FROM_ARRAYS = "unnest({arrays}) AS t({cols})".format(
    cols=", ".join(_COLUMNS), arrays=", ".join(f"%({c})s::{_SQL_TYPES[c]}[]" for c in _COLUMNS))

# From this many rows on, the rows are handed over by COPY into a staging table instead
# of as arrays: the database driver spells every array element out as a literal in the
# statement's text (client-side binding), which cost more than the insert itself
# (bench/RESULTS.md, imports: 100,000 registrations 11.7 s -> ~2 s).
COPY_FROM = 200
_STAGE = "enrollment_insert_stage"
_STAGE_DDL = "CREATE TEMP TABLE {stage} ({cols}) ON COMMIT DROP".format(
    stage=_STAGE, cols=", ".join(f"{c} {_SQL_TYPES[c]}" for c in _COLUMNS))


def _audit(actor, action):
    if actor is None and action is None:
        return contextlib.nullcontext()  # the caller's context (if any) stands
    return audit_context(actor, action=action)


def row_from_quote(result: QuoteResult, *, resident_id: int, region_id: str, registered_via: str,
                   registered_on: date, registered_by_id: int | None = None,
                   via_parent_permit: bool = False, now: datetime | None = None) -> EnrollmentRow:
    """The row a registration priced by the rules becomes.

    A newborn the region does not charge in the birth year (timing
    ``newborn``) is covered at once: paid (0.00) on the registration day,
    registered via ``newborn``, with the benefit period of the answer.
    """
    row = EnrollmentRow(
        resident_id=resident_id, year=result.year, region_id=region_id, category=result.category,
        amount_due=result.amount_due, registered_via=registered_via, registered_by_id=registered_by_id,
        nonlocal_via_parent_permit=via_parent_permit, personal_standard=result.personal_standard,
        fiscal_subsidy=result.fiscal_subsidy,
        assistance_identity=result.assistance.identity if result.assistance else "",
        assistance_amount=result.assistance.amount if result.assistance else None, timing=result.timing)
    if result.timing == "newborn":
        row.status = "paid"
        row.registered_via = "newborn"
        row.paid_amount = result.amount_due
        row.paid_on = registered_on
        row.paid_at = now or clock.now()
        row.benefit_start, row.benefit_end = result.benefit_start, result.benefit_end
        row.waiting_months, row.waiting_days = result.waiting_months, result.waiting_days
        row.cap_adjustment = result.cap_adjustment
    return row


def enrollments_insert(rows: Sequence[EnrollmentRow], *, actor=None, action: str | None = None,
                       now: datetime | None = None) -> list[Inserted]:
    """Insert enrollments, ordered by resident; a person already holding a
    (not cancelled) enrollment for the year is skipped (``ON CONFLICT DO
    NOTHING`` on the one-per-person-and-year constraint).

    Returns what was inserted.  ``actor`` and ``action`` go into the audit
    context (inside a caller's context, ``action=None`` keeps the caller's).
    """
    now = now or clock.now()
    if len(rows) >= COPY_FROM:
        return _insert_staged(rows, actor, action, now)
    ordered = sorted(rows, key=lambda r: (r.resident_id, r.year))
    out: list[Inserted] = []
    with _audit(actor, action), connection.cursor() as cur:
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start:start + CHUNK]
            params = {c: [getattr(r, c) for r in chunk] for c in _COLUMNS}
            cur.execute(_INSERT.format(source=_FROM_ARRAYS), {**params, "now": now})
            out += map(Inserted._make, cur.fetchall())
    return out


def _insert_staged(rows, actor, action, now) -> list[Inserted]:
    """The same insert, the rows COPied into a temporary table first (in one statement:
    the insert orders them by key itself)."""
    getter = attrgetter(*_COLUMNS)
    with transaction.atomic(), _audit(actor, action), connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS pg_temp.{_STAGE}")
        cur.execute(_STAGE_DDL)
        with cur.copy(f"COPY {_STAGE} FROM STDIN") as copy:
            for r in rows:
                copy.write_row(getter(r))
        cur.execute(_INSERT.format(source=f"{_STAGE} t"), {"now": now})
        out = list(map(Inserted._make, cur.fetchall()))
        cur.execute(f"DROP TABLE pg_temp.{_STAGE}")
    return out


@dataclass(frozen=True, slots=True)
class Repriced:
    """New prices for an unpaid enrollment (and its region, after a move)."""

    enrollment_id: int
    region_id: str
    category: str
    personal_standard: Decimal | None
    fiscal_subsidy: Decimal | None
    assistance_identity: str
    assistance_amount: Decimal | None
    amount_due: Decimal
    timing: str
    nonlocal_via_parent_permit: bool

    @classmethod
    def of(cls, enrollment_id: int, region_id: str, result: QuoteResult, *,
           via_parent_permit: bool) -> "Repriced":
        return cls(enrollment_id, region_id, result.category, result.personal_standard,
                   result.fiscal_subsidy, result.assistance.identity if result.assistance else "",
                   result.assistance.amount if result.assistance else None, result.amount_due,
                   result.timing, via_parent_permit)


_REPRICE_COLUMNS = ("id", "region_id", "category", "personal_standard", "fiscal_subsidy", "assistance_identity",
                    "assistance_amount", "amount_due", "timing", "via_parent")
_REPRICE_TYPES = ("bigint", "varchar", "varchar", "numeric", "numeric", "varchar", "numeric", "numeric", "varchar",
                  "boolean")
_REPRICE_ARRAYS = """unnest({arrays}) AS t({cols})""".format(
    arrays=", ".join(f"%({c})s::{t}[]" for c, t in zip(_REPRICE_COLUMNS, _REPRICE_TYPES)),
    cols=", ".join(_REPRICE_COLUMNS))
# The rows are locked in id order, and the locking read hands the new prices on itself (one
# join of the source with the table instead of two: ~15 % of the statement's server CPU for
# 64,000 rows, bench/RESULTS.md).
_REPRICE = """
WITH locked AS (
  SELECT t.* FROM enrollment_enrollment e JOIN {source} ON t.id = e.id
  WHERE e.status = 'registered' ORDER BY e.id FOR UPDATE OF e
)
UPDATE enrollment_enrollment e SET
  region_id = t.region_id, category = t.category, personal_standard = t.personal_standard,
  fiscal_subsidy = t.fiscal_subsidy, assistance_identity = t.assistance_identity,
  assistance_amount = t.assistance_amount, amount_due = t.amount_due, timing = t.timing,
  nonlocal_via_parent_permit = t.via_parent, updated_at = %(now)s
FROM locked t
WHERE e.id = t.id AND e.status = 'registered'
RETURNING e.id
"""
_REPRICE_STAGE = "enrollment_reprice_stage"
_REPRICE_STAGE_DDL = "CREATE TEMP TABLE {stage} ({cols}) ON COMMIT DROP".format(
    stage=_REPRICE_STAGE, cols=", ".join(f"{c} {t}" for c, t in zip(_REPRICE_COLUMNS, _REPRICE_TYPES)))


def _reprice_values(r: Repriced) -> tuple:
    return (r.enrollment_id, r.region_id, r.category, r.personal_standard, r.fiscal_subsidy,
            r.assistance_identity, r.assistance_amount, r.amount_due, r.timing, r.nonlocal_via_parent_permit)


def enrollments_reprice(rows: Sequence[Repriced], *, actor=None, action: str | None = None,
                        now: datetime | None = None) -> list[int]:
    """Write new prices (and region) onto unpaid enrollments, locked in id order.

    An enrollment paid or cancelled meanwhile is left alone.  Returns the ids
    written, in order.  From ``COPY_FROM`` rows on, the rows are COPied into a
    staging table and written by one statement (as ``enrollments_insert``): the
    arrays spelled out as literals by the driver cost more than the update.
    """
    now = now or clock.now()
    ordered = sorted(rows, key=lambda r: r.enrollment_id)
    if len(ordered) >= COPY_FROM:
        return _reprice_staged(ordered, actor, action, now)
    written: list[int] = []
    with _audit(actor, action), connection.cursor() as cur:
        for start in range(0, len(ordered), CHUNK):
            chunk = ordered[start:start + CHUNK]
            params = {c: [getattr(r, c) for r in chunk] for c in (
                "region_id", "category", "personal_standard", "fiscal_subsidy", "assistance_identity",
                "assistance_amount", "amount_due", "timing")}
            params["id"] = [r.enrollment_id for r in chunk]
            params["via_parent"] = [r.nonlocal_via_parent_permit for r in chunk]
            cur.execute(_REPRICE.format(source=_REPRICE_ARRAYS), {**params, "now": now})
            written += [i for (i,) in cur.fetchall()]
    return sorted(written)


def _reprice_staged(ordered: Sequence[Repriced], actor, action, now) -> list[int]:
    with transaction.atomic(), _audit(actor, action), connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS pg_temp.{_REPRICE_STAGE}")
        cur.execute(_REPRICE_STAGE_DDL)
        with cur.copy(f"COPY {_REPRICE_STAGE} FROM STDIN") as copy:
            for r in ordered:
                copy.write_row(_reprice_values(r))
        cur.execute(f"ANALYZE {_REPRICE_STAGE}")  # a join plan that knows the staged rows
        cur.execute(_REPRICE.format(source=f"{_REPRICE_STAGE} t"), {"now": now})
        written = sorted(i for (i,) in cur.fetchall())
        cur.execute(f"DROP TABLE pg_temp.{_REPRICE_STAGE}")
    return written
