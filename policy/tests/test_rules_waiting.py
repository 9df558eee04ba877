"""Exemptions, continuity, waiting periods and the critical-illness cap.

POLICY.md §2 (newborns, special groups, benefit_start = max(paid, Jan 1) +
waiting), §3.2 (Xining's special groups), §3.4 (Lüliang's newborns, needy
groups and leavers), §3.5 and §4 (gaps, fixed and variable waiting, cap).
"""

from datetime import date

import pytest

from policy.rules.continuity import continuity, continuity_waiting_months

from .rules_support import (LL, NB, SH, XN, XY, case, check, covered, err, ident, req, run,
                            spec_for, timing)

# --- newborns: born in the benefit year ---------------------------------------------------------

NEWBORNS = [
    case("nb-newborn-01-01-paid-same-day", req(NB, 2025, "2025-01-01", "2025-01-01"),
         category="infant", amount_due="630.00", **timing("exempt", "2025-01-01")),
    case("nb-newborn-paid-june", req(NB, 2025, "2025-06-15", "2025-03-01"),
         category="infant", amount_due="630.00", **timing("exempt", "2025-06-15")),
    case("nb-newborn-12-31", req(NB, 2025, "2025-12-31", "2025-12-31"),
         amount_due="630.00", **timing("exempt", "2025-12-31")),
    err("nb-newborn-after-benefit-year", req(NB, 2025, "2026-01-05", "2025-03-01"),
        "window_closed"),
    # in Xining's Jan-Mar row benefits start on the payment date anyway
    case("xn-newborn-february", req(XN, 2025, "2025-02-10", "2025-02-01"),
         amount_due="400.00", **timing("window", "2025-02-10")),
    case("xn-newborn-may-no-60-days", req(XN, 2025, "2025-05-01", "2025-04-10"),
         amount_due="400.00", **timing("exempt", "2025-05-01")),
    case("xn-newborn-august-personal-only", req(XN, 2025, "2025-08-05", "2025-08-01"),
         amount_due="400.00", **timing("exempt", "2025-08-05")),
    case("xy-newborn-in-supplementary-no-waiting", req(XY, 2025, "2025-02-01", "2025-01-15"),
         amount_due="400.00", cap_adjustment=0, **timing("exempt", "2025-02-01")),
    case("xy-newborn-after-periods", req(XY, 2025, "2025-06-01", "2025-05-10"),
         amount_due="400.00", cap_adjustment=0, **timing("exempt", "2025-06-01")),
    case("xy-newborn-12-31", req(XY, 2025, "2025-12-31", "2025-12-31"),
         amount_due="400.00", **timing("exempt", "2025-12-31")),
    case("sh-pupil-born-2015-late-is-no-newborn",
         req(SH, 2025, "2025-03-10", "2015-09-01", student="primary_secondary"),
         amount_due="355.00", **timing("late", "2025-06-10", 3)),
    # Lüliang: not charged in the birth year, benefits from the date of birth
    case("ll-newborn-free", req(LL, 2026, "2026-05-01", "2026-04-10"),
         category="resident", personal_standard="400.00", fiscal_subsidy=None, assistance=None,
         amount_due="0.00", benefit_end="2026-12-31", cap_adjustment=None,
         **timing("newborn", "2026-04-10")),
    case("ll-newborn-01-01-registered-12-31", req(LL, 2026, "2026-12-31", "2026-01-01"),
         amount_due="0.00", **timing("newborn", "2026-01-01")),
    case("ll-newborn-registered-on-day-28", req(LL, 2026, "2026-07-28", "2026-07-20"),
         amount_due="0.00", **timing("newborn", "2026-07-20")),
    case("ll-newborn-registered-in-late-period", req(LL, 2026, "2026-03-10", "2026-03-01"),
         amount_due="0.00", **timing("newborn", "2026-03-01")),
    case("ll-newborn-with-dibao-nothing-to-assist",
         req(LL, 2026, "2026-05-01", "2026-04-10", identities=[ident("dibao")]),
         assistance=None, amount_due="0.00", **timing("newborn", "2026-04-10")),
    err("ll-newborn-registered-after-year", req(LL, 2026, "2027-01-05", "2026-04-10"),
        "window_closed"),
    # born the year before: not a newborn for 2026; the birth year counts for continuity
    case("ll-born-2025-not-enrolled-2025", req(LL, 2026, "2025-11-03", "2025-03-01"),
         amount_due="400.00", **timing("window", "2026-04-01", 3)),
    case("ll-born-2025-enrolled-2025", req(LL, 2026, "2025-11-03", "2025-03-01",
                                           history=covered(2025)),
         amount_due="400.00", **timing("window", "2026-01-01")),
]

