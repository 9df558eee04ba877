"""Writes for residents and enrollments; each one transaction with an audit context.

Amounts, categories, benefit dates and waiting are never computed here: the
services build a QuoteRequest from the database (enrollment.selectors) and
take the answer of the pure rule functions (policy.rules).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import clock
from core.audit_actor import acting_user
from core.audit import audit_context
from policy.models import Region
from policy.rules import PolicySpec, QuoteError, QuoteResult, quote
from policy.selectors import published_spec

from . import idnumbers
from .imports.common import echo
from .models import (
    Enrollment,
    EnrollmentStatus,
    GapRepair,
    Hukou,
    PaidVia,
    RegisteredVia,
    Resident,
)
from .pricing import RULE_FIELDS, plan_repricing, registration_date
from .selectors import PersonFacts, quote_request_for
from .spreadsheet import has_invisible
from .writer import enrollments_insert, enrollments_reprice, row_from_quote

class EnrollmentError(Exception):
    """A refused write: ``code`` for the API, ``message`` (Chinese) for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _today(today: date | None) -> date:
    return today or clock.today()


# A person is in one scheme at a time.  Apps above this floor that run another scheme (the
# flexible-employment app) register a check at ready(): ``check(resident_id, year)`` answers
# the reason in Chinese why the person may not register for the resident scheme, or None.
_OTHER_SCHEME_CHECKS: list = []


def register_other_scheme_check(check) -> None:
    if check not in _OTHER_SCHEME_CHECKS:
        _OTHER_SCHEME_CHECKS.append(check)


# The same rule for the bulk paths (the residents import with 参保年度, default renewal): the
# scheme's app registers ``check(resident_ids, year)`` answering ``{resident_id: reason}`` for
# the people it holds that year, one query per call, next to its single check.
_OTHER_SCHEME_CHECKS_MANY: list = []
OTHER_SCHEME_CHUNK = 5000  # people per call of a set-based check


def register_other_scheme_check_many(check) -> None:
    if check not in _OTHER_SCHEME_CHECKS_MANY:
        _OTHER_SCHEME_CHECKS_MANY.append(check)


def other_scheme_refusals(resident_ids, year: int) -> dict[int, str]:
    """``{resident_id: reason}`` of the people another scheme holds in ``year`` (the reason in
    Chinese, as the single registration gives it); the others are not in the answer.  One
    call of each registered set-based check per OTHER_SCHEME_CHUNK people.  The bulk paths
    ask it after locking the people's rows (FOR KEY SHARE, in id order): the other scheme's
    registration locks the row too, so it cannot slip in between the answer and the insert."""
    ids = sorted({int(i) for i in resident_ids})
    out: dict[int, str] = {}
    if not ids or not _OTHER_SCHEME_CHECKS_MANY:
        return out
    for start in range(0, len(ids), OTHER_SCHEME_CHUNK):
        chunk = ids[start:start + OTHER_SCHEME_CHUNK]
        for check in _OTHER_SCHEME_CHECKS_MANY:
            for resident_id, reason in (check(chunk, year) or {}).items():
                if reason:
                    out.setdefault(resident_id, reason)
    return out


def lock_residents_shared(resident_ids) -> None:
    """Take the key-share lock on residents, in id order (what a foreign key check takes
    anyway): a registration in another scheme, which locks the resident FOR UPDATE, waits for
    this transaction — or this one waits for it and then sees its enrollment."""
    ids = sorted({int(i) for i in resident_ids})
    if not ids:
        return
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT id FROM enrollment_resident WHERE id = ANY(%s::bigint[]) ORDER BY id FOR KEY SHARE",
                    [ids])


def spec_for(region_code: str, year: int) -> PolicySpec:
    try:
        return published_spec(region_code, year)
    except QuoteError as exc:
        raise EnrollmentError(exc.code, exc.message) from None


def run_quote(spec: PolicySpec, req) -> QuoteResult:
    try:
        return quote(spec, req)
    except QuoteError as exc:
        raise EnrollmentError(exc.code, exc.message) from None


def _fill_from_quote(e: Enrollment, result: QuoteResult) -> None:
    e.category = result.category
    e.personal_standard = result.personal_standard
    e.fiscal_subsidy = result.fiscal_subsidy
    e.assistance_identity = result.assistance.identity if result.assistance else ""
    e.assistance_amount = result.assistance.amount if result.assistance else None
    e.amount_due = result.amount_due
    e.timing = result.timing


