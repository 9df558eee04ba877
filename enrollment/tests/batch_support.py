"""Many paid residents at once, for the batch engine's tests and the crash test."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from enrollment.idnumbers import make_number
from enrollment.models import Enrollment, EnrollmentStatus, Resident


def paid_adults(n: int, *, region: str = "330200", area: str = "330203", year: int = 2025,
                start: int = 0) -> list[Resident]:
    """``n`` local adults with a paid ``year`` enrollment (780.00, Ningbo's adult figure)."""
    residents = Resident.objects.bulk_create(
        Resident(id_number=_number(area, i), name=f"居民{i}", birth_date=_birth(i), sex="M", region_id=region)
        for i in range(start, start + n))
    Enrollment.objects.bulk_create(
        Enrollment(resident=r, year=year, region_id=region, category="adult", status=EnrollmentStatus.PAID,
                   registered_via="community", amount_due=Decimal("780.00"), personal_standard=Decimal("780.00"),
                   paid_amount=Decimal("780.00"), paid_on=date(year - 1, 12, 1), paid_via="channel",
                   timing="window", benefit_start=date(year, 1, 1), benefit_end=date(year, 12, 31))
        for r in residents)
    return residents


def _birth(i: int) -> date:
    return date(1950 + i // (12 * 28 * 499) % 40, (i // (28 * 499)) % 12 + 1, (i // 499) % 28 + 1)


def _number(area: str, i: int) -> str:
    b = _birth(i)
    return make_number(f"{area}{b:%Y%m%d}{(i % 499) * 2 + 1:03d}")