# --- Xining's special groups (001 §三 注): personal only, from the payment date ---------------

XN_EXEMPT = {"category": "resident", "amount_due": "400.00", "assistance": None}


def xn(paid_on, *identities, **kw):
    return req(XN, 2025, paid_on, identities=[ident(c) for c in identities], **kw)


XINING = [
    case("xn-medical-assistance-may", xn("2025-05-01", "medical_assistance"),
         **XN_EXEMPT, **timing("exempt", "2025-05-01")),
    case("xn-medical-assistance-april-1", xn("2025-04-01", "medical_assistance"),
         **XN_EXEMPT, **timing("exempt", "2025-04-01")),
    case("xn-medical-assistance-july-1", xn("2025-07-01", "medical_assistance"),
         **XN_EXEMPT, **timing("exempt", "2025-07-01")),
    case("xn-poverty-alleviated-august", xn("2025-08-01", "poverty_alleviated"),
         **XN_EXEMPT, **timing("exempt", "2025-08-01")),
    case("xn-poverty-alleviated-12-31", xn("2025-12-31", "poverty_alleviated"),
         **XN_EXEMPT, **timing("exempt", "2025-12-31")),
    case("xn-medical-assistance-autumn-window", xn("2024-10-08", "medical_assistance"),
         **XN_EXEMPT, **timing("window", "2025-01-01")),
    case("xn-poverty-alleviated-february", xn("2025-02-14", "poverty_alleviated"),
         **XN_EXEMPT, **timing("window", "2025-02-14")),
    case("xn-medical-assistance-and-dibao-august", xn("2025-08-01", "medical_assistance", "dibao"),
         assistance={"identity": "dibao", "amount": "200.00"}, amount_due="200.00",
         **timing("exempt", "2025-08-01")),
    err("xn-medical-assistance-after-year", xn("2026-01-01", "medical_assistance"),
        "window_closed"),
    err("xn-medical-assistance-certified-after-payment",
        req(XN, 2025, "2025-08-01", identities=[ident("medical_assistance", "2025-09-01")]),
        "value_not_in_source"),
    # left employee insurance less than 3 months before
    case("xn-left-employee-1.5-months-august", xn("2025-08-01", left_other_scheme_on="2025-06-15"),
         **XN_EXEMPT, **timing("exempt", "2025-08-01")),
    case("xn-left-employee-exactly-3-months", xn("2025-08-01", left_other_scheme_on="2025-05-01"),
         **XN_EXEMPT, **timing("exempt", "2025-08-01")),
    case("xn-left-employee-may", xn("2025-05-10", left_other_scheme_on="2025-04-20"),
         **XN_EXEMPT, **timing("exempt", "2025-05-10")),
    err("xn-left-employee-3-months-and-a-day", xn("2025-08-01", left_other_scheme_on="2025-04-30"),
        "value_not_in_source"),
    err("xn-left-employee-after-payment", xn("2025-08-01", left_other_scheme_on="2025-08-10"),
        "value_not_in_source"),
    case("xn-left-employee-long-ago-may-60-days",
         xn("2025-05-10", left_other_scheme_on="2025-02-01"),
         **XN_EXEMPT, **timing("late", "2025-07-09", 0, 60)),
]

# --- Lüliang: needy groups late, leavers (003 §二 動態調整, §三(三), §三(四)) ----------------------


def ll(paid_on, *identities, history=None, **kw):
    ids = [i if isinstance(i, dict) else ident(i) for i in identities]
    return req(LL, 2026, paid_on, identities=ids, history={} if history is None else history, **kw)


