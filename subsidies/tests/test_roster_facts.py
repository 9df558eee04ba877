"""``quote_requests_for`` reads the paid and repaired years by resident id when the facts carry
it (the roster import's facts do) and by ID number when they do not (a file row): both give
the same requests, field by field, in one batch or apart."""

from __future__ import annotations

from dataclasses import replace

import pytest

from enrollment.selectors import PersonFacts, quote_requests_for
from enrollment.tests.test_one_truth import LULIANG_DAY, luliang_people
from enrollment.tests.test_quote_request_of import more_people

pytestmark = pytest.mark.usefixtures("policies")


def test_by_resident_id_and_by_id_number_the_same_requests():
    people = list(more_people().values()) + list(luliang_people().values())
    known = [PersonFacts.of(r) for r in people]
    unknown = [replace(f, resident_id=None) for f in known]
    by_id = quote_requests_for(known, 2026, LULIANG_DAY)
    by_number = quote_requests_for(unknown, 2026, LULIANG_DAY)
    mixed = quote_requests_for(known[::2] + unknown[1::2], 2026, LULIANG_DAY)
    assert by_id == by_number == mixed
    assert len(by_id) == len(people)
    # not a comparison of empty facts: the worked people hold paid, employee and repaired years
    repaired = by_id[more_people_number(people, "多年补缴")]
    assert repaired.repaired_years == frozenset({2022, 2024, 2025})
    assert by_id[more_people_number(people, "职工年度")].history == {2023: "employee", 2024: "resident"}


def more_people_number(people, name: str) -> str:
    return next(r.id_number for r in people if r.name == name)
