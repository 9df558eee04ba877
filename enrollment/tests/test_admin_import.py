"""The admin's imports (django-import-export: upload → preview → confirm) over the import
services, and the residents export; as a caseworker of Ningbo and as an auditor."""

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from accounts.models import StaffRegion
from accounts.roles import AUDITOR, CASEWORKER
from enrollment.imports import import_residents
from enrollment.models import EmployeeCoverage, Enrollment, Resident

from .import_support import (
    COVERAGE_HEADER,
    NINGBO_MAN,
    NINGBO_PUPIL,
    NINGBO_WOMAN,
    XINING_WOMAN,
    counts,
    csv_bytes,
    event_model,
)

pytestmark = pytest.mark.usefixtures("policies")

IMPORT_URL = "/admin/enrollment/resident/import/"
PROCESS_URL = "/admin/enrollment/resident/process_import/"
EXPORT_URL = "/admin/enrollment/resident/export/"
COVERAGE_IMPORT_URL = "/admin/enrollment/employeecoverage/import/"
COVERAGE_PROCESS_URL = "/admin/enrollment/employeecoverage/process_import/"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """The uploaded file waits for confirmation in MEDIA_ROOT (MediaStorage): keep it here."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


def make_staff(username, group_name, regions=()):
    user = User.objects.create_user(username, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    for code in regions:
        StaffRegion.objects.create(user=user, region_id=code)
    return user


@pytest.fixture
def caseworker(db):
    return make_staff("nb_worker", CASEWORKER, ["330200"])


@pytest.fixture
def auditor(db):
    return make_staff("auditor", AUDITOR)


@pytest.fixture
def worker_client(client, caseworker):
    client.force_login(caseworker)
    return client


def upload(client, url, data, name="residents.csv"):
    return client.post(url, {"import_file": SimpleUploadedFile(name, data), "format": "0", "resource": "0"})


@pytest.fixture(autouse=True)
def _eager_workers():
    """The confirmed import runs on a worker: here the tasks run in the test's process."""
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def confirm(client, url, response):
    """POST the confirm form the preview offered, with its own fields; the background
    import (sent once the confirmation commits) then runs."""
    from django.test import TestCase

    form = response.context["confirm_form"]
    fields = {name: form.initial[name] for name in ("import_file_name", "original_file_name", "format",
                                                   "resource")}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, fields, follow=True)


def summary_of(done):
    """The confirmation leads to its 批处理任务 page; the run's summary."""
    from core.models import BatchRun

    run = BatchRun.objects.order_by("-id").first()
    assert done.redirect_chain[-1][0] == reverse("admin:core_batchrun_change", args=[run.pk])
    assert messages_of(done) == [f"已提交后台导入（批处理任务 #{run.pk}），本页显示进度与结果"]
    run.refresh_from_db()
    return {k: v for k, v in run.summary.items() if v}


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


# --- residents: preview, then confirm -----------------------------------------------------


def test_import_page_is_offered_to_a_caseworker(worker_client):
    response = worker_client.get(IMPORT_URL)
    assert response.status_code == 200
    assert response.context.get("confirm_form") is None
    assert b'name="import_file"' in response.content


