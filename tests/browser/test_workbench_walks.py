"""Issue 12 in a real browser: a caseworker of two regions (宁波, 西宁) on 2024-11-20 walks the
home page and its charts, searches residents by ID number and by name, reads the enrollment
list at 1400 px, starts the default renewal and follows its live status, and prints a school's
payment notice; the policy administrator and the auditor each see their own home page.  Every
page in plain Chinese, no console errors, no 4xx/5xx, a screenshot each."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from accounts.roles import POLICY_ADMIN
from core import batch
from core.models import BatchRun
from core.tasks import refresh_figures
from enrollment import idnumbers
from enrollment.models import Enrollment, ReregistrationNotice
from enrollment.tests.support import PASSWORD, auditor, caseworker, clone, paid_row, person, register
from payments.services import payment_record

from .conftest import login
from .workbench import Watcher, assert_plain_chinese, shot, visible_text

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

DAY = date(2024, 11, 1)
SH = ZoneInfo("Asia/Shanghai")
SCHOOL = "宁波实验小学"


def charts_drawn(page) -> list:
    """[canvas id, drawn by Chart.js with a size] of every chart on the page."""
    return page.locator("canvas[data-chart]").evaluate_all(
        "cs => cs.map(c => [c.id, c.width > 0 && c.height > 0 && !!Chart.getChart(c)])")


def test_a_caseworker_of_two_regions_walks_the_workbench(page, live_server, settings):
    settings.BUSINESS_DATE = date(2024, 11, 20)
    clone("330200", 2025, 2026)  # next year published: default renewal can start
    caseworker("zhoujing", "330200", "630100")
    pupils = [person("330203", f"2015010{i}", f"0{i}1", name=name, student="primary_secondary", school=SCHOOL,
                     today=DAY) for i, name in enumerate(["王小明", "李小红", "赵小刚"], start=1)]
    for p in pupils:
        register(p, 2025, DAY, via="school")
    ouyang = person("330203", "19800101", "017", name="欧阳建国", today=DAY)
    register(ouyang, 2025, DAY)
    payment_record(channel="wechat", txn_id="wx-walk-1", id_number=pupils[2].id_number, name=pupils[2].name,
                   year=2025, amount=Decimal("290.00"), paid_at=datetime(2024, 11, 15, 10, tzinfo=SH), actor=None)
    Enrollment.objects.filter(resident=ouyang).update(assistance_identity="dibao",
                                                      assistance_amount=Decimal("780.00"))
    xining = person("630102", "19750101", "031", name="司马相如", today=DAY)
    paid_row(xining, 2025)
    ReregistrationNotice.objects.create(resident=xining, region_id="630100", year=2026, reason="permit_expired")
    refresh_figures()

    watch = Watcher(page)
    page.set_viewport_size({"width": 1400, "height": 900})
    login(page, live_server, "zhoujing", PASSWORD)

    # the home page: every group a chart drawn from the numbers in the table beside it
    assert charts_drawn(page) == [[f"{p}-chart", True] for p in ("enrollment", "payments", "assisted",
                                                                   "reregistration", "pool")]
    assert page.locator("#payments-figures tbody tr").all_inner_texts() == [
        "2024-11-15\t微信\t1\t290.00", "合计\t\t1\t290.00"]
    assert page.evaluate("() => Chart.getChart(document.getElementById('payments-chart')).data.datasets"
                         ".map(d => [d.label, d.data.reduce((a, b) => a + b, 0)])") == [["微信", 1]]
    assert page.locator("#assisted-figures tbody tr").all_inner_texts() == [
        "宁波市\t2025\t政府全额补助\t1\t780.00"]
    assert page.locator("#reregistration-figures tbody tr").all_inner_texts() == [
        "西宁市\t2026\t外地户籍居住证失效\t1", "合计\t\t\t1"]
    assert page.locator("#panel-batches").inner_text().endswith("没有正在进行或失败的导入与批处理。\n\n全部批处理任务")
    # both regions offer 共济缴费, neither policy names the batch's date: said so, not guessed
    assert [r.split("\t")[:5] for r in page.locator("#pool-figures tbody tr").all_inner_texts()] == [
        ["宁波市", "2025", "未定", "未开始（政策未定划扣日期）", "—"],
        ["西宁市", "2025", "未定", "未开始（政策未定划扣日期）", "—"]]
    assert_plain_chinese(visible_text(page, "#home-figures"))
    shot(page, "workbench-home-panels")

    # search: by the full ID number, and by the start of a name
    page.goto(f"{live_server.url}/admin/enrollment/resident/?q={ouyang.id_number}")
    rows = page.locator("#result_list tbody tr").all_inner_texts()
    assert len(rows) == 1 and "欧阳建国" in rows[0] and idnumbers.mask(ouyang.id_number) in rows[0]
    assert ouyang.id_number not in page.inner_text("#result_list")
    page.fill("#searchbar", "李小")
    page.press("#searchbar", "Enter")
    page.wait_for_url("**q=*")
    rows = page.locator("#result_list tbody tr").all_inner_texts()
    assert len(rows) == 1 and "李小红" in rows[0]
    assert_plain_chinese(visible_text(page))
    shot(page, "workbench-search")

    # the enrollment list of two regions at 1400 px: one line per name, nothing scrolls sideways
    page.goto(f"{live_server.url}/admin/enrollment/enrollment/")
    heights = page.locator("#result_list .field-name, #result_list th.field-name").evaluate_all(
        "cells => cells.map(c => c.getBoundingClientRect().height)")
    line = page.locator("#result_list td.field-year").first.evaluate("c => c.getBoundingClientRect().height")
    assert len(heights) == 5 and all(h <= line + 1 for h in heights), (heights, line)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1400
    widths = page.locator("#changelist .results").evaluate("r => [r.scrollWidth, r.clientWidth]")
    assert widths[0] <= widths[1], (widths, page.locator("#result_list thead th").evaluate_all(
        "c => c.map(x => [x.innerText, Math.round(x.getBoundingClientRect().width)])"),
        page.locator("#result_list tbody tr").first.locator("td, th").evaluate_all(
        "c => c.map(x => [x.innerText, Math.round(x.getBoundingClientRect().width)])"))
    text = visible_text(page)
    assert "西宁市" in text and "宁波市" in text
    assert_plain_chinese(text)
    shot(page, "workbench-enrollment-list-two-regions-1400")

    # default renewal from the list, and its live status on the batch page
    first = Enrollment.objects.get(resident=ouyang)
    page.check(f"input[name=_selected_action][value='{first.pk}']")
    page.select_option("select[name=action]", "start_default_renewal")
    page.click("button[name=index]")
    run = BatchRun.objects.get(kind="renew_enrollments")
    assert page.locator("ul.messagelist li.success").inner_text() == f"已开始宁波市 2026 年度默认续保（批处理任务 #{run.pk}）"
    page.goto(f"{live_server.url}/admin/")  # the home page lists it as running, linked
    link = page.locator("#batches-figures a", has_text=f"#{run.pk}")
    expect(link).to_have_count(1)
    link.click()
    page.wait_for_url(f"**/admin/core/batchrun/{run.pk}/change/")
    assert "本页每 2 秒自动刷新" in page.inner_text("body")
    expect(page.locator(".field-status .readonly")).to_have_text("排队中")
    batch.run_inline(BatchRun.objects.get(pk=run.pk))  # the worker's part, here
    expect(page.locator(".field-status .readonly")).to_have_text("已完成", timeout=10000)
    assert_plain_chinese(visible_text(page))
    shot(page, "workbench-renewal-done")

    # the school's payment notice, from 业务工具 on the home page
    page.goto(f"{live_server.url}/admin/")
    page.click("a:text('代收缴费通知单')")
    expect(page.locator("#id_region")).to_have_value("330200")
    expect(page.locator("#id_year")).to_have_value("2025")
    page.fill("#id_collector", SCHOOL)
    page.click("input[type=submit][value=生成通知单]")
    page.wait_for_selector("#notice-list")
    assert page.locator("#notice-list tbody tr").all_inner_texts() == [
        f"1\t李小红\t{idnumbers.mask(pupils[1].id_number)}\t待缴费\t290.00\t",
        f"2\t王小明\t{idnumbers.mask(pupils[0].id_number)}\t待缴费\t290.00\t",
        f"3\t赵小刚\t{idnumbers.mask(pupils[2].id_number)}\t已缴费\t—\t已于 2024-11-15 缴费 290.00 元"]
    expect(page.locator("#notice-total")).to_have_text("580.00")
    assert_plain_chinese(visible_text(page))
    shot(page, "workbench-collector-notice")
    pdf = page.request.get(live_server.url + page.locator("#notice-pdf").get_attribute("href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.body()[:4] == b"%PDF"
    watch.assert_clean()


def test_the_policy_administrator_and_the_auditor_see_their_own_home_page(page, live_server, settings):
    settings.BUSINESS_DATE = date(2026, 11, 30)
    admin_user = get_user_model().objects.create_user(username="wangzheng", password=PASSWORD, is_staff=True)
    admin_user.groups.add(Group.objects.get(name=POLICY_ADMIN))
    auditor("liushen")
    person("330203", "19800101", "017", name="张一", today=DAY)  # an operation for the trail
    BatchRun.objects.create(kind="import_residents", status="failed", params={"file": "名单.xlsx"})

    watch = Watcher(page)
    login(page, live_server, "wangzheng", PASSWORD)
    assert charts_drawn(page) == [["policy-chart", True]]
    rows = page.locator("#policy-figures tbody tr").all_inner_texts()
    assert any(r.startswith("吕梁市\t2026\t已发布\t") and "城乡居民财政补助" in r for r in rows), rows
    assert page.locator("#enrollment-figures").count() == 0
    assert_plain_chinese(visible_text(page, "#home-figures"))
    shot(page, "workbench-home-policy-admin")
    page.context.clear_cookies()

    login(page, live_server, "liushen", PASSWORD)
    assert charts_drawn(page) == [["changes-chart", True], ["batches-failed-chart", True]]
    assert page.locator("#batches-failed-figures tbody tr").all_inner_texts()[0].startswith("导入参保人 #")
    assert "全部变更记录" in page.inner_text("#panel-changes")
    assert_plain_chinese(visible_text(page, "#home-figures"))
    shot(page, "workbench-home-auditor")
    watch.assert_clean()
