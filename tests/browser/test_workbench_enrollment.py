"""Issue 12 in a real browser: a Lüliang caseworker on 2026-11-30 registers, reads the
resident's page and the enrollment list, and cancels — in plain Chinese, with defaults that
can succeed, no console errors and a screenshot of each page."""

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from enrollment import idnumbers
from enrollment.tests.support import PASSWORD, caseworker, person, register, register_and_pay

from .conftest import login
from .workbench import Watcher, assert_plain_chinese, shot, visible_text

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

DAY = date(2026, 11, 30)


@pytest.fixture(autouse=True)
def _business_date(settings):
    settings.BUSINESS_DATE = DAY


def test_register_withholds_a_year_that_cannot_succeed_and_says_why(page, live_server):
    """吕梁 2026 is published, but on 2026-11-30 its window has closed and the late period's
    fiscal subsidy is unset: the form offers no year and says why, instead of offering it and
    refusing everyone afterwards."""
    caseworker("ll_register", "141100", "141181")
    zhao = person("141102", "19800501", "011", name="赵一", today=DAY)
    watch = Watcher(page)
    login(page, live_server, "ll_register", PASSWORD)

    page.goto(f"{live_server.url}/admin/enrollment/resident/")
    page.check(f"input[name=_selected_action][value='{zhao.pk}']")
    page.select_option("select[name=action]", "register_for_year")
    page.click("button[name=index]")
    page.wait_for_selector("select[name=year]")
    assert page.locator("select[name=year] option").all_inner_texts() == []
    assert page.locator(".helptext, .help").first.inner_text().strip() == (
        "2026 年度暂不能登记：吕梁市 2026 年度“城乡居民”补缴时须一并缴纳的财政补助标准，来源文件未给出")
    assert_plain_chinese(visible_text(page))
    shot(page, "workbench-register-form")

    page.click("input[type=submit][value=确定]")
    page.wait_for_selector(".errorlist")
    assert "请选择待遇年度" in page.locator(".errorlist").first.inner_text()
    assert not zhao.enrollments.exists()
    assert_plain_chinese(visible_text(page))
    shot(page, "workbench-register-refused")
    watch.assert_clean()


def test_the_quote_page_starts_on_the_users_region_year_and_date(page, live_server):
    caseworker("nb_quote", "330200")
    watch = Watcher(page)
    login(page, live_server, "nb_quote", PASSWORD)
    page.goto(f"{live_server.url}/admin/quote/")
    expect(page.locator("#id_region")).to_have_value("330200")
    expect(page.locator("#id_year")).to_have_value("2025")
    expect(page.locator("#id_paid_on")).to_have_value("2026-11-30")
    assert not page.locator(".history-row[data-year='2025']").is_visible()  # nothing before 2025
    page.fill("#id_year", "2027")
    assert page.locator(".history-row:visible").evaluate_all("rows => rows.map(r => r.dataset.year)") == [
        "2025", "2026"]
    assert page.locator("#id_repaired_years input:visible").evaluate_all("boxes => boxes.map(b => b.value)") == [
        "2025", "2026"]
    page.fill("#id_year", "2025")
    page.fill("#id_paid_on", "2024-11-10")
    page.fill("#id_birth_date", "1980-05-01")
    page.click("input[type=submit][value=测算]")
    page.wait_for_selector(".quote-result h2")
    result = page.inner_text(".quote-result")
    assert "参保类别\t成年居民" in result
    assert_plain_chinese(visible_text(page))
    shot(page, "workbench-quote")
    watch.assert_clean()


def test_the_resident_page_shows_the_birth_date(page, live_server):
    caseworker("ll_resident", "141100")
    zhao = person("141102", "19800501", "011", name="赵一", today=DAY)
    register_and_pay(zhao, 2026, date(2025, 11, 3), date(2025, 11, 20), "400.00")
    watch = Watcher(page)
    login(page, live_server, "ll_resident", PASSWORD)
    page.goto(f"{live_server.url}/admin/enrollment/resident/{zhao.pk}/change/")
    expect(page.locator("#id_birth_date")).to_have_value("1980-05-01")
    page.click("#fieldsetcollapse3 summary, fieldset.collapse summary >> nth=-1")  # open 变更记录
    text = visible_text(page)
    assert "城乡居民" in text and "集中缴费期内" in text and "记录缴费" in text
    assert_plain_chinese(text)
    assert page.locator("a", has_text="查看站点").count() == 0
    assert page.evaluate("() => document.querySelector('link[rel=icon]').href").endswith("/static/core/favicon.svg")
    shot(page, "workbench-resident")
    watch.assert_clean()


