"""Quotes per second through the pure rule functions (target: 20,000/s on one core).

    .venv/bin/python bench/quote.py            # print the figures
    .venv/bin/python bench/quote.py --check    # ... and exit 1 when below the target

No Django settings and no database: the specs are built straight from the
policy files in ``policies/`` (the five published years plus two clones), the
way ``policy.selectors`` would hand them to ``quote``.  100,000 varied requests
are generated beforehand from a seeded random generator (not timed): every
region, payment dates in every period and some outside them, every category
including newborns, student statuses, assistance identities and special
groups, coverage histories with breaks and repaired years, people who left
another scheme, non-local people with and without a residence permit.  Some of
them are refused (errors are part of the load and counted by code).

Two figures, each the best of three runs over the whole batch, pinned to one
CPU when the platform allows it:

* rules: ``quote(spec, request)`` over prebuilt ``QuoteRequest`` objects;
* rules + JSON: ``parse_request`` over decoded JSON objects, ``quote`` and
  ``result_to_dict`` (what the API does, minus ``json.loads``/``dumps``).

Garbage collection stays on, as in production; the prebuilt batch is moved to
the permanent generation first (``gc.freeze``) so that full collections do not
walk 100,000 objects that a real process would never hold at once.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from policy.datafile import (  # noqa: E402
    clone_data,
    policy_files,
    read_policy_file,
    read_regions_file,
    spec_from_data,
)
from policy.rules import Identity, Person, QuoteError, QuoteRequest, quote  # noqa: E402
from policy.rules.io import parse_request, result_to_dict  # noqa: E402
from policy.rules.types import COVERED, IDENTITIES  # noqa: E402

TARGET = 20_000  # quotes per second, rules only, one core
CLONES = (("310000", 2025, 2027), ("610400", 2025, 2029))  # (region, from year, to year)
# Requests for a region/year without a published policy (answered policy_missing).
NO_POLICY = (("330200", 2030), ("440300", 2025))
HISTORY_CHOICES = ("resident", "resident", "resident", "resident", "resident_zero_claim",
                   "employee", "none", "none", None)  # None: the year is left out


def build_specs() -> dict:
    """(region, year) -> PolicySpec for the policy files and the clones."""
    directory = ROOT / "policies"
    names = {r["code"]: r["name"] for r in read_regions_file(directory / "regions.yaml")}
    datas = {}
    for path in policy_files(directory):
        data = read_policy_file(path)
        datas[data["region"], data["year"]] = data
    for region, from_year, to_year in CLONES:
        datas[region, to_year] = clone_data(datas[region, from_year], to_year)
    return {key: spec_from_data(data, names[key[0]]) for key, data in sorted(datas.items())}


# --- the requests ----------------------------------------------------------------------


def _day(rng: random.Random, lo: date, hi: date) -> date:
    return lo + timedelta(days=rng.randint(0, max(0, (hi - lo).days)))


def _paid_on(rng: random.Random, spec) -> date:
    """Mostly inside one of the periods; about one in eight before, between or after them."""
    earliest = spec.first_opening or (spec.year_start - timedelta(days=75))
    if rng.random() < 0.88:
        period = rng.choice(spec.periods)
        lo = period.starts_on or earliest
        hi = period.ends_on or spec.year_end
        return _day(rng, lo, hi)
    roll = rng.random()
    if roll < 0.4:  # before the first opening (window_not_open where the source gives one)
        return _day(rng, earliest - timedelta(days=60), earliest - timedelta(days=1))
    if roll < 0.8:  # after the benefit year (window_closed)
        return _day(rng, spec.year_end + timedelta(days=1), spec.year_end + timedelta(days=90))
    return _day(rng, earliest, spec.year_end)  # anywhere, gaps between periods included


def _person(rng: random.Random, spec, paid: date) -> Person:
    year = spec.year
    kind = rng.choices(("adult", "elder", "minor", "infant", "newborn", "college", "bad"),
                       weights=(40, 12, 16, 12, 8, 10, 0.3))[0]
    if kind == "adult":
        birth = _day(rng, date(1960, 1, 1), date(year - 19, 12, 31))
    elif kind == "elder":
        birth = _day(rng, date(1930, 1, 1), date(1965, 12, 31))
    elif kind == "minor":
        birth = _day(rng, date(year - 18, 1, 1), date(year - 7, 12, 31))
    elif kind == "infant":
        birth = _day(rng, date(year - 6, 1, 1), date(year - 1, 12, 31))
    elif kind == "newborn":  # born in the benefit year, before paying (else late in the year before)
        hi = min(paid, spec.year_end)
        lo = spec.year_start if hi >= spec.year_start else hi - timedelta(days=60)
        birth = _day(rng, lo, hi)
    elif kind == "college":
        birth = _day(rng, date(year - 24, 1, 1), date(year - 17, 12, 31))
    else:  # a data-entry slip: born after paying (invalid_input)
        birth = paid + timedelta(days=rng.randint(1, 400))
    age = year - birth.year
    student = None
    if kind == "college" and rng.random() < 0.8:
        student = "college"
    elif 6 <= age <= 18 and rng.random() < 0.6:
        student = "primary_secondary"
    nonlocal_ = rng.random() < 0.12
    return Person(
        birth_date=birth,
        hukou="nonlocal" if nonlocal_ else "local",
        residence_permit=nonlocal_ and rng.random() < 0.75,
        student=student,
        employee_insured=rng.random() < 0.015,
        parent_insured_locally=nonlocal_ and age <= 1 and rng.random() < 0.7,
    )


def _identities(rng: random.Random, spec, paid: date) -> tuple:
    if rng.random() >= 0.22:
        return ()
    local = [t.identity for t in spec.assistance] + [g.code for g in spec.special_groups
                                                     if g.code in IDENTITIES]
    out = []
    for _ in range(1 if rng.random() < 0.8 else 2):
        code = rng.choice(local) if local and rng.random() < 0.8 else rng.choice(list(IDENTITIES))
        certified_on = None
        if code == "disabled_certified" or rng.random() < 0.35:
            # mostly well before paying; some after the tier's deadline or after paying
            certified_on = _day(rng, paid - timedelta(days=900), paid + timedelta(days=20))
        out.append(Identity(code=code, certified_on=certified_on))
    return tuple(out)


def _history(rng: random.Random, spec, birth: date) -> tuple[dict, frozenset]:
    history = {}
    first = max(spec.year - 6, birth.year)
    if rng.random() < 0.1:  # never insured before
        return history, frozenset()
    steady = rng.random() < 0.55  # most people simply renew every year
    for y in range(first, spec.year):
        value = "resident" if steady else rng.choice(HISTORY_CHOICES)
        if value is not None:
            history[y] = value
    gaps = [y for y in range(max(first, spec.continuity_from_year), spec.year)
            if history.get(y, "none") not in COVERED]
    repaired = frozenset(y for y in gaps if rng.random() < 0.4)
    return history, repaired


def make_request(rng: random.Random, specs: list) -> QuoteRequest:
    if rng.random() < 0.003:
        region, year = rng.choice(NO_POLICY)
        spec = specs[0]
    else:
        spec = rng.choice(specs)
        region, year = spec.region_code, spec.year
    paid = _paid_on(rng, spec)
    person = _person(rng, spec, paid)
    history, repaired = _history(rng, spec, person.birth_date)
    left = None
    if rng.random() < 0.06:
        left = _day(rng, paid - timedelta(days=200), paid + timedelta(days=10))
    return QuoteRequest(region=region, year=year, paid_on=paid, person=person,
                        identities=_identities(rng, spec, paid), history=history,
                        repaired_years=repaired, left_other_scheme_on=left)


def request_to_json(req: QuoteRequest) -> dict:
    """The decoded JSON object of INTERFACES.md section 2 for a request."""
    p = req.person
    out = {
        "region": req.region, "year": req.year, "paid_on": req.paid_on.isoformat(),
        "person": {"birth_date": p.birth_date.isoformat(), "hukou": p.hukou,
                   "residence_permit": p.residence_permit, "student": p.student,
                   "employee_insured": p.employee_insured,
                   "parent_insured_locally": p.parent_insured_locally},
    }
    if req.identities:
        out["identities"] = [
            {"code": i.code, "certified_on": i.certified_on.isoformat()} if i.certified_on
            else i.code for i in req.identities]
    if req.history:
        out["history"] = {str(y): v for y, v in sorted(req.history.items())}
    if req.repaired_years:
        out["repaired_years"] = sorted(req.repaired_years)
    if req.left_other_scheme_on:
        out["left_other_scheme_on"] = req.left_other_scheme_on.isoformat()
    return out


def make_batch(specs: dict, n: int, seed: int) -> tuple[list, list]:
    """n requests and their JSON objects; each JSON object parses back to its request."""
    from tqdm import tqdm

    rng = random.Random(seed)
    spec_list = list(specs.values())
    requests, payloads = [], []
    # The bar only shows on a terminal and only when generating takes over a second.
    for _ in tqdm(range(n), desc="generating", unit="req", delay=1.0, leave=False,
                  disable=None, file=sys.stderr):
        req = make_request(rng, spec_list)
        raw = request_to_json(req)
        if parse_request(raw) != req:
            raise AssertionError(f"request does not round-trip through JSON: {raw}")
        requests.append(req)
        payloads.append(raw)
    return requests, payloads


# --- the timed loops -------------------------------------------------------------------


def run_rules(specs: dict, requests: list) -> tuple[int, Counter]:
    ok = 0
    errors: Counter = Counter()
    get = specs.get
    for req in requests:
        spec = get((req.region, req.year))
        if spec is None:
            errors["policy_missing"] += 1
            continue
        try:
            quote(spec, req)
            ok += 1
        except QuoteError as exc:
            errors[exc.code] += 1
    return ok, errors


def run_json(specs: dict, payloads: list) -> tuple[int, Counter]:
    ok = 0
    errors: Counter = Counter()
    get = specs.get
    for raw in payloads:
        try:
            req = parse_request(raw)
            spec = get((req.region, req.year))
            if spec is None:
                raise QuoteError("policy_missing", f"{req.region} {req.year}")
            result_to_dict(quote(spec, req))
            ok += 1
        except QuoteError as exc:
            errors[exc.code] += 1
    return ok, errors


def best_of(runs: int, fn, *args):
    best = None
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        outcome = fn(*args)
        seconds = time.perf_counter() - start
        if best is None or seconds < best[0]:
            best = (seconds, outcome)
    return best


def pin_to_one_cpu() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cpu = max(os.sched_getaffinity(0))
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:
        return f"not pinned ({exc})"
    return f"pinned to CPU {cpu}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 when the rules run below {TARGET:,} quotes/s")
    parser.add_argument("-n", type=int, default=100_000, help="requests (default 100000)")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--runs", type=int, default=3, help="timed runs, best kept (default 3)")
    args = parser.parse_args(argv)

    pinned = pin_to_one_cpu()
    specs = build_specs()
    started = time.perf_counter()
    requests, payloads = make_batch(specs, args.n, args.seed)
    generated = time.perf_counter() - started
    gc.collect()
    gc.freeze()

    print(f"policies: {', '.join(f'{r}-{y}' for r, y in specs)}")
    print(f"requests: {len(requests):,} (seed {args.seed}, generated in {generated:.1f} s); "
          f"{pinned}; best of {args.runs}")
    seconds, (ok, errors) = best_of(args.runs, run_rules, specs, requests)
    rate = len(requests) / seconds
    print(f"successes: {ok:,}; errors: {sum(errors.values()):,} "
          f"({', '.join(f'{code} {count:,}' for code, count in errors.most_common())})")
    print(f"rules:        {seconds:.3f} s  {rate:>9,.0f} quotes/s  (target {TARGET:,})")
    j_seconds, (j_ok, j_errors) = best_of(args.runs, run_json, specs, payloads)
    if (j_ok, j_errors) != (ok, errors):
        print(f"JSON path disagrees: {j_ok} successes, {dict(j_errors)}")
        return 1
    print(f"rules + JSON: {j_seconds:.3f} s  {len(payloads) / j_seconds:>9,.0f} quotes/s  "
          f"(parse_request + quote + result_to_dict)")
    if args.check and rate < TARGET:
        print(f"FAIL: {rate:,.0f} quotes/s is below the target of {TARGET:,}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
