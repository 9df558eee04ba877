"""Issue 13 in a real browser (Xianyang, business date 2024-12-01): a caseworker registers a
person in the flexible-employment scheme (灵活就业人员参保), sees a referral refused on the
form, records the payment on 2025-03-31 (an interruption of 3 months made up) on the payments
ledger and reads the record — plain Chinese, no console errors, a screenshot each."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from enrollment.tests.support import PASSWORD, caseworker, person
from flexible.models import FlexibleEnrollment
from payments.models import Payment

from .conftest import login
from .workbench import Watcher, assert_plain_chinese, shot, visible_text

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

DAY = date(2024, 12, 1)
URL = "/admin/flexible/flexibleenrollment/"


@pytest.fixture(autouse=True)
def _business_date(settings):
    settings.BUSINESS_DATE = DAY


def test_register_refuse_pay_and_read(page, live_server, settings):
    user = caseworker("xy_flex", "610400")
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="flexible"))
    wang = person("610402", "19700101", "017", name="王建国", today=DAY)
    li = person("610402", "19720101", "027", name="李特殊", today=DAY)
    watch = Watcher(page)
    login(page, live_server, "xy_flex", PASSWORD)

    # 1. a special group is referred to the service window, on the form, nothing written
    page.goto(f"{live_server.url}{URL}add/")
    page.fill("#id_id_number", li.id_number)
    page.fill("#id_year", "2025")
    page.select_option("#id_person_status", label="在职人员")
    page.select_option("#id_file_held_at", label="咸阳市再就业服务中心")
    page.check("#id_paid_previous_year")
    page.check("#id_special_group")
    assert_plain_chinese(visible_text(page), allow=("xy_flex",))
    shot(page, "issue13-flexible-add")
    page.click("input[name=_save]")
    expect(page.locator(".errornote, ul.errorlist.nonfield")).to_have_count(2)
    expect(page.locator("ul.errorlist.nonfield")).to_contain_text(
        "不能登记：特殊群体、困难军转干部、对越作战、涉核退休人员，请到咸阳市政务服务中心医保窗口咨询办理")
    assert not FlexibleEnrollment.objects.exists()
    assert_plain_chinese(visible_text(page), allow=("xy_flex",))
    shot(page, "issue13-flexible-refused")

    # 2. registered
    page.goto(f"{live_server.url}{URL}add/")
    page.fill("#id_id_number", wang.id_number)
    page.fill("#id_year", "2025")
    page.select_option("#id_person_status", label="在职人员")
    page.select_option("#id_file_held_at", label="咸阳市再就业服务中心")
    page.check("#id_paid_previous_year")
    page.click("input[name=_save]")
    page.wait_for_url(f"**{URL}")
    expect(page.locator("#result_list")).to_contain_text("王建国")
    expect(page.locator("#result_list")).to_contain_text("3676.80")
    e = FlexibleEnrollment.objects.get()
    assert (e.resident_id, e.amount_due, e.registered_by_id) == (wang.pk, Decimal("3676.80"), user.pk)

    # 3. the payment on 2025-03-31 (recorded on 2025-04-01): three months of interruption made up
    settings.BUSINESS_DATE = date(2025, 4, 1)  # a payment is never dated after the business day
    page.goto(f"{live_server.url}{URL}")
    page.check(f"input[name=_selected_action][value='{e.pk}']")
    page.select_option("select[name=action]", "record_payment")
    page.click("button[name=index]")
    page.wait_for_selector("input[name=paid_on]")
    page.fill("input[name=paid_on]", "2025-03-31")
    page.fill("input[name=amount]", "3676.80")
    expect(page.locator("select[name=channel]")).to_have_value("tax_hall")
    page.fill("input[name=txn_id]", "SW-20250331-0001")
    assert_plain_chinese(visible_text(page), allow=("xy_flex",))
    shot(page, "issue13-flexible-payment")
    page.click("input[type=submit][value=确定]")
    page.wait_for_url(f"**{URL}")
    expect(page.locator("ul.messagelist li.success")).to_have_text("已登记缴费 1 条")
    e.refresh_from_db()
    assert (e.status, e.timing, e.makeup_basic, e.benefit_start, e.certificate_from) == (
        "paid", "interrupted", Decimal("864.00"), date(2025, 3, 31), date(2025, 4, 5))
    p = Payment.objects.get()  # a ledger row, linked from the enrollment
    assert (p.scheme, p.channel, p.txn_id, p.amount, p.paid_on, e.payment_id) == (
        "flexible_employment", "tax_hall", "SW-20250331-0001", Decimal("3676.80"), date(2025, 3, 31), p.pk)

    # 4. the record, in words
    page.goto(f"{live_server.url}{URL}{e.pk}/change/")
    content = page.locator("#content")
    for text in ("基本医疗保险（元）", "3456.00", "大额医疗补助（元）", "172.80", "大病保险（元）", "48.00",
                 "中断 3 个月内恢复缴费（补足中断期间基本医疗保险费）", "864.00", "已缴费", "在职人员",
                 "办税服务厅 SW-20250331-0001，3676.80 元，2025-03-31",
                 "《社会保险费缴费证明》缴费 5 日后即 2025年4月5日 起可以打印"):
        expect(content).to_contain_text(text)
    expect(page.locator("input[name=_save]")).to_have_count(0)  # read-only: nothing to save
    assert_plain_chinese(visible_text(page), allow=("xy_flex",))
    shot(page, "issue13-flexible-record")
    watch.assert_clean()
