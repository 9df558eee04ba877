"""The channel API (INTERFACES.md §5): dues and payments, every error code, idempotency,
a second payment kept and queued for refund — each read back from the ledger."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from enrollment.models import Enrollment
from enrollment.tests.support import number, person, register
from payments.models import Payment, Refund
from payments.services import ledger_check

pytestmark = pytest.mark.usefixtures("policies")
NOV = date(2025, 11, 10)


@pytest.fixture
def business_date(settings):
    def pin(day: date):
        settings.BUSINESS_DATE = day
    pin(NOV)
    return pin


@pytest.fixture
def call(client, channel_token):
    def go(method, url, body=None, *, token=channel_token, **params):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        if method == "get":
            return client.get(url, params, **headers)
        return client.post(url, json.dumps(body), content_type="application/json", **headers)
    return go


@pytest.fixture
def li(business_date):
    r = person("141102", "19800501", name="李四")
    carried(r, 2025)  # continuously enrolled: no waiting when paying in the window
    register(r, 2026, NOV)
    return r


def carried(resident, year: int, region: str = "141100"):
    """A year paid in the earlier system, carried over onto the ledger."""
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from payments.services import payment_carry_over

    return payment_carry_over(resident=resident, year=year, region=region, amount=Decimal("380.00"),
                              paid_at=datetime.combine(date(year - 1, 12, 1), time(10), ZoneInfo("Asia/Shanghai")),
                              txn_id=f"OLD-{resident.id_number}-{year}", actor="test")


def posted():
    """The payments posted in the test (the carried-over years aside)."""
    return Payment.objects.exclude(channel="carried_over")


def pay(li, **over):
    body = {"channel": "wechat", "txn_id": "WX-0001", "id_number": li.id_number, "name": li.name,
            "year": 2026, "amount": "400.00", "paid_at": "2025-11-10T10:30:00+08:00"}
    body.update(over)
    return body


def err(resp):
    return resp.status_code, resp.json()["error"]["code"]


def test_dues_are_quoted_today_and_a_payment_lands_once(call, li):
    resp = call("get", "/api/v1/dues", id_number=li.id_number, name="李四", year="2026")
    assert resp.status_code == 200
    assert resp.json() == {"name": "李四", "region": "141100", "year": 2026, "category": "resident",
                           "amount_due": "400.00", "status": "unpaid"}
    resp = call("post", "/api/v1/payments", pay(li))
    assert resp.status_code == 201
    answer = resp.json()
    p = posted().get()
    assert answer == {"payment_id": p.pk, "status": "paid", "benefit_start": "2026-01-01"}
    assert (p.channel, p.txn_id, p.amount, p.outcome, p.paid_on, p.region_id) == (
        "wechat", "WX-0001", Decimal("400.00"), "applied", NOV, "141100")
    e = Enrollment.objects.get(year=2026)
    assert (e.status, e.paid_amount, e.paid_on, e.paid_via, e.benefit_start) == (
        "paid", Decimal("400.00"), NOV, "channel", date(2026, 1, 1))
    resp = call("get", "/api/v1/dues", id_number=li.id_number, name="李四", year="2026")
    assert resp.json()["status"] == "paid"
    assert ledger_check() == []


def test_the_same_payment_again_gives_the_first_answer_and_another_body_conflicts(call, li):
    first = call("post", "/api/v1/payments", pay(li))
    again = call("post", "/api/v1/payments", pay(li))
    assert (again.status_code, again.json()) == (200, first.json())
    assert err(call("post", "/api/v1/payments", pay(li, amount="80.00"))) == (409, "idempotency_conflict")
    assert posted().count() == 1 and not Refund.objects.exists()


def test_a_second_payment_for_a_paid_year_is_kept_and_queued_for_refund(call, li):
    call("post", "/api/v1/payments", pay(li))
    second = call("post", "/api/v1/payments", pay(li, channel="alipay", txn_id="ALI-9"))
    assert err(second) == (409, "already_paid")
    dup = posted().get(channel="alipay")
    assert (dup.outcome, dup.amount) == ("duplicate", Decimal("400.00"))
    refund = Refund.objects.get()
    assert (refund.reason, refund.amount, refund.status, refund.source_payment_id) == (
        "duplicate", Decimal("400.00"), "requested", dup.pk)
    # the same duplicate posted again: the same answer, nothing more recorded
    assert err(call("post", "/api/v1/payments", pay(li, channel="alipay", txn_id="ALI-9"))) == (409, "already_paid")
    assert (posted().count(), Refund.objects.count()) == (2, 1)
    assert ledger_check() == []


@pytest.mark.parametrize("change, expected", [
    ({"amount": "399.99"}, (422, "amount_mismatch")),
    ({"name": "李五"}, (422, "name_mismatch")),
    ({"id_number": number("141102", "19700101", "011")}, (404, "not_registered")),
    ({"year": 2024}, (404, "not_registered")),
    ({"paid_at": "2025-11-26T10:00:00+08:00"}, (422, "payment_day_not_allowed")),  # Lüliang: days 1–25
    ({"paid_at": "2025-10-10T10:00:00+08:00"}, (422, "window_not_open")),
    ({"amount": 400.0}, (422, "invalid_input")),
    ({"amount": "-1"}, (422, "invalid_input")),
    ({"channel": "bitcoin"}, (422, "invalid_input")),
    ({"paid_at": "yesterday"}, (422, "invalid_input")),
    ({"paid_at": "2025-11-11T10:00:00+08:00"}, (422, "invalid_input")),  # after the business date
    ({"id_number": "123"}, (422, "invalid_input")),
    ({"txn_id": ""}, (422, "invalid_input")),
    ({"year": "abc"}, (422, "invalid_input")),
    ({"extra": 1}, (422, "invalid_input")),
])
def test_every_refusal_has_its_code_and_records_nothing(call, li, business_date, change, expected):
    if change.get("paid_at", "").startswith("2025-11-26"):
        business_date(date(2025, 11, 26))
    assert err(call("post", "/api/v1/payments", pay(li, **change))) == expected
    assert not posted().exists()
    assert Enrollment.objects.get(year=2026).status == "registered"


def test_dues_errors(call, li, business_date):
    assert err(call("get", "/api/v1/dues", id_number=li.id_number, name="李五", year="2026")) == (422, "name_mismatch")
    assert err(call("get", "/api/v1/dues", id_number=number("141102", "19700101", "011"), name="某",
                    year="2026")) == (404, "not_registered")
    assert err(call("get", "/api/v1/dues", id_number=li.id_number, name="李四", year="2027")) == (404, "not_registered")
    assert err(call("get", "/api/v1/dues", id_number=li.id_number, name="李四")) == (422, "invalid_input")
    business_date(date(2025, 11, 26))
    assert err(call("get", "/api/v1/dues", id_number=li.id_number, name="李四", year="2026")) == (
        422, "payment_day_not_allowed")


def test_tokens_and_scopes(call, li, staff_token):
    assert err(call("post", "/api/v1/payments", pay(li), token=None)) == (401, "unauthorized")
    assert err(call("post", "/api/v1/payments", pay(li), token=staff_token)) == (403, "forbidden")
    assert err(call("get", "/api/v1/dues", token=staff_token, id_number=li.id_number, name="李四",
                    year="2026")) == (403, "forbidden")


def test_paying_for_someone_else_records_the_payer(call, li):
    resp = call("post", "/api/v1/payments", pay(li, payer={"kind": "other_person", "id": "父亲证件", "name": "李父"}))
    assert resp.status_code == 201
    p = posted().get()
    assert (p.payer_kind, p.payer_name, p.name) == ("other_person", "李父", "李四")


def test_a_late_payment_prices_at_the_payment_date(call, business_date):
    business_date(date(2026, 1, 10))
    wang = person("141102", "19700101", "011", name="王五", today=date(2026, 1, 10))
    carried(wang, 2025)
    register(wang, 2026, date(2026, 1, 10))
    resp = call("post", "/api/v1/payments", pay(wang, txn_id="B-1", channel="bank",
                                                 paid_at="2026-01-10T09:00:00+08:00"))
    assert (resp.status_code, resp.json()["benefit_start"]) == (201, "2026-01-10")


def test_the_ledger_check_finds_an_enrollment_paid_without_a_payment(li):
    e = Enrollment.objects.get(year=2026)
    Enrollment.objects.filter(pk=e.pk).update(status="paid", paid_amount=Decimal("400.00"), paid_on=NOV,
                                              benefit_start=date(2026, 1, 1))
    assert [row[0] for row in ledger_check()] == [e.pk]


def test_ledger_records_are_append_only(call, li):
    from django.db import transaction
    from django.db.utils import DatabaseError

    call("post", "/api/v1/payments", pay(li))
    p = posted().get()
    with pytest.raises(DatabaseError), transaction.atomic():
        posted().filter(pk=p.pk).update(amount=Decimal("1.00"))
    with pytest.raises(DatabaseError), transaction.atomic():
        posted().filter(pk=p.pk).delete()
    assert posted().get().amount == Decimal("400.00")


def test_payment_records_show_the_deposit_time_never_the_amount_and_bank_ones_after_five_working_days(
        call, li, business_date):
    business_date(date(2025, 11, 10))
    call("post", "/api/v1/payments", pay(li, channel="bank", txn_id="BK-1"))
    resp = call("get", "/api/v1/payment-records", id_number=li.id_number, name="李四", year="2026")
    assert resp.status_code == 200
    assert resp.json() == {"name": "李四", "year": 2026, "records": [], "not_yet_visible": 1,
                           "note": "银行渠道缴费成功五个工作日后方可查询到入库记录"}
    business_date(date(2025, 11, 14))  # four working days later: not yet
    assert call("get", "/api/v1/payment-records", id_number=li.id_number, name="李四",
                year="2026").json()["not_yet_visible"] == 1
    business_date(date(2025, 11, 17))  # Mon 10th + 5 working days = Mon 17th
    records = call("get", "/api/v1/payment-records", id_number=li.id_number, name="李四", year="2026").json()
    assert records["records"] == [{"channel": "bank", "deposited_at": "2025-11-10T10:30:00+08:00",
                                   "status": "deposited"}]
    assert "400" not in json.dumps(records)


def test_a_bank_record_whose_visible_day_falls_in_a_year_without_holidays_stays_hidden_the_rest_answer(
        call, li, business_date):
    from core.models import CalendarDay, WorkdayCalendarYear

    business_date(date(2025, 12, 25))  # Thu: five working days later is in 2026
    assert call("post", "/api/v1/payments", pay(li, channel="bank", txn_id="BK-9",
                                                paid_at="2025-12-25T09:00:00+08:00")).status_code == 201
    assert err(call("post", "/api/v1/payments", pay(li, channel="wechat", txn_id="WX-9",
                                                    paid_at="2025-12-25T09:05:00+08:00"))) == (409, "already_paid")
    CalendarDay.objects.filter(date__year=2026).delete()
    WorkdayCalendarYear.objects.filter(year=2026).delete()
    business_date(date(2026, 1, 20))
    resp = call("get", "/api/v1/payment-records", id_number=li.id_number, name="李四", year="2026")
    assert resp.status_code == 200, resp.json()
    assert resp.json() == {
        "name": "李四", "year": 2026, "not_yet_visible": 1,
        "records": [{"channel": "wechat", "deposited_at": "2025-12-25T09:05:00+08:00",
                     "status": "duplicate_refund_queued"}],
        "note": "银行渠道缴费成功五个工作日后方可查询到入库记录（2026 年节假日安排尚未录入，暂无法确定可查询日期）"}


def test_a_college_student_pays_the_whole_course_at_once_at_this_years_price(call, business_date):
    stu = person("141102", "20050301", "021", name="赵同学", student="college")
    carried(stu, 2025)
    register(stu, 2026, NOV)
    resp = call("post", "/api/v1/payments", pay(stu, txn_id="C-1", amount="1600.00", course_years=4))
    assert resp.status_code == 201, resp.json()
    assert resp.json()["course_years"] == [2026, 2027, 2028, 2029]
    years = {e.year: e for e in Enrollment.objects.filter(resident=stu)}
    assert sorted(years) == [2025, 2026, 2027, 2028, 2029]
    for y in (2026, 2027, 2028, 2029):
        assert (years[y].status, years[y].paid_amount) == ("paid", Decimal("400.00"))
    assert (years[2028].benefit_start, years[2028].benefit_end) == (date(2028, 1, 1), date(2028, 12, 31))
    assert sorted(posted().values_list("txn_id", "amount")) == [
        ("C-1", Decimal("400.00")), ("C-1#2027", Decimal("400.00")), ("C-1#2028", Decimal("400.00")),
        ("C-1#2029", Decimal("400.00"))]
    assert ledger_check() == []
    again = call("post", "/api/v1/payments", pay(stu, txn_id="C-1", amount="1600.00", course_years=4))
    assert (again.status_code, again.json()) == (200, resp.json())


def test_the_course_at_once_is_for_college_students_where_the_policy_says_so(call, li, business_date):
    assert err(call("post", "/api/v1/payments", pay(li, amount="1600.00", course_years=4))) == (
        422, "invalid_input")
    stu = person("141102", "20050301", "021", name="赵同学", student="college")
    register(stu, 2026, NOV)
    assert err(call("post", "/api/v1/payments", pay(stu, txn_id="C-2", amount="1200.00",
                                                    course_years=4))) == (422, "amount_mismatch")
    assert not posted().exists()


@pytest.mark.parametrize("amount", ["1E+30", "1e3", "400.000", "+400.00", " 400.00", "４００.００", "٤٠٠.٠٠",
                                    "4_00.00", "99999999999999999999999999999.00", "-0.00", "NaN", "Infinity"])
def test_amounts_are_plain_two_decimal_strings(call, li, amount):
    assert err(call("post", "/api/v1/payments", pay(li, amount=amount))) == (422, "invalid_input")
    assert not posted().exists()


@pytest.mark.parametrize("paid_at", ["2025-W43-6T12:00:00+08:00", "20251024T120000+0800", "2025-10-26"])
def test_paid_at_is_a_full_iso_date_time(call, li, paid_at):
    assert err(call("post", "/api/v1/payments", pay(li, paid_at=paid_at))) == (422, "invalid_input")


def test_a_retry_spelled_differently_is_the_same_request(call, li):
    first = call("post", "/api/v1/payments", pay(li, amount="400.00", paid_at="2025-11-10T10:30:00+08:00"))
    for spelling in (dict(amount="400", paid_at="2025-11-10T02:30:00Z"), dict(name=" 李四 "),
                     dict(id_number=li.id_number.lower())):
        again = call("post", "/api/v1/payments", pay(li, **spelling))
        assert (again.status_code, again.json()) == (200, first.json()), spelling
    assert posted().count() == 1
