"""Errors of the quote contract (INTERFACES.md §2) and their precedence.

invalid_input comes from parse_request (and from quote() for a birth date
after paid_on); the others from quote().  policy_missing needs the database
(published years) and is not part of the pure layer.
"""

import copy

import pytest

from policy.rules import QuoteError, quote
from policy.rules.io import parse_request, result_to_dict

from .rules_support import (CONTRACT_FIELDS, LL, NB, SH, XN, XY, check, covered, err, ident, req,
                            run, spec_for)

GOOD = req(LL, 2026, "2026-01-10", identities=[ident("dibao", "2025-06-01")],
           history=covered(2025))


def bad(case_id, mutate):
    """A copy of a good request broken by ``mutate`` (which edits it in place)."""
    raw = copy.deepcopy(GOOD)
    mutate(raw)
    return pytest.param(raw, id=case_id)


def _set(path, value):
    def mutate(raw):
        *parents, last = path
        node = raw
        for key in parents:
            node = node[key]
        node[last] = value
    return mutate


def _drop(path):
    def mutate(raw):
        *parents, last = path
        node = raw
        for key in parents:
            node = node[key]
        del node[last]
    return mutate


INVALID = [
    # missing required fields
    bad("missing-region", _drop(["region"])),
    bad("missing-year", _drop(["year"])),
    bad("missing-paid-on", _drop(["paid_on"])),
    bad("missing-person", _drop(["person"])),
    bad("missing-birth-date", _drop(["person", "birth_date"])),
    bad("null-paid-on", _set(["paid_on"], None)),
    bad("null-birth-date", _set(["person", "birth_date"], None)),
    # bad values of required fields
    bad("region-five-digits", _set(["region"], "14110")),
    bad("region-letters", _set(["region"], "abcdef")),
    bad("year-text", _set(["year"], "twenty")),
    bad("year-boolean", _set(["year"], True)),
    bad("year-float", _set(["year"], 2026.5)),
    bad("person-not-object", _set(["person"], "1980-05-01")),
    # bad dates
    bad("paid-on-2025-02-30", _set(["paid_on"], "2025-02-30")),
    bad("paid-on-slashes", _set(["paid_on"], "2025/01/01")),
    bad("paid-on-compact", _set(["paid_on"], "20260110")),
    bad("paid-on-no-padding", _set(["paid_on"], "2026-1-10")),
    bad("paid-on-integer", _set(["paid_on"], 20260110)),
    bad("birth-date-month-13", _set(["person", "birth_date"], "1980-13-01")),
    bad("birth-date-29-feb-common-year", _set(["person", "birth_date"], "1981-02-29")),
    bad("left-other-scheme-slashes", _set(["left_other_scheme_on"], "2025/12/01")),
    bad("certified-on-june-31", _set(["identities"], [{"code": "dibao",
                                                       "certified_on": "2025-06-31"}])),
    # unknown field names
    bad("unknown-top-level-field", _set(["regoin"], "141100")),
    bad("unknown-top-level-amount", _set(["amount"], "80.00")),
    bad("unknown-person-field", _set(["person", "name"], "张三")),
    bad("unknown-identity-field", _set(["identities"], [{"code": "dibao", "level": 2}])),
    # unknown values
    bad("unknown-identity-code", _set(["identities"], [{"code": "vip"}])),
    bad("identity-code-missing", _set(["identities"], [{"certified_on": "2025-06-01"}])),
    bad("identities-not-array", _set(["identities"], {"code": "dibao"})),
    bad("disabled-certified-without-date", _set(["identities"], [{"code": "disabled_certified"}])),
    bad("student-unknown", _set(["person", "student"], "high_school")),
    bad("hukou-unknown", _set(["person", "hukou"], "foreign")),
    # non-boolean flags
    bad("residence-permit-yes", _set(["person", "residence_permit"], "yes")),
    bad("employee-insured-one", _set(["person", "employee_insured"], 1)),
    bad("employee-insured-zero", _set(["person", "employee_insured"], 0)),
    bad("parent-insured-string-true", _set(["person", "parent_insured_locally"], "true")),
    # bad history
    bad("history-value-covered", _set(["history"], {"2025": "covered"})),
    bad("history-value-null", _set(["history"], {"2025": None})),
    bad("history-value-boolean", _set(["history"], {"2025": True})),
    bad("history-key-two-digits", _set(["history"], {"25": "resident"})),
    bad("history-key-word", _set(["history"], {"year2025": "resident"})),
    bad("history-array", _set(["history"], ["2025"])),
    bad("repaired-years-not-array", _set(["repaired_years"], 2025)),
    bad("repaired-years-boolean", _set(["repaired_years"], [True])),
    bad("repaired-years-word", _set(["repaired_years"], ["last year"])),
]


