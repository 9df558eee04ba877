"""Assistance (资助参保): one subsidy, the highest (POLICY.md §2; 003 §二 就高不就低).

Ningbo (000): full, local hukou only.  Xining (001 §五): full, or 50 % of 400;
low-income members (incl. 低保边缘) only at 60 or over / 18 or under, age on
2024-12-31.  Lüliang (003 §二): fixed amounts; 优抚对象 has no amount in the source.
"""

from decimal import Decimal
from itertools import permutations

import pytest

from .rules_support import LL, NB, XN, case, check, covered, err, ident, req, run, timing


def aid(identity, amount, due):
    return {"assistance": {"identity": identity, "amount": amount}, "amount_due": due}


NO_AID_NB_ADULT = {"assistance": None, "amount_due": "780.00"}


def nb(*identities, birth="1980-05-01", paid_on="2024-11-15", **kw):
    return req(NB, 2025, paid_on, birth, identities=[ident(c) for c in identities], **kw)


NINGBO = [
    case("nb-dibao-adult-full", nb("dibao"), category="adult", **aid("dibao", "780.00", "0.00"),
         **timing("window", "2025-01-01")),
    case("nb-dibao-edge-adult-full", nb("dibao_edge"), **aid("dibao_edge", "780.00", "0.00")),
    case("nb-tekun-adult-full", nb("tekun"), **aid("tekun", "780.00", "0.00")),
    case("nb-entitled-adult-full", nb("entitled"), **aid("entitled", "780.00", "0.00")),
    case("nb-disabled-severe-adult-full", nb("disabled_severe"),
         **aid("disabled_severe", "780.00", "0.00")),
    case("nb-orphan-minor-full", nb("orphan", birth="2012-06-15"), category="minor",
         **aid("orphan", "290.00", "0.00")),
    case("nb-dibao-infant-full", nb("dibao", birth="2020-03-01"), category="infant",
         **aid("dibao", "630.00", "0.00")),
    case("nb-dibao-pupil-full", nb("dibao", birth="2010-03-01", student="primary_secondary"),
         category="student", **aid("dibao", "290.00", "0.00")),
    case("nb-dibao-college-full", nb("dibao", birth="2004-07-01", student="college"),
         category="college", **aid("dibao", "180.00", "0.00")),
    case("nb-two-identities-one-full", nb("dibao", "disabled_severe"), amount_due="0.00"),
    case("nb-monitored-with-dibao", nb("monitored", "dibao"), **aid("dibao", "780.00", "0.00")),
    # full assistance only for local hukou
    case("nb-nonlocal-permit-dibao-none", nb("dibao", hukou="nonlocal", residence_permit=True),
         **NO_AID_NB_ADULT),
    case("nb-nonlocal-permit-orphan-minor-none",
         nb("orphan", birth="2012-06-15", hukou="nonlocal", residence_permit=True),
         assistance=None, amount_due="290.00"),
    case("nb-nonlocal-newborn-parent-insured-dibao-none",
         nb("dibao", birth="2025-03-01", paid_on="2025-03-10", hukou="nonlocal",
            parent_insured_locally=True), assistance=None, amount_due="630.00"),
    # identities Ningbo does not assist
    case("nb-monitored-none", nb("monitored"), **NO_AID_NB_ADULT),
    case("nb-low-income-member-none", nb("low_income_member", birth="1950-01-01"),
         **NO_AID_NB_ADULT),
    case("nb-returned-poverty-none", nb("returned_poverty"), **NO_AID_NB_ADULT),
    # assistance does not change the timing
    case("nb-dibao-late", nb("dibao", paid_on="2025-02-10"), **aid("dibao", "780.00", "0.00"),
         **timing("late", "2025-05-10", 3)),
]

FULL_XN = ("400.00", "0.00")
HALF_XN = ("200.00", "200.00")
NO_AID_XN = {"assistance": None, "amount_due": "400.00"}


def xn(*identities, birth="1980-05-01", paid_on="2024-10-08", **kw):
    return req(XN, 2025, paid_on, birth, identities=[ident(c) for c in identities], **kw)


def xn27(code, birth):
    return req(XN, 2027, "2026-10-08", birth, history=covered(2025, 2026),
               identities=[ident(code)])


