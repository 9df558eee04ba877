"""Categories, standards and eligibility (POLICY.md §2, §3; INTERFACES.md §2 not_eligible).

Ningbo's table (000 §1(二)): ranges include both ends, ages on 2024-12-31,
student status decides before birth date.  Xining, Xianyang and Lüliang have
one standard (`resident`).  Shanghai gives only the pupils'/infants' 355.
"""

import pytest

from .rules_support import (LL, NB, SH, XN, XY, case, check, covered, disagrees, err, req, run,
                            timing)

ADULT = {"category": "adult", "personal_standard": "780.00", "fiscal_subsidy": "2090.00",
         "amount_due": "780.00"}
MINOR = {"category": "minor", "personal_standard": "290.00", "fiscal_subsidy": "370.00",
         "amount_due": "290.00"}
INFANT = {"category": "infant", "personal_standard": "630.00", "fiscal_subsidy": "1000.00",
          "amount_due": "630.00"}
STUDENT = {"category": "student", "personal_standard": "290.00", "fiscal_subsidy": "370.00",
           "amount_due": "290.00"}
COLLEGE = {"category": "college", "personal_standard": "180.00", "fiscal_subsidy": "240.00",
           "amount_due": "180.00"}
NB_WINDOW = timing("window", "2025-01-01")


def nb(birth, **kw):
    return req(NB, 2025, "2024-11-15", birth, **kw)


NINGBO = [
    case("nb-born-1980-adult", nb("1980-05-01"), **ADULT, **NB_WINDOW),
    case("nb-born-1940-adult", nb("1940-01-01"), **ADULT),
    case("nb-born-2005-12-31-last-adult-day", nb("2005-12-31"), **ADULT),
    case("nb-born-2006-01-01-first-minor-day", nb("2006-01-01"), **MINOR),
    case("nb-born-2012-06-15-minor", nb("2012-06-15"), **MINOR, **NB_WINDOW),
    case("nb-born-2018-12-31-last-minor-day", nb("2018-12-31"), **MINOR),
    case("nb-born-2019-01-01-first-infant-day", nb("2019-01-01"), **INFANT),
    case("nb-born-2020-03-01-infant", nb("2020-03-01"), **INFANT, **NB_WINDOW),
    case("nb-born-2024-06-30-infant", nb("2024-06-30"), **INFANT),
    # student status decides before birth date
    case("nb-pupil-aged-19-is-student", nb("2005-06-01", student="primary_secondary"), **STUDENT),
    case("nb-pupil-born-2005-12-31-is-student", nb("2005-12-31", student="primary_secondary"),
         **STUDENT),
    case("nb-pupil-born-2010-is-student", nb("2010-03-01", student="primary_secondary"),
         **STUDENT, **NB_WINDOW),
    case("nb-pupil-born-2018-is-student", nb("2018-09-01", student="primary_secondary"), **STUDENT),
    case("nb-college-born-2004", nb("2004-07-01", student="college"), **COLLEGE),
    case("nb-college-postgraduate-born-1995", nb("1995-01-01", student="college"), **COLLEGE),
    case("nb-college-aged-17", nb("2007-05-01", student="college"), **COLLEGE),
    # non-local with a Ningbo residence permit: same standards
    case("nb-nonlocal-permit-adult", nb("1980-05-01", hukou="nonlocal", residence_permit=True),
         **ADULT, **NB_WINDOW),
    case("nb-nonlocal-permit-minor", nb("2012-06-15", hukou="nonlocal", residence_permit=True),
         **MINOR),
    case("nb-nonlocal-permit-infant", nb("2019-01-01", hukou="nonlocal", residence_permit=True),
         **INFANT),
    case("nb-nonlocal-permit-pupil", nb("2010-03-01", hukou="nonlocal", residence_permit=True,
                                        student="primary_secondary"), **STUDENT),
]

XN_RESIDENT = {"category": "resident", "personal_standard": "400.00", "fiscal_subsidy": None,
               "amount_due": "400.00"}
XY_RESIDENT = {"category": "resident", "personal_standard": "400.00", "fiscal_subsidy": "670.00",
               "amount_due": "400.00"}
LL_RESIDENT = {"category": "resident", "personal_standard": "400.00", "fiscal_subsidy": None,
               "amount_due": "400.00"}
SH_STUDENT = {"category": "student", "personal_standard": "355.00", "fiscal_subsidy": None,
              "amount_due": "355.00"}


def xn(birth, **kw):
    return req(XN, 2025, "2024-10-08", birth, **kw)


def xy(birth, **kw):
    return req(XY, 2025, "2024-10-01", birth, **kw)


