"""Imports of residents and employee coverage (INTERFACES.md section 4), through the
management commands and through the service functions; the database is checked after each."""

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from accounts.models import StaffRegion
from accounts.roles import CASEWORKER
from enrollment.idnumbers import make_number
from enrollment.imports import import_employee_coverage, import_residents
from enrollment.models import EmployeeCoverage, Enrollment, Resident

from .import_support import (
    COVERAGE_HEADER,
    NINGBO_MAN,
    NINGBO_PUPIL,
    NINGBO_WOMAN,
    RESIDENT_HEADER,
    XIAOYI_MAN,
    XIAOYI_NEWBORN,
    XINING_WOMAN,
    counts,
    csv_bytes,
    event_model,
)

pytestmark = pytest.mark.usefixtures("policies")

WITH_YEAR = [*RESIDENT_HEADER, "参保年度"]
IN_WINDOW = date(2024, 11, 15)  # inside Ningbo's 2025 window (2024-10-21 .. 2024-12-27)
GOOD_ROW = ["张三", NINGBO_MAN, "本地", "无", "", "330200", ""]

RESIDENT_FIELDS = ("id_number", "name", "birth_date", "sex", "region_id", "hukou", "residence_permit",
                   "residence_permit_expires_on", "student", "school", "phone")


def residents() -> list[tuple]:
    return list(Resident.objects.order_by("id_number").values_list(*RESIDENT_FIELDS))


def run_command(name, *args):
    """call_command with captured output; (exit code, stdout, stderr). The commands exit 1
    by sys.exit on rejection."""
    out, err = StringIO(), StringIO()
    try:
        call_command(name, *[str(a) for a in args], stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def caseworker(db):
    user = User.objects.create_user("nb_worker", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=CASEWORKER))
    StaffRegion.objects.create(user=user, region_id="330200")
    return User.objects.get(pk=user.pk)  # fresh: no cached permissions


# --- a good file: what the database holds afterwards ---------------------------------------


def test_import_writes_residents_with_birth_date_and_sex_from_the_id_number():
    data = csv_bytes([
        ["张三", NINGBO_MAN, "本地", "无", "", "330200"],
        ["李四", " " + NINGBO_WOMAN.replace("9", "９") + " ", " 外地 ", "有", "大学生", "330200"],  # full width
        ["周八", "33020319750701104x", "本地", "无", "", "330200"],  # lower-case x
        ["王五", NINGBO_PUPIL, "本地", "", "中小学生", "330200"],  # empty 居住证 = 无
        ["赵六", XINING_WOMAN, "外地", "无", "", "630100"],
        ["孙七", XIAOYI_MAN, "本地", "无", "", "141181"],  # address code newer than 1990: a warning only
    ])
    result = import_residents(data, "residents.csv", actor="tester", today=IN_WINDOW)

    assert result.errors == []
    assert result.as_dict() == {"rows": 6, "created": 6, "updated": 0, "unchanged": 0, "registered": 0,
                                "already_registered": 0, "invalid_rows": 0, "rejected": False}
    assert residents() == [
        ("141181199003151231", "孙七", date(1990, 3, 15), "M", "141181", "local", False, None, "", "", ""),
        ("33020319750701104X", "周八", date(1975, 7, 1), "F", "330200", "local", False, None, "", "", ""),
        ("330203198001011231", "张三", date(1980, 1, 1), "M", "330200", "local", False, None, "", "", ""),
        ("330203199002151249", "李四", date(1990, 2, 15), "F", "330200", "nonlocal", True, None, "college",
         "", ""),
        ("330203201209011251", "王五", date(2012, 9, 1), "M", "330200", "local", False, None,
         "primary_secondary", "", ""),
        ("630102198505051260", "赵六", date(1985, 5, 5), "F", "630100", "nonlocal", False, None, "", "", ""),
    ]
    assert Enrollment.objects.count() == 0  # no 参保年度 column: nobody registered


def test_dry_run_counts_but_writes_nothing():
    before = counts()
    data = csv_bytes([GOOD_ROW[:6], ["李四", NINGBO_WOMAN, "外地", "有", "", "330200"]])
    result = import_residents(data, "a.csv", dry_run=True, actor="tester", today=IN_WINDOW)
    assert result.as_dict() == {"rows": 2, "created": 2, "updated": 0, "unchanged": 0, "registered": 0,
                                "already_registered": 0, "invalid_rows": 0, "rejected": False}
    assert counts() == before


# --- every kind of bad row: the exact report, nothing written -----------------------------


