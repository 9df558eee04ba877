"""Cancelling a paid flexible-employment enrollment in a real browser (Xianyang, business date
2024-12-23): the 注销登记 page says a refund request will be made and when benefits stop, asks
for the tick, and with it cancels and queues the refund — plain Chinese, no console errors."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from enrollment.tests.support import PASSWORD, caseworker, person
from flexible.models import FlexibleEnrollment
from flexible.services import flexible_enroll, flexible_record_payment
from payments.models import Refund

from .conftest import login
from .workbench import Watcher, assert_plain_chinese, shot, visible_text

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

URL = "/admin/flexible/flexibleenrollment/"


def test_the_confirmation_page_then_the_refund_request(page, live_server, settings):
    settings.BUSINESS_DATE = date(2024, 12, 20)
    user = caseworker("xy_flex_cancel", "610400")
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="flexible"))
    wang = person("610402", "19700101", "017", name="王建国", today=date(2024, 12, 1))
    e = flexible_enroll(resident=wang, year=2025, person_status="in_service", file_held_at="reemployment_centre",
                        paid_previous_year=True, actor=None, today=date(2024, 12, 1))
    flexible_record_payment(enrollment=e, amount=Decimal("3676.80"), paid_on=date(2024, 12, 20), actor=None,
                            txn_id="SW-20241220-0001")
    settings.BUSINESS_DATE = date(2024, 12, 23)
    watch = Watcher(page)
    login(page, live_server, "xy_flex_cancel", PASSWORD)

    page.goto(f"{live_server.url}{URL}")
    page.check(f"input[name=_selected_action][value='{e.pk}']")
    page.select_option("select[name=action]", "cancel_with_reason")
    page.click("button[name=index]")
    notice = page.locator("#cancel-paid-notice")
    expect(notice).to_contain_text("注销已缴费的登记将同时生成退费申请")
    expect(notice).to_contain_text("待遇于 2024年12月23日 终止")
    expect(notice).to_contain_text("将申请退还 3676.80 元，待遇原定 2025年1月1日 开始，注销后不再享受")
    assert_plain_chinese(visible_text(page), allow=("xy_flex_cancel",))
    shot(page, "flexible-cancel-paid-confirm")
    page.fill("input[name=reason]", "参加职工医保，本人申请注销")
    page.check("input[name=refund_confirmed]")
    page.click("input[type=submit][value=确定]")
    page.wait_for_url(f"**{URL}")
    expect(page.locator("ul.messagelist li.success")).to_have_text(
        "已注销 1 条已缴费登记并提交退费申请，合计 3676.80 元，待另一名经办人员审核")
    row = FlexibleEnrollment.objects.get(pk=e.pk)
    assert (row.status, row.benefit_end) == ("cancelled", date(2024, 12, 31))
    r = Refund.objects.get()
    assert (r.reason, r.amount, r.status, r.requested_by_id, r.enrollment_id) == (
        "cancel_paid", Decimal("3676.80"), "requested", user.pk, None)
    watch.assert_clean()
