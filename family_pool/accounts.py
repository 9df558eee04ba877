"""Employee personal accounts: the import from the employee scheme (INTERFACES.md §4),
the ledger writer every movement goes through, the check that the cached balances equal
the entries, and the 30 June settlement.

- ``post(account, entries)``: the one writer of AccountEntry; it updates the cached
  balances with ``F()`` in the same transaction (callers hold the account's row lock);
  ``post_many`` does the same for many accounts with one COPY and one UPDATE.
- ``import_employee_accounts``: every row checked first (``row N: column: reason``), then
  one transaction under an advisory lock: new accounts, and for each changed balance an
  ``import`` entry of the difference, so the cache stays the sum of the entries and the
  same file again changes nothing.
- ``settle_accounts(on)``: the current-year balance moves into the historical one (two
  ``settlement`` entries noted with the account year), once per account and year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Callable

from celery import shared_task
from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from core import clock
from core.audit import audit_context
from enrollment.imports.common import RowError, cell_errors, check_id, check_name, echo, report_errors
from enrollment.spreadsheet import plain, read_table
from payments.bulk import CopyText, next_ids, pg_array

from .models import AccountEntry, AccountStatus, EmployeeAccount

ZERO = Decimal("0.00")
Bucket = AccountEntry.Bucket
Kind = AccountEntry.Kind
REQUIRED = ["姓名", "身份证号码", "参保地", "历年账户余额", "当年账户余额", "账户状态"]
STATUS_NAMES = {"正常": AccountStatus.NORMAL, "冻结": AccountStatus.FROZEN,
                "normal": AccountStatus.NORMAL, "frozen": AccountStatus.FROZEN}
MAX_BALANCE = Decimal("100000000")
IMPORT_LOCK = 0x46500001  # advisory lock key: one accounts import at a time
SETTLE_LOCK = 0x46500002
CHUNK = 2000


# --- the ledger writer ------------------------------------------------------------------

def post(account: EmployeeAccount, entries: list[tuple[str, str, Decimal, str]], *, actor: str = "") -> list[AccountEntry]:
    """Write (bucket, kind, amount, note) entries on a locked account and move its cached
    balances by the same amounts. Zero amounts are skipped."""
    rows = [AccountEntry(account=account, bucket=b, kind=k, amount=a, actor=actor[:200], note=n[:200])
            for b, k, a, n in entries if a != 0]
    if not rows:
        return []
    AccountEntry.objects.bulk_create(rows)
    hist = sum((r.amount for r in rows if r.bucket == Bucket.HISTORICAL), ZERO)
    cur = sum((r.amount for r in rows if r.bucket == Bucket.CURRENT), ZERO)
    EmployeeAccount.objects.filter(pk=account.pk).update(
        historical_balance=F("historical_balance") + hist, current_balance=F("current_balance") + cur)
    account.refresh_from_db(fields=["historical_balance", "current_balance"])
    return rows


_MOVE_BALANCES = f"""
UPDATE {EmployeeAccount._meta.db_table} a
SET historical_balance = a.historical_balance + t.h, current_balance = a.current_balance + t.c
FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[]) AS t(id, h, c) WHERE a.id = t.id"""


def post_many(entries: list[tuple[int, str, str, Decimal, str]], *, actor: str = "", created_at=None) -> list[int]:
    """``post`` for many locked accounts at once (the December batch): (account id, bucket,
    kind, amount, note) entries written by one COPY, and each account's cached balances
    moved by the sum of its entries by one UPDATE in key order (through ``execute``, so the
    accounts' audit trigger records the caller's context).  Returns the entries' ids, in
    the order given (zero amounts: None, not written)."""
    created_at = created_at or timezone.now()
    live = [e for e in entries if e[3] != 0]
    if not live:
        return [None] * len(entries)
    table = AccountEntry._meta.db_table
    with connection.cursor() as cur:
        ids = iter(next_ids(table, len(live)))
        out, sums = [], {}
        text = CopyText()  # the COPY's text of the time and the repeated amounts
        at, actor = text(created_at), actor[:200]
        with cur.copy(f"COPY {table} (id, account_id, bucket, kind, amount, created_at, actor, note) FROM STDIN") as copy:
            for account_id, bucket, kind, amount, note in entries:
                if amount == 0:
                    out.append(None)
                    continue
                pk = next(ids)
                copy.write_row((pk, account_id, bucket, kind, text(amount), at, actor, note[:200]))
                out.append(pk)
                h, c = sums.get(account_id, (ZERO, ZERO))
                sums[account_id] = (h + amount, c) if bucket == Bucket.HISTORICAL else (h, c + amount)
        keys = sorted(sums)
        cur.execute(_MOVE_BALANCES, [pg_array(keys), pg_array(sums[k][0] for k in keys),
                                     pg_array(sums[k][1] for k in keys)])
    return out


def actor_text(actor) -> str:
    if actor is None:
        return ""
    if getattr(actor, "pk", None) is not None:
        return f"user {actor.get_username()}"
    return str(actor)


# --- the check --------------------------------------------------------------------------

@dataclass(frozen=True)
class Mismatch:
    id_number: str
    name: str
    historical_balance: Decimal
    historical_entries: Decimal
    current_balance: Decimal
    current_entries: Decimal


def account_check(ids=None) -> list[Mismatch]:
    """Accounts whose cached balances differ from the sum of their entries."""
    qs = EmployeeAccount.objects.all()
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    qs = qs.annotate(
        h=Sum("entries__amount", filter=Q(entries__bucket=Bucket.HISTORICAL), default=ZERO),
        c=Sum("entries__amount", filter=Q(entries__bucket=Bucket.CURRENT), default=ZERO),
    ).filter(~Q(h=F("historical_balance")) | ~Q(c=F("current_balance"))).order_by("id_number")
    return [Mismatch(a.id_number, a.name, a.historical_balance, a.h, a.current_balance, a.c) for a in qs]


# --- the import -------------------------------------------------------------------------

@dataclass(slots=True)
class AccountRow:
    row: int
    id_number: str
    name: str
    insured_region: str
    historical: Decimal
    current: Decimal
    status: str
    change: str = "new"  # new / updated / unchanged


@dataclass
class AccountImportResult:
    total_rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    rejected: bool = False
    dry_run: bool = False
    rows: list[AccountRow] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"rows": self.total_rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "invalid_rows": len({e.row for e in self.errors}),
                "rejected": self.rejected}


def parse_balance(text: str) -> Decimal:
    """A balance as text: digits with at most two decimals, never negative (ValueError)."""
    text = plain(text).replace(",", "")
    if not re.fullmatch(r"\d{1,12}(\.\d{1,2})?", text):
        raise ValueError(text)
    try:
        amount = Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValueError(text) from None
    if amount >= MAX_BALANCE:
        raise ValueError(text)
    return amount


def _check_row(number: int, values: dict, errors: list, today: date) -> AccountRow | None:
    before = len(errors)
    name = check_name(values, errors, number)
    parsed = check_id(values, errors, number, today)
    region = plain(values.get("参保地", ""))
    if not re.fullmatch(r"\d{6}", region) or region.startswith("00"):
        errors.append(RowError(number, "参保地", f"应为六位行政区划代码，收到 {echo(region)}"))
    amounts = {}
    for column in ("历年账户余额", "当年账户余额"):
        try:
            amounts[column] = parse_balance(values.get(column, ""))
        except ValueError:
            errors.append(RowError(number, column, f"应为不小于 0、最多两位小数的金额，收到 {echo(values.get(column, ''))}"))
    status_text = plain(values.get("账户状态", ""))
    status = STATUS_NAMES.get(status_text.lower() if status_text.isascii() else status_text)
    if status is None:
        errors.append(RowError(number, "账户状态", f"应为“正常”或“冻结”，收到 {echo(status_text)}"))
    if len(errors) > before:
        return None
    return AccountRow(number, parsed.number, name, region, amounts["历年账户余额"], amounts["当年账户余额"], status)


def check_rows(table, today: date, progress=None) -> tuple[list[AccountRow], list[RowError]]:
    errors = cell_errors(table)
    rows, first_row = [], {}
    for number, values in table.rows:
        row = _check_row(number, values, errors, today)
        if row is None:
            continue
        if row.id_number in first_row:
            errors.append(RowError(number, "身份证号码", f"与第 {first_row[row.id_number]} 行重复"))
            continue
        first_row[row.id_number] = number
        rows.append(row)
    bad = {e.row for e in errors}
    rows = [r for r in rows if r.row not in bad]
    errors.sort(key=lambda e: (e.row, e.column))
    report_errors(progress, errors, len(table.rows))
    return rows, errors


def import_employee_accounts(data: bytes, filename: str, **kwargs) -> AccountImportResult:
    table = read_table(data, filename, required=REQUIRED)
    return import_accounts_table(table, **kwargs)


def import_accounts_table(table, *, skip_invalid: bool = False, dry_run: bool = False, actor=None,
                          user=None, today: date | None = None, run=None,
                          progress: Callable[[str, int, int], None] | None = None) -> AccountImportResult:
    today = today or clock.today()
    result = AccountImportResult(total_rows=len(table.rows), dry_run=dry_run)
    rows, errors = check_rows(table, today, progress)
    result.errors = errors
    if errors and not skip_invalid:
        result.rejected = True
        return result
    result.rows = rows
    who = actor_text(actor or user)
    with transaction.atomic(), audit_context(actor or user, action="import_employee_accounts"):
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK])
        for start in range(0, len(rows), CHUNK):
            _write_chunk(rows[start:start + CHUNK], result, who, dry_run)
            if progress:
                progress("写入", min(start + CHUNK, len(rows)), len(rows))
        if dry_run:
            transaction.set_rollback(True)
    return result


def _write_chunk(rows: list[AccountRow], result: AccountImportResult, who: str, dry_run: bool) -> None:
    rows = sorted(rows, key=lambda r: r.id_number)
    existing = {a.id_number: a for a in EmployeeAccount.objects.select_for_update()
                .filter(id_number__in=[r.id_number for r in rows]).order_by("id_number")}
    new, entries, changed = [], [], []
    now = timezone.now()
    for r in rows:
        a = existing.get(r.id_number)
        if a is None:
            r.change = "new"
            result.created += 1
            new.append((r, EmployeeAccount(id_number=r.id_number, name=r.name, insured_region=r.insured_region,
                                           historical_balance=r.historical, current_balance=r.current,
                                           status=r.status, imported_at=now)))
            continue
        dh, dc = r.historical - a.historical_balance, r.current - a.current_balance
        if not (dh or dc) and (a.name, a.insured_region, a.status) == (r.name, r.insured_region, r.status):
            r.change = "unchanged"
            result.unchanged += 1
            continue
        r.change = "updated"
        result.updated += 1
        for bucket, diff in ((Bucket.HISTORICAL, dh), (Bucket.CURRENT, dc)):
            if diff:
                entries.append(AccountEntry(account=a, bucket=bucket, kind=Kind.IMPORT, amount=diff, actor=who[:200],
                                            note="导入对齐职工医保系统余额"))
        a.name, a.insured_region, a.status = r.name, r.insured_region, r.status
        a.historical_balance, a.current_balance, a.imported_at = r.historical, r.current, now
        a.updated_at = now
        changed.append(a)
    if dry_run:
        return
    if new:
        EmployeeAccount.objects.bulk_create([a for _, a in new])
        for r, a in new:
            for bucket, amount in ((Bucket.HISTORICAL, r.historical), (Bucket.CURRENT, r.current)):
                if amount:
                    entries.append(AccountEntry(account=a, bucket=bucket, kind=Kind.IMPORT, amount=amount,
                                                actor=who[:200], note="导入开户余额"))
    if changed:
        EmployeeAccount.objects.bulk_update(changed, ["name", "insured_region", "status", "historical_balance",
                                                      "current_balance", "imported_at", "updated_at"])
    if entries:
        AccountEntry.objects.bulk_create(entries)


# --- the 30 June settlement -------------------------------------------------------------

def account_year_end(on: date) -> date:
    """The last 30 June on or before ``on`` (the account year runs 1 July – 30 June)."""
    end = date(on.year, 6, 30)
    return end if on >= end else date(on.year - 1, 6, 30)


def settlement_note(year_end: date) -> str:
    return f"{year_end.year - 1}-{year_end.year} 医保年度结转（{year_end.isoformat()}）"


@dataclass
class SettlementResult:
    year_end: date
    settled: int = 0
    amount: Decimal = ZERO
    already: int = 0

    def as_dict(self) -> dict:
        return {"year_end": self.year_end.isoformat(), "settled": self.settled, "amount": f"{self.amount:.2f}",
                "already_settled": self.already}


def settle_accounts(on: date, *, actor="settle_accounts") -> SettlementResult:
    """Move each account's current-year balance into its historical balance for the account
    year ending on the last 30 June on or before ``on``; accounts already settled for that year
    (a settlement entry with the year's note) are left alone, so running again is a no-op."""
    year_end = account_year_end(on)
    note = settlement_note(year_end)
    result = SettlementResult(year_end)
    who = actor_text(actor)
    last = 0
    while True:
        with transaction.atomic(), audit_context(actor, action="settle_accounts"):
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [SETTLE_LOCK])
            batch = list(EmployeeAccount.objects.select_for_update().filter(pk__gt=last, current_balance__gt=0)
                         .order_by("pk")[:CHUNK])
            if not batch:
                break
            last = batch[-1].pk
            done = set(AccountEntry.objects.filter(account__in=batch, kind=Kind.SETTLEMENT, note=note)
                       .values_list("account_id", flat=True))
            for a in batch:
                if a.pk in done:
                    result.already += 1
                    continue
                amount = a.current_balance
                post(a, [(Bucket.CURRENT, Kind.SETTLEMENT, -amount, note),
                         (Bucket.HISTORICAL, Kind.SETTLEMENT, amount, note)], actor=who)
                result.settled += 1
                result.amount += amount
    return result


