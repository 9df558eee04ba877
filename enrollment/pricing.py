"""Pricing shared by the services and the bulk paths: the date a registration is
priced at, and the plan for pricing unpaid enrollments again when a person's
facts change (category, permit, hukou, region).

A change made by ``resident_update`` and a change made by an import go
through ``plan_repricing`` and ``enrollment.writer.enrollments_reprice``
alike: every unpaid (``registered``) enrollment of the person is priced with
the new facts under the policy of the person's (new) region and moved to that
region; paid and cancelled enrollments never change.  If any of them cannot
be priced, the change is refused with the reason — a caseworker then cancels
that registration (with a reason that stays on record) or corrects the facts.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta

from policy.rules import PolicySpec, QuoteError, quote
from policy.rules.types import Person, QuoteRequest, QuoteResult
from policy.selectors import published_spec

from .models import Enrollment, EnrollmentStatus
from .selectors import PersonFacts, quote_requests_for
from .writer import Repriced

# Resident fields the rules read: a change to any of them prices unpaid enrollments again.
RULE_FIELDS = frozenset({"region_id", "hukou", "residence_permit", "residence_permit_expires_on",
                         "student"})


def registration_date(spec: PolicySpec, today: date) -> date:
    """The payment date a registration is priced at: today, or the day the window
    opens when registering ahead of it.  The amount is priced again at payment.

    Registering is not paying: on a day of the month the region takes no
    payments (Lüliang: only days 1-25), the registration is priced at the next
    day payments are taken, as long as that is still in the benefit year."""
    day = today
    if spec.first_opening is not None and day < spec.first_opening:
        day = spec.first_opening
    return _next_payment_day(spec, day)


def _next_payment_day(spec: PolicySpec, day: date) -> date:
    lo, hi = spec.payment_day_from, spec.payment_day_to
    if lo is not None and day.day < lo:
        nxt = day.replace(day=min(lo, calendar.monthrange(day.year, day.month)[1]))
    elif hi is not None and day.day > hi:
        first = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        nxt = first.replace(day=min(lo or 1, calendar.monthrange(first.year, first.month)[1]))
    else:
        return day
    return nxt if nxt <= spec.year_end else day


class SpecCache:
    """Published specs by (region, year), errors included, for one batch."""

    def __init__(self):
        self._specs: dict[tuple[str, int], PolicySpec | QuoteError] = {}

    def get(self, region: str, year: int) -> PolicySpec | QuoteError:
        key = (region, year)
        if key not in self._specs:
            try:
                self._specs[key] = published_spec(region, year)
            except QuoteError as exc:
                self._specs[key] = exc
        return self._specs[key]


_PERSON_FIELDS = ("birth_date", "hukou", "residence_permit", "student", "employee_insured",
                  "parent_insured_locally")
_REQUEST_FIELDS = ("region", "year", "paid_on", "person", "identities", "history", "repaired_years",
                   "left_other_scheme_on")
# The memo's key must hold every input of the rules: a field added to either type fails here.
assert tuple(f.name for f in fields(Person)) == _PERSON_FIELDS
assert tuple(f.name for f in fields(QuoteRequest)) == _REQUEST_FIELDS


class QuoteMemo:
    """``quote`` answers (or refusals) by identical rule inputs, for one batch.

    The rules are pure functions of the spec and the request, and a roster holds
    many people alike (same category, date, history, no identity: most differ only
    in a birth date shared with others), so each answer is worked out once.  The
    answers are shared between rows: read them, never change them."""

    def __init__(self):
        self._answers: dict[tuple, QuoteResult | QuoteError] = {}

    def quote(self, spec: PolicySpec, req: QuoteRequest) -> QuoteResult:
        p = req.person
        key = (spec.region_code, spec.year, req.region, req.year, req.paid_on,
               (p.birth_date, p.hukou, p.residence_permit, p.student, p.employee_insured,
                p.parent_insured_locally),
               tuple((i.code, i.certified_on) for i in req.identities),
               tuple(sorted(req.history.items())), req.repaired_years, req.left_other_scheme_on)
        answer = self._answers.get(key)
        if answer is None:
            try:
                answer = quote(spec, req)
            except QuoteError as exc:
                answer = exc
            self._answers[key] = answer
        if isinstance(answer, QuoteError):  # a fresh one each time: a raise grows the traceback
            raise QuoteError(answer.code, answer.message, figure=answer.figure)
        return answer


@dataclass
class Refusal:
    code: str
    message: str


@dataclass
class RepricingPlan:
    updates: list[Repriced] = field(default_factory=list)
    by_person: dict[str, list[Repriced]] = field(default_factory=dict)  # by ID number
    refused: dict[str, Refusal] = field(default_factory=dict)  # by ID number: the first refusal


def plan_repricing(people: Iterable[PersonFacts], *, today: date,
                   specs: SpecCache | None = None) -> RepricingPlan:
    """Price every unpaid enrollment of these people (their facts as they will
    be) — a few queries per benefit year, whatever the number of people."""
    facts = {p.id_number: p for p in people}
    specs = specs or SpecCache()
    plan = RepricingPlan()
    if not facts:
        return plan
    unpaid: dict[int, list[tuple[int, str, bool]]] = {}
    for eid, number, year, via_parent in Enrollment.objects.filter(
            resident__id_number__in=sorted(facts), status=EnrollmentStatus.REGISTERED).order_by(
            "year", "id").values_list("id", "resident__id_number", "year", "nonlocal_via_parent_permit"):
        unpaid.setdefault(year, []).append((eid, number, via_parent))
    for year, rows in unpaid.items():
        priceable = {}
        for eid, number, via_parent in rows:
            spec = specs.get(facts[number].region_id, year)
            if isinstance(spec, QuoteError):
                _refuse(plan, number, year, spec)
            else:
                priceable[number] = (eid, spec, replace(facts[number], via_parent_permit=via_parent))
        requests = quote_requests_for([p for _, _, p in priceable.values()], year,
                                      lambda p: registration_date(priceable[p.id_number][1], today))
        for number, (eid, spec, person) in priceable.items():
            req = requests[number]
            try:
                result = quote(spec, req)
            except QuoteError as exc:
                _refuse(plan, number, year, exc)
                continue
            update = Repriced.of(eid, person.region_id, result,
                                 via_parent_permit=req.person.parent_insured_locally)
            plan.updates.append(update)
            plan.by_person.setdefault(number, []).append(update)
    return plan


def _refuse(plan: RepricingPlan, number: str, year: int, exc: QuoteError) -> None:
    plan.refused.setdefault(number, Refusal(
        exc.code, f"{year} 年度的未缴费登记不能按变更后的信息重新核定：{exc.message}。"
                  "请先注销该登记，或更正信息"))
