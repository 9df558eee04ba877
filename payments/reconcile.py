"""``import_tax_deposits``: the tax bureau's deposit records (税务入库记录) matched against
the ledger (INTERFACES.md §4).

Each deposit (渠道 + 交易流水号) is looked up among our payments (kind ``payment``):

- ``matched``: the payment is there with the same amount;
- ``amount_differs``: the payment is there with another amount;
- ``missing_here``: no payment of ours holds it — nor does one that carries its transaction
  id for another ID number or benefit year (that payment is then missing there, if the
  file's days cover it: both sides of the difference are listed).

``missing_there`` counts our payments the file should hold and does not: kind
``payment``, outcome ``applied`` or ``duplicate`` (money that arrived, refunded or not),
in a channel the file holds, paid (``paid_on``, Beijing date) within the days the file
covers — from its earliest to its latest 入库日期, both included.  (A payment made late on
the file's last day and deposited the next day shows as missing there until the next
day's file: the bureau's own day boundary is what the file tells us, nothing more.)

Deposits are kept once per channel and transaction id.  A run is the file's set of
deposits (its digest): the same file imported again is the same run, matched again; its
counts and differences are rewritten only when the ledger has changed since (a payment
arrived), so a re-import changes nothing.  A deposit the bureau sends again with other
content (amount, ID number, year, day) is a faulty row: the first record stands.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Callable

from django.db import connection, transaction
from django.utils import timezone

from core import clock
from core.audit_actor import acting_user
from enrollment.imports.common import RowError, cell_errors, check_id, echo, report_errors
from enrollment.models import Resident
from enrollment.selectors import joined
from enrollment.spreadsheet import Table, plain, read_table

from .imports import parse_moment
from .models import Payment, ReconciliationItem, ReconciliationRun, TaxDeposit
from .services import API_CHANNELS, SHANGHAI, PaymentError, channel_code, parse_sheet_amount

DEPOSIT_REQUIRED = ["入库日期", "交易流水号", "渠道", "身份证号码", "待遇年度", "金额"]
SEP = "\x1f"
KINDS = ("matched", "missing_here", "missing_there", "amount_differs")


@dataclass(slots=True, frozen=True)
class DepositRow:
    row: int
    deposited_on: date
    txn_id: str
    channel: str
    id_number: str
    year: int
    amount: Decimal

    @property
    def key(self) -> tuple:
        return (self.channel, self.txn_id, self.deposited_on, self.id_number, self.year, self.amount)


@dataclass
class ReconcileResult:
    total_rows: int = 0
    matched: int = 0
    missing_here: int = 0
    missing_there: int = 0
    amount_differs: int = 0
    errors: list[RowError] = field(default_factory=list)
    rejected: bool = False
    dry_run: bool = False
    run: ReconciliationRun | None = None
    items: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"rows": self.total_rows, "matched": self.matched, "missing_here": self.missing_here,
                "missing_there": self.missing_there, "amount_differs": self.amount_differs}

    def as_job_dict(self) -> dict:
        return {**self.as_dict(), "invalid_rows": len({e.row for e in self.errors}), "rejected": self.rejected}


def _check_row(number: int, values: dict, today: date, errors: list) -> DepositRow | None:
    before = len(errors)
    day = None
    try:
        day = parse_moment(values.get("入库日期", "")).astimezone(SHANGHAI).date()
    except (ValueError, ArithmeticError, OverflowError):
        errors.append(RowError(number, "入库日期", f"应为日期，如 2025-11-10，收到 {echo(plain(values.get('入库日期', '')))}"))
    txn_id = plain(values.get("交易流水号", ""))
    if not txn_id or len(txn_id) > 64 or not txn_id.isprintable():
        errors.append(RowError(number, "交易流水号", "应为 1–64 个可见字符"))
    raw = plain(values.get("渠道", ""))
    channel = channel_code(raw)
    if channel not in API_CHANNELS:
        errors.append(RowError(number, "渠道", f"未知缴费渠道 {echo(raw)}"))
    parsed = check_id(values, errors, number, today)
    year_text = plain(values.get("待遇年度", ""))
    if not re.fullmatch(r"\d{4}", year_text):
        errors.append(RowError(number, "待遇年度", f"应为四位年份，收到 {echo(year_text)}"))
    amount = None
    try:
        amount = parse_sheet_amount(plain(values.get("金额", "")))
    except PaymentError:
        errors.append(RowError(number, "金额", f"应为不小于 0、最多两位小数的金额，收到 {echo(plain(values.get('金额', '')))}"))
    if len(errors) > before:
        return None
    return DepositRow(number, day, txn_id, channel, parsed.number, int(year_text), amount)


def check_deposits(table: Table, today: date) -> tuple[list[DepositRow], list[RowError]]:
    errors = cell_errors(table)
    bad = {e.row for e in errors}
    first: dict[tuple, DepositRow] = {}
    for number, values in table.rows:
        d = None if number in bad else _check_row(number, values, today, errors)
        if d is None:
            continue
        earlier = first.setdefault((d.channel, d.txn_id), d)
        if earlier is not d and earlier.key != d.key:
            errors.append(RowError(number, "交易流水号", f"与第 {earlier.row} 行渠道和交易流水号相同而内容不同"))
    return list(first.values()), errors


_HELD_SQL = f"""
SELECT d.channel, d.txn_id, d.deposited_on, d.id_number, d.year, d.amount
FROM unnest(string_to_array(%s, '{SEP}'), string_to_array(%s, '{SEP}')) AS t(c, x)
JOIN {TaxDeposit._meta.db_table} d ON d.channel = t.c AND d.txn_id = t.x"""
# A college course paid at once (payments.services.payment_record, ``course_years``) is one
# transaction for the bureau and one ledger record per year here: the first under the
# transaction id, answering the course's years, the later ones under ``txn#year``.
_COURSE_YEARS = "(SELECT array_agg(y::int) FROM jsonb_array_elements_text(p.response -> 'course_years') y)"
_OURS_SQL = f"""
SELECT p.channel, p.txn_id, p.id, p.amount, p.region_id, p.id_number, p.year, p.paid_on, {_COURSE_YEARS}
FROM unnest(string_to_array(%s, '{SEP}'), string_to_array(%s, '{SEP}')) AS t(c, x)
JOIN {Payment._meta.db_table} p ON p.channel = t.c AND p.txn_id = t.x WHERE p.kind = 'payment'"""
_WINDOW_SQL = f"""
SELECT p.channel, p.txn_id, p.id, p.amount, p.region_id, p.id_number, p.year, p.paid_on, {_COURSE_YEARS}
FROM {Payment._meta.db_table} p
WHERE p.kind = 'payment' AND p.outcome IN ('applied', 'duplicate') AND p.channel = ANY(string_to_array(%s, ','))
  AND p.paid_on BETWEEN %s AND %s"""
_REGIONS_SQL = f"""
SELECT r.id_number, r.region_id FROM unnest(string_to_array(%s, ',')) AS t(n)
JOIN {Resident._meta.db_table} r ON r.id_number = t.n"""


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _pairs(deposits: list[DepositRow]) -> list[str]:
    return [SEP.join(d.channel for d in deposits), SEP.join(d.txn_id for d in deposits)]


def _refused_repeats(deposits: list[DepositRow], errors: list[RowError]) -> list[DepositRow]:
    """Deposits held from an earlier file with other content: refused (the first record stands)."""
    held = {}
    for start in range(0, len(deposits), 20000):
        for c, x, *rest in _rows(_HELD_SQL, _pairs(deposits[start:start + 20000])):
            held[(c, x)] = (c, x, *rest)
    out = []
    for d in deposits:
        before = held.get((d.channel, d.txn_id))
        if before is not None and before != d.key:
            errors.append(RowError(d.row, "交易流水号", f"该交易流水号此前已导入（入库日期 {before[2]}，金额 {before[5]} 元），"
                                                   "内容与本行不同"))
        else:
            out.append(d)
    return out


def _fold_courses(ours: dict, *, read: bool = True) -> set[tuple[str, str]]:
    """Each course paid at once among ``ours`` ((channel, txn) → the _OURS_SQL columns) gets the
    amount of the whole course — its later years' records (``txn#year``) added, read from the
    ledger when ``read``, else taken from ``ours`` itself.  Returns the later years' keys."""
    later = {}
    for (c, x), p in ours.items():
        for y in (p[6] or [])[1:]:
            later[(c, f"{x}#{y}")] = (c, x)
    if not later:
        return set()
    found = {k: ours[k] for k in later if k in ours}
    if read:
        keys = list(later)
        for start in range(0, len(keys), 20000):
            chunk = keys[start:start + 20000]
            for c, x, *rest in _rows(_OURS_SQL, [SEP.join(k[0] for k in chunk), SEP.join(k[1] for k in chunk)]):
                found[(c, x)] = rest
    for key, p in found.items():
        first = ours[later[key]]
        ours[later[key]] = [first[0], first[1] + p[1], *first[2:]]
    return set(later)


