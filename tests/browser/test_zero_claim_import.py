"""A Shanghai caseworker imports the settlement system's zero-claim list in the browser (issue
13): 零报销年度 → 导入零报销名单 with the region and year filled from their regions and the
business date, the preview with its counts and a faulty row in Chinese, 跳过错误行, confirm,
the 批处理任务 page following the run to its end with its counts; then a record withdrawn with
a reason.  Plain Chinese, no console errors, screenshots."""

from datetime import date

import pytest
from playwright.sync_api import expect

from core import batch
from core.models import BatchRun
from enrollment import idnumbers
from enrollment.models import ZeroClaimYear
from enrollment.tests.support import PASSWORD, caseworker, paid_row, person

from .conftest import login
from .workbench import Watcher, assert_plain_chinese, shot, visible_text

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

TODAY = date(2026, 11, 30)


@pytest.fixture(autouse=True)
def _business_date_and_media(settings, tmp_path):
    settings.BUSINESS_DATE = TODAY
    settings.MEDIA_ROOT = str(tmp_path / "media")


def test_a_zero_claim_list_is_previewed_confirmed_and_a_record_withdrawn(page, live_server, tmp_path):
    user = caseworker("sh_zero", "310000")
    qian = person("310101", "19800501", "011", name="钱零报", today=TODAY)
    sun = person("310101", "19810601", "022", name="孙二", today=TODAY)
    zhou = person("310101", "19820701", "033", name="周未缴", today=TODAY)
    for r in (qian, sun):
        paid_row(r, 2025)
    path = tmp_path / "上海零报销名单.csv"
    path.write_text("上海市医保结算系统 2025 年度零报销名单\n身份证号码,姓名,年度\n"
                    f"{qian.id_number},钱零报,2025\n{sun.id_number},孙二,\n{zhou.id_number},周未缴,2025\n",
                    encoding="utf-8")
    watch = Watcher(page)
    login(page, live_server, "sh_zero", PASSWORD)

    page.goto(f"{live_server.url}/admin/enrollment/zeroclaimyear/")
    page.click("text=导入零报销名单")
    expect(page.locator("select[name=region]")).to_have_value("310000")
    expect(page.locator("input[name=year]")).to_have_value("2025")
    page.set_input_files("input[name=import_file]", str(path))
    page.click("input[type=submit]")
    body = page.inner_text("body")
    assert "第 5 行 年度：周未缴 2025 年度未在本市缴费参保，不能登记为零报销年度" in body
    assert "整份名单不会导入" in body
    expect(page.locator("input[name=confirm]")).to_have_count(0)
    assert not ZeroClaimYear.objects.exists()

    page.goto(f"{live_server.url}/admin/enrollment/zeroclaimyear/import/")
    page.set_input_files("input[name=import_file]", str(path))
    page.check("input[name=skip_invalid]")
    page.click("input[type=submit]")
    page.wait_for_selector("input[name=confirm]")
    expect(page.locator("#zero-claim-counts .count-new")).to_have_text("2")
    expect(page.locator("#zero-claim-counts .count-errors")).to_have_text("1")
    body = page.inner_text("body")
    assert idnumbers.mask(qian.id_number) in body and qian.id_number not in body
    assert_plain_chinese(visible_text(page), allow=("sh_zero",))
    assert not ZeroClaimYear.objects.exists()  # a preview writes nothing
    shot(page, "zero-claim-preview")

    page.click("input[name=confirm]")
    page.wait_for_url("**/admin/core/batchrun/*/change/")
    assert "已提交后台导入" in page.inner_text("body")
    run = BatchRun.objects.get(kind="import_zero_claims")
    batch.run_inline(run)  # the worker's part, here
    expect(page.locator(".field-status .readonly")).to_have_text("已完成", timeout=10000)
    body = page.inner_text("body")
    assert "导入零报销名单" in body and "上海零报销名单.csv" in body and "新登记零报销年度" in body
    shot(page, "zero-claim-run")
    assert sorted(ZeroClaimYear.objects.values_list("resident__name", "year", "recorded_by_id")) == [
        ("孙二", 2025, user.pk), ("钱零报", 2025, user.pk)]

    page.goto(f"{live_server.url}/admin/enrollment/zeroclaimyear/")
    row = ZeroClaimYear.objects.get(resident=sun)
    page.click(f'a[href="/admin/enrollment/zeroclaimyear/{row.pk}/withdraw/"]')
    page.fill("input[name=reason]", "结算系统更正：当年有报销")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/enrollment/zeroclaimyear/")
    assert "已撤销 孙二 的 2025 年度零报销记录" in page.inner_text("body")
    assert list(ZeroClaimYear.objects.values_list("resident__name", flat=True)) == ["钱零报"]
    assert_plain_chinese(visible_text(page), allow=("sh_zero",))
    watch.assert_clean()
