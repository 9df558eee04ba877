"""Leaving another scheme (退出其他制度保障, 003 §三(四), 001 §三 注): recorded per person with
its date and evidence, and the 3-month rule applied from those records — the months are the
policy's (``left_other_scheme`` group), the boundaries exact, the single and bulk paths alike."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from enrollment.leavers import reach_date, scheme_exit_record, scheme_exit_remove
from enrollment.models import Enrollment, SchemeExit
from enrollment.selectors import PersonFacts, quote_request_of, quote_requests_for
from enrollment.services import EnrollmentError, enrollment_record_payment, spec_for
from policy.rules import QuoteError, quote
from policy.rules.dates import add_months

from .support import caseworker, person, register

pytestmark = pytest.mark.usefixtures("policies")


def record(resident, left_on, kind="released_prisoner", evidence="release", number="释字2026第001号",
           today=date(2026, 11, 1), actor=None):
    return scheme_exit_record(resident=resident, kind=kind, left_on=left_on, evidence_kind=evidence,
                              evidence_number=number, actor=actor, today=today)


# --- the leaving day the rule is asked about (pure) ------------------------------------------

D = date


@pytest.mark.parametrize("employee_left, exits, on, expected", [
    (None, (), D(2026, 4, 1), None),
    (D(2026, 2, 1), (), D(2026, 1, 10), D(2026, 2, 1)),  # no record: employee insurance as before
    (None, (D(2026, 3, 10),), D(2026, 3, 10), D(2026, 3, 10)),  # the day itself
    (None, (D(2025, 11, 1), D(2026, 3, 10)), D(2026, 3, 9), D(2025, 11, 1)),  # the later one is not yet
    (None, (D(2025, 11, 1), D(2026, 3, 10)), D(2026, 5, 1), D(2026, 3, 10)),  # the latest before
    (D(2026, 4, 1), (D(2026, 3, 10),), D(2026, 4, 20), D(2026, 4, 1)),  # employee end later, both before
    (D(2026, 5, 1), (D(2026, 3, 10),), D(2026, 4, 20), D(2026, 3, 10)),  # employee end after the payment
    (None, (D(2026, 3, 10), D(2026, 6, 1)), D(2026, 2, 1), D(2026, 6, 1)),  # all after: the latest
])
def test_reach_date(employee_left, exits, on, expected):
    assert reach_date(employee_left, exits, on) == expected


# --- the rule's months come from the policy data; each boundary exact -------------------------


def _quote_at(resident, year, on):
    spec = spec_for(resident.region_id, year)
    return quote(spec, quote_request_of(PersonFacts.of(resident), year, on))


def test_the_months_are_the_policys():
    assert spec_for("141100", 2026).groups_by_code["left_other_scheme"].within_months == 3
    assert spec_for("630100", 2025).groups_by_code["left_other_scheme"].within_months == 3


@pytest.mark.parametrize("paid_on, outcome", [
    (date(2026, 3, 9), "value_not_in_source"),  # the day before leaving: late payment, fiscal unset
    (date(2026, 3, 10), (Decimal("400.00"), "exempt", date(2026, 3, 11))),  # the day itself
    (date(2026, 6, 10), (Decimal("400.00"), "exempt", date(2026, 6, 11))),  # 3 months to the day
    (date(2026, 6, 11), "value_not_in_source"),  # a day past the 3 months
])
def test_luliang_released_prisoner_at_each_boundary(paid_on, outcome):
    """Lüliang 2026: within 3 months of leaving, enrolled after the window, benefits the day
    after payment (§三(四)); otherwise a late payment, whose fiscal part is not in source."""
    r = person("141102", "19800501", "201", name="释放人员")
    record(r, date(2026, 3, 10))
    months = spec_for("141100", 2026).groups_by_code["left_other_scheme"].within_months
    assert add_months(date(2026, 3, 10), months) == date(2026, 6, 10)
    if isinstance(outcome, str):
        with pytest.raises(QuoteError) as exc:
            _quote_at(r, 2026, paid_on)
        assert exc.value.code == outcome
    else:
        got = _quote_at(r, 2026, paid_on)
        assert (got.amount_due, got.timing, got.benefit_start, got.waiting_months) == (*outcome, 0)


@pytest.mark.parametrize("paid_on, outcome", [
    (date(2025, 5, 19), (Decimal("400.00"), "late", date(2025, 7, 18), 60)),  # before leaving
    (date(2025, 5, 20), (Decimal("400.00"), "exempt", date(2025, 5, 20), 0)),
    (date(2025, 8, 20), (Decimal("400.00"), "exempt", date(2025, 8, 20), 0)),  # 3 months to the day
    (date(2025, 8, 21), "value_not_in_source"),  # personal + fiscal subsidy, fiscal not in source
])
def test_xining_employee_insurance_stopped_at_each_boundary(paid_on, outcome):
    """Xining 2025: 职工医保中断缴费3个月内 — not bound by the periods, benefits from payment."""
    r = person("630102", "19800501", "211", name="职工中断")
    record(r, date(2025, 5, 20), kind="employee_stopped", evidence="employee_stop", number="停保-0520",
           today=date(2025, 5, 25))
    if isinstance(outcome, str):
        with pytest.raises(QuoteError) as exc:
            _quote_at(r, 2025, paid_on)
        assert exc.value.code == outcome
    else:
        got = _quote_at(r, 2025, paid_on)
        assert (got.amount_due, got.timing, got.benefit_start, got.waiting_days) == outcome


# --- single path and bulk path ---------------------------------------------------------------


def test_single_and_bulk_paths_read_the_same_leaving():
    soldier = person("141102", "19950301", "221", name="退役军人")
    spouse = person("141102", "19960301", "222", name="随军配偶")
    old = person("141102", "19700301", "231", name="早年释放")
    nobody = person("141102", "19800301", "241", name="无记录")
    record(soldier, date(2026, 1, 20), kind="discharged_soldier", evidence="discharge", number="退-1")
    record(soldier, date(2026, 7, 1), kind="employee_stopped", evidence="employee_stop", number="停-1")
    record(spouse, date(2026, 2, 5), kind="military_spouse", evidence="military_spouse", number="随-1")
    record(old, date(2024, 12, 31))  # before 1 January of the year before: out of the rule's reach
    people = [soldier, spouse, old, nobody]
    for on in (date(2026, 3, 1), date(2026, 7, 1)):
        bulk = quote_requests_for(people, 2026, on)
        single = {r.id_number: quote_request_of(PersonFacts.of(r), 2026, on) for r in people}
        assert bulk == single
        got = {r.name: bulk[r.id_number].left_other_scheme_on for r in people}
        assert got == {"退役军人": date(2026, 1, 20) if on.month == 3 else date(2026, 7, 1),
                       "随军配偶": date(2026, 2, 5), "早年释放": None, "无记录": None}
    # a file row's facts (no resident id) go the batch path and find the records by ID number
    from dataclasses import replace

    row = replace(PersonFacts.of(spouse), resident_id=None)
    assert quote_request_of(row, 2026, date(2026, 3, 1)).left_other_scheme_on == date(2026, 2, 5)


# --- the writes ------------------------------------------------------------------------------


def test_recording_a_leaving_prices_the_unpaid_registration_again_and_the_payment_follows():
    """Xining: registered on 2025-05-01 in the 04-01…06-30 period (+60 days); the employee
    insurance stop of 2025-04-15 recorded afterwards makes it exempt; paid on 2025-05-10 the
    benefits start that day instead of 60 days later."""
    user = caseworker("cw630", "630100")
    r = person("630102", "19800501", "251", name="补录中断")
    e = register(r, 2025, date(2025, 5, 1))
    assert (e.timing, e.amount_due) == ("late", Decimal("400.00"))
    row = record(r, date(2025, 4, 15), kind="employee_stopped", evidence="employee_stop", number="停保-0415",
                 today=date(2025, 5, 2), actor=user)
    stored = SchemeExit.objects.get(pk=row.pk)
    assert (stored.resident_id, stored.id_number, stored.kind, stored.left_on, stored.evidence_kind,
            stored.evidence_number, stored.recorded_by_id) == (r.pk, r.id_number, "employee_stopped",
                                                               date(2025, 4, 15), "employee_stop", "停保-0415",
                                                               user.pk)
    e.refresh_from_db()
    assert (e.timing, e.amount_due) == ("exempt", Decimal("400.00"))
    paid = enrollment_record_payment(enrollment=e, amount=Decimal("400.00"), paid_on=date(2025, 5, 10),
                                     paid_via="channel", actor=None)
    assert (paid.benefit_start, paid.waiting_days, paid.timing) == (date(2025, 5, 10), 0, "exempt")
    events = SchemeExit.pgh_event_model.objects.filter(pgh_obj_id=row.pk)
    assert [(ev.pgh_label, ev.pgh_context.metadata.get("action"), ev.pgh_context.metadata.get("user"))
            for ev in events] == [("insert", "scheme_exit_record", user.pk)]


def test_removing_a_leaving_prices_again_and_is_refused_when_the_registration_then_cannot_be_priced():
    r = person("141102", "19800501", "261", name="误录")
    row = record(r, date(2026, 3, 10), today=date(2026, 4, 1))
    e = register(r, 2026, date(2026, 4, 1))
    assert (e.timing, e.amount_due) == ("exempt", Decimal("400.00"))
    with pytest.raises(EnrollmentError) as exc:
        scheme_exit_remove(scheme_exit=row, actor=None, today=date(2026, 4, 1))
    assert exc.value.code == "value_not_in_source"
    assert "2026 年度的未缴费登记不能按变更后的信息重新核定" in exc.value.message
    assert SchemeExit.objects.filter(pk=row.pk).exists()  # nothing deleted
    Enrollment.objects.filter(pk=e.pk).update(status="cancelled", cancelled_at=e.registered_at, cancel_reason="误登")
    assert scheme_exit_remove(scheme_exit=row, actor=None, today=date(2026, 4, 1)) == []
    assert not SchemeExit.objects.filter(pk=row.pk).exists()
    assert [ev.pgh_label for ev in SchemeExit.pgh_event_model.objects.filter(pgh_obj_id=row.pk)
            .order_by("pgh_id")] == ["insert", "delete"]


@pytest.mark.parametrize("change, message", [
    ({"kind": "soldier"}, "请选择退出其他制度保障的类别"),
    ({"left_on": date(2026, 11, 2)}, "退出日期 2026-11-02 晚于今天 2026-11-01，不能预先登记"),
    ({"left_on": None}, "请填写退出日期"),
    ({"evidence_kind": ""}, "请选择证明材料"),
    ({"evidence_number": "  "}, "请填写证明材料的编号"),
    ({"evidence_number": "A\u200bB"}, "证明编号过长或含有不可见字符"),
])
def test_bad_input_is_refused_in_plain_chinese_and_nothing_is_written(change, message):
    r = person("141102", "19800501", "271", name="坏输入")
    args = {"kind": "released_prisoner", "left_on": date(2026, 3, 10), "evidence_kind": "release",
            "evidence_number": "释-1", **change}
    with pytest.raises(EnrollmentError) as exc:
        scheme_exit_record(resident=r, actor=None, today=date(2026, 11, 1), **args)
    assert (exc.value.code, exc.value.message) == ("invalid_input", message)
    assert not SchemeExit.objects.exists()


def test_the_same_leaving_twice_is_refused():
    r = person("141102", "19800501", "281", name="重复")
    record(r, date(2026, 3, 10))
    with pytest.raises(EnrollmentError) as exc:
        record(r, date(2026, 3, 10), number="另一个")
    assert (exc.value.code, exc.value.message) == ("duplicate", "重复 已有 2026-03-10 的同类退出记录")
    assert SchemeExit.objects.filter(resident=r).count() == 1
