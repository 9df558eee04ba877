"""Calendar arithmetic (policy.rules.dates) and cloning a policy year (datafile.clone_data).

POLICY.md §2: months are calendar months (2025-01-31 + 1 month = 2025-02-28);
ages are whole years.  INTERFACES.md §3: a clone keeps every figure and moves
every date by B−A years (29 Feb → 28 Feb).
"""

import copy
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from policy.datafile import clone_data, spec_from_data
from policy.rules.dates import add_months, age_on, shift_years

from .rules_support import LL, NB, SH, XY, base_data, spec_for

D = date.fromisoformat
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("start, months, expected", [
    ("2025-01-31", 1, "2025-02-28"),
    ("2024-01-31", 1, "2024-02-29"),
    ("2025-01-30", 1, "2025-02-28"),
    ("2025-01-28", 1, "2025-02-28"),
    ("2025-03-31", 1, "2025-04-30"),
    ("2025-01-31", 3, "2025-04-30"),
    ("2025-01-01", 3, "2025-04-01"),
    ("2025-02-10", 3, "2025-05-10"),
    ("2025-05-31", 4, "2025-09-30"),
    ("2025-08-31", 6, "2026-02-28"),
    ("2027-11-30", 3, "2028-02-29"),
    ("2025-11-30", 3, "2026-02-28"),
    ("2025-12-15", 1, "2026-01-15"),
    ("2025-10-31", 2, "2025-12-31"),
    ("2025-01-31", 12, "2026-01-31"),
    ("2025-01-31", 25, "2027-02-28"),
    ("2030-01-01", 8, "2030-09-01"),
    ("2025-03-31", -1, "2025-02-28"),
    ("2025-01-15", -1, "2024-12-15"),
    ("2024-03-31", -1, "2024-02-29"),
    ("2025-07-17", 0, "2025-07-17"),
])
def test_add_months(start, months, expected):
    assert add_months(D(start), months) == D(expected)


@pytest.mark.parametrize("start, years, expected", [
    ("2024-02-29", 1, "2025-02-28"),
    ("2024-02-29", 4, "2028-02-29"),
    ("2024-02-29", -1, "2023-02-28"),
    ("2024-02-28", 1, "2025-02-28"),
    ("2024-03-01", 1, "2025-03-01"),
    ("2024-12-20", 3, "2027-12-20"),
    ("2024-12-31", 5, "2029-12-31"),
    ("2025-10-21", 1, "2026-10-21"),
    ("2026-02-25", 2, "2028-02-25"),
    ("2025-06-01", 0, "2025-06-01"),
])
def test_shift_years(start, years, expected):
    assert shift_years(D(start), years) == D(expected)


@pytest.mark.parametrize("birth, on, age", [
    ("1964-12-31", "2024-12-31", 60),
    ("1965-01-01", "2024-12-31", 59),
    ("2006-12-31", "2024-12-31", 18),
    ("2006-01-01", "2024-12-31", 18),
    ("2005-12-31", "2024-12-31", 19),
    ("2019-01-01", "2024-12-31", 5),
    ("2024-12-31", "2024-12-31", 0),
    ("2024-06-30", "2024-12-31", 0),
    ("2004-02-29", "2025-02-28", 20),
    ("2004-02-29", "2025-03-01", 21),
    ("2004-02-29", "2024-02-29", 20),
    ("1980-05-01", "2025-04-30", 44),
    ("1980-05-01", "2025-05-01", 45),
])
def test_age_on(birth, on, age):
    assert age_on(D(birth), D(on)) == age


# --- clone_data -------------------------------------------------------------------------------


def _period(data, kind, index=0):
    return [p for p in data["periods"] if p["kind"] == kind][index]


def test_clone_shanghai_2025_to_2027():
    src = base_data(SH)
    before = copy.deepcopy(src)
    out = clone_data(src, 2027)
    assert src == before, "clone_data must not change its input"
    f = out["year_fields"]
    assert (out["region"], out["year"], f["status"]) == ("310000", 2027, "draft")
    assert f["age_reference_date"] == date(2026, 12, 31)
    assert f["registration_starts_on"] is None
    assert f["registration_ends_on"] == date(2026, 12, 20)
    assert f["continuity_from_year"] == 2025
    assert (f["fixed_waiting_months"], f["variable_waiting"], f["variable_floor_gap_years"],
            f["variable_floor_months"]) == (3, True, 4, 6)
    assert f["pool_premium_cutoff"] == datetime(2026, 12, 20, 17, 0, tzinfo=SHANGHAI)
    assert f["pool_school_cancel_deadline"] == datetime(2026, 12, 20, 17, 0, tzinfo=SHANGHAI)
    assert f["pool_batch_starts_on"] == date(2026, 12, 21)
    assert f["pool_results_on"] == date(2026, 12, 28)
    assert f["cap_increase_per_year"] is None and f["cap_break_decrease"] is None
    window, late = _period(out, "window"), _period(out, "late")
    assert (window["starts_on"], window["ends_on"]) == (None, date(2026, 12, 20))
    assert (late["starts_on"], late["ends_on"], late["offset"]) == (date(2026, 12, 21), None, 3)
    standards = {c["code"]: (c["personal_standard"], c["fiscal_subsidy"])
                 for c in out["categories"]}
    assert standards == {"student": (Decimal("355.00"), None), "infant": (Decimal("355.00"), None),
                         "college": (None, None), "adult": (None, None)}