def test_upload_shows_a_preview_and_writes_nothing_until_confirmed(worker_client, caseworker, settings):
    data = csv_bytes([
        ["张三", NINGBO_MAN, "本地", "无", "", "330200"],
        ["李四", NINGBO_WOMAN, "外地", "有", "大学生", "330200"],
    ])
    before = counts()
    response = upload(worker_client, IMPORT_URL, data)
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.has_errors() and not result.has_validation_errors()
    assert [(r.import_type, r.object_repr) for r in result.valid_rows()] == [
        ("new", "张三（330203********1231）"), ("new", "李四（330203********1249）")]
    assert [list(r.diff) for r in result.valid_rows()] == [
        ["张三", "330203********1231", "本地", "无", "", "330200", "", "新增"],
        ["李四", "330203********1249", "外地", "有", "大学生", "330200", "", "新增"],
    ]
    assert "confirm_form" in response.context and response.context["confirm_form"] is not None
    content = response.content.decode()
    assert 'name="confirm"' in content
    assert NINGBO_MAN not in content  # the preview masks ID numbers
    waiting = list((Path(settings.MEDIA_ROOT) / "django-import-export").iterdir())
    assert [oct(p.stat().st_mode & 0o777) for p in waiting] == ["0o600"]  # it holds ID numbers
    assert counts() == before  # nothing written yet

    done = confirm(worker_client, PROCESS_URL, response)
    assert summary_of(done) == {"rows": 2, "created": 2}
    assert list(Resident.objects.order_by("id_number").values_list(
        "id_number", "name", "birth_date", "sex", "region_id", "hukou", "residence_permit", "student")) == [
        (NINGBO_MAN, "张三", date(1980, 1, 1), "M", "330200", "local", False, ""),
        (NINGBO_WOMAN, "李四", date(1990, 2, 15), "F", "330200", "nonlocal", True, "college"),
    ]
    events = event_model("Resident").objects.select_related("pgh_context")
    assert sorted((e.pgh_label, e.id_number) for e in events) == [("insert", NINGBO_MAN),
                                                                  ("insert", NINGBO_WOMAN)]
    for event in events:
        assert event.pgh_context.metadata["user"] == caseworker.pk
        assert event.pgh_context.metadata["action"] == "import_residents"
    # the uploaded file waited in MEDIA_ROOT and is gone once imported
    assert list((Path(settings.MEDIA_ROOT) / "django-import-export").iterdir()) == []
    assert list((Path(settings.MEDIA_ROOT) / "imports").iterdir()) == []  # nor kept for the worker


WITH_YEAR = ["姓名", "身份证号码", "户籍", "居住证", "学生类别", "参保地", "参保年度"]


def test_preview_of_a_registration_shows_the_amount_then_confirm_registers(worker_client, caseworker,
                                                                          monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: date(2024, 11, 15))  # in the 2025 window
    data = csv_bytes([["张三", NINGBO_MAN, "本地", "无", "", "330200", "2025"]], header=WITH_YEAR)
    response = upload(worker_client, IMPORT_URL, data)
    (row,) = response.context["result"].valid_rows()
    assert row.diff[-2:] == [2025, "新增；登记 2025 年度，应缴 780.00 元"]
    assert Enrollment.objects.count() == 0

    done = confirm(worker_client, PROCESS_URL, response)
    assert summary_of(done) == {"rows": 1, "created": 1, "registered": 1}
    e = Enrollment.objects.get()
    assert (e.resident.id_number, e.year, e.category, e.status, e.amount_due, e.registered_via,
            e.registered_by) == (NINGBO_MAN, 2025, "adult", "registered", Decimal("780.00"), "community",
                                 caseworker)


def test_registration_for_a_year_without_policy_is_a_row_error(worker_client):
    data = csv_bytes([["张三", NINGBO_MAN, "本地", "无", "", "330200", "2027"]], header=WITH_YEAR)
    response = upload(worker_client, IMPORT_URL, data)
    result = response.context["result"]
    assert [(r.number, r.field_specific_errors) for r in result.invalid_rows] == [
        (2, {"参保年度": ["第 2 行：宁波市 2027 年度没有已发布的政策"]})]
    assert response.context.get("confirm_form") is None


def test_second_upload_of_the_same_file_previews_as_unchanged(worker_client):
    data = csv_bytes([["张三", NINGBO_MAN, "本地", "无", "", "330200"]])
    confirm(worker_client, PROCESS_URL, upload(worker_client, IMPORT_URL, data))
    snapshot = (counts(), list(Resident.objects.values_list("id", "updated_at")))

    response = upload(worker_client, IMPORT_URL, data)
    result = response.context["result"]
    assert [(r.import_type, r.diff[-1]) for r in result.valid_rows()] == [("skip", "无变化")]
    done = confirm(worker_client, PROCESS_URL, response)
    assert summary_of(done) == {"rows": 1, "unchanged": 1}
    assert (counts(), list(Resident.objects.values_list("id", "updated_at"))) == snapshot