def ll_aid(identity, amount, due):
    return {"assistance": {"identity": identity, "amount": amount}, "amount_due": due}


LUELIANG = [
    # late, needy: self-pay part only, no waiting, from the payment date
    case("ll-dibao-late", ll("2026-03-10", "dibao"), **ll_aid("dibao", "320.00", "80.00"),
         **timing("exempt", "2026-03-10")),
    case("ll-dibao-late-continuous", ll("2026-03-10", "dibao", history=covered(2025)),
         **ll_aid("dibao", "320.00", "80.00"), **timing("exempt", "2026-03-10")),
    case("ll-tekun-late", ll("2026-03-10", "tekun"), **ll_aid("tekun", "400.00", "0.00"),
         **timing("exempt", "2026-03-10")),
    case("ll-orphan-late", ll("2026-04-01", "orphan"), **ll_aid("orphan", "400.00", "0.00"),
         **timing("exempt", "2026-04-01")),
    case("ll-de-facto-orphan-late", ll("2026-06-15", "de_facto_orphan"),
         **ll_aid("de_facto_orphan", "400.00", "0.00"), **timing("exempt", "2026-06-15")),
    case("ll-monitored-late", ll("2026-03-10", "monitored"),
         **ll_aid("monitored", "280.00", "120.00"), **timing("exempt", "2026-03-10")),
    case("ll-returned-poverty-late-12-25", ll("2026-12-25", "returned_poverty"),
         **ll_aid("returned_poverty", "360.00", "40.00"), **timing("exempt", "2026-12-25")),
    err("ll-dibao-late-day-26", ll("2026-03-26", "dibao"), "payment_day_not_allowed"),
    err("ll-dibao-after-year", ll("2027-01-05", "dibao"), "window_closed"),
    # not needy groups: late means personal + fiscal, which is not in the source
    err("ll-disabled-certified-late", ll("2026-03-10", ident("disabled_certified", "2025-06-01")),
        "value_not_in_source"),
    err("ll-restructured-soe-late", ll("2026-03-10", "restructured_soe"), "value_not_in_source"),
    err("ll-entitled-late", ll("2026-03-10", "entitled"), "value_not_in_source"),
    # needy and not continuous, in the window: no waiting
    case("ll-dibao-window-not-continuous", ll("2025-11-03", "dibao"),
         **ll_aid("dibao", "320.00", "80.00"), **timing("exempt", "2026-01-01")),
    case("ll-dibao-january-not-continuous", ll("2026-01-10", "dibao"),
         **ll_aid("dibao", "320.00", "80.00"), **timing("exempt", "2026-01-10")),
    case("ll-dibao-window-continuous", ll("2025-11-03", "dibao", history=covered(2025)),
         **ll_aid("dibao", "320.00", "80.00"), **timing("window", "2026-01-01")),
    # not needy and not continuous: the fixed 3 months even in the window
    case("ll-restructured-window-not-continuous", ll("2025-11-03", "restructured_soe"),
         **ll_aid("restructured_soe", "400.00", "0.00"), **timing("window", "2026-04-01", 3)),
    # left another scheme within 3 months: after the window, benefits from the next day
    case("ll-left-employee-late", ll("2026-03-10", left_other_scheme_on="2026-01-15",
                                     history=covered(2025, kind="employee")),
         amount_due="400.00", **timing("exempt", "2026-03-11")),
    case("ll-left-exactly-3-months", ll("2026-03-10", left_other_scheme_on="2025-12-10",
                                        history=covered(2025, kind="employee")),
         amount_due="400.00", **timing("exempt", "2026-03-11")),
    case("ll-left-month-end", ll("2026-08-25", left_other_scheme_on="2026-05-31"),
         amount_due="400.00", **timing("exempt", "2026-08-26")),
    err("ll-left-3-months-and-a-day", ll("2026-03-10", left_other_scheme_on="2025-12-09"),
        "value_not_in_source"),
    err("ll-left-long-ago", ll("2026-03-10", left_other_scheme_on="2025-11-01"),
        "value_not_in_source"),
    case("ll-left-in-window-continuous", ll("2025-11-03", left_other_scheme_on="2025-10-01",
                                            history=covered(2025, kind="employee")),
         amount_due="400.00", **timing("window", "2026-01-01")),
]