@pytest.mark.parametrize("raw", INVALID)
def test_invalid_input(raw):
    with pytest.raises(QuoteError) as exc:
        parse_request(raw)
    assert exc.value.code == "invalid_input"
    assert exc.value.message
    check(run(raw), {"error": "invalid_input"})


@pytest.mark.parametrize("raw", [
    pytest.param([], id="array"),
    pytest.param(None, id="null"),
    pytest.param("region=141100", id="string"),
])
def test_request_must_be_an_object(raw):
    with pytest.raises(QuoteError) as exc:
        parse_request(raw)
    assert exc.value.code == "invalid_input"


def test_good_request_parses():
    """The base of the invalid_input table is itself valid (so each row tests one fault)."""
    check(run(GOOD), {"amount_due": "80.00", "benefit_start": "2026-01-10"})


def test_malformed_json_is_invalid_input():
    from policy.quoting import decode

    with pytest.raises(QuoteError) as exc:
        decode('{"region": "141100", ')
    assert exc.value.code == "invalid_input"


def test_defaults_of_omitted_fields():
    parsed = parse_request(req(NB, 2025, "2024-11-15"))
    p = parsed.person
    assert (p.hukou, p.residence_permit, p.student, p.employee_insured,
            p.parent_insured_locally) == ("local", False, None, False, False)
    assert (parsed.identities, parsed.history, parsed.repaired_years,
            parsed.left_other_scheme_on) == ((), {}, frozenset(), None)


def test_explicit_nulls_are_the_defaults():
    raw = req(NB, 2025, "2024-11-15", hukou="local", residence_permit=None, student=None,
              employee_insured=None, parent_insured_locally=None, identities=None, history=None,
              repaired_years=None, left_other_scheme_on=None)
    assert run(raw) == run(req(NB, 2025, "2024-11-15"))


# --- precedence: invalid_input, policy_missing, not_eligible, payment_day_not_allowed,
# window_not_open, window_closed, value_not_in_source ---------------------------------------

PRECEDENCE = [
    # invalid_input before everything: a birth date after the payment date
    err("birth-after-paid-on", req(NB, 2025, "2024-11-15", "2024-12-01"), "invalid_input"),
    err("birth-after-paid-on-and-employee",
        req(LL, 2026, "2025-12-26", "2026-01-02", employee_insured=True), "invalid_input"),
    # not_eligible before the payment day and the periods
    err("ll-employee-on-26th", req(LL, 2026, "2025-12-26", employee_insured=True), "not_eligible"),
    err("ll-employee-late-needs-fiscal", req(LL, 2026, "2026-03-10", employee_insured=True),
        "not_eligible"),
    err("ll-nonlocal-no-permit-26th-late", req(LL, 2026, "2026-03-26", hukou="nonlocal"),
        "not_eligible"),
    err("ll-employee-before-window", req(LL, 2026, "2025-10-20", employee_insured=True),
        "not_eligible"),
    err("xn-employee-before-window", req(XN, 2025, "2024-08-31", employee_insured=True),
        "not_eligible"),
    err("xy-employee-between-periods", req(XY, 2025, "2024-12-21", employee_insured=True),
        "not_eligible"),
    err("nb-employee-before-window", req(NB, 2025, "2024-10-20", employee_insured=True),
        "not_eligible"),
    err("sh-adult-employee", req(SH, 2025, "2024-12-01", employee_insured=True), "not_eligible"),
    err("sh-adult-nonlocal-no-permit", req(SH, 2025, "2024-12-01", hukou="nonlocal"),
        "not_eligible"),
    # payment_day_not_allowed before the periods, whatever the period
    err("ll-26th-late", req(LL, 2026, "2026-03-26", history=covered(2025)),
        "payment_day_not_allowed"),
    err("ll-26th-in-window", req(LL, 2026, "2025-11-26", history=covered(2025)),
        "payment_day_not_allowed"),
    err("ll-30th-before-window", req(LL, 2026, "2025-09-30", history=covered(2025)),
        "payment_day_not_allowed"),
    err("ll-26th-after-year", req(LL, 2026, "2027-01-26", history=covered(2025)),
        "payment_day_not_allowed"),
    err("ll-28th-entitled", req(LL, 2026, "2025-12-28", identities=[ident("entitled")],
                                history=covered(2025)), "payment_day_not_allowed"),
    err("ll-28th-dibao-late", req(LL, 2026, "2026-04-28", identities=[ident("dibao")]),
        "payment_day_not_allowed"),
    # window_not_open before value_not_in_source
    err("ll-entitled-before-window", req(LL, 2026, "2025-10-20", identities=[ident("entitled")]),
        "window_not_open"),
    err("xn-2024-08-31", req(XN, 2025, "2024-08-31"), "window_not_open"),
    # the exemption of special groups is from window_closed only ("and no exemption applies")
    err("xn-medical-assistance-2024-08-31",
        req(XN, 2025, "2024-08-31", identities=[ident("medical_assistance")]), "window_not_open"),
    err("ll-dibao-2025-10-20", req(LL, 2026, "2025-10-20", identities=[ident("dibao")]),
        "window_not_open"),
    # window_closed before value_not_in_source
    err("sh-adult-after-year", req(SH, 2025, "2026-01-05"), "window_closed"),
    err("ll-after-year", req(LL, 2026, "2027-01-05", history=covered(2025)), "window_closed"),
    err("ll-entitled-after-year", req(LL, 2026, "2027-01-05", identities=[ident("entitled")]),
        "window_closed"),
    err("xy-between-periods", req(XY, 2025, "2024-12-21"), "window_closed"),
    err("xn-after-year", req(XN, 2025, "2026-01-01"), "window_closed"),
]


