"""Continuity, waiting periods and the critical-illness cap (POLICY.md sections 2 and 4)."""

from __future__ import annotations

from .types import COVERED, Continuity, PolicySpec


def continuity(spec: PolicySpec, year: int, birth_year: int, history: dict,
               repaired_years) -> Continuity:
    """The gap before ``year``: the run of uncovered years right before it.

    Only years from ``spec.continuity_from_year`` (2025) and from the birth
    year on count; a year missing from the history is a break year.
    """
    first = spec.continuity_from_year if spec.continuity_from_year > birth_year else birth_year
    gap = []
    y = year - 1
    while y >= first and history.get(y, "none") not in COVERED:
        gap.append(y)
        y -= 1
    if gap:  # not continuous: no covered run right before the year
        unrepaired = sum(1 for g in gap if g not in repaired_years)
        return Continuity(gap_years=tuple(reversed(gap)), covered_run=0, unrepaired=unrepaired)
    run = 0
    while y >= first and history.get(y, "none") in COVERED:
        run += 1
        y -= 1
    return Continuity(gap_years=(), covered_run=run, unrepaired=0)


def continuity_waiting_months(spec: PolicySpec, cont: Continuity, outside_window: bool) -> int:
    """Fixed + variable waiting months owed for being late or not continuous.

    Fixed: ``fixed_waiting_months`` when paid outside the window or not
    continuous.  Variable (regions with that rule): one month per gap year not
    made up by back-payment; after ``variable_floor_gap_years`` or more break
    years in a row, fixed + variable is at least ``variable_floor_months``.
    """
    if cont.continuous:
        return spec.fixed_waiting_months if outside_window else 0
    months = spec.fixed_waiting_months
    if spec.variable_waiting:
        months += cont.unrepaired
        floor_gap = spec.variable_floor_gap_years
        if floor_gap is not None and len(cont.gap_years) >= floor_gap:
            floor = spec.variable_floor_months or 0
            if months < floor:
                months = floor
    return months


def cap_adjustment(spec: PolicySpec, cont: Continuity) -> int | None:
    """Change to the critical-illness cap for the quoted year, in yuan.

    n = covered years in a row up to and including the year; increase =
    per-year amount x max(0, n - after_years); a person re-enrolling after a
    break gets the decrease instead.  None when the region's amounts are not in
    the source.
    """
    if spec.cap_increase_per_year is None or spec.cap_break_decrease is None \
            or spec.cap_after_years is None:
        return None
    if not cont.continuous:
        return -int(spec.cap_break_decrease)
    n = cont.covered_run + 1
    extra = n - spec.cap_after_years
    return int(spec.cap_increase_per_year) * extra if extra > 0 else 0
