"""The set-based half of ``import_payments`` (see ``payments.imports``): deciding each row
as ``payment_record`` would and writing the ledger, the enrollments' paid columns and the
refund queue in bulk, inside the import's transaction.  Rows of another scheme (the 险种
column, ``payments.schemes``) are not decided here but by ``payment_record`` itself, row by
row (``_land_scheme_rows``): the set-based path takes the resident rows only."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import connection

from core import clock
from core.audit_actor import acting_user
from enrollment.imports.common import HELD_ELSEWHERE, RowError
from enrollment.models import Enrollment, EnrollmentStatus, PaidVia, Resident
from enrollment.pricing import SpecCache
from enrollment.selectors import PersonFacts, joined, quote_requests_for
from enrollment.services import EnrollmentError
from policy.rules import QuoteError
from subsidies.quote_memo import ClassQuoteMemo

from .bulk import CopyText, PaidColumns, applied_body, next_payment_ids, write_applied
from .imports import PaymentRow, error_of
from .models import Payment, Refund
from .schemes import RESIDENT, scheme_handler
from .services import PAID_VIA, PaymentError, check_channel_rules, payment_carry_over, payment_record

PRICE_CHUNK = 5000
NOTE = "批量导入（import_payments）"
SEP = "\x1f"  # between transaction ids in one parameter: never in a (printable) txn id

_EARLIER_SQL = f"""
SELECT p.channel, p.txn_id, p.request_hash, p.id_number, p.year, p.amount, p.kind, p.paid_at, p.scheme, p.note
FROM unnest(string_to_array(%s, '{SEP}'), string_to_array(%s, '{SEP}')) AS t(c, x)
JOIN {Payment._meta.db_table} p ON p.channel = t.c AND p.txn_id = t.x"""
_RESIDENTS_SQL = f"""
SELECT r.id_number, r.id, r.name, r.region_id, r.birth_date, r.hukou, r.residence_permit,
       r.residence_permit_expires_on, r.student
FROM unnest(string_to_array(%s, ',')) AS t(n) JOIN {Resident._meta.db_table} r ON r.id_number = t.n"""
_ENROLLMENTS_SQL = f"""
SELECT e.id, e.resident_id, e.year, e.status, e.region_id, e.nonlocal_via_parent_permit
FROM {Enrollment._meta.db_table} e
JOIN unnest(string_to_array(%s, ',')::bigint[], string_to_array(%s, ',')::int[]) AS t(rid, y)
  ON e.resident_id = t.rid AND e.year = t.y