def test_a_file_with_a_bad_row_shows_the_errors_and_offers_no_confirmation(worker_client):
    data = csv_bytes([
        ["张三", NINGBO_MAN, "本地", "无", "", "330200"],
        ["", NINGBO_WOMAN[:17] + "0", "本地", "有", "", "330200"],
    ])
    before = counts()
    response = upload(worker_client, IMPORT_URL, data)
    assert response.status_code == 200
    result = response.context["result"]
    assert result.has_validation_errors()
    (invalid,) = result.invalid_rows
    assert invalid.number == 3
    assert invalid.field_specific_errors == {
        "姓名": ["第 3 行：不能为空"],
        "身份证号码": ["第 3 行：身份证号码校验位不正确"],
        "居住证": ["第 3 行：本地户籍人员不登记居住证"],
    }
    assert response.context.get("confirm_form") is None
    content = response.content.decode()
    assert "第 3 行：身份证号码校验位不正确" in content
    assert 'name="confirm"' not in content
    assert counts() == before


def test_a_row_of_another_region_is_refused_for_that_row(worker_client):
    data = csv_bytes([
        ["张三", NINGBO_MAN, "本地", "无", "", "330200"],
        ["赵六", XINING_WOMAN, "外地", "无", "", "630100"],
    ])
    response = upload(worker_client, IMPORT_URL, data)
    result = response.context["result"]
    assert [(r.number, r.field_specific_errors) for r in result.invalid_rows] == [
        (3, {"参保地": ["第 3 行：630100 不在您的经办地区内"]})]
    assert response.context.get("confirm_form") is None
    assert Resident.objects.count() == 0


def test_missing_column_is_shown_as_a_file_error(worker_client):
    data = csv_bytes([["张三", NINGBO_MAN, "本地"]], header=["姓名", "身份证号码", "户籍"])
    response = upload(worker_client, IMPORT_URL, data)
    result = response.context["result"]
    assert [str(e.error) for e in result.base_errors] == [
        "缺少列：居住证、学生类别、参保地（已在第 1–2 行中查找表头，第 1 行最接近；表头应含：姓名、身份证号码、户籍、居住证、学生类别、参保地）"]
    assert response.context.get("confirm_form") is None
    assert "缺少列：居住证、学生类别、参保地" in response.content.decode()


@pytest.mark.parametrize("name, data, reason", [
    ("residents.csv", b"\xff\xfe\x80\x80\xff", "CSV 文件编码无法识别：应为 UTF-8 或 GBK"),
    ("residents.xlsx", b"PK\x03\x04 not a zip", "无法读取 Excel 文件："),
])
def test_unreadable_file_is_shown_with_its_reason(worker_client, name, data, reason):
    response = upload(worker_client, IMPORT_URL, data, name=name)
    assert response.status_code == 200
    errors = [str(e.error) for e in response.context["result"].base_errors]
    assert len(errors) == 1 and errors[0].startswith(reason)
    assert reason in response.content.decode()
    assert response.context.get("confirm_form") is None
    assert Resident.objects.count() == 0


def test_gbk_csv_and_xlsx_upload(worker_client, tmp_path):
    from openpyxl import Workbook

    gbk = csv_bytes([["张三", NINGBO_MAN, "本地", "无", "", "330200"]], encoding="gbk")
    response = upload(worker_client, IMPORT_URL, gbk)
    assert [r.diff[0] for r in response.context["result"].valid_rows()] == ["张三"]

    wb = Workbook()
    wb.active.append(["参保地", "姓名", "身份证号码", "户籍", "居住证", "学生类别"])
    wb.active.append(["330200", "王五", NINGBO_PUPIL, "本地", "无", "中小学生"])
    path = tmp_path / "residents.xlsx"
    wb.save(path)
    response = upload(worker_client, IMPORT_URL, path.read_bytes(), name="residents.xlsx")
    assert [r.diff[:5] for r in response.context["result"].valid_rows()] == [
        ["王五", "330203********1251", "本地", "无", "中小学生"]]
    confirm(worker_client, PROCESS_URL, response)
    assert list(Resident.objects.values_list("id_number", "student")) == [(NINGBO_PUPIL, "primary_secondary")]