def _fill_benefits(e: Enrollment, result: QuoteResult) -> None:
    e.benefit_start = result.benefit_start
    e.benefit_end = result.benefit_end
    e.waiting_months = result.waiting_months
    e.waiting_days = result.waiting_days
    e.cap_adjustment = result.cap_adjustment


# --- residents -----------------------------------------------------------------------

RESIDENT_FIELDS = ("name", "region_id", "hukou", "residence_permit", "residence_permit_expires_on",
                   "student", "school", "phone")


PERMIT_NEEDS_NONLOCAL = "本地户籍人员不登记居住证"


def _clean_resident_fields(fields: dict) -> dict:
    out = dict(fields)
    if "region" in out:
        region = out.pop("region")
        out["region_id"] = region.code if isinstance(region, Region) else region
    if "name" in out:
        out["name"] = (out["name"] or "").strip()
        if not out["name"]:
            raise EnrollmentError("invalid_input", "姓名不能为空")
        if has_invisible(out["name"]):
            raise EnrollmentError("invalid_input", "姓名含有不可见或控制字符")
    if "region_id" in out and not Region.objects.filter(code=out["region_id"]).exists():
        raise EnrollmentError("invalid_input", f"未知参保地 {out['region_id']}")
    if out.get("hukou") == Hukou.LOCAL:
        if out.get("residence_permit"):
            raise EnrollmentError("invalid_input", PERMIT_NEEDS_NONLOCAL)
        out["residence_permit"] = False  # a person who becomes local no longer needs one
        out["residence_permit_expires_on"] = None
    student = out.get("student")
    if student is not None and student not in ("", "primary_secondary", "college"):
        raise EnrollmentError("invalid_input", f"未知学生类别 {echo(student)}")
    unknown = set(out) - set(RESIDENT_FIELDS)
    if unknown:
        raise EnrollmentError("invalid_input", f"不能修改字段 {', '.join(sorted(unknown))}")
    return out


def _refused_write(exc: IntegrityError, number: str) -> EnrollmentError:
    """The domain error of a constraint the database enforced; anything else is re-raised.

    Only a unique violation (SQLSTATE 23505) is a duplicate; a check
    constraint (23514) is invalid input with the rule it stands for."""
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    constraint = getattr(getattr(cause, "diag", None), "constraint_name", None)
    if sqlstate == "23505":
        return EnrollmentError("duplicate_resident", f"身份证号码 {idnumbers.mask(number)} 已登记")
    if constraint == "resident_permit_only_nonlocal":
        return EnrollmentError("invalid_input", PERMIT_NEEDS_NONLOCAL)
    raise exc


def parse_id_number(id_number, *, birth_date: date | None = None,
                    today: date | None = None) -> idnumbers.IdNumber:
    """A valid ID number (EnrollmentError otherwise); a given birth date must agree."""
    try:
        parsed = idnumbers.parse(id_number, today=_today(today))
    except idnumbers.IdNumberError as exc:
        raise EnrollmentError("invalid_input", str(exc)) from None
    if birth_date is not None and birth_date != parsed.birth_date:
        raise EnrollmentError("invalid_input",
                              f"出生日期 {birth_date.isoformat()} 与身份证号码中的 "
                              f"{parsed.birth_date.isoformat()} 不一致")
    return parsed


def validate_resident_input(*, id_number=None, birth_date=None, region=None, hukou=None,
                            student=None, residence_permit=None, creating: bool = True) -> None:
    """The checks resident_create/resident_update make, for forms to show early."""
    if creating:
        parsed = parse_id_number(id_number, birth_date=birth_date)
        if Resident.objects.filter(id_number=parsed.number).exists():
            raise EnrollmentError("duplicate_resident", f"身份证号码 {idnumbers.mask(parsed.number)} 已登记")
    fields = {}
    if region is not None:
        fields["region"] = region
    if hukou is not None:
        fields["hukou"] = hukou
    if student is not None:
        fields["student"] = student
    if residence_permit is not None:
        fields["residence_permit"] = residence_permit
    if creating:
        fields.setdefault("hukou", Hukou.LOCAL)
    _clean_resident_fields(fields)


