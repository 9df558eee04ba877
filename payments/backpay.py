"""Back-payment of a break year (断保补缴, 004 Q1): paying a year in which the person was not
covered repairs the variable waiting — each year made up removes one month (POLICY.md §3.5,
§4).  Only where the region runs variable waiting (Shanghai); elsewhere a break year's
back-payment changes nothing in the rules and is refused with the reason.

The amount is what the rules charge for that year outside the window: the break year's
policy priced as a payment on its last day (its late period: personal, or personal plus
fiscal subsidy where that period charges it).  A figure the source leaves unset stays an
error naming it (Shanghai 2025 adults: ``value_not_in_source``); a year without a policy
in the system is ``policy_missing``.  Recorded on the ledger (the record points at the
repair, not at an enrollment: the year stays a break year, repaired) in the same
transaction as the repair (enrollment.GapRepair), idempotent on channel + txn_id.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from core import clock
from core.audit import audit_context
from core.audit_actor import acting_user
from enrollment.models import GapRepair, Resident
from enrollment.selectors import coverage_history, quote_request_for
from enrollment.services import EnrollmentError, run_quote, spec_for

from .models import Payment
from .services import PaymentError, Recorded, _lock_txn, _next_id, local_day


def back_payment_amount(resident: Resident, year: int) -> Decimal:
    """What making up ``year`` costs the person, by that year's policy; PaymentError otherwise."""
    today = clock.today()
    if year < 2025:
        raise PaymentError("invalid_input", "连续参保自 2025 年度起计算，更早的年度无需补缴")
    if year >= today.year:
        raise PaymentError("invalid_input", f"{year} 年度尚未结束，不能作为断保年度补缴，请按当年缴费办理")
    if year in coverage_history(resident):
        raise PaymentError("not_a_break_year", f"{year} 年度已参保，不是断保年度")
    if GapRepair.objects.filter(resident=resident, year=year).exists():
        raise PaymentError("already_paid", f"{year} 年度已补缴")
    try:  # the repair matters to the waiting of the years ahead: the current policy says whether
        now_spec = spec_for(resident.region_id, today.year)
    except EnrollmentError:
        now_spec = None
    if now_spec is not None and not now_spec.variable_waiting:
        raise PaymentError("back_payment_not_applicable",
                           f"{now_spec.region_name}未实行变动待遇等待期，断保年度补缴不改变等待期，不予办理")
    try:
        spec = spec_for(resident.region_id, year)
    except EnrollmentError as exc:
        raise PaymentError(exc.code, f"{exc.message}，无法核定 {year} 年度补缴金额") from None
    if not spec.variable_waiting:
        raise PaymentError("back_payment_not_applicable",
                           f"{spec.region_name}未实行变动待遇等待期，断保年度补缴不改变等待期，不予办理")
    req = quote_request_for(resident, year, spec.year_end)
    req = replace(req, history={}, repaired_years=frozenset())  # the year's own price, not its waiting
    try:
        result = run_quote(spec, req)
    except EnrollmentError as exc:
        raise PaymentError(exc.code, f"{year} 年度补缴金额无法核定：{exc.message}") from None
    return result.amount_due


def back_payment_record(*, resident: Resident, year: int, amount: Decimal, channel: str, txn_id: str,
                        paid_at: datetime, actor, body_hash: str = "") -> Recorded:
    """Record the back-payment of a break year: the ledger record and the repair."""
    txn_id = (txn_id or "").strip()
    if not txn_id or len(txn_id) > 64 or not txn_id.isprintable():  # as payment_record: no control
        raise PaymentError("invalid_input", "txn_id 应为 1–64 个可见字符")  # or zero-width characters
    if local_day(paid_at).year <= year:
        raise PaymentError("invalid_input", f"补缴时间 {local_day(paid_at).isoformat()} 早于 {year} 年度结束，"
                                            f"断保年度须在该年度结束后补缴")
    with transaction.atomic(), audit_context(actor, action="back_payment_record", channel=channel, txn_id=txn_id):
        _lock_txn(channel, txn_id)
        earlier = Payment.objects.filter(channel=channel, txn_id=txn_id).first()
        if earlier is not None:
            if body_hash and earlier.request_hash == body_hash:
                return Recorded(status=200, body=earlier.response, payment=earlier, repeated=True)
            raise PaymentError("idempotency_conflict", f"渠道 {channel} 的交易流水号 {txn_id} 已用于另一笔缴费")
        Resident.objects.select_for_update().filter(pk=resident.pk).first()
        due = back_payment_amount(resident, year)
        if amount != due:
            raise PaymentError("amount_mismatch", f"{year} 年度补缴应缴 {due} 元，实缴 {amount:.2f} 元，金额不符")
        user = acting_user(actor)
        repair = GapRepair.objects.create(resident=resident, year=year, recorded_by=user,
                                          note=f"补缴 {amount:.2f} 元（{channel} {txn_id}）")
        pk = _next_id()
        body = {"payment_id": pk, "status": "repaired", "year": year}
        p = Payment.objects.create(
            pk=pk, channel=channel, txn_id=txn_id, enrollment=None, gap_repair=repair,
            id_number=resident.id_number, name=resident.name, region_id=resident.region_id, year=year,
            amount=amount, paid_at=paid_at, paid_on=local_day(paid_at), outcome=Payment.Outcome.APPLIED,
            request_hash=body_hash, response=body, response_status=201, recorded_at=clock.now(),
            recorded_by=user, actor="" if user is not None else str(actor or "")[:200], note="断保年度补缴")
        return Recorded(status=201, body=body, payment=p)
