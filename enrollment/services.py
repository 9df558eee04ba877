"""Writes for residents and enrollments; each one transaction with an audit context.

Amounts, categories, benefit dates and waiting are never computed here: the
services build a QuoteRequest from the database (enrollment.selectors) and
take the answer of the pure rule functions (policy.rules).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from core import clock
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import audit_context
from policy.models import Region
from policy.rules import PolicySpec, QuoteError, QuoteResult, quote
from policy.selectors import published_spec

from . import idnumbers
from .models import (
    Enrollment,
    EnrollmentStatus,
    GapRepair,
    Hukou,
    PaidVia,
    RegisteredVia,
    Resident,
)
from .selectors import permit_valid, quote_request_for

# HTTP status of each domain error (the API's; the admin shows the message).
ERROR_STATUS = {
    "invalid_input": 422,
    "policy_missing": 404,
    "not_registered": 404,
    "resident_not_found": 404,
    "not_eligible": 422,
    "payment_day_not_allowed": 422,
    "window_not_open": 422,
    "window_closed": 422,
    "value_not_in_source": 422,
    "name_mismatch": 422,
    "region_mismatch": 422,
    "amount_mismatch": 422,
    "already_enrolled": 409,
    "already_paid": 409,
    "enrollment_cancelled": 409,
    "duplicate_resident": 409,
}


class EnrollmentError(Exception):
    """A refused write: ``code`` for the API, ``message`` (Chinese) for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return ERROR_STATUS.get(self.code, 422)


def _user(actor):
    return actor if getattr(actor, "pk", None) is not None else None


def _today(today: date | None) -> date:
    return today or clock.today()


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


def registration_date(spec: PolicySpec, today: date) -> date:
    """The payment date a registration is priced at: today, or the day the window
    opens when registering ahead of it.  The amount is priced again at payment.

    Registering is not paying: on a day of the month the region takes no
    payments (Lüliang: only days 1-25), the registration is priced at the next
    day payments are taken, as long as that is still in the benefit year."""
    day = today
    if spec.first_opening is not None and day < spec.first_opening:
        day = spec.first_opening
    return _next_payment_day(spec, day)


def _next_payment_day(spec: PolicySpec, day: date) -> date:
    lo, hi = spec.payment_day_from, spec.payment_day_to
    if lo is not None and day.day < lo:
        nxt = day.replace(day=min(lo, calendar.monthrange(day.year, day.month)[1]))
    elif hi is not None and day.day > hi:
        first = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        nxt = first.replace(day=min(lo or 1, calendar.monthrange(first.year, first.month)[1]))
    else:
        return day
    return nxt if nxt <= spec.year_end else day


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


def _clean_resident_fields(fields: dict) -> dict:
    out = dict(fields)
    if "region" in out:
        region = out.pop("region")
        out["region_id"] = region.code if isinstance(region, Region) else region
    if "name" in out:
        out["name"] = (out["name"] or "").strip()
        if not out["name"]:
            raise EnrollmentError("invalid_input", "姓名不能为空")
    if "region_id" in out and not Region.objects.filter(code=out["region_id"]).exists():
        raise EnrollmentError("invalid_input", f"未知参保地 {out['region_id']}")
    if out.get("hukou", Hukou.NONLOCAL) == Hukou.LOCAL:
        out["residence_permit"] = False
        out["residence_permit_expires_on"] = None
    student = out.get("student")
    if student is not None and student not in ("", "primary_secondary", "college"):
        raise EnrollmentError("invalid_input", f"未知学生类别 {student!r}")
    unknown = set(out) - set(RESIDENT_FIELDS)
    if unknown:
        raise EnrollmentError("invalid_input", f"不能修改字段 {', '.join(sorted(unknown))}")
    return out


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
                            student=None, creating: bool = True) -> None:
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
    _clean_resident_fields(fields)


def resident_create(*, id_number: str, actor, birth_date: date | None = None,
                    today: date | None = None, **fields) -> Resident:
    """Register a person; birth date and sex come from the ID number."""
    parsed = parse_id_number(id_number, birth_date=birth_date, today=today)
    clean = _clean_resident_fields(fields)
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
        except IntegrityError:
            raise EnrollmentError("duplicate_resident",
                                  f"身份证号码 {idnumbers.mask(parsed.number)} 已登记") from None