def ll(birth, **kw):
    return req(LL, 2026, "2025-11-03", birth, history=covered(2025), **kw)


def sh(birth, **kw):
    return req(SH, 2025, "2024-12-10", birth, **kw)


SINGLE_STANDARD = [
    case("xn-adult-resident", xn("1980-05-01"), **XN_RESIDENT),
    case("xn-elderly-resident", xn("1940-01-01"), **XN_RESIDENT),
    case("xn-child-resident", xn("2020-03-01"), **XN_RESIDENT),
    case("xn-pupil-resident", xn("2012-06-15", student="primary_secondary"), **XN_RESIDENT),
    case("xn-college-resident", xn("2004-07-01", student="college"), **XN_RESIDENT),
    case("xn-nonlocal-permit-resident", xn("1980-05-01", hukou="nonlocal", residence_permit=True),
         **XN_RESIDENT),
    case("xy-adult-resident", xy("1980-05-01"), **XY_RESIDENT),
    case("xy-elderly-resident", xy("1950-02-01"), **XY_RESIDENT),
    case("xy-infant-resident", xy("2023-07-01"), **XY_RESIDENT),
    case("xy-pupil-resident", xy("2012-06-15", student="primary_secondary"), **XY_RESIDENT),
    case("xy-college-resident", xy("2004-07-01", student="college"), **XY_RESIDENT),
    case("xy-nonlocal-permit-resident", xy("1980-05-01", hukou="nonlocal", residence_permit=True),
         **XY_RESIDENT),
    case("ll-adult-resident", ll("1980-05-01"), **LL_RESIDENT),
    case("ll-child-resident", ll("2019-04-01"), **LL_RESIDENT),
    case("ll-pupil-resident", ll("2012-06-15", student="primary_secondary"), **LL_RESIDENT),
    case("ll-college-resident", ll("2004-07-01", student="college"), **LL_RESIDENT),
    case("ll-nonlocal-permit-resident", ll("1980-05-01", hukou="nonlocal", residence_permit=True),
         **LL_RESIDENT),
]

SHANGHAI = [
    case("sh-pupil-355", sh("2015-09-01", student="primary_secondary"), **SH_STUDENT),
    case("sh-pupil-aged-18-355", sh("2006-05-01", student="primary_secondary"), **SH_STUDENT),
    case("sh-nonlocal-permit-pupil-355",
         sh("2015-09-01", student="primary_secondary", hukou="nonlocal", residence_permit=True),
         **SH_STUDENT),
    err("sh-adult-not-in-source", sh("1980-05-01"), "value_not_in_source"),
    err("sh-college-not-in-source", sh("2004-07-01", student="college"), "value_not_in_source"),
    err("sh-adult-late-not-in-source", req(SH, 2025, "2025-03-01"), "value_not_in_source"),
    # 004 (二)Q13: 中小学生及婴幼儿 355 元; a person born in the benefit year is an infant by any
    # reading of 婴幼儿, and POLICY.md §2 frees newborns from the periods and from waiting.
    case("sh-newborn-is-infant-355", req(SH, 2025, "2025-03-10", "2025-03-01"),
         category="infant", personal_standard="355.00", amount_due="355.00",
         **timing("exempt", "2025-03-10")),
    # Only the newborn is certain: a child born before the benefit year has no range to fall in.
    err("sh-toddler-not-in-source", req(SH, 2025, "2024-12-10", "2023-05-01"), "value_not_in_source"),
]

