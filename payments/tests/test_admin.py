"""The payments admin: 缴费流水 (read-only, masked, searched by ID or txn id, 渠道日汇总) and
退费申请 (actions through the services, four eyes as a message, 生成资助退费申请, the CSV) —
each region's staff seeing only their own rows."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages

from enrollment import idnumbers
from enrollment.tests.support import auditor, caseworker, person, register
from payments import refunds
from payments.models import Payment, Refund
from payments.services import ledger_check, payment_record
from payments.tests.test_api import carried
from subsidies.models import OwedRefund
from subsidies.roster import import_roster

pytestmark = pytest.mark.usefixtures("policies")
NOV = date(2025, 11, 10)
SH = ZoneInfo("Asia/Shanghai")
PAYMENTS = "/admin/payments/payment/"
REFUNDS = "/admin/payments/refund/"


@pytest.fixture(autouse=True)
def business_date(settings):
    settings.BUSINESS_DATE = NOV


@pytest.fixture
def li(db):
    r = person("141102", "19800501", name="李四")
    carried(r, 2025)
    register(r, 2026, NOV)
    return r


def pay(resident, txn: str, channel: str = "wechat", amount: str = "400.00"):
    return payment_record(channel=channel, txn_id=txn, id_number=resident.id_number, name=resident.name, year=2026,
                          amount=Decimal(amount), paid_at=datetime.combine(NOV, time(10, 30), SH), actor="test")


@pytest.fixture
def dup(li):
    pay(li, "WX-1")
    return pay(li, "ALI-9", channel="alipay").payment


def said(resp) -> list[str]:
    return [str(m) for m in get_messages(resp.wsgi_request)]


def test_the_ledger_list_is_masked_searchable_and_read_only(client, dup, li):
    client.force_login(caseworker("cw_a", "141100"))
    resp = client.get(PAYMENTS)
    # (the test's carried-over year has the number in its transaction id: set aside)
    body = resp.content.decode().replace(f"OLD-{li.id_number}-2025", "")
    assert resp.status_code == 200
    assert idnumbers.mask(li.id_number) in body and li.id_number not in body
    assert "渠道日汇总" in body and "WX-1" in body and "ALI-9" in body
    found = client.get(PAYMENTS, {"q": li.id_number})
    assert list(found.context["cl"].queryset.values_list("txn_id", flat=True).order_by("txn_id")) == [
        "ALI-9", "OLD-" + li.id_number + "-2025", "WX-1"]
    by_txn = client.get(PAYMENTS, {"q": "ALI-9"})
    assert [p.pk for p in by_txn.context["cl"].queryset] == [dup.pk]
    by_channel = client.get(PAYMENTS, {"channel__exact": "wechat", "outcome__exact": "applied"})
    assert [p.txn_id for p in by_channel.context["cl"].queryset] == ["WX-1"]
    by_day = client.get(PAYMENTS, {"paid_on__gte": "2025-11-10", "paid_on__lt": "2025-11-11", "year": "2026"})
    assert sorted(p.txn_id for p in by_day.context["cl"].queryset) == ["ALI-9", "WX-1"]
    page = client.get(f"{PAYMENTS}{dup.pk}/change/").content.decode()
    assert idnumbers.mask(li.id_number) in page and li.id_number not in page
    assert "首次应答" not in page and "already_paid" not in page  # no raw JSON
    assert 'name="_save"' not in page
    assert client.get(f"{PAYMENTS}{dup.pk}/delete/").status_code == 403
    assert client.get(f"{PAYMENTS}add/").status_code == 403


def test_the_channel_day_summary_adds_up_payments_and_refunds(client, dup, li):
    b = caseworker("cw_b", "141100")
    r = Refund.objects.get()
    refunds.refund_decide(refund=r, approve=True, actor=b)
    refunds.refund_pay(refund=r, actor=caseworker("cw_c", "141100"))  # the system's request: another pays
    client.force_login(b)
    resp = client.get(f"{PAYMENTS}summary/", {"date_from": "2025-11-01", "date_to": "2025-11-30", "region": ""})
    rows = {(row["paid_on"], row["channel"]): (row["paid_n"], row["paid_sum"], row["refund_n"], row["refund_sum"],
                                              row["net"]) for row in resp.context["rows"]}
    assert rows == {
        (NOV, "wechat"): (1, Decimal("400.00"), 0, 0, Decimal("400.00")),
        (NOV, "alipay"): (1, Decimal("400.00"), 0, 0, Decimal("400.00")),
        (NOV, "refund"): (0, 0, 1, Decimal("-400.00"), Decimal("-400.00")),
    }
    assert resp.context["totals"] == {"paid_n": 2, "paid_sum": Decimal("800.00"), "refund_n": 1,
                                      "refund_sum": Decimal("-400.00"), "net": Decimal("400.00")}
    assert "微信" in resp.content.decode() and "退费" in resp.content.decode()
    bad = client.get(f"{PAYMENTS}summary/", {"date_from": "2025-12-01", "date_to": "2025-11-01"})
    assert "起始日期晚于结束日期" in bad.content.decode()
    assert ledger_check() == []


def test_approve_and_pay_from_the_refund_queue(client, dup):
    b = caseworker("cw_b", "141100")
    client.force_login(b)
    r = Refund.objects.get()
    listing = client.get(REFUNDS).content.decode()
    assert "待审核" in listing and "生成资助退费申请" in listing and "导出已审核退费清单" in listing
    resp = client.post(REFUNDS, {"action": "approve", "_selected_action": [r.pk]}, follow=True)
    assert "已审核通过 1 条" in said(resp)
    r.refresh_from_db()
    assert (r.status, r.decided_by_id) == ("approved", b.pk)
    # the system raised it and b approved it: b may not pay it out too (four eyes), nothing written
    resp = client.post(REFUNDS, {"action": "pay", "_selected_action": [r.pk]}, follow=True)
    assert any("由系统生成、由您本人审核" in m and "双人复核" in m for m in said(resp))
    assert not Payment.objects.filter(kind="refund").exists()
    client.force_login(caseworker("cw_c", "141100"))
    resp = client.post(REFUNDS, {"action": "pay", "_selected_action": [r.pk]}, follow=True)
    assert "已退付 1 条" in said(resp)
    r.refresh_from_db()
    got = Payment.objects.get(kind="refund")
    assert (r.status, r.payment_id, got.amount, got.refund_of_id) == ("paid", got.pk, Decimal("-400.00"), dup.pk)
    assert ledger_check() == []


def test_a_caseworker_approving_their_own_request_sees_a_message_not_an_error(client, dup):
    a = caseworker("cw_a", "141100")
    system = Refund.objects.get()
    refunds.refund_decide(refund=system, approve=False, actor=caseworker("cw_b", "141100"), note="重复")
    mine = refunds.refund_request(enrollment=dup.enrollment, reason="duplicate", amount=Decimal("400.00"),
                                  actor=a, source_payment=dup)
    client.force_login(a)
    resp = client.post(REFUNDS, {"action": "approve", "_selected_action": [mine.pk]}, follow=True)
    assert resp.status_code == 200
    assert any("由您本人申请" in m and "双人复核" in m for m in said(resp))
    mine.refresh_from_db()
    assert (mine.status, mine.decided_by_id) == ("requested", None)
    # reject asks for a note first, then goes through the same service (and the same refusal)
    form = client.post(REFUNDS, {"action": "reject", "_selected_action": [mine.pk]})
    assert "审核意见" in form.content.decode()
    resp = client.post(REFUNDS, {"action": "reject", "_selected_action": [mine.pk], "apply": "1",
                                 "note": "不同意"}, follow=True)
    assert any("由您本人申请" in m for m in said(resp))
    assert Refund.objects.get(pk=mine.pk).status == "requested"


def test_the_queue_button_turns_owed_assistance_into_requests_of_my_regions_only(client, li):
    pay(li, "WX-1")
    rows = f"姓名,身份证号码,困难类别,认定部门,认定日期\r\n李四,{li.id_number},低保对象,民政局,2025-12-01\r\n"
    import_roster(rows.encode(), "名单.csv", region="141100", year=2026, today=date(2025, 12, 5), actor="test")
    client.force_login(caseworker("cw_ningbo", "330200"))
    resp = client.post(f"{REFUNDS}queue-owed/", follow=True)
    assert "没有待生成的资助部分应退记录" in said(resp)
    assert not Refund.objects.exists()
    a = caseworker("cw_a", "141100")
    client.force_login(a)
    assert client.get(f"{REFUNDS}queue-owed/").status_code == 405
    resp = client.post(f"{REFUNDS}queue-owed/", follow=True)
    assert "已生成资助退费申请 1 条" in said(resp)
    r = Refund.objects.get()
    assert (r.reason, r.amount, r.requested_by_id, r.owed_refund_id) == (
        "dynamic_adjustment", Decimal("320.00"), a.pk, OwedRefund.objects.get().pk)
    # whoever queued it does not approve it
    resp = client.post(REFUNDS, {"action": "approve", "_selected_action": [r.pk]}, follow=True)
    assert any("由您本人申请" in m for m in said(resp))
    assert client.post(f"{REFUNDS}queue-owed/", follow=True).status_code == 200
    assert Refund.objects.count() == 1
    assert ledger_check() == []


def test_each_region_sees_only_its_own_ledger_and_refunds(client, dup, li):
    b = caseworker("cw_b", "141100")
    refunds.refund_decide(refund=Refund.objects.get(), approve=True, actor=b)
    r = Refund.objects.get()
    ningbo = caseworker("cw_ningbo", "330200")
    client.force_login(ningbo)
    assert list(client.get(PAYMENTS).context["cl"].queryset) == []
    assert list(client.get(PAYMENTS, {"q": li.id_number}).context["cl"].queryset) == []
    assert client.get(f"{PAYMENTS}{dup.pk}/change/").status_code == 404
    assert list(client.get(REFUNDS).context["cl"].queryset) == []
    assert client.get(f"{REFUNDS}{r.pk}/change/").status_code == 404
    assert client.get(f"{PAYMENTS}summary/", {"date_from": "2025-11-01", "date_to": "2025-11-30"}
                      ).context["rows"] == []
    body = client.get(f"{REFUNDS}export/").content.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(body)))) == 1  # the header only
    assert client.get(f"{REFUNDS}export/", {"region": "141100"}).status_code == 403
    # acting on another region's refund by its id changes nothing
    client.post(REFUNDS, {"action": "pay", "_selected_action": [r.pk]})
    assert Refund.objects.get(pk=r.pk).status == "approved"
    # Lüliang's own staff get the row; the export has it, masked
    client.force_login(caseworker("cw_a", "141100"))
    resp = client.get(f"{REFUNDS}export/", {"region": "141100"})
    assert resp["Content-Type"] == "text/csv; charset=utf-8" and resp.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert [row[:3] for row in rows[1:]] == [[str(r.pk), "李四", idnumbers.mask(li.id_number)]]
    assert ledger_check() == []


def test_an_auditor_reads_the_queue_but_has_no_actions(client, dup):
    client.force_login(auditor())
    # a user of every region asking for a region that is no code: 404, not a 500 (a NUL reached SQL)
    for bad in ("\x00", "14110\x00", "abc", "999999", "1411000"):
        assert client.get(f"{REFUNDS}export/", {"region": bad}).status_code == 404, repr(bad)
    assert client.get(f"{REFUNDS}export/", {"region": "141100"}).status_code == 200
    resp = client.get(REFUNDS)
    assert resp.status_code == 200 and Refund.objects.get().name in resp.content.decode()
    assert "生成资助退费申请" not in resp.content.decode()
    r = Refund.objects.get()
    client.post(REFUNDS, {"action": "approve", "_selected_action": [r.pk]})
    assert Refund.objects.get().status == "requested"
    assert client.post(f"{REFUNDS}queue-owed/").status_code == 403


def test_a_caseworker_asks_for_a_refund_on_the_request_page(client, li, settings):
    from enrollment.models import Enrollment

    pay(li, "WX-1")
    a = caseworker("cw_a", "141100")
    settings.BUSINESS_DATE = date(2026, 3, 10)
    client.force_login(caseworker("cw_ningbo", "330200"))
    resp = client.post(f"{REFUNDS}request/", {"kind": "cancel_paid", "id_number": li.id_number, "year": "2026",
                                              "reason": "本人申请"})
    assert "未找到该参保人，或不在您的经办地区内" in resp.content.decode()
    client.force_login(a)
    assert "申请退费" in client.get(REFUNDS).content.decode()
    resp = client.post(f"{REFUNDS}request/", {"kind": "cancel_paid", "id_number": li.id_number, "year": "2026"})
    assert "请填写注销原因" in resp.content.decode()
    resp = client.post(f"{REFUNDS}request/", {"kind": "college_leaver", "id_number": li.id_number,
                                              "left_on": "2026-03-01", "how": "dropout"})
    assert "不是大学生" in resp.content.decode()  # the service's refusal, on the form
    resp = client.post(f"{REFUNDS}request/", {"kind": "cancel_paid", "id_number": li.id_number.lower(),
                                              "year": "2026", "reason": "参加职工医保"}, follow=True)
    assert "已提交退费申请 1 条，合计 400.00 元，待另一名经办人员审核" in said(resp)
    r = Refund.objects.get()
    assert (r.reason, r.amount, r.requested_by_id, r.status) == ("cancel_paid", Decimal("400.00"), a.pk, "requested")
    e = Enrollment.objects.get(pk=r.enrollment_id)
    assert (e.status, e.benefit_end, e.cancel_reason) == ("cancelled", date(2026, 3, 10), "参加职工医保")
    assert ledger_check() == []


def test_a_cancelled_years_refund_rejected_can_be_asked_for_again(client, li, settings):
    from enrollment.models import Enrollment

    pay(li, "WX-1")
    a, b = caseworker("cw_a", "141100"), caseworker("cw_b", "141100")
    settings.BUSINESS_DATE = date(2026, 3, 10)
    e = Enrollment.objects.get(resident=li, year=2026)
    first = refunds.enrollment_cancel_paid(enrollment=e, reason="参加职工医保", actor=a)
    refunds.refund_decide(refund=first, approve=False, actor=b, note="缺少职工参保证明")
    client.force_login(a)
    again = {"kind": "cancel_paid", "id_number": li.id_number, "year": "2026", "reason": "已补交职工参保证明"}
    resp = client.post(f"{REFUNDS}request/", again, follow=True)
    assert "已提交退费申请 1 条，合计 400.00 元，待另一名经办人员审核" in said(resp)
    second = Refund.objects.exclude(pk=first.pk).get()
    assert (second.reason, second.amount, second.status, second.requested_by_id, second.enrollment_id, second.note) == (
        "cancel_paid", Decimal("400.00"), "requested", a.pk, e.pk, "已注销登记再次申请退费：已补交职工参保证明")
    e.refresh_from_db()
    # the cancellation stands as it was made: the first reason, benefits ended on its day
    assert (e.status, e.cancel_reason, e.benefit_end) == ("cancelled", "参加职工医保", date(2026, 3, 10))
    # while that request is open, a third is refused with words, and nothing more is queued
    resp = client.post(f"{REFUNDS}request/", again)
    assert "2026 年度缴费已全部退还或在退费中" in resp.content.decode()
    assert Refund.objects.count() == 2
    # a caseworker of another region finds nothing to ask for
    client.force_login(caseworker("cw_ningbo", "330200"))
    resp = client.post(f"{REFUNDS}request/", again)
    assert "未找到该参保人，或不在您的经办地区内" in resp.content.decode() and Refund.objects.count() == 2
    assert ledger_check() == []
