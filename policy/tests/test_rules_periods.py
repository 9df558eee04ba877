"""Payment periods of the five regions: every first day, last day and day after.

POLICY.md §3.1–3.5 and the sources 000–004.  A continuous person (everyone is
continuous in 2025: continuity counts from 2025) paying in the window has no
waiting; outside the window the region's own rule applies.
"""

import pytest

from .rules_support import LL, NB, SH, XN, XY, case, check, covered, err, req, run, timing

# --- Ningbo 330200 / 2025 (000): payment 2024-10-21 … 2024-12-27, then 中断参保 ≥ 3 months ---
NB_ADULT = {"region": "330200", "year": 2025, "category": "adult", "personal_standard": "780.00",
            "fiscal_subsidy": "2090.00", "assistance": None, "amount_due": "780.00",
            "benefit_end": "2025-12-31", "cap_adjustment": None}


def nb(paid_on):
    return req(NB, 2025, paid_on)


NINGBO = [
    err("nb-2024-10-20-day-before-opening", nb("2024-10-20"), "window_not_open"),
    case("nb-2024-10-21-opening-day", nb("2024-10-21"),
         **timing("window", "2025-01-01"), **NB_ADULT),
    case("nb-2024-12-25-registration-ends", nb("2024-12-25"), **timing("window", "2025-01-01"),
         **NB_ADULT),
    case("nb-2024-12-27-last-payment-day", nb("2024-12-27"), **timing("window", "2025-01-01"),
         **NB_ADULT),
    # late: waiting counted from max(paid, 2025-01-01)
    case("nb-2024-12-28-day-after", nb("2024-12-28"),
         **timing("late", "2025-04-01", 3), **NB_ADULT),
    case("nb-2025-01-01-late", nb("2025-01-01"), **timing("late", "2025-04-01", 3), **NB_ADULT),
    case("nb-2025-01-31-late-clamps-to-04-30", nb("2025-01-31"), **timing("late", "2025-04-30", 3),
         **NB_ADULT),
    case("nb-2025-02-10-late", nb("2025-02-10"), **timing("late", "2025-05-10", 3), **NB_ADULT),
    case("nb-2025-05-31-late", nb("2025-05-31"), **timing("late", "2025-08-31", 3), **NB_ADULT),
    case("nb-2025-06-30-late", nb("2025-06-30"), **timing("late", "2025-09-30", 3), **NB_ADULT),
    err("nb-2026-01-01-after-benefit-year", nb("2026-01-01"), "window_closed"),
]

# --- Xining 630100 / 2025 (001 §三 table) ---------------------------------------------------
XN_RESIDENT = {"region": "630100", "year": 2025, "category": "resident",
               "personal_standard": "400.00", "fiscal_subsidy": None, "assistance": None,
               "amount_due": "400.00", "benefit_end": "2025-12-31", "cap_adjustment": None}


def xn(paid_on):
    return req(XN, 2025, paid_on)


XINING = [
    err("xn-2024-08-31-day-before-opening", xn("2024-08-31"), "window_not_open"),
    case("xn-2024-09-01-opening-day", xn("2024-09-01"), **timing("window", "2025-01-01"),
         **XN_RESIDENT),
    case("xn-2024-10-08-autumn", xn("2024-10-08"), **timing("window", "2025-01-01"), **XN_RESIDENT),
    case("xn-2024-12-31-last-day-row-1", xn("2024-12-31"), **timing("window", "2025-01-01"),
         **XN_RESIDENT),
    # row 2: benefits from the payment date
    case("xn-2025-01-01-first-day-row-2", xn("2025-01-01"), **timing("window", "2025-01-01"),
         **XN_RESIDENT),
    case("xn-2025-02-14-row-2", xn("2025-02-14"), **timing("window", "2025-02-14"), **XN_RESIDENT),
    case("xn-2025-03-31-last-day-row-2", xn("2025-03-31"), **timing("window", "2025-03-31"),
         **XN_RESIDENT),
    # row 3: personal, payment date + 60 days
    case("xn-2025-04-01-first-day-row-3", xn("2025-04-01"), **timing("late", "2025-05-31", 0, 60),
         **XN_RESIDENT),
    case("xn-2025-05-01-row-3", xn("2025-05-01"), **timing("late", "2025-06-30", 0, 60),
         **XN_RESIDENT),
    case("xn-2025-06-30-last-day-row-3", xn("2025-06-30"), **timing("late", "2025-08-29", 0, 60),
         **XN_RESIDENT),
    # row 4: personal + fiscal subsidy, and the subsidy is not in the source
    err("xn-2025-07-01-needs-fiscal", xn("2025-07-01"), "value_not_in_source"),
    err("xn-2025-08-01-needs-fiscal", xn("2025-08-01"), "value_not_in_source"),
    err("xn-2025-12-31-needs-fiscal", xn("2025-12-31"), "value_not_in_source"),
    err("xn-2026-01-01-after-benefit-year", xn("2026-01-01"), "window_closed"),
]

