"""The critical-illness cap incentives (Xianyang 002 05; Shanghai 004 (一)Q1): the zero-claim
year and the decrease per break year as rule inputs and outputs.  Shanghai's amounts are not
in the source: the adjustment stays null and the detail names what this person's needs."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from policy.rules import quote
from policy.rules.io import parse_request, result_to_dict

from .rules_support import NB, SH, XY, req, spec_for

PUPIL = {"birth": "2015-03-01", "student": "primary_secondary"}


def answer(region, year, paid_on, spec=None, **kw):
    raw = req(region, year, paid_on, **kw)
    if region == SH:
        raw = req(region, year, paid_on, PUPIL["birth"], student=PUPIL["student"], **kw)
    result = quote(spec or spec_for(region, year), parse_request(raw))
    return result_to_dict(result, with_cap=True)


def detail(**kw):
    base = {"continuous_years": 0, "increase_years": 0, "increase_per_year": None, "zero_claim": False,
            "zero_claim_increase": None, "break_years": 0, "break_decrease": None, "unset": []}
    base.update(kw)
    return base


def years(*ys, kind="resident"):
    return {str(y): kind for y in ys}


@pytest.mark.parametrize("year, paid, history, cap, cap_detail", [
    pytest.param(2026, "2025-12-01", {"2025": "resident_zero_claim"}, None, detail(
        continuous_years=2, zero_claim=True,
        unset=["基金零报销次年提高的大病保险最高支付限额"]), id="zero-claim-year"),
    pytest.param(2026, "2025-12-01", {"2025": "resident"}, None, detail(continuous_years=2),
                 id="nothing-needed-still-null"),
    pytest.param(2030, "2029-12-01", years(2025, 2026, 2027, 2028, 2029), None, detail(
        continuous_years=6, increase_years=2,
        unset=["连续参保每满 1 年提高的大病保险最高支付限额"]), id="sixth-year"),
    pytest.param(2029, "2028-12-01", years(2025, 2026, 2027, 2028), None, detail(continuous_years=5, increase_years=1,
                 unset=["连续参保每满 1 年提高的大病保险最高支付限额"]), id="fifth-year"),
    pytest.param(2028, "2027-12-01", years(2025, 2026, 2027), None, detail(continuous_years=4),
                 id="fourth-year-boundary"),
    pytest.param(2028, "2027-12-01", {"2025": "resident"}, None, detail(
        break_years=2, unset=["断保后再参保每断保 1 年降低的大病保险最高支付限额"]), id="two-break-years"),
    pytest.param(2028, "2027-12-01", {"2025": "resident", "2026": "resident_zero_claim", "2027": "none"}, None,
                 detail(break_years=1, unset=["断保后再参保每断保 1 年降低的大病保险最高支付限额"]),
                 id="zero-claim-before-a-break-does-not-count"),
])
def test_shanghai_amounts_not_in_source(year, paid, history, cap, cap_detail):
    out = answer(SH, year, paid, history=history)
    assert (out["cap_adjustment"], out["cap_detail"]) == (cap, cap_detail)


def _shanghai_with_amounts():
    """Shanghai as it would be once a caseworker fills the amounts (test figures, not the source's)."""
    return dataclasses.replace(spec_for(SH, 2028), cap_increase_per_year=Decimal("100.00"),
                               cap_break_decrease=Decimal("200.00"), cap_zero_claim_increase=Decimal("50.00"))


@pytest.mark.parametrize("year, history, cap", [
    pytest.param(2028, {"2025": "resident"}, -400, id="two-break-years-times-200"),
    pytest.param(2028, {"2025": "resident", "2026": "resident"}, -200, id="one-break-year"),
    pytest.param(2028, {"2025": "resident", "2026": "resident", "2027": "resident_zero_claim"}, 50,
                 id="zero-claim"),
    pytest.param(2028, {"2025": "resident", "2026": "resident_zero_claim", "2027": "resident"}, 0,
                 id="zero-claim-two-years-ago-does-not-count"),
])
def test_shanghai_once_the_amounts_are_filled(year, history, cap):
    spec = _shanghai_with_amounts()
    out = answer(SH, year, "2027-12-01", spec=spec, history=history)
    assert out["cap_adjustment"] == cap
    assert out["cap_detail"]["unset"] == []


def test_shanghai_filled_sixth_year_with_zero_claim():
    spec = dataclasses.replace(spec_for(SH, 2030), cap_increase_per_year=Decimal("100.00"),
                               cap_break_decrease=Decimal("200.00"), cap_zero_claim_increase=Decimal("50.00"))
    history = dict(years(2025, 2026, 2027, 2028), **{"2029": "resident_zero_claim"})
    out = answer(SH, 2030, "2029-12-01", spec=spec, history=history)
    assert out["cap_adjustment"] == 250
    assert out["cap_detail"] == detail(continuous_years=6, increase_years=2, increase_per_year="100.00",
                                       zero_claim=True, zero_claim_increase="50.00")


@pytest.mark.parametrize("year, history, cap, cap_detail", [
    pytest.param(2030, years(2025, 2026, 2027, 2028, 2029), 6000, detail(
        continuous_years=6, increase_years=2, increase_per_year="3000.00"), id="sixth-year"),
    pytest.param(2030, dict(years(2025, 2026, 2027, 2028), **{"2029": "resident_zero_claim"}), 6000, detail(
        continuous_years=6, increase_years=2, increase_per_year="3000.00"), id="no-zero-claim-incentive"),
    pytest.param(2029, years(2025, 2026), -3000, detail(
        increase_per_year="3000.00", break_years=2, break_decrease="3000.00"), id="decrease-once-not-per-year"),
])
def test_xianyang(year, history, cap, cap_detail):
    out = answer(XY, year, f"{year - 1}-10-01", history=history)
    assert (out["cap_adjustment"], out["cap_detail"]) == (cap, cap_detail)


def test_a_region_without_a_cap_rule_has_no_detail():
    out = answer(NB, 2025, "2024-11-15")
    assert (out["cap_adjustment"], out["cap_detail"]) == (None, None)


def test_explanation_names_the_unset_figure():
    raw = req(SH, 2026, "2025-12-01", PUPIL["birth"], student=PUPIL["student"],
              history={"2025": "resident_zero_claim"})
    steps = quote(spec_for(SH, 2026), parse_request(raw), explain=True).steps
    assert steps[-1] == "大病保险最高支付限额调整：基金零报销次年提高的大病保险最高支付限额，来源文件未给出金额（未设定）"


def test_the_contract_answer_keeps_its_fields_without_the_flag():
    raw = req(XY, 2030, "2029-10-01", history=years(2025, 2026, 2027, 2028, 2029))
    assert "cap_detail" not in result_to_dict(quote(spec_for(XY, 2030), parse_request(raw)))