XINING = [
    case("xn-tekun-full", xn("tekun"), **aid("tekun", *FULL_XN), **timing("window", "2025-01-01")),
    case("xn-orphan-full", xn("orphan", birth="2015-04-01"), **aid("orphan", *FULL_XN)),
    case("xn-de-facto-orphan-full", xn("de_facto_orphan", birth="2015-04-01"),
         **aid("de_facto_orphan", *FULL_XN)),
    case("xn-hiv-child-full", xn("hiv_child", birth="2015-04-01"), **aid("hiv_child", *FULL_XN)),
    case("xn-dibao-half", xn("dibao"), **aid("dibao", *HALF_XN)),
    case("xn-low-income-severe-disabled-half", xn("low_income_severe_disabled"),
         **aid("low_income_severe_disabled", *HALF_XN)),
    case("xn-entitled-half", xn("entitled"), **aid("entitled", *HALF_XN)),
    # low-income members: 60 or over, 18 or under; age on 2024-12-31
    case("xn-low-income-age-60", xn("low_income_member", birth="1964-12-31"),
         **aid("low_income_member", *HALF_XN)),
    case("xn-low-income-age-59", xn("low_income_member", birth="1965-01-01"), **NO_AID_XN),
    case("xn-low-income-age-84", xn("low_income_member", birth="1940-01-01"),
         **aid("low_income_member", *HALF_XN)),
    case("xn-low-income-age-44", xn("low_income_member"), **NO_AID_XN),
    case("xn-low-income-age-19", xn("low_income_member", birth="2005-12-31"), **NO_AID_XN),
    case("xn-low-income-age-18-born-2006-01-01", xn("low_income_member", birth="2006-01-01"),
         **aid("low_income_member", *HALF_XN)),
    case("xn-low-income-age-18-born-2006-12-31", xn("low_income_member", birth="2006-12-31"),
         **aid("low_income_member", *HALF_XN)),
    case("xn-low-income-age-4", xn("low_income_member", birth="2020-05-01"),
         **aid("low_income_member", *HALF_XN)),
    # the age is taken on 2024-12-31, not on the payment date
    case("xn-low-income-turns-60-in-2025-none",
         xn("low_income_member", birth="1965-01-01", paid_on="2025-02-14"), **NO_AID_XN),
    case("xn-low-income-turns-19-in-2025-still-18",
         xn("low_income_member", birth="2006-02-01", paid_on="2025-02-14"),
         **aid("low_income_member", *HALF_XN)),
    case("xn-dibao-edge-age-60", xn("dibao_edge", birth="1964-12-31"),
         **aid("dibao_edge", *HALF_XN)),
    case("xn-dibao-edge-age-59", xn("dibao_edge", birth="1965-01-01"), **NO_AID_XN),
    case("xn-dibao-edge-age-18", xn("dibao_edge", birth="2006-12-31"),
         **aid("dibao_edge", *HALF_XN)),
    case("xn-dibao-edge-age-19", xn("dibao_edge", birth="2005-12-31"), **NO_AID_XN),
    case("xn-dibao-any-age", xn("dibao", birth="1965-01-01"), **aid("dibao", *HALF_XN)),
    # identities Xining does not assist
    case("xn-disabled-severe-none", xn("disabled_severe"), **NO_AID_XN),
    case("xn-monitored-none", xn("monitored"), **NO_AID_XN),
    case("xn-poverty-alleviated-no-assistance", xn("poverty_alleviated"), **NO_AID_XN),
    # highest wins, whatever the order
    case("xn-dibao-then-tekun", xn("dibao", "tekun"), **aid("tekun", *FULL_XN)),
    case("xn-tekun-then-dibao", xn("tekun", "dibao"), **aid("tekun", *FULL_XN)),
    case("xn-low-income-44-and-dibao", xn("low_income_member", "dibao"), **aid("dibao", *HALF_XN)),
    case("xn-low-income-44-and-entitled", xn("low_income_member", "entitled"),
         **aid("entitled", *HALF_XN)),
    case("xn-nonlocal-permit-tekun", xn("tekun", hukou="nonlocal", residence_permit=True),
         **aid("tekun", *FULL_XN)),
    # with the periods
    case("xn-dibao-february", xn("dibao", paid_on="2025-02-14"), **aid("dibao", *HALF_XN),
         **timing("window", "2025-02-14")),
    case("xn-tekun-may-60-days", xn("tekun", paid_on="2025-05-01"), **aid("tekun", *FULL_XN),
         **timing("late", "2025-06-30", 0, 60)),
    err("xn-dibao-august-needs-fiscal", xn("dibao", paid_on="2025-08-01"), "value_not_in_source"),
    # a clone takes ages on the day before its own benefit year (2026-12-31 for 2027)
    case("xn27-low-income-age-60", xn27("low_income_member", "1966-12-31"),
         **aid("low_income_member", *HALF_XN), **timing("window", "2027-01-01")),
    case("xn27-low-income-age-59", xn27("low_income_member", "1967-01-01"), **NO_AID_XN),
    case("xn27-dibao-edge-age-18", xn27("dibao_edge", "2008-12-31"), **aid("dibao_edge", *HALF_XN)),
    case("xn27-dibao-edge-age-19", xn27("dibao_edge", "2007-12-31"), **NO_AID_XN),
]


