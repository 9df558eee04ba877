"""Recording payments: one path for the channel API, the import, the admin and the demo.

``payment_record`` does, in one transaction:

1. takes an advisory lock on (channel, txn_id), so the same transaction posted many
   times at once is decided once; a txn already recorded answers with its first answer
   (same body) or ``idempotency_conflict`` (another body);
2. finds the person and their enrollment for the year and locks the enrollment row;
3. an enrollment already paid: the money has arrived all the same — it is recorded as a
   ``duplicate`` and a refund is queued; the caller hears ``already_paid``;
4. checks the channel rules of the region (days of the month; cash on working days) and
   prices the enrollment with the rules *at the payment date*: the amount must equal
   what is due then;
5. inserts the ledger record and writes the enrollment's paid columns from the same answer.

The enrollment's paid columns are a cache of the ledger; ``ledger_check`` proves it.

``scheme``: a payment of another scheme than the resident one (``flexible_employment``,
灵活就业人员医疗保险) takes the same steps through that scheme's registered handler
(``payments.schemes``: payments may not import the scheme's app, which sits above it);
the ledger row names the scheme and the scheme's enrollment, and the handler writes that
enrollment's paid columns and its link to the row in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from core import clock
from core.audit import audit_context
from core.audit_actor import acting_user
from enrollment import idnumbers
from enrollment.models import Enrollment, EnrollmentStatus, PaidVia, Resident
from enrollment.selectors import PersonFacts, quote_request_of, year_enrollment
from enrollment.services import EnrollmentError, fill_paid, run_quote, spec_for

from .bulk import PAID_COLUMNS
from .models import CHANNEL_ALIASES, Channel, PayerKind, Payment, Refund
from .schemes import RESIDENT, scheme_handler

SHANGHAI = ZoneInfo("Asia/Shanghai")
API_CHANNELS = tuple(c for c in Channel.values if c not in ("refund", "carried_over"))
PAID_VIA = {"family_pool": PaidVia.FAMILY_POOL, "assistance": PaidVia.ASSISTANCE,
            "collective": PaidVia.COLLECTIVE}


class PaymentError(EnrollmentError):
    """A refusal with a code of the contract (INTERFACES.md §5) and a plain Chinese message."""


class Recorded:
    """The answer to a payment: ``status`` (the HTTP status: 201 new, 200 repeated, 409 already
    paid), ``body`` (the JSON answer), ``repeated``; ``payment``, the ledger row, is read
    when asked for (the channel API never asks) when only its id is given."""

    __slots__ = ("status", "body", "repeated", "payment_id", "_payment")

    def __init__(self, status: int, body: dict, payment: Payment | None = None, repeated: bool = False, *,
                 payment_id: int | None = None):
        self.status, self.body, self.repeated = status, body, repeated
        self._payment = payment
        self.payment_id = payment.pk if payment is not None else payment_id

    @property
    def payment(self) -> Payment | None:
        if self._payment is None and self.payment_id is not None:
            self._payment = Payment.objects.get(pk=self.payment_id)
        return self._payment

    def __repr__(self) -> str:
        return f"Recorded(status={self.status}, body={self.body!r}, payment_id={self.payment_id}, " \
               f"repeated={self.repeated})"


def channel_code(value) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text in Channel.values:
        return text
    return CHANNEL_ALIASES.get(text)


_AMOUNT = re.compile(r"[0-9]{1,8}(\.[0-9]{1,2})?")
_PAID_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
                      r"(Z|[+-][0-9]{2}:?[0-9]{2})?")


def parse_amount(value) -> Decimal:
    """Money as a plain decimal string with at most two decimals ("400.00", "400") in ASCII
    digits, or an integer; never a float, an exponent, a sign or other digits."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise PaymentError("invalid_input", "amount 应为金额字符串，如 \"400.00\"")
    text = str(value)
    if not _AMOUNT.fullmatch(text):
        raise PaymentError("invalid_input", f"amount 应为不小于 0、最多两位小数的金额，如 \"400.00\"，收到 {text[:30]!r}")
    return Decimal(text).quantize(Decimal("0.01"))


_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]{1,2})?")


