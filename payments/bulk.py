"""The set-based writer of applied payments: the ledger rows (COPY) and the enrollments'
paid columns (one UPDATE per shared answer, or one ``UPDATE … FROM`` a scratch table, in
key order) — what
``payment_record`` writes for one payment, for many at once, inside the caller's
transaction.  ``import_payments`` (``payments.import_write``) and the December family-pool
batch (``family_pool.batch``) both write through it.

The caller has decided every row as ``payment_record`` would (the enrollment locked and
unpaid, the channel rules, the price at the payment date) and holds the enrollments'
row locks.  Audit: ``payments_payment`` is append-only (who is in ``recorded_by``/
``actor``); the enrollments' update goes through the connection's ``execute``, so
their statement-level pghistory trigger records the caller's ``audit_context``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, connection

from enrollment.models import Enrollment
from enrollment.services import fill_paid

from .models import Payment

PAYMENT_COLUMNS = ("id", "kind", "outcome", "channel", "txn_id", "enrollment_id", "id_number", "name", "region_id",
                   "year", "amount", "paid_at", "paid_on", "payer_kind", "payer_id", "payer_name", "request_hash",
                   "response", "response_status", "recorded_at", "recorded_by_id", "actor", "note")
PAID_COLUMNS = (("category", "text"), ("personal_standard", "numeric"), ("fiscal_subsidy", "numeric"),
                ("assistance_identity", "text"), ("assistance_amount", "numeric"), ("amount_due", "numeric"),
                ("timing", "text"), ("benefit_start", "date"), ("benefit_end", "date"),
                ("waiting_months", "int"), ("waiting_days", "int"), ("cap_adjustment", "int"),
                ("paid_amount", "numeric"), ("paid_on", "date"), ("paid_at", "timestamptz"), ("paid_via", "text"))
_STAGE = "payments_bulk_paid"
_STAGE_DDL = (f"CREATE TEMPORARY TABLE {_STAGE} (id bigint, "
              + ", ".join(f"{c} {t}" for c, t in PAID_COLUMNS) + ") ON COMMIT DROP")
_PAID_SQL = (f"UPDATE {Enrollment._meta.db_table} e SET status = 'paid', updated_at = %s, "
             + ", ".join(f"{c} = t.{c}" for c, _ in PAID_COLUMNS) + f" FROM {_STAGE} t WHERE e.id = t.id")
# one answer for many enrollments (the December batch: a chunk's members share a handful)
_PAID_ALIKE_SQL = (f"UPDATE {Enrollment._meta.db_table} SET status = 'paid', updated_at = %s, "
                   + ", ".join(f"{c} = %s::{t}" for c, t in PAID_COLUMNS) + " WHERE id = ANY(%s::bigint[])")
# the same, the rows found by their place on the page (``ctid``) as the caller read them under
# its row locks: no descent of the primary key's index for each row (about a tenth of the
# update's work; bench/RESULTS.md, issue 11)
_PAID_ALIKE_BY_PLACE_SQL = (f"UPDATE {Enrollment._meta.db_table} SET status = 'paid', updated_at = %s, "
                            + ", ".join(f"{c} = %s::{t}" for c, t in PAID_COLUMNS) + " WHERE ctid = ANY(%s::tid[])")
ALIKE_MAX = 8  # up to this many distinct answers: one UPDATE each; more: the scratch table


class RowsMoved(IntegrityError):
    """An enrollment given by its place (``ctid``) was no longer there: it was written again
    after the caller read it under its lock.  Nothing is half-written if the caller's
    savepoint goes back; the caller decides those rows again (the pool batch: member by
    member, as for its other guards)."""


_SEQUENCES: dict[tuple[str, str], str] = {}


def pg_array(values) -> str:
    """A PostgreSQL array literal of ints, Decimals or strings (``None``: NULL), for a
    parameter cast in the statement (``%s::bigint[]``): psycopg's dumping of a Python list
    costs about five times as much (9 against 2 ms for 5,000 ids and amounts)."""
    values = list(values)
    if all(type(v) is int for v in values):
        return "{" + ",".join(map(str, values)) + "}"
    out = []
    for v in values:
        if v is None:
            out.append("NULL")
        elif isinstance(v, str):
            out.append('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            out.append(str(v))
    return "{" + ",".join(out) + "}"


def next_ids(table: str, n: int) -> list[int]:
    """``n`` ids taken from ``table``'s id sequence.  The sequence's name is looked up once
    and written into the statement as a constant: ``nextval(pg_get_serial_sequence(…))``
    resolved the name again for every row (9.5 µs an id against 0.8 µs; bench/RESULTS.md)."""
    if not n:
        return []
    with connection.cursor() as cur:
        key = (connection.settings_dict["NAME"], table)
        seq = _SEQUENCES.get(key)
        if seq is None:
            cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            seq = _SEQUENCES[key] = cur.fetchone()[0].replace("'", "''")
        cur.execute(f"SELECT nextval('{seq}'::regclass) FROM generate_series(1, %s)", [n])
        return [i for (i,) in cur.fetchall()]


class CopyText:
    """COPY's text form of values that repeat down a batch (times, dates, amounts), worked
    out once each: psycopg's dumping of an aware datetime and a Decimal costs about 1.5 µs a
    row (2.3 against 0.8 µs for an 8-column row with one of each); the text is what it would
    send (ISO 8601 with the offset; the Decimal's digits)."""

    def __init__(self):
        self._memo: dict = {}

    def __call__(self, value):
        if value is None:
            return None
        text = self._memo.get(value)
        if text is None:
            text = self._memo[value] = value.isoformat() if isinstance(value, date) else str(value)
        return text


def next_payment_ids(n: int) -> list[int]:
    """``n`` ledger ids taken from the sequence (the first answer names its id)."""
    return next_ids(Payment._meta.db_table, n)


def applied_body(pk: int, benefit_start: date | None) -> str:
    """``payment_record``'s first answer for an applied payment, as JSON text."""
    start = f'"{benefit_start.isoformat()}"' if benefit_start else "null"
    return f'{{"payment_id": {pk}, "status": "paid", "benefit_start": {start}}}'


class PaidColumns:
    """The enrollment's paid columns (``PAID_COLUMNS`` order) as ``fill_paid`` — the one rule
    ``payment_record`` uses — sets them from a quote's answer; worked out once per distinct
    (answer, amount, date, time, way) of a batch."""

    def __init__(self):
        self._memo: dict[tuple, tuple] = {}

    def of(self, result, *, amount: Decimal, paid_on: date, paid_at: datetime, paid_via: str) -> tuple:
        key = (id(result), amount, paid_on, paid_at, paid_via)
        hit = self._memo.get(key)
        if hit is None:
            scratch = Enrollment()
            fill_paid(scratch, result, amount=amount, paid_on=paid_on, paid_at=paid_at, paid_via=paid_via)
            hit = self._memo[key] = (result, tuple(getattr(scratch, c) for c, _ in PAID_COLUMNS))
        return hit[1]


def _alike(paid: list[tuple]) -> dict[tuple, list[int]] | None:
    """The enrollment ids by their paid columns, when there are at most ``ALIKE_MAX`` answers."""
    groups: dict[tuple, list[int]] = {}
    for row in paid:
        ids = groups.get(row[1:])
        if ids is None:
            if len(groups) == ALIKE_MAX:
                return None
            ids = groups[row[1:]] = []
        ids.append(row[0])
    return groups


def write_applied(records: list[tuple], paid: list[tuple], *, now: datetime,
                  places: dict[int, str] | None = None) -> None:
    """COPY the ledger ``records`` (``PAYMENT_COLUMNS`` order), then set the paid columns of
    ``paid`` rows ``(enrollment id, *PAID_COLUMNS values)``: rows that share their values
    (at most ``ALIKE_MAX`` distinct answers) by one UPDATE per answer, over their ids in key
    order — or, given ``places`` (enrollment id → ``ctid`` read under the caller's lock), over
    their places (``RowsMoved`` if one is gone); otherwise by one UPDATE from a COPYed scratch
    table, in key order.  Either way the caller holds the rows' locks, and the enrollments'
    audit records one event per row."""
    with connection.cursor() as cur:
        if records:
            with cur.copy(f"COPY {Payment._meta.db_table} ({', '.join(PAYMENT_COLUMNS)}) FROM STDIN") as copy:
                for rec in records:
                    copy.write_row(rec)
        groups = _alike(paid) if paid else None
        if groups is not None:
            for values, ids in groups.items():
                if places is None:
                    cur.execute(_PAID_ALIKE_SQL, [now, *values, pg_array(sorted(ids))])
                    continue
                cur.execute(_PAID_ALIKE_BY_PLACE_SQL, [now, *values, pg_array(places[i] for i in ids)])
                if cur.rowcount != len(ids):
                    raise RowsMoved(f"{len(ids) - cur.rowcount} of {len(ids)} enrollments moved since they were locked")
        elif paid:
            paid = sorted(paid, key=lambda row: row[0])
            cur.execute(f"DROP TABLE IF EXISTS pg_temp.{_STAGE}")
            cur.execute(_STAGE_DDL)
            with cur.copy(f"COPY {_STAGE} FROM STDIN") as copy:
                for row in paid:
                    copy.write_row(row)
            cur.execute(_PAID_SQL, [now])
            cur.execute(f"DROP TABLE pg_temp.{_STAGE}")
