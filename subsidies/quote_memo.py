"""Quote answers shared by requests the rules cannot tell apart (for a roster's re-pricing).

``enrollment.pricing.QuoteMemo`` keys an answer on the request as it is: the exact
birth date, every certification date, the whole history.  A roster's people are
nearly all different under that key (90,000 quotes for 90,000 people), though
the price of each depends on much less: in Lüliang's one-category policy, on
nothing of the birth date at all for an adult.  ``ClassQuoteMemo`` keys on what
``policy.rules.quote`` actually reads of each fact — its *class*:

- the birth date: the outcome of every comparison the rules make with it (each
  birth-date category's bounds; the age on the policy's reference date when a
  tier has age bands) — the exact date whenever the answer may hold or name it
  (born after the payment day, in the benefit year or a year the continuity
  counts, the non-local infant rule, a group whose benefits start at birth, no
  category by birth date);
- a certification date: the outcome of its comparisons with the payment day
  and with every tier's certificate cut-off (``certified_by``); with an assessment
  deadline (``assessed_by``), whether the assessment was late (its date when so);
- the history and the repaired years: only the years the continuity counts
  (from ``continuity_from_year`` to the year before the benefit year, the
  person being born before the first of them);
- everything else as it is (payment day, region, year, hukou, permit, student,
  employee insurance, parent rule, leaving another scheme).

Two requests with one key get the same answer, or the same refusal (code,
message, figure): subsidies/tests/test_quote_memo.py checks it against the
rules over many varied people of every bundled policy.  A change to what the
rules read must be mirrored in ``key``; that test is what says so.
"""

from __future__ import annotations

from dataclasses import replace

from policy.rules import PolicySpec, QuoteError, quote
from policy.rules.dates import age_on
from policy.rules.types import Identity, QuoteRequest, QuoteResult


def _late(ident: Identity, by) -> object:
    """``assistance.assessment_late``'s outcome: None when not late, else the assessment date
    (its reason names it)."""
    late = (ident.assessed_on is not None and ident.certified_on is not None
            and ident.certified_on.year == by.year and ident.assessed_on > by)
    return ident.assessed_on if late else None


class ClassQuoteMemo:
    """``quote`` answers (or refusals) by class of rule inputs, for one policy spec and one
    batch.  Answers are shared between requests: read them, never change them."""

    def __init__(self, spec: PolicySpec):
        self.spec = spec
        self.asked = 0
        self._answers: dict[tuple, QuoteResult | QuoteError] = {}
        self._cutoffs = tuple(sorted({t.certified_by for t in spec.assistance if t.certified_by is not None}))
        # a tier's assessment deadline (assistance.assessment_late): certified in its year, assessed after it
        self._assessed_by = tuple(sorted({t.assessed_by for t in spec.assistance if t.assessed_by is not None}))
        self._by_age = any(t.age_ranges for t in spec.assistance)
        self._ranges = tuple((c.born_from, c.born_to) for c in spec.categories
                             if c.student is None and c.birth_range_in_source)
        # a group other than the newborns' whose benefits start on the birth date: the
        # answer holds the date itself
        self._starts_at_birth = any(g.benefit_start == "birth_date" and g.code != "newborn"
                                    for g in spec.special_groups)
        self._first_counted = min(spec.continuity_from_year, spec.year)

    def __len__(self) -> int:
        return len(self._answers)

    def key(self, req: QuoteRequest, identities: tuple[Identity, ...] | None = None) -> tuple:
        """The class of a request (with ``identities`` in place of its own, when given)."""
        spec, person, paid = self.spec, req.person, req.paid_on
        birth = person.birth_date
        exact = (birth > paid or birth.year >= self._first_counted or person.parent_insured_locally
                 or self._starts_at_birth)
        ranges = ()
        if not exact and self._ranges:
            # find_category: each ranged category's two comparisons; none matching → an
            # error naming the date (or the infant reading of a newborn: exact above)
            ranges = tuple((lo is not None and birth < lo, hi is not None and birth > hi)
                           for lo, hi in self._ranges)
            exact = all(below or above for below, above in ranges)
        history, repaired = req.history, req.repaired_years
        if exact:
            born = ("date", birth)
            history = tuple(sorted(history.items())) if history else ()
            repaired = tuple(sorted(repaired)) if repaired else ()
        else:
            born = ("class", ranges, age_on(birth, spec.age_reference_date) if self._by_age else None)
            # continuity reads the years from max(continuity_from_year, birth year) = the
            # former (born before it) to the year before the benefit year
            # (and, where the region rewards a zero-claim year, the year before the benefit year)
            lo, hi = spec.continuity_from_year, spec.year
            if spec.cap_zero_claim_incentive:
                lo = min(lo, hi - 1)
            history = tuple(sorted((y, v) for y, v in history.items() if lo <= y < hi)) if history else ()
            repaired = tuple(sorted(y for y in repaired if lo <= y < hi)) if repaired else ()
        if identities is None:
            identities = req.identities
        if identities:
            bounds, assessed = (paid, *self._cutoffs), self._assessed_by
            identities = tuple((i.code, None if i.certified_on is None else
                                tuple([i.certified_on <= b for b in bounds]),
                                tuple([_late(i, by) for by in assessed]) if assessed else ())
                          for i in identities)
        else:
            identities = ()
        return (req.region, req.year, paid, person.hukou, person.residence_permit, person.student,
                person.employee_insured, person.parent_insured_locally, born, identities, history,
                repaired, req.left_other_scheme_on)

    def quote(self, spec: PolicySpec, req: QuoteRequest,
              identities: tuple[Identity, ...] | None = None) -> QuoteResult:
        """``quote(spec, req)`` — with ``identities`` in place of the request's own, when given
        (the request with them is only made when the answer is not known yet)."""
        if spec is not self.spec:
            raise ValueError("ClassQuoteMemo answers for the one policy spec it was made for")
        self.asked += 1
        key = self.key(req, identities)
        answer = self._answers.get(key)
        if answer is None:
            try:
                answer = quote(spec, req if identities is None else replace(req, identities=identities))
            except QuoteError as exc:
                answer = exc
            self._answers[key] = answer
        if isinstance(answer, QuoteError):  # a fresh one each time: a raise grows the traceback
            raise QuoteError(answer.code, answer.message, figure=answer.figure)
        return answer
