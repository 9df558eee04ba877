"""Reads shared by the admin, the API, the services and the batch jobs.

Coverage history is read from the database and handed to the same pure rule
functions the quote uses (policy.rules.continuity), so the resident page, the
registration and the quote never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace

from policy.rules.continuity import cap_adjustment, continuity, continuity_waiting_months
from policy.rules.types import Identity, Person, PolicySpec, QuoteRequest

from .models import EmployeeCoverage, Enrollment, EnrollmentStatus, GapRepair, Resident

_NO_POLICY = SimpleNamespace(continuity_from_year=2025)


def coverage_history(resident: Resident, *, before_year: int | None = None) -> dict[int, str]:
    """Year -> "resident" / "employee" for every covered year (paid enrollments and
    employee insurance); years not in the dict are break years."""
    history: dict[int, str] = {}
    enrollments = Enrollment.objects.filter(resident=resident, status=EnrollmentStatus.PAID)
    coverage = EmployeeCoverage.objects.filter(id_number=resident.id_number)
    if before_year is not None:
        enrollments = enrollments.filter(year__lt=before_year)
        coverage = coverage.filter(year__lt=before_year)
    for y in coverage.values_list("year", flat=True):
        history[y] = "employee"
    for y in enrollments.values_list("year", flat=True):
        history[y] = "resident"
    return history


def repaired_years(resident: Resident) -> frozenset[int]:
    return frozenset(GapRepair.objects.filter(resident=resident).values_list("year", flat=True))


def employee_status(id_number: str, year: int) -> tuple[bool, date | None]:
    """(insured in the employee scheme now, date they left it, if they did)."""
    rows = list(EmployeeCoverage.objects.filter(id_number=id_number, year__in=(year - 1, year))
                .values_list("year", "ended_on"))
    insured = any(y == year and ended is None for y, ended in rows)
    left = max((ended for _, ended in rows if ended is not None), default=None)
    return insured, left


def identities_for(id_number: str, year: int) -> tuple[Identity, ...]:
    from subsidies.models import AssistanceIdentity

    rows = AssistanceIdentity.objects.filter(id_number=id_number, year=year).values_list(
        "identity", "certified_on")
    return tuple(Identity(code=code, certified_on=on) for code, on in rows)


def permit_valid(resident: Resident, on: date) -> bool:
    return resident.residence_permit and (
        resident.residence_permit_expires_on is None or resident.residence_permit_expires_on >= on)


def person_of(resident: Resident, *, on: date, employee_insured: bool = False,
              parent_insured_locally: bool = False) -> Person:
    return Person(
        birth_date=resident.birth_date,
        hukou=resident.hukou,
        residence_permit=permit_valid(resident, on),
        student=resident.student or None,
        employee_insured=employee_insured,
        parent_insured_locally=parent_insured_locally,
    )


def quote_request_for(resident: Resident, year: int, paid_on: date, *,
                      parent_insured_locally: bool = False) -> QuoteRequest:
    """The quote request the database says for a resident, year and payment date."""
    insured, left = employee_status(resident.id_number, year)
    return QuoteRequest(
        region=resident.region_id,
        year=year,
        paid_on=paid_on,
        person=person_of(resident, on=paid_on, employee_insured=insured,
                         parent_insured_locally=parent_insured_locally),
        identities=identities_for(resident.id_number, year),
        history=coverage_history(resident, before_year=year),
        repaired_years=repaired_years(resident),
        left_other_scheme_on=left,
    )


@dataclass
class CoverageSummary:
    year: int
    timeline: list[tuple[int, str]]  # (year, "resident" | "employee" | "none")
    gap_years: tuple[int, ...]
    continuous: bool
    continuous_years: int  # covered years in a row before the year
    repaired: tuple[int, ...]
    waiting_months_in_window: int | None  # waiting if paid in the window (None: no policy)
    cap_adjustment: int | None
    cap_known: bool


def coverage_summary(resident: Resident, year: int, spec: PolicySpec | None) -> CoverageSummary:
    """What the history means for ``year``: gap, continuity, waiting, cap adjustment."""
    history = coverage_history(resident, before_year=year)
    repaired = repaired_years(resident)
    first = max(spec.continuity_from_year if spec else 2025, resident.birth_date.year)
    timeline = [(y, history.get(y, "none")) for y in range(first, year)]
    # Without a published policy the continuity is still known (it starts in 2025);
    # the waiting and the cap then depend on figures we do not have.
    cont = continuity(spec or _NO_POLICY, year, resident.birth_date.year, history, repaired)
    return CoverageSummary(
        year=year, timeline=timeline, gap_years=cont.gap_years, continuous=cont.continuous,
        continuous_years=cont.covered_run, repaired=tuple(sorted(r for r in repaired if r in cont.gap_years)),
        waiting_months_in_window=continuity_waiting_months(spec, cont, False) if spec else None,
        cap_adjustment=cap_adjustment(spec, cont) if spec else None,
        cap_known=spec is not None and spec.cap_increase_per_year is not None,
    )


def residents_for(user):
    from accounts.scoping import scope

    return scope(Resident.objects.all(), user)


def enrollments_for(user):
    from accounts.scoping import scope

    return scope(Enrollment.objects.all(), user)
