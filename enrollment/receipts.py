"""参保登记回执: what a person takes home after registering — who, where, which year, the
category, what is due and when to pay it.  Not a payment certificate (that is 缴费证明, from
the payment).  Built from the enrollment and its policy year; the views are in
``enrollment/views_receipts.py``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone

from policy.models import PaymentPeriod, PolicyYear, PolicyYearStatus
from policy.selectors import policy_region

from .idnumbers import mask
from .models import Enrollment, EnrollmentStatus


class ReceiptError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Period:
    name: str
    starts_on: date | None
    ends_on: date | None


@dataclass(frozen=True)
class Receipt:
    enrollment_id: int
    name: str
    masked_id: str
    region: str
    year: int
    category: str
    registered_via: str
    registered_at: datetime
    registered_by: str
    status: str
    amount_due: Decimal
    assistance: str
    assistance_amount: Decimal | None
    paid: bool
    benefit_start: date | None
    benefit_end: date | None
    periods: tuple[Period, ...]
    issued_on: date


def _periods(region_id: str, year: int) -> tuple[Period, ...]:
    """The payment periods of the region's published policy year (a county: its city's)."""
    region = policy_region(region_id)
    code = region.code if region else region_id
    py = PolicyYear.objects.filter(region_id=code, year=year, status=PolicyYearStatus.PUBLISHED).first()
    if py is None:
        return ()
    return tuple(Period(p.get_kind_display(), p.starts_on, p.ends_on)
                 for p in PaymentPeriod.objects.filter(policy_year=py).order_by("sort_order", "id"))


def receipt_for(e: Enrollment, *, today: date) -> Receipt:
    """The receipt of a registration; a cancelled one has none."""
    if e.status == EnrollmentStatus.CANCELLED:
        raise ReceiptError(f"该参保登记已于 {timezone.localtime(e.cancelled_at):%Y-%m-%d} 注销，不能开具登记回执"
                           if e.cancelled_at else "该参保登记已注销，不能开具登记回执")
    who = e.registered_by
    return Receipt(
        enrollment_id=e.pk, name=e.resident.name, masked_id=mask(e.resident.id_number), region=e.region.name,
        year=e.year, category=e.get_category_display(), registered_via=e.get_registered_via_display(),
        registered_at=timezone.localtime(e.registered_at),
        registered_by=(who.get_full_name() or who.get_username()) if who else "系统（批量登记或接口）",
        status=e.get_status_display(), amount_due=e.amount_due,
        assistance=e.get_assistance_identity_display() if e.assistance_identity else "",
        assistance_amount=e.assistance_amount, paid=e.status == EnrollmentStatus.PAID,
        benefit_start=e.benefit_start, benefit_end=e.benefit_end, periods=_periods(e.region_id, e.year),
        issued_on=today)


# --- 重新登记通知书: the letter to someone default renewal did not renew -----------------------

# What to bring, by the reason (000 §2: the documents a registration needs); everyone brings
# the identity card or household register.
BRING = {
    "hukou_moved": "现户口簿",
    "permit_expired": "在有效期内的居住证",
    "category_changed": "能说明现参保类别的材料（如学籍证明）",
    "graduated": "毕业或就业情况说明",
    "parent_permit": "父母的有效居住证和孩子的出生医学证明",
    "not_eligible": "能说明现参保情况的材料",
    "value_not_in_source": "",
}

NOTICE_LIMIT = 500  # letters printed at once


@dataclass(frozen=True)
class NoticeLetter:
    notice_id: int
    name: str
    masked_id: str
    region: str
    year: int
    reason: str
    detail: str
    bring: str
    periods: tuple[Period, ...]
    issued_on: date


def notice_letters(notices, *, today: date) -> list[NoticeLetter]:
    """One letter per notice (``notices`` with resident and region selected)."""
    periods: dict[tuple[str, int], tuple[Period, ...]] = {}
    out = []
    for n in notices:
        key = (n.region_id, n.year)
        if key not in periods:
            periods[key] = _periods(n.region_id, n.year)
        extra = BRING.get(n.reason, "")
        out.append(NoticeLetter(
            notice_id=n.pk, name=n.resident.name, masked_id=mask(n.resident.id_number), region=n.region.name,
            year=n.year, reason=n.get_reason_display(), detail=n.detail,
            bring="居民身份证或户口簿" + (f"，以及{extra}" if extra else ""), periods=periods[key], issued_on=today))
    return out