BAD_ROWS = [
    pytest.param(["", NINGBO_WOMAN, "本地", "无", "", "330200", ""], "row 3: 姓名: 不能为空", id="name-empty"),
    pytest.param(["李" * 51, NINGBO_WOMAN, "本地", "无", "", "330200", ""], "row 3: 姓名: 超过 50 个字",
                 id="name-too-long"),
    pytest.param(["李四", "", "本地", "无", "", "330200", ""], "row 3: 身份证号码: 身份证号码为空", id="id-empty"),
    pytest.param(["李四", NINGBO_WOMAN[:17], "本地", "无", "", "330200", ""],
                 "row 3: 身份证号码: 身份证号码应为 18 位，实为 17 位", id="id-length"),
    pytest.param(["李四", NINGBO_WOMAN[:17] + "0", "本地", "无", "", "330200", ""],
                 "row 3: 身份证号码: 身份证号码校验位不正确", id="id-check-digit"),
    pytest.param(["李四", make_number("33020319800230124"), "本地", "无", "", "330200", ""],
                 "row 3: 身份证号码: 身份证号码中的出生日期 19800230 不存在", id="id-birth-date"),
    pytest.param(["李四", make_number("33020320241116124"), "本地", "无", "", "330200", ""],
                 "row 3: 身份证号码: 身份证号码中的出生日期 2024-11-16 不合理", id="id-born-after-today"),
    pytest.param(["李四", NINGBO_WOMAN, "农村", "无", "", "330200", ""],
                 "row 3: 户籍: 应为“本地”或“外地”，收到 '农村'", id="hukou"),
    pytest.param(["李四", NINGBO_WOMAN, "", "无", "", "330200", ""],
                 "row 3: 户籍: 应为“本地”或“外地”，收到 ''", id="hukou-empty"),
    pytest.param(["李四", NINGBO_WOMAN, "外地", "过期", "", "330200", ""],
                 "row 3: 居住证: 应为“有”或“无”，收到 '过期'", id="permit"),
    pytest.param(["李四", NINGBO_WOMAN, "本地", "有", "", "330200", ""],
                 "row 3: 居住证: 本地户籍人员不登记居住证", id="local-with-permit"),
    pytest.param(["李四", NINGBO_WOMAN, "本地", "无", "研究生", "330200", ""],
                 "row 3: 学生类别: 应为“中小学生”“大学生”或空，收到 '研究生'", id="student"),
    pytest.param(["李四", NINGBO_WOMAN, "本地", "无", "", "宁波", ""],
                 "row 3: 参保地: 应为六位行政区划代码，收到 '宁波'", id="region-not-a-code"),
    pytest.param(["李四", NINGBO_WOMAN, "本地", "无", "", "", ""],
                 "row 3: 参保地: 应为六位行政区划代码，收到 ''", id="region-empty"),
    pytest.param(["李四", NINGBO_WOMAN, "本地", "无", "", "110000", ""],
                 "row 3: 参保地: 未知地区 110000", id="region-unknown"),
    pytest.param(["李四", NINGBO_WOMAN, "本地", "无", "", "330200", "25年"],
                 "row 3: 参保年度: 应为四位年份，收到 '25年'", id="year-format"),
    pytest.param(["李四", NINGBO_WOMAN, "本地", "无", "", "330200", "2030"],
                 "row 3: 参保年度: 宁波市 2030 年度没有已发布的政策", id="year-without-policy"),
    pytest.param(["李四", make_number("14118119900315223"), "本地", "无", "", "141181", "2025"],
                 "row 3: 参保年度: 吕梁市 2025 年度没有已发布的政策", id="county-year-without-policy"),
    pytest.param(["李四", NINGBO_WOMAN, "外地", "无", "", "330200", "2025"],
                 "row 3: 参保年度: 不能登记 2025 年度：非本地户籍且无有效居住证，不能在宁波市参保",
                 id="registration-refused-nonlocal-without-permit"),
    pytest.param(["李四", NINGBO_MAN, "本地", "无", "", "330200", ""],
                 "row 3: 身份证号码: 与第 2 行重复", id="duplicate-id"),
    pytest.param(["李四", NINGBO_MAN.lower(), "本地", "无", "", "330200", ""],
                 "row 3: 身份证号码: 与第 2 行重复", id="duplicate-id-after-normalising"),
]


@pytest.mark.parametrize("bad_row, line", BAD_ROWS)
def test_each_bad_row_is_reported_and_nothing_is_written(bad_row, line):
    before = counts()
    data = csv_bytes([GOOD_ROW, bad_row], header=WITH_YEAR)
    result = import_residents(data, "a.csv", actor="tester", today=IN_WINDOW)
    assert [str(e) for e in result.errors] == [line]
    assert result.rejected is True
    assert result.as_dict()["invalid_rows"] == 1
    assert (result.created, result.updated, result.registered) == (0, 0, 0)
    assert counts() == before  # residents, enrollments and their audit events: nothing


def test_every_fault_of_a_row_is_reported():
    data = csv_bytes([GOOD_ROW, ["", "123", "农村", "也许", "研究生", "宁波", "明年"]], header=WITH_YEAR)
    result = import_residents(data, "a.csv", actor="tester", today=IN_WINDOW)
    assert sorted(str(e) for e in result.errors) == sorted([
        "row 3: 姓名: 不能为空",
        "row 3: 身份证号码: 身份证号码应为 18 位，实为 3 位",
        "row 3: 户籍: 应为“本地”或“外地”，收到 '农村'",
        "row 3: 居住证: 应为“有”或“无”，收到 '也许'",
        "row 3: 学生类别: 应为“中小学生”“大学生”或空，收到 '研究生'",
        "row 3: 参保地: 应为六位行政区划代码，收到 '宁波'",
        "row 3: 参保年度: 应为四位年份，收到 '明年'",
    ])
    assert result.rejected and Resident.objects.count() == 0


def test_errors_on_many_rows_are_sorted_by_row_with_spreadsheet_numbers():
    data = csv_bytes([
        ["李四", NINGBO_WOMAN, "本地", "无", "", "999999"],    # row 2
        [],                                                   # row 3: blank, keeps its number
        GOOD_ROW[:6],                                         # row 4
        ["", NINGBO_PUPIL, "本地", "无", "", "330200"],         # row 5
    ])
    result = import_residents(data, "a.csv", actor="tester", today=IN_WINDOW)
    assert [str(e) for e in result.errors] == ["row 2: 参保地: 未知地区 999999", "row 5: 姓名: 不能为空"]
    assert result.as_dict() == {"rows": 3, "created": 0, "updated": 0, "unchanged": 0, "registered": 0,
                                "already_registered": 0, "invalid_rows": 2, "rejected": True}