def test_clone_xianyang_2025_to_2029():
    out = clone_data(base_data(XY), 2029)
    f = out["year_fields"]
    window, supp = _period(out, "window"), _period(out, "supplementary")
    assert (window["starts_on"], window["ends_on"]) == (date(2028, 9, 20), date(2028, 12, 20))
    assert (supp["starts_on"], supp["ends_on"], supp["offset"]) == (
        date(2029, 1, 1), date(2029, 3, 31), 3)
    assert (f["cap_after_years"], f["cap_increase_per_year"], f["cap_break_decrease"]) == (
        4, Decimal("3000.00"), Decimal("3000.00"))
    assert [c["personal_standard"] for c in out["categories"]] == [Decimal("400.00")]
    assert [c["fiscal_subsidy"] for c in out["categories"]] == [Decimal("670.00")]
    assert sorted(r["annual_amount"] for r in out["flexible_employment"]) == sorted(
        Decimal(x) for x in ("3456.00", "172.80", "48.00", "0.00", "172.80", "48.00"))


def test_clone_lueliang_2026_to_2027():
    out = clone_data(base_data(LL), 2027)
    f = out["year_fields"]
    assert (f["payment_day_from"], f["payment_day_to"]) == (1, 25)
    assert (f["registration_starts_on"], f["registration_ends_on"]) == (
        date(2026, 10, 21), date(2027, 2, 25))
    windows = [(p["starts_on"], p["ends_on"], p["benefit_start"])
               for p in out["periods"] if p["kind"] == "window"]
    assert windows == [(date(2026, 10, 21), date(2026, 12, 31), "year_start"),
                       (date(2027, 1, 1), date(2027, 2, 25), "payment_date")]
    late = _period(out, "late")
    assert (late["starts_on"], late["charge"]) == (date(2027, 2, 26), "personal_plus_fiscal")
    tiers = {t["identity"]: t for t in out["assistance"]}
    assert tiers["disabled_certified"]["certified_by"] == date(2026, 11, 30)
    assert tiers["dibao"]["amount"] == Decimal("320.00")
    assert tiers["entitled"]["amount"] is None
    groups = {g["code"]: g for g in out["special_groups"]}
    assert groups["left_other_scheme"]["within_months"] == 3
    assert groups["newborn"]["free_in_birth_year"] is True


def test_clone_ningbo_moves_birth_ranges():
    out = clone_data(base_data(NB), 2027)
    ranges = {c["code"]: (c["born_from"], c["born_to"]) for c in out["categories"]}
    assert ranges == {"student": (None, None), "college": (None, None),
                      "adult": (None, date(2007, 12, 31)),
                      "infant": (date(2021, 1, 1), None),
                      "minor": (date(2008, 1, 1), date(2020, 12, 31))}
    assert out["year_fields"]["nonlocal_infant_parent_months"] == 6


def test_clone_29_february():
    data = {
        "region": "999999", "year": 2024,
        "year_fields": {"age_reference_date": date(2024, 2, 29),
                        "pool_premium_cutoff": datetime(2024, 2, 29, 17, 0, tzinfo=SHANGHAI),
                        "continuity_from_year": 2025, "status": "published"},
        "periods": [{"starts_on": date(2024, 2, 29), "ends_on": date(2024, 3, 1)}],
    }
    to_2025 = clone_data(data, 2025)
    assert to_2025["year_fields"]["age_reference_date"] == date(2025, 2, 28)
    assert to_2025["year_fields"]["pool_premium_cutoff"] == datetime(2025, 2, 28, 17, 0,
                                                                     tzinfo=SHANGHAI)
    assert to_2025["periods"] == [{"starts_on": date(2025, 2, 28), "ends_on": date(2025, 3, 1)}]
    assert to_2025["year_fields"]["continuity_from_year"] == 2025
    assert to_2025["year_fields"]["status"] == "draft"
    to_2028 = clone_data(data, 2028)
    assert to_2028["periods"][0]["starts_on"] == date(2028, 2, 29)


def test_clone_back_and_forth_is_identity_for_the_bundled_years():
    for region in (NB, SH, XY, LL):
        src = base_data(region)
        there = clone_data(src, src["year"] + 3)
        back = clone_data(there, src["year"])
        back["year_fields"]["status"] = src["year_fields"]["status"]
        assert back == src, region


def test_spec_from_clone():
    spec = spec_from_data(clone_data(base_data(SH), 2030), "上海市")
    assert (spec.year, spec.year_start, spec.year_end) == (
        2030, date(2030, 1, 1), date(2030, 12, 31))
    assert spec.age_reference_date == date(2029, 12, 31)
    assert spec.first_opening is None
    assert spec_for(XY, 2029).first_opening == date(2028, 9, 20)
    assert spec_for(LL, 2027).first_opening == date(2026, 10, 21)
    assert spec_for(NB, 2025).first_opening == date(2024, 10, 21)