def test_the_enrollment_list_fits_1400_pixels_and_cancel_names_the_person(page, live_server):
    caseworker("nb_list", "330200")
    people = [person("330203", f"1980010{i}", f"0{i}7", name=name, today=date(2024, 11, 1))
              for i, name in enumerate(["欧阳建国", "张一", "李二"], start=1)]
    for p in people[:2]:
        register_and_pay(p, 2025, date(2024, 11, 1), date(2024, 11, 10), "780.00")
    register(people[2], 2025, date(2024, 11, 1))  # 已登记（待缴费）: the widest status
    watch = Watcher(page)
    page.set_viewport_size({"width": 1400, "height": 900})
    login(page, live_server, "nb_list", PASSWORD)
    page.goto(f"{live_server.url}/admin/enrollment/enrollment/")
    # each name on one line: the cell is no taller than a line of the table
    heights = page.locator("#result_list .field-name").evaluate_all(
        "cells => cells.map(c => c.getBoundingClientRect().height)")
    line = page.locator("#result_list td.field-year").first.evaluate("c => c.getBoundingClientRect().height")
    assert heights and all(h <= line + 1 for h in heights), (heights, line)
    # and the table fits: neither the page nor the list scrolls sideways
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1400
    widths = page.locator("#changelist .results").evaluate("r => [r.scrollWidth, r.clientWidth]")
    assert widths[0] <= widths[1], (widths, page.locator("#result_list thead th").evaluate_all(
        "c => c.map(x => [x.innerText, Math.round(x.getBoundingClientRect().width)])"),
        page.locator("#content").evaluate("r => r.getBoundingClientRect().width"))
    text = visible_text(page)
    assert "集中缴费期内" in text
    assert_plain_chinese(text)
    shot(page, "workbench-enrollment-list-1400")

    page.check("#result_list tbody tr:first-child input[name=_selected_action]")
    page.select_option("select[name=action]", "cancel_with_reason")
    page.click("button[name=index]")
    page.wait_for_selector("input[name=reason]")
    first = page.locator("#content li").first.inner_text()
    assert first.startswith("李二（330203********") and first.endswith("2025 年度 成年居民（已登记（待缴费））")
    assert_plain_chinese(visible_text(page))
    shot(page, "workbench-cancel-confirm")
    watch.assert_clean()


def test_export_from_the_list_in_chinese(page, live_server, tmp_path):
    caseworker("nb_export", "330200")
    zhang = person("330203", "19800101", "017", name="张一", today=date(2024, 11, 1))
    watch = Watcher(page)
    login(page, live_server, "nb_export", PASSWORD)
    page.goto(f"{live_server.url}/admin/enrollment/resident/")
    page.click("a.export_link:text('导出')")
    page.wait_for_url("**/admin/enrollment/resident/export/**")
    text = visible_text(page)
    assert "全选" in text
    assert page.locator(".selectable-field-export-row label").all_inner_texts() == [
        "全选", "姓名", "身份证号码", "性别", "出生日期", "户籍", "居住证", "学生类别", "参保地"]
    assert not re.search("[A-Za-z]{3,}", text.replace("XLSX", "").replace("CSV", "")), text
    assert_plain_chinese(text)
    shot(page, "workbench-export")
    page.uncheck("#select-all-toggle")
    assert page.locator(".selectable-field-export-row input[type=checkbox]:checked").count() == 0
    page.check("#select-all-toggle")
    page.select_option("select[name=format]", label="XLSX")
    with page.expect_download() as download:
        page.click("input[type=submit][value=导出]")
    saved = tmp_path / "export.xlsx"
    download.value.save_as(saved)
    from openpyxl import load_workbook

    rows = [list(r) for r in load_workbook(saved).active.iter_rows(values_only=True)]
    assert rows[0][:2] == ["姓名", "身份证号码"]
    assert rows[1][:2] == ["张一", idnumbers.mask(zhang.id_number)]
    watch.assert_clean()


def test_import_with_a_bad_row_then_skip_it(page, live_server, tmp_path, settings):
    from core import batch
    from core.models import BatchRun
    from enrollment.models import Resident
    from enrollment.tests.support import number

    settings.MEDIA_ROOT = str(tmp_path / "media")
    caseworker("nb_import", "330200")
    good = number("330203", "19800101", "017")
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    path = tmp_path / "名单.csv"
    path.write_text("姓名,身份证号码,户籍,居住证,学生类别,参保地\n"
                    f"张一,{good},本地,无,,330200\n李二,{bad},本地,无,,330200\n", encoding="utf-8")
    watch = Watcher(page)
    login(page, live_server, "nb_import", PASSWORD)
    page.goto(f"{live_server.url}/admin/enrollment/resident/")
    page.click("a.import_link")
    assert "必填列：姓名、身份证号码、户籍、居住证、学生类别、参保地" in visible_text(page)
    page.set_input_files("input[name=import_file]", str(path))
    page.click("input[type=submit][value=上传并预览]")
    page.wait_for_selector("#import-invalid-rows")
    rows = page.locator("#import-invalid-rows tbody tr")
    assert rows.count() == 1
    row = rows.first.inner_text()
    assert "身份证号码：第 3 行：身份证号码校验位不正确" in row and idnumbers.mask(bad) in row and bad not in row
    assert_plain_chinese(visible_text(page))
    shot(page, "workbench-import-bad-row")

    page.set_input_files("input[name=import_file]", str(path))
    page.check("input[name=skip_invalid]")
    page.click("input[type=submit][value=上传并预览]")
    page.wait_for_selector("input[name=confirm]")
    assert "这些行将跳过，不导入" in visible_text(page)
    page.click("input[name=confirm]")
    page.wait_for_url("**/admin/core/batchrun/*/change/")
    batch.run_inline(BatchRun.objects.get())
    expect(page.locator(".field-status .readonly")).to_have_text("已完成", timeout=10000)
    assert list(Resident.objects.values_list("id_number", flat=True)) == [good]
    assert_plain_chinese(visible_text(page), allow=("nb_import",))
    shot(page, "workbench-import-skipped")
    watch.assert_clean()