def test_id_number_stored_as_a_number_in_xlsx(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(RESIDENT_HEADER)
    ws.append(["张三", NINGBO_MAN, "本地", "无", None, "330200"])
    ws.append(["李四", int(NINGBO_WOMAN), "本地", "无", None, 330200])
    path = tmp_path / "residents.xlsx"
    wb.save(path)
    result = import_residents(path.read_bytes(), path.name, actor="tester", today=IN_WINDOW)
    assert [str(e) for e in result.errors] == [
        "row 3: 身份证号码: 单元格为数字格式，18 位号码已丢失精度；请将该列设为文本后重新导出"]
    assert result.rejected and Resident.objects.count() == 0


def test_employee_insured_person_cannot_be_registered():
    EmployeeCoverage.objects.create(id_number=NINGBO_WOMAN, name="李四", region_code="330200", year=2025)
    data = csv_bytes([GOOD_ROW, ["李四", NINGBO_WOMAN, "本地", "无", "", "330200", "2025"]], header=WITH_YEAR)
    result = import_residents(data, "a.csv", actor="tester", today=IN_WINDOW)
    assert [str(e) for e in result.errors] == [
        "row 3: 参保年度: 不能登记 2025 年度：已参加职工基本医疗保险，不能参加城乡居民医保"]
    assert Resident.objects.count() == 0 and Enrollment.objects.count() == 0


def test_employee_coverage_that_ended_no_longer_blocks_registration():
    EmployeeCoverage.objects.create(id_number=NINGBO_WOMAN, name="李四", region_code="330200", year=2025,
                                    ended_on=date(2024, 10, 31))
    data = csv_bytes([["李四", NINGBO_WOMAN, "本地", "无", "", "330200", "2025"]], header=WITH_YEAR)
    result = import_residents(data, "a.csv", actor="tester", today=IN_WINDOW)
    assert result.errors == []
    e = Enrollment.objects.get()
    assert (e.resident.id_number, e.year, e.category, e.amount_due) == (NINGBO_WOMAN, 2025, "adult",
                                                                        Decimal("780.00"))


def test_registration_after_the_benefit_year_is_refused_window_closed():
    data = csv_bytes([["张三", NINGBO_MAN, "本地", "无", "", "330200", "2025"]], header=WITH_YEAR)
    result = import_residents(data, "a.csv", actor="tester", today=date(2026, 1, 5))
    assert [str(e) for e in result.errors] == [
        "row 2: 参保年度: 不能登记 2025 年度：2026-01-05 不在 宁波市 2025 年度任何缴费期内"]
    assert Resident.objects.count() == 0


# --- all or nothing, --skip-invalid -------------------------------------------------------


def test_one_bad_row_rejects_the_whole_file_nothing_half_written():
    before = counts()
    data = csv_bytes([
        ["张三", NINGBO_MAN, "本地", "无", "", "330200", "2025"],
        ["王五", NINGBO_PUPIL, "本地", "无", "中小学生", "330200", "2025"],
        ["李四", NINGBO_WOMAN, "本地", "有", "", "330200", "2025"],
    ], header=WITH_YEAR)
    result = import_residents(data, "a.csv", actor="tester", today=IN_WINDOW)
    assert [str(e) for e in result.errors] == ["row 4: 居住证: 本地户籍人员不登记居住证"]
    assert result.rejected
    assert counts() == before
    assert Resident.objects.count() == 0 and Enrollment.objects.count() == 0


def test_skip_invalid_writes_the_good_rows_and_reports_the_rest():
    data = csv_bytes([
        ["张三", NINGBO_MAN, "本地", "无", "", "330200", "2025"],
        ["李四", NINGBO_WOMAN, "本地", "有", "", "330200", "2025"],
        ["王五", NINGBO_PUPIL, "本地", "无", "中小学生", "330200", "2030"],
        ["赵六", XINING_WOMAN, "外地", "无", "", "630100", ""],
    ], header=WITH_YEAR)
    result = import_residents(data, "a.csv", skip_invalid=True, actor="tester", today=IN_WINDOW)
    assert [str(e) for e in result.errors] == ["row 3: 居住证: 本地户籍人员不登记居住证",
                                              "row 4: 参保年度: 宁波市 2030 年度没有已发布的政策"]
    assert result.as_dict() == {"rows": 4, "created": 2, "updated": 0, "unchanged": 0, "registered": 1,
                                "already_registered": 0, "invalid_rows": 2, "rejected": False}
    assert sorted(Resident.objects.values_list("id_number", flat=True)) == [NINGBO_MAN, XINING_WOMAN]
    assert list(Enrollment.objects.values_list("resident__id_number", "year")) == [(NINGBO_MAN, 2025)]


# --- 参保年度: registration priced by the rules ------------------------------------------


def test_registration_for_a_year_has_the_rules_category_and_amount():
    data = csv_bytes([
        ["张三", NINGBO_MAN, "本地", "无", "", "330200", "2025"],
        ["王五", NINGBO_PUPIL, "本地", "无", "中小学生", "330200", "2025"],
        ["李四", NINGBO_WOMAN, "外地", "有", "大学生", "330200", ""],
    ], header=WITH_YEAR)
    result = import_residents(data, "a.csv", actor="tester", today=IN_WINDOW)
    assert result.as_dict() == {"rows": 3, "created": 3, "updated": 0, "unchanged": 0, "registered": 2,
                                "already_registered": 0, "invalid_rows": 0, "rejected": False}
    rows = list(Enrollment.objects.order_by("resident__id_number").values_list(
        "resident__id_number", "year", "region_id", "category", "status", "registered_via",
        "personal_standard", "fiscal_subsidy", "amount_due", "timing", "paid_amount", "paid_on",
        "benefit_start", "registered_by"))
    assert rows == [
        (NINGBO_MAN, 2025, "330200", "adult", "registered", "community", Decimal("780.00"),
         Decimal("2090.00"), Decimal("780.00"), "window", None, None, None, None),
        (NINGBO_PUPIL, 2025, "330200", "student", "registered", "community", Decimal("290.00"),
         Decimal("370.00"), Decimal("290.00"), "window", None, None, None, None),
    ]


def test_registration_records_the_importing_user(caseworker):
    data = csv_bytes([["张三", NINGBO_MAN, "本地", "无", "", "330200", "2025"]], header=WITH_YEAR)
    import_residents(data, "a.csv", actor=caseworker, user=caseworker, today=IN_WINDOW)
    assert Enrollment.objects.get().registered_by == caseworker


def test_luliang_newborn_is_covered_from_birth_without_paying():
    data = csv_bytes([["小孙", XIAOYI_NEWBORN, "本地", "无", "", "141181", "2026"]], header=WITH_YEAR)
    result = import_residents(data, "a.csv", actor="tester", today=date(2026, 4, 1))
    assert result.errors == []
    assert result.registered == 1
    resident = Resident.objects.get()
    assert (resident.birth_date, resident.sex, resident.region_id) == (date(2026, 3, 1), "F", "141181")
    e = Enrollment.objects.get()
    assert (e.year, e.region_id, e.category, e.status, e.registered_via, e.timing) == (
        2026, "141181", "resident", "paid", "newborn", "newborn")
    assert (e.amount_due, e.paid_amount, e.paid_on) == (Decimal("0.00"), Decimal("0.00"), date(2026, 4, 1))
    assert (e.benefit_start, e.benefit_end) == (date(2026, 3, 1), date(2026, 12, 31))
    assert (e.waiting_months, e.waiting_days) == (0, 0)


def test_registration_for_someone_already_registered_is_not_repeated():
    data = csv_bytes([["张三", NINGBO_MAN, "本地", "无", "", "330200", "2025"]], header=WITH_YEAR)
    import_residents(data, "a.csv", actor="tester", today=IN_WINDOW)
    first = Enrollment.objects.get()
    other = csv_bytes([["张三", NINGBO_MAN, "本地", "无", "", "330200", "2025"],
                       ["王五", NINGBO_PUPIL, "本地", "无", "中小学生", "330200", "2025"]], header=WITH_YEAR)
    result = import_residents(other, "b.csv", actor="tester", today=date(2024, 12, 1))
    assert (result.created, result.unchanged, result.registered, result.already_registered) == (1, 1, 1, 1)
    assert Enrollment.objects.filter(resident__id_number=NINGBO_MAN).get() == first
    assert Enrollment.objects.count() == 2


# --- idempotency and updates --------------------------------------------------------------


def _snapshot():
    return (counts(), list(Resident.objects.order_by("id").values_list("id", "updated_at")),
            list(Enrollment.objects.order_by("id").values_list("id", "updated_at")))


def test_second_import_of_the_same_file_changes_nothing():
    data = csv_bytes([
        ["张三", NINGBO_MAN, "本地", "无", "", "330200", "2025"],
        ["李四", NINGBO_WOMAN, "外地", "有", "大学生", "330200", "2025"],
        ["赵六", XINING_WOMAN, "外地", "无", "", "630100", ""],
    ], header=WITH_YEAR)
    first = import_residents(data, "a.csv", actor="tester", today=IN_WINDOW)
    assert (first.created, first.registered) == (3, 2)
    snapshot = _snapshot()
    db_rows = residents()

    second = import_residents(data, "a.csv", actor="tester", today=IN_WINDOW)
    assert second.as_dict() == {"rows": 3, "created": 0, "updated": 0, "unchanged": 3, "registered": 0,
                                "already_registered": 2, "invalid_rows": 0, "rejected": False}
    assert _snapshot() == snapshot  # counts, updated_at values, audit event counts
    assert residents() == db_rows


def test_a_changed_row_is_updated_and_the_rest_left_alone():
    data = csv_bytes([GOOD_ROW[:6], ["李四", NINGBO_WOMAN, "外地", "有", "大学生", "330200"]])
    import_residents(data, "a.csv", actor="first import", today=IN_WINDOW)
    zhang_before = Resident.objects.values_list("updated_at", flat=True).get(id_number=NINGBO_MAN)
    events_before = event_model("Resident").objects.count()

    changed = csv_bytes([GOOD_ROW[:6], ["李肆", NINGBO_WOMAN, "本地", "无", "", "630100"]])
    result = import_residents(changed, "a.csv", actor="second import", today=IN_WINDOW)
    assert result.as_dict() == {"rows": 2, "created": 0, "updated": 1, "unchanged": 1, "registered": 0,
                                "already_registered": 0, "invalid_rows": 0, "rejected": False}
    li = Resident.objects.get(id_number=NINGBO_WOMAN)
    assert (li.name, li.hukou, li.residence_permit, li.student, li.region_id) == (
        "李肆", "local", False, "", "630100")
    assert (li.birth_date, li.sex) == (date(1990, 2, 15), "F")
    assert Resident.objects.values_list("updated_at", flat=True).get(id_number=NINGBO_MAN) == zhang_before
    update = event_model("Resident").objects.get(pgh_label="update")
    assert event_model("Resident").objects.count() == events_before + 1
    assert (update.pgh_obj_id, update.name, update.region_id) == (li.pk, "李肆", "630100")
    assert update.pgh_context.metadata == {"actor": "second import", "action": "import_residents"}


# --- the audit of a bulk write ------------------------------------------------------------


def test_bulk_write_leaves_one_insert_event_per_row_with_the_actor(caseworker):
    data = csv_bytes([
        ["张三", NINGBO_MAN, "本地", "无", "", "330200", "2025"],
        ["王五", NINGBO_PUPIL, "本地", "无", "中小学生", "330200", "2025"],
        ["李四", NINGBO_WOMAN, "外地", "有", "", "330200", ""],
    ], header=WITH_YEAR)
    import_residents(data, "a.csv", actor=caseworker, user=caseworker, today=IN_WINDOW)

    ResidentEvent, EnrollmentEvent = event_model("Resident"), event_model("Enrollment")
    resident_events = ResidentEvent.objects.select_related("pgh_context").order_by("id_number")
    assert [(e.pgh_label, e.id_number, e.name, e.pgh_obj_id) for e in resident_events] == [
        ("insert", r.id_number, r.name, r.pk) for r in Resident.objects.order_by("id_number")]
    enrollment_events = EnrollmentEvent.objects.select_related("pgh_context").order_by("pgh_obj_id")
    assert [(e.pgh_label, e.pgh_obj_id, e.amount_due) for e in enrollment_events] == [
        ("insert", e.pk, e.amount_due) for e in Enrollment.objects.order_by("id")]
    assert len(enrollment_events) == 2
    contexts = {e.pgh_context_id for e in [*resident_events, *enrollment_events]}
    assert len(contexts) == 1  # one write, one context
    assert resident_events[0].pgh_context.metadata == {
        "user": caseworker.pk, "username": "nb_worker", "action": "import_residents"}


def test_command_import_is_audited_with_the_command_as_actor(tmp_path):
    path = tmp_path / "residents.csv"
    path.write_bytes(csv_bytes([GOOD_ROW[:6]]))
    code, _, _ = run_command("import_residents", path)
    assert code == 0
    event = event_model("Resident").objects.get()
    assert (event.pgh_label, event.id_number) == ("insert", NINGBO_MAN)
    assert event.pgh_context.metadata == {"actor": "manage.py import_residents residents.csv",
                                          "action": "import_residents"}


# --- region scoping -----------------------------------------------------------------------


def test_caseworker_cannot_import_rows_of_another_region(caseworker):
    data = csv_bytes([GOOD_ROW[:6], ["赵六", XINING_WOMAN, "外地", "无", "", "630100"]])
    result = import_residents(data, "a.csv", actor=caseworker, user=caseworker, today=IN_WINDOW)
    assert [str(e) for e in result.errors] == ["row 3: 参保地: 630100 不在您的经办地区内"]
    assert result.rejected and Resident.objects.count() == 0

    result = import_residents(data, "a.csv", skip_invalid=True, actor=caseworker, user=caseworker,
                              today=IN_WINDOW)
    assert list(Resident.objects.values_list("id_number", "region_id")) == [(NINGBO_MAN, "330200")]


def test_caseworker_cannot_move_another_regions_resident_into_his_own(caseworker):
    import_residents(csv_bytes([["赵六", XINING_WOMAN, "外地", "无", "", "630100"]]), "a.csv",
                     actor="xining", today=IN_WINDOW)
    data = csv_bytes([["赵六", XINING_WOMAN, "外地", "有", "", "330200"]])
    result = import_residents(data, "a.csv", actor=caseworker, user=caseworker, today=IN_WINDOW)
    assert [str(e) for e in result.errors] == [
        "row 2: 身份证号码: 身份证号码已由其他经办地区登记，请联系该地区经办机构或上级"]
    assert "630100" not in str(result.errors[0])  # neither where nor who
    zhao = Resident.objects.get()
    assert (zhao.region_id, zhao.residence_permit) == ("630100", False)


def test_without_a_user_every_region_may_be_imported():
    data = csv_bytes([GOOD_ROW[:6], ["赵六", XINING_WOMAN, "外地", "无", "", "630100"]])
    result = import_residents(data, "a.csv", actor="operator", today=IN_WINDOW)
    assert result.created == 2


# --- the command --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding, bom", [("utf-8", False), ("utf-8", True), ("gbk", False)])
def test_command_imports_csv_in_each_encoding(tmp_path, encoding, bom):
    path = tmp_path / "residents.csv"
    data = csv_bytes([GOOD_ROW[:6], ["李四", NINGBO_WOMAN, "外地", "有", "大学生", "330200"]], encoding=encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    code, out, err = run_command("import_residents", path)
    assert code == 0, err
    assert json.loads(out) == {"rows": 2, "created": 2, "updated": 0, "unchanged": 0, "registered": 0,
                               "already_registered": 0, "invalid_rows": 0, "rejected": False}
    assert err == ""
    assert Resident.objects.get(id_number=NINGBO_WOMAN).name == "李四"
    assert Resident.objects.get(id_number=NINGBO_MAN).name == "张三"


def test_command_imports_xlsx_with_headers_in_any_order(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "参保地", "学生类别", "居住证", "户籍", "身份证号码", "姓名", "备注"])
    ws.append([1, 330200, None, "有", "外地", "３３０２０３１９９００２１５１２４９", "李四", "x"])
    path = tmp_path / "residents.xlsx"
    wb.save(path)
    code, out, err = run_command("import_residents", path)
    assert code == 0, err
    assert json.loads(out)["created"] == 1
    assert residents() == [(NINGBO_WOMAN, "李四", date(1990, 2, 15), "F", "330200", "nonlocal", True, None,
                            "", "", "")]


def test_command_rejects_a_file_with_a_bad_row_exit_1(tmp_path):
    before = counts()
    path = tmp_path / "residents.csv"
    path.write_bytes(csv_bytes([GOOD_ROW[:6], ["李四", NINGBO_WOMAN[:17] + "0", "外地", "有", "", "330200"],
                                ["", NINGBO_PUPIL, "本地", "无", "大学生", "330200"]]))
    code, out, err = run_command("import_residents", path)
    assert code == 1
    assert err.splitlines() == [
        "row 3: 身份证号码: 身份证号码校验位不正确",
        "row 4: 姓名: 不能为空",
        "rejected: 2 invalid row(s); nothing written",
    ]
    assert json.loads(out)["rejected"] is True
    assert counts() == before


def test_command_skip_invalid_exit_0_writes_good_rows(tmp_path):
    path = tmp_path / "residents.csv"
    path.write_bytes(csv_bytes([GOOD_ROW[:6], ["李四", NINGBO_WOMAN, "外地", "有", "硕士", "330200"]]))
    code, out, err = run_command("import_residents", path, "--skip-invalid")
    assert code == 0
    assert err.splitlines() == ["row 3: 学生类别: 应为“中小学生”“大学生”或空，收到 '硕士'"]
    assert json.loads(out) == {"rows": 2, "created": 1, "updated": 0, "unchanged": 0, "registered": 0,
                               "already_registered": 0, "invalid_rows": 1, "rejected": False}
    assert list(Resident.objects.values_list("id_number", flat=True)) == [NINGBO_MAN]


def test_command_second_run_reports_unchanged(tmp_path):
    path = tmp_path / "residents.csv"
    path.write_bytes(csv_bytes([GOOD_ROW[:6], ["李四", NINGBO_WOMAN, "外地", "有", "", "330200"]]))
    assert run_command("import_residents", path)[0] == 0
    snapshot = _snapshot()
    code, out, _ = run_command("import_residents", path)
    assert code == 0
    assert json.loads(out) == {"rows": 2, "created": 0, "updated": 0, "unchanged": 2, "registered": 0,
                               "already_registered": 0, "invalid_rows": 0, "rejected": False}
    assert _snapshot() == snapshot


def test_command_dry_run_writes_nothing(tmp_path):
    path = tmp_path / "residents.csv"
    path.write_bytes(csv_bytes([GOOD_ROW[:6]]))
    before = counts()
    code, out, _ = run_command("import_residents", path, "--dry-run")
    assert code == 0
    assert json.loads(out)["created"] == 1
    assert counts() == before


def test_command_missing_column_exit_1_naming_it(tmp_path):
    path = tmp_path / "residents.csv"
    path.write_bytes(csv_bytes([["张三", NINGBO_MAN, "本地", "无", ""]], header=RESIDENT_HEADER[:5]))
    code, out, err = run_command("import_residents", path)
    assert code == 1
    assert err.strip() == ("residents.csv: 缺少列：参保地（已在第 1–2 行中查找表头，第 1 行最接近；表头应含：姓名、身份证号码、户籍、居住证、"
                           "学生类别、参保地）")
    assert out == ""
    assert Resident.objects.count() == 0


def test_command_unreadable_file(tmp_path):
    with pytest.raises(CommandError) as exc:
        call_command("import_residents", str(tmp_path / "missing.csv"), stdout=StringIO(), stderr=StringIO())
    assert str(exc.value).startswith(f"cannot read {tmp_path / 'missing.csv'}: ")

    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    code, _, err = run_command("import_residents", path)
    assert code == 1
    assert err.startswith("broken.xlsx: 无法读取 Excel 文件：")


# --- employee coverage --------------------------------------------------------------------


def coverage() -> list[tuple]:
    return list(EmployeeCoverage.objects.order_by("id_number", "year").values_list(
        "id_number", "name", "region_code", "year", "ended_on"))


def test_coverage_import_writes_rows_and_second_import_changes_nothing():
    data = csv_bytes([
        ["李四", NINGBO_WOMAN.lower(), "330200", "2025", ""],
        ["李四", NINGBO_WOMAN, "330200", "2026", "2026-03-31"],
        ["赵六", XINING_WOMAN, "630100", "2025", "2025/6/30"],
    ], header=COVERAGE_HEADER)
    result = import_employee_coverage(data, "coverage.csv", actor="tester", today=IN_WINDOW)
    assert result.errors == []
    assert result.as_dict() == {"rows": 3, "created": 3, "updated": 0, "unchanged": 0, "registered": 0,
                                "already_registered": 0, "invalid_rows": 0, "rejected": False}
    assert coverage() == [
        (NINGBO_WOMAN, "李四", "330200", 2025, None),
        (NINGBO_WOMAN, "李四", "330200", 2026, date(2026, 3, 31)),
        (XINING_WOMAN, "赵六", "630100", 2025, date(2025, 6, 30)),
    ]
    events = event_model("EmployeeCoverage").objects.select_related("pgh_context")
    assert sorted((e.pgh_label, e.id_number, e.year) for e in events) == [
        ("insert", NINGBO_WOMAN, 2025), ("insert", NINGBO_WOMAN, 2026), ("insert", XINING_WOMAN, 2025)]
    assert {e.pgh_context.metadata["action"] for e in events} == {"import_employee_coverage"}

    before = (counts(), list(EmployeeCoverage.objects.order_by("id").values_list("id", "imported_at")))
    again = import_employee_coverage(data, "coverage.csv", actor="tester", today=IN_WINDOW)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert (counts(), list(EmployeeCoverage.objects.order_by("id").values_list("id", "imported_at"))) == before


def test_coverage_import_records_the_day_someone_left():
    data = csv_bytes([["李四", NINGBO_WOMAN, "330200", "2025", ""]], header=COVERAGE_HEADER)
    import_employee_coverage(data, "c.csv", actor="tester", today=IN_WINDOW)
    left = csv_bytes([["李四", NINGBO_WOMAN, "330200", "2025", "2024-10-31"]], header=COVERAGE_HEADER)
    result = import_employee_coverage(left, "c.csv", actor="tester", today=IN_WINDOW)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    assert coverage() == [(NINGBO_WOMAN, "李四", "330200", 2025, date(2024, 10, 31))]
    update = event_model("EmployeeCoverage").objects.get(pgh_label="update")
    assert update.ended_on == date(2024, 10, 31)
    # and the person may now enroll as a resident
    res = import_residents(csv_bytes([["李四", NINGBO_WOMAN, "本地", "无", "", "330200", "2025"]],
                                     header=WITH_YEAR), "r.csv", actor="tester", today=IN_WINDOW)
    assert res.errors == [] and res.registered == 1


COVERAGE_GOOD = ["张三", NINGBO_MAN, "330200", "2025", ""]


@pytest.mark.parametrize("bad_row, line", [
    (["", NINGBO_WOMAN, "330200", "2025", ""], "row 3: 姓名: 不能为空"),
    (["李四", NINGBO_WOMAN[:17] + "0", "330200", "2025", ""], "row 3: 身份证号码: 身份证号码校验位不正确"),
    (["李四", NINGBO_WOMAN, "宁波", "2025", ""], "row 3: 参保地: 应为六位行政区划代码，收到 '宁波'"),
    (["李四", NINGBO_WOMAN, "330200", "", ""], "row 3: 参保年度: 不能为空"),
    (["李四", NINGBO_WOMAN, "330200", "二〇二五", ""], "row 3: 参保年度: 应为四位年份，收到 '二〇二五'"),
    (["李四", NINGBO_WOMAN, "330200", "2025", "去年"], "row 3: 中断日期: 应为 YYYY-MM-DD 日期，收到 '去年'"),
    (["李四", NINGBO_WOMAN, "330200", "2025", "2025-02-30"],
     "row 3: 中断日期: 应为 YYYY-MM-DD 日期，收到 '2025-02-30'"),
    (["张三", NINGBO_MAN, "330200", "2025", "2025-01-01"], "row 3: 身份证号码: 2025 年度与第 2 行重复"),
])
def test_coverage_bad_rows_are_reported_and_nothing_is_written(bad_row, line):
    before = counts()
    data = csv_bytes([COVERAGE_GOOD, bad_row], header=COVERAGE_HEADER)
    result = import_employee_coverage(data, "c.csv", actor="tester", today=IN_WINDOW)
    assert [str(e) for e in result.errors] == [line]
    assert result.rejected
    assert counts() == before


def test_coverage_same_person_two_years_is_not_a_duplicate():
    data = csv_bytes([COVERAGE_GOOD, ["张三", NINGBO_MAN, "330200", "2026", ""]], header=COVERAGE_HEADER)
    assert import_employee_coverage(data, "c.csv", actor="tester", today=IN_WINDOW).created == 2


def test_coverage_region_scoping(caseworker):
    data = csv_bytes([COVERAGE_GOOD, ["赵六", XINING_WOMAN, "630100", "2025", ""]], header=COVERAGE_HEADER)
    result = import_employee_coverage(data, "c.csv", actor=caseworker, user=caseworker, today=IN_WINDOW)
    assert [str(e) for e in result.errors] == ["row 3: 参保地: 630100 不在您的经办地区内"]
    assert EmployeeCoverage.objects.count() == 0


def test_coverage_caseworker_cannot_rewrite_another_regions_record(caseworker):
    import_employee_coverage(csv_bytes([["赵六", XINING_WOMAN, "630100", "2025", ""]], header=COVERAGE_HEADER),
                             "c.csv", actor="xining operator", today=IN_WINDOW)
    data = csv_bytes([COVERAGE_GOOD, ["赵六", XINING_WOMAN, "330200", "2025", "2024-10-31"]],
                     header=COVERAGE_HEADER)
    result = import_employee_coverage(data, "c.csv", actor=caseworker, user=caseworker, today=IN_WINDOW)
    assert [str(e) for e in result.errors] == [
        "row 3: 身份证号码: 2025 年度：身份证号码已由其他经办地区登记，请联系该地区经办机构或上级"]
    assert result.rejected
    assert coverage() == [(XINING_WOMAN, "赵六", "630100", 2025, None)]

    result = import_employee_coverage(data, "c.csv", skip_invalid=True, actor=caseworker, user=caseworker,
                                      today=IN_WINDOW)
    assert (result.created, result.updated) == (1, 0)
    assert coverage() == [(NINGBO_MAN, "张三", "330200", 2025, None),
                          (XINING_WOMAN, "赵六", "630100", 2025, None)]


def test_coverage_command_rejects_then_skip_invalid(tmp_path):
    path = tmp_path / "coverage.csv"
    path.write_bytes(csv_bytes([COVERAGE_GOOD, ["李四", NINGBO_WOMAN, "330200", "", ""]],
                               header=COVERAGE_HEADER, encoding="gbk"))
    code, out, err = run_command("import_employee_coverage", path)
    assert code == 1
    assert err.splitlines() == ["row 3: 参保年度: 不能为空"]
    assert json.loads(out)["rejected"] is True
    assert EmployeeCoverage.objects.count() == 0

    code, out, err = run_command("import_employee_coverage", path, "--skip-invalid")
    assert code == 0
    assert json.loads(out)["created"] == 1
    assert coverage() == [(NINGBO_MAN, "张三", "330200", 2025, None)]
    event = event_model("EmployeeCoverage").objects.get()
    assert event.pgh_context.metadata == {"actor": "manage.py import_employee_coverage coverage.csv",
                                          "action": "import_employee_coverage"}

    code, out, _ = run_command("import_employee_coverage", path, "--skip-invalid")
    assert code == 0
    assert (json.loads(out)["created"], json.loads(out)["unchanged"]) == (0, 1)
    assert event_model("EmployeeCoverage").objects.count() == 1


def test_coverage_command_missing_column(tmp_path):
    path = tmp_path / "coverage.csv"
    path.write_bytes(csv_bytes([["张三", NINGBO_MAN, "330200"]], header=COVERAGE_HEADER[:3]))
    code, _, err = run_command("import_employee_coverage", path)
    assert code == 1
    assert err.strip() == "coverage.csv: 缺少列：参保年度（已在第 1–2 行中查找表头，第 1 行最接近；表头应含：姓名、身份证号码、参保地、参保年度）"


def test_coverage_service_reports_progress_of_checking_and_writing():
    data = csv_bytes([COVERAGE_GOOD, ["李四", NINGBO_WOMAN, "330200", "2025", ""]], header=COVERAGE_HEADER)
    seen = []
    result = import_employee_coverage(data, "coverage.csv", actor="tester", today=IN_WINDOW,
                                      progress=lambda label, done, total: seen.append((label, done, total)))
    assert result.created == 2
    assert seen == [("检查", 2, 2), ("错误行", 0, 2), ("写入", 2, 2)]  # the faulty rows found: none


def test_coverage_command_dry_run_counts_and_writes_nothing(tmp_path):
    path = tmp_path / "coverage.csv"
    path.write_bytes(csv_bytes([COVERAGE_GOOD], header=COVERAGE_HEADER))
    code, out, err = run_command("import_employee_coverage", path, "--dry-run")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"rows": 1, "created": 1, "updated": 0, "unchanged": 0, "registered": 0,
                               "already_registered": 0, "invalid_rows": 0, "rejected": False}
    assert EmployeeCoverage.objects.count() == 0
    assert event_model("EmployeeCoverage").objects.count() == 0

    run_command("import_employee_coverage", path)
    changed = tmp_path / "changed.csv"
    changed.write_bytes(csv_bytes([COVERAGE_GOOD[:4] + ["2025-06-30"],
                                   ["李四", NINGBO_WOMAN, "330200", "2025", ""]], header=COVERAGE_HEADER))
    before = (coverage(), event_model("EmployeeCoverage").objects.count())
    code, out, _ = run_command("import_employee_coverage", changed, "--dry-run")
    assert code == 0
    assert (json.loads(out)["created"], json.loads(out)["updated"]) == (1, 1)
    assert (coverage(), event_model("EmployeeCoverage").objects.count()) == before


