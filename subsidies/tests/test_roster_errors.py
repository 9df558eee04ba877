"""import_roster: every kind of faulty file and row gives ``row N: column: reason`` (or a
file error) and writes nothing; every name of an identity the sources use is read."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest

from enrollment.spreadsheet import SpreadsheetError
from enrollment.tests.support import number, person
from subsidies.models import AssistanceIdentity, RosterChange, RosterImport
from subsidies.roster import RosterFileError, import_roster

from .test_roster import HEADER, NOV, roster, run

pytestmark = pytest.mark.usefixtures("policies")


def nothing_written():
    return (AssistanceIdentity.objects.count(), RosterImport.objects.count(), RosterChange.objects.count()) == (0, 0, 0)


def errors_of(result) -> list[str]:
    return [str(e) for e in result.errors]


@pytest.mark.parametrize("name, code", [
    ("特困人员", "tekun"), ("特困供养人员", "tekun"), ("特困供养对象", "tekun"), ("tekun", "tekun"),
    ("特困人員（含孤兒和事實無人撫養兒童）", "tekun"),
    ("孤儿", "orphan"), ("事实无人抚养儿童", "de_facto_orphan"),
    ("低保对象", "dibao"), ("最低生活保障家庭成员", "dibao"), ("低保", "dibao"), ("低保對象", "dibao"),
    ("低保对象（含困境儿童）", "dibao"), ("dibao", "dibao"),
    ("防止返贫监测对象", "monitored"), ("监测对象", "monitored"), ("監測對象", "monitored"),
    ("脱贫不稳定人口", "monitored"), ("边缘易致贫户", "monitored"), ("突发严重困难户", "monitored"),
    ("返贫致贫人口", "returned_poverty"), ("返貧致貧人口", "returned_poverty"),
])
def test_every_name_of_a_civil_affairs_or_rural_identity_is_read(name, code):
    dept = "乡村振兴发展中心" if code in ("monitored", "returned_poverty") else "民政局"
    result = run([["王五", number("141102", "19700101", "011"), name, dept, "2025-06-01"]])
    assert errors_of(result) == []
    assert AssistanceIdentity.objects.get().identity == code


@pytest.mark.parametrize("name", ["持第二代残疾人证", "持第二代残疾人证人员", "持二代残疾证", "二代残疾证",
                                  "残疾人", "disabled_certified"])
def test_every_name_of_the_disability_certificate_is_read(name):
    result = run([["王五", number("141102", "19700101", "011"), name, "吕梁市残疾人联合会", "2025-06-01"]])
    assert errors_of(result) == []
    assert AssistanceIdentity.objects.get().identity == "disabled_certified"


@pytest.mark.parametrize("name, code, dept", [
    ("市属改制企业职工", "restructured_soe", "工科局（改制办）"),
    ("市屬改制企業職工", "restructured_soe", "改制办"),
    ("优抚对象", "entitled", "退役军人事务局"),
])
def test_restructured_workers_and_entitled_groups_are_read(name, code, dept):
    result = run([["王五", number("141102", "19700101", "011"), name, dept, "2025-06-01"]])
    assert errors_of(result) == []
    assert AssistanceIdentity.objects.get().identity == code


NUM = number("141102", "19700101", "011")


@pytest.mark.parametrize("row, expected", [
    (["王五", NUM[:-1] + ("0" if NUM[-1] != "0" else "1"), "低保", "民政局", "2025-06-01"], "row 2: 身份证号码: 身份证号码校验位不正确"),
    (["王五", "141102700101011", "低保", "民政局", "2025-06-01"], "row 2: 身份证号码: "),
    (["王五", "", "低保", "民政局", "2025-06-01"], "row 2: 身份证号码: "),
    (["王五", NUM, "贫困户", "民政局", "2025-06-01"], "row 2: 困难类别: 无法识别的困难类别 '贫困户'"),
    (["王五", NUM, "", "民政局", "2025-06-01"], "row 2: 困难类别: 不能为空"),
    (["王五", NUM, "低保", "乡村振兴局", "2025-06-01"], "row 2: 认定部门: “低保对象”由民政部门认定（吕梁市政策），收到 '乡村振兴局'"),
    (["王五", NUM, "低保", "教育局", "2025-06-01"], "row 2: 认定部门: 无法识别的认定部门 '教育局'"),
    (["王五", NUM, "低保", "", "2025-06-01"], "row 2: 认定部门: 不能为空"),
    (["王五", NUM, "低保", "民政局", "2025-13-01"], "row 2: 认定日期: "),
    (["王五", NUM, "低保", "民政局", "明天"], "row 2: 认定日期: 应为 YYYY-MM-DD 日期，收到 '明天'"),
    (["王五", NUM, "低保", "民政局", ""], "row 2: 认定日期: 不能为空"),
    (["王五", NUM, "低保", "民政局", "2025-12-01"], "row 2: 认定日期: 应在 1950-01-01 至 2025-11-10 之间"),
    (["王五", NUM, "持二代残疾证", "残联", "2025-11-01"], None),  # held by 2025-11-30: fine
    (["", NUM, "低保", "民政局", "2025-06-01"], "row 2: 姓名: 不能为空"),
    (["王五", NUM, "艾滋病病毒感染儿童", "卫健委", "2025-06-01"],
     "row 2: 困难类别: 吕梁市 2026 年度政策没有“艾滋病病毒感染儿童”的资助或参保规定"),
])
def test_each_faulty_row_is_reported_and_nothing_is_written(row, expected):
    result = run([row])
    if expected is None:
        assert errors_of(result) == []
        return
    assert result.rejected and any(e.startswith(expected) for e in errors_of(result)), errors_of(result)
    assert nothing_written()


def test_an_impossible_birth_date_in_the_number():
    from enrollment.idnumbers import make_number

    bad = make_number("14110219800230011")  # 30 February
    result = run([["王五", bad, "低保", "民政局", "2025-06-01"]])
    assert [str(e).split(":")[0:2] for e in result.errors] == [["row 2", " 身份证号码"]]
    assert nothing_written()


def test_the_certificate_cut_off_is_enforced():
    later = date(2025, 12, 10)
    result = run([["王五", NUM, "持二代残疾证", "残联", "2025-12-01"]], today=later)
    assert errors_of(result) == ["row 2: 认定日期: “持第二代残疾人证人员”须在 2025-11-30 前取得认定（持证），"
                                 "认定日期为 2025-12-01，不能享受 2026 年度资助"]
    assert nothing_written()


def test_a_duplicate_row_and_a_name_that_disagrees_are_reported_and_skip_invalid_keeps_the_good():
    li = person("141102", "19800501", name="李四")
    other = number("141102", "19650101", "041")
    rows = [["李四", li.id_number, "低保", "民政局", "2025-06-01"],
            ["李四", li.id_number, "最低生活保障家庭成员", "民政局", "2025-06-02"],
            ["李三", li.id_number, "特困人员", "民政局", "2025-06-01"],
            ["赵六", other, "低保", "民政局", "2025-06-01"]]
    result = run(rows)
    assert errors_of(result) == ["row 3: 身份证号码: 与第 2 行重复（同一人同一困难类别）",
                                 "row 4: 姓名: 与参保登记的姓名不一致，请核对姓名和身份证号码"]
    assert result.rejected and nothing_written()
    kept = run(rows, skip_invalid=True)
    assert (kept.rejected, kept.new, kept.as_dict()["invalid_rows"]) == (False, 2, 2)
    assert sorted(AssistanceIdentity.objects.values_list("id_number", "identity")) == sorted(
        [(li.id_number, "dibao"), (other, "dibao")])


def test_spaces_full_width_digits_and_lower_case_x_are_normalised():
    from enrollment.idnumbers import make_number

    with_x = next(n for n in (make_number(f"14110219800501{i:03d}") for i in range(1, 999)) if n.endswith("X"))
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in NUM)
    result = run([["王五", f"  {wide} ", "低保", " 民政局 ", " 2025-06-01 "],
                  ["赵六", with_x.lower(), "低保", "民政局", "2025/6/1"]])
    assert errors_of(result) == []
    assert sorted(AssistanceIdentity.objects.values_list("id_number", flat=True)) == sorted([NUM, with_x])


def test_gbk_title_rows_and_extra_columns():
    data = ("吕梁市2026年度低保对象资助参保名单\n制表单位：民政局,,,,,\n序号," + ",".join(HEADER) + ",备注\n"
            f"1,王五,{NUM},低保对象,民政局,2025-06-01,无\n").encode("gbk")
    result = import_roster(data, "低保名单.csv", region="141100", year=2026, today=NOV, actor="test")
    assert errors_of(result) == [] and result.new == 1
    assert AssistanceIdentity.objects.get().id_number == NUM


def xlsx(rows, *, title=None, first_sheet=None) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    if first_sheet is not None:
        ws.title = first_sheet
        ws.append(["填表说明：请按模板填写"])
        ws = wb.create_sheet("名单")
    if title:
        ws.append([title])
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_xlsx_with_a_cover_sheet_first_is_read_from_the_sheet_that_holds_the_header():
    data = xlsx([["王五", NUM, "低保", "民政局", "2025-06-01"]], first_sheet="说明", title="2026年低保名单")
    result = import_roster(data, "名单.xlsx", region="141100", year=2026, today=NOV, actor="test")
    assert errors_of(result) == [] and result.new == 1


def test_a_workbook_without_the_header_on_any_sheet_is_a_clear_file_error():
    wb = openpyxl.Workbook()
    wb.active.append(["姓名", "身份证号码"])
    wb.create_sheet("其他").append(["备注"])
    out = io.BytesIO()
    wb.save(out)
    with pytest.raises(SpreadsheetError, match="缺少列：困难类别、认定部门、认定日期.*已查找全部 2 个工作表"):
        import_roster(out.getvalue(), "名单.xlsx", region="141100", year=2026, today=NOV, actor="test")
    assert nothing_written()


def test_an_id_number_saved_as_an_excel_number_and_a_formula_cell():
    data = xlsx([["王五", 1.41102197001010e17, "低保", "民政局", "2025-06-01"],
                 ["赵六", '=CONCATENATE("141102","19650101","0412")', "低保", "民政局", "2025-06-01"]])
    result = import_roster(data, "名单.xlsx", region="141100", year=2026, today=NOV, actor="test")
    messages = errors_of(result)
    assert messages[0] == ("row 2: 身份证号码: 单元格为数字格式，18 位号码已丢失精度；请将该列设为文本后重新导出")
    assert messages[1].startswith("row 3: 身份证号码: 单元格为公式且文件未保存计算结果")
    assert nothing_written()


@pytest.mark.parametrize("data, match", [
    (b"", "文件为空"),
    (roster([]), "名单只有表头，没有数据行"),
    ("姓名,身份证号码,困难类别\n王五,1,低保\n".encode(), "缺少列：认定部门、认定日期"),
])
def test_empty_header_only_and_missing_columns_are_file_errors(data, match):
    with pytest.raises(SpreadsheetError, match=match):
        import_roster(data, "名单.csv", region="141100", year=2026, today=NOV, actor="test")
    assert nothing_written()


@pytest.mark.parametrize("region, year, match", [
    ("999999", 2026, "未知地区 '999999'"),
    ("14110", 2026, "未知地区"),
    ("141100", 2031, "吕梁市 2031 年度没有已发布的政策"),
])
def test_an_unknown_region_or_a_year_without_policy_is_a_file_error(region, year, match):
    with pytest.raises(RosterFileError, match=match):
        import_roster(roster([["王五", NUM, "低保", "民政局", "2025-06-01"]]), "名单.csv", region=region,
                      year=year, today=NOV, actor="test")
    assert nothing_written()


def test_a_caseworker_may_only_import_for_their_own_regions():
    from enrollment.tests.support import caseworker

    ningbo = caseworker("cw330", "330200")
    with pytest.raises(RosterFileError, match="不在您的经办地区内"):
        import_roster(roster([["王五", NUM, "低保", "民政局", "2025-06-01"]]), "名单.csv", region="141100",
                      year=2026, today=NOV, actor=ningbo, user=ningbo)
    assert nothing_written()
