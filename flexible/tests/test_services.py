"""Flexible-employment enrollment: registration, payment, cancellation, one scheme at a time.
Each write read back from the database; each refusal leaves nothing written."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from enrollment.models import Enrollment, EnrollmentStatus
from enrollment.services import EnrollmentError
from enrollment.tests.support import person, register, register_and_pay
from flexible.models import FlexibleEnrollment, FlexibleStatus
from flexible.services import (
    CANCEL_RESIDENT_REASON,
    FlexibleError,
    flexible_cancel,
    flexible_enroll,
    flexible_record_payment,
)

pytestmark = pytest.mark.django_db
DEC1 = date(2024, 12, 1)


@pytest.fixture
def xy(policies):
    return person("610402", "19700101", name="王建国", today=DEC1)


def enroll(resident, status="in_service", **kw):
    args = {"year": 2025, "person_status": status, "file_held_at": "reemployment_centre",
            "paid_previous_year": True, "actor": None, "today": DEC1}
    args.update(kw)
    return flexible_enroll(resident=resident, **args)


def test_enroll_in_service_writes_each_part(xy):
    e = enroll(xy)
    row = FlexibleEnrollment.objects.get(pk=e.pk)
    assert (row.status, row.person_status, row.region_id, row.year) == ("registered", "in_service", "610400", 2025)
    assert (row.basic_amount, row.large_medical_amount, row.critical_illness_amount, row.amount_due) == (
        Decimal("3456.00"), Decimal("172.80"), Decimal("48.00"), Decimal("3676.80"))
    assert row.events.filter(pgh_label="insert").count() == 1


def test_enroll_retired_has_no_basic_part(xy):
    row = FlexibleEnrollment.objects.get(pk=enroll(xy, "retired").pk)
    assert (row.basic_amount, row.large_medical_amount, row.critical_illness_amount, row.amount_due) == (
        None, Decimal("172.80"), Decimal("48.00"), Decimal("220.80"))


@pytest.mark.parametrize("paid_on, timing, months, makeup, start, waiting, certificate", [
    (date(2024, 12, 31), "on_time", 0, "0.00", date(2025, 1, 1), 0, date(2025, 1, 5)),
    (date(2025, 3, 31), "interrupted", 3, "864.00", date(2025, 3, 31), 0, date(2025, 4, 5)),
    (date(2025, 4, 1), "first_enrolment", 4, "0.00", date(2025, 7, 1), 3, date(2025, 4, 6)),
])
def test_payment_sets_the_dates(xy, paid_on, timing, months, makeup, start, waiting, certificate):
    e = enroll(xy)
    flexible_record_payment(enrollment=e, amount=Decimal("3676.80"), paid_on=paid_on, actor=None)
    row = FlexibleEnrollment.objects.get(pk=e.pk)
    assert (row.status, row.paid_amount, row.paid_on, row.timing, row.interruption_months, row.makeup_basic,
            row.benefit_start, row.benefit_end, row.waiting_months, row.certificate_from, row.retired_from) == (
        "paid", Decimal("3676.80"), paid_on, timing, months, Decimal(makeup), start, date(2025, 12, 31), waiting,
        certificate, None)


def test_retirement_month_is_recorded(xy):
    e = enroll(xy, retirement_age_reached_on=date(2025, 6, 15))
    flexible_record_payment(enrollment=e, amount=Decimal("3676.80"), paid_on=date(2024, 12, 20), actor=None)
    assert FlexibleEnrollment.objects.get(pk=e.pk).retired_from == date(2025, 7, 1)


@pytest.mark.parametrize("amount, paid_on, code", [
    (Decimal("3676.00"), date(2024, 12, 31), "amount_mismatch"),
    (Decimal("3676.80"), date(2026, 1, 1), "window_closed"),
])
def test_bad_payment_changes_nothing(xy, amount, paid_on, code):
    e = enroll(xy)
    with pytest.raises(FlexibleError) as exc:
        flexible_record_payment(enrollment=e, amount=amount, paid_on=paid_on, actor=None)
    assert exc.value.code == code
    row = FlexibleEnrollment.objects.get(pk=e.pk)
    assert (row.status, row.paid_on, row.paid_amount, row.benefit_start) == ("registered", None, None, None)


def test_paying_twice_is_refused(xy):
    e = enroll(xy)
    flexible_record_payment(enrollment=e, amount=Decimal("3676.80"), paid_on=date(2024, 12, 31), actor=None)
    with pytest.raises(FlexibleError) as exc:
        flexible_record_payment(enrollment=e, amount=Decimal("3676.80"), paid_on=date(2024, 12, 31), actor=None)
    assert exc.value.code == "already_paid"


@pytest.mark.parametrize("kw, reason", [
    ({"file_held_at": "other_agency"}, "other_agency"),
    ({"file_held_at": "county"}, "county"),
    ({"special_group": True}, "special_group"),
    ({"paid_previous_year": False}, "not_paid_previous_year"),
])
def test_who_may_not_enroll_is_referred_and_nothing_written(xy, kw, reason):
    with pytest.raises(FlexibleError) as exc:
        enroll(xy, **kw)
    assert (exc.value.code, exc.value.reason) == ("not_eligible", reason)
    assert "请" in exc.value.message
    assert not FlexibleEnrollment.objects.exists()


def test_region_without_the_scheme(policies):
    nb = person("330203", "19700101", today=DEC1)
    with pytest.raises(FlexibleError) as exc:
        enroll(nb)
    assert (exc.value.code, exc.value.message) == (
        "scheme_not_offered", "宁波市 2025 年度没有灵活就业人员医疗保险的政策（来源文件未涉及）")
    assert not FlexibleEnrollment.objects.exists()


def test_enrolling_twice_is_refused(xy):
    enroll(xy)
    with pytest.raises(FlexibleError) as exc:
        enroll(xy, "retired")
    assert (exc.value.code, exc.value.message) == ("already_enrolled", "王建国 已登记 2025 年度灵活就业人员医疗保险")
    assert FlexibleEnrollment.objects.count() == 1


# --- one scheme at a time -------------------------------------------------------------------


def test_a_paid_resident_enrollment_refuses(xy):
    paid = register_and_pay(xy, 2025, DEC1, DEC1, "400.00")
    with pytest.raises(FlexibleError) as exc:
        enroll(xy)
    assert exc.value.code == "other_scheme"
    assert exc.value.message == ("王建国 已缴纳 2025 年度城乡居民医保，同一时间只能参加一种医疗保险，"
                                 "不能登记灵活就业人员医疗保险；如需转换，请先办理居民医保退费")
    assert not FlexibleEnrollment.objects.exists()
    assert Enrollment.objects.get(pk=paid.pk).status == EnrollmentStatus.PAID


def test_an_unpaid_resident_registration_is_cancelled_with_the_reason(xy):
    resident = register(xy, 2025, DEC1)
    e = enroll(xy)
    row = Enrollment.objects.get(pk=resident.pk)
    assert (row.status, row.cancel_reason) == ("cancelled", CANCEL_RESIDENT_REASON)
    assert FlexibleEnrollment.objects.get(pk=e.pk).status == "registered"


def test_a_refused_flexible_enrollment_keeps_the_resident_registration(xy):
    resident = register(xy, 2025, DEC1)
    with pytest.raises(FlexibleError):
        enroll(xy, special_group=True)
    assert Enrollment.objects.get(pk=resident.pk).status == EnrollmentStatus.REGISTERED


def test_resident_registration_refuses_a_person_in_the_flexible_scheme(xy):
    enroll(xy)
    with pytest.raises(EnrollmentError) as exc:
        register(xy, 2025, DEC1)
    assert (exc.value.code, exc.value.message) == (
        "other_scheme", "已参加 2025 年度灵活就业人员医疗保险（已登记（待缴费）），同一时间只能参加一种医疗保险，不能再登记城乡居民医保")
    assert not Enrollment.objects.filter(resident=xy, year=2025).exists()


def test_after_cancelling_the_flexible_enrollment_resident_registration_works(xy):
    e = enroll(xy)
    flexible_cancel(enrollment=e, reason="转为城乡居民医保", actor=None)
    row = FlexibleEnrollment.objects.get(pk=e.pk)
    assert (row.status, row.cancel_reason) == (FlexibleStatus.CANCELLED, "转为城乡居民医保")
    assert register(xy, 2025, DEC1).status == EnrollmentStatus.REGISTERED


def test_cancel_needs_a_reason_and_not_after_payment(xy):
    e = enroll(xy)
    with pytest.raises(FlexibleError, match="注销须填写原因"):
        flexible_cancel(enrollment=e, reason="  ", actor=None)
    flexible_record_payment(enrollment=e, amount=Decimal("3676.80"), paid_on=date(2024, 12, 31), actor=None)
    with pytest.raises(FlexibleError) as exc:
        flexible_cancel(enrollment=e, reason="不想参保", actor=None)
    assert exc.value.code == "already_paid"
    assert FlexibleEnrollment.objects.get(pk=e.pk).status == "paid"


def test_home_figures_count_per_region_year_and_status(xy, policies):
    from core.figures import rows_of
    from flexible.figures import GROUP, refresh

    li = person("610402", "19720101", "027", name="李四", today=DEC1)
    e = enroll(xy)
    flexible_record_payment(enrollment=e, amount=Decimal("3676.80"), paid_on=date(2024, 12, 31), actor=None)
    enroll(li, "retired")
    assert refresh() == 2
    got = sorted((r.region, r.year, r.key, r.label, r.count, r.amount) for r in rows_of(GROUP, None))
    assert got == [("610400", 2025, "paid", "已缴费", 1, Decimal("3676.80")),
                   ("610400", 2025, "registered", "已登记（待缴费）", 1, Decimal("220.80"))]
