"""Lüliang 003 §二(五): a disability certificate newly issued in 2025 must have been assessed
(残疾评定) by 2025-10-31, and the certificate held by 2025-11-30, for the full 400 assistance."""

from __future__ import annotations

from datetime import date

import pytest

from policy.datafile import read_policy_file
from policy.rules import QuoteError, quote
from policy.rules.io import parse_request, result_to_dict

from .rules_support import LL, POLICY_DIR, req, spec_for


def disabled(certified_on, assessed_on=None):
    item = {"code": "disabled_certified", "certified_on": certified_on}
    if assessed_on is not None:
        item["assessed_on"] = assessed_on
    return item


def test_the_tier_carries_both_dates():
    data = read_policy_file(POLICY_DIR / "141100-2026.yaml")
    tier = next(t for t in data["assistance"] if t["identity"] == "disabled_certified")
    assert (tier["certified_by"], tier["assessed_by"]) == (date(2025, 11, 30), date(2025, 10, 31))


@pytest.mark.parametrize("certified, assessed, assistance, due", [
    pytest.param("2025-11-30", "2025-10-31", "400.00", "0.00", id="assessed-on-the-deadline"),
    pytest.param("2025-11-30", "2025-11-01", None, "400.00", id="assessed-a-day-late"),
    pytest.param("2025-11-05", "2025-10-01", "400.00", "0.00", id="new-certificate-in-time"),
    pytest.param("2025-12-01", "2025-10-01", None, "400.00", id="certificate-a-day-late"),
    pytest.param("2024-06-01", "2025-11-15", "400.00", "0.00", id="older-certificate-not-bound"),
    pytest.param("2025-11-20", None, "400.00", "0.00", id="assessment-date-unknown-not-checked"),
])
def test_assessment_deadline(certified, assessed, assistance, due):
    raw = req(LL, 2026, "2025-12-10", identities=[disabled(certified, assessed)], history={"2025": "resident"})
    out = result_to_dict(quote(spec_for(LL, 2026), parse_request(raw)))
    got = None if out["assistance"] is None else out["assistance"]["amount"]
    assert (got, out["amount_due"]) == (assistance, due)


def test_the_explanation_gives_the_reason_or_the_warning():
    late = req(LL, 2026, "2025-12-10", identities=[disabled("2025-11-30", "2025-11-01")])
    steps = quote(spec_for(LL, 2026), parse_request(late), explain=True).steps
    assert "身份“持第二代残疾人证人员”不予资助：2025 年新办证的须在 2025-10-31 前完成残疾评定，评定日期为 2025-11-01" in steps
    unknown = req(LL, 2026, "2025-12-10", identities=[disabled("2025-11-20")])
    steps = quote(spec_for(LL, 2026), parse_request(unknown), explain=True).steps
    assert "注意：2025 年新办证的须在 2025-10-31 前完成残疾评定，未提供评定日期，未核对" in steps


@pytest.mark.parametrize("item, field", [
    ({"code": "dibao", "certified_on": "2025-06-01", "assessed_on": "2025-05-01"}, "identities[0].assessed_on"),
    ({"code": "disabled_certified", "certified_on": "2025-06-01", "assessed_on": "2025-13-01"},
     "identities[0].assessed_on"),
])
def test_bad_assessment_dates(item, field):
    with pytest.raises(QuoteError) as exc:
        parse_request(req(LL, 2026, "2025-12-10", identities=[item]))
    assert exc.value.code == "invalid_input" and exc.value.message.startswith(field + ": ")