def match(deposits: list[DepositRow]) -> list[dict]:
    """One line per deposit and per payment missing there: kind, txn, amounts, region."""
    ours = {}
    for start in range(0, len(deposits), 20000):
        for c, x, *rest in _rows(_OURS_SQL, _pairs(deposits[start:start + 20000])):
            ours[(c, x)] = rest
    _fold_courses(ours)
    lines = []
    elsewhere = set()  # txns whose payment here is another person's or year's
    for d in deposits:
        p = ours.get((d.channel, d.txn_id))
        if p is not None and (p[3], p[4]) != (d.id_number, d.year):
            # the same transaction id on another person or year is not this deposit's payment:
            # the deposit is missing here, and our payment missing there (both listed)
            elsewhere.add((d.channel, d.txn_id))
            p = None
        line = {"channel": d.channel, "txn_id": d.txn_id, "their_amount": d.amount, "deposited_on": d.deposited_on,
                "id_number": d.id_number, "year": d.year}
        if p is None:
            lines.append({**line, "kind": "missing_here", "region_id": None})
            continue
        pid, amount, region, number, year, paid_on, _ = p
        lines.append({**line, "kind": "matched" if amount == d.amount else "amount_differs", "payment_id": pid,
                      "our_amount": amount, "region_id": region, "paid_on": paid_on})
    if deposits:
        held = {(d.channel, d.txn_id) for d in deposits}
        lo, hi = min(d.deposited_on for d in deposits), max(d.deposited_on for d in deposits)
        channels = ",".join(sorted({d.channel for d in deposits}))
        window = {(c, x): rest for c, x, *rest in _rows(_WINDOW_SQL, [channels, lo, hi])}
        later_years = _fold_courses(window, read=False)
        for (c, x), (pid, amount, region, number, year, paid_on, _) in window.items():
            if (c, x) in later_years:
                continue  # part of its course's first record (held or listed with it)
            if (c, x) not in held or (c, x) in elsewhere:
                lines.append({"kind": "missing_there", "channel": c, "txn_id": x, "payment_id": pid,
                              "our_amount": amount, "region_id": region, "id_number": number, "year": year,
                              "paid_on": paid_on})
    unknown = sorted({ln["id_number"] for ln in lines if ln["kind"] == "missing_here"})
    if unknown:
        regions = dict(_rows(_REGIONS_SQL, [joined(unknown)]))
        for ln in lines:
            if ln["kind"] == "missing_here":
                ln["region_id"] = regions.get(ln["id_number"])
    return lines


