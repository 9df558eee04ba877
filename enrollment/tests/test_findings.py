"""Findings of issue 7 (1, 2, 7, 8): each test failed on the code before the fix."""

import json
from datetime import date
from decimal import Decimal

import pytest

from enrollment.imports import import_residents
from enrollment.models import Enrollment, Resident
from enrollment.selectors import enrollments_for
from enrollment.services import (
    EnrollmentError,
    enrollment_record_payment,
    resident_create,
    resident_update,
)

from .import_support import csv_bytes
from .support import caseworker, clone, number, paid_row, person, register

pytestmark = pytest.mark.usefixtures("policies")

HEADER = ["姓名", "身份证号码", "户籍", "居住证", "学生类别", "参保地", "参保年度"]
NB_DAY = date(2025, 11, 3)  # in Ningbo's 2026 window (a clone: 2025-10-21 … 12-27) and Lüliang's
PRICES = ("region_id", "category", "status", "personal_standard", "fiscal_subsidy", "amount_due", "timing")


def prices(e) -> tuple:
    e = Enrollment.objects.get(pk=e.pk)
    return tuple(getattr(e, f) for f in PRICES)


# --- finding 1: an expired permit is expired on every path ------------------------------------


def test_import_refuses_a_permit_stored_as_expired_as_registration_does():
    clone("330200", 2025, 2026)
    r = person("330203", "19800101", "011", name="外地人", hukou="nonlocal", residence_permit=True,
               residence_permit_expires_on=date(2025, 6, 30))
    with pytest.raises(EnrollmentError) as exc:
        register(r, 2026, NB_DAY)
    assert exc.value.code == "not_eligible"

    data = csv_bytes([["外地人", r.id_number, "外地", "有", "", "330200", "2026"]], header=HEADER)
    result = import_residents(data, "a.csv", actor="tester", today=NB_DAY)
    assert [str(e) for e in result.errors] == [
        "row 2: 居住证: 系统登记的居住证有效期至 2025-06-30，登记 2026 年度时已过期，不能登记；"
        "居住证续签后请先更新其有效期再导入"]
    assert result.rejected
    assert not Enrollment.objects.exists()
    stored = Resident.objects.get(pk=r.pk)
    assert (stored.residence_permit, stored.residence_permit_expires_on) == (True, date(2025, 6, 30))


def test_import_registers_once_the_permit_is_renewed():
    clone("330200", 2025, 2026)
    r = person("330203", "19800101", "011", name="外地人", hukou="nonlocal", residence_permit=True,
               residence_permit_expires_on=date(2025, 6, 30))
    resident_update(resident=r, actor=None, today=NB_DAY, residence_permit_expires_on=date(2027, 6, 30))
    data = csv_bytes([["外地人", r.id_number, "外地", "有", "", "330200", "2026"]], header=HEADER)
    assert import_residents(data, "a.csv", actor="tester", today=NB_DAY).registered == 1
    assert prices(Enrollment.objects.get()) == ("330200", "adult", "registered", Decimal("780.00"),
                                                Decimal("2090.00"), Decimal("780.00"), "window")


# --- finding 2: a change re-prices (and moves) unpaid enrollments on every path ---------------


def test_import_as_college_student_reprices_like_resident_update():
    clone("330200", 2025, 2026)
    by_import = person("330203", "20050301", "011", name="周同学")
    by_service = person("330203", "20050301", "021", name="吴同学")
    e1, e2 = register(by_import, 2026, NB_DAY), register(by_service, 2026, NB_DAY)
    assert prices(e1)[1:] == ("adult", "registered", Decimal("780.00"), Decimal("2090.00"),
                              Decimal("780.00"), "window")

    data = csv_bytes([["周同学", by_import.id_number, "本地", "无", "大学生", "330200", ""]], header=HEADER)
    result = import_residents(data, "a.csv", actor="tester", today=date(2025, 11, 5))
    assert (result.updated, result.errors) == (1, [])
    resident_update(resident=by_service, actor=None, today=date(2025, 11, 5), student="college")

    expected = ("330200", "college", "registered", Decimal("180.00"), Decimal("240.00"), Decimal("180.00"),
                "window")
    assert prices(e1) == prices(e2) == expected


def test_a_move_by_import_takes_unpaid_enrollments_to_the_new_region_and_its_price():
    clone("330200", 2025, 2026)
    luliang_cw, ningbo_cw = caseworker("ll", "141100"), caseworker("nb", "330200")
    r = person("141102", "19800501", "011", name="迁居者")
    paid_2025 = paid_row(r, 2025)
    unpaid = register(r, 2026, NB_DAY)
    assert prices(unpaid) == ("141100", "resident", "registered", Decimal("400.00"), None,
                              Decimal("400.00"), "window")

    data = csv_bytes([["迁居者", r.id_number, "本地", "无", "", "330200", ""]], header=HEADER)
    result = import_residents(data, "a.csv", actor="tester", today=date(2025, 11, 5))
    assert (result.updated, result.errors) == (1, [])

    assert prices(unpaid) == ("330200", "adult", "registered", Decimal("780.00"), Decimal("2090.00"),
                              Decimal("780.00"), "window")
    assert Enrollment.objects.get(pk=paid_2025.pk).region_id == "141100"  # paid years never move
    assert list(enrollments_for(luliang_cw).filter(year=2026)) == []
    assert list(enrollments_for(ningbo_cw).filter(year=2026)) == [unpaid]
    with pytest.raises(EnrollmentError) as exc:
        enrollment_record_payment(enrollment=unpaid, amount=Decimal("400.00"), paid_on=date(2025, 11, 20),
                                  paid_via="channel", actor=None)
    assert exc.value.code == "amount_mismatch"
    paid = enrollment_record_payment(enrollment=unpaid, amount=Decimal("780.00"), paid_on=date(2025, 11, 20),
                                     paid_via="channel", actor=None)
    assert (paid.status, paid.region_id) == ("paid", "330200")