@shared_task(name="family_pool.accounts.settle_accounts_task")
def settle_accounts_task() -> dict:
    """Beat: on 30 June (and the first days of July, catching up a missed day): settle the
    account year ending on the last 30 June; idempotent."""
    return settle_accounts(clock.today(), actor="celery settle_accounts").as_dict()


def pool_refund_entry(paid, amount: Decimal, *, refund_pk: int, actor: str = "") -> AccountEntry | None:
    """A refund of a premium the pool paid (``paid``: the family_pool payment) goes back to the
    organizer's historical balance it came from — never to the member (POLICY.md §6: the pool
    is the organizer's historical balance; a member never funds it).  One entry, +amount, on the
    account of the deduction's network, locked; None when ``paid`` was not a pool deduction."""
    from .models import PoolDeduction

    deduction = (PoolDeduction.objects.filter(payment_id=paid.pk, status=PoolDeduction.Status.DEDUCTED)
                 .values_list("network__account_id", flat=True).first())
    if deduction is None:
        return None
    account = EmployeeAccount.objects.select_for_update().get(pk=deduction)
    rows = post(account, [(Bucket.HISTORICAL, AccountEntry.Kind.POOL_REFUND, amount,
                           f"退费申请 {refund_pk}：退回 {paid.year} 年度共济缴费（{paid.name}）")], actor=actor)
    return rows[0] if rows else None