def import_tax_deposits(data: bytes, filename: str, **kwargs) -> ReconcileResult:
    table = read_table(data, filename, required=DEPOSIT_REQUIRED)
    return import_tax_deposits_table(table, filename=filename, **kwargs)


def import_tax_deposits_table(table: Table, *, skip_invalid: bool = False, dry_run: bool = False, actor=None,
                              user=None, today: date | None = None, filename: str = "",
                              progress: Callable[[str, int, int], None] | None = None) -> ReconcileResult:
    today = today or clock.today()
    actor = actor if actor is not None else user
    result = ReconcileResult(total_rows=len(table.rows), dry_run=dry_run)
    deposits, errors = check_deposits(table, today)
    if progress:
        progress("检查", len(table.rows), len(table.rows))
    with transaction.atomic():
        deposits = _refused_repeats(deposits, errors)
        errors.sort(key=lambda e: (e.row, e.column))
        result.errors = errors
        report_errors(progress, errors, len(table.rows))
        if errors and not skip_invalid:
            result.rejected = True
            return result
        bad = {e.row for e in errors}
        deposits = [d for d in deposits if d.row not in bad]
        lines = match(deposits)
        for kind in KINDS:
            setattr(result, kind, sum(1 for ln in lines if ln["kind"] == kind))
        result.items = [ln for ln in lines if ln["kind"] != "matched"]
        if dry_run or not deposits:
            return result
        result.run = _store(deposits, lines, result, filename, actor)
        if progress:
            progress("写入", len(table.rows), len(table.rows))
    return result


