"""The single path of the facts for the rules (``quote_request_of``: one UNION ALL statement
and the identities) gives field by field what the batch path (``quote_requests_for``) gives;
``year_enrollment`` reads a resident and the year's enrollment as the ORM did, and locks it."""

from __future__ import annotations

import threading
from dataclasses import fields, replace
from datetime import date

import pytest
from django.db import OperationalError, connection, connections, transaction
from psycopg.errors import LockNotAvailable

from enrollment.models import EmployeeCoverage, Enrollment, GapRepair
from enrollment.selectors import PersonFacts, quote_request_for, quote_request_of, quote_requests_for, \
    year_enrollment
from policy.rules.types import QuoteRequest
from subsidies.models import AssistanceIdentity

from .support import paid_row, person, register
from .test_one_truth import LULIANG_DAY, SHANGHAI_DAY, luliang_people, shanghai_people

pytestmark = pytest.mark.usefixtures("policies")


def more_people() -> dict:
    """Facts the two worked sets do not hold: employee years in the history, leaving employee
    insurance in the year itself, several repaired years, a cancelled earlier year, a paid
    year after the one asked for, an identity of the year before, an infant on a parent's permit."""
    p = {
        "employee_years": person("141102", "19750301", "111", name="职工年度"),
        "left_this_year": person("141102", "19750301", "121", name="年内离职"),
        "repaired_many": person("141102", "19750301", "131", name="多年补缴"),
        "cancelled_2025": person("141102", "19750301", "141", name="注销年度"),
        "old_identity": person("141102", "19750301", "151", name="上年低保"),
        "infant_parent_permit": person("141102", "20250601", "161", name="随父母", hukou="nonlocal",
                                       today=LULIANG_DAY),
    }
    for y, ended in ((2023, date(2023, 12, 31)), (2024, None)):
        EmployeeCoverage.objects.create(id_number=p["employee_years"].id_number, name="职工年度",
                                        region_code="141100", year=y, ended_on=ended)
    paid_row(p["employee_years"], 2024)  # a paid enrollment wins over the employee year
    EmployeeCoverage.objects.create(id_number=p["left_this_year"].id_number, name="年内离职", region_code="141100",
                                    year=2025, ended_on=date(2025, 3, 1))
    EmployeeCoverage.objects.create(id_number=p["left_this_year"].id_number, name="年内离职", region_code="141100",
                                    year=2026, ended_on=date(2026, 2, 1))
    for y in (2022, 2024, 2025):
        GapRepair.objects.create(resident=p["repaired_many"], year=y)
    gone = paid_row(p["cancelled_2025"], 2025)
    Enrollment.objects.filter(pk=gone.pk).update(status="cancelled", cancelled_at=gone.registered_at,
                                                 cancel_reason="测试")
    paid_row(p["cancelled_2025"], 2027)
    AssistanceIdentity.objects.create(id_number=p["old_identity"].id_number, name="上年低保", region_id="141100",
                                      year=2025, identity="dibao", certified_on=date(2024, 6, 1))
    AssistanceIdentity.objects.create(id_number=p["old_identity"].id_number, name="上年低保", region_id="141100",
                                      year=2026, identity="tekun", certified_on=date(2025, 7, 1))
    return p


def both_paths(people, year: int, day: date) -> list[tuple[QuoteRequest, QuoteRequest]]:
    pairs = []
    for r in people:
        for via_parent in (False, True):
            facts = PersonFacts.of(r, via_parent_permit=via_parent)
            pairs.append((quote_request_of(facts, year, day), quote_requests_for([facts], year, day)[r.id_number]))
    return pairs


def test_facts_without_a_resident_id_go_the_batch_path():
    r = more_people()["repaired_many"]
    facts = replace(PersonFacts.of(r), resident_id=None)  # a file row's facts
    assert quote_request_of(facts, 2026, LULIANG_DAY) == quote_requests_for([facts], 2026, LULIANG_DAY)[r.id_number]
    assert quote_request_of(facts, 2026, LULIANG_DAY).repaired_years == frozenset({2022, 2024, 2025})


def assert_same(pairs) -> None:
    for single, batch in pairs:
        for f in fields(QuoteRequest):
            assert getattr(single, f.name) == getattr(batch, f.name), (single.person, f.name)
        assert single == batch


@pytest.mark.parametrize("build, year, day", [(luliang_people, 2026, LULIANG_DAY),
                                              (luliang_people, 2026, date(2025, 6, 30)),  # permit edge
                                              (more_people, 2026, LULIANG_DAY),
                                              (shanghai_people, 2027, SHANGHAI_DAY)])
