"""The refund queue (退费申请): one list for every reason, four eyes, each refund a ledger record.

A refund is *requested* (by the system or a caseworker), *approved* or *rejected* by a
different caseworker (four eyes: the service refuses with ``four_eyes``, and the database
check ``refund_four_eyes`` refuses it too), then *paid*: a ledger record of its own
(kind ``refund``, channel ``refund``, amount negative, ``refund_of`` the payment it gives
money back from).  Every service here is one transaction under ``audit_context`` and locks
what it changes (the refund, the enrollment, the owed-refund record, the refunded payment).

Readings (documented here, asked in the report):

- **Cancelling a paid enrollment** (``enrollment_cancel_paid``) refunds the *whole
  payment* — what was paid for the year, less any refund of that payment already
  requested, approved or paid (e.g. the assistance part given back by a dynamic
  adjustment).  Benefits stop on the business date; a year whose benefits had not begun
  yet gets an empty period (``benefit_end`` the day before ``benefit_start``).
- **College leavers** (003 §三(二)): a college student may pay for the whole course at
  once; on transfer, dropping out or enlistment the remaining *whole years* go back.  The
  ledger has no multi-year course payment: a course prepayment is the paid enrollments of
  the future years, each its own payment.  The year of ``left_on`` is kept (benefits run to
  its end); every paid enrollment of a later year is cancelled (benefits never begin) and
  its whole payment requested back (reason ``college_leaver``).
- **Owed refunds** (dynamic adjustment, subsidies.OwedRefund): ``queue_owed_refunds`` turns
  every one still owed and not yet queued into a request; a roster that later raises the
  amount updates a request still awaiting approval; paying it marks the OwedRefund paid.
  Whoever triggers the queueing is its requester (so cannot approve it); run as a command
  (a string actor) it is requested by the system.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from core import clock
from core.audit import audit_context
from core.audit_actor import acting_user
from enrollment import idnumbers
from enrollment.models import Enrollment, EnrollmentStatus, Resident
from enrollment.resources import neutralise_formula

from .models import Channel, PayerKind, Payment, Refund
from .services import PaymentError, _next_id, local_day

OPEN = (Refund.Status.REQUESTED, Refund.Status.APPROVED, Refund.Status.PAID)  # not rejected
QUEUE_CHUNK = 1000


class RefundError(PaymentError):
    """A refused refund step: ``code`` and a plain Chinese ``message``."""


def _money(amount) -> Decimal:
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int, str)):
        raise RefundError("invalid_input", "退费金额须为金额（Decimal）")
    try:
        value = Decimal(str(amount))
    except ArithmeticError:
        raise RefundError("invalid_input", f"退费金额无效：{str(amount)[:20]!r}") from None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise RefundError("invalid_input", "退费金额须大于 0、最多两位小数")
    return value.quantize(Decimal("0.01"))


def _actor_text(actor) -> str:
    return "" if acting_user(actor) is not None else str(actor or "")[:200]


def applied_payment(enrollment_id: int) -> Payment | None:
    """The payment that paid the enrollment (at most one: a partial unique constraint)."""
    return Payment.objects.filter(enrollment_id=enrollment_id, outcome=Payment.Outcome.APPLIED).first()


def refundable(payment: Payment, exclude_refund: int | None = None) -> Decimal:
    """What is left of a payment once every open (not rejected) refund of it is counted."""
    claimed = (Refund.objects.filter(status__in=OPEN).filter(_refunds_of(payment))
               .exclude(pk=exclude_refund).aggregate(s=Sum("amount"))["s"] or Decimal("0.00"))
    return payment.amount - claimed


def _refunds_of(payment: Payment):
    """The refunds that give money back from ``payment``: named as their source, or (no
    source named) refunds of the enrollment it paid."""
    from django.db.models import Q

    q = Q(source_payment=payment)
    if payment.outcome == Payment.Outcome.APPLIED and payment.enrollment_id is not None:
        q |= Q(source_payment__isnull=True, enrollment_id=payment.enrollment_id)
    return q


# --- request, decide, pay -------------------------------------------------------------------


def refund_request(*, enrollment: Enrollment, reason: str, amount, actor, source_payment: Payment | None = None,
                   owed_refund=None, note: str = "") -> Refund:
    """Put a refund in the queue (status 待审核); the acting user is its requester.

    ``source_payment``: the payment given back (a duplicate one); without it the refund is
    of the enrollment's applied payment.  The amount may not exceed what is left of that
    payment after the refunds of it already open."""
    if reason not in Refund.Reason.values:
        raise RefundError("invalid_input", f"未知退费原因 {str(reason)[:30]!r}")
    amount = _money(amount)
    user = acting_user(actor)
    with transaction.atomic(), audit_context(actor, action="refund_request", reason=reason):
        e = Enrollment.objects.select_for_update().select_related("resident").get(pk=enrollment.pk)
        if owed_refund is not None:
            from subsidies.models import OwedRefund

            owed = OwedRefund.objects.select_for_update().get(pk=owed_refund.pk)
            if owed.enrollment_id != e.pk:
                raise RefundError("invalid_input", "资助部分应退记录不属于该参保登记")
            if owed.status != OwedRefund.Status.OWED:
                raise RefundError("owed_refund_closed", f"资助部分应退记录当前为“{owed.get_status_display()}”，不能申请退费")
            if Refund.objects.filter(owed_refund=owed).exclude(status=Refund.Status.REJECTED).exists():
                raise RefundError("already_requested", "该资助部分应退记录已生成退费申请")
        if source_payment is not None:
            paid = Payment.objects.select_for_update().get(pk=source_payment.pk)
            if paid.enrollment_id != e.pk or paid.kind != Payment.Kind.PAYMENT:
                raise RefundError("invalid_input", "所退缴费不是该参保登记的缴费记录")
        else:
            paid = applied_payment(e.pk)
            if paid is None:
                raise RefundError("not_paid", f"{e.year} 年度登记没有缴费记录，无可退费用")
            paid = Payment.objects.select_for_update().get(pk=paid.pk)
        if source_payment is not None and Refund.objects.filter(source_payment=paid, status__in=OPEN).exists():
            raise RefundError("already_requested", "该笔缴费已在退费队列中")
        left = refundable(paid)
        if amount > left:
            raise RefundError("over_refund", f"退费 {amount} 元超过该笔缴费可退金额 {left} 元"
                                             f"（缴费 {paid.amount} 元，已申请或已退 {paid.amount - left} 元）")
        r = Refund.objects.create(
            enrollment=e, source_payment=source_payment and paid, id_number=e.resident.id_number,
            name=e.resident.name, region_id=e.region_id, year=e.year, reason=reason, amount=amount,
            requested_at=clock.now(), requested_by=user, requested_actor=_actor_text(actor),
            owed_refund=owed_refund, note=(note or "")[:200])
        return r


def scheme_refund_request(*, source_payment: Payment, reason: str, amount, actor, note: str = "") -> Refund:
    """Put a refund of another scheme's applied payment (payments.schemes; e.g. a cancelled
    flexible-employment enrollment's) in the queue: no resident enrollment (``enrollment``
    null), ``source_payment`` the ledger row, the person, region and year from it; the acting
    user is its requester.  Called by the scheme's service inside its own transaction; the
    amount may not exceed what is left of the payment, and a payment already in the queue
    (requested, approved or paid) is refused."""
    if reason not in Refund.Reason.values:
        raise RefundError("invalid_input", f"未知退费原因 {str(reason)[:30]!r}")
    amount = _money(amount)
    with transaction.atomic(), audit_context(actor, action="refund_request", reason=reason):
        paid = Payment.objects.select_for_update().get(pk=source_payment.pk)
        if (paid.kind != Payment.Kind.PAYMENT or paid.outcome != Payment.Outcome.APPLIED
                or paid.enrollment_id is not None or paid.scheme_enrollment_id is None):
            raise RefundError("invalid_input", "所退缴费不是其他险种参保登记的缴费记录")
        if Refund.objects.filter(source_payment=paid, status__in=OPEN).exists():
            raise RefundError("already_requested", "该笔缴费已在退费队列中")
        left = refundable(paid)
        if amount > left:
            raise RefundError("over_refund", f"退费 {amount} 元超过该笔缴费可退金额 {left} 元"
                                             f"（缴费 {paid.amount} 元，已申请或已退 {paid.amount - left} 元）")
        return Refund.objects.create(
            enrollment=None, source_payment=paid, id_number=paid.id_number, name=paid.name,
            region_id=paid.region_id, year=paid.year, reason=reason, amount=amount, requested_at=clock.now(),
            requested_by=acting_user(actor), requested_actor=_actor_text(actor), note=(note or "")[:200])


def refund_decide(*, refund: Refund, approve: bool, actor, note: str = "") -> Refund:
    """Approve (已审核) or reject (已驳回) a requested refund — never by its requester."""
    user = acting_user(actor)
    if user is None:
        raise RefundError("four_eyes", "退费审核须由经办人员本人登录办理")
    with transaction.atomic(), audit_context(actor, action="refund_decide", approve=bool(approve)):
        r = Refund.objects.select_for_update().get(pk=refund.pk)
        # a request already decided says so first, whoever asks (its requester included)
        if r.status != Refund.Status.REQUESTED:
            raise RefundError("already_decided", f"退费申请 {r.pk} 当前为“{r.get_status_display()}”，不能重复审核")
        if r.requested_by_id == user.pk:
            raise RefundError("four_eyes", f"退费申请 {r.pk} 由您本人申请，须由另一名经办人员审核（双人复核）")
        r.status = Refund.Status.APPROVED if approve else Refund.Status.REJECTED
        r.decided_at = clock.now()
        r.decided_by = user
        r.decision_note = (note or "")[:200]
        try:
            with transaction.atomic():
                r.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
        except IntegrityError as exc:  # the database's own four-eyes check
            raise RefundError("four_eyes", "退费申请须由申请人以外的经办人员审核（双人复核）") from exc
        refund.__dict__.update({k: v for k, v in r.__dict__.items() if not k.startswith("_")})
        return r


# Where a refund goes back to when the money came from an account of a floor above this one
# (ARCHITECTURE.md): channel -> receiver(paid, amount, *, refund_pk, actor) -> True when taken
# back, in the refund's transaction.  family_pool registers its own (FamilyPoolConfig.ready).
REFUND_RECEIVERS: dict[str, Callable[..., bool]] = {}


def refund_pay(*, refund: Refund, actor, txn_id: str | None = None) -> Payment:
    """Pay out an approved refund: a ledger record (kind/outcome/channel ``refund``, amount
    −refund.amount, ``refund_of`` the source payment or the enrollment's applied payment);
    the refund becomes 已退付, and a dynamic-adjustment refund's OwedRefund 已退付."""
    user = acting_user(actor)
    with transaction.atomic(), audit_context(actor, action="refund_pay"):
        # Locks in one order everywhere: enrollment → owed refund → refund → payment.
        owed_id = Refund.objects.filter(pk=refund.pk).values_list("owed_refund_id", flat=True).first()
        owed = None
        if owed_id is not None:
            from subsidies.models import OwedRefund

            owed = OwedRefund.objects.select_for_update().get(pk=owed_id)
        r = Refund.objects.select_for_update().get(pk=refund.pk)
        if r.status != Refund.Status.APPROVED:
            raise RefundError("not_approved", f"退费申请 {r.pk} {r.get_status_display()}，只有已审核的申请可以退付")
        if r.requested_by_id is None and (user is None or r.decided_by_id == user.pk):
            # a request the system raised has no human requester: its approver may not also pay
            # it out, so two people always handle the money (four eyes)
            raise RefundError("four_eyes", f"退费申请 {r.pk} 由系统生成、由您本人审核，须由另一名经办人员退付（双人复核）")
        paid = r.source_payment if r.source_payment_id else applied_payment(r.enrollment_id)
        if paid is None:
            raise RefundError("not_paid", f"退费申请 {r.pk} 找不到所退的缴费记录")
        paid = Payment.objects.select_for_update().get(pk=paid.pk)
        given = -(Payment.objects.filter(refund_of=paid).aggregate(s=Sum("amount"))["s"] or Decimal("0"))
        if given + r.amount > paid.amount:
            raise RefundError("over_refund", f"该笔缴费 {paid.amount} 元已退 {given} 元，不能再退 {r.amount} 元")
        if owed is not None:
            if owed.status != OwedRefund.Status.OWED:
                raise RefundError("owed_refund_closed",
                                  f"资助部分应退记录当前为“{owed.get_status_display()}”，不能退付；请驳回后处理")
            if owed.amount != r.amount:
                raise RefundError("amount_changed", f"资助部分应退金额已调整为 {owed.amount} 元（申请 {r.amount} 元），"
                                                    "请重新生成资助退费申请后再审核")
        now = clock.now()
        txn = (txn_id or f"RF-{r.pk}").strip()
        if not txn or len(txn) > 64 or not txn.isprintable():
            raise RefundError("invalid_input", "退付流水号应为 1–64 个可见字符")
        if Payment.objects.filter(channel=Channel.REFUND, txn_id=txn).exists():
            raise RefundError("idempotency_conflict", f"退付流水号 {txn} 已使用")
        # what the family pool paid goes back to the organizer's account, not to the member
        to_pool = paid.channel == Channel.FAMILY_POOL and paid.payer_kind == PayerKind.POOL
        pk = _next_id()
        p = Payment.objects.create(
            pk=pk, kind=Payment.Kind.REFUND, outcome=Payment.Outcome.REFUND, channel=Channel.REFUND, txn_id=txn,
            enrollment_id=r.enrollment_id, id_number=r.id_number, name=r.name, region_id=r.region_id, year=r.year,
            # a refund of another scheme's payment (payments.schemes) names that scheme's enrollment
            scheme=paid.scheme, scheme_enrollment_id=paid.scheme_enrollment_id,
            amount=-r.amount, paid_at=now, paid_on=local_day(now), refund_of=paid,
            payer_kind=PayerKind.POOL if to_pool else PayerKind.SELF,
            payer_id=paid.payer_id if to_pool else "", payer_name=paid.payer_name if to_pool else "",
            recorded_at=now, recorded_by=user, actor=_actor_text(actor),
            note=(f"退费申请 {r.pk}：{r.get_reason_display()}" + ("；退回组建人职工医保历年账户" if to_pool else ""))[:200])
        if to_pool:
            give_back = REFUND_RECEIVERS.get(Channel.FAMILY_POOL)
            if give_back is None or not give_back(paid, r.amount, refund_pk=r.pk, actor=_actor_text(actor)):
                raise RefundError("not_paid", f"退费申请 {r.pk}：找不到该笔共济缴费的扣款记录，无法退回共济账户")
        r.status = Refund.Status.PAID
        r.payment = p
        r.save(update_fields=["status", "payment"])
        if owed is not None:
            owed.status = OwedRefund.Status.PAID
            owed.note = f"已退付（退费申请 {r.pk}，流水 {txn}）"[:200]
            owed.save(update_fields=["status", "note", "updated_at"])
        refund.__dict__.update({k: v for k, v in r.__dict__.items() if not k.startswith("_")})
        return p


# --- where requests come from --------------------------------------------------------------


def queue_owed_refunds(*, region: str | Iterable[str] | None = None, actor="queue_owed_refunds") -> int:
    """Every OwedRefund still owed and not yet queued becomes a refund request (reason
    动态调整退还资助部分) of its amount; a request still awaiting approval follows a
    changed amount.  Idempotent (an owed refund is queued once: a one-to-one key).
    ``region``: a code, some codes, or None for all.  Returns how many were queued."""
    from subsidies.models import OwedRefund

    owed = OwedRefund.objects.filter(status=OwedRefund.Status.OWED)
    if isinstance(region, str):
        owed = owed.filter(region_id=region)
    elif region is not None:
        owed = owed.filter(region_id__in=list(region))
    user = acting_user(actor)
    queued, last = 0, 0
    while True:
        ids = list(owed.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:QUEUE_CHUNK])
        if not ids:
            return queued
        last = ids[-1]
        with transaction.atomic(), audit_context(actor, action="queue_owed_refunds"):
            rows = list(OwedRefund.objects.select_for_update().filter(pk__in=ids, status=OwedRefund.Status.OWED)
                        .order_by("pk"))
            have = {r.owed_refund_id: r for r in Refund.objects.select_for_update().filter(owed_refund__in=rows)
                    .exclude(status=Refund.Status.REJECTED)}
            payments = {p.enrollment_id: p for p in Payment.objects.filter(
                enrollment_id__in=[o.enrollment_id for o in rows], outcome=Payment.Outcome.APPLIED)}
            new = []
            for o in rows:
                r = have.get(o.pk)
                if r is not None:
                    if r.status == Refund.Status.REQUESTED and r.amount != o.amount:
                        r.amount = o.amount
                        r.save(update_fields=["amount"])
                    continue
                if o.enrollment_id not in payments:
                    continue  # nothing on the ledger to give back from (listed by ledger_check)
                new.append(Refund(
                    enrollment_id=o.enrollment_id, id_number=o.id_number, name=o.name, region_id=o.region_id,
                    year=o.year, reason=Refund.Reason.DYNAMIC_ADJUSTMENT, amount=o.amount, requested_at=clock.now(),
                    requested_by=user, requested_actor=_actor_text(actor) or "",
                    owed_refund=o, note=f"资助部分应退（{o.get_identity_display()}）"[:200]))
            Refund.objects.bulk_create(new)
            queued += len(new)