# --- continuity and waiting (§4): Shanghai has the variable rule, the others do not ------------


def sh(year, paid_on, history, repaired=()):
    return req(SH, year, paid_on, "2012-01-01", student="primary_secondary", history=history,
               repaired_years=list(repaired))


R = "resident"
SH27 = [
    case("sh27-continuous", sh(2027, "2026-12-01", covered(2025, 2026)),
         cap_adjustment=None, **timing("window", "2027-01-01")),
    case("sh27-2026-break", sh(2027, "2026-12-01", {"2025": R, "2026": "none"}),
         **timing("window", "2027-05-01", 4)),
    case("sh27-2026-break-repaired", sh(2027, "2026-12-01", {"2025": R, "2026": "none"}, [2026]),
         **timing("window", "2027-04-01", 3)),
    case("sh27-2026-missing", sh(2027, "2026-12-01", covered(2025)),
         **timing("window", "2027-05-01", 4)),
    case("sh27-no-history-two-breaks", sh(2027, "2026-12-01", {}),
         **timing("window", "2027-06-01", 5)),
    case("sh27-two-breaks-one-repaired", sh(2027, "2026-12-01", {}, [2025]),
         **timing("window", "2027-05-01", 4)),
    case("sh27-two-breaks-both-repaired", sh(2027, "2026-12-01", {}, [2025, 2026]),
         **timing("window", "2027-04-01", 3)),
    case("sh27-repaired-year-not-in-gap", sh(2027, "2026-12-01", {"2025": R, "2026": "none"},
                                             [2025]),
         **timing("window", "2027-05-01", 4)),
    case("sh27-2025-break-then-2026", sh(2027, "2026-12-01", {"2025": "none", "2026": R}),
         **timing("window", "2027-01-01")),
    case("sh27-only-2026", sh(2027, "2026-12-01", covered(2026)), **timing("window", "2027-01-01")),
    case("sh27-employee-counts", sh(2027, "2026-12-01", covered(2025, 2026, kind="employee")),
         **timing("window", "2027-01-01")),
    case("sh27-zero-claim-counts",
         sh(2027, "2026-12-01", covered(2025, 2026, kind="resident_zero_claim")),
         **timing("window", "2027-01-01")),
    case("sh27-mixed-covered", sh(2027, "2026-12-01", {"2025": "employee", "2026": R}),
         **timing("window", "2027-01-01")),
    case("sh27-years-before-2025-ignored", sh(2027, "2026-12-01", {"2023": R, "2024": R}),
         **timing("window", "2027-06-01", 5)),
    case("sh27-2024-none-ignored", sh(2027, "2026-12-01", {"2024": "none", "2025": R, "2026": R}),
         **timing("window", "2027-01-01")),
    case("sh27-window-last-day", sh(2027, "2026-12-20", covered(2025, 2026)),
         **timing("window", "2027-01-01")),
    case("sh27-late-continuous", sh(2027, "2026-12-21", covered(2025, 2026)),
         **timing("late", "2027-04-01", 3)),
    case("sh27-late-continuous-february", sh(2027, "2027-02-28", covered(2025, 2026)),
         **timing("late", "2027-05-28", 3)),
    case("sh27-late-one-break", sh(2027, "2027-03-31", covered(2025)),
         **timing("late", "2027-07-31", 4)),
    case("sh27-late-one-break-clamps", sh(2027, "2027-05-31", covered(2025)),
         **timing("late", "2027-09-30", 4)),
    case("sh27-late-one-break-repaired", sh(2027, "2027-03-31", covered(2025), [2026]),
         **timing("late", "2027-06-30", 3)),
]