@pytest.mark.parametrize("command, header, row", [
    ("import_employee_coverage", COVERAGE_HEADER, COVERAGE_GOOD),
    ("import_residents", RESIDENT_HEADER, GOOD_ROW[:6]),
])
def test_commands_draw_a_progress_bar_on_request(tmp_path, capsys, command, header, row):
    path = tmp_path / "file.csv"
    path.write_bytes(csv_bytes([row], header=header))
    code, out, _ = run_command(command, path, "--progress")
    assert code == 0 and json.loads(out)["created"] == 1
    bar = capsys.readouterr().err
    assert "写入: 100%" in bar and "1/1" in bar


def test_command_imports_are_recorded_as_batch_runs_and_dry_runs_are_not(tmp_path):
    from core.models import BatchRun

    path = tmp_path / "residents.csv"
    path.write_bytes(csv_bytes([GOOD_ROW[:6], ["", NINGBO_WOMAN, "本地", "无", "", "330200"]]))
    run_command("import_residents", path, "--dry-run")
    assert BatchRun.objects.count() == 0

    assert run_command("import_residents", path)[0] == 1
    rejected = BatchRun.objects.get()
    assert (rejected.kind, rejected.params, rejected.status, rejected.created_by) == (
        "import_residents", {"file": str(path), "skip_invalid": False, "regions": ["330200"]}, "failed", None)
    assert (rejected.total, rejected.succeeded, rejected.failed, rejected.report) == (
        2, 0, 1, "row 3: 姓名: 不能为空")
    assert Resident.objects.count() == 0

    assert run_command("import_residents", path, "--skip-invalid")[0] == 0
    done = BatchRun.objects.exclude(pk=rejected.pk).get()
    assert (done.status, done.params["skip_invalid"], done.total, done.succeeded, done.failed) == (
        "done", True, 2, 1, 1)
    assert done.summary["created"] == 1 and done.report == "row 3: 姓名: 不能为空"