@dataclass
class ResidentUpdate:
    resident: Resident
    changed: list[str]
    recomputed: list[Enrollment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def resident_update(*, resident: Resident, actor, today: date | None = None, **fields) -> ResidentUpdate:
    """Change a person; unpaid enrollments are priced again (category may change)."""
    today = _today(today)
    clean = _clean_resident_fields(fields)
    with transaction.atomic(), audit_context(actor, action="resident_update"):
        locked = Resident.objects.select_for_update().get(pk=resident.pk)
        changed = [k for k, v in clean.items() if getattr(locked, k) != v]
        for k in changed:
            setattr(locked, k, clean[k])
        if changed:
            locked.save(update_fields=[*changed, "updated_at"])
        out = ResidentUpdate(locked, changed)
        if changed:
            for e in Enrollment.objects.select_for_update().filter(
                    resident=locked, status=EnrollmentStatus.REGISTERED).order_by("id"):
                try:
                    spec = spec_for(locked.region_id, e.year)
                    req = quote_request_for(locked, e.year, registration_date(spec, today),
                                            parent_insured_locally=e.nonlocal_via_parent_permit)
                    _fill_from_quote(e, run_quote(spec, req))
                except EnrollmentError as exc:
                    out.problems.append(f"{e.year} 年度登记未重新计算：{exc.message}")
                    continue
                e.region_id = locked.region_id
                e.save()
                out.recomputed.append(e)
        resident.__dict__.update(locked.__dict__)
        return out


# --- enrollments ---------------------------------------------------------------------


def enrollment_register(*, resident: Resident, year: int, registered_via: str, actor,
                        today: date | None = None, via_parent_permit: bool = False) -> Enrollment:
    """Register a person for a benefit year (参保登记), priced by the rules.

    A newborn the region does not charge in the birth year (Lüliang) is
    covered at once, from the date of birth.
    """
    today = _today(today)
    if registered_via not in RegisteredVia.values:
        raise EnrollmentError("invalid_input", f"未知登记方式 {registered_via!r}")
    with transaction.atomic(), audit_context(actor, action="enrollment_register"):
        resident = Resident.objects.select_for_update().get(pk=resident.pk)
        if Enrollment.objects.filter(resident=resident, year=year).exclude(
                status=EnrollmentStatus.CANCELLED).exists():
            raise EnrollmentError("already_enrolled", f"{resident.name} 已登记 {year} 年度")
        spec = spec_for(resident.region_id, year)
        paid_on = registration_date(spec, today)
        by_parent = (via_parent_permit and resident.hukou == Hukou.NONLOCAL
                     and not permit_valid(resident, paid_on))
        req = quote_request_for(resident, year, paid_on, parent_insured_locally=by_parent)
        result = run_quote(spec, req)
        e = Enrollment(resident=resident, year=year, region_id=resident.region_id,
                       registered_via=registered_via, registered_by=_user(actor),
                       nonlocal_via_parent_permit=by_parent)
        _fill_from_quote(e, result)
        if result.timing == "newborn":
            e.status = EnrollmentStatus.PAID
            e.paid_amount = Decimal("0.00")
            e.paid_on = today
            e.paid_at = clock.now()
            _fill_benefits(e, result)
        try:
            with transaction.atomic():
                e.save()
        except IntegrityError:
            raise EnrollmentError("already_enrolled", f"{resident.name} 已登记 {year} 年度") from None
        return e


def enrollment_record_payment(*, enrollment: Enrollment, amount: Decimal, paid_on: date,
                              paid_via: str, actor, paid_at: datetime | None = None) -> Enrollment:
    """Mark an enrollment paid: the amount must be what the rules say is due on
    ``paid_on``; benefit start, end and waiting follow from that date."""
    if paid_via not in PaidVia.values:
        raise EnrollmentError("invalid_input", f"未知缴费方式 {paid_via!r}")
    if not isinstance(amount, Decimal):
        raise EnrollmentError("invalid_input", "金额须为 Decimal")
    with transaction.atomic(), audit_context(actor, action="enrollment_record_payment"):
        e = Enrollment.objects.select_for_update().select_related("resident").get(pk=enrollment.pk)
        if e.status == EnrollmentStatus.PAID:
            raise EnrollmentError("already_paid", f"{e.year} 年度已缴费")
        if e.status == EnrollmentStatus.CANCELLED:
            raise EnrollmentError("enrollment_cancelled", f"{e.year} 年度登记已注销")
        spec = spec_for(e.resident.region_id, e.year)
        req = quote_request_for(e.resident, e.year, paid_on,
                                parent_insured_locally=e.nonlocal_via_parent_permit)
        result = run_quote(spec, req)
        if amount != result.amount_due:
            raise EnrollmentError("amount_mismatch",
                                  f"应缴 {result.amount_due} 元，实缴 {amount:.2f} 元，金额不符")
        _fill_from_quote(e, result)
        _fill_benefits(e, result)
        e.status = EnrollmentStatus.PAID
        e.paid_amount = amount
        e.paid_on = paid_on
        e.paid_at = paid_at or clock.now()
        e.paid_via = paid_via
        e.save()
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
        e.cancelled_by = _user(actor)
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
            resident=resident, year=year, defaults={"recorded_by": _user(actor), "note": note})
        return repair