SH28 = [
    # broke in 2026, re-enrolled in 2027: continuous again for 2028
    case("sh28-continuous-again", sh(2028, "2027-12-01", {"2025": R, "2026": "none", "2027": R}),
         **timing("window", "2028-01-01")),
    case("sh28-2027-break", sh(2028, "2027-12-01", covered(2025, 2026)),
         **timing("window", "2028-05-01", 4)),
    case("sh28-three-breaks", sh(2028, "2027-12-01", {}), **timing("window", "2028-07-01", 6)),
    case("sh28-three-breaks-all-repaired-no-floor",
         sh(2028, "2027-12-01", {}, [2025, 2026, 2027]), **timing("window", "2028-04-01", 3)),
    case("sh28-three-breaks-two-repaired", sh(2028, "2027-12-01", {}, [2025, 2026]),
         **timing("window", "2028-05-01", 4)),
]

ALL_5 = [2025, 2026, 2027, 2028, 2029]
SH30 = [
    case("sh30-continuous-five-years", sh(2030, "2029-12-01", covered(*ALL_5)),
         cap_adjustment=None, **timing("window", "2030-01-01")),
    case("sh30-five-breaks", sh(2030, "2029-12-01", {}), **timing("window", "2030-09-01", 8)),
    case("sh30-five-breaks-all-repaired-floor-6", sh(2030, "2029-12-01", {}, ALL_5),
         **timing("window", "2030-07-01", 6)),
    case("sh30-five-breaks-three-repaired-floor-6",
         sh(2030, "2029-12-01", {}, [2025, 2026, 2027]), **timing("window", "2030-07-01", 6)),
    case("sh30-five-breaks-one-repaired", sh(2030, "2029-12-01", {}, [2025]),
         **timing("window", "2030-08-01", 7)),
    case("sh30-four-breaks", sh(2030, "2029-12-01", covered(2025)),
         **timing("window", "2030-08-01", 7)),
    case("sh30-four-breaks-all-repaired-floor-6",
         sh(2030, "2029-12-01", covered(2025), [2026, 2027, 2028, 2029]),
         **timing("window", "2030-07-01", 6)),
    case("sh30-four-breaks-three-repaired-floor-6",
         sh(2030, "2029-12-01", covered(2025), [2026, 2027, 2028]),
         **timing("window", "2030-07-01", 6)),
    case("sh30-three-breaks", sh(2030, "2029-12-01", covered(2025, 2026)),
         **timing("window", "2030-07-01", 6)),
    case("sh30-three-breaks-all-repaired", sh(2030, "2029-12-01", covered(2025, 2026),
                                              [2027, 2028, 2029]),
         **timing("window", "2030-04-01", 3)),
    case("sh30-one-break-2029", sh(2030, "2029-12-01", covered(2025, 2026, 2027, 2028)),
         **timing("window", "2030-05-01", 4)),
    case("sh30-window-last-day", sh(2030, "2029-12-20", covered(*ALL_5)),
         **timing("window", "2030-01-01")),
    case("sh30-late-continuous", sh(2030, "2029-12-21", covered(*ALL_5)),
         **timing("late", "2030-04-01", 3)),
    case("sh30-late-five-breaks", sh(2030, "2030-02-10", {}), **timing("late", "2030-10-10", 8)),
    case("sh30-late-four-breaks-repaired", sh(2030, "2030-02-10", covered(2025),
                                              [2026, 2027, 2028, 2029]),
         **timing("late", "2030-08-10", 6)),
]