def test_an_unreadable_file_is_recorded_as_failed_with_its_reason(tmp_path):
    from core.models import BatchRun

    path = tmp_path / "coverage.csv"
    path.write_bytes(csv_bytes([["张三", NINGBO_MAN, "330200"]], header=COVERAGE_HEADER[:3]))
    assert run_command("import_employee_coverage", path)[0] == 1
    run = BatchRun.objects.get()
    assert (run.kind, run.status) == ("import_employee_coverage", "failed")
    assert run.report == "缺少列：参保年度（已在第 1–2 行中查找表头，第 1 行最接近；表头应含：姓名、身份证号码、参保地、参保年度）"
    assert EmployeeCoverage.objects.count() == 0


def test_a_long_error_report_is_cut_with_a_count(monkeypatch):
    from enrollment import batches
    from core.models import BatchRun

    monkeypatch.setattr(batches, "REPORT_LINES", 2)
    rows = [["", NINGBO_MAN, "本地", "无", "", "330200"]] * 4  # 4 empty names, 3 repeated numbers
    batches.record_import("import_residents", lambda: import_residents(csv_bytes(rows), "r.csv"),
                          source="r.csv")
    run = BatchRun.objects.get()
    assert run.report.splitlines() == ["row 2: 姓名: 不能为空", "row 3: 姓名: 不能为空",
                                       "… 另有 5 条错误未列出"]


