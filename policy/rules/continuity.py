"""Continuity, waiting periods and the critical-illness cap (POLICY.md sections 2 and 4)."""

from __future__ import annotations

from decimal import Decimal

from .types import COVERED, CapDetail, Continuity, PolicySpec


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


def _zero_claim(spec: PolicySpec, cont: Continuity, history, year) -> bool:
    """004 (一)Q1 基金零报销激励: enrolled the year before with nothing reimbursed, and
    enrolled again this year (so continuous), in a region that rewards it."""
    return (spec.cap_zero_claim_incentive and cont.continuous and history is not None
            and year is not None and history.get(year - 1) == "resident_zero_claim")


def _break_decrease(spec: PolicySpec, breaks: int) -> Decimal | None:
    """The whole decrease after ``breaks`` break years: per break year (Shanghai, "按照断保年数")
    or once (Xianyang, 3000)."""
    if spec.cap_break_decrease is None:
        return None
    return spec.cap_break_decrease * (breaks if spec.cap_break_decrease_per_year else 1)


def cap_adjustment(spec: PolicySpec, cont: Continuity, history: dict | None = None,
                   year: int | None = None) -> int | None:
    """Change to the critical-illness cap for the quoted year, in yuan.

    n = covered years in a row up to and including the year; increase =
    per-year amount x max(0, n - after_years), plus the zero-claim increase
    where the region rewards a zero-claim year before (``history``/``year``
    given); a person re-enrolling after a break gets the decrease instead (per
    break year where the region says so).  None when any of the region's
    amounts is not in the source (``cap_detail`` says which one this person needs).
    """
    if spec.cap_increase_per_year is None or spec.cap_break_decrease is None \
            or spec.cap_after_years is None:
        return None
    if spec.cap_zero_claim_incentive and spec.cap_zero_claim_increase is None:
        return None
    if not cont.continuous:
        return -int(_break_decrease(spec, len(cont.gap_years)))
    n = cont.covered_run + 1
    extra = n - spec.cap_after_years
    total = int(spec.cap_increase_per_year) * extra if extra > 0 else 0
    if _zero_claim(spec, cont, history, year):
        total += int(spec.cap_zero_claim_increase)
    return total


def cap_detail(spec: PolicySpec, cont: Continuity, history: dict, year: int) -> CapDetail | None:
    """The cap incentives of the year as inputs and outputs; None where the region has no
    cap rule at all.  ``unset`` names the figures this person's adjustment needs and the
    source does not give (Shanghai: all of them)."""
    runs_cap = (spec.cap_after_years is not None or spec.cap_increase_per_year is not None
                or spec.cap_break_decrease is not None or spec.cap_zero_claim_incentive)
    if not runs_cap:
        return None
    n = cont.covered_run + 1 if cont.continuous else 0
    after = spec.cap_after_years
    extra = n - after if after is not None and n > after else 0
    zero = _zero_claim(spec, cont, history, year)
    breaks = len(cont.gap_years)
    unset = []
    if extra and spec.cap_increase_per_year is None:
        unset.append("连续参保每满 1 年提高的大病保险最高支付限额")
    if zero and spec.cap_zero_claim_increase is None:
        unset.append("基金零报销次年提高的大病保险最高支付限额")
    if breaks and spec.cap_break_decrease is None:
        unset.append("断保后再参保" + ("每断保 1 年" if spec.cap_break_decrease_per_year else "")
                     + "降低的大病保险最高支付限额")
    return CapDetail(
        continuous_years=n, increase_years=extra, increase_per_year=spec.cap_increase_per_year,
        zero_claim=zero, zero_claim_increase=spec.cap_zero_claim_increase if zero else None,
        break_years=breaks, break_decrease=_break_decrease(spec, breaks) if breaks else None,
        unset=tuple(unset))
