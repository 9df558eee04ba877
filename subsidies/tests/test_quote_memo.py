"""ClassQuoteMemo: requests sharing a key get exactly the answer (or refusal) the rules give
each of them — over many varied people of every bundled policy, and of policies with age
bands, certificate cut-offs and groups that start at birth (which no bundled file has)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from policy.rules import QuoteError, quote
from policy.rules.dates import add_months
from policy.rules.types import (
    COVERED,
    HISTORY_VALUES,
    IDENTITIES,
    AssistanceTierSpec,
    Identity,
    Person,
    QuoteRequest,
    SpecialGroupSpec,
)
from policy.tests.rules_support import BASE_YEARS, LL, spec_for
from subsidies.quote_memo import ClassQuoteMemo

DAY = timedelta(days=1)


def _banded(spec):
    """The spec with age bands on two tiers, a certificate cut-off, a percentage tier and
    an identity group whose benefits start at birth."""
    tiers = list(spec.assistance) + [
        AssistanceTierSpec("low_income_member", "fixed", None, Decimal("150.00"), ((None, 17), (60, None)),
                           None, False),
        AssistanceTierSpec("disabled_severe", "percentage", Decimal("55"), None, ((18, 59),),
                           date(spec.year - 1, 9, 30), True),
        AssistanceTierSpec("hiv_child", "fixed", None, Decimal("9999.00"), ((0, 14),), None, False),
    ]
    groups = [g for g in spec.special_groups if g.code != "orphan"] + [
        SpecialGroupSpec("orphan", True, True, "birth_date"),
        SpecialGroupSpec("low_income_member", True, False, "next_day"),
    ]
    return replace(spec, assistance=tuple(tiers), special_groups=tuple(groups))


def _without_birth_group(spec):
    """The spec with age bands but no group starting at birth (so birth dates are classed)."""
    banded = _banded(spec)
    return replace(banded, special_groups=tuple(g for g in banded.special_groups if g.code != "orphan"))


SPECS = [pytest.param(spec_for(r, y), id=f"{r}-{y}") for r, y in sorted(BASE_YEARS.items())] + [
    pytest.param(_banded(spec_for(r, y)), id=f"{r}-{y}-banded") for r, y in sorted(BASE_YEARS.items())] + [
    pytest.param(_without_birth_group(spec_for(r, y)), id=f"{r}-{y}-banded-nobirthgroup")
    for r, y in sorted(BASE_YEARS.items())]


def _dates_around(days):
    out = set()
    for d in days:
        if d is not None:
            out.update((d - DAY, d, d + DAY))
    return out


def _pools(spec, rng: random.Random):
    year = spec.year
    paid = _dates_around([p.starts_on for p in spec.periods] + [p.ends_on for p in spec.periods]
                         + [spec.year_start, spec.year_end, date(year - 1, 10, 25), date(year, 3, 1)])
    paid.update(date(year - 1, 9, 1) + timedelta(days=rng.randrange(500)) for _ in range(8))
    paid = sorted(paid)
    births = _dates_around([c.born_from for c in spec.categories] + [c.born_to for c in spec.categories])
    ref = spec.age_reference_date
    for age in (0, 1, 14, 15, 17, 18, 59, 60, 61, 80):
        births.update(_dates_around([date(ref.year - age, ref.month, ref.day)]))
    births.update((date(year, 1, 1), date(year, 6, 15), date(year - 1, 12, 31), date(year - 1, 3, 1),
                   date(spec.continuity_from_year, 1, 1), date(spec.continuity_from_year - 1, 12, 31),
                   date(2000, 2, 29), date(year + 1, 1, 5)))
    births.update(date(1930, 1, 1) + timedelta(days=rng.randrange(36000)) for _ in range(400))
    if spec.nonlocal_infant_parent_months is not None:  # the infant rule's edge: born N months before paying
        births.update(_dates_around([add_months(d, -spec.nonlocal_infant_parent_months) for d in paid]))
    cutoffs = [t.certified_by for t in spec.assistance if t.certified_by]
    certified = sorted(_dates_around(paid[::3] + cutoffs)) + [None]
    codes = sorted({t.identity for t in spec.assistance} | {g.code for g in spec.special_groups
                                                             if g.code in IDENTITIES} | {"medical_assistance"})
    years = list(range(spec.continuity_from_year - 3, year + 1))
    return paid, sorted(births), certified, codes, years


def _request(spec, rng: random.Random, pools) -> QuoteRequest:
    """Wide where the memo reduces (birth and certification dates, early history), and
    mostly one of a few values elsewhere, so that people come to share keys."""
    paid_days, births, certified, codes, years = pools
    common = rng.random() < 0.8
    paid = paid_days[rng.randrange(4) * len(paid_days) // 4] if common else rng.choice(paid_days)
    person = Person(birth_date=rng.choice(births),
                    hukou="local" if common else rng.choice(["local", "nonlocal"]),
                    residence_permit=not common and rng.random() < 0.5,
                    student=None if common else rng.choice([None, "primary_secondary", "college"]),
                    employee_insured=not common and rng.random() < 0.1,
                    parent_insured_locally=not common and rng.random() < 0.3)
    identities = tuple(sorted((Identity(rng.choice(codes[:3] if common else codes), rng.choice(certified))
                               for _ in range(rng.choice([0, 1, 1, 1, 2] if common else [0, 1, 2, 3]))),
                              key=lambda i: (i.code, i.certified_on or date.min)))
    history = {y: rng.choice(list(HISTORY_VALUES)) for y in years if rng.random() < 0.6}
    if common:  # the years the continuity counts as one of two shapes, earlier years anything
        history = {y: v for y, v in history.items() if y < spec.continuity_from_year}
        history.update({y: "resident" for y in years if spec.continuity_from_year <= y < spec.year
                        and rng.random() < 0.9})
        if spec.cap_zero_claim_incentive:  # the year before, which the zero-claim incentive reads
            history[spec.year - 1] = "resident_zero_claim"
    repaired = frozenset(y for y in years if rng.random() < 0.2 and (not common or y < spec.continuity_from_year))
    left = None if common else rng.choice([None, paid - timedelta(days=rng.choice([0, 1, 30, 89, 92, 200])),
                       add_months(paid, -3), add_months(paid, -3) - DAY, paid + DAY])
    return QuoteRequest(region=spec.region_code, year=spec.year, paid_on=paid, person=person,
                        identities=identities, history=history, repaired_years=repaired,
                        left_other_scheme_on=left)


def _answer(spec, req):
    try:
        return quote(spec, req)
    except QuoteError as exc:
        return ("refused", exc.code, exc.message, exc.figure)


def _memo_answer(memo, spec, req, rng=None):
    try:
        if rng is not None and rng.random() < 0.5:  # the identities given beside another request
            other = replace(req, identities=(Identity("tekun", req.paid_on),) if rng.random() < 0.5 else ())
            return memo.quote(spec, other, identities=req.identities)
        return memo.quote(spec, req)
    except QuoteError as exc:
        return ("refused", exc.code, exc.message, exc.figure)


@pytest.mark.parametrize("spec", SPECS)
def test_memo_answers_what_the_rules_answer_for_every_request(spec):
    rng = random.Random(f"{spec.region_code}-{spec.year}-{len(spec.assistance)}")
    pools = _pools(spec, rng)
    memo = ClassQuoteMemo(spec)
    n = 4000
    shared = 0
    for _ in range(n):
        req = _request(spec, rng, pools)
        had = len(memo)
        got = _memo_answer(memo, spec, req, rng)
        shared += len(memo) == had
        assert got == _answer(spec, req), (req, memo.key(req))
    # the memo answered many of them from another person's answer (not a test of nothing);
    # with a group starting at birth every birth date is a key of its own
    if memo._starts_at_birth:
        assert memo.key(req)[8] == ("date", req.person.birth_date)
    else:
        assert shared > n // 6, shared


@pytest.mark.parametrize("spec", SPECS)
def test_same_key_means_same_answer_for_people_who_differ_in_birth_and_certification_dates(spec):
    """Pairs built to share a key while their exact dates differ: the rules agree."""
    rng = random.Random(f"pairs-{spec.region_code}-{len(spec.special_groups)}")
    pools = _pools(spec, rng)
    memo = ClassQuoteMemo(spec)
    births = pools[1]
    certified = [d for d in pools[2] if d is not None]
    checked = 0
    for _ in range(1500):
        req = _request(spec, rng, pools)
        key = memo.key(req)
        for _ in range(30):  # another person of the same key: other dates, other early history
            born = req.person.birth_date if key[8][0] == "date" else rng.choice(births)
            other = replace(req, person=replace(req.person, birth_date=born),
                            identities=tuple(Identity(i.code, rng.choice(certified) if i.certified_on else None)
                                             for i in req.identities),
                            history={**req.history, spec.continuity_from_year - 2: rng.choice(sorted(COVERED))})
            if memo.key(other) == key and other != req:
                checked += 1
                assert _answer(spec, other) == _answer(spec, req), (req, other, key)
                break
    assert checked > 150, checked


def test_lueliang_adults_share_one_answer_whatever_their_birth_and_certification_dates():
    """Lüliang 2026 has one category and no age bands: an adult's birth date plays no part,
    a certification date only by being on or before the payment day (and the cut-off)."""
    spec = spec_for(LL, 2026)
    memo = ClassQuoteMemo(spec)
    paid = date(2025, 11, 10)
    people = [QuoteRequest(region=LL, year=2026, paid_on=paid, person=Person(birth_date=born),
                           identities=(Identity("dibao", certified),), history={2025: "resident"})
              for born in (date(1950, 3, 1), date(1988, 12, 31), date(2010, 7, 7))
              for certified in (date(2025, 1, 1), date(2025, 10, 27), paid)]
    answers = [memo.quote(spec, r) for r in people]
    assert len(memo) == 1 and memo.asked == 9
    assert {(a.amount_due, a.assistance.identity, a.assistance.amount, a.timing, a.benefit_start)
            for a in answers} == {(Decimal("80.00"), "dibao", Decimal("320.00"), "window", date(2026, 1, 1))}
    # certified after the payment day: another class, no assistance
    later = replace(people[0], identities=(Identity("dibao", paid + DAY),))
    assert memo.quote(spec, later).amount_due == Decimal("400.00")
    # born in 2025 (a year the continuity counts): keyed on the exact date
    young = replace(people[0], person=Person(birth_date=date(2025, 3, 1)))
    assert memo.key(young)[8] == ("date", date(2025, 3, 1))
    assert len(memo) == 2
    memo.quote(spec, young)
    assert len(memo) == 3


def test_the_year_before_and_a_late_assessment_are_in_the_key():
    """Inputs the rules gained: the zero-claim year before the benefit year (Shanghai rewards
    it) and a disability assessment after the deadline (Lüliang 2025-10-31 for certificates
    of 2025) — each makes another answer, and the memo tells them apart."""
    sh = spec_for("310000", 2025)
    memo = ClassQuoteMemo(sh)
    pupil = Person(birth_date=date(2012, 5, 1), student="primary_secondary")
    plain = QuoteRequest(region="310000", year=2025, paid_on=date(2024, 10, 24), person=pupil,
                         history={2024: "resident"})
    zero = replace(plain, history={2024: "resident_zero_claim"})
    assert memo.key(plain) != memo.key(zero)
    answers = [memo.quote(sh, r) for r in (plain, zero)]
    assert [a.cap.zero_claim for a in answers] == [False, True]
    assert [a.cap.zero_claim for a in answers] == [quote(sh, r).cap.zero_claim for r in (plain, zero)]

    ll = spec_for(LL, 2026)
    memo = ClassQuoteMemo(ll)
    paid = date(2025, 11, 10)
    on_time, late, unknown = (QuoteRequest(region=LL, year=2026, paid_on=paid, person=Person(birth_date=date(1970, 1, 1)),
                                           identities=(Identity("disabled_certified", date(2025, 6, 1), assessed),),
                                           history={2025: "resident"})
                              for assessed in (date(2025, 10, 31), date(2025, 11, 1), None))
    assert memo.key(on_time) == memo.key(unknown) != memo.key(late)
    got = [memo.quote(ll, r).amount_due for r in (on_time, late, unknown)]
    assert got == [Decimal("0.00"), Decimal("400.00"), Decimal("0.00")]
    assert got == [quote(ll, r).amount_due for r in (on_time, late, unknown)]