# --- 登记方式 per row (the family pool's cancellation deadline depends on it) --------------------


def test_registered_via_column_per_row_with_the_imports_default_for_blanks():
    data = csv_bytes([
        ["张三", NINGBO_MAN, "本地", "无", "", "330200", "2025", "网上办理"],
        ["王五", NINGBO_PUPIL, "本地", "无", "中小学生", "330200", "2025", "学校"],
        ["李四", NINGBO_WOMAN, "本地", "无", "", "330200", "2025", ""],
    ], header=[*WITH_YEAR, "登记方式"])
    result = import_residents(data, "a.csv", actor="tester", today=IN_WINDOW)
    assert (result.as_dict()["registered"], result.errors) == (3, [])
    assert dict(Enrollment.objects.values_list("resident__id_number", "registered_via")) == {
        NINGBO_MAN: "online", NINGBO_PUPIL: "school", NINGBO_WOMAN: "community"}


def test_unknown_registered_via_is_a_row_error_and_nothing_is_written():
    data = csv_bytes([
        ["张三", NINGBO_MAN, "本地", "无", "", "330200", "2025", "网上"],
        ["王五", NINGBO_PUPIL, "本地", "无", "中小学生", "330200", "2025", "邮寄"],
    ], header=[*WITH_YEAR, "登记方式"])
    result = import_residents(data, "a.csv", actor="tester", today=IN_WINDOW)
    assert result.rejected
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (3, "登记方式", "应为“学校”“社区”“经办窗口”或“网上”，收到 '邮寄'")]
    assert (Resident.objects.count(), Enrollment.objects.count()) == (0, 0)