def test_the_single_path_gives_the_batch_paths_request_field_by_field(build, year, day):
    assert_same(both_paths(build().values(), year, day))


def test_the_compared_people_differ_in_every_fact_the_single_path_reads():
    """The comparison above means something: every kind of row the statement reads shows up."""
    people = {**luliang_people(), **more_people()}
    got = {key: quote_request_of(PersonFacts.of(r, via_parent_permit=key == "infant_parent_permit"), 2026,
                                 LULIANG_DAY)
           for key, r in people.items()}
    assert got["employee_years"].history == {2023: "employee", 2024: "resident"}
    assert got["paid_2025"].history == {2025: "resident"}
    assert got["repaired_many"].repaired_years == frozenset({2022, 2024, 2025})
    assert got["cancelled_2025"].history == {}  # cancelled, and a later year, do not count
    assert got["left_this_year"].left_other_scheme_on == date(2026, 2, 1)
    assert (got["left_this_year"].person.employee_insured, got["employee"].person.employee_insured) == (False, True)
    assert got["left_employee"].left_other_scheme_on == date(2025, 12, 15)
    assert [i.code for i in got["old_identity"].identities] == ["tekun"]
    assert [i.code for i in got["dibao_in_county"].identities] == ["dibao"]
    assert got["identity_elsewhere"].identities == ()
    assert (got["valid_permit"].person.residence_permit, got["expired_permit"].person.residence_permit) == (
        True, False)
    assert got["infant_parent_permit"].person.parent_insured_locally is True
    assert got["nonlocal_no_permit"].person.parent_insured_locally is False


def test_the_single_path_reads_in_one_statement_plus_the_identities(django_assert_num_queries):
    r = luliang_people()["dibao_in_county"]
    quote_request_for(r, 2026, LULIANG_DAY)  # the region map of this process is loaded
    # this app's reads as one statement; in a transaction (a test is one) the shared lock on the
    # identities, then the identities
    with django_assert_num_queries(3):
        req = quote_request_for(r, 2026, LULIANG_DAY)
    assert req == quote_requests_for([r], 2026, LULIANG_DAY)[r.id_number]


# --- year_enrollment ----------------------------------------------------------------------


def test_year_enrollment_reads_the_resident_and_the_live_enrollment_of_the_year():
    r = person("141102", "19800501", "171", name="王五", hukou="nonlocal", residence_permit=True,
               residence_permit_expires_on=date(2027, 1, 31))
    assert year_enrollment("141102198005019999", 2026) is None
    alone = year_enrollment(r.id_number, 2026)
    assert (alone.name, alone.enrollment_id, alone.region_id, alone.status) == ("王五", None, None, None)
    assert alone.facts == PersonFacts.of(r)

    old = register(r, 2026, LULIANG_DAY)
    Enrollment.objects.filter(pk=old.pk).update(status="cancelled", cancelled_at=old.registered_at,
                                                cancel_reason="测试")
    e = register(r, 2026, LULIANG_DAY)
    Enrollment.objects.filter(pk=e.pk).update(nonlocal_via_parent_permit=True)
    e.refresh_from_db()
    found = year_enrollment(r.id_number, 2026)
    assert (found.enrollment_id, found.region_id, found.category, found.status, found.paid_amount,
            found.amount_due) == (e.pk, e.region_id, e.category, "registered", None, e.amount_due)
    assert found.facts == PersonFacts.of(r, via_parent_permit=True)
    assert year_enrollment(r.id_number, 2027).enrollment_id is None


def _row_lock_free(enrollment_id: int) -> bool:
    """Whether this connection can lock the enrollment row at once (FOR UPDATE NOWAIT)."""
    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SELECT id FROM enrollment_enrollment WHERE id = %s FOR UPDATE NOWAIT", [enrollment_id])
        return True
    except OperationalError as exc:
        assert isinstance(exc.__cause__, LockNotAvailable)
        return False


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lock", [True, False])
def test_year_enrollment_with_lock_holds_the_enrollment_row_until_the_transaction_ends(lock):
    r = person("141102", "19800501", "181", name="赵六")
    e = register(r, 2026, LULIANG_DAY)
    read, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                assert year_enrollment(r.id_number, 2026, lock=lock).enrollment_id == e.pk
                read.set()
                release.wait(10)
        finally:
            connections.close_all()

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert read.wait(10)
        assert _row_lock_free(e.pk) is not lock
    finally:
        release.set()
        t.join(10)
    assert _row_lock_free(e.pk)  # free once the other transaction ended