# regions without the variable rule: 3 months whatever the gap
FIXED_ONLY = [
    case("nb27-no-history", req(NB, 2027, "2026-11-01", history={}),
         **timing("window", "2027-04-01", 3)),
    case("nb27-continuous", req(NB, 2027, "2026-11-01", history=covered(2025, 2026)),
         **timing("window", "2027-01-01")),
    case("nb26-window-opening-day", req(NB, 2026, "2025-10-21", history=covered(2025)),
         **timing("window", "2026-01-01")),
    case("nb26-window-last-day", req(NB, 2026, "2025-12-27", history=covered(2025)),
         **timing("window", "2026-01-01")),
    case("nb26-day-after", req(NB, 2026, "2025-12-28", history=covered(2025)),
         **timing("late", "2026-04-01", 3)),
    err("nb26-before-opening", req(NB, 2026, "2025-10-20", history=covered(2025)),
        "window_not_open"),
    case("nb30-five-breaks", req(NB, 2030, "2029-11-01", history={}),
         **timing("window", "2030-04-01", 3)),
    case("nb30-late-and-five-breaks", req(NB, 2030, "2030-02-10", history={}),
         **timing("late", "2030-05-10", 3)),
    case("xn27-continuous-autumn", req(XN, 2027, "2026-10-08", history=covered(2025, 2026)),
         **timing("window", "2027-01-01")),
    case("xn27-no-history-autumn", req(XN, 2027, "2026-10-08", history={}),
         **timing("window", "2027-04-01", 3)),
    case("xn27-no-history-february", req(XN, 2027, "2027-02-14", history={}),
         **timing("window", "2027-05-14", 3)),
    case("xn27-continuous-february", req(XN, 2027, "2027-02-14", history=covered(2025, 2026)),
         **timing("window", "2027-02-14")),
    case("xn27-medical-assistance-not-continuous",
         req(XN, 2027, "2027-02-14", history={}, identities=[ident("medical_assistance")]),
         **timing("exempt", "2027-02-14")),
    case("xy29-three-breaks", req(XY, 2029, "2028-10-01", history={"2025": R}),
         cap_adjustment=-3000, **timing("window", "2029-04-01", 3)),
    case("xy29-supplementary-and-breaks", req(XY, 2029, "2029-02-15", history={"2025": R}),
         cap_adjustment=-3000, **timing("supplementary", "2029-05-15", 3)),
    case("ll27-continuous", req(LL, 2027, "2026-11-02", history=covered(2026)),
         **timing("window", "2027-01-01")),
    case("ll27-2026-missing", req(LL, 2027, "2026-11-02", history=covered(2025)),
         **timing("window", "2027-04-01", 3)),
    case("ll27-two-breaks", req(LL, 2027, "2026-11-02", history={}),
         **timing("window", "2027-04-01", 3)),
    case("ll27-january-continuous", req(LL, 2027, "2027-01-11", history=covered(2025, 2026)),
         **timing("window", "2027-01-11")),
    case("ll27-january-not-continuous", req(LL, 2027, "2027-01-11", history={}),
         **timing("window", "2027-04-11", 3)),
    case("ll27-window-last-day", req(LL, 2027, "2027-02-25", history=covered(2026)),
         **timing("window", "2027-02-25")),
    err("ll27-day-before-opening", req(LL, 2027, "2026-10-20", history=covered(2026)),
        "window_not_open"),
    err("ll27-late-needs-fiscal", req(LL, 2027, "2027-03-02", history=covered(2026)),
        "value_not_in_source"),
    # born 2026: the birth year is the first year that counts
    case("ll27-born-2026-newborn-enrolled", req(LL, 2027, "2026-11-02", "2026-03-01",
                                                history=covered(2026)),
         **timing("window", "2027-01-01")),
    case("ll27-born-2026-2025-none-ignored",
         req(LL, 2027, "2026-11-02", "2026-03-01", history={"2025": "none", "2026": R}),
         **timing("window", "2027-01-01")),
    case("ll27-born-2026-not-enrolled", req(LL, 2027, "2026-11-02", "2026-03-01", history={}),
         **timing("window", "2027-04-01", 3)),
]

# --- the critical-illness cap (Xianyang: 3000 per continuous year after 4; −3000 after a break) --


def xy(year, history, birth="1980-05-01", paid_on=None):
    return req(XY, year, paid_on or f"{year - 1}-10-01", birth, history=history)