def test_confirm_checks_again_and_writes_nothing_when_the_data_went_bad(worker_client):
    """Between preview and confirmation the person was registered in another region:
    the confirmation runs the same checks and writes nothing."""
    data = csv_bytes([["张三", NINGBO_MAN, "本地", "无", "", "330200"],
                      ["赵六", XINING_WOMAN, "外地", "有", "", "330200"]])
    response = upload(worker_client, IMPORT_URL, data)
    assert response.context["confirm_form"] is not None
    import_residents(csv_bytes([["赵六", XINING_WOMAN, "外地", "无", "", "630100"]]), "x.csv",
                     actor="xining operator")
    before = counts()
    answer = confirm(worker_client, PROCESS_URL, response)
    assert counts() == before
    assert list(Resident.objects.values_list("id_number", "region_id")) == [(XINING_WOMAN, "630100")]
    assert summary_of(answer) == {"rows": 2, "invalid_rows": 1, "rejected": True}
    from core.models import BatchRun

    run = BatchRun.objects.get()
    page = worker_client.get(reverse("admin:core_batchrun_change", args=[run.pk])).content.decode()
    assert "失败" in page and "下载错误报告（XLSX）" in page
    report = worker_client.get(reverse("admin:core_batchrun_report", args=[run.pk]))
    assert report["Content-Type"].startswith("application/vnd.openxmlformats")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(report.content)).active
    assert [list(r) for r in sheet.iter_rows(values_only=True)] == [
        ["行号", "列", "原因"], [3, "身份证号码", "身份证号码已由其他经办地区登记，请联系该地区经办机构或上级"]]


# --- permissions --------------------------------------------------------------------------


def test_auditor_cannot_import(client, auditor):
    client.force_login(auditor)
    assert client.get(IMPORT_URL).status_code == 403
    response = upload(client, IMPORT_URL, csv_bytes([["张三", NINGBO_MAN, "本地", "无", "", "330200"]]))
    assert response.status_code == 403
    assert client.post(PROCESS_URL, {"import_file_name": "x", "original_file_name": "x.csv",
                                     "format": "0", "resource": "0"}).status_code == 403
    assert client.get(COVERAGE_IMPORT_URL).status_code == 403
    assert Resident.objects.count() == 0


# --- export -------------------------------------------------------------------------------

EXPORT_FIELDS = ["name", "id_number", "sex", "birth_date", "hukou", "residence_permit", "student", "region"]


def export_csv(client) -> list[list[str]]:
    payload = {"format": "1", "resource": "0"}  # export formats: 0 xlsx, 1 csv
    payload.update({f"residentexportresource_{f}": "on" for f in EXPORT_FIELDS})
    response = client.post(EXPORT_URL, payload)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Disposition"].startswith("attachment;")
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def two_regions(db):
    import_residents(csv_bytes([
        ["张三", NINGBO_MAN, "本地", "无", "", "330200"],
        ["李四", NINGBO_WOMAN, "外地", "有", "大学生", "330200"],
        ["赵六", XINING_WOMAN, "外地", "无", "", "630100"],
    ]), "seed.csv", actor="seed")


def test_auditor_can_export_every_region_with_full_numbers(client, auditor, two_regions):
    client.force_login(auditor)
    rows = export_csv(client)
    assert rows[0] == ["姓名", "身份证号码", "性别", "出生日期", "户籍", "居住证", "学生类别", "参保地"]
    assert sorted(rows[1:]) == sorted([
        ["张三", NINGBO_MAN, "男", "1980-01-01", "本地户籍", "无", "", "330200"],
        ["李四", NINGBO_WOMAN, "女", "1990-02-15", "外地户籍", "有", "大学生", "330200"],
        ["赵六", XINING_WOMAN, "女", "1985-05-05", "外地户籍", "无", "", "630100"],
    ])