# --- Xianyang 610400 / 2025 (002 02, 03) -------------------------------------------------
XY_RESIDENT = {"region": "610400", "year": 2025, "category": "resident",
               "personal_standard": "400.00", "fiscal_subsidy": "670.00", "assistance": None,
               "amount_due": "400.00", "benefit_end": "2025-12-31", "cap_adjustment": 0}


def xy(paid_on):
    return req(XY, 2025, paid_on)


XIANYANG = [
    err("xy-2024-09-19-day-before-opening", xy("2024-09-19"), "window_not_open"),
    case("xy-2024-09-20-opening-day", xy("2024-09-20"), **timing("window", "2025-01-01"),
         **XY_RESIDENT),
    case("xy-2024-10-01-window", xy("2024-10-01"), **timing("window", "2025-01-01"), **XY_RESIDENT),
    case("xy-2024-12-20-last-day", xy("2024-12-20"), **timing("window", "2025-01-01"),
         **XY_RESIDENT),
    err("xy-2024-12-21-between-periods", xy("2024-12-21"), "window_closed"),
    err("xy-2024-12-31-between-periods", xy("2024-12-31"), "window_closed"),
    case("xy-2025-01-01-supplementary-opens", xy("2025-01-01"),
         **timing("supplementary", "2025-04-01", 3), **XY_RESIDENT),
    case("xy-2025-01-31-supplementary-clamps", xy("2025-01-31"),
         **timing("supplementary", "2025-04-30", 3), **XY_RESIDENT),
    case("xy-2025-02-15-supplementary", xy("2025-02-15"),
         **timing("supplementary", "2025-05-15", 3), **XY_RESIDENT),
    case("xy-2025-03-31-supplementary-last-day", xy("2025-03-31"),
         **timing("supplementary", "2025-06-30", 3), **XY_RESIDENT),
    err("xy-2025-04-01-after-supplementary", xy("2025-04-01"), "window_closed"),
    err("xy-2025-12-31-after-supplementary", xy("2025-12-31"), "window_closed"),
]

# --- Lüliang 141100 / 2026 (003 §三(一)): 2025-10-21 … 2026-02-25, days 1–25 only ----------
LL_RESIDENT = {"region": "141100", "year": 2026, "category": "resident",
               "personal_standard": "400.00", "fiscal_subsidy": None, "assistance": None,
               "amount_due": "400.00", "benefit_end": "2026-12-31", "cap_adjustment": None}
LL_2025 = covered(2025)  # continuous for 2026


def ll(paid_on, history=LL_2025):
    return req(LL, 2026, paid_on, history=history)