def parse_sheet_amount(text: str) -> Decimal:
    """An amount as a spreadsheet shows it: what ``parse_amount`` takes, or the same with
    thousands separators where they belong (1,000.00 — how a spreadsheet formats money;
    1,00.00 is refused).  The API keeps the plain form."""
    text = str(text)
    return parse_amount(text.replace(",", "") if _GROUPED.fullmatch(text) else text)


def parse_paid_at(value) -> datetime:
    """ISO 8601; without an offset read as Beijing time.  Not after the business day."""
    if not isinstance(value, str) or not _PAID_AT.fullmatch(value.strip()):
        raise PaymentError("invalid_input", "paid_at 应为 ISO 8601 日期时间，如 2026-01-10T10:30:00+08:00，"
                                            f"收到 {str(value)[:40]!r}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PaymentError("invalid_input", f"paid_at 不是有效时间：{value[:40]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    if not 1900 <= moment.year <= 2200:
        raise PaymentError("invalid_input", "paid_at 年份超出范围")
    if local_day(moment) > clock.today():
        raise PaymentError("invalid_input", f"paid_at {value[:40]} 晚于今天（{clock.today().isoformat()}）")
    return moment


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def request_hash(fields: dict) -> str:
    """The body that identifies a request, canonical: the same payment posted again hashes the same."""
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _lock_txn(channel: str, txn_id: str) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('payment:' || %s || ':' || %s))", [channel, txn_id])


def check_channel_rules(spec, channel: str, day: date) -> None:
    """The region's rules on when a channel takes money (003 §三(一): days 1–25; cash on
    working days)."""
    lo, hi = spec.payment_day_from, spec.payment_day_to
    if (lo is not None and day.day < lo) or (hi is not None and day.day > hi):
        raise PaymentError("payment_day_not_allowed",
                           f"{spec.region_name}每月 {lo or 1} 日至 {hi or 31} 日办理缴费，{day.isoformat()} 不能缴费")
    if channel == Channel.CASH and getattr(spec, "cash_working_days_only", False):
        from core import workdays

        try:
            workday = workdays.is_workday(day)
        except workdays.WorkdayUnknown as exc:
            raise PaymentError("workday_unknown", str(exc)) from None
        if not workday:
            raise PaymentError("payment_day_not_allowed",
                               f"{spec.region_name}现金缴费仅限工作日，{day.isoformat()} 不是工作日")


def payment_record(*, channel: str, txn_id: str, id_number: str, name: str, year: int, amount: Decimal,
                   paid_at: datetime, actor, payer_kind: str = PayerKind.SELF, payer_id: str = "",
                   payer_name: str = "", body_hash: str = "", note: str = "",
                   check_name: bool = True, course_years: int = 1, priced_on: date | None = None,
                   scheme: str = RESIDENT) -> Recorded:
    """Record a payment (see the module's docstring); raises PaymentError with the contract's code.

    ``course_years`` > 1: a college student pays the whole course at once where the policy
    allows it (吕梁 003 §三(二)): the amount is that many years at this year's price; the
    following years are paid at it too (no top-up when the standard rises) — each year an
    enrollment of its own with its own ledger record (``txn_id#year``), so that a student
    leaving is refunded the remaining whole years (payments.refunds).

    ``priced_on``: the date the rules price the payment at, when it is not the day the money
    moves — the December pool deduction is the premium the organizer committed by the
    cut-off (004: 12-20 17:00), deducted from 12-21: priced on the cut-off day, inside the
    window, not as a late payment."""
    if not isinstance(course_years, int) or isinstance(course_years, bool) or not 1 <= course_years <= 8:
        raise PaymentError("invalid_input", "course_years 应为 1 至 8 的整数（学制年数）")
    if course_years > 1 and len((txn_id or "").strip()) > 58:
        raise PaymentError("invalid_input", "按学制缴费时 txn_id 不超过 58 个字符")
    if channel not in API_CHANNELS:
        raise PaymentError("invalid_input", f"未知缴费渠道 {str(channel)[:30]!r}")
    txn_id = (txn_id or "").strip()
    if not txn_id or len(txn_id) > 64 or not txn_id.isprintable():
        raise PaymentError("invalid_input", "txn_id 应为 1–64 个可见字符")
    try:
        number = idnumbers.parse(id_number, place_check=False).number  # warnings unused here
    except idnumbers.IdNumberError as exc:
        raise PaymentError("invalid_input", f"id_number: {exc}") from None
    paid_on = local_day(paid_at)
    if scheme != RESIDENT:
        handler = scheme_handler(scheme) if isinstance(scheme, str) else None
        if handler is None:
            raise PaymentError("invalid_input", f"未知险种 {str(scheme)[:30]!r}，应为 resident 或已登记的险种")
        if course_years != 1 or priced_on is not None:
            raise PaymentError("invalid_input", f"{handler.label}不适用按学制一次性缴费")
        return _record_scheme(handler, channel=channel, txn_id=txn_id, number=number, name=name, year=year,
                              amount=amount, paid_at=paid_at, paid_on=paid_on, actor=actor,
                              payer=(payer_kind, payer_id, payer_name), body_hash=body_hash, note=note,
                              check_name=check_name)
    with transaction.atomic(), audit_context(actor, action="payment_record", channel=channel, txn_id=txn_id):
        earlier = _lock_and_find(channel, txn_id)
        if earlier is not None:
            return _repeated_or_conflict(earlier, channel, txn_id, body_hash, note=note,
                                         content=_content(number, year, amount, paid_at, RESIDENT))
        found = year_enrollment(number, year, lock=True)  # the enrollment row locked FOR UPDATE
        if found is None:
            raise PaymentError("not_registered", "未找到该参保人的参保登记")
        if check_name and (name or "").strip() != found.name:
            raise PaymentError("name_mismatch", "姓名与身份证号码不符")
        if found.enrollment_id is None:
            raise PaymentError("not_registered", f"未找到 {year} 年度的参保登记，请先登记参保")
        user = acting_user(actor)
        common = dict(channel=channel, txn_id=txn_id, enrollment_id=found.enrollment_id, id_number=number,
                      name=found.name, region_id=found.region_id, year=year, amount=amount, paid_at=paid_at,
                      paid_on=paid_on, payer_kind=payer_kind, payer_id=payer_id[:64], payer_name=payer_name[:100],
                      request_hash=body_hash, recorded_at=clock.now(), recorded_by=user,
                      actor="" if user is not None else str(actor or "")[:200], note=note[:200])
        if found.status == EnrollmentStatus.PAID:
            # The money arrived all the same: kept, and queued to go back.
            body = {"error": {"code": "already_paid", "message": (
                f"{year} 年度已缴费；本笔 {amount:.2f} 元已记录并列入退费" if amount > 0
                else f"{year} 年度已缴费；本笔 0.00 元已记录")}}
            p = Payment.objects.create(outcome=Payment.Outcome.DUPLICATE, response=body, response_status=409,
                                       **common)
            if amount > 0:
                Refund.objects.create(enrollment_id=found.enrollment_id, source_payment=p, id_number=number,
                                      name=found.name, region_id=found.region_id, year=year,
                                      reason=Refund.Reason.DUPLICATE, amount=amount, requested_by=None,
                                      requested_actor=f"系统：{channel} {txn_id} 重复缴费")
            return Recorded(status=409, body=body, payment=p)
        if found.region_id != found.facts.region_id:
            raise PaymentError("region_mismatch",
                               f"{year} 年度登记的参保地与参保人现参保地不一致，请先办理参保人信息变更")
        spec = spec_for(found.region_id, year)
        check_channel_rules(spec, channel, paid_on)
        result = run_quote(spec, quote_request_of(found.facts, year, priced_on or paid_on))
        if course_years > 1:
            _check_course(spec, found.facts, year, course_years)
        if amount != result.amount_due * course_years:
            per = f"（{course_years} 年 × {result.amount_due} 元）" if course_years > 1 else ""
            raise PaymentError("amount_mismatch",
                               f"应缴 {result.amount_due * course_years} 元{per}，实缴 {amount:.2f} 元，金额不符")
        # The first answer is part of the (append-only) record: it names the row's own id.
        answer = {"status": "paid",
                  "benefit_start": result.benefit_start.isoformat() if result.benefit_start else None}
        if course_years > 1:
            answer["course_years"] = list(range(year, year + course_years))
            common["amount"] = result.amount_due
        pk = _insert_applied(common, answer)
        body = {"payment_id": pk, **answer}
        _set_paid(found.enrollment_id, result, amount=result.amount_due, paid_on=paid_on, paid_at=paid_at,
                  paid_via=PAID_VIA.get(channel, PaidVia.CHANNEL))
        if course_years > 1:
            first = Enrollment.objects.get(pk=found.enrollment_id)
            for later in range(year + 1, year + course_years):
                _course_year(first, result, later, common)
        return Recorded(status=201, body=body, payment_id=pk)


def _repeated_or_conflict(earlier: tuple, channel: str, txn_id: str, body_hash: str, *,
                          content: tuple | None = None, note: str = "") -> Recorded:
    """The first answer when the request is the one recorded, else ``idempotency_conflict``.

    The same request hashes the same on one path; the channel API and ``import_payments``
    hash differently (a file's row has its collector, a request its payer), so a transaction
    one of them recorded and the other brings again is compared by its content instead —
    person, year, amount, moment and scheme — as INTERFACES.md §4 has it ("idempotent on
    渠道+交易流水号", a row "already recorded with the same content is unchanged")."""
    pk, earlier_hash, response, response_status, *stored = earlier
    same = bool(body_hash) and earlier_hash == body_hash
    if not same and body_hash and content is not None and stored:
        *recorded, earlier_note = stored
        across = IMPORT_NOTE in (note, earlier_note) and note != earlier_note
        same = across and tuple(recorded) == content
    if same:
        return Recorded(status=200 if response_status == 201 else response_status, body=response,
                        payment_id=pk, repeated=True)
    raise PaymentError("idempotency_conflict", f"渠道 {channel} 的交易流水号 {txn_id} 已用于另一笔不同内容的缴费")


def _content(number: str, year: int, amount: Decimal, paid_at: datetime, scheme: str) -> tuple:
    """What a payment is, as ``_lock_and_find`` reads it back after the first answer."""
    return (Payment.Kind.PAYMENT.value, number, year, amount, paid_at, scheme)


def _record_scheme(handler, *, channel: str, txn_id: str, number: str, name: str, year: int, amount: Decimal,
                   paid_at: datetime, paid_on: date, actor, payer: tuple, body_hash: str, note: str,
                   check_name: bool) -> Recorded:
    """``payment_record`` for a scheme of ``payments.schemes`` (the module's docstring): the
    same lock and idempotency, the same refusals, a duplicate kept and queued for refund."""
    with transaction.atomic(), audit_context(actor, action="payment_record", channel=channel, txn_id=txn_id,
                                             scheme=handler.code):
        earlier = _lock_and_find(channel, txn_id)
        if earlier is not None:
            return _repeated_or_conflict(earlier, channel, txn_id, body_hash, note=note,
                                         content=_content(number, year, amount, paid_at, handler.code))
        found = handler.find(number, year, lock=True)  # the scheme's enrollment row locked FOR UPDATE
        if found is None:
            raise PaymentError("not_registered", "未找到该参保人的参保登记")
        person_name, e = found
        if check_name and (name or "").strip() != person_name:
            raise PaymentError("name_mismatch", "姓名与身份证号码不符")
        if e is None:
            raise PaymentError("not_registered", f"未找到 {year} 年度的{handler.label}登记，请先登记参保")
        user = acting_user(actor)
        payer_kind, payer_id, payer_name = payer
        common = dict(channel=channel, txn_id=txn_id, enrollment_id=None, scheme=handler.code,
                      scheme_enrollment_id=e.key, id_number=number, name=person_name, region_id=e.region_id,
                      year=year, amount=amount, paid_at=paid_at, paid_on=paid_on, payer_kind=payer_kind,
                      payer_id=payer_id[:64], payer_name=payer_name[:100], request_hash=body_hash,
                      recorded_at=clock.now(), recorded_by=user,
                      actor="" if user is not None else str(actor or "")[:200], note=note[:200])
        if e.paid:
            body = {"error": {"code": "already_paid", "message": (
                f"{year} 年度{handler.label}已缴费；本笔 {amount:.2f} 元已记录并列入退费" if amount > 0
                else f"{year} 年度{handler.label}已缴费；本笔 0.00 元已记录")}}
            p = Payment.objects.create(outcome=Payment.Outcome.DUPLICATE, response=body, response_status=409,
                                       **common)
            if amount > 0:
                Refund.objects.create(enrollment_id=None, source_payment=p, id_number=number, name=person_name,
                                      region_id=e.region_id, year=year, reason=Refund.Reason.DUPLICATE,
                                      amount=amount, requested_by=None,
                                      requested_actor=f"系统：{channel} {txn_id} 重复缴费")
            return Recorded(status=409, body=body, payment=p)
        check_channel_rules(spec_for(e.region_id, year), channel, paid_on)
        due = handler.price(e, paid_on)
        if amount != due.amount_due:
            raise PaymentError("amount_mismatch", f"应缴 {due.amount_due} 元，实缴 {amount:.2f} 元，金额不符")
        answer = {"status": "paid", "benefit_start": due.benefit_start.isoformat() if due.benefit_start else None,
                  "scheme": handler.code}
        if due.certificate_from is not None:
            answer["certificate_from"] = due.certificate_from.isoformat()
        pk = _insert_applied(common, answer)
        handler.mark_paid(e, due, payment_id=pk, amount=amount, paid_on=paid_on, paid_at=paid_at)
        return Recorded(status=201, body={"payment_id": pk, **answer}, payment_id=pk)


_EARLIER = f"SELECT id, request_hash, response, response_status, kind, id_number, year, amount, paid_at, scheme, " \
           f"note FROM {Payment._meta.db_table} WHERE channel = %s AND txn_id = %s"
# The note import_payments writes on its rows (payments.import_write.NOTE, which imports this module).
IMPORT_NOTE = "批量导入（import_payments）"
# Two statements in one round trip: the simple query protocol (the driver binds parameters
# client-side) runs each with a snapshot of its own, so the read sees a payment that the
# holder of the lock the first statement waited for has committed — as two round trips did.
_LOCK_AND_FIND = "SELECT pg_advisory_xact_lock(hashtext('payment:' || %s || ':' || %s)); " + _EARLIER


def _lock_and_find(channel: str, txn_id: str) -> tuple | None:
    """Take the transaction's lock on (channel, txn_id) (``_lock_txn``), then read (id,
    request hash, first answer, its status, then kind, ID number, year, amount, time, scheme
    and note) of the payment already recorded under them, or None."""
    with connection.cursor() as cur:
        cur.execute(_LOCK_AND_FIND, [channel, txn_id, channel, txn_id])
        while cur.nextset():  # to the last statement's rows (pghistory's wrapper may be there already)
            pass
        row = cur.fetchone()
    if row is not None and isinstance(row[2], str):  # jsonb comes as text (Django's loader)
        row = (row[0], row[1], json.loads(row[2]), *row[3:])
    return row


_INSERT_COLUMNS = ("kind", "outcome", "response_status", "channel", "txn_id", "enrollment_id", "id_number", "name",
                   "region_id", "year", "amount", "paid_at", "paid_on", "payer_kind", "payer_id", "payer_name",
                   "request_hash", "recorded_at", "recorded_by_id", "actor", "note", "scheme",
                   "scheme_enrollment_id")
# The id from the sequence and the first answer naming it, in the one statement that inserts.
_INSERT_APPLIED = (
    f"WITH n AS (SELECT nextval(pg_get_serial_sequence('{Payment._meta.db_table}', 'id')) AS id) "
    f"INSERT INTO {Payment._meta.db_table} (id, response, {', '.join(_INSERT_COLUMNS)}) "
    "SELECT n.id, jsonb_build_object('payment_id', n.id) || %s::jsonb, "
    + ", ".join("%s" for _ in _INSERT_COLUMNS) + " FROM n RETURNING id")


def _insert_applied(common: dict, answer: dict) -> int:
    """The applied ledger record (what ``Payment.objects.create`` wrote), its first answer
    ``{"payment_id": id, **answer}``, by one raw statement; its id."""
    values = {"scheme": RESIDENT, "scheme_enrollment_id": None, **common, "kind": Payment.Kind.PAYMENT.value,
              "outcome": Payment.Outcome.APPLIED.value, "response_status": 201}
    user = values.pop("recorded_by")
    values["recorded_by_id"] = user.pk if user is not None else None
    with connection.cursor() as cur:
        cur.execute(_INSERT_APPLIED, [json.dumps(answer), *(values[c] for c in _INSERT_COLUMNS)])
        while cur.nextset():  # past pghistory's set_config, when it was not already
            pass
        return cur.fetchone()[0]


_SET_PAID = (f"UPDATE {Enrollment._meta.db_table} SET status = %s, updated_at = %s, "
             + ", ".join(f"{c} = %s" for c, _ in PAID_COLUMNS) + " WHERE id = %s")


def _set_paid(enrollment_id: int, result, *, amount: Decimal, paid_on: date, paid_at: datetime,
              paid_via: str) -> None:
    """The enrollment's paid columns as ``fill_paid`` sets them (the one rule), written by one
    UPDATE (the row is locked; its statement-level audit trigger records this block's
    ``audit_context``), as payments.bulk writes them for many."""
    scratch = Enrollment()
    fill_paid(scratch, result, amount=amount, paid_on=paid_on, paid_at=paid_at, paid_via=paid_via)
    with connection.cursor() as cur:
        cur.execute(_SET_PAID, [scratch.status, timezone.now(), *(getattr(scratch, c) for c, _ in PAID_COLUMNS),
                                enrollment_id])


def _check_course(spec, person: PersonFacts, year: int, years: int) -> None:
    if not spec.college_course_prepay:
        raise PaymentError("invalid_input", f"{spec.region_name} {year} 年度政策没有按学制一次性缴费的规定")
    if person.student != "college":
        raise PaymentError("invalid_input", "仅高校学生可按学制一次性缴纳居民医保费用")
    taken = list(Enrollment.objects.filter(resident_id=person.resident_id, year__gt=year, year__lt=year + years,
                                           status=EnrollmentStatus.PAID).values_list("year", flat=True))
    if taken:
        raise PaymentError("already_paid", f"{'、'.join(map(str, sorted(taken)))} 年度已缴费，不能按学制重复缴纳")


def _course_year(first: Enrollment, result, year: int, common: dict) -> None:
    """A later year of a course paid at once: its enrollment (registered already, or new),
    paid at the first year's price, benefits for the whole year, and its ledger record."""
    from enrollment.writer import EnrollmentRow, enrollments_insert

    e = (Enrollment.objects.select_for_update().filter(resident_id=first.resident_id, year=year)
         .exclude(status=EnrollmentStatus.CANCELLED).first())
    if e is None:
        enrollments_insert([EnrollmentRow(
            resident_id=first.resident_id, year=year, region_id=first.region_id, category=result.category,
            amount_due=result.amount_due, registered_via="school", personal_standard=result.personal_standard,
            fiscal_subsidy=result.fiscal_subsidy, timing="window")])
        e = Enrollment.objects.select_for_update().get(resident_id=first.resident_id, year=year,
                                                        status=EnrollmentStatus.REGISTERED)
    e.status = EnrollmentStatus.PAID
    e.amount_due = e.paid_amount = result.amount_due
    e.paid_on, e.paid_at, e.paid_via = first.paid_on, first.paid_at, first.paid_via
    e.benefit_start, e.benefit_end = date(year, 1, 1), date(year, 12, 31)
    e.waiting_months = e.waiting_days = 0
    e.save()
    Payment.objects.create(**{**common, "txn_id": f"{common['txn_id']}#{year}", "enrollment_id": e.pk, "year": year,
                              "amount": result.amount_due, "request_hash": "",
                              "note": f"按学制一次性缴费（{first.year} 年度起）"},
                           outcome=Payment.Outcome.APPLIED, response=None, response_status=None)


def _next_id() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT nextval(pg_get_serial_sequence('payments_payment', 'id'))")
        return cur.fetchone()[0]


# --- the ledger and the enrollments agree ------------------------------------------------


_DISAGREE = """
SELECT e.id, e.status, e.paid_amount, p.amount, p.n
FROM enrollment_enrollment e
LEFT JOIN (SELECT enrollment_id, sum(amount) AS amount, count(*) AS n FROM payments_payment
           WHERE outcome = 'applied' GROUP BY enrollment_id) p ON p.enrollment_id = e.id
WHERE e.status <> 'cancelled' AND (
  (e.status = 'paid' AND p.n IS NULL AND NOT (e.registered_via = 'newborn' AND e.paid_amount = 0))
  OR (e.status = 'paid' AND p.n IS NOT NULL AND e.paid_amount IS DISTINCT FROM p.amount)
  OR (e.status = 'registered' AND p.n IS NOT NULL))
ORDER BY e.id LIMIT %s"""


def ledger_check(limit: int = 100) -> list[tuple]:
    """Enrollments whose paid columns disagree with the ledger (empty when all agree):
    paid without a payment (a newborn not charged in the birth year excepted), a paid
    amount other than the payment's, or a payment on an unpaid enrollment; then each
    registered scheme's own disagreements (``payments.schemes``: for the flexible scheme a
    paid enrollment without its linked payment or with another amount or date, an unpaid one
    holding a payment, an applied payment no enrollment links to), each row led by the
    scheme's code."""
    from .schemes import handlers

    with connection.cursor() as cur:
        cur.execute(_DISAGREE, [limit])
        rows = cur.fetchall()
    for handler in handlers():
        rows += handler.disagreements(limit)
    return rows[:limit]


# --- carried over from an earlier system ---------------------------------------------------


def payment_carry_over(*, resident: Resident, year: int, region: str, amount: Decimal, paid_at: datetime,
                       txn_id: str, actor, category: str = "resident") -> Recorded:
    """A past year paid in the bureau's earlier system, carried over so that continuity and
    waiting are right from day one: the enrollment (paid, benefits for the whole year as
    the earlier system granted them) and its ledger record, channel ``carried_over``.
    Not priced by today's rules (the year's policy may not even be in this system).
    Idempotent on the transaction id; a year already held here is ``already_paid``."""
    from enrollment.writer import EnrollmentRow, enrollments_insert

    paid_on = local_day(paid_at)
    if year >= clock.today().year + 1:
        raise PaymentError("invalid_input", f"结转只适用于以往年度，{year} 年度请按正常缴费办理")
    with transaction.atomic(), audit_context(actor, action="payment_carry_over"):
        _lock_txn(Channel.CARRIED_OVER, txn_id)
        earlier = Payment.objects.filter(channel=Channel.CARRIED_OVER, txn_id=txn_id).first()
        if earlier is not None:
            same = (earlier.id_number, earlier.year, earlier.amount) == (resident.id_number, year, amount)
            if same:
                return Recorded(status=200, body=earlier.response, payment=earlier, repeated=True)
            raise PaymentError("idempotency_conflict", f"结转流水号 {txn_id} 已用于另一笔记录")
        held = Enrollment.objects.select_for_update().filter(resident=resident, year=year).exclude(
            status=EnrollmentStatus.CANCELLED).first()
        if held is not None and held.status == EnrollmentStatus.PAID:
            raise PaymentError("already_paid", f"{year} 年度已有缴费记录")
        if held is not None:
            raise PaymentError("already_enrolled", f"{year} 年度已登记待缴费，请按正常缴费办理")
        user = acting_user(actor)
        inserted = enrollments_insert([EnrollmentRow(
            resident_id=resident.pk, year=year, region_id=region, category=category, amount_due=amount,
            registered_via="community", status="paid", paid_amount=amount, paid_on=paid_on, paid_at=paid_at,
            paid_via=PaidVia.CHANNEL, benefit_start=date(year, 1, 1), benefit_end=date(year, 12, 31),
            registered_by_id=user.pk if user else None)])
        enrollment_id = inserted[0].id if inserted else None
        if enrollment_id is None:
            raise PaymentError("already_enrolled", f"{year} 年度已登记")
        pk = _next_id()
        body = {"payment_id": pk, "status": "paid", "benefit_start": date(year, 1, 1).isoformat()}
        p = Payment.objects.create(
            pk=pk, channel=Channel.CARRIED_OVER, txn_id=txn_id, enrollment_id=enrollment_id,
            id_number=resident.id_number, name=resident.name, region_id=region, year=year, amount=amount,
            paid_at=paid_at, paid_on=paid_on, outcome=Payment.Outcome.APPLIED, response=body,
            response_status=201, recorded_at=clock.now(), recorded_by=user,
            actor="" if user is not None else str(actor or "")[:200], note="原系统结转")
        return Recorded(status=201, body=body, payment=p)