def _digest(deposits: list[DepositRow]) -> str:
    text = "\n".join("|".join(map(str, d.key)) for d in sorted(deposits, key=lambda d: d.key[:2]))
    return hashlib.sha256(text.encode()).hexdigest()


def _item_key(ln: dict) -> tuple:
    return (ln["kind"], ln["channel"], ln["txn_id"], ln.get("our_amount"), ln.get("their_amount"))


def _store(deposits, lines, result: ReconcileResult, filename: str, actor) -> ReconciliationRun:
    user = acting_user(actor)
    counts = {k: getattr(result, k) for k in KINDS}
    regions = sorted({ln["region_id"] for ln in lines if ln.get("region_id")})
    digest = _digest(deposits)
    with connection.cursor() as cur:  # one import of the same file at a time
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('reconciliation:' || %s))", [digest])
    run = ReconciliationRun.objects.filter(digest=digest).first()
    items = [ln for ln in lines if ln["kind"] != "matched"]
    if run is not None:
        stored = set(run.items.values_list("kind", "channel", "txn_id", "our_amount", "their_amount"))
        same = ({k: getattr(run, k) for k in KINDS} == counts and run.rows == result.total_rows
                and stored == {_item_key(ln) for ln in items})
        if same:
            return run
        run.items.all().delete()
        ReconciliationRun.objects.filter(pk=run.pk).update(rows=result.total_rows, regions=regions,
                                                           checked_at=timezone.now(), **counts)
        run.refresh_from_db()
    else:
        run = ReconciliationRun.objects.create(
            digest=digest, file_name=filename[:200], day_from=min(d.deposited_on for d in deposits),
            day_to=max(d.deposited_on for d in deposits), channels=sorted({d.channel for d in deposits}),
            regions=regions, rows=result.total_rows, imported_by=user,
            actor="" if user is not None else str(actor or "")[:200], **counts)
    TaxDeposit.objects.bulk_create(
        [TaxDeposit(channel=d.channel, txn_id=d.txn_id, deposited_on=d.deposited_on, id_number=d.id_number,
                    year=d.year, amount=d.amount, run=run) for d in deposits],
        batch_size=5000, ignore_conflicts=True)
    ReconciliationItem.objects.bulk_create(
        [ReconciliationItem(run=run, kind=ln["kind"], channel=ln["channel"], txn_id=ln["txn_id"],
                            id_number=ln.get("id_number") or "", year=ln.get("year"), region_id=ln.get("region_id"),
                            payment_id=ln.get("payment_id"), our_amount=ln.get("our_amount"),
                            their_amount=ln.get("their_amount"), paid_on=ln.get("paid_on"),
                            deposited_on=ln.get("deposited_on")) for ln in items],
        batch_size=5000)
    return run