LUELIANG = [
    err("ll-2025-09-25-before-opening", ll("2025-09-25"), "window_not_open"),
    err("ll-2025-10-20-day-before-opening", ll("2025-10-20"), "window_not_open"),
    case("ll-2025-10-21-opening-day", ll("2025-10-21"), **timing("window", "2026-01-01"),
         **LL_RESIDENT),
    case("ll-2025-10-25-day-25", ll("2025-10-25"), **timing("window", "2026-01-01"), **LL_RESIDENT),
    err("ll-2025-10-26-day-26", ll("2025-10-26"), "payment_day_not_allowed"),
    case("ll-2025-11-01-day-1", ll("2025-11-01"), **timing("window", "2026-01-01"), **LL_RESIDENT),
    case("ll-2025-12-25-last-2025-day", ll("2025-12-25"), **timing("window", "2026-01-01"),
         **LL_RESIDENT),
    err("ll-2025-12-26-day-26", ll("2025-12-26"), "payment_day_not_allowed"),
    err("ll-2025-12-31-day-31", ll("2025-12-31"), "payment_day_not_allowed"),
    # 2026-01-01 is a public holiday: only cash needs a working day
    case("ll-2026-01-01-holiday-from-payment", ll("2026-01-01"), **timing("window", "2026-01-01"),
         **LL_RESIDENT),
    case("ll-2026-01-10-from-payment", ll("2026-01-10"), **timing("window", "2026-01-10"),
         **LL_RESIDENT),
    case("ll-2026-02-01-from-payment", ll("2026-02-01"), **timing("window", "2026-02-01"),
         **LL_RESIDENT),
    case("ll-2026-02-25-window-last-day", ll("2026-02-25"), **timing("window", "2026-02-25"),
         **LL_RESIDENT),
    err("ll-2026-02-26-day-26", ll("2026-02-26"), "payment_day_not_allowed"),
    # after the window: full personal + all fiscal subsidies, the subsidy is not in the source
    err("ll-2026-03-01-late-needs-fiscal", ll("2026-03-01"), "value_not_in_source"),
    err("ll-2026-03-25-late-needs-fiscal", ll("2026-03-25"), "value_not_in_source"),
    err("ll-2026-12-25-late-needs-fiscal", ll("2026-12-25"), "value_not_in_source"),
    err("ll-2027-01-05-after-benefit-year", ll("2027-01-05"), "window_closed"),
    # not continuous (2025 missing = a break): 3 months even in the window
    case("ll-first-time-2025-10-21", ll("2025-10-21", {}), **timing("window", "2026-04-01", 3),
         **LL_RESIDENT),
    case("ll-first-time-2025-11-01", ll("2025-11-01", {}), **timing("window", "2026-04-01", 3),
         **LL_RESIDENT),
    case("ll-first-time-2025-12-25", ll("2025-12-25", {}), **timing("window", "2026-04-01", 3),
         **LL_RESIDENT),
    case("ll-first-time-2026-01-01", ll("2026-01-01", {}), **timing("window", "2026-04-01", 3),
         **LL_RESIDENT),
    case("ll-first-time-2026-01-10", ll("2026-01-10", {}), **timing("window", "2026-04-10", 3),
         **LL_RESIDENT),
    case("ll-first-time-2026-02-25", ll("2026-02-25", {}), **timing("window", "2026-05-25", 3),
         **LL_RESIDENT),
    case("ll-break-2025-none-2026-01-20", ll("2026-01-20", {"2025": "none"}),
         **timing("window", "2026-04-20", 3), **LL_RESIDENT),
]

# --- Shanghai 310000 / 2025 (004 (一)Q3): schools' deadline 2024-12-20 -------------------------
SH_PUPIL = {"region": "310000", "year": 2025, "category": "student", "personal_standard": "355.00",
            "fiscal_subsidy": None, "assistance": None, "amount_due": "355.00",
            "benefit_end": "2025-12-31", "cap_adjustment": None}


def sh(paid_on):
    return req(SH, 2025, paid_on, "2015-09-01", student="primary_secondary")


SHANGHAI = [
    case("sh-2024-11-15-window", sh("2024-11-15"), **timing("window", "2025-01-01"), **SH_PUPIL),
    case("sh-2024-12-10-window", sh("2024-12-10"), **timing("window", "2025-01-01"), **SH_PUPIL),
    case("sh-2024-12-20-schools-deadline", sh("2024-12-20"), **timing("window", "2025-01-01"),
         **SH_PUPIL),
    case("sh-2024-12-21-day-after", sh("2024-12-21"), **timing("late", "2025-04-01", 3),
         **SH_PUPIL),
    case("sh-2025-03-15-mid-year", sh("2025-03-15"), **timing("late", "2025-06-15", 3), **SH_PUPIL),
    case("sh-2025-05-31-clamps", sh("2025-05-31"), **timing("late", "2025-08-31", 3), **SH_PUPIL),
    case("sh-2025-06-30-mid-year", sh("2025-06-30"), **timing("late", "2025-09-30", 3), **SH_PUPIL),
    err("sh-2026-01-01-after-benefit-year", sh("2026-01-01"), "window_closed"),
]


@pytest.mark.parametrize("raw, expected", NINGBO + XINING + XIANYANG + LUELIANG + SHANGHAI)
def test_periods(raw, expected):
    check(run(raw), expected)
