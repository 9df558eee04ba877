"""A caseworker imports a roster in the browser: preview, confirm, and the 批处理任务 page
that shows the background run's progress, its result and its error report."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from core import batch
from core.models import BatchRun
from enrollment.models import Resident
from enrollment.tests.support import PASSWORD, caseworker, number

from .conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("policies")]

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def roster(tmp_path, *rows) -> Path:
    path = tmp_path / "镇海区名单.csv"
    path.write_text("宁波市镇海区参保登记名单（2026 年度）\n姓名,身份证号码,户籍,居住证,学生类别,参保地\n"
                    + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


def upload_and_confirm(page, live_server, path):
    page.goto(f"{live_server.url}/admin/enrollment/resident/import/")
    page.set_input_files("input[name=import_file]", str(path))
    page.click("input[type=submit]")
    page.wait_for_selector("input[name=confirm]")
    page.click("input[name=confirm]")
    page.wait_for_url("**/admin/core/batchrun/*/change/")


def test_import_runs_in_the_background_and_its_page_follows_it(page, live_server, tmp_path):
    caseworker("nb_browser", "330200")
    man = number("330203", "19800101", "011")
    login(page, live_server, "nb_browser", PASSWORD)
    upload_and_confirm(page, live_server, roster(tmp_path, ["张三", man, "本地", "无", "", "330200"]))

    body = page.inner_text("body")
    assert "已提交后台导入" in body and "排队中" in body and "本页每 2 秒自动刷新" in body
    run = BatchRun.objects.get()
    assert not Resident.objects.exists()  # nothing yet: a worker does it

    batch.run_inline(run)  # the worker's part, here
    # the page refreshes itself.  (Not wait_for_function: its string predicate is an eval,
    # which the site's Content-Security-Policy rightly refuses.)
    expect(page.locator(".field-status .readonly")).to_have_text("已完成", timeout=10000)
    body = page.inner_text("body")
    assert "导入参保人" in body and "镇海区名单.csv" in body and "Traceback" not in body
    assert Resident.objects.filter(id_number=man).exists()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "batch-run-done.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/core/batchrun/")
    listing = page.inner_text("#result_list")
    assert "导入参保人" in listing and "镇海区名单.csv" in listing and "已完成" in listing


def test_a_rejected_import_offers_its_error_report(page, live_server, tmp_path):
    caseworker("nb_browser2", "330200")
    other = number("630102", "19800101", "021")
    Resident.objects.create(id_number=other, name="赵六", birth_date="1980-01-01", sex="F", region_id="630100")
    login(page, live_server, "nb_browser2", PASSWORD)
    good = number("330203", "19800101", "031")
    path = roster(tmp_path, ["张三", good, "本地", "无", "", "330200"])
    upload_and_confirm(page, live_server, path)
    run = BatchRun.objects.get()
    # between the preview and the worker, the roster's person was taken by another region
    Resident.objects.filter(id_number=good).delete()
    Resident.objects.create(id_number=good, name="张三", birth_date="1980-01-01", sex="M", region_id="630100")
    batch.run_inline(run)
    expect(page.locator(".field-status .readonly")).to_have_text("失败", timeout=10000)
    with page.expect_download() as download:
        page.click("text=下载错误报告（XLSX）")
    saved = tmp_path / "report.xlsx"
    download.value.save_as(saved)
    from openpyxl import load_workbook

    rows = [list(r) for r in load_workbook(saved).active.iter_rows(values_only=True)]
    assert rows[0] == ["行号", "列", "原因"] and rows[1][:2] == [3, "身份证号码"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "batch-run-failed.png"), full_page=True)
