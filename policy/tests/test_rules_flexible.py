"""Xianyang's flexible-employment medical insurance (002 "2025灵活就业人员医疗保险"): the pure
rule and its JSON, over the bundled data file.  Every boundary date: the pay-by day 12-31,
3 months of interruption against 4, the retirement month, the certificate day +5."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

import pytest

from policy.datafile import PolicyFileError, normalise, read_policy_file, spec_from_data
from policy.rules import QuoteError
from policy.rules.flexible import (
    FlexibleRequest,
    certificate_from,
    flexible_quote,
    interruption_months,
    retired_from,
)
from policy.rules.io import flexible_result_to_dict, parse_flexible_request, parse_request
from policy.validation import validate_policy

from .rules_support import LL, NB, POLICY_DIR, SH, XN, XY, spec_for

IN_SERVICE = [{"component": "basic", "name": "基本医疗保险", "amount": "3456.00"},
              {"component": "large_medical", "name": "大额医疗补助", "amount": "172.80"},
              {"component": "critical_illness", "name": "大病保险", "amount": "48.00"}]
RETIRED = IN_SERVICE[1:]


def flex(paid_on: str, status: str = "in_service", year: int = 2025, region: str = XY, **kw) -> dict:
    body = {"status": status, "file_held_at": "reemployment_centre", "paid_previous_year": True}
    body.update(kw)
    return {"region": region, "year": year, "paid_on": paid_on, "scheme": "flexible_employment",
            "flexible": body}


def run(raw: dict, explain: bool = False) -> dict:
    req = parse_flexible_request(raw)
    spec = spec_for(req.region, req.year)
    try:
        if spec.flexible is None:
            return {"error": "scheme_not_offered"}
        result = flexible_quote(spec.flexible, req, region_name=spec.region_name, explain=explain)
    except QuoteError as exc:
        return {"error": exc.code, "message": exc.message}
    return flexible_result_to_dict(result, with_steps=explain)


# --- the data: each part its own figure, with its source ---------------------------------------


def test_each_part_is_its_own_figure_in_the_data():
    data = read_policy_file(POLICY_DIR / "610400-2025.yaml")
    rows = {(r["status"], r["component"]): r for r in data["flexible_employment"]}
    assert {k: (v["annual_amount"], v["monthly_amount"]) for k, v in rows.items()} == {
        ("in_service", "basic"): (Decimal("3456.00"), Decimal("288.00")),
        ("in_service", "large_medical"): (Decimal("172.80"), None),
        ("in_service", "critical_illness"): (Decimal("48.00"), None),
        ("retired", "basic"): (Decimal("0.00"), None),
        ("retired", "large_medical"): (Decimal("172.80"), None),
        ("retired", "critical_illness"): (Decimal("48.00"), None),
    }
    assert all("缴费标准" in r["source_note"] for r in rows.values())
    f = data["year_fields"]
    assert (f["flex_pay_by"], f["flex_makeup_within_months"], f["flex_waiting_months"],
            f["flex_certificate_after_days"]) == (date(2024, 12, 31), 3, 3, 5)
    assert validate_policy(data) == []


@pytest.mark.parametrize("region", [NB, XN, LL, SH])
def test_other_regions_have_no_scheme(region):
    assert spec_for(region, 2026 if region == LL else 2025).flexible is None


def test_the_scheme_absent_answers_scheme_not_offered():
    from policy.quoting import quote_one  # noqa: F401  (the database path is tested in test_api_flexible)

    assert run(flex("2024-12-01", region=NB)) == {"error": "scheme_not_offered"}


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["flexible_employment"].append(
        {"status": "retired", "component": "basic", "annual_amount": "0.00", "source_note": "x"}),
     "灵活就业人员医疗保险“退休人员基本医疗保险”重复"),
    (lambda d: d["flexible_employment"][0].update(monthly_amount="280.00"),
     "灵活就业人员医疗保险“在职人员基本医疗保险”的月标准 280.00 元 ×12 与年标准 3456.00 元不符"),
    (lambda d: d["flexible_employment"].pop(2),
     "灵活就业人员医疗保险在职人员缺少：大病保险（来源未给出的填空值，不要省略）"),
])
def test_validation_of_the_rates(edit, message):
    import yaml

    raw = yaml.safe_load((POLICY_DIR / "610400-2025.yaml").read_text(encoding="utf-8"))
    raw = copy.deepcopy(raw)
    edit(raw)
    assert validate_policy(normalise(raw)) == [message]


def test_a_rate_must_say_null_when_not_in_source():
    import yaml

    raw = yaml.safe_load((POLICY_DIR / "610400-2025.yaml").read_text(encoding="utf-8"))
    del raw["flexible_employment"][1]["annual_amount"]
    with pytest.raises(PolicyFileError, match="annual_amount must be written"):
        normalise(raw)


# --- amounts, timing and dates --------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    pytest.param(flex("2024-11-20"), {
        "parts": IN_SERVICE, "amount_due": "3676.80", "timing": "on_time", "interruption_months": 0,
        "makeup_basic": "0.00", "benefit_start": "2025-01-01", "waiting_months": 0,
        "certificate_from": "2024-11-25"}, id="in-service-on-time"),
    pytest.param(flex("2024-12-31"), {
        "parts": IN_SERVICE, "amount_due": "3676.80", "timing": "on_time", "interruption_months": 0,
        "makeup_basic": "0.00", "benefit_start": "2025-01-01", "waiting_months": 0,
        "certificate_from": "2025-01-05"}, id="pay-by-day-12-31"),
    pytest.param(flex("2025-01-01"), {
        "parts": IN_SERVICE, "amount_due": "3676.80", "timing": "interrupted", "interruption_months": 1,
        "makeup_basic": "288.00", "benefit_start": "2025-01-01", "waiting_months": 0,
        "certificate_from": "2025-01-06"}, id="day-after-1-month"),
    pytest.param(flex("2025-02-28"), {
        "parts": IN_SERVICE, "amount_due": "3676.80", "timing": "interrupted", "interruption_months": 2,
        "makeup_basic": "576.00", "benefit_start": "2025-02-28", "waiting_months": 0,
        "certificate_from": "2025-03-05"}, id="2-months"),
    pytest.param(flex("2025-03-31"), {
        "parts": IN_SERVICE, "amount_due": "3676.80", "timing": "interrupted", "interruption_months": 3,
        "makeup_basic": "864.00", "benefit_start": "2025-03-31", "waiting_months": 0,
        "certificate_from": "2025-04-05"}, id="3-months-last-day"),
    pytest.param(flex("2025-04-01"), {
        "parts": IN_SERVICE, "amount_due": "3676.80", "timing": "first_enrolment", "interruption_months": 4,
        "makeup_basic": "0.00", "benefit_start": "2025-07-01", "waiting_months": 3,
        "certificate_from": "2025-04-06"}, id="4-months-first-day"),
    pytest.param(flex("2025-11-30"), {
        "parts": IN_SERVICE, "amount_due": "3676.80", "timing": "first_enrolment", "interruption_months": 11,
        "makeup_basic": "0.00", "benefit_start": "2026-02-28", "waiting_months": 3,
        "certificate_from": "2025-12-05"}, id="november-waits-past-the-year"),
    pytest.param(flex("2024-12-31", "retired"), {
        "parts": RETIRED, "amount_due": "220.80", "timing": "on_time", "interruption_months": 0,
        "makeup_basic": "0.00", "benefit_start": "2025-01-01", "waiting_months": 0,
        "certificate_from": "2025-01-05"}, id="retired-on-time"),
    pytest.param(flex("2025-03-31", "retired"), {
        "parts": RETIRED, "amount_due": "220.80", "timing": "interrupted", "interruption_months": 3,
        "makeup_basic": "0.00", "benefit_start": "2025-03-31", "waiting_months": 0,
        "certificate_from": "2025-04-05"}, id="retired-no-basic-to-make-up"),
    pytest.param(flex("2025-04-01", "retired"), {
        "parts": RETIRED, "amount_due": "220.80", "timing": "first_enrolment", "interruption_months": 4,
        "makeup_basic": "0.00", "benefit_start": "2025-07-01", "waiting_months": 3,
        "certificate_from": "2025-04-06"}, id="retired-4-months"),
])
def test_quote(raw, expected):
    answer = run(raw)
    assert {k: answer[k] for k in expected} == expected
    assert answer["region"] == XY and answer["year"] == 2025 and answer["scheme"] == "flexible_employment"
    assert answer["benefit_end"] == "2025-12-31"
    assert sum(Decimal(p["amount"]) for p in answer["parts"]) == Decimal(answer["amount_due"])


def test_paid_after_the_year_is_window_closed():
    answer = run(flex("2026-01-01"))
    assert answer["error"] == "window_closed"
    assert "经办中心办理补缴" in answer["message"]
    assert run(flex("2025-12-31"))["timing"] == "first_enrolment"


# --- who may pay --------------------------------------------------------------------------


@pytest.mark.parametrize("kw, message", [
    ({"file_held_at": "other_agency"}, "市本级档案托管在其他人事代理机构的人员，请按原渠道缴纳"),
    ({"file_held_at": "county"}, "各县（市）区灵活就业参保人员，请在参保登记地办税服务厅和医保经办中心咨询办理"),
    ({"special_group": True},
     "特殊群体、困难军转干部、对越作战、涉核退休人员，请到咸阳市政务服务中心医保窗口咨询办理"),
    ({"paid_previous_year": False},
     "未缴纳上一年度医疗保险费（中断补缴或一次性补费），请前往参保地医疗保险经办中心办理补缴业务"),
    ({"retirement_age_reached_on": "2024-12-31"},
     "已达到法定退休年龄，请携带退休审批表到咸阳市政务服务中心医保窗口办理在职转退休后再缴费"),
])
def test_who_may_not_pay_is_referred(kw, message):
    assert run(flex("2024-12-01", **kw)) == {"error": "not_eligible", "message": message}


def test_refusal_carries_its_reason_code():
    spec = spec_for(XY, 2025)
    req = FlexibleRequest(region=XY, year=2025, paid_on=date(2024, 12, 1), status="in_service",
                          file_held_at="reemployment_centre", paid_previous_year=True, special_group=True)
    with pytest.raises(QuoteError) as exc:
        flexible_quote(spec.flexible, req, region_name="咸阳市")
    assert (exc.value.code, exc.value.reason) == ("not_eligible", "special_group")


# --- retirement, certificate, interruption as functions ---------------------------------------


@pytest.mark.parametrize("reached, expected", [
    ("2025-01-01", "2025-02-01"), ("2025-06-01", "2025-07-01"), ("2025-06-30", "2025-07-01"),
    ("2025-01-31", "2025-02-01"), ("2025-12-31", "2026-01-01"),
])
def test_retired_from_the_month_after_reaching_the_age(reached, expected):
    assert retired_from(date.fromisoformat(reached)) == date.fromisoformat(expected)
    answer = run(flex("2024-12-20", retirement_age_reached_on=reached))
    assert (answer["retired_from"], answer["amount_due"], answer["status"]) == (expected, "3676.80",
                                                                               "in_service")


def test_reaching_the_age_after_the_year_changes_nothing_this_year():
    assert run(flex("2024-12-20", retirement_age_reached_on="2026-01-01"))["retired_from"] is None


@pytest.mark.parametrize("paid, day4, day5", [
    ("2024-12-31", "2025-01-04", "2025-01-05"), ("2025-02-24", "2025-02-28", "2025-03-01"),
    ("2024-02-25", "2024-02-29", "2024-03-01"),
])
def test_certificate_from_five_days_after_payment(paid, day4, day5):
    d = date.fromisoformat(paid)
    assert certificate_from(d, 5) == date.fromisoformat(day5)
    assert certificate_from(d, 4) == date.fromisoformat(day4)


@pytest.mark.parametrize("paid, months", [
    ("2024-12-30", 0), ("2024-12-31", 0), ("2025-01-01", 1), ("2025-01-31", 1), ("2025-02-01", 2),
    ("2025-03-31", 3), ("2025-04-01", 4), ("2025-12-31", 12),
])
def test_interruption_months(paid, months):
    assert interruption_months(date(2024, 12, 31), date.fromisoformat(paid)) == months


# --- unset figures -------------------------------------------------------------------------


def _spec_without(**changes):
    import yaml

    raw = yaml.safe_load((POLICY_DIR / "610400-2025.yaml").read_text(encoding="utf-8"))
    for key, value in changes.items():
        if key == "monthly":
            raw["flexible_employment"][0]["monthly_amount"] = None
        elif key == "critical_illness":
            raw["flexible_employment"][2]["annual_amount"] = None
        else:
            raw["flexible_scheme"][key] = value
    return spec_from_data(normalise(raw), "咸阳市").flexible


@pytest.mark.parametrize("changes, paid, message", [
    ({"critical_illness": None}, "2024-12-01", "咸阳市 2025 年度灵活就业人员医疗保险在职人员大病保险缴费标准，来源文件未给出"),
    ({"monthly": None}, "2025-02-01", "咸阳市 2025 年度灵活就业人员医疗保险基本医疗保险月缴费标准，来源文件未给出"),
    ({"waiting_months": None}, "2025-04-01", "咸阳市 2025 年度灵活就业人员医疗保险待遇等待期，来源文件未给出"),
    ({"pay_by": None}, "2024-12-01", "咸阳市 2025 年度灵活就业人员医疗保险缴费截止日期，来源文件未给出"),
])
def test_an_unset_figure_fails_where_it_is_needed(changes, paid, message):
    scheme = _spec_without(**changes)
    req = parse_flexible_request(flex(paid))
    with pytest.raises(QuoteError) as exc:
        flexible_quote(scheme, req, region_name="咸阳市")
    assert (exc.value.code, exc.value.message) == ("value_not_in_source", message)


def test_an_unset_monthly_figure_is_not_needed_on_time():
    scheme = _spec_without(monthly=None)
    result = flexible_quote(scheme, parse_flexible_request(flex("2024-12-31")), region_name="咸阳市")
    assert result.amount_due == Decimal("3676.80")


# --- the request ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw, field", [
    (dict(flex("2024-12-01"), person={"birth_date": "1970-01-01"}), "person"),
    (dict(flex("2024-12-01"), history={}), "history"),
    (dict(flex("2024-12-01"), color="red"), "color"),
    ({**flex("2024-12-01"), "flexible": {"status": "boss", "file_held_at": "county",
                                         "paid_previous_year": True}}, "flexible.status"),
    ({**flex("2024-12-01"), "flexible": {"status": "retired", "paid_previous_year": True}},
     "flexible.file_held_at"),
    ({**flex("2024-12-01"), "flexible": {"status": "retired", "file_held_at": "county"}},
     "flexible.paid_previous_year"),
    ({**flex("2024-12-01"), "flexible": None}, "flexible"),
    (dict(flex("2024-12-01"), scheme="employee"), "scheme"),
])
def test_bad_requests_name_the_field(raw, field):
    with pytest.raises(QuoteError) as exc:
        parse_flexible_request(raw)
    assert exc.value.code == "invalid_input"
    assert exc.value.message.startswith(f"{field}: ")


def test_a_resident_request_may_say_its_scheme_and_not_carry_flexible():
    raw = {"region": XY, "year": 2025, "paid_on": "2024-11-01", "person": {"birth_date": "1980-01-01"}}
    assert parse_request(dict(raw, scheme="resident")) == parse_request(raw)
    with pytest.raises(QuoteError, match="^flexible: "):
        parse_request(dict(raw, flexible={"status": "retired"}))


def test_explanation_names_each_part_and_the_rule():
    answer = run(flex("2025-03-31", retirement_age_reached_on="2025-08-15"), explain=True)
    steps = answer["explanation"]
    assert steps[1] == "缴费构成：基本医疗保险 3456.00 元 + 大额医疗补助 172.80 元 + 大病保险 48.00 元 = 3676.80 元/年"
    assert steps[2] == ("中断 3 个月（不超过 3 个月），补足中断期间基本医疗保险费 864.00 元（已含在年缴费额内），"
                        "自缴费之日 2025-03-31 起享受待遇")
    assert steps[3] == "《社会保险费缴费证明》自 2025-04-05 起可打印（缴费 5 日后）"
    assert steps[4] == "2025-08-15 达到法定退休年龄，完成当年全年缴费后，自 2025-09-01 起办理在职转退休"
    answer.pop("explanation")
    assert answer == run(flex("2025-03-31", retirement_age_reached_on="2025-08-15"))


def test_a_cloned_year_moves_the_pay_by_day_and_keeps_the_parts():
    scheme = spec_for(XY, 2026).flexible
    assert scheme.pay_by == date(2025, 12, 31)
    assert run(flex("2026-03-31", year=2026))["timing"] == "interrupted"
    answer = run(flex("2026-04-01", year=2026))
    assert (answer["timing"], answer["benefit_start"], answer["amount_due"]) == (
        "first_enrolment", "2026-07-01", "3676.80")
