"""Helpers for the pure rule tests (no database, no clock).

Specs are built straight from the bundled data files in ``policies/`` with
``read_policy_file`` + ``spec_from_data``; later years are ``clone_data``
copies.  Requests are JSON-like dicts (as a caller would send them) that go
through ``parse_request``; answers are ``result_to_dict`` output or the error
object, so every expectation is the exact JSON value of INTERFACES.md §2.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from policy.datafile import clone_data, read_policy_file, spec_from_data
from policy.rules import QuoteError, quote
from policy.rules.io import parse_request, result_to_dict

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"

NB, XN, XY, LL, SH = "330200", "630100", "610400", "141100", "310000"
REGION_NAMES = {NB: "宁波市", XN: "西宁市", XY: "咸阳市", LL: "吕梁市", SH: "上海市"}
BASE_YEARS = {NB: 2025, XN: 2025, XY: 2025, LL: 2026, SH: 2025}

CONTRACT_FIELDS = ("region", "year", "category", "personal_standard", "fiscal_subsidy",
                   "assistance", "amount_due", "timing", "benefit_start", "benefit_end",
                   "waiting_months", "waiting_days", "cap_adjustment")

_PERSON_KEYS = {"hukou", "residence_permit", "student", "employee_insured",
                "parent_insured_locally"}


@functools.lru_cache(maxsize=None)
def base_data(region: str) -> dict:
    """The normalised data of the bundled policy file of a region (do not mutate)."""
    return read_policy_file(POLICY_DIR / f"{region}-{BASE_YEARS[region]}.yaml")


@functools.lru_cache(maxsize=None)
def spec_for(region: str, year: int):
    """The PolicySpec of a region and year: the bundled file, or a clone of it."""
    data = base_data(region)
    if year != data["year"]:
        data = clone_data(data, year)
    return spec_from_data(data, REGION_NAMES[region])


def req(region: str, year: int, paid_on: str, birth: str = "1980-05-01", **kw) -> dict:
    """A request dict with the contract's defaults; person fields and top-level
    fields are both given as keywords (``student=``, ``history=`` ...)."""
    person = {"birth_date": birth}
    raw = {"region": region, "year": year, "paid_on": paid_on, "person": person}
    for key, value in kw.items():
        if key in _PERSON_KEYS:
            person[key] = value
        else:
            raw[key] = value
    return raw


def ident(code: str, certified_on: str | None = None) -> dict:
    out = {"code": code}
    if certified_on is not None:
        out["certified_on"] = certified_on
    return out


def covered(*years: int, kind: str = "resident") -> dict:
    """A history with the given years covered."""
    return {str(y): kind for y in years}


def run(raw) -> dict:
    """A request dict -> the answer dict (result or error), as the contract renders it."""
    try:
        request = parse_request(raw)
        return result_to_dict(quote(spec_for(request.region, request.year), request))
    except QuoteError as exc:
        return exc.as_dict()


def check(answer: dict, expected: dict) -> None:
    if "error" in expected:
        assert "error" in answer, answer
        assert answer["error"]["code"] == expected["error"], answer
        assert answer["error"]["message"], answer
        return
    assert "error" not in answer, answer
    for name in CONTRACT_FIELDS:
        assert name in answer, (name, answer)
    for name, value in expected.items():
        assert answer[name] == value, (name, answer[name], value, answer)


def case(case_id: str, raw: dict, *, marks=(), **expected):
    """One row of a quote table: a request and the exact fields of the answer."""
    assert expected, case_id
    return pytest.param(raw, expected, id=case_id, marks=marks)


def err(case_id: str, raw: dict, code: str, *, marks=()):
    return case(case_id, raw, error=code, marks=marks)


def timing(kind: str, start: str, months: int = 0, days: int = 0) -> dict:
    """Timing, benefit start and the waiting applied."""
    return {"timing": kind, "benefit_start": start, "waiting_months": months,
            "waiting_days": days}


def disagrees(reason: str):
    return pytest.mark.xfail(strict=True, reason="DISAGREES: " + reason)
