"""Reads of flexible-employment enrollments shared by the admin, the services and the hook."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from accounts.scoping import scope
from policy.rules.flexible import FLEX_COMPONENTS

from .models import FlexibleEnrollment, FlexibleStatus


def live_flexible_enrollment(resident_id: int, year: int) -> FlexibleEnrollment | None:
    """The person's registered or paid flexible-employment enrollment of a year, if any."""
    return (FlexibleEnrollment.objects.filter(resident_id=resident_id, year=year)
            .exclude(status=FlexibleStatus.CANCELLED).first())


def flexible_refusal_for_resident(resident_id: int, year: int) -> str | None:
    """Enrollment's "other scheme" check: why a person may not register for the resident
    scheme that year (in the flexible scheme), or None."""
    found = live_flexible_enrollment(resident_id, year)
    if found is None:
        return None
    return _refusal(year, found.status)


def _refusal(year: int, status: str) -> str:
    return (f"已参加 {year} 年度灵活就业人员医疗保险（{FlexibleStatus(status).label}），"
            "同一时间只能参加一种医疗保险，不能再登记城乡居民医保")


def flexible_refusals_for_residents(resident_ids, year: int) -> dict[int, str]:
    """The set-based "other scheme" check of the bulk paths (the residents import, default
    renewal): ``{resident_id: reason}`` of those of ``resident_ids`` registered or paid in the
    flexible scheme that year, with the single check's reason — one query."""
    rows = (FlexibleEnrollment.objects.filter(resident_id__in=list(resident_ids), year=year)
            .exclude(status=FlexibleStatus.CANCELLED).values_list("resident_id", "status"))
    return {resident_id: _refusal(year, status) for resident_id, status in rows}


def flexible_enrollments_for(user, queryset=None):
    """The enrollments of the user's regions."""
    qs = queryset if queryset is not None else FlexibleEnrollment.objects.all()
    return scope(qs, user)


def flexible_certificate(enrollment: FlexibleEnrollment, *, today):
    """The tax-paid certificate (《社会保险费缴费证明》) of a paid enrollment, from its ledger
    payment (payments.certificates.scheme_certificate): available from the scheme's days after
    the payment date (002 注意事项 4: "缴费5日后"); raises ``CertificateError`` with words."""
    e = FlexibleEnrollment.objects.select_related("payment", "payment__region").get(pk=enrollment.pk)
    return _certificate(e, today=today)


def _certificate(e: FlexibleEnrollment, *, today):
    from payments.certificates import NotPaid, scheme_certificate

    if e.status == FlexibleStatus.CANCELLED:
        raise NotPaid(f"{e.year} 年度灵活就业人员医疗保险登记已注销，不能开具缴费证明")
    if e.status != FlexibleStatus.PAID:
        raise NotPaid(f"{e.year} 年度灵活就业人员医疗保险{e.get_status_display()}，尚未缴费，不能开具缴费证明")
    return scheme_certificate(e.payment, today=today,
                              category=f"灵活就业人员医疗保险（{e.get_person_status_display()}）",
                              benefit_start=e.benefit_start, benefit_end=e.benefit_end)


@dataclass(frozen=True)
class CertificatePart:
    """One line of the amount on the certificate: ``amount`` None for a part not paid
    (a retired person pays no basic insurance: 不缴纳)."""

    key: str
    label: str
    amount: Decimal | None


def flexible_certificate_parts(enrollment: FlexibleEnrollment, *, today):
    """(the certificate, the parts of its amount) of a paid enrollment: basic (不缴纳 for a
    retired person), large-amount supplement, critical illness, and the interruption's
    make-up of basic insurance when there was one (included in the amount, 002 缴费情形);
    raises ``CertificateError`` as ``flexible_certificate``."""
    e = (FlexibleEnrollment.objects.select_related("payment", "payment__region")
         .get(pk=enrollment.pk))
    cert = _certificate(e, today=today)
    parts = [CertificatePart("basic", FLEX_COMPONENTS["basic"], e.basic_amount),
             CertificatePart("large-medical", FLEX_COMPONENTS["large_medical"], e.large_medical_amount),
             CertificatePart("critical-illness", FLEX_COMPONENTS["critical_illness"], e.critical_illness_amount)]
    if e.makeup_basic:
        parts.append(CertificatePart("makeup", "其中：补足中断期间基本医疗保险费", e.makeup_basic))
    return cert, parts
