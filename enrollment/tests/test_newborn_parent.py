"""Ningbo's non-local newborn (000 §1(一)) registered on a parent's residence permit: linked to
the parent's record, whose benefits must be normal; every other case refused in plain Chinese
with nothing written."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from enrollment.models import EmployeeCoverage, Enrollment, NewbornParentLink
from enrollment.newborns import enrollment_register_newborn
from enrollment.services import EnrollmentError

from .support import caseworker, person, register, register_and_pay

pytestmark = pytest.mark.usefixtures("policies")

IN_WINDOW = date(2024, 11, 1)  # Ningbo's 2025 window: 2024-10-21 … payment by 2024-12-27


def parent(seq="011", **fields):
    fields = {"hukou": "nonlocal", "residence_permit": True, "residence_permit_expires_on": date(2027, 1, 1),
              **fields}
    return person("330203", "19900101", seq, name="父亲", today=IN_WINDOW, **fields)


def baby(birth="20240901", seq="021", **fields):
    return person("330203", birth, seq, name="宝宝", hukou="nonlocal", today=date(2025, 12, 1), **fields)


def paid_parent(seq="011", **fields):
    p = parent(seq, **fields)
    register_and_pay(p, 2025, IN_WINDOW, IN_WINDOW, "780.00")
    return p


def newborn(b, p, today, same_household=True, actor=None):
    return enrollment_register_newborn(resident=b, year=2025, parent=p, same_household=same_household,
                                       actor=actor, today=today)


def test_registered_and_linked_to_the_parent_whose_benefits_are_normal():
    user = caseworker("cw330", "330200")
    p, b = paid_parent(), baby()
    e = newborn(b, p, IN_WINDOW, same_household=False, actor=user)
    stored = Enrollment.objects.get(pk=e.pk)
    assert (stored.resident_id, stored.year, stored.category, stored.amount_due, stored.nonlocal_via_parent_permit,
            stored.registered_via, stored.registered_by_id) == (b.pk, 2025, "infant", Decimal("630.00"), True,
                                                               "newborn", user.pk)
    link = NewbornParentLink.objects.get(enrollment=e)
    parent_e = Enrollment.objects.get(resident=p, year=2025)
    assert (link.parent_id, link.parent_enrollment_id, link.same_household, link.checked_on, link.recorded_by_id) == (
        p.pk, parent_e.pk, False, IN_WINDOW, user.pk)
    events = NewbornParentLink.pgh_event_model.objects.filter(pgh_obj_id=link.pk)
    assert [(ev.pgh_label, ev.pgh_context.metadata["action"]) for ev in events] == [
        ("insert", "enrollment_register_newborn")]


@pytest.mark.parametrize("today, ok", [(date(2025, 3, 1), True),  # born 2024-09-01: 6 months to the day
                                       (date(2025, 3, 2), False)])
def test_six_months_from_the_policy_at_the_boundary(today, ok):
    p, b = paid_parent(), baby()
    if ok:
        assert newborn(b, p, today).nonlocal_via_parent_permit is True
        return
    with pytest.raises(EnrollmentError) as exc:
        newborn(b, p, today)
    assert (exc.value.code, exc.value.message) == (
        "not_eligible", "宝宝 出生于 2024-09-01，2025-03-02 已超过出生后 6 个月（至 2025-03-01），"
                        "不能凭父母居住证参保；须先办理本人居住登记")
    assert not Enrollment.objects.filter(resident=b).exists()


def test_a_parent_still_waiting_is_refused_until_the_benefits_start():
    """Paid late on 2025-02-10 (Ningbo: 3 months' waiting): benefits from 2025-05-10."""
    p = parent()
    e = register(p, 2025, date(2025, 2, 10))
    from enrollment.services import enrollment_record_payment

    paid = enrollment_record_payment(enrollment=e, amount=e.amount_due, paid_on=date(2025, 2, 10),
                                     paid_via="channel", actor=None)
    assert paid.benefit_start == date(2025, 5, 10)
    b = baby("20250115", "031")
    with pytest.raises(EnrollmentError) as exc:
        newborn(b, p, date(2025, 5, 9))
    assert exc.value.message == ("父母一方 父亲 的 2025 年度待遇自 2025-05-10 起，2025-05-09 尚在待遇等待期，"
                                 "待遇不正常，不能凭其居住证为新生儿参保")
    assert not NewbornParentLink.objects.exists() and not Enrollment.objects.filter(resident=b).exists()
    assert newborn(b, p, date(2025, 5, 10)).parent_link.parent_id == p.pk


def test_a_parent_in_employee_insurance_here_counts():
    p = parent()
    EmployeeCoverage.objects.create(id_number=p.id_number, name="父亲", region_code="330200", year=2025)
    e = newborn(baby(), p, IN_WINDOW)
    assert (e.parent_link.parent_id, e.parent_link.parent_enrollment_id) == (p.pk, None)


@pytest.mark.parametrize("case, code, message", [
    ("not_enrolled", "not_eligible", "父母一方 父亲 未参加宁波市 2025 年度基本医保，不能凭其居住证为新生儿参保"),
    ("unpaid", "not_eligible", "父母一方 父亲 已登记 2025 年度居民医保但尚未缴费，待遇不正常，须先缴费后再为新生儿办理"),
    ("employee_ended", "not_eligible", "父母一方 父亲 未参加宁波市 2025 年度基本医保，不能凭其居住证为新生儿参保"),
    ("parent_permit_expired", "not_eligible", "父母一方 父亲 没有本市有效居住证，不能凭其居住证为新生儿参保"),
    ("baby_local", "not_eligible", "宝宝 为本地户籍，按本人户籍登记参保，无需凭父母居住证"),
    ("baby_own_permit", "not_eligible", "宝宝 本人持有效居住证，按本人居住证登记参保"),
    ("self", "invalid_input", "父母一方不能是新生儿本人"),
    ("parent_younger", "invalid_input", "父亲 的出生日期不早于新生儿，不能作为父母一方"),
])
def test_refusals_in_plain_chinese_and_nothing_written(case, code, message):
    p = parent()
    b = baby()
    if case == "unpaid":
        register(p, 2025, IN_WINDOW)
    elif case == "employee_ended":
        EmployeeCoverage.objects.create(id_number=p.id_number, name="父亲", region_code="330200", year=2025,
                                        ended_on=date(2024, 10, 31))
    elif case == "parent_permit_expired":
        p = paid_parent("013", residence_permit_expires_on=date(2024, 12, 31))
        Enrollment.objects.filter(resident=p).update(benefit_start=date(2025, 1, 1))
    elif case == "baby_local":
        b = person("330203", "20240901", "041", name="宝宝", today=IN_WINDOW)
    elif case == "baby_own_permit":
        b = baby(seq="051", residence_permit=True, residence_permit_expires_on=date(2026, 1, 1))
    elif case == "self":
        p = b
    elif case == "parent_younger":
        p = person("330203", "20240902", "061", name="父亲", today=IN_WINDOW, hukou="nonlocal",
                   residence_permit=True)
    today = date(2025, 1, 5) if case == "parent_permit_expired" else IN_WINDOW
    before = Enrollment.objects.count()
    with pytest.raises(EnrollmentError) as exc:
        newborn(b, p, today)
    assert (exc.value.code, exc.value.message) == (code, message)
    assert Enrollment.objects.count() == before and not NewbornParentLink.objects.exists()


def test_a_region_without_the_rule_refuses():
    p = person("141102", "19900101", "071", name="父亲", hukou="nonlocal", residence_permit=True)
    b = person("141102", "20250901", "081", name="宝宝", hukou="nonlocal", today=date(2025, 12, 1))
    with pytest.raises(EnrollmentError) as exc:
        enrollment_register_newborn(resident=b, year=2026, parent=p, same_household=True, actor=None,
                                    today=date(2025, 12, 1))
    assert exc.value.message == "吕梁市 2026 年度政策没有凭父母居住证为外地新生儿参保的规定"