def test_caseworker_export_is_masked_and_keeps_to_his_region(worker_client, caseworker, two_regions):
    assert not User.objects.get(pk=caseworker.pk).has_perm("enrollment.view_full_id_number")
    rows = export_csv(worker_client)
    assert sorted(rows[1:]) == [
        ["张三", "330203********1231", "男", "1980-01-01", "本地户籍", "无", "", "330200"],
        ["李四", "330203********1249", "女", "1990-02-15", "外地户籍", "有", "大学生", "330200"],
    ]
    text = "\n".join(",".join(r) for r in rows)
    assert NINGBO_MAN not in text and NINGBO_WOMAN not in text
    assert XINING_WOMAN[:6] not in text and "赵六" not in text  # another region's resident


def test_caseworker_granted_full_numbers_sees_them_still_only_his_region(client, caseworker, two_regions):
    caseworker.user_permissions.add(Permission.objects.get(codename="view_full_id_number"))
    client.force_login(caseworker)
    rows = export_csv(client)
    assert sorted((r[0], r[1]) for r in rows[1:]) == [("张三", NINGBO_MAN), ("李四", NINGBO_WOMAN)]


# --- employee coverage through the admin --------------------------------------------------


def test_employee_coverage_import_preview_then_confirm(worker_client, caseworker):
    data = csv_bytes([["李四", NINGBO_WOMAN, "330200", "2025", ""],
                      ["李四", NINGBO_WOMAN, "330200", "2026", "2026-03-31"]], header=COVERAGE_HEADER)
    response = upload(worker_client, COVERAGE_IMPORT_URL, data)
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.has_validation_errors()
    assert [r.object_repr for r in result.valid_rows()] == ["2 行"]
    assert EmployeeCoverage.objects.count() == 0

    done = confirm(worker_client, COVERAGE_PROCESS_URL, response)
    assert summary_of(done) == {"rows": 2, "created": 2}
    assert list(EmployeeCoverage.objects.order_by("year").values_list(
        "id_number", "name", "region_code", "year", "ended_on")) == [
        (NINGBO_WOMAN, "李四", "330200", 2025, None),
        (NINGBO_WOMAN, "李四", "330200", 2026, date(2026, 3, 31)),
    ]
    events = event_model("EmployeeCoverage").objects.select_related("pgh_context")
    assert [e.pgh_context.metadata["user"] for e in events] == [caseworker.pk, caseworker.pk]


def test_employee_coverage_bad_rows_and_other_region_in_admin(worker_client):
    data = csv_bytes([["李四", NINGBO_WOMAN, "330200", "", ""],
                      ["赵六", XINING_WOMAN, "630100", "2025", ""]], header=COVERAGE_HEADER)
    response = upload(worker_client, COVERAGE_IMPORT_URL, data)
    result = response.context["result"]
    assert [(r.number, r.field_specific_errors) for r in result.invalid_rows] == [
        (2, {"参保年度": ["第 2 行：不能为空"]}),
        (3, {"参保地": ["第 3 行：630100 不在您的经办地区内"]}),
    ]
    assert response.context.get("confirm_form") is None
    assert EmployeeCoverage.objects.count() == 0 and Enrollment.objects.count() == 0


def test_a_long_bad_cell_is_shown_cut_in_the_preview(worker_client, settings):
    settings.SPREADSHEET_MAX_CELL_CHARS = 1000
    data = csv_bytes([["张三", NINGBO_MAN, "农" * 1000, "无", "", "330200"]])
    before = counts()
    response = upload(worker_client, IMPORT_URL, data)
    assert response.status_code == 200
    (invalid,) = response.context["result"].invalid_rows
    ((message,),) = invalid.field_specific_errors.values()
    assert message.startswith("第 2 行：应为“本地”或“外地”，收到 ")
    assert message.endswith("…") and len(message) < 120
    assert "农" * 49 + "…" in invalid.values  # the row's cells, cut as well (truncatechars)
    assert max(len(v) for v in invalid.values) <= 50
    content = response.content.decode()
    assert "农" * 51 not in content
    assert escape(message) in content
    assert response.context.get("confirm_form") is None
    assert counts() == before