def _stop_benefits(e: Enrollment, today: date, reason: str, user) -> None:
    """Cancel a paid enrollment: benefits end today (a year not begun: an empty period)."""
    e.status = EnrollmentStatus.CANCELLED
    e.cancelled_at = clock.now()
    e.cancelled_by = user
    e.cancel_reason = reason[:200]
    if e.benefit_start is not None and e.benefit_start > today:
        e.benefit_end = e.benefit_start - timedelta(days=1)
    else:
        e.benefit_end = today
    e.save()


def _left_of_applied(e: Enrollment) -> Decimal:
    """What is left to refund of the payment that paid ``e`` (locked by the caller)."""
    paid = applied_payment(e.pk)
    if paid is None:
        raise RefundError("not_paid", f"{e.year} 年度登记没有缴费记录，无可退费用")
    amount = refundable(paid)
    if amount <= 0:
        raise RefundError("over_refund", f"{e.year} 年度缴费已全部退还或在退费中")
    return amount


def enrollment_cancel_paid(*, enrollment: Enrollment, reason: str, actor) -> Refund:
    """Cancel a paid enrollment (status 已注销 with its reason, benefits stopped on the
    business date) and request the refund of its payment: the whole payment, less what of
    it is already requested or refunded (reason 已缴费登记注销)."""
    reason = (reason or "").strip()
    if not reason:
        raise RefundError("invalid_input", "注销须填写原因")
    user = acting_user(actor)
    with transaction.atomic(), audit_context(actor, action="enrollment_cancel_paid", reason=reason):
        e = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if e.status != EnrollmentStatus.PAID:
            raise RefundError("not_paid", f"{e.year} 年度登记{e.get_status_display()}，不是已缴费登记")
        amount = _left_of_applied(e)
        _stop_benefits(e, clock.today(), reason, user)
        enrollment.__dict__.update({k: v for k, v in e.__dict__.items() if not k.startswith("_")})
        return refund_request(enrollment=e, reason=Refund.Reason.CANCEL_PAID, amount=amount, actor=actor,
                              note=f"注销已缴费登记：{reason}")


