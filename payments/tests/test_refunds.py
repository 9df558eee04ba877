"""The refund queue (payments.refunds): every reason from request to payout, four eyes,
each refund a ledger record — read back from the database, the ledger checked after each."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from enrollment.models import Enrollment
from enrollment.tests.support import caseworker, paid_row, person, register
from payments import refunds
from payments.models import Payment, Refund
from payments.refunds import RefundError
from payments.services import ledger_check, payment_record
from payments.tests.test_api import carried
from subsidies.models import OwedRefund
from subsidies.roster import import_roster

pytestmark = pytest.mark.usefixtures("policies")
NOV = date(2025, 11, 10)
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def today(settings):
    def pin(day: date):
        settings.BUSINESS_DATE = day
    pin(NOV)
    return pin


@pytest.fixture
def li(today):
    r = person("141102", "19800501", name="李四")
    carried(r, 2025)  # continuously enrolled: benefits from 2026-01-01
    register(r, 2026, NOV)
    return r


@pytest.fixture
def a(db):
    return caseworker("caseworker_a", "141100")


@pytest.fixture
def b(db):
    return caseworker("caseworker_b", "141100")


def pay(resident, txn: str, channel: str = "wechat", amount: str = "400.00", year: int = 2026):
    return payment_record(channel=channel, txn_id=txn, id_number=resident.id_number, name=resident.name, year=year,
                          amount=Decimal(amount), paid_at=datetime.combine(NOV, time(10, 30), SH), actor="test")


def refund_records():
    return Payment.objects.filter(kind="refund")


def test_the_life_of_a_duplicate_payment_refund(li, a, b):
    applied = pay(li, "WX-1").payment
    dup = pay(li, "ALI-9", channel="alipay").payment
    assert dup.outcome == "duplicate"
    r = Refund.objects.get()  # requested by the system
    assert (r.reason, r.amount, r.status, r.requested_by_id, r.source_payment_id) == (
        "duplicate", Decimal("400.00"), "requested", None, dup.pk)
    refunds.refund_decide(refund=r, approve=True, actor=b, note="核实重复缴费")
    r.refresh_from_db()
    assert (r.status, r.decided_by_id, r.decision_note) == ("approved", b.pk, "核实重复缴费")
    # b approved it: b may not also pay out a request the system raised (four eyes)
    with pytest.raises(RefundError) as exc:
        refunds.refund_pay(refund=r, actor=b)
    assert exc.value.code == "four_eyes"
    assert not refund_records().exists()
    record = refunds.refund_pay(refund=r, actor=a)
    r.refresh_from_db()
    got = refund_records().get()
    assert record.pk == got.pk == r.payment_id
    assert (got.kind, got.outcome, got.channel, got.amount, got.refund_of_id, got.txn_id, got.enrollment_id,
            got.recorded_by_id) == ("refund", "refund", "refund", Decimal("-400.00"), dup.pk, f"RF-{r.pk}",
                                    applied.enrollment_id, a.pk)
    assert r.status == "paid"
    e = Enrollment.objects.get(resident=li, year=2026)
    assert (e.status, e.paid_amount) == ("paid", Decimal("400.00"))  # the applied payment stands
    # paid once: a second payout is refused, nothing more written
    with pytest.raises(RefundError) as exc:
        refunds.refund_pay(refund=r, actor=a)
    assert exc.value.code == "not_approved"
    assert refund_records().count() == 1
    assert ledger_check() == []


def test_a_refund_is_never_approved_by_its_requester(li, a, b):
    pay(li, "WX-1")
    dup = pay(li, "ALI-9", channel="alipay").payment
    system = Refund.objects.get()
    refunds.refund_decide(refund=system, approve=False, actor=b, note="待核实")
    system.refresh_from_db()
    assert (system.status, system.decision_note) == ("rejected", "待核实")
    # caseworker A asks again for the same money; A may not approve it
    mine = refunds.refund_request(enrollment=dup.enrollment, reason="duplicate", amount=Decimal("400.00"),
                                  actor=a, source_payment=dup, note="已核实")
    assert (mine.requested_by_id, mine.status) == (a.pk, "requested")
    with pytest.raises(RefundError) as exc:
        refunds.refund_decide(refund=mine, approve=True, actor=a)
    assert exc.value.code == "four_eyes" and "另一名经办人员" in exc.value.message
    mine.refresh_from_db()
    assert (mine.status, mine.decided_by_id) == ("requested", None)
    # the database refuses it too, whoever writes it
    with pytest.raises(IntegrityError), transaction.atomic():
        Refund.objects.filter(pk=mine.pk).update(decided_by=a, status="approved")
    # a decided refund is not decided again
    refunds.refund_decide(refund=mine, approve=True, actor=b)
    with pytest.raises(RefundError) as exc:
        refunds.refund_decide(refund=mine, approve=False, actor=caseworker("c", "141100"))
    assert exc.value.code == "already_decided"
    assert exc.value.message == f"退费申请 {mine.pk} 当前为“已审核（待退付）”，不能重复审核"  # not 已已审核
    with pytest.raises(RefundError) as exc:  # its requester trying to reject it: told it is decided
        refunds.refund_decide(refund=mine, approve=False, actor=a)
    assert exc.value.code == "already_decided"
    # a second request for a payment already in the queue is refused
    with pytest.raises(RefundError) as exc:
        refunds.refund_request(enrollment=dup.enrollment, reason="duplicate", amount=Decimal("400.00"),
                               actor=b, source_payment=dup)
    assert exc.value.code == "already_requested"
    assert Refund.objects.filter(status="approved").get().pk == mine.pk
    assert ledger_check() == []


def test_a_dynamic_adjustment_refund_from_the_roster_ends_with_the_owed_refund_paid(li, a, b, today):
    applied = pay(li, "WX-1").payment
    rows = f"姓名,身份证号码,困难类别,认定部门,认定日期\r\n李四,{li.id_number},低保对象,民政局,2025-12-01\r\n"
    import_roster(rows.encode(), "名单.csv", region="141100", year=2026, today=date(2025, 12, 5), actor="test")
    owed = OwedRefund.objects.get()
    assert (owed.amount, owed.status) == (Decimal("320.00"), "owed")
    today(date(2025, 12, 10))
    assert refunds.queue_owed_refunds(region="141100") == 1
    assert refunds.queue_owed_refunds(region="141100") == 0  # idempotent
    assert refunds.queue_owed_refunds() == 0
    r = Refund.objects.get()
    assert (r.reason, r.amount, r.status, r.owed_refund_id, r.source_payment_id, r.requested_by_id, r.year) == (
        "dynamic_adjustment", Decimal("320.00"), "requested", owed.pk, None, None, 2026)
    refunds.refund_decide(refund=r, approve=True, actor=b)
    got = refunds.refund_pay(refund=r, actor=a, txn_id="BANK-RF-0001")
    got.refresh_from_db()
    assert (got.amount, got.refund_of_id, got.txn_id, got.paid_on, got.outcome) == (
        Decimal("-320.00"), applied.pk, "BANK-RF-0001", date(2025, 12, 10), "refund")
    owed.refresh_from_db()
    r.refresh_from_db()
    assert (owed.status, r.status, r.payment_id) == ("paid", "paid", got.pk)
    assert refunds.queue_owed_refunds() == 0  # paid: never queued again
    e = Enrollment.objects.get(resident=li, year=2026)
    assert (e.status, e.paid_amount) == ("paid", Decimal("400.00"))
    # what is left of the payment is 80.00: cancelling the year refunds that, not 400.00
    today(date(2026, 3, 10))
    rest = refunds.enrollment_cancel_paid(enrollment=e, reason="本人申请注销", actor=b)
    assert rest.amount == Decimal("80.00")
    assert ledger_check() == []


def test_cancelling_a_paid_enrollment_stops_benefits_and_requests_its_refund(li, a, b, today):
    applied = pay(li, "WX-1").payment
    e = Enrollment.objects.get(resident=li, year=2026)
    assert (e.status, e.benefit_start, e.benefit_end) == ("paid", date(2026, 1, 1), date(2026, 12, 31))
    today(date(2026, 3, 10))
    r = refunds.enrollment_cancel_paid(enrollment=e, reason="参加职工医保，本人申请注销", actor=a)
    e.refresh_from_db()
    assert (e.status, e.benefit_end, e.cancel_reason, e.cancelled_by_id, e.paid_amount) == (
        "cancelled", date(2026, 3, 10), "参加职工医保，本人申请注销", a.pk, Decimal("400.00"))
    r.refresh_from_db()
    assert (r.reason, r.amount, r.status, r.requested_by_id, r.enrollment_id, r.source_payment_id) == (
        "cancel_paid", Decimal("400.00"), "requested", a.pk, e.pk, None)
    with pytest.raises(RefundError) as exc:
        refunds.enrollment_cancel_paid(enrollment=e, reason="again", actor=a)
    assert exc.value.code == "not_paid"
    with pytest.raises(RefundError):
        refunds.refund_decide(refund=r, approve=True, actor=a)
    with pytest.raises(RefundError) as exc:
        refunds.refund_pay(refund=r, actor=b)  # not approved yet
    assert exc.value.code == "not_approved"
    refunds.refund_decide(refund=r, approve=True, actor=b)
    got = refunds.refund_pay(refund=r, actor=b)
    assert (got.amount, got.refund_of_id, got.paid_on) == (Decimal("-400.00"), applied.pk, date(2026, 3, 10))
    assert Refund.objects.get().status == "paid"
    assert ledger_check() == []


def prepaid(resident, year: int) -> Payment:
    """A year of a college course paid at entry (its own payment on the ledger)."""
    e = paid_row(resident, year)
    return Payment.objects.create(
        channel="collective", txn_id=f"COURSE-{resident.id_number}-{year}", enrollment=e,
        id_number=resident.id_number, name=resident.name, region_id=e.region_id, year=year,
        amount=Decimal("400.00"), paid_at=datetime(2025, 12, 1, 10, tzinfo=SH), paid_on=date(2025, 12, 1),
        outcome="applied", payer_kind="collector", payer_name="吕梁学院")


def test_a_college_leaver_gets_the_remaining_whole_years_back(today, a, b):
    today(date(2026, 9, 10))
    wang = person("141102", "20060301", "021", name="王小明", student="college", school="吕梁学院")
    carried(wang, 2026)
    p27, p28 = prepaid(wang, 2027), prepaid(wang, 2028)
    out = refunds.college_leaver_refund(resident=wang, left_on=date(2026, 9, 1), actor=a, how="dropout")
    assert [(r.year, r.amount, r.reason, r.status, r.requested_by_id) for r in out] == [
        (2027, Decimal("400.00"), "college_leaver", "requested", a.pk),
        (2028, Decimal("400.00"), "college_leaver", "requested", a.pk)]
    years = {e.year: e for e in Enrollment.objects.filter(resident=wang)}
    assert (years[2026].status, years[2026].benefit_end) == ("paid", date(2026, 12, 31))  # the year left in stays
    assert (years[2027].status, years[2027].benefit_end) == ("cancelled", date(2026, 12, 31))  # never begins
    assert (years[2028].status, years[2028].benefit_end) == ("cancelled", date(2027, 12, 31))
    assert years[2027].cancel_reason == "大学生退学（2026-09-01离校），退还剩余年度"
    for r in out:
        refunds.refund_decide(refund=r, approve=True, actor=b)
        refunds.refund_pay(refund=r, actor=b)
    assert sorted(refund_records().values_list("year", "amount", "refund_of_id")) == [
        (2027, Decimal("-400.00"), p27.pk), (2028, Decimal("-400.00"), p28.pk)]
    assert set(Refund.objects.values_list("status", flat=True)) == {"paid"}
    # nothing left to give back; and only college students are refunded this way
    with pytest.raises(RefundError) as exc:
        refunds.college_leaver_refund(resident=wang, left_on=date(2026, 9, 1), actor=a)
    assert exc.value.code == "not_paid"
    zhao = person("141102", "19900101", "031", name="赵六")
    prepaid(zhao, 2027)
    with pytest.raises(RefundError) as exc:
        refunds.college_leaver_refund(resident=zhao, left_on=date(2026, 9, 1), actor=a)
    assert exc.value.code == "not_college"
    assert Enrollment.objects.get(resident=zhao).status == "paid"
    assert ledger_check() == []


def test_a_refund_may_not_exceed_what_is_left_of_the_payment(li, a):
    pay(li, "WX-1")
    e = Enrollment.objects.get(resident=li, year=2026)
    with pytest.raises(RefundError) as exc:
        refunds.refund_request(enrollment=e, reason="cancel_paid", amount=Decimal("400.01"), actor=a)
    assert exc.value.code == "over_refund"
    refunds.refund_request(enrollment=e, reason="cancel_paid", amount=Decimal("300.00"), actor=a)
    with pytest.raises(RefundError) as exc:
        refunds.refund_request(enrollment=e, reason="cancel_paid", amount=Decimal("100.01"), actor=a)
    assert exc.value.code == "over_refund" and "可退金额 100.00 元" in exc.value.message
    with pytest.raises(RefundError) as exc:
        refunds.refund_request(enrollment=e, reason="nonsense", amount=Decimal("1.00"), actor=a)
    assert exc.value.code == "invalid_input"
    assert Refund.objects.count() == 1
    assert ledger_check() == []


def test_the_approved_list_is_a_bom_csv_of_one_region_without_formulas(li, today, db):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from accounts.roles import CASEWORKER

    pay(li, "WX-1")
    pay(li, "=cmd|' /C calc'!A0", channel="alipay")
    approver = get_user_model().objects.create_user(username="@approver", password="x", is_staff=True)
    approver.groups.add(Group.objects.get(name=CASEWORKER))
    r = Refund.objects.get()
    refunds.refund_decide(refund=r, approve=True, actor=approver)
    body = refunds.approved_refunds_csv(region="141100")
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == refunds.EXPORT_HEADER
    assert len(rows) == 2
    row = rows[1]
    assert row[:7] == [str(r.pk), "李四", "141102********" + li.id_number[-4:], "吕梁市（141100）", "2026",
                       "重复缴费", "400.00"]
    assert row[8] == "'@approver" and row[10:] == ["支付宝", "'=cmd|' /C calc'!A0"]
    assert refunds.approved_refunds_csv(region="141100", full_ids=True).decode("utf-8-sig").count(li.id_number) == 1
    assert len(list(csv.reader(io.StringIO(refunds.approved_refunds_csv(region="330200").decode("utf-8-sig"))))) == 1


def test_a_roster_raising_the_owed_amount_updates_a_request_still_awaiting_approval(li, a, b, today):
    pay(li, "WX-1")
    header = "姓名,身份证号码,困难类别,认定部门,认定日期\r\n"
    import_roster((header + f"李四,{li.id_number},低保对象,民政局,2025-12-01\r\n").encode(), "名单.csv",
                  region="141100", year=2026, today=date(2025, 12, 5), actor="test")
    assert refunds.queue_owed_refunds(region=["141100"]) == 1
    import_roster((header + f"李四,{li.id_number},特困人员,民政局,2025-12-02\r\n").encode(), "名单.csv",
                  region="141100", year=2026, today=date(2025, 12, 6), actor="test")
    r = Refund.objects.get()
    refunds.refund_decide(refund=r, approve=True, actor=b)
    with pytest.raises(RefundError) as exc:  # approved for 320.00, owed 400.00 now
        refunds.refund_pay(refund=r, actor=a)
    assert exc.value.code == "amount_changed"
    assert not refund_records().exists()
    # a request not yet decided follows the roster
    Refund.objects.filter(pk=r.pk).update(status="requested", decided_by=None, decided_at=None)
    assert refunds.queue_owed_refunds() == 0
    r.refresh_from_db()
    assert r.amount == Decimal("400.00")
    refunds.refund_decide(refund=r, approve=True, actor=b)
    assert refunds.refund_pay(refund=r, actor=a).amount == Decimal("-400.00")
    assert OwedRefund.objects.get().status == "paid"
    assert ledger_check() == []


@pytest.mark.django_db(transaction=True)
def test_the_same_refund_paid_from_two_places_at_once_is_paid_once(li, a, b):
    import threading

    from django.db import connection

    pay(li, "WX-1")
    pay(li, "ALI-9", channel="alipay")
    r = Refund.objects.get()
    refunds.refund_decide(refund=r, approve=True, actor=b)
    start, codes = threading.Barrier(4), []

    def go():
        try:
            start.wait()
            refunds.refund_pay(refund=Refund.objects.get(pk=r.pk), actor=a)
            codes.append("paid")
        except RefundError as exc:
            codes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == ["not_approved", "not_approved", "not_approved", "paid"]
    assert refund_records().count() == 1 and Refund.objects.get().status == "paid"
    assert ledger_check() == []


def test_a_rejected_owed_refund_request_may_be_queued_again(li, b, today):
    pay(li, "WX-1")
    rows = f"姓名,身份证号码,困难类别,认定部门,认定日期\r\n李四,{li.id_number},低保对象,民政局,2025-12-01\r\n"
    import_roster(rows.encode(), "名单.csv", region="141100", year=2026, today=date(2025, 12, 5), actor="test")
    owed = OwedRefund.objects.get()
    today(date(2025, 12, 10))
    assert refunds.queue_owed_refunds(region="141100") == 1
    first = Refund.objects.get()
    refunds.refund_decide(refund=first, approve=False, actor=b, note="材料不全")
    assert refunds.queue_owed_refunds(region="141100") == 1  # rejected: a new request may follow
    assert refunds.queue_owed_refunds(region="141100") == 0
    again = Refund.objects.exclude(pk=first.pk).get()
    assert (again.owed_refund_id, again.status, again.amount) == (owed.pk, "requested", Decimal("320.00"))
    assert ledger_check() == []


def test_the_queue_command_queues_each_owed_refund_once(li, today, capsys):
    from django.core.management import call_command

    pay(li, "WX-1")
    rows = f"姓名,身份证号码,困难类别,认定部门,认定日期\r\n李四,{li.id_number},低保对象,民政局,2025-12-01\r\n"
    import_roster(rows.encode(), "名单.csv", region="141100", year=2026, today=date(2025, 12, 5), actor="test")
    call_command("queue_owed_refunds", region=["141100"])
    call_command("queue_owed_refunds")
    assert capsys.readouterr().out.split() == ['{"queued":', '1}', '{"queued":', '0}']
    assert Refund.objects.get().requested_actor == "manage.py queue_owed_refunds"