@pytest.mark.parametrize("raw, expected", PRECEDENCE)
def test_precedence(raw, expected):
    check(run(raw), expected)


@pytest.mark.parametrize("raw, region_name, year", [
    pytest.param(req(LL, 2026, "2026-03-10", history=covered(2025)), "吕梁市", "2026",
                 id="ll-late-fiscal"),
    pytest.param(req(XN, 2025, "2025-07-01"), "西宁市", "2025", id="xn-july-fiscal"),
    pytest.param(req(SH, 2025, "2024-12-01"), "上海市", "2025", id="sh-adult-standard"),
    pytest.param(req(LL, 2026, "2025-11-03", identities=[ident("entitled")],
                     history=covered(2025)), "吕梁市", "2026", id="ll-entitled-amount"),
])
def test_value_not_in_source_names_region_and_year(raw, region_name, year):
    answer = run(raw)
    assert answer["error"]["code"] == "value_not_in_source", answer
    assert region_name in answer["error"]["message"]
    assert year in answer["error"]["message"]


@pytest.mark.parametrize("raw", [
    pytest.param(req(LL, 2026, "2026-03-10", history=covered(2025)), id="ll-late"),
    pytest.param(req(XN, 2025, "2025-07-01"), id="xn-july"),
])
def test_missing_fiscal_subsidy_is_named(raw):
    message = run(raw)["error"]["message"]
    assert "财政补助" in message or "fiscal subsidy" in message.lower(), message


def test_error_codes_in_contract_order():
    from policy.rules.errors import ERROR_CODES

    assert ERROR_CODES == ("invalid_input", "policy_missing", "not_eligible",
                           "payment_day_not_allowed", "window_not_open", "window_closed",
                           "value_not_in_source")


def test_error_object_shape():
    answer = run(req(NB, 2025, "2024-11-15", employee_insured=True))
    assert list(answer) == ["error"]
    assert set(answer["error"]) == {"code", "message"}
    assert answer["error"]["code"] == "not_eligible"


