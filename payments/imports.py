"""``import_payments``: collective collection (a school or a village committee paying for
many people) and past years carried over from an earlier system (INTERFACES.md §4).

Each row lands exactly as a channel payment would (``payments.services.payment_record``),
decided in the same order with the same refusals, but set-based so that 100,000 rows take
seconds (bench/imports.py):

1. every row is read and checked on its own (channel, transaction id, ID number, name,
   year, amount, time);
2. in one transaction: the transaction ids already on the ledger (same content →
   ``unchanged``, another content → ``idempotency_conflict``), the residents, then the
   carried-over rows (``payment_carry_over``, one savepoint each: the past is written
   before the years it makes continuous are priced), then the enrollments, locked in key
   order, year by year: a person-year already paid → the money is kept as a duplicate and
   queued for refund (``already_paid``); otherwise the channel rules and the price at the
   payment date (``quote_requests_for``, the one batch selector) and the amount; the
   year's payments are written (COPY), the enrollments' paid columns set from the same
   answers and the refunds queued before the next year is priced (its history sees them);
3. a file with any faulty row, unless ``skip_invalid``, or a dry run: the transaction is
   rolled back — every faulty row has been found, nothing is written.

A person-year paid twice in one file: the first row that passes lands, the later ones
are ``already_paid`` (as when posted one after another).  A transaction id twice in one
file: the later copy is ``unchanged`` (same content) or ``idempotency_conflict``.

险种 (optional): a row of another scheme registered with ``payments.schemes`` (灵活就业人员医疗保险:
its code ``flexible_employment`` or its label) lands as the channel API's payment with
``scheme`` does — through ``payment_record`` itself, row by row (a savepoint each: such rows
are few), with its idempotency, refusals and codes; the set-based path above takes only
the resident rows (an empty cell or 城乡居民).  A carried-over row (原系统结转) of another
scheme is refused: the handlers have no carry-over.  The scheme is part of a row's content
(its hash) only when it is not the resident one, so a resident file hashes as it always did.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Callable

from django.db import transaction

from core import clock
from core.audit import audit_context
from core.audit_actor import acting_user
from enrollment.imports.common import RowError, cell_errors, check_id, check_name, echo, report_errors, user_codes
from enrollment.spreadsheet import Table, is_numeric_cell, plain, read_table

from .models import Channel, PayerKind
from .schemes import RESIDENT, handlers
from .services import API_CHANNELS, SHANGHAI, PaymentError, channel_code, parse_sheet_amount

PAYMENT_REQUIRED = ["渠道", "交易流水号", "身份证号码", "姓名", "待遇年度", "金额", "缴费时间"]
SCHEME_COLUMN = "险种"
PAYMENT_OPTIONAL = ["缴费单位", "缴费单位代码", SCHEME_COLUMN]
RESIDENT_NAMES = ("", "城乡居民", "城乡居民医保", "城乡居民基本医疗保险", RESIDENT)  # the 险种 cells of the resident scheme
# Who paid, by channel: the import is collective collection unless the channel says otherwise.
PAYER_BY_CHANNEL = {"assistance": PayerKind.DEPARTMENT, "family_pool": PayerKind.POOL}
COLUMN_OF = {"not_registered": "身份证号码", "region_mismatch": "身份证号码", "name_mismatch": "姓名",
             "amount_mismatch": "金额", "payment_day_not_allowed": "缴费时间", "workday_unknown": "缴费时间",
             "window_not_open": "缴费时间", "window_closed": "缴费时间", "idempotency_conflict": "交易流水号",
             "invalid_input": "交易流水号"}


class Rollback(Exception):
    """Raised inside the import's transaction to undo it (rejected file, dry run)."""


