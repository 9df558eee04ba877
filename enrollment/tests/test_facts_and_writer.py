"""The batch selector of the facts for the rules, and the one enrollment writer."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from enrollment.models import EmployeeCoverage, Enrollment, GapRepair, ZeroClaimYear
from enrollment.selectors import PersonFacts, quote_request_for, quote_requests_for
from enrollment.writer import EnrollmentRow, enrollments_insert
from policy.rules.types import Identity
from subsidies.models import AssistanceIdentity

from .import_support import event_model
from .support import paid_row, person

pytestmark = pytest.mark.usefixtures("policies")
DAY = date(2026, 1, 10)


def test_quote_requests_for_reads_every_fact_in_six_queries_whatever_the_number(django_assert_num_queries):
    people = [person("141102", "19800501", f"{i:03d}", name=f"人{i}") for i in range(1, 40, 2)]
    first = people[0]
    paid_row(first, 2025)
    GapRepair.objects.create(resident=first, year=2024)
    EmployeeCoverage.objects.create(id_number=first.id_number, name="x", region_code="141100", year=2024)
    EmployeeCoverage.objects.create(id_number=first.id_number, name="x", region_code="141100", year=2025,
                                    ended_on=date(2025, 12, 1))
    AssistanceIdentity.objects.create(id_number=first.id_number, name="x", region_id="141181", year=2026,
                                      identity="dibao", certified_on=date(2025, 6, 1))
    # six reads, a probe whether any zero-claim year of 2025 is recorded (none: its list is not
    # read) and, inside a transaction (a test is one), the shared lock on the identities
    with django_assert_num_queries(8):
        requests = quote_requests_for(people, 2026, DAY)
    assert len(requests) == len(people)
    req = requests[first.id_number]
    assert (req.region, req.year, req.paid_on, req.history, req.repaired_years, req.left_other_scheme_on) == (
        "141100", 2026, DAY, {2024: "employee", 2025: "resident"}, frozenset({2024}), date(2025, 12, 1))
    assert req.identities == (Identity("dibao", date(2025, 6, 1)),)
    assert req == quote_request_for(first, 2026, DAY)  # the single path is a batch of one
    other = requests[people[1].id_number]
    assert (other.history, other.identities, other.left_other_scheme_on) == ({}, (), None)
    # a zero-claim year of 2025 recorded: its list is read too (one more query, whatever the
    # number), while the region map is now cached in the process (one less)
    ZeroClaimYear.objects.create(resident=first, id_number=first.id_number, year=2025, source="名单",
                                 recorded_at=timezone.now())
    with django_assert_num_queries(8):
        requests = quote_requests_for(people, 2026, DAY)
    assert requests[first.id_number].history == {2024: "employee", 2025: "resident_zero_claim"}


def test_plain_facts_records_permit_on_the_payment_date_and_the_parent_permit():
    baby = PersonFacts(id_number="330203202509010015", birth_date=date(2025, 9, 1), hukou="nonlocal",
                       residence_permit=True, residence_permit_expires_on=date(2025, 12, 31), student="",
                       region_id="330200", via_parent_permit=True)
    by_day = {date(2025, 12, 31): None, date(2026, 1, 1): None}
    for day in by_day:
        by_day[day] = quote_requests_for([baby], 2026, lambda p, d=day: d)[baby.id_number].person
    held, lapsed = by_day[date(2025, 12, 31)], by_day[date(2026, 1, 1)]
    assert (held.residence_permit, held.parent_insured_locally) == (True, False)
    assert (lapsed.residence_permit, lapsed.parent_insured_locally) == (False, True)


def test_the_writer_inserts_in_resident_order_skips_existing_and_records_the_actor():
    a, b = person("330203", "19800101", "011"), person("330203", "19800101", "021")
    paid_row(b, 2025)
    registered = datetime(2024, 11, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    rows = [EnrollmentRow(resident_id=r.pk, year=2026, region_id="330200", category="adult",
                          amount_due=Decimal("780.00"), registered_via="community", registered_at=registered)
            for r in (b, a)]
    rows.append(EnrollmentRow(resident_id=b.pk, year=2025, region_id="330200", category="adult",
                              amount_due=Decimal("780.00"), registered_via="community"))  # b holds 2025
    inserted = enrollments_insert(rows, actor="writer test", action="test_insert")
    assert [(i.resident_id, i.year) for i in inserted] == [(a.pk, 2026), (b.pk, 2026)]
    assert inserted[0].id < inserted[1].id  # inserted in resident order
    e = Enrollment.objects.get(pk=inserted[0].id)
    assert (e.status, e.amount_due, e.registered_at, e.paid_via, e.cancel_reason, e.waiting_months) == (
        "registered", Decimal("780.00"), registered, "", "", 0)
    events = event_model("Enrollment").objects.filter(pgh_obj_id__in=[i.id for i in inserted])
    assert sorted(ev.pgh_context.metadata["actor"] for ev in events) == ["writer test", "writer test"]
    assert {ev.pgh_context.metadata["action"] for ev in events} == {"test_insert"}
    assert enrollments_insert(rows) == []  # again: nothing
