"""Reads of flexible-employment enrollments shared by the admin, the services and the hook."""

from __future__ import annotations

from accounts.scoping import scope

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