def ll(*identities, paid_on="2025-11-03", **kw):
    ids = [i if isinstance(i, dict) else ident(i) for i in identities]
    return req(LL, 2026, paid_on, identities=ids, history=covered(2025), **kw)


DISABLED_EARLY = ident("disabled_certified", "2025-03-01")
NO_AID_LL = {"assistance": None, "amount_due": "400.00"}

LUELIANG = [
    case("ll-tekun-400", ll("tekun"), personal_standard="400.00", **aid("tekun", "400.00", "0.00"),
         **timing("window", "2026-01-01")),
    case("ll-orphan-400", ll("orphan"), **aid("orphan", "400.00", "0.00")),
    case("ll-de-facto-orphan-400", ll("de_facto_orphan"),
         **aid("de_facto_orphan", "400.00", "0.00")),
    case("ll-dibao-320", ll("dibao"), **aid("dibao", "320.00", "80.00")),
    case("ll-dibao-certified-320", ll(ident("dibao", "2025-06-01")),
         **aid("dibao", "320.00", "80.00")),
    case("ll-monitored-280", ll("monitored"), **aid("monitored", "280.00", "120.00")),
    case("ll-returned-poverty-360", ll("returned_poverty"),
         **aid("returned_poverty", "360.00", "40.00")),
    case("ll-restructured-soe-400", ll("restructured_soe"),
         **aid("restructured_soe", "400.00", "0.00")),
    case("ll-disabled-certified-by-2025-11-30", ll(DISABLED_EARLY),
         **aid("disabled_certified", "400.00", "0.00")),
    case("ll-disabled-certified-on-2025-11-30",
         ll(ident("disabled_certified", "2025-11-30"), paid_on="2025-12-01"),
         **aid("disabled_certified", "400.00", "0.00")),
    case("ll-disabled-certified-on-2025-12-01-none",
         ll(ident("disabled_certified", "2025-12-01"), paid_on="2025-12-10"), **NO_AID_LL),
    case("ll-dibao-january-from-payment", ll(ident("dibao", "2025-06-01"), paid_on="2026-01-10"),
         **aid("dibao", "320.00", "80.00"), **timing("window", "2026-01-10")),
    case("ll-nonlocal-permit-dibao", ll("dibao", hukou="nonlocal", residence_permit=True),
         **aid("dibao", "320.00", "80.00")),
    # identities Lüliang does not assist
    case("ll-hiv-child-none", ll("hiv_child"), **NO_AID_LL),
    case("ll-low-income-member-none", ll("low_income_member"), **NO_AID_LL),
    case("ll-disabled-severe-none", ll("disabled_severe"), **NO_AID_LL),
    case("ll-poverty-alleviated-none", ll("poverty_alleviated"), **NO_AID_LL),
    case("ll-medical-assistance-none", ll("medical_assistance"), **NO_AID_LL),
    # the highest single one
    case("ll-dibao-monitored", ll("dibao", "monitored"), **aid("dibao", "320.00", "80.00")),
    case("ll-monitored-dibao", ll("monitored", "dibao"), **aid("dibao", "320.00", "80.00")),
    case("ll-monitored-returned", ll("monitored", "returned_poverty"),
         **aid("returned_poverty", "360.00", "40.00")),
    case("ll-returned-monitored", ll("returned_poverty", "monitored"),
         **aid("returned_poverty", "360.00", "40.00")),
    case("ll-dibao-returned-monitored", ll("dibao", "returned_poverty", "monitored"),
         **aid("returned_poverty", "360.00", "40.00")),
    case("ll-monitored-dibao-tekun", ll("monitored", "dibao", "tekun"),
         **aid("tekun", "400.00", "0.00")),
    case("ll-dibao-disabled-certified", ll(ident("dibao", "2025-06-01"), DISABLED_EARLY),
         **aid("disabled_certified", "400.00", "0.00")),
    case("ll-disabled-too-late-and-dibao",
         ll(ident("disabled_certified", "2025-12-01"), "dibao", paid_on="2025-12-10"),
         **aid("dibao", "320.00", "80.00")),
    # 优抚对象: amount not in source
    err("ll-entitled-alone", ll("entitled"), "value_not_in_source"),
    err("ll-entitled-and-dibao", ll("entitled", "dibao"), "value_not_in_source"),
    err("ll-dibao-and-entitled", ll("dibao", "entitled"), "value_not_in_source"),
    err("ll-monitored-and-entitled", ll("monitored", "entitled"), "value_not_in_source"),
    case("ll-entitled-and-tekun-full-anyway", ll("entitled", "tekun"),
         **aid("tekun", "400.00", "0.00")),
    case("ll-restructured-and-entitled", ll("restructured_soe", "entitled"),
         **aid("restructured_soe", "400.00", "0.00")),
    case("ll-entitled-and-disabled-certified", ll("entitled", DISABLED_EARLY),
         **aid("disabled_certified", "400.00", "0.00")),
    # the certificate deadline moves with a clone: held by 2026-11-30 for 2027
    case("ll27-disabled-certified-2026-11-30",
         req(LL, 2027, "2026-12-01", history=covered(2026),
             identities=[ident("disabled_certified", "2026-11-30")]),
         **aid("disabled_certified", "400.00", "0.00"), **timing("window", "2027-01-01")),
    case("ll27-disabled-certified-2026-12-01",
         req(LL, 2027, "2026-12-10", history=covered(2026),
             identities=[ident("disabled_certified", "2026-12-01")]), **NO_AID_LL),
]


