"""A Lüliang caseworker imports a department's roster in the browser: upload, the preview
with its 新增 rows, confirm, the 批处理任务 page following the run to its end, and the
identities listed under 资助身份 as matched or pending."""

from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from core import batch
from core.models import BatchRun
from enrollment import idnumbers
from enrollment.tests.support import PASSWORD, caseworker, number, person
from subsidies.models import AssistanceIdentity

from .conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(autouse=True)
def _business_date_and_media(settings, tmp_path):
    settings.BUSINESS_DATE = date(2025, 11, 10)  # Lüliang's 2026 window is open
    settings.MEDIA_ROOT = str(tmp_path / "media")


def test_a_roster_is_previewed_confirmed_and_listed(page, live_server, tmp_path):
    caseworker("ll_browser", "141100")
    li = person("141102", "19800501", name="李四")
    stranger = number("141102", "19700101", "011")
    path = tmp_path / "吕梁民政名单.csv"
    path.write_text("吕梁市民政局 2026 年度困难人员名单\n姓名,身份证号码,困难类别,认定部门,认定日期\n"
                    f"李四,{li.id_number},低保对象,吕梁市民政局,2025-06-01\n"
                    f"赵六,{stranger},特困人员,吕梁市民政局,2025-05-01\n", encoding="utf-8")
    login(page, live_server, "ll_browser", PASSWORD)

    page.goto(f"{live_server.url}/admin/subsidies/assistanceidentity/")
    page.click("text=导入名单")
    expect(page.locator("select[name=region]")).to_have_value("141100")
    expect(page.locator("input[name=year]")).to_have_value("2026")
    page.set_input_files("input[name=import_file]", str(path))
    page.click("input[type=submit]")
    page.wait_for_selector("input[name=confirm]")
    body = page.inner_text("body")
    assert "新增（2 人次）" in body and "Traceback" not in body
    expect(page.locator("#roster-counts .count-new")).to_have_text("2")
    expect(page.locator("#roster-counts .count-pending")).to_have_text("1")
    assert idnumbers.mask(li.id_number) in body and li.id_number not in body
    assert not AssistanceIdentity.objects.exists()  # a preview writes nothing
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "roster-preview.png"), full_page=True)

    page.click("input[name=confirm]")
    page.wait_for_url("**/admin/core/batchrun/*/change/")
    assert "已提交后台导入" in page.inner_text("body")
    run = BatchRun.objects.get()
    assert run.kind == "import_roster"
    batch.run_inline(run)  # the worker's part, here
    expect(page.locator(".field-status .readonly")).to_have_text("已完成", timeout=10000)
    body = page.inner_text("body")
    assert "导入困难人员名单" in body and "吕梁民政名单.csv" in body

    page.goto(f"{live_server.url}/admin/subsidies/assistanceidentity/")
    listing = page.inner_text("#result_list")
    assert idnumbers.mask(li.id_number) in listing and idnumbers.mask(stranger) in listing
    assert "已匹配参保人" in listing and "待登记" in listing and "民政部门" in listing
    page.screenshot(path=str(SHOTS / "roster-identities.png"), full_page=True)