# --- each confirmed import is a BatchRun (批处理任务) ----------------------------------------

BATCH_URL = "/admin/core/batchrun/"


def test_a_confirmed_import_is_recorded_with_who_the_file_and_the_counts(worker_client, caseworker):
    from core.models import BatchRun

    data = csv_bytes([["张三", NINGBO_MAN, "本地", "无", "", "330200"],
                      ["李四", NINGBO_WOMAN, "外地", "有", "大学生", "330200"]])
    response = upload(worker_client, IMPORT_URL, data, name="镇海区名单.csv")
    assert BatchRun.objects.count() == 0  # the preview changes nothing and is not recorded
    confirm(worker_client, PROCESS_URL, response)
    run = BatchRun.objects.get()
    assert (run.kind, run.params, run.status, run.created_by) == (
        "import_residents", {"file": "镇海区名单.csv", "via": "admin", "stored": run.params["stored"],
                             "skip_invalid": False, "regions": ["330200"]}, "done", caseworker)
    assert (run.total, run.processed, run.succeeded, run.failed, run.report) == (2, 2, 2, 0, "")
    assert run.summary == {"rows": 2, "created": 2, "updated": 0, "unchanged": 0, "registered": 0,
                           "already_registered": 0, "invalid_rows": 0, "rejected": False}
    assert run.started_at <= run.finished_at
    page = worker_client.get(BATCH_URL).content.decode()
    assert "镇海区名单.csv" in page and "导入参保人" in page

    colleague = make_staff("nb_colleague", CASEWORKER, ["330200"])
    worker_client.force_login(colleague)
    assert "镇海区名单.csv" in worker_client.get(BATCH_URL).content.decode()  # the same region follows it

    other = make_staff("xn_worker", CASEWORKER, ["630100"])
    worker_client.force_login(other)
    assert "镇海区名单.csv" not in worker_client.get(BATCH_URL).content.decode()
    assert worker_client.get(f"{BATCH_URL}{run.pk}/change/").status_code == 404


def test_a_confirmation_refused_on_the_second_check_is_recorded_as_failed(worker_client, caseworker):
    from core.models import BatchRun

    data = csv_bytes([["张三", NINGBO_MAN, "本地", "无", "", "330200"],
                      ["赵六", XINING_WOMAN, "外地", "有", "", "330200"]])
    response = upload(worker_client, IMPORT_URL, data)
    import_residents(csv_bytes([["赵六", XINING_WOMAN, "外地", "无", "", "630100"]]), "x.csv",
                     actor="xining operator")
    confirm(worker_client, PROCESS_URL, response)
    run = BatchRun.objects.get()
    assert (run.kind, run.status, run.created_by) == ("import_residents", "failed", caseworker)
    assert (run.total, run.succeeded, run.failed, run.summary["rejected"]) == (2, 0, 1, True)
    assert run.report.startswith("row 3: 身份证号码: 身份证号码已由其他经办地区登记，请联系该地区经办机构或上级")
    assert Resident.objects.filter(id_number=NINGBO_MAN).count() == 0


def test_a_confirmed_coverage_import_is_recorded(worker_client, caseworker):
    from core.models import BatchRun

    data = csv_bytes([["张三", NINGBO_MAN, "330200", "2025", ""]],
                     header=["姓名", "身份证号码", "参保地", "参保年度"])
    url = reverse("admin:enrollment_employeecoverage_import")
    response = upload(worker_client, url, data, name="coverage.csv")
    confirm(worker_client, reverse("admin:enrollment_employeecoverage_process_import"), response)
    run = BatchRun.objects.get()
    assert (run.kind, run.status, run.succeeded, run.params["file"]) == (
        "import_employee_coverage", "done", 1, "coverage.csv")
    assert EmployeeCoverage.objects.count() == 1