CAP = [
    case("xy25-first-year", xy(2025, {}), cap_adjustment=0, **timing("window", "2025-01-01")),
    case("xy25-years-before-2025-ignored", xy(2025, {"2023": "none", "2024": "none"}),
         cap_adjustment=0, **timing("window", "2025-01-01")),
    case("xy26-second-year", xy(2026, covered(2025)), cap_adjustment=0,
         **timing("window", "2026-01-01")),
    case("xy26-after-break", xy(2026, {}), cap_adjustment=-3000,
         **timing("window", "2026-04-01", 3)),
    case("xy28-fourth-year", xy(2028, covered(2025, 2026, 2027)), cap_adjustment=0),
    case("xy29-fifth-year", xy(2029, covered(2025, 2026, 2027, 2028)), cap_adjustment=3000,
         **timing("window", "2029-01-01")),
    case("xy29-fifth-year-mixed-covered",
         xy(2029, {"2025": "employee", "2026": "resident_zero_claim", "2027": R,
                   "2028": "employee"}), cap_adjustment=3000),
    case("xy29-fifth-year-paid-in-supplementary",
         xy(2029, covered(2025, 2026, 2027, 2028), paid_on="2029-02-15"),
         cap_adjustment=3000, **timing("supplementary", "2029-05-15", 3)),
    case("xy29-four-in-a-row-after-2025-break", xy(2029, covered(2026, 2027, 2028)),
         cap_adjustment=0),
    case("xy29-one-break", xy(2029, covered(2025, 2026, 2027)), cap_adjustment=-3000,
         **timing("window", "2029-04-01", 3)),
    case("xy29-two-break-years-still-3000", xy(2029, covered(2025, 2026)), cap_adjustment=-3000),
    case("xy30-sixth-year", xy(2030, covered(*ALL_5)), cap_adjustment=6000,
         **timing("window", "2030-01-01")),
    case("xy30-five-in-a-row", xy(2030, covered(2026, 2027, 2028, 2029)), cap_adjustment=3000),
    case("xy30-break-clears-earlier-increase",
         xy(2030, {"2025": R, "2026": "none", "2027": R, "2028": R, "2029": R}), cap_adjustment=0),
    case("xy30-break-in-2029", xy(2030, covered(2025, 2026, 2027, 2028)), cap_adjustment=-3000),
    case("xy29-born-2027-two-years", xy(2029, covered(2027, 2028), birth="2027-06-01"),
         cap_adjustment=0, **timing("window", "2029-01-01")),
    case("xy29-born-2027-not-enrolled", xy(2029, {}, birth="2027-06-01"), cap_adjustment=-3000,
         **timing("window", "2029-04-01", 3)),
    case("xy29-born-2028-enrolled", xy(2029, covered(2028), birth="2028-02-01"), cap_adjustment=0,
         **timing("window", "2029-01-01")),
    case("xy29-born-2028-not-enrolled", xy(2029, {}, birth="2028-02-01"), cap_adjustment=-3000),
    case("xy30-born-2026-four-years", xy(2030, covered(2026, 2027, 2028, 2029), birth="2026-01-10"),
         cap_adjustment=3000),
    case("xy29-newborn", req(XY, 2029, "2029-04-01", "2029-03-01"), cap_adjustment=0,
         **timing("exempt", "2029-04-01")),
    # the other regions: amounts not in source
    case("nb-cap-null", req(NB, 2025, "2024-11-15"), cap_adjustment=None),
    case("nb30-cap-null", req(NB, 2030, "2029-11-01", history=covered(*ALL_5)),
         cap_adjustment=None),
    case("xn-cap-null", req(XN, 2025, "2024-10-08"), cap_adjustment=None),
    case("ll-cap-null", req(LL, 2026, "2025-11-03", history=covered(2025)), cap_adjustment=None),
    case("sh30-cap-null", sh(2030, "2029-12-01", covered(*ALL_5)), cap_adjustment=None),
]


@pytest.mark.parametrize("raw, expected",
                         NEWBORNS + XINING + LUELIANG + SH27 + SH28 + SH30 + FIXED_ONLY + CAP)
def test_waiting_and_exemptions(raw, expected):
    check(run(raw), expected)


# --- the continuity rule straight on the spec ---------------------------------------------------

N = "none"


ALL_5_COVERED = {y: "resident" for y in ALL_5}


