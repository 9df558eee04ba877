"""The refund queue in the browser: caseworker A cancels a paid year, which asks for its
refund; A may not approve it (a message, not an error page); caseworker B approves it in
退费申请 and sees 已审核, then pays it out."""

from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from enrollment import idnumbers
from enrollment.models import Enrollment
from enrollment.tests.support import PASSWORD, caseworker, person, register
from payments import refunds
from payments.models import Payment, Refund
from payments.services import ledger_check, payment_carry_over, payment_record

from .conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _business_date(settings):
    settings.BUSINESS_DATE = date(2025, 11, 10)


def approve_in_the_list(page, live_server, refund_pk):
    page.goto(f"{live_server.url}/admin/payments/refund/")
    page.check(f"input[name=_selected_action][value='{refund_pk}']")
    page.select_option("select[name=action]", "approve")
    page.click("button[name=index]")
    page.wait_for_load_state()


def test_a_refund_requested_by_a_is_approved_by_b(page, browser, live_server, settings):
    a = caseworker("ll_a", "141100")
    caseworker("ll_b", "141100")
    li = person("141102", "19800501", name="李四")
    payment_carry_over(resident=li, year=2025, region="141100", amount=Decimal("380.00"),
                       paid_at=datetime(2024, 12, 1, 10, tzinfo=SH), txn_id="OLD-1", actor="test")
    register(li, 2026, date(2025, 11, 10))
    payment_record(channel="wechat", txn_id="WX-1", id_number=li.id_number, name="李四", year=2026,
                   amount=Decimal("400.00"), paid_at=datetime.combine(date(2025, 11, 10), time(10), SH), actor="test")
    settings.BUSINESS_DATE = date(2026, 3, 10)
    r = refunds.enrollment_cancel_paid(enrollment=Enrollment.objects.get(resident=li, year=2026),
                                       reason="参加职工医保，本人申请注销", actor=a)

    login(page, live_server, "ll_a", PASSWORD)
    approve_in_the_list(page, live_server, r.pk)
    body = page.inner_text("body")
    assert "由您本人申请，须由另一名经办人员审核" in body and "Traceback" not in body
    assert Refund.objects.get().status == "requested"

    other = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    b_page = other.new_page()
    b_page.set_default_timeout(15000)
    console = []
    b_page.on("console", lambda m: console.append(m.text))
    try:
        login(b_page, live_server, "ll_b", PASSWORD)
        b_page.goto(f"{live_server.url}/admin/")
        b_page.click("text=退费申请")
        b_page.wait_for_url("**/admin/payments/refund/")
        listing = b_page.inner_text("#result_list")
        assert "待审核" in listing and "已缴费登记注销" in listing and "400.00" in listing
        assert idnumbers.mask(li.id_number) in listing and li.id_number not in listing
        approve_in_the_list(b_page, live_server, r.pk)
        assert "已审核通过 1 条" in b_page.inner_text("body")
        expect(b_page.locator("#result_list td.field-status")).to_have_text("已审核（待退付）")
        SHOTS.mkdir(parents=True, exist_ok=True)
        b_page.screenshot(path=str(SHOTS / "refund-approved.png"), full_page=True)

        b_page.check(f"input[name=_selected_action][value='{r.pk}']")
        b_page.select_option("select[name=action]", "pay")
        b_page.click("button[name=index]")
        b_page.wait_for_load_state()
        expect(b_page.locator("#result_list td.field-status")).to_have_text("已退付")
        assert f"RF-{r.pk}" in b_page.inner_text("#result_list")
        b_page.goto(f"{live_server.url}/admin/payments/payment/summary/")
        assert "渠道日汇总" in b_page.inner_text("body")
        assert not [m for m in console if "Content Security Policy" in m]
    finally:
        other.close()
    r.refresh_from_db()
    assert (r.status, r.decided_by.username) == ("paid", "ll_b")
    assert Payment.objects.get(kind="refund").amount == Decimal("-400.00")
    assert ledger_check() == []
