"""Zero-claim years (004 (一)Q1 基金零报销激励): a benefit year the person was enrolled and paid
here and the fund reimbursed nothing, recorded by the bureau from the settlement system's list.

The facts selector (enrollment.selectors) reads a recorded year as history
"resident_zero_claim"; where the region rewards it (policy data) the rules raise the next
year's critical-illness cap (policy.rules.continuity).  Recording one prices the person's
unpaid enrollments again, as any change of their facts does (the cap adjustment is part of
the price record)."""

from __future__ import annotations

from datetime import date


def _services():
    from . import services  # services imports the selectors

    return services


def zero_claim_record(*, resident, year: int, source: str, actor, today: date | None = None):
    """Record ``year`` as a zero-claim year of ``resident``.  Refused (nothing written) when the
    year has not ended on ``today``, when the person holds no paid enrollment here for it, when
    the record says nothing of what it rests on, or when the year is already recorded."""
    from django.db import IntegrityError, transaction

    from core import clock
    from core.audit import audit_context
    from core.audit_actor import acting_user

    from .leavers import _reprice
    from .models import Enrollment, EnrollmentStatus, Resident, ZeroClaimYear

    services = _services()
    today = today or clock.today()
    source = (source or "").strip()
    if not isinstance(year, int) or isinstance(year, bool) or not 1990 <= year <= 2100:
        raise services.EnrollmentError("invalid_input", f"零报销年度应为 1990–2100 的年份，收到 {year!r}")
    if year >= today.year:
        raise services.EnrollmentError("invalid_input", f"{year} 年度尚未结束（今天是 {today.isoformat()}），"
                                                        "不能登记为零报销年度")
    if not source:
        raise services.EnrollmentError("invalid_input", "请填写依据（如医保结算系统的零报销名单）")
    with transaction.atomic(), audit_context(actor, action="zero_claim_record"):
        locked = Resident.objects.select_for_update().get(pk=resident.pk)
        if not Enrollment.objects.filter(resident=locked, year=year, status=EnrollmentStatus.PAID).exists():
            raise services.EnrollmentError("not_enrolled", f"{locked.name} {year} 年度未在本市缴费参保，"
                                                           "不能登记为零报销年度")
        if ZeroClaimYear.objects.filter(resident=locked, year=year).exists():
            raise services.EnrollmentError("duplicate", f"{locked.name} 的 {year} 年度已登记为零报销年度")
        try:
            with transaction.atomic():
                row = ZeroClaimYear.objects.create(resident=locked, id_number=locked.id_number, year=year,
                                                   source=source[:200], recorded_at=clock.now(),
                                                   recorded_by=acting_user(actor))
        except IntegrityError:
            raise services.EnrollmentError("duplicate",
                                           f"{locked.name} 的 {year} 年度已登记为零报销年度") from None
        row.repriced = _reprice(locked, today)
        return row