@dataclass(slots=True)
class PaymentRow:
    row: int
    channel: str
    txn_id: str
    id_number: str
    name: str
    year: int
    amount: Decimal
    paid_at: datetime
    payer_kind: str
    payer_id: str
    payer_name: str
    body_hash: str = ""
    outcome: str = ""  # paid, unchanged, already_paid, error
    code: str = ""  # the refusal's code (as payment_record would raise it)
    same_as: int | None = None  # an earlier row of the file with the same channel + txn id
    paid_on: date | None = None  # the Beijing date of paid_at
    scheme: str = RESIDENT  # payments.schemes: another scheme's row goes through payment_record

    @property
    def carried(self) -> bool:
        return self.channel == Channel.CARRIED_OVER


@dataclass
class PaymentImportResult:
    total_rows: int = 0
    paid: int = 0
    unchanged: int = 0
    already_paid: int = 0
    errors: list[RowError] = field(default_factory=list)
    rejected: bool = False
    dry_run: bool = False
    rows: list[PaymentRow] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"rows": self.total_rows, "paid": self.paid, "unchanged": self.unchanged,
                "already_paid": self.already_paid, "invalid_rows": len({e.row for e in self.errors}),
                "rejected": self.rejected}


# --- reading a row ---------------------------------------------------------------------

_MOMENT = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
                     r"(Z|[+-]\d{2}:?\d{2})?")
EXCEL_EPOCH = date(1899, 12, 30)


def parse_moment(text: str) -> datetime:
    """2025-11-10 10:30:00, 2025/11/10 10:30, 2025-11-10 (noon: a day without a time), ISO
    8601 with an offset, or an Excel date-time serial (45971.4375); Beijing time unless
    an offset is given.  ValueError otherwise."""
    if is_numeric_cell(text):
        serial = Decimal(plain(text))  # InvalidOperation (an ArithmeticError): callers catch it
        if not 1 <= serial < 200000:
            raise ValueError(text)
        days = int(serial)
        seconds = int(((serial - days) * 86400).to_integral_value())
        moment = datetime.combine(EXCEL_EPOCH + timedelta(days=days), time()) + timedelta(seconds=seconds)
        return moment.replace(tzinfo=SHANGHAI)
    m = _MOMENT.fullmatch(text.strip())
    if m is None:
        raise ValueError(text)
    y, mo, d, hh, mm, ss, offset = m.groups()
    if hh is None:
        moment = datetime(int(y), int(mo), int(d), 12)
    else:
        moment = datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss or 0))
    if offset:
        return datetime.fromisoformat(moment.isoformat() + (offset if offset != "Z" else "+00:00"))
    return moment.replace(tzinfo=SHANGHAI)