def cancelled_refund_again(*, enrollment: Enrollment, reason: str, actor) -> Refund:
    """Ask again for the refund of a paid enrollment already cancelled — after its refund was
    rejected (审核不通过): what is left of its payment, once what is still requested or already
    refunded is counted (reason 已缴费登记注销).  The cancellation itself stands."""
    reason = (reason or "").strip()
    if not reason:
        raise RefundError("invalid_input", "请填写申请原因")
    with transaction.atomic(), audit_context(actor, action="refund_request_again", reason=reason):
        e = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if e.status != EnrollmentStatus.CANCELLED:
            raise RefundError("not_paid", f"{e.year} 年度登记{e.get_status_display()}，不是已注销的登记")
        return refund_request(enrollment=e, reason=Refund.Reason.CANCEL_PAID, amount=_left_of_applied(e),
                              actor=actor, note=f"已注销登记再次申请退费：{reason}")


LEAVING = {"transfer": "转学", "dropout": "退学", "enlist": "入伍"}


def college_leaver_refund(*, resident: Resident, left_on: date, actor, how: str = "") -> list[Refund]:
    """A college student who paid for the whole course leaves (转学/退学/入伍) on ``left_on``:
    each paid enrollment of a year after that year is cancelled and its payment requested
    back (reason 大学生转学/退学/入伍退还剩余年度).  See the module's docstring."""
    if how and how not in LEAVING:
        raise RefundError("invalid_input", f"离校方式应为 {'/'.join(LEAVING.values())}")
    what = LEAVING.get(how, "转学/退学/入伍")
    with transaction.atomic(), audit_context(actor, action="college_leaver_refund", left_on=left_on.isoformat()):
        years = list(Enrollment.objects.select_for_update().filter(
            resident=resident, year__gt=left_on.year, status=EnrollmentStatus.PAID).order_by("pk"))
        college = resident.student == "college" or any("college" in e.category for e in years)
        if not college:
            raise RefundError("not_college", f"{resident.name} 不是大学生，不适用大学生剩余年度退费")
        if not years:
            raise RefundError("not_paid", f"{resident.name} 没有 {left_on.year} 年以后已缴费的年度，无剩余年度可退")
        reason = f"大学生{what}（{left_on.isoformat()}离校），退还剩余年度"
        out = []
        for e in sorted(years, key=lambda x: x.year):
            paid = applied_payment(e.pk)
            if paid is None:
                raise RefundError("not_paid", f"{e.year} 年度登记没有缴费记录，无可退费用")
            amount = refundable(paid)
            _stop_benefits(e, clock.today(), reason, acting_user(actor))
            if amount > 0:
                out.append(refund_request(enrollment=e, reason=Refund.Reason.COLLEGE_LEAVER, amount=amount,
                                          actor=actor, note=reason))
        return out