def resident_create(*, id_number: str, actor, birth_date: date | None = None,
                    today: date | None = None, **fields) -> Resident:
    """Register a person; birth date and sex come from the ID number (户籍 defaults to local)."""
    parsed = parse_id_number(id_number, birth_date=birth_date, today=today)
    clean = _clean_resident_fields({"hukou": Hukou.LOCAL, **fields})
    for required in ("name", "region_id"):
        if not clean.get(required):
            raise EnrollmentError("invalid_input", f"缺少 {required}")
    with transaction.atomic(), audit_context(actor, action="resident_create"):
        if Resident.objects.filter(id_number=parsed.number).exists():
            raise EnrollmentError("duplicate_resident", f"身份证号码 {idnumbers.mask(parsed.number)} 已登记")
        try:
            with transaction.atomic():
                return Resident.objects.create(id_number=parsed.number, birth_date=parsed.birth_date,
                                               sex=parsed.sex, **clean)
        except IntegrityError as exc:
            raise _refused_write(exc, parsed.number) from None


@dataclass
class ResidentUpdate:
    resident: Resident
    changed: list[str]
    recomputed: list[Enrollment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def resident_update(*, resident: Resident, actor, today: date | None = None, **fields) -> ResidentUpdate:
    """Change a person.  When a fact the rules read changes (region, hukou, permit,
    student status), every unpaid enrollment is priced again with the new facts
    and moved to the person's region — the same plan an import follows
    (enrollment.pricing).  If one cannot be priced, nothing changes and the
    reason is raised.  Paid enrollments stay as they are, where they are."""
    today = _today(today)
    clean = _clean_resident_fields(fields)
    with transaction.atomic(), audit_context(actor, action="resident_update"):
        locked = Resident.objects.select_for_update().get(pk=resident.pk)
        changed = [k for k, v in clean.items() if getattr(locked, k) != v]
        for k in changed:
            setattr(locked, k, clean[k])
        if locked.hukou == Hukou.LOCAL and locked.residence_permit:
            raise EnrollmentError("invalid_input", PERMIT_NEEDS_NONLOCAL)
        out = ResidentUpdate(locked, changed)
        if RULE_FIELDS.intersection(changed):
            plan = plan_repricing([PersonFacts.of(locked)], today=today)
            if plan.refused:
                refusal = plan.refused[locked.id_number]
                raise EnrollmentError(refusal.code, refusal.message)
            ids = enrollments_reprice(plan.updates)
            out.recomputed = list(Enrollment.objects.filter(pk__in=ids).order_by("year", "id"))
        if changed:
            locked.save(update_fields=[*changed, "updated_at"])
        resident.__dict__.update(locked.__dict__)
        return out


# --- enrollments ---------------------------------------------------------------------


def enrollment_register(*, resident: Resident, year: int, registered_via: str, actor,
                        today: date | None = None, via_parent_permit: bool = False) -> Enrollment:
    """Register a person for a benefit year (参保登记), priced by the rules.

    A newborn the region does not charge in the birth year (Lüliang) is
    covered at once, from the date of birth.

    The row is written by the one enrollment writer (enrollment.writer), as a
    batch of one, rather than by ``Model.save``: the import and renewal write
    the same columns the same way, so the single path cannot drift from them
    (a newborn's paid columns, the parent-permit flag), and "already
    registered" is the same ``ON CONFLICT`` on the same constraint.  The cost
    is one extra read of the row it returns.
    """
    today = _today(today)
    if registered_via not in RegisteredVia.values:
        raise EnrollmentError("invalid_input", f"未知登记方式 {echo(registered_via)}")
    with transaction.atomic(), audit_context(actor, action="enrollment_register"):
        resident = Resident.objects.select_for_update().get(pk=resident.pk)
        if Enrollment.objects.filter(resident=resident, year=year).exclude(
                status=EnrollmentStatus.CANCELLED).exists():
            raise EnrollmentError("already_enrolled", f"{resident.name} 已登记 {year} 年度")
        for check in _OTHER_SCHEME_CHECKS:
            refusal = check(resident.pk, year)
            if refusal:
                raise EnrollmentError("other_scheme", refusal)
        spec = spec_for(resident.region_id, year)
        req = quote_request_for(resident, year, registration_date(spec, today),
                                via_parent_permit=via_parent_permit)
        result = run_quote(spec, req)
        user = acting_user(actor)
        row = row_from_quote(result, resident_id=resident.pk, region_id=resident.region_id,
                             registered_via=registered_via, registered_on=today,
                             registered_by_id=user.pk if user else None,
                             via_parent_permit=req.person.parent_insured_locally, now=clock.now())
        inserted = enrollments_insert([row])
        if not inserted:
            raise EnrollmentError("already_enrolled", f"{resident.name} 已登记 {year} 年度")
        return Enrollment.objects.get(pk=inserted[0].id)


def fill_paid(e: Enrollment, result: QuoteResult, *, amount: Decimal, paid_on: date, paid_at: datetime,
              paid_via: str) -> None:
    """The paid columns of an enrollment (a cache of the payment ledger, written by
    ``payments.services.payment_record`` in the transaction that records the payment)."""
    _fill_from_quote(e, result)
    _fill_benefits(e, result)
    e.status = EnrollmentStatus.PAID
    e.paid_amount = amount
    e.paid_on = paid_on
    e.paid_at = paid_at
    e.paid_via = paid_via


# The ledger's channel for a payment recorded by a caseworker or the demo by its kind.
_CHANNEL_OF_VIA = {PaidVia.CHANNEL: "tax_hall", PaidVia.FAMILY_POOL: "family_pool",
                   PaidVia.ASSISTANCE: "assistance", PaidVia.COLLECTIVE: "collective"}


def enrollment_record_payment(*, enrollment: Enrollment, amount: Decimal, paid_on: date,
                              paid_via: str, actor, paid_at: datetime | None = None,
                              txn_id: str | None = None) -> Enrollment:
    """Mark an enrollment paid through the payment ledger (payments.services.payment_record):
    the amount must be what the rules say is due on ``paid_on``; benefit start, end and
    waiting follow from that date.  Recorded on the ledger under the channel of
    ``paid_via`` (办税服务厅 for a counter payment) with a generated transaction id."""
    import uuid
    from datetime import time

    from payments.services import PaymentError, payment_record

    if paid_via not in PaidVia.values:
        raise EnrollmentError("invalid_input", f"未知缴费方式 {echo(paid_via)}")
    if not isinstance(amount, Decimal):
        raise EnrollmentError("invalid_input", "金额须为 Decimal")
    e = Enrollment.objects.select_related("resident").get(pk=enrollment.pk)
    if e.status == EnrollmentStatus.PAID:
        raise EnrollmentError("already_paid", f"{e.year} 年度已缴费")
    if e.status == EnrollmentStatus.CANCELLED:
        raise EnrollmentError("enrollment_cancelled", f"{e.year} 年度登记已注销")
    if paid_at is None:
        now = clock.now()
        paid_at = now if timezone.localdate(now) == paid_on else timezone.make_aware(
            datetime.combine(paid_on, time(12, 0)))
    try:
        recorded = payment_record(channel=_CHANNEL_OF_VIA[paid_via], txn_id=txn_id or f"manual-{uuid.uuid4().hex}",
                                  id_number=e.resident.id_number, name=e.resident.name, year=e.year,
                                  amount=amount, paid_at=paid_at, actor=actor, check_name=False,
                                  payer_kind="department" if paid_via == PaidVia.ASSISTANCE else "self")
    except PaymentError as exc:
        raise EnrollmentError(exc.code, exc.message) from None
    if recorded.status == 409:
        raise EnrollmentError("already_paid", f"{e.year} 年度已缴费")
    e.refresh_from_db()
    enrollment.__dict__.update(e.__dict__)
    return e


def enrollment_cancel(*, enrollment: Enrollment, reason: str, actor) -> Enrollment:
    reason = (reason or "").strip()
    if not reason:
        raise EnrollmentError("invalid_input", "注销须填写原因")
    with transaction.atomic(), audit_context(actor, action="enrollment_cancel", reason=reason):
        e = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if e.status == EnrollmentStatus.CANCELLED:
            raise EnrollmentError("enrollment_cancelled", f"{e.year} 年度登记已注销")
        if e.status == EnrollmentStatus.PAID:
            raise EnrollmentError("already_paid", f"{e.year} 年度已缴费，不能直接注销，须办理退费")
        e.status = EnrollmentStatus.CANCELLED
        e.cancelled_at = clock.now()
        e.cancelled_by = acting_user(actor)
        e.cancel_reason = reason[:200]
        e.save()
        enrollment.__dict__.update(e.__dict__)
        return e


def gap_repair_record(*, resident: Resident, year: int, actor, note: str = "") -> GapRepair:
    """Record a break year made up by back-payment (it must be a break year)."""
    from .selectors import coverage_history

    if year < 2025:
        raise EnrollmentError("invalid_input", "连续参保自 2025 年度起计算，更早的年度无需补缴")
    if year in coverage_history(resident):
        raise EnrollmentError("invalid_input", f"{year} 年度已参保，不是断保年度")
    with transaction.atomic(), audit_context(actor, action="gap_repair_record"):
        repair, _ = GapRepair.objects.get_or_create(
            resident=resident, year=year, defaults={"recorded_by": acting_user(actor), "note": note})
        return repair