class _Memo(dict):
    """Answers by the cell's text: a file repeats a handful of channels, amounts and times."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def __missing__(self, text):
        try:
            answer = self.fn(text)
        except (ValueError, ArithmeticError, OverflowError, PaymentError) as exc:
            answer = exc
        self[text] = answer
        return answer


def _check_row(number: int, values: dict, today: date, errors: list, memo: dict) -> PaymentRow | None:
    before = len(errors)
    raw_channel = plain(values.get("渠道", ""))
    channel = memo["channel"][raw_channel]
    if channel is None or (channel not in API_CHANNELS and channel != Channel.CARRIED_OVER):
        errors.append(RowError(number, "渠道", f"未知缴费渠道 {echo(raw_channel)}"))
    txn_id = plain(values.get("交易流水号", ""))
    if not txn_id or len(txn_id) > 64 or not txn_id.isprintable():
        errors.append(RowError(number, "交易流水号", "应为 1–64 个可见字符"))
    parsed_id = check_id(values, errors, number, today, place_check=False)  # warnings never shown here
    name, reason = memo["name"][values.get("姓名", "")]
    if reason is not None:
        errors.append(RowError(number, "姓名", reason))
    scheme = values.get(SCHEME_COLUMN)  # None: a file without the column, all resident
    if scheme is None:
        scheme = RESIDENT
    else:
        scheme = memo["scheme"][scheme]
        if isinstance(scheme, Exception):
            errors.append(RowError(number, SCHEME_COLUMN, str(scheme)))
        elif scheme != RESIDENT and channel == Channel.CARRIED_OVER:
            errors.append(RowError(number, SCHEME_COLUMN, f"原系统结转只适用于城乡居民医保，{scheme_label(scheme)}"
                                                          "不能结转；请按实际缴费渠道导入"))
    year_text = plain(values.get("待遇年度", ""))
    year = memo["year"][year_text]
    if year is None:
        errors.append(RowError(number, "待遇年度", f"应为四位年份，收到 {echo(year_text)}"))
    elif channel == Channel.CARRIED_OVER and year > today.year:
        errors.append(RowError(number, "待遇年度", f"结转只适用于以往年度，{year} 年度请按正常缴费办理"))
    amount = memo["amount"][plain(values.get("金额", ""))]
    if isinstance(amount, Exception):
        errors.append(RowError(number, "金额", f"应为不小于 0、最多两位小数的金额，收到 {echo(plain(values.get('金额', '')))}"))
    raw_time = values.get("缴费时间", "")
    paid_at = memo["time"][raw_time]
    if isinstance(paid_at, Exception):
        errors.append(RowError(number, "缴费时间", f"应为日期时间，如 2025-11-10 10:30:00，收到 {echo(plain(raw_time))}"))
    else:
        paid_on = memo["day"][paid_at]
        if paid_on > today:
            errors.append(RowError(number, "缴费时间", f"晚于今天（{today.isoformat()}）"))
    if len(errors) > before:
        return None
    payer_name = plain(values.get("缴费单位", ""))[:100]
    payer_id = plain(values.get("缴费单位代码", ""))[:64]
    r = PaymentRow(row=number, channel=channel, txn_id=txn_id, id_number=parsed_id.number, name=name, year=year,
                   amount=amount, paid_at=paid_at, payer_kind=PAYER_BY_CHANNEL.get(channel, PayerKind.COLLECTOR),
                   payer_id=payer_id, payer_name=payer_name, paid_on=paid_on, scheme=scheme)
    if not r.carried:
        r.body_hash = row_hash(r, memo["amount_text"])
    return r


def row_hash(r: PaymentRow, amounts: dict | None = None) -> str:
    """The row's content, canonical: the same row imported again hashes the same (fields
    joined by a separator no checked cell holds).  ``amounts``: each amount's text by value,
    kept by the caller for a file (a file repeats a handful; equal amounts have one text,
    unlike equal times in two offsets, whose texts differ and are not memoised)."""
    amount = amounts[r.amount] if amounts is not None else _amount_text(r.amount)
    text = "\x1f".join(("import_payments", r.channel, r.txn_id, r.id_number, r.name, str(r.year), amount,
                        r.paid_at.isoformat(), r.payer_kind, r.payer_id, r.payer_name))
    if r.scheme != RESIDENT:  # a resident row hashes as before the column existed
        text += "\x1f" + r.scheme
    return hashlib.sha256(text.encode()).hexdigest()


def _amount_text(amount: Decimal) -> str:
    return f"{amount:.2f}"


_YEAR = re.compile(r"\d{4}")


def _year(text: str) -> int | None:
    return int(text) if _YEAR.fullmatch(text) else None


def scheme_names() -> dict[str, str]:
    """The 险种 cells understood, to the scheme's code: empty or 城乡居民 (and its longer
    names) the resident scheme; each registered scheme by its code or its label."""
    names = dict.fromkeys(RESIDENT_NAMES, RESIDENT)
    for h in handlers():
        names[h.code] = names[h.label] = h.code
    return names


def scheme_label(code: str) -> str:
    return next((h.label for h in handlers() if h.code == code), code)


def scheme_column_help() -> str:
    """What the 险种 column takes, in words (the admin page and the command's help)."""
    others = "".join(f"；“{h.label}”（或 {h.code}）为{h.label}" for h in handlers())
    return f"{SCHEME_COLUMN}（可选列）：空或“城乡居民”为城乡居民医保{others}；原系统结转只适用于城乡居民医保"


def _scheme_reader() -> Callable[[str], str]:
    names = scheme_names()
    accepted = "、".join(("城乡居民", *(n for h in handlers() for n in (h.label, h.code))))

    def scheme_of(text: str) -> str:
        code = names.get(plain(text))
        if code is None:
            raise ValueError(f"未知险种 {echo(plain(text))}，应为空或 {accepted} 之一")
        return code
    return scheme_of


def _name(text: str) -> tuple[str, str | None]:
    """The name of a cell and check_name's reason against it (None: fine)."""
    found = []
    name = check_name({"姓名": text}, found, 0)
    return name, (found[0].reason if found else None)


def check_rows(table: Table, today: date, progress=None) -> tuple[list[PaymentRow], list[RowError]]:
    errors = cell_errors(table)
    bad_cells = {e.row for e in errors}
    rows, first = [], {}
    total = len(table.rows)
    memo = {"channel": _Memo(channel_code), "amount": _Memo(parse_sheet_amount), "time": _Memo(parse_moment),
            "name": _Memo(_name), "year": _Memo(_year), "day": _Memo(lambda at: at.astimezone(SHANGHAI).date()),
            "amount_text": _Memo(_amount_text), "scheme": _Memo(_scheme_reader())}
    for i, (number, values) in enumerate(table.rows, 1):
        r = None if number in bad_cells else _check_row(number, values, today, errors, memo)
        if r is not None:
            earlier = first.setdefault((r.channel, r.txn_id), r)
            if earlier is not r:
                if (earlier.body_hash, earlier.id_number, earlier.year, earlier.amount) == (
                        r.body_hash, r.id_number, r.year, r.amount):
                    r.same_as = earlier.row
                else:
                    errors.append(error_of(r, "idempotency_conflict",
                                           f"与第 {earlier.row} 行渠道和交易流水号相同而内容不同"))
            if r is not None:
                rows.append(r)
        if progress and (i % 5000 == 0 or i == total):
            progress("检查", i, total)
    return rows, errors


# --- the import ------------------------------------------------------------------------


def import_payments(data: bytes, filename: str, **kwargs) -> PaymentImportResult:
    table = read_table(data, filename, required=PAYMENT_REQUIRED, optional=PAYMENT_OPTIONAL)
    return import_payments_table(table, **kwargs)


def import_payments_table(table: Table, *, skip_invalid: bool = False, dry_run: bool = False, actor=None,
                          user=None, today: date | None = None,
                          progress: Callable[[str, int, int], None] | None = None) -> PaymentImportResult:
    from .import_write import land_rows

    today = today or clock.today()
    result = PaymentImportResult(total_rows=len(table.rows), dry_run=dry_run)
    rows, errors = check_rows(table, today, progress)
    actor = actor if actor is not None else user
    try:
        with transaction.atomic(), audit_context(actor, action="import_payments"):
            land_rows(rows, errors, actor=acting_user(actor) or actor, progress=progress,
                      codes=user_codes(user) if acting_user(user) is not None else None)
            errors.sort(key=lambda e: (e.row, e.column))
            if (errors and not skip_invalid) or dry_run:
                raise Rollback
    except Rollback:
        pass
    result.errors = errors
    result.rows = rows
    report_errors(progress, errors, len(table.rows))
    if errors and not skip_invalid:
        result.rejected = True
        return result
    counts = defaultdict(int)
    for r in rows:
        counts[r.outcome] += 1
    result.paid, result.unchanged, result.already_paid = counts["paid"], counts["unchanged"], counts["already_paid"]
    return result


def error_of(r: PaymentRow, code: str, message: str) -> RowError:
    r.outcome, r.code = "error", code
    column = "待遇年度" if r.carried and code in ("already_paid", "already_enrolled") else COLUMN_OF.get(code, "待遇年度")
    return RowError(r.row, column, message)