# --- eligibility: employee insurance, non-local without permit, Ningbo's newborn exception ----
ELIGIBILITY = [
    err("nb-employee-insured", nb("1980-05-01", employee_insured=True), "not_eligible"),
    err("xn-employee-insured", xn("1980-05-01", employee_insured=True), "not_eligible"),
    err("xy-employee-insured", xy("1980-05-01", employee_insured=True), "not_eligible"),
    err("ll-employee-insured", ll("1980-05-01", employee_insured=True), "not_eligible"),
    err("sh-employee-insured-pupil",
        sh("2006-05-01", student="primary_secondary", employee_insured=True), "not_eligible"),
    err("nb-employee-insured-newborn",
        req(NB, 2025, "2025-03-10", "2025-03-01", employee_insured=True), "not_eligible"),
    err("nb-nonlocal-no-permit", nb("1980-05-01", hukou="nonlocal"), "not_eligible"),
    err("nb-nonlocal-no-permit-pupil", nb("2010-03-01", hukou="nonlocal",
                                          student="primary_secondary"), "not_eligible"),
    err("xn-nonlocal-no-permit", xn("1980-05-01", hukou="nonlocal"), "not_eligible"),
    err("xy-nonlocal-no-permit", xy("1980-05-01", hukou="nonlocal"), "not_eligible"),
    err("ll-nonlocal-no-permit", ll("1980-05-01", hukou="nonlocal"), "not_eligible"),
    err("sh-nonlocal-no-permit-pupil", sh("2015-09-01", hukou="nonlocal",
                                          student="primary_secondary"), "not_eligible"),
    # Ningbo: non-local newborn 0-6 months with a parent insured in Ningbo (000 §1(一))
    case("nb-nonlocal-infant-2-months-parent-insured",
         req(NB, 2025, "2024-11-01", "2024-09-01", hukou="nonlocal", parent_insured_locally=True),
         **INFANT, **NB_WINDOW),
    case("nb-nonlocal-infant-exactly-6-months-parent-insured",
         req(NB, 2025, "2024-12-15", "2024-06-15", hukou="nonlocal", parent_insured_locally=True),
         **INFANT, **NB_WINDOW),
    case("nb-nonlocal-newborn-2025-parent-insured",
         req(NB, 2025, "2025-03-10", "2025-03-01", hukou="nonlocal", parent_insured_locally=True),
         **INFANT, **timing("exempt", "2025-03-10")),
    err("nb-nonlocal-infant-7-months-parent-insured",
        req(NB, 2025, "2024-12-15", "2024-05-10", hukou="nonlocal", parent_insured_locally=True),
        "not_eligible"),
    err("nb-nonlocal-adult-parent-flag-no-help",
        req(NB, 2025, "2024-11-15", hukou="nonlocal", parent_insured_locally=True), "not_eligible"),
    err("nb-nonlocal-infant-parent-not-insured",
        req(NB, 2025, "2024-11-01", "2024-09-01", hukou="nonlocal"), "not_eligible"),
    err("xn-nonlocal-infant-parent-insured-no-exception",
        req(XN, 2025, "2024-11-01", "2024-09-01", hukou="nonlocal", parent_insured_locally=True),
        "not_eligible"),
    err("xy-nonlocal-infant-parent-insured-no-exception",
        req(XY, 2025, "2024-11-01", "2024-09-01", hukou="nonlocal", parent_insured_locally=True),
        "not_eligible"),
    err("ll-nonlocal-newborn-parent-insured-no-exception",
        req(LL, 2026, "2026-05-01", "2026-04-10", hukou="nonlocal", parent_insured_locally=True),
        "not_eligible"),
]


@pytest.mark.parametrize("raw, expected", NINGBO + SINGLE_STANDARD + SHANGHAI + ELIGIBILITY)
def test_category_and_eligibility(raw, expected):
    check(run(raw), expected)


# --- the category rule straight on the spec ----------------------------------------------------


@pytest.mark.parametrize("region, year, birth, student, code", [
    pytest.param(NB, 2025, "2005-12-31", None, "adult", id="nb-2005-12-31"),
    pytest.param(NB, 2025, "2006-01-01", None, "minor", id="nb-2006-01-01"),
    pytest.param(NB, 2025, "2018-12-31", None, "minor", id="nb-2018-12-31"),
    pytest.param(NB, 2025, "2019-01-01", None, "infant", id="nb-2019-01-01"),
    pytest.param(NB, 2025, "2005-06-01", "primary_secondary", "student", id="nb-pupil-19"),
    pytest.param(NB, 2025, "2012-06-01", "college", "college", id="nb-college-12"),
    # a clone moves the birth ranges with the year: adults born by 2007-12-31 for 2027
    pytest.param(NB, 2027, "2007-12-31", None, "adult", id="nb2027-2007-12-31"),
    pytest.param(NB, 2027, "2008-01-01", None, "minor", id="nb2027-2008-01-01"),
    pytest.param(NB, 2027, "2020-12-31", None, "minor", id="nb2027-2020-12-31"),
    pytest.param(NB, 2027, "2021-01-01", None, "infant", id="nb2027-2021-01-01"),
    pytest.param(XN, 2025, "2012-06-01", "primary_secondary", "resident", id="xn-pupil"),
    pytest.param(XY, 2025, "1950-06-01", None, "resident", id="xy-elderly"),
    pytest.param(LL, 2026, "2004-06-01", "college", "resident", id="ll-college"),
    pytest.param(SH, 2025, "2015-09-01", "primary_secondary", "student", id="sh-pupil"),
])
def test_find_category(region, year, birth, student, code):
    from datetime import date

    from policy.rules.category import find_category
    from policy.rules.types import Person

    from .rules_support import spec_for

    person = Person(birth_date=date.fromisoformat(birth), student=student)
    assert find_category(spec_for(region, year), person).code == code