# --- the refund list ----------------------------------------------------------------------

EXPORT_HEADER = ["退费申请编号", "姓名", "身份证号码", "参保地", "待遇年度", "退费原因", "退费金额",
                 "申请人", "审核人", "审核时间", "所退缴费渠道", "所退缴费流水号"]


def approved_refunds_csv(*, region: str | Iterable[str] | None = None, full_ids: bool = False) -> bytes:
    """The approved refunds awaiting payment (已审核（待退付）) as CSV, UTF-8 with BOM (for
    Excel), no cell a live formula; ID numbers masked unless ``full_ids``."""
    qs = (Refund.objects.filter(status=Refund.Status.APPROVED)
          .select_related("region", "requested_by", "decided_by", "source_payment").order_by("region_id", "pk"))
    if isinstance(region, str):
        qs = qs.filter(region_id=region)
    elif region is not None:
        qs = qs.filter(region_id__in=list(region))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(EXPORT_HEADER)
    for r in qs.iterator(chunk_size=2000):
        paid = r.source_payment if r.source_payment_id else applied_payment(r.enrollment_id)
        row = [r.pk, r.name, r.id_number if full_ids else idnumbers.mask(r.id_number),
               f"{r.region.name}（{r.region_id}）", r.year, r.get_reason_display(), f"{r.amount:.2f}",
               r.requested_by.get_username() if r.requested_by else (r.requested_actor or "系统"),
               r.decided_by.get_username() if r.decided_by else "",
               timezone.localtime(r.decided_at).strftime("%Y-%m-%d %H:%M") if r.decided_at else "",
               paid.get_channel_display() if paid else "", paid.txn_id if paid else ""]
        w.writerow([neutralise_formula(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
