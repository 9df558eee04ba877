"""Writes for flexible-employment enrollments; each one transaction with an audit context.

Amounts and dates are the answer of the pure rule (policy.rules.flexible) over the
published policy; a person is in one scheme at a time, so enrolling here refuses a paid
resident enrollment of the year and cancels an unpaid one through enrollment's service.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction

from core import clock
from core.audit import audit_context
from core.audit_actor import acting_user
from enrollment.models import Enrollment, Resident
from enrollment.selectors import year_enrollment
from enrollment.services import EnrollmentError, enrollment_cancel
from policy.rules import QuoteError
from policy.rules.flexible import FlexibleRequest, FlexibleResult, flexible_quote
from policy.selectors import published_flexible_scheme

from .models import FlexibleEnrollment, FlexibleStatus

CANCEL_RESIDENT_REASON = "参加灵活就业人员医疗保险，同一时间只能参加一种医疗保险，注销未缴费的城乡居民医保登记"


class FlexibleError(Exception):
    """A refused write: ``code`` for machines, ``message`` (Chinese) for people."""

    def __init__(self, code: str, message: str, reason: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason


def _quote(e_or_fields, *, region: str, year: int, paid_on: date) -> FlexibleResult:
    scheme, region_name = published_flexible_scheme(region, year)
    req = FlexibleRequest(region=region, year=year, paid_on=paid_on, **e_or_fields)
    return flexible_quote(scheme, req, region_name=region_name)


def _as_error(exc: QuoteError) -> FlexibleError:
    return FlexibleError(exc.code, exc.message, getattr(exc, "reason", None))


def _fill(e: FlexibleEnrollment, result: FlexibleResult) -> None:
    parts = {p.component: p.amount for p in result.parts}
    e.basic_amount = parts.get("basic")
    e.large_medical_amount = parts.get("large_medical")
    e.critical_illness_amount = parts.get("critical_illness")
    e.amount_due = result.amount_due


def _facts(e: FlexibleEnrollment) -> dict:
    return {"status": e.person_status, "file_held_at": e.file_held_at,
            "paid_previous_year": e.paid_previous_year,
            "retirement_age_reached_on": e.retirement_age_reached_on}


def flexible_enroll(*, resident: Resident, year: int, person_status: str, file_held_at: str,
                    paid_previous_year: bool, actor, special_group: bool = False,
                    retirement_age_reached_on: date | None = None,
                    today: date | None = None) -> FlexibleEnrollment:
    """Register a person in the flexible-employment scheme for a year (priced as paid today).

    Refused (nothing written) when the person is not one who may pay here (the rule's
    referral), when the region runs no such scheme, when already enrolled, or when the
    person holds a paid resident enrollment for the year; an unpaid resident registration
    of the year is cancelled, with the reason, in the same transaction."""
    today = today or clock.today()
    fields = {"status": person_status, "file_held_at": file_held_at,
              "paid_previous_year": paid_previous_year, "special_group": special_group,
              "retirement_age_reached_on": retirement_age_reached_on}
    with transaction.atomic(), audit_context(actor, action="flexible_enroll"):
        # the resident's row serialises this with resident registration (which locks it too)
        resident = Resident.objects.select_for_update().get(pk=resident.pk)
        try:
            result = _quote(fields, region=resident.region_id, year=year, paid_on=today)
        except QuoteError as exc:
            raise _as_error(exc) from None
        if FlexibleEnrollment.objects.filter(resident=resident, year=year).exclude(
                status=FlexibleStatus.CANCELLED).exists():
            raise FlexibleError("already_enrolled", f"{resident.name} 已登记 {year} 年度灵活就业人员医疗保险")
        other = year_enrollment(resident.id_number, year, lock=True)
        if other is not None and other.enrollment_id is not None:
            if other.status == "paid":
                raise FlexibleError(
                    "other_scheme", f"{resident.name} 已缴纳 {year} 年度城乡居民医保，同一时间只能参加一种医疗保险，"
                                    "不能登记灵活就业人员医疗保险；如需转换，请先办理居民医保退费")
            try:
                enrollment_cancel(enrollment=Enrollment(pk=other.enrollment_id), reason=CANCEL_RESIDENT_REASON,
                                  actor=actor)
            except EnrollmentError as exc:
                raise FlexibleError(exc.code, exc.message) from None
        e = FlexibleEnrollment(
            resident=resident, region_id=resident.region_id, year=year, person_status=person_status,
            file_held_at=file_held_at, paid_previous_year=paid_previous_year,
            retirement_age_reached_on=retirement_age_reached_on, registered_by=acting_user(actor),
            registered_at=clock.now())
        _fill(e, result)
        try:
            with transaction.atomic():
                e.save()
        except IntegrityError:
            raise FlexibleError("already_enrolled",
                                f"{resident.name} 已登记 {year} 年度灵活就业人员医疗保险") from None
        return e


def flexible_record_payment(*, enrollment: FlexibleEnrollment, amount: Decimal, paid_on: date, actor,
                            channel: str = "tax_hall", txn_id: str | None = None,
                            paid_at: datetime | None = None) -> FlexibleEnrollment:
    """登记缴费: a payment of the enrollment on ``paid_on`` recorded on the payments ledger
    (``payments.services.payment_record`` with scheme ``flexible_employment``, the one path
    the channel API takes too): an immutable ledger row under ``channel`` and ``txn_id`` (a
    generated one when the counter gave none), the amount what the rule says is due that
    day; the enrollment's paid columns (timing, benefit start, waiting, certificate and
    retirement dates) and its link to the row written in the same transaction (flexible.ledger)."""
    import uuid
    from datetime import time

    from django.utils import timezone

    from payments.services import PaymentError, payment_record

    if not isinstance(amount, Decimal):
        raise FlexibleError("invalid_input", "金额须为 Decimal")
    e = FlexibleEnrollment.objects.select_related("resident").get(pk=enrollment.pk)
    if e.status == FlexibleStatus.PAID:
        raise FlexibleError("already_paid", f"{e.year} 年度灵活就业人员医疗保险已缴费")
    if e.status == FlexibleStatus.CANCELLED:
        raise FlexibleError("enrollment_cancelled", f"{e.year} 年度灵活就业人员医疗保险登记已注销")
    if paid_at is None:
        now = clock.now()
        paid_at = now if timezone.localdate(now) == paid_on else timezone.make_aware(
            datetime.combine(paid_on, time(12, 0)))
    if timezone.localdate(paid_at) > clock.today():
        raise FlexibleError("invalid_input", f"缴费日期 {timezone.localdate(paid_at).isoformat()} 晚于今天"
                                             f"（{clock.today().isoformat()}）")
    try:
        recorded = payment_record(
            channel=channel, txn_id=(txn_id or "").strip() or f"manual-{uuid.uuid4().hex}",
            id_number=e.resident.id_number, name=e.resident.name, year=e.year, amount=amount, paid_at=paid_at,
            actor=actor, check_name=False, scheme="flexible_employment")
    except PaymentError as exc:
        raise FlexibleError(exc.code, exc.message) from None
    if recorded.status == 409:
        raise FlexibleError("already_paid", recorded.body["error"]["message"])
    e.refresh_from_db()
    enrollment.__dict__.update({k: v for k, v in e.__dict__.items() if not k.startswith("_")})
    return e


def flexible_cancel(*, enrollment: FlexibleEnrollment, reason: str, actor) -> FlexibleEnrollment:
    reason = (reason or "").strip()
    if not reason:
        raise FlexibleError("invalid_input", "注销须填写原因")
    with transaction.atomic(), audit_context(actor, action="flexible_cancel", reason=reason):
        e = FlexibleEnrollment.objects.select_for_update().get(pk=enrollment.pk)
        if e.status == FlexibleStatus.CANCELLED:
            raise FlexibleError("enrollment_cancelled", f"{e.year} 年度灵活就业人员医疗保险登记已注销")
        if e.status == FlexibleStatus.PAID:
            raise FlexibleError("already_paid", f"{e.year} 年度已缴费，不能直接注销；请办理注销并申请退费")
        e.status = FlexibleStatus.CANCELLED
        e.cancelled_at = clock.now()
        e.cancel_reason = reason[:200]
        e.save()
        enrollment.__dict__.update(e.__dict__)
        return e


def benefits_stop_on(e: FlexibleEnrollment, today: date) -> date:
    """The last day of benefits of a paid enrollment cancelled on ``today``: today; the day
    before ``benefit_start`` when benefits have not begun (an empty period); the end already
    past when the year is over (never lengthened)."""
    if e.benefit_start is not None and e.benefit_start > today:
        return e.benefit_start - timedelta(days=1)
    if e.benefit_end is not None and e.benefit_end < today:
        return e.benefit_end
    return today


def stop_benefits(e: FlexibleEnrollment, today: date, reason: str) -> None:
    """Cancel a paid enrollment as ``payments.refunds._stop_benefits`` cancels a resident one:
    status 已注销 with the time and reason, benefits end on ``today`` — a year whose benefits
    had not begun gets an empty period (``benefit_end`` the day before ``benefit_start``), and
    an end already past is kept (never lengthened).  The paid columns stay (what was paid);
    the link to the ledger row goes (only a paid enrollment holds one: the database's
    ``flex_paid_is_on_the_ledger``) — the row still names the enrollment
    (``scheme_enrollment_id``), and flexible.ledger checks the two agree."""
    e.status = FlexibleStatus.CANCELLED
    e.cancelled_at = clock.now()
    e.cancel_reason = reason[:200]
    e.benefit_end = benefits_stop_on(e, today)
    e.payment = None
    e.save()


def flexible_cancel_paid(*, enrollment: FlexibleEnrollment, reason: str, actor):
    """注销已缴费登记并申请退费: cancel a paid enrollment (``stop_benefits`` on the business
    date) and put the refund of its ledger payment in the refund queue — what is left of it
    (the whole payment unless part is already requested or refunded), reason 已缴费登记注销,
    no resident enrollment, ``source_payment`` that payment (payments.refunds.scheme_refund_request);
    one transaction with an audit context (who, when, why).  The refund then takes the queue's
    path: approved by another caseworker, paid out as a ledger record.

    Refused (nothing written) without a reason, when the enrollment is not paid (registered or
    cancelled already), or when nothing of its payment is left to refund.  Returns the Refund."""
    from payments.models import Payment, Refund
    from payments.refunds import RefundError, refundable, scheme_refund_request

    reason = (reason or "").strip()
    if not reason:
        raise FlexibleError("invalid_input", "注销须填写原因")
    with transaction.atomic(), audit_context(actor, action="flexible_cancel_paid", reason=reason):
        e = FlexibleEnrollment.objects.select_for_update().get(pk=enrollment.pk)
        if e.status == FlexibleStatus.CANCELLED:
            raise FlexibleError("enrollment_cancelled", f"{e.year} 年度灵活就业人员医疗保险登记已注销")
        if e.status != FlexibleStatus.PAID or e.payment_id is None:
            raise FlexibleError("not_paid", f"{e.year} 年度灵活就业人员医疗保险{e.get_status_display()}，"
                                            "不是已缴费登记，无可退费用；未缴费的登记请直接注销")
        paid = Payment.objects.select_for_update().get(pk=e.payment_id)
        amount = refundable(paid)
        if amount <= 0:
            raise FlexibleError("over_refund", f"{e.year} 年度灵活就业人员医疗保险缴费 {paid.amount} 元"
                                               "已全部退还或在退费中，不能注销并申请退费")
        stop_benefits(e, clock.today(), reason)
        try:
            refund = scheme_refund_request(source_payment=paid, reason=Refund.Reason.CANCEL_PAID, amount=amount,
                                           actor=actor, note=f"注销已缴费的灵活就业人员医疗保险登记：{reason}")
        except RefundError as exc:
            raise FlexibleError(exc.code, exc.message) from None
        enrollment.__dict__.update({k: v for k, v in e.__dict__.items() if not k.startswith("_")})
        return refund
