"""Zero-claim years (004 (一)Q1 基金零报销激励): a benefit year the person was enrolled and paid
here and the fund reimbursed nothing, recorded by the bureau from the settlement system's list.

The facts selector (enrollment.selectors) reads a recorded year as history
"resident_zero_claim"; where the region rewards it (policy data) the rules raise the next
year's critical-illness cap (policy.rules.continuity).  Recording one prices the person's
unpaid enrollments again, as any change of their facts does (the cap adjustment is part of
the price record).

A record is corrected (``zero_claim_correct``) or withdrawn (``zero_claim_withdraw``) with a
reason, audited; lists come in bulk through ``enrollment.imports.zero_claims`` (the command
``import_zero_claims`` and the admin's import page), under the same rules."""

from __future__ import annotations

from datetime import date


def _services():
    from . import services  # services imports the selectors

    return services


def _check_year_and_source(year, source: str, today: date) -> str:
    services = _services()
    source = (source or "").strip()
    if not isinstance(year, int) or isinstance(year, bool) or not 1990 <= year <= 2100:
        raise services.EnrollmentError("invalid_input", f"零报销年度应为 1990–2100 的年份，收到 {year!r}")
    if year >= today.year:
        raise services.EnrollmentError("invalid_input", f"{year} 年度尚未结束（今天是 {today.isoformat()}），"
                                                        "不能登记为零报销年度")
    if not source:
        raise services.EnrollmentError("invalid_input", "请填写依据（如医保结算系统的零报销名单）")
    return source[:200]


def _check_reason(reason: str, what: str) -> str:
    from .spreadsheet import has_invisible

    reason = (reason or "").strip()
    if not reason:
        raise _services().EnrollmentError("invalid_input", f"请填写{what}原因")
    if len(reason) > 200:
        raise _services().EnrollmentError("invalid_input", f"{what}原因超过 200 个字")
    if has_invisible(reason):
        raise _services().EnrollmentError("invalid_input", f"{what}原因含有不可见或控制字符")
    return reason


def _check_paid(resident, year: int) -> None:
    from .models import Enrollment, EnrollmentStatus

    if not Enrollment.objects.filter(resident=resident, year=year, status=EnrollmentStatus.PAID).exists():
        raise _services().EnrollmentError("not_enrolled", f"{resident.name} {year} 年度未在本市缴费参保，"
                                                          "不能登记为零报销年度")


def zero_claim_record(*, resident, year: int, source: str, actor, today: date | None = None):
    """Record ``year`` as a zero-claim year of ``resident``.  Refused (nothing written) when the
    year has not ended on ``today``, when the person holds no paid enrollment here for it, when
    the record says nothing of what it rests on, or when the year is already recorded."""
    from django.db import IntegrityError, transaction

    from core import clock
    from core.audit import audit_context
    from core.audit_actor import acting_user

    from .leavers import _reprice
    from .models import Resident, ZeroClaimYear

    services = _services()
    today = today or clock.today()
    source = _check_year_and_source(year, source, today)
    with transaction.atomic(), audit_context(actor, action="zero_claim_record"):
        locked = Resident.objects.select_for_update().get(pk=resident.pk)
        _check_paid(locked, year)
        if ZeroClaimYear.objects.filter(resident=locked, year=year).exists():
            raise services.EnrollmentError("duplicate", f"{locked.name} 的 {year} 年度已登记为零报销年度")
        try:
            with transaction.atomic():
                row = ZeroClaimYear.objects.create(resident=locked, id_number=locked.id_number, year=year,
                                                   source=source, recorded_at=clock.now(),
                                                   recorded_by=acting_user(actor))
        except IntegrityError:
            raise services.EnrollmentError("duplicate",
                                           f"{locked.name} 的 {year} 年度已登记为零报销年度") from None
        row.repriced = _reprice(locked, today)
        return row


def _locked(zero_claim):
    """(the resident locked, the record locked) — in that order, as every writer of the
    person's facts locks; a record withdrawn meanwhile is ``not_found``."""
    from .models import Resident, ZeroClaimYear

    resident = Resident.objects.select_for_update().get(pk=zero_claim.resident_id)
    row = ZeroClaimYear.objects.select_for_update().filter(pk=zero_claim.pk).first()
    if row is None:
        raise _services().EnrollmentError("not_found", "该零报销年度记录已撤销或不存在")
    return resident, row


def zero_claim_correct(*, zero_claim, year: int, source: str, reason: str, actor, today: date | None = None):
    """Correct a recorded zero-claim year (its year, its source), with the reason — audited
    (``zero_claim_correct``; the reason is kept on the record and in the trail).  The new year
    is held to the rules of a new record (ended, paid here, not recorded twice); a correction
    that changes nothing is refused.  The person's unpaid enrollments are priced again."""
    from django.db import IntegrityError, transaction

    from core import clock
    from core.audit import audit_context

    from .leavers import _reprice
    from .models import ZeroClaimYear

    services = _services()
    today = today or clock.today()
    source = _check_year_and_source(year, source, today)
    reason = _check_reason(reason, "更正")
    with transaction.atomic(), audit_context(actor, action="zero_claim_correct", reason=reason):
        resident, row = _locked(zero_claim)
        if (row.year, row.source) == (year, source):
            raise services.EnrollmentError("unchanged", "年度和依据均未改动，无需更正")
        if year != row.year:
            _check_paid(resident, year)
            if ZeroClaimYear.objects.filter(resident=resident, year=year).exclude(pk=row.pk).exists():
                raise services.EnrollmentError("duplicate", f"{resident.name} 的 {year} 年度已登记为零报销年度")
        row.year, row.source, row.change_reason = year, source, reason
        try:
            with transaction.atomic():
                row.save(update_fields=["year", "source", "change_reason"])
        except IntegrityError:
            raise services.EnrollmentError("duplicate", f"{resident.name} 的 {year} 年度已登记为零报销年度") from None
        row.repriced = _reprice(resident, today)
        return row


def zero_claim_withdraw(*, zero_claim, reason: str, actor, today: date | None = None) -> list:
    """Withdraw a recorded zero-claim year (recorded in error), with the reason — audited
    (``zero_claim_withdraw``): the reason is written on the record, then the record deleted,
    so the trail holds both, with who and when.  The person's unpaid enrollments are priced
    again without it.  Returns those enrollments."""
    from django.db import transaction

    from core import clock
    from core.audit import audit_context

    from .leavers import _reprice

    today = today or clock.today()
    reason = _check_reason(reason, "撤销")
    with transaction.atomic(), audit_context(actor, action="zero_claim_withdraw", reason=reason):
        resident, row = _locked(zero_claim)
        row.change_reason = reason
        row.save(update_fields=["change_reason"])
        row.delete()
        return _reprice(resident, today)