WHERE e.status <> 'cancelled' ORDER BY e.id FOR UPDATE OF e"""

@dataclass(slots=True)
class Held:
    """An enrollment the file pays (locked for the import's transaction)."""

    id: int
    status: str
    region_id: str
    via_parent_permit: bool


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def land_rows(rows: list[PaymentRow], errors: list[RowError], *, actor, progress=None, codes=None) -> None:
    """Decide and write every row (``outcome``/``code`` set on each; refusals added to ``errors``).
    ``codes``: the regions of the caseworker importing (None: all) — a person of another
    region is refused without telling where they are held."""
    total = len(rows)
    _land_scheme_rows([r for r in rows if r.scheme != RESIDENT and r.same_as is None and not r.outcome], errors,
                      actor=actor, codes=codes)
    live = [r for r in rows if r.same_as is None and not r.outcome and r.scheme == RESIDENT]
    _earlier(live, errors)
    live = [r for r in live if not r.outcome]
    people = _residents(live)
    for r in live:
        p = people.get(r.id_number)
        if p is None:
            errors.append(error_of(r, "not_registered", "未找到该参保人的参保登记"))
        elif codes is not None and p[2] not in codes:
            errors.append(error_of(r, "not_registered", HELD_ELSEWHERE))
        elif r.name != p[1]:
            errors.append(error_of(r, "name_mismatch", "姓名与身份证号码不符"))
    _carry_over([r for r in live if r.carried and not r.outcome], people, errors, actor)
    todo = [r for r in live if not r.outcome]
    held = _enrollments(todo, people)
    done = total - len(todo)
    for year in sorted({r.year for r in todo}):
        pending = [r for r in todo if r.year == year]
        applied, duplicates = [], []
        while pending:  # rounds: one row per enrollment each, in file order
            batch, later, seen = [], [], set()
            for r in pending:
                e = held.get((people[r.id_number][0], year))
                if e is None:
                    errors.append(error_of(r, "not_registered", f"未找到 {year} 年度的参保登记，请先登记参保"))
                elif e.status == EnrollmentStatus.PAID:
                    r.outcome = "already_paid"
                    duplicates.append((r, e))
                elif e.id in seen:
                    later.append(r)
                elif e.region_id != people[r.id_number][2]:
                    errors.append(error_of(r, "region_mismatch", f"{year} 年度登记的参保地与参保人现参保地不一致，"
                                                                 "请先办理参保人信息变更"))
                else:
                    seen.add(e.id)
                    batch.append((r, e))
            applied += _price(batch, year, people, errors)
            pending = later
        _write(applied, duplicates, people, actor)
        done += sum(1 for r in todo if r.year == year)
        if progress:
            progress("写入", done, total)
    by_row = {r.row: r for r in rows}
    for r in rows:
        if r.same_as is not None:
            _follow(r, by_row[r.same_as], errors)


def _land_scheme_rows(rows: list[PaymentRow], errors: list[RowError], *, actor, codes) -> None:
    """Rows of another scheme: each through ``payment_record(..., scheme=…)`` exactly as the
    channel API's payment with ``scheme`` (its advisory lock, idempotency on channel + txn id
    with the row's hash, refusals and codes, a duplicate kept and queued for refund), in a
    savepoint of its own (the service's atomic block inside the import's transaction), so a
    refused row leaves nothing.  ``codes``: a person of another region is refused first,
    without telling where they are held (as for a resident row)."""
    if not rows:
        return
    regions = {}
    if codes is not None:
        regions = dict(Resident.objects.filter(id_number__in={r.id_number for r in rows})
                       .values_list("id_number", "region_id"))
    for r in rows:
        if codes is not None and r.id_number in regions:
            found = scheme_handler(r.scheme).find(r.id_number, r.year, lock=False)
            held = found[1].region_id if found is not None and found[1] is not None else regions[r.id_number]
            if held not in codes:
                errors.append(error_of(r, "not_registered", HELD_ELSEWHERE))
                continue
        try:
            recorded = payment_record(channel=r.channel, txn_id=r.txn_id, id_number=r.id_number, name=r.name,
                                      year=r.year, amount=r.amount, paid_at=r.paid_at, actor=actor,
                                      payer_kind=r.payer_kind, payer_id=r.payer_id, payer_name=r.payer_name,
                                      body_hash=r.body_hash, note=NOTE, scheme=r.scheme)
        except EnrollmentError as exc:  # PaymentError, and the policy's refusals (spec_for)
            errors.append(error_of(r, exc.code, exc.message))
            continue
        r.outcome = "unchanged" if recorded.repeated else "already_paid" if recorded.status == 409 else "paid"


def _follow(r: PaymentRow, first: PaymentRow, errors: list[RowError]) -> None:
    """A repeated row of the file: unchanged when its first copy landed (or was already
    there); refused with the same reason otherwise."""
    if first.outcome == "error":
        reason = next((e for e in errors if e.row == first.row), None)
        r.outcome, r.code = "error", first.code
        errors.append(RowError(r.row, reason.column if reason else "交易流水号",
                               f"同第 {first.row} 行：{reason.reason if reason else '未导入'}"))
    else:
        r.outcome = "unchanged"


def _earlier(rows: list[PaymentRow], errors: list[RowError]) -> None:
    if not rows:
        return
    found = {}
    for start in range(0, len(rows), 20000):
        chunk = rows[start:start + 20000]
        for c, x, *rest in _rows(_EARLIER_SQL, [SEP.join(r.channel for r in chunk),
                                                 SEP.join(r.txn_id for r in chunk)]):
            found[(c, x)] = tuple(rest)
    for r in rows:
        earlier = found.get((r.channel, r.txn_id))
        if earlier is None:
            continue
        h, number, year, amount, kind, paid_at, scheme, note = earlier
        if r.carried:
            same = (number, year, amount) == (r.id_number, r.year, r.amount)
        elif note != NOTE:
            # recorded by another path (the channel API): its hash is of a request, not of a
            # row, so the content is compared — person, year, amount, moment and scheme — as
            # payment_record compares a row of this import brought to the API
            # (services._repeated_or_conflict; INTERFACES.md §4: "already recorded with the
            # same content is unchanged")
            same = (kind, number, year, amount, paid_at, scheme) == (
                Payment.Kind.PAYMENT, r.id_number, r.year, r.amount, r.paid_at, r.scheme)
        else:
            same = h == r.body_hash
        if same:
            r.outcome = "unchanged"
        else:
            errors.append(error_of(r, "idempotency_conflict",
                                   f"渠道 {r.channel} 的交易流水号 {r.txn_id} 已用于另一笔不同内容的缴费"))


def _residents(rows: list[PaymentRow]) -> dict[str, tuple]:
    numbers = sorted({r.id_number for r in rows})
    out = {}
    for start in range(0, len(numbers), 20000):
        for number, *rest in _rows(_RESIDENTS_SQL, [joined(numbers[start:start + 20000])]):
            out[number] = tuple(rest)  # id, name, region, birth, hukou, permit, expires, student
    return out


def _carry_over(rows: list[PaymentRow], people: dict, errors: list[RowError], actor) -> None:
    """Past years paid in the earlier system: ``payment_carry_over`` row by row (a savepoint
    each), before the enrollments of later years are read and priced."""
    if not rows:
        return
    residents = {r.id_number: r for r in Resident.objects.filter(id_number__in={r.id_number for r in rows})}
    for r in rows:
        resident = residents[r.id_number]
        try:
            recorded = payment_carry_over(resident=resident, year=r.year, region=resident.region_id, amount=r.amount,
                                          paid_at=r.paid_at, txn_id=r.txn_id, actor=actor)
        except PaymentError as exc:
            errors.append(error_of(r, exc.code, exc.message))
            continue
        r.outcome = "unchanged" if recorded.repeated else "paid"


def _enrollments(rows: list[PaymentRow], people: dict) -> dict[tuple[int, int], Held]:
    pairs = sorted({(people[r.id_number][0], r.year) for r in rows})
    out = {}
    for start in range(0, len(pairs), 20000):
        chunk = pairs[start:start + 20000]
        for eid, rid, year, status, region, via in _rows(_ENROLLMENTS_SQL, [
                ",".join(str(p[0]) for p in chunk), ",".join(str(p[1]) for p in chunk)]):
            out[(rid, year)] = Held(eid, status, region, via)
    return out


def _facts(number: str, person: tuple, via_parent_permit: bool) -> PersonFacts:
    rid, _name, region, birth, hukou, permit, expires, student = person
    return PersonFacts(id_number=number, birth_date=birth, hukou=hukou, residence_permit=permit,
                       residence_permit_expires_on=expires, student=student or "", region_id=region,
                       resident_id=rid, via_parent_permit=via_parent_permit)


def _price(batch: list[tuple[PaymentRow, Held]], year: int, people: dict, errors: list[RowError]) -> list:
    """The rows of one round (one per enrollment): the channel rules and the price at the
    payment date, as ``payment_record`` checks them.  Returns (row, enrollment, quote) of
    those that land.  Priced through ``ClassQuoteMemo`` (one per spec): people the rules
    cannot tell apart share one answer object, so the paid columns (``PaidColumns``, by
    answer) are worked out once per class, not once per person."""
    specs, memos = SpecCache(), {}
    ok = []
    for r, e in batch:
        spec = specs.get(e.region_id, year)
        if isinstance(spec, QuoteError):
            errors.append(error_of(r, spec.code, spec.message))
            continue
        try:
            check_channel_rules(spec, r.channel, r.paid_on)
        except PaymentError as exc:
            errors.append(error_of(r, exc.code, exc.message))
            continue
        ok.append((r, e, spec))
    out = []
    for start in range(0, len(ok), PRICE_CHUNK):
        chunk = ok[start:start + PRICE_CHUNK]
        on = {r.id_number: r.paid_on for r, _, _ in chunk}
        requests = quote_requests_for([_facts(r.id_number, people[r.id_number], e.via_parent_permit)
                                       for r, e, _ in chunk], year, lambda f: on[f.id_number])
        for r, e, spec in chunk:
            memo = memos.get(id(spec))
            if memo is None:
                memo = memos[id(spec)] = ClassQuoteMemo(spec)
            try:
                result = memo.quote(spec, requests[r.id_number])
            except QuoteError as exc:
                errors.append(error_of(r, exc.code, exc.message))
                continue
            if r.amount != result.amount_due:
                errors.append(error_of(r, "amount_mismatch",
                                       f"应缴 {result.amount_due} 元，实缴 {r.amount:.2f} 元，金额不符"))
                continue
            r.outcome = "paid"
            e.status = EnrollmentStatus.PAID
            out.append((r, e, result))
    return out


def _write(applied: list, duplicates: list, people: dict, actor) -> None:
    if not applied and not duplicates:
        return
    user = acting_user(actor)
    now = clock.now()
    text = CopyText()  # the COPY's text of the repeated amounts, times and dates, worked out once each
    common = (text(now), user.pk if user else None, "" if user is not None else str(actor or "")[:200],
              "批量导入（import_payments）")
    ids = next_payment_ids(len(applied) + len(duplicates))
    records = []
    for pk, (r, e, result) in zip(ids, applied):
        body = applied_body(pk, result.benefit_start)  # payment_record's answer
        records.append(_record(pk, r, e, people, "applied", body, 201, common, text))
    refunds = []
    for pk, (r, e) in zip(ids[len(applied):], duplicates):
        body = {"error": {"code": "already_paid",
                          "message": f"{r.year} 年度已缴费；本笔 {r.amount:.2f} 元已记录并列入退费"}}
        records.append(_record(pk, r, e, people, "duplicate", json.dumps(body, ensure_ascii=False), 409, common,
                               text))
        if r.amount > 0:
            refunds.append(Refund(enrollment_id=e.id, source_payment_id=pk, id_number=r.id_number,
                                  name=people[r.id_number][1], region_id=e.region_id, year=r.year,
                                  reason=Refund.Reason.DUPLICATE, amount=r.amount, requested_by=None,
                                  requested_actor=f"系统：{r.channel} {r.txn_id} 重复缴费"))
    columns = PaidColumns()  # the paid columns as fill_paid sets them, from the same answer
    write_applied(records, [(e.id, *columns.of(res, amount=r.amount, paid_on=r.paid_on, paid_at=r.paid_at,
                                              paid_via=PAID_VIA.get(r.channel, PaidVia.CHANNEL)))
                            for r, e, res in applied], now=now)
    if refunds:
        Refund.objects.bulk_create(refunds, batch_size=2000)


def _record(pk, r: PaymentRow, e: Held, people, outcome, body, status, common, text) -> tuple:
    """A ledger row in PAYMENT_COLUMNS order (``common``: recorded_at, recorded_by_id, actor, note;
    ``text``: a ``CopyText`` for the amount, time and date)."""
    return (pk, "payment", outcome, r.channel, r.txn_id, e.id, r.id_number, people[r.id_number][1], e.region_id,
            r.year, text(r.amount), text(r.paid_at), text(r.paid_on), r.payer_kind, r.payer_id, r.payer_name,
            r.body_hash, body, status, *common)
