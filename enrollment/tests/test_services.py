"""Residents, registration, payment, cancellation and coverage history (enrollment.services/selectors)."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from enrollment.models import EmployeeCoverage, Enrollment, GapRepair, Resident
from enrollment.selectors import coverage_history, coverage_summary
from enrollment.services import (
    EnrollmentError,
    enrollment_cancel,
    enrollment_record_payment,
    gap_repair_record,
    resident_create,
    resident_update,
)
from policy.selectors import published_spec
from subsidies.models import AssistanceIdentity

from .support import clone, number, paid_row, person, register, register_and_pay

pytestmark = pytest.mark.usefixtures("policies")

NINGBO_DAY = date(2024, 11, 1)  # inside Ningbo's 2025 window (2024-10-21 … 2024-12-27)


def pay(e, amount, paid_on, via="channel"):
    return enrollment_record_payment(enrollment=e, amount=Decimal(amount), paid_on=paid_on,
                                     paid_via=via, actor=None)


# --- residents ------------------------------------------------------------------------


def test_resident_birth_date_and_sex_come_from_the_id_number():
    r = person("330203", "19900101", "001", name="李一")  # 17th digit 1: male
    r.refresh_from_db()
    assert (r.birth_date, r.sex, r.region_id, r.hukou) == (date(1990, 1, 1), "M", "330200", "local")
    f = person("330203", "19900101", "002", name="李二", birth_date=date(1990, 1, 1))
    assert Resident.objects.get(pk=f.pk).sex == "F"


def test_a_given_birth_date_that_disagrees_with_the_id_number_is_an_error():
    with pytest.raises(EnrollmentError) as exc:
        person("330203", "19900101", "001", birth_date=date(1990, 1, 2))
    assert exc.value.code == "invalid_input"
    assert "1990-01-02" in exc.value.message and "1990-01-01" in exc.value.message
    assert not Resident.objects.exists()


@pytest.mark.parametrize("bad", [
    "33020319900101001",                        # 17 characters
    "330203199001010010",                       # wrong check digit (the right one is 4)
    number("330203", "19900230", "001"),        # right check digit, but 30 February
    "33020319900101001A",                       # not a digit or X at the end
])
def test_invalid_id_numbers_are_refused(bad):
    with pytest.raises(EnrollmentError) as exc:
        resident_create(id_number=bad, name="王五", region="330200", actor=None, today=NINGBO_DAY)
    assert exc.value.code == "invalid_input"
    assert not Resident.objects.exists()


def test_id_number_is_normalised_and_an_anachronistic_area_code_is_accepted():
    # Xiaoyi's code 141181 dates from 2003; a resident born in 1990 holds it all the same.
    raw = number("141181", "19900315", "023")
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in raw[:9]) + " " + raw[9:].lower()
    r = resident_create(id_number=wide, name="孝义人", region="141181", actor=None, today=NINGBO_DAY)
    assert Resident.objects.get(pk=r.pk).id_number == raw
    with pytest.raises(EnrollmentError) as exc:
        resident_create(id_number=raw, name="孝义人", region="141181", actor=None)
    assert exc.value.code == "duplicate_resident"
    assert Resident.objects.count() == 1


# --- registration pricing ------------------------------------------------------------------


@pytest.mark.parametrize("birth, student, category, due, fiscal", [
    ("20200501", "", "infant", "630.00", "1000.00"),
    ("19800101", "", "adult", "780.00", "2090.00"),
    ("20100101", "", "minor", "290.00", "370.00"),
    ("20050101", "primary_secondary", "student", "290.00", "370.00"),  # a 19-year-old pupil
    ("20040101", "college", "college", "180.00", "240.00"),
])
def test_ningbo_registration_category_and_amount(birth, student, category, due, fiscal):
    r = person("330203", birth, student=student, name="宁波人")
    e = register(r, 2025, NINGBO_DAY)
    e = Enrollment.objects.get(pk=e.pk)
    assert (e.category, e.amount_due, e.fiscal_subsidy, e.status, e.timing, e.region_id) == (
        category, Decimal(due), Decimal(fiscal), "registered", "window", "330200")
    assert e.paid_amount is None and e.benefit_start is None


def test_luliang_dibao_pays_80():
    r = person("141102", "19800501", name="低保户")
    AssistanceIdentity.objects.create(id_number=r.id_number, name=r.name, region_id="141100", year=2026,
                                      identity="dibao", certified_on=date(2025, 6, 1))
    e = Enrollment.objects.get(pk=register(r, 2026, date(2025, 11, 3)).pk)
    assert (e.category, e.personal_standard, e.assistance_identity, e.assistance_amount, e.amount_due) == (
        "resident", Decimal("400.00"), "dibao", Decimal("320.00"), Decimal("80.00"))
    # paid at 80.00 on a January day: benefits from the payment date (the needy have no waiting)
    pay(e, "80.00", date(2026, 1, 10))
    e.refresh_from_db()
    assert (e.status, e.paid_amount, e.benefit_start, e.waiting_months) == (
        "paid", Decimal("80.00"), date(2026, 1, 10), 0)


def test_registering_ahead_of_the_window_is_priced_at_its_opening():
    r = person("141102", "19800501")
    e = register(r, 2026, date(2025, 9, 1))
    assert (e.amount_due, e.timing) == (Decimal("400.00"), "window")


def test_luliang_registration_on_a_day_without_payments_is_priced_at_the_next_payment_day():
    # Payments are taken on days 1-25 only; registering (a different step) is not refused.
    r = person("141102", "19800501")
    e = Enrollment.objects.get(pk=register(r, 2026, date(2025, 10, 27)).pk)
    assert (e.status, e.amount_due, e.timing) == ("registered", Decimal("400.00"), "window")


def test_registered_via_must_be_known():
    r = person("330203", "19800101")
    with pytest.raises(EnrollmentError) as exc:
        register(r, 2025, NINGBO_DAY, via="fax")
    assert exc.value.code == "invalid_input"
    assert not Enrollment.objects.exists()


def test_no_published_policy_is_policy_missing():
    r = person("330203", "19800101")
    with pytest.raises(EnrollmentError) as exc:
        register(r, 2040, NINGBO_DAY)
    assert exc.value.code == "policy_missing"


def test_nonlocal_without_permit_is_not_eligible_and_with_one_is_priced_like_locals():
    r = person("330203", "19800101", hukou="nonlocal")
    with pytest.raises(EnrollmentError) as exc:
        register(r, 2025, NINGBO_DAY)
    assert exc.value.code == "not_eligible"
    resident_update(resident=r, actor=None, residence_permit=True,
                    residence_permit_expires_on=date(2027, 1, 1), today=NINGBO_DAY)
    assert register(r, 2025, NINGBO_DAY).amount_due == Decimal("780.00")


def test_nonlocal_infant_on_a_parent_permit():
    baby = person("330203", "20240901", hukou="nonlocal", today=NINGBO_DAY)
    e = Enrollment.objects.get(pk=register(baby, 2025, NINGBO_DAY, via_parent_permit=True).pk)
    assert (e.category, e.amount_due, e.nonlocal_via_parent_permit) == ("infant", Decimal("630.00"), True)


# --- one enrollment per person and year ------------------------------------------------------


def test_a_second_active_enrollment_is_refused_by_the_database():
    r = person("330203", "19800101")
    first = register(r, 2025, NINGBO_DAY)
    with pytest.raises(EnrollmentError) as exc:
        register(r, 2025, NINGBO_DAY)
    assert exc.value.code == "already_enrolled"
    # bypassing the services: the partial unique constraint itself refuses
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.objects.create(resident=r, year=2025, region_id="330200", category="adult",
                                  registered_via="online", amount_due=Decimal("780.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.objects.create(resident=r, year=2025, region_id="630100", category="resident",
                                  registered_via="online", amount_due=Decimal("400.00"), status="paid",
                                  paid_amount=Decimal("400.00"), paid_on=date(2024, 12, 1),
                                  benefit_start=date(2025, 1, 1))
    assert list(Enrollment.objects.values_list("id", flat=True)) == [first.id]
    # a cancelled one makes room for a new registration
    enrollment_cancel(enrollment=first, reason="登记错误", actor=None)
    second = register(r, 2025, NINGBO_DAY, via="online")
    assert sorted(Enrollment.objects.filter(resident=r, year=2025).values_list("id", "status")) == [
        (first.id, "cancelled"), (second.id, "registered")]


# --- payment ------------------------------------------------------------------------------------


def test_luliang_payment_with_2025_coverage_starts_on_the_payment_date():
    r = person("141102", "19800501")
    paid_row(r, 2025)
    e = register(r, 2026, date(2025, 11, 3))
    pay(e, "400.00", date(2026, 1, 10))
    e = Enrollment.objects.get(pk=e.pk)
    assert (e.status, e.paid_amount, e.paid_on, e.paid_via, e.timing) == (
        "paid", Decimal("400.00"), date(2026, 1, 10), "channel", "window")
    assert (e.benefit_start, e.benefit_end, e.waiting_months, e.waiting_days) == (
        date(2026, 1, 10), date(2026, 12, 31), 0, 0)
    assert e.paid_at is not None


def test_luliang_payment_without_2025_coverage_waits_three_months():
    r = person("141102", "19800501")
    e = register(r, 2026, date(2025, 11, 3))
    pay(e, "400.00", date(2026, 1, 10))
    e = Enrollment.objects.get(pk=e.pk)
    assert (e.benefit_start, e.benefit_end, e.waiting_months) == (date(2026, 4, 10), date(2026, 12, 31), 3)


def test_luliang_payment_in_december_covers_from_january_first():
    r = person("141102", "19800501")
    paid_row(r, 2025)
    e = register(r, 2026, date(2025, 11, 3))
    pay(e, "400.00", date(2025, 12, 1))
    e.refresh_from_db()
    assert (e.benefit_start, e.waiting_months) == (date(2026, 1, 1), 0)


def test_ningbo_late_payment_waits_three_months():
    r = person("330203", "19800101")
    e = register(r, 2025, NINGBO_DAY)
    pay(e, "780.00", date(2025, 2, 15))
    e.refresh_from_db()
    assert (e.timing, e.benefit_start, e.waiting_months) == ("late", date(2025, 5, 15), 3)


def test_wrong_amount_is_amount_mismatch_and_changes_nothing():
    r = person("141102", "19800501")
    e = register(r, 2026, date(2025, 11, 3))
    before = Enrollment.objects.filter(pk=e.pk).values().get()
    with pytest.raises(EnrollmentError) as exc:
        pay(e, "399.99", date(2026, 1, 10))
    assert exc.value.code == "amount_mismatch"
    assert Enrollment.objects.filter(pk=e.pk).values().get() == before
    assert before["status"] == "registered" and before["paid_amount"] is None


def test_payment_on_the_26th_in_luliang_is_refused():
    r = person("141102", "19800501")
    e = register(r, 2026, date(2025, 11, 3))
    with pytest.raises(EnrollmentError) as exc:
        pay(e, "400.00", date(2026, 1, 26))
    assert exc.value.code == "payment_day_not_allowed"
    assert Enrollment.objects.get(pk=e.pk).status == "registered"


def test_paying_twice_is_already_paid():
    r = person("330203", "19800101")
    e = register(r, 2025, NINGBO_DAY)
    pay(e, "780.00", date(2024, 12, 1))
    with pytest.raises(EnrollmentError) as exc:
        pay(e, "780.00", date(2024, 12, 2))
    assert exc.value.code == "already_paid"
    e.refresh_from_db()
    assert (e.paid_on, e.benefit_start) == (date(2024, 12, 1), date(2025, 1, 1))


def test_payment_of_a_cancelled_enrollment_is_refused():
    r = person("330203", "19800101")
    e = register(r, 2025, NINGBO_DAY)
    enrollment_cancel(enrollment=e, reason="重复登记", actor=None)
    with pytest.raises(EnrollmentError) as exc:
        pay(e, "780.00", date(2024, 12, 1))
    assert exc.value.code == "enrollment_cancelled"


# --- cancellation ---------------------------------------------------------------------------------


def test_cancel_needs_a_reason_and_is_refused_once_paid(django_user_model):
    user = django_user_model.objects.create_user("cw", password="x")
    r = person("330203", "19800101")
    e = register(r, 2025, NINGBO_DAY)
    for reason in ("", "   ", None):
        with pytest.raises(EnrollmentError) as exc:
            enrollment_cancel(enrollment=e, reason=reason, actor=user)
        assert exc.value.code == "invalid_input"
    assert Enrollment.objects.get(pk=e.pk).status == "registered"
    enrollment_cancel(enrollment=e, reason="  户籍迁出 ", actor=user)
    e = Enrollment.objects.get(pk=e.pk)
    assert (e.status, e.cancel_reason, e.cancelled_by) == ("cancelled", "户籍迁出", user)
    assert e.cancelled_at is not None

    paid = register(person("330203", "19800101", "003"), 2025, NINGBO_DAY)
    pay(paid, "780.00", date(2024, 12, 1))
    with pytest.raises(EnrollmentError) as exc:
        enrollment_cancel(enrollment=paid, reason="不想参保", actor=user)
    assert exc.value.code == "already_paid"
    paid.refresh_from_db()
    assert (paid.status, paid.cancel_reason, paid.cancelled_at) == ("paid", "", None)


def test_the_database_refuses_a_cancellation_without_reason():
    r = person("330203", "19800101")
    e = register(r, 2025, NINGBO_DAY)
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.objects.filter(pk=e.pk).update(status="cancelled")


# --- employee insurance ----------------------------------------------------------------------------


def test_employee_insured_person_cannot_register():
    r = person("141102", "19800501")
    EmployeeCoverage.objects.create(id_number=r.id_number, name=r.name, region_code="141100", year=2026)
    with pytest.raises(EnrollmentError) as exc:
        register(r, 2026, date(2025, 11, 3))
    assert exc.value.code == "not_eligible"
    assert not Enrollment.objects.exists()


def test_employee_coverage_counts_as_covered_for_continuity():
    r = person("141102", "19800501")
    EmployeeCoverage.objects.create(id_number=r.id_number, name=r.name, region_code="141100", year=2025)
    assert coverage_history(r) == {2025: "employee"}
    e = register(r, 2026, date(2025, 11, 3))
    pay(e, "400.00", date(2026, 1, 10))
    e.refresh_from_db()
    assert (e.benefit_start, e.waiting_months) == (date(2026, 1, 10), 0)


def test_employee_coverage_that_ended_lets_the_person_register():
    r = person("141102", "19800501")
    EmployeeCoverage.objects.create(id_number=r.id_number, name=r.name, region_code="141100", year=2026,
                                    ended_on=date(2026, 3, 31))
    # left employee insurance: within 3 months may enroll after the window, benefits from the next day
    e = register(r, 2026, date(2026, 4, 20))
    assert e.amount_due == Decimal("400.00")
    pay(e, "400.00", date(2026, 4, 20))
    e.refresh_from_db()
    assert (e.timing, e.benefit_start, e.waiting_months) == ("exempt", date(2026, 4, 21), 0)


# --- changes to the person ---------------------------------------------------------------------------


def test_resident_update_recomputes_an_unpaid_enrollment():
    r = person("330203", "20030301", name="周同学")
    paid = register_and_pay(person("330203", "20030301", "003"), 2025, NINGBO_DAY, date(2024, 12, 1), "780.00")
    e = register(r, 2025, NINGBO_DAY)
    assert (e.category, e.amount_due) == ("adult", Decimal("780.00"))
    out = resident_update(resident=r, actor=None, today=date(2024, 11, 5), student="college",
                          school="宁波大学")
    assert sorted(out.changed) == ["school", "student"]
    assert [x.pk for x in out.recomputed] == [e.pk]
    e = Enrollment.objects.get(pk=e.pk)
    assert (e.category, e.amount_due, e.personal_standard, e.fiscal_subsidy) == (
        "college", Decimal("180.00"), Decimal("180.00"), Decimal("240.00"))
    assert Resident.objects.get(pk=r.pk).student == "college"
    # a paid enrollment is never repriced
    resident_update(resident=paid.resident, actor=None, today=date(2024, 12, 5), student="college")
    assert Enrollment.objects.get(pk=paid.pk).category == "adult"


def test_resident_update_without_changes_touches_nothing():
    r = person("330203", "20030301")
    e = register(r, 2025, NINGBO_DAY)
    stamp = Enrollment.objects.get(pk=e.pk).updated_at
    out = resident_update(resident=r, actor=None, today=NINGBO_DAY, name="张三", student="")
    assert (out.changed, out.recomputed) == ([], [])
    assert Enrollment.objects.get(pk=e.pk).updated_at == stamp


# --- newborns ---------------------------------------------------------------------------------------


def test_luliang_newborn_is_free_in_the_birth_year_and_covered_from_birth():
    baby = person("141181", "20260305", name="新生儿", today=date(2026, 3, 27))
    e = register(baby, 2026, date(2026, 3, 27), via="newborn")
    e = Enrollment.objects.get(pk=e.pk)
    assert (e.status, e.amount_due, e.paid_amount, e.timing, e.region_id) == (
        "paid", Decimal("0.00"), Decimal("0.00"), "newborn", "141181")
    assert (e.benefit_start, e.benefit_end, e.paid_on, e.waiting_months) == (
        date(2026, 3, 5), date(2026, 12, 31), date(2026, 3, 27), 0)
    with pytest.raises(EnrollmentError) as exc:
        pay(e, "0.00", date(2026, 4, 1))
    assert exc.value.code == "already_paid"


def test_ningbo_newborn_pays_and_has_no_waiting():
    baby = person("330203", "20250201", today=date(2025, 3, 1))
    e = register(baby, 2025, date(2025, 3, 1), via="newborn")
    assert (e.status, e.category, e.amount_due) == ("registered", "infant", Decimal("630.00"))
    pay(e, "630.00", date(2025, 3, 5))
    e.refresh_from_db()
    assert (e.timing, e.benefit_start, e.waiting_months) == ("exempt", date(2025, 3, 5), 0)


# --- coverage history ---------------------------------------------------------------------------------


def _xianyang_years(r, years):
    for y in years:
        register_and_pay(r, y, date(y - 1, 10, 1), date(y - 1, 11, 1), "400.00")


def test_xianyang_five_continuous_years_raise_the_cap_by_3000():
    clone("610400", 2025, 2026, 2027, 2028, 2029)
    r = person("610402", "19800101")
    _xianyang_years(r, [2025, 2026, 2027, 2028])
    s = coverage_summary(r, 2029, published_spec("610400", 2029))
    assert s.timeline == [(2025, "resident"), (2026, "resident"), (2027, "resident"), (2028, "resident")]
    assert (s.gap_years, s.continuous, s.continuous_years, s.waiting_months_in_window, s.cap_adjustment) == (
        (), True, 4, 0, 3000)
    # the same figure the payment records (the same rule functions)
    e = register_and_pay(r, 2029, date(2028, 10, 1), date(2028, 11, 1), "400.00")
    assert Enrollment.objects.get(pk=e.pk).cap_adjustment == 3000
    assert list(Enrollment.objects.filter(resident=r).order_by("year").values_list("cap_adjustment", flat=True)) \
        == [0, 0, 0, 0, 3000]


def test_xianyang_a_break_lowers_the_cap_and_costs_three_months():
    clone("610400", 2025, 2026, 2027, 2028, 2029)
    r = person("610402", "19800101")
    _xianyang_years(r, [2025, 2026])
    s = coverage_summary(r, 2028, published_spec("610400", 2028))
    assert s.timeline == [(2025, "resident"), (2026, "resident"), (2027, "none")]
    assert (s.gap_years, s.continuous, s.continuous_years, s.waiting_months_in_window, s.cap_adjustment) == (
        (2027,), False, 0, 3, -3000)
    e = register_and_pay(r, 2028, date(2027, 10, 1), date(2027, 11, 1), "400.00")
    e.refresh_from_db()
    assert (e.cap_adjustment, e.waiting_months, e.benefit_start) == (-3000, 3, date(2028, 4, 1))
    # continuous again the year after; earlier increases were cleared
    s = coverage_summary(r, 2029, published_spec("610400", 2029))
    assert (s.gap_years, s.continuous_years, s.cap_adjustment, s.waiting_months_in_window) == ((), 1, 0, 0)


def test_shanghai_variable_waiting_and_gap_repair():
    r = person("310101", "19800101")
    spec = published_spec("310000", 2027)
    s = coverage_summary(r, 2027, spec)
    assert (s.gap_years, s.waiting_months_in_window, s.cap_adjustment, s.cap_known) == (
        (2025, 2026), 5, None, False)
    repair = gap_repair_record(resident=r, year=2025, actor=None, note="补缴")
    assert GapRepair.objects.filter(resident=r).values_list("year", flat=True).get() == 2025 == repair.year
    s = coverage_summary(r, 2027, spec)
    assert (s.repaired, s.waiting_months_in_window) == ((2025,), 4)
    with pytest.raises(EnrollmentError):
        gap_repair_record(resident=r, year=2024, actor=None)
    EmployeeCoverage.objects.create(id_number=r.id_number, name=r.name, region_code="310000", year=2026)
    with pytest.raises(EnrollmentError):
        gap_repair_record(resident=r, year=2026, actor=None)


def test_coverage_starts_in_the_birth_year():
    clone("610400", 2025, 2026, 2027)
    child = person("610402", "20260301", today=date(2026, 11, 1))
    s = coverage_summary(child, 2027, published_spec("610400", 2027))
    assert (s.timeline, s.gap_years, s.continuous) == ([(2026, "none")], (2026,), False)
    s = coverage_summary(child, 2026, published_spec("610400", 2026))
    assert (s.timeline, s.gap_years, s.continuous, s.cap_adjustment) == ([], (), True, 0)


def test_coverage_summary_without_a_policy():
    r = person("141102", "19800501")
    paid_row(r, 2025)
    s = coverage_summary(r, 2030, None)
    assert (s.gap_years, s.continuous, s.waiting_months_in_window, s.cap_adjustment) == (
        (2026, 2027, 2028, 2029), False, None, None)