@pytest.mark.parametrize("raw, expected", NINGBO + XINING + LUELIANG)
def test_assistance(raw, expected):
    check(run(raw), expected)


@pytest.mark.parametrize("codes", [
    pytest.param(("tekun", "restructured_soe"), id="ll-tekun-restructured"),
    pytest.param(("orphan", "tekun", "de_facto_orphan"), id="ll-three-full"),
    pytest.param(("dibao", "monitored", "returned_poverty"), id="ll-three-partial"),
])
def test_lueliang_answer_does_not_depend_on_request_order(codes):
    answers = [run(ll(*order)) for order in permutations(codes)]
    assert "error" not in answers[0], answers[0]
    assert all(a == answers[0] for a in answers), answers


@pytest.mark.parametrize("codes", [
    pytest.param(("tekun", "dibao", "low_income_member"), id="xn-full-half-none"),
    pytest.param(("dibao", "entitled"), id="xn-two-halves"),
])
def test_xining_answer_does_not_depend_on_request_order(codes):
    answers = [run(xn(*order)) for order in permutations(codes)]
    assert "error" not in answers[0], answers[0]
    assert all(a == answers[0] for a in answers), answers


@pytest.mark.parametrize("value, expected", [
    pytest.param("200.00", "200.00", id="exact"),
    pytest.param("200.005", "200.01", id="half-up"),
    pytest.param("200.004", "200.00", id="below-half"),
    pytest.param("177.5", "177.50", id="one-decimal"),
])
def test_money_rounds_half_up(value, expected):
    from policy.rules.assistance import money

    assert str(money(Decimal(value))) == expected
