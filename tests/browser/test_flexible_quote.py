"""Issue 13 in a real browser: the 缴费测算 page offers 灵活就业人员医疗保险.  A Xianyang
caseworker (business date 2024-12-01) picks the scheme, sees the resident facts give way to
the flexible ones, quotes an interruption of three months made up (each part, make-up,
timing, benefit start, certificate date in words), a retired person (no basic part), and a
region without the scheme refused in words — no codes, no console errors, a screenshot each."""

from datetime import date

import pytest
from playwright.sync_api import expect

from enrollment.tests.support import PASSWORD, caseworker

from .conftest import login
from .workbench import Watcher, assert_plain_chinese, shot, visible_text

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

DAY = date(2024, 12, 1)
URL = "/admin/quote/"


@pytest.fixture(autouse=True)
def _business_date(settings):
    settings.BUSINESS_DATE = DAY


def cell(page, head: str):
    return page.locator(f"#flexible-result tr:has(th:text-is('{head}')) td")


def test_the_calculator_quotes_the_flexible_scheme(page, live_server):
    caseworker("xy_quote", "610400")
    watch = Watcher(page)
    login(page, live_server, "xy_quote", PASSWORD)

    # defaults: the user's region, its year for the business date, the business date
    page.goto(f"{live_server.url}{URL}")
    expect(page.locator("#id_region")).to_have_value("610400")
    expect(page.locator("#id_year")).to_have_value("2025")
    expect(page.locator("#id_paid_on")).to_have_value("2024-12-01")
    expect(page.locator("#flexible-facts")).to_be_hidden()
    expect(page.locator("#id_birth_date")).to_be_visible()

    # choosing the scheme swaps the facts asked
    page.get_by_label("灵活就业人员医疗保险").check()
    expect(page.locator("#flexible-facts")).to_be_visible()
    expect(page.locator("#id_birth_date")).to_be_hidden()
    expect(page.locator("#id_flex_status")).to_have_value("in_service")
    expect(page.locator("#id_file_held_at")).to_have_value("reemployment_centre")
    expect(page.locator("#id_paid_previous_year")).to_be_checked()
    assert_plain_chinese(visible_text(page), allow=("xy_quote",))
    shot(page, "issue13-quote-flexible-form")

    # three months of interruption, made up
    page.fill("#id_paid_on", "2025-03-31")
    page.click("input[type=submit][value=测算]")
    expect(page.locator("#flexible-result h2")).to_have_text("测算结果：灵活就业人员医疗保险")
    for head, text in [("人员状态", "在职人员"), ("基本医疗保险", "3456.00 元/年"), ("大额医疗补助", "172.80 元/年"),
                       ("大病保险", "48.00 元/年"), ("应缴金额", "3676.80 元"),
                       ("缴费情形", "中断 3 个月内恢复缴费（补足中断期间基本医疗保险费）"), ("中断月数", "3 个月"),
                       ("补足中断期间基本医疗保险费", "864.00 元（已含在应缴金额内）"),
                       ("待遇期", "2025-03-31 至 2025-12-31"), ("等待期", "无"),
                       ("缴费证明可打印日", "2025-04-05 起"), ("在职转退休", "不涉及")]:
        expect(cell(page, head)).to_have_text(text)
    # the page came back on the flexible scheme, its facts shown
    expect(page.locator("#flexible-facts")).to_be_visible()
    assert_plain_chinese(visible_text(page), allow=("xy_quote",))
    shot(page, "issue13-quote-flexible-interrupted")

    # a retired person pays no basic part
    page.select_option("#id_flex_status", label="退休人员")
    page.fill("#id_paid_on", "2024-12-20")
    page.click("input[type=submit][value=测算]")
    expect(cell(page, "基本医疗保险")).to_have_text("不缴纳")
    expect(cell(page, "应缴金额")).to_have_text("220.80 元")
    expect(cell(page, "待遇期")).to_have_text("2025-01-01 至 2025-12-31")
    shot(page, "issue13-quote-flexible-retired")

    # a region without the scheme: refused in words
    page.select_option("#id_region", "330200")
    page.click("input[type=submit][value=测算]")
    expect(page.locator(".quote-error h2")).to_have_text("该地区没有灵活就业人员医疗保险")
    expect(page.locator(".quote-error p")).to_have_text("宁波市 2025 年度没有灵活就业人员医疗保险的政策（来源文件未涉及）")
    expect(page.locator("#flexible-result")).to_have_count(0)
    assert_plain_chinese(visible_text(page), allow=("xy_quote",))
    shot(page, "issue13-quote-flexible-refused")

    # back to the resident scheme: its facts again
    page.get_by_label("城乡居民基本医疗保险").check()
    expect(page.locator("#flexible-facts")).to_be_hidden()
    expect(page.locator("#id_birth_date")).to_be_visible()
    watch.assert_clean()