@pytest.mark.parametrize("year, birth_year, history, repaired, gap, run_, unrepaired", [
    pytest.param(2025, 1980, {}, (), (), 0, 0, id="2025-nothing-counts"),
    pytest.param(2025, 1980, {2023: N, 2024: N}, (), (), 0, 0, id="2025-before-2025-ignored"),
    pytest.param(2026, 1980, {}, (), (2025,), 0, 1, id="2026-missing-2025"),
    pytest.param(2026, 1980, {2025: "employee"}, (), (), 1, 0, id="2026-employee-covered"),
    pytest.param(2030, 1980, {}, (), (2025, 2026, 2027, 2028, 2029), 0, 5, id="2030-no-history"),
    pytest.param(2030, 1980, {2023: "resident", 2024: "resident"}, (),
                 (2025, 2026, 2027, 2028, 2029), 0, 5, id="2030-only-old-years"),
    pytest.param(2030, 2027, {}, (), (2027, 2028, 2029), 0, 3, id="2030-born-2027"),
    pytest.param(2030, 2029, {}, (), (2029,), 0, 1, id="2030-born-2029"),
    pytest.param(2030, 2030, {}, (), (), 0, 0, id="2030-born-2030"),
    pytest.param(2030, 1980, ALL_5_COVERED, (), (), 5, 0,
                 id="2030-five-covered"),
    pytest.param(2030, 1980, {2025: "resident", 2026: N, 2027: "resident", 2028: "resident",
                              2029: "resident_zero_claim"}, (), (), 3, 0,
                 id="2030-run-after-break"),
    pytest.param(2030, 1980, {2028: "employee", 2029: "resident"}, (), (), 2, 0,
                 id="2030-two-covered"),
    pytest.param(2030, 1980, {2025: "resident", 2026: "resident"}, {2027}, (2027, 2028, 2029), 0, 2,
                 id="2030-three-gap-one-repaired"),
    pytest.param(2030, 1980, {2028: "resident", 2029: N}, {2025, 2029}, (2029,), 0, 0,
                 id="2030-repaired-outside-gap-ignored"),
    pytest.param(2030, 2027, {2027: "resident", 2028: "resident", 2029: "resident"}, (), (), 3, 0,
                 id="2030-born-2027-all-covered"),
])
def test_continuity(year, birth_year, history, repaired, gap, run_, unrepaired):
    cont = continuity(spec_for(SH, year), year, birth_year, history, frozenset(repaired))
    assert (cont.gap_years, cont.covered_run, cont.unrepaired) == (gap, run_, unrepaired)
    assert cont.continuous is (gap == ())


@pytest.mark.parametrize("region, history, repaired, outside_window, months", [
    pytest.param(SH, ALL_5_COVERED, (), False, 0, id="sh-continuous"),
    pytest.param(SH, ALL_5_COVERED, (), True, 3, id="sh-continuous-late"),
    pytest.param(SH, {}, (), False, 8, id="sh-gap-5"),
    pytest.param(SH, {}, (), True, 8, id="sh-gap-5-late"),
    pytest.param(SH, {}, range(2025, 2030), False, 6, id="sh-gap-5-repaired-floor"),
    pytest.param(SH, {2025: "resident", 2026: "resident"}, (), False, 6, id="sh-gap-3"),
    pytest.param(SH, {2025: "resident", 2026: "resident"}, {2027, 2028, 2029}, False, 3,
                 id="sh-gap-3-repaired"),
    pytest.param(NB, {}, (), False, 3, id="nb-gap-5"),
    pytest.param(NB, {}, (), True, 3, id="nb-gap-5-late"),
    pytest.param(XY, {}, (), False, 3, id="xy-gap-5"),
    pytest.param(LL, {}, (), False, 3, id="ll-gap-5"),
    pytest.param(XN, ALL_5_COVERED, (), False, 0, id="xn-continuous"),
])
def test_continuity_waiting_months_2030(region, history, repaired, outside_window, months):
    spec = spec_for(region, 2030)
    cont = continuity(spec, 2030, 1980, history, frozenset(repaired))
    assert continuity_waiting_months(spec, cont, outside_window) == months


def test_clone_keeps_counting_from_2025():
    assert spec_for(SH, 2030).continuity_from_year == 2025
    assert spec_for(XY, 2029).continuity_from_year == 2025
    assert spec_for(SH, 2030).year_start == date(2030, 1, 1)