def test_a_move_to_a_region_that_cannot_price_the_enrollment_is_refused_on_both_paths():
    r = person("141102", "19800501", "011", name="迁居者")
    unpaid = register(r, 2026, NB_DAY)
    before = prices(unpaid)
    data = csv_bytes([["迁居者", r.id_number, "本地", "无", "", "630100", ""]], header=HEADER)  # Xining: no 2026
    result = import_residents(data, "a.csv", actor="tester", today=date(2025, 11, 5))
    reason = "2026 年度的未缴费登记不能按变更后的信息重新核定：西宁市 2026 年度没有已发布的政策。请先注销该登记，或更正信息"
    assert [str(e) for e in result.errors] == [f"row 2: 参保地: {reason}"]
    assert result.rejected
    with pytest.raises(EnrollmentError) as exc:
        resident_update(resident=r, actor=None, today=date(2025, 11, 5), region="630100")
    assert (exc.value.code, exc.value.message) == ("policy_missing", reason)
    assert Resident.objects.get(pk=r.pk).region_id == "141100"
    assert prices(unpaid) == before


def test_resident_update_moves_unpaid_enrollments_and_leaves_paid_ones():
    clone("330200", 2025, 2026)
    r = person("141102", "19800501", "011", name="迁居者")
    paid_2025 = paid_row(r, 2025)
    unpaid = register(r, 2026, NB_DAY)
    out = resident_update(resident=r, actor=None, today=date(2025, 11, 5), region="330200")
    assert [e.pk for e in out.recomputed] == [unpaid.pk]
    assert prices(unpaid) == ("330200", "adult", "registered", Decimal("780.00"), Decimal("2090.00"),
                              Decimal("780.00"), "window")
    assert Enrollment.objects.get(pk=paid_2025.pk).region_id == "141100"


# --- finding 7: a check constraint is not a duplicate -----------------------------------------


def test_a_permit_with_the_default_local_hukou_is_invalid_input_not_a_duplicate():
    with pytest.raises(EnrollmentError) as exc:
        resident_create(id_number=number("330203", "19800101", "011"), name="张三", region="330200",
                        residence_permit=True, actor=None, today=NB_DAY)
    assert (exc.value.code, exc.value.message) == ("invalid_input", "本地户籍人员不登记居住证")
    assert not Resident.objects.exists()


def test_a_permit_given_to_a_local_resident_by_update_is_invalid_input():
    r = person("330203", "19800101", "011")
    with pytest.raises(EnrollmentError) as exc:
        resident_update(resident=r, actor=None, today=NB_DAY, residence_permit=True)
    assert (exc.value.code, exc.value.message) == ("invalid_input", "本地户籍人员不登记居住证")
    assert Resident.objects.get(pk=r.pk).residence_permit is False


def test_a_real_duplicate_is_still_duplicate_resident():
    r = person("330203", "19800101", "011")
    with pytest.raises(EnrollmentError) as exc:
        resident_create(id_number=r.id_number, name="张三", region="330200", actor=None, today=NB_DAY)
    assert exc.value.code == "duplicate_resident"
    assert Resident.objects.count() == 1


# --- finding 8: one rule for which enrollments a caseworker sees --------------------------------


def test_api_and_admin_show_a_caseworker_the_same_enrollments(client):
    """By the enrollment's region: a paid Ningbo year stays Ningbo's after the person moves."""
    r = person("330203", "19800101", "011", name="迁居者", today=date(2024, 11, 1))
    e = register(r, 2025, date(2024, 11, 1))
    enrollment_record_payment(enrollment=e, amount=Decimal("780.00"), paid_on=date(2024, 11, 20),
                              paid_via="channel", actor=None)
    resident_update(resident=r, actor=None, today=date(2025, 3, 1), region="630100")

    seen = {}
    for user in (caseworker("nb", "330200"), caseworker("xn", "630100")):
        client.force_login(user)
        listed = client.get("/admin/enrollment/enrollment/")
        api = client.get(f"/api/v1/enrollments/{r.id_number}/2025")
        seen[user.username] = ([o.pk for o in listed.context["cl"].result_list], api.status_code,
                               list(enrollments_for(user).values_list("pk", flat=True)))
    assert seen == {"nb": ([e.pk], 200, [e.pk]), "xn": ([], 404, [])}
    client.force_login(caseworker("nb2", "330200"))
    assert json.loads(client.get(f"/api/v1/enrollments/{r.id_number}/2025").content)["region"] == "330200"