# --- the rendered result --------------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    pytest.param(req(NB, 2025, "2024-11-15"), {
        "region": "330200", "year": 2025, "category": "adult", "personal_standard": "780.00",
        "fiscal_subsidy": "2090.00", "assistance": None, "amount_due": "780.00",
        "timing": "window", "benefit_start": "2025-01-01", "benefit_end": "2025-12-31",
        "waiting_months": 0, "waiting_days": 0, "cap_adjustment": None}, id="nb-adult-window"),
    pytest.param(req(XN, 2025, "2025-05-01", identities=[ident("dibao")]), {
        "region": "630100", "year": 2025, "category": "resident", "personal_standard": "400.00",
        "fiscal_subsidy": None, "assistance": {"identity": "dibao", "amount": "200.00"},
        "amount_due": "200.00", "timing": "late", "benefit_start": "2025-06-30",
        "benefit_end": "2025-12-31", "waiting_months": 0, "waiting_days": 60,
        "cap_adjustment": None}, id="xn-dibao-may"),
    pytest.param(req(XY, 2025, "2025-02-15"), {
        "region": "610400", "year": 2025, "category": "resident", "personal_standard": "400.00",
        "fiscal_subsidy": "670.00", "assistance": None, "amount_due": "400.00",
        "timing": "supplementary", "benefit_start": "2025-05-15", "benefit_end": "2025-12-31",
        "waiting_months": 3, "waiting_days": 0, "cap_adjustment": 0}, id="xy-supplementary"),
    pytest.param(GOOD, {
        "region": "141100", "year": 2026, "category": "resident", "personal_standard": "400.00",
        "fiscal_subsidy": None, "assistance": {"identity": "dibao", "amount": "320.00"},
        "amount_due": "80.00", "timing": "window", "benefit_start": "2026-01-10",
        "benefit_end": "2026-12-31", "waiting_months": 0, "waiting_days": 0,
        "cap_adjustment": None}, id="ll-dibao-january"),
    pytest.param(req(SH, 2027, "2026-12-01", "2012-01-01", student="primary_secondary",
                     history={"2025": "resident", "2026": "none"}), {
        "region": "310000", "year": 2027, "category": "student", "personal_standard": "355.00",
        "fiscal_subsidy": None, "assistance": None, "amount_due": "355.00", "timing": "window",
        "benefit_start": "2027-05-01", "benefit_end": "2027-12-31", "waiting_months": 4,
        "waiting_days": 0, "cap_adjustment": None}, id="sh27-one-break"),
])
def test_full_result(raw, expected):
    answer = run(raw)
    assert {k: answer[k] for k in CONTRACT_FIELDS} == expected
    assert all(type(answer[k]) is int for k in ("year", "waiting_months", "waiting_days"))


def test_result_to_dict_money_has_two_decimals():
    request = parse_request(req(LL, 2026, "2025-11-03", identities=[ident("tekun")],
                                history=covered(2025)))
    out = result_to_dict(quote(spec_for(LL, 2026), request))
    assert (out["personal_standard"], out["amount_due"], out["assistance"]["amount"]) == (
        "400.00", "0.00", "400.00")


@pytest.mark.parametrize("raw", [
    pytest.param(req(NB, 2025, "2024-11-15"), id="nb-window"),
    pytest.param(req(NB, 2025, "2025-02-10", identities=[ident("dibao")]), id="nb-late-dibao"),
    pytest.param(req(XN, 2025, "2025-05-01"), id="xn-60-days"),
    pytest.param(req(XN, 2025, "2025-08-01", identities=[ident("medical_assistance")]),
                 id="xn-exempt"),
    pytest.param(req(XY, 2030, "2029-10-01", history=covered(2025, 2026, 2027, 2028, 2029)),
                 id="xy-cap"),
    pytest.param(req(XY, 2029, "2028-10-01", history=covered(2025)), id="xy-break"),
    pytest.param(req(LL, 2026, "2026-05-01", "2026-04-10"), id="ll-newborn"),
    pytest.param(req(LL, 2026, "2026-03-10", left_other_scheme_on="2026-01-15"), id="ll-leaver"),
    pytest.param(req(LL, 2026, "2025-11-03", identities=[ident("monitored"), ident("dibao")],
                     history=covered(2025)), id="ll-two-identities"),
    pytest.param(req(SH, 2030, "2029-12-01", "2016-03-01", student="primary_secondary",
                     history={}, repaired_years=[2025, 2026, 2027, 2028, 2029]), id="sh-floor"),
])
def test_explanation_does_not_change_the_answer(raw):
    request = parse_request(raw)
    spec = spec_for(request.region, request.year)
    plain = result_to_dict(quote(spec, request))
    explained = result_to_dict(quote(spec, parse_request(raw), explain=True), with_steps=True)
    steps = explained.pop("explanation")
    assert explained == plain
    assert steps and all(isinstance(s, str) and s for s in steps)
