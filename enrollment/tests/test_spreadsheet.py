"""enrollment.spreadsheet: .xlsx and .csv (UTF-8, UTF-8 with BOM, GBK) into numbered rows."""

from datetime import date, datetime

import pytest
from openpyxl import Workbook

from enrollment.spreadsheet import (
    SpreadsheetError,
    decode_csv,
    is_numeric_cell,
    plain,
    read_grid,
    read_table,
)

REQUIRED = ["姓名", "身份证号码", "户籍", "居住证", "学生类别", "参保地"]
OPTIONAL = ["参保年度"]
ZHANG = "330203200001011231"
LI = "11010519491231002X"


def xlsx_bytes(tmp_path, rows, name="residents.xlsx"):
    """Write rows (lists; None = empty cell) to an .xlsx file with openpyxl; return its bytes."""
    wb = Workbook()
    ws = wb.active
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is not None:
                ws.cell(row=r, column=c, value=value)
    path = tmp_path / name
    wb.save(path)
    return path.read_bytes()


CSV_TEXT = (
    "姓名,身份证号码,户籍,居住证,学生类别,参保地\n"
    f"张三,{ZHANG},本地,无,,330200\n"
    f"李四,{LI},外地,有,大学生,330200\n"
)
EXPECTED_ROWS = [
    (2, {"姓名": "张三", "身份证号码": ZHANG, "户籍": "本地", "居住证": "无", "学生类别": "",
         "参保地": "330200"}),
    (3, {"姓名": "李四", "身份证号码": LI, "户籍": "外地", "居住证": "有", "学生类别": "大学生",
         "参保地": "330200"}),
]


# --- CSV encodings --------------------------------------------------------------------------


@pytest.mark.parametrize("encoded", [
    CSV_TEXT.encode("utf-8"),
    b"\xef\xbb\xbf" + CSV_TEXT.encode("utf-8"),
    CSV_TEXT.encode("gbk"),
    CSV_TEXT.replace("\n", "\r\n").encode("gbk"),   # as Excel on Windows saves it
], ids=["utf-8", "utf-8-bom", "gbk", "gbk-crlf"])
def test_csv_encodings_give_the_same_table(encoded):
    table = read_table(encoded, "residents.csv", required=REQUIRED, optional=OPTIONAL)
    assert table.headers == REQUIRED  # 参保年度 is optional and absent
    assert table.rows == EXPECTED_ROWS


def test_decode_csv_strips_the_bom_and_reads_gbk():
    assert decode_csv(b"\xef\xbb\xbf\xe5\xa7\x93\xe5\x90\x8d") == "姓名"
    assert decode_csv("姓名".encode("gbk")) == "姓名"
    assert not decode_csv(b"\xef\xbb\xbfabc").startswith("\ufeff")


def test_tab_separated_csv_is_read():
    data = CSV_TEXT.replace(",", "\t").encode("utf-8")
    assert read_table(data, "residents.csv", required=REQUIRED).rows == EXPECTED_ROWS


def test_csv_cells_are_trimmed_and_full_width_folded():
    data = ("姓名 , 身份证号码,户籍,居住证,学生类别,参保地\n"
            " 张三 ,１１０１０５１９４９１２３１００２Ｘ , 本地 ,无,,３３０２００\n").encode("utf-8")
    table = read_table(data, "a.csv", required=REQUIRED)
    assert table.rows == [(2, {"姓名": "张三", "身份证号码": LI, "户籍": "本地", "居住证": "无",
                               "学生类别": "", "参保地": "330200"})]


def test_headers_in_any_order_with_extra_columns_and_marks():
    data = ("备注,参保地,*身份证号码,学生类别,序号,居住证,户籍,姓 名,参保年度\n"
            f"x,330200,{ZHANG},,1,无,本地,张三,2025\n").encode("utf-8")
    table = read_table(data, "a.csv", required=REQUIRED, optional=OPTIONAL)
    assert table.headers == [*REQUIRED, "参保年度"]
    assert table.rows == [(2, {"姓名": "张三", "身份证号码": ZHANG, "户籍": "本地", "居住证": "无",
                               "学生类别": "", "参保地": "330200", "参保年度": "2025"})]


def test_blank_rows_keep_the_numbering_of_the_spreadsheet():
    data = (
        "姓名,身份证号码,户籍,居住证,学生类别,参保地\n"
        "\n"
        ",,,,,\n"
        f"张三,{ZHANG},本地,无,,330200\n"
        "  ,  ,,,,\n"
        f"李四,{LI},外地,有,大学生,330200\n"
    ).encode("utf-8")
    table = read_table(data, "a.csv", required=REQUIRED)
    assert [n for n, _ in table.rows] == [4, 6]
    assert [v["姓名"] for _, v in table.rows] == ["张三", "李四"]


def test_short_rows_are_padded_with_empty_cells():
    data = f"姓名,身份证号码,户籍,居住证,学生类别,参保地\n张三,{ZHANG},本地\n".encode("utf-8")
    table = read_table(data, "a.csv", required=REQUIRED)
    assert table.rows == [(2, {"姓名": "张三", "身份证号码": ZHANG, "户籍": "本地", "居住证": "",
                               "学生类别": "", "参保地": ""})]


# --- missing / duplicate columns, unreadable files ----------------------------------------


def test_missing_column_is_named():
    data = f"姓名,身份证号码,户籍,学生类别\n张三,{ZHANG},本地,\n".encode("utf-8")
    with pytest.raises(SpreadsheetError) as exc:
        read_table(data, "a.csv", required=REQUIRED)
    assert str(exc.value) == ("缺少列：居住证、参保地（已在第 1–2 行中查找表头，第 1 行最接近；"
                              "表头应含：姓名、身份证号码、户籍、居住证、学生类别、参保地）")


def test_duplicate_header_is_refused():
    data = f"姓名,身份证号码,户籍,居住证,学生类别,参保地,姓名\n张三,{ZHANG},本地,无,,330200,李四\n".encode()
    with pytest.raises(SpreadsheetError) as exc:
        read_table(data, "a.csv", required=REQUIRED)
    assert str(exc.value) == "表头重复：姓名"


def test_empty_file_is_refused():
    with pytest.raises(SpreadsheetError) as exc:
        read_table(b"", "a.csv", required=REQUIRED)
    assert str(exc.value) == "文件为空"


def test_undecodable_csv_is_refused():
    # 0x80 alone and 0xFF are neither UTF-8 nor GB18030/GBK.
    with pytest.raises(SpreadsheetError) as exc:
        read_table(b"\xff\xfe\x80\x80\xff", "a.csv", required=REQUIRED)
    assert str(exc.value) == "CSV 文件编码无法识别：应为 UTF-8 或 GBK"


def test_corrupt_xlsx_is_refused(tmp_path):
    data = xlsx_bytes(tmp_path, [REQUIRED])[:200]  # a truncated zip
    with pytest.raises(SpreadsheetError) as exc:
        read_table(data, "a.xlsx", required=REQUIRED)
    assert str(exc.value).startswith("无法读取 Excel 文件：")


def test_unsupported_file_type_is_refused():
    with pytest.raises(SpreadsheetError) as exc:
        read_grid(b"\xd0\xcf\x11\xe0 old excel", "residents.xls")
    assert str(exc.value) == "不支持的文件类型 residents.xls：请使用 .xlsx 或 .csv"


# --- xlsx ---------------------------------------------------------------------------------


def test_xlsx_with_text_cells(tmp_path):
    data = xlsx_bytes(tmp_path, [
        ["参保地", "姓名", "身份证号码", "户籍", "居住证", "学生类别", "备注"],
        ["330200", " 张三 ", ZHANG, "本地", "无", None, "extra"],
        [None, None, None, None, None, None, None],
        ["330200", "李四", "11010519491231002x", "外地", "有", "大学生", None],
    ])
    table = read_table(data, "residents.xlsx", required=REQUIRED, optional=OPTIONAL)
    assert table.rows == [
        (2, {"姓名": "张三", "身份证号码": ZHANG, "户籍": "本地", "居住证": "无", "学生类别": "",
             "参保地": "330200"}),
        (4, {"姓名": "李四", "身份证号码": "11010519491231002x", "户籍": "外地", "居住证": "有",
             "学生类别": "大学生", "参保地": "330200"}),
    ]


def test_xlsx_blank_rows_in_the_middle_keep_numbering(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(REQUIRED)
    ws.cell(row=6, column=1, value="张三")
    ws.cell(row=6, column=2, value=ZHANG)
    path = tmp_path / "gap.xlsx"
    wb.save(path)
    table = read_table(path.read_bytes(), "gap.xlsx", required=REQUIRED)
    assert [n for n, _ in table.rows] == [6]


def test_xlsx_is_recognised_by_content_without_an_extension(tmp_path):
    data = xlsx_bytes(tmp_path, [REQUIRED, ["张三", ZHANG, "本地", "无", None, "330200"]])
    assert read_grid(data, "") == [REQUIRED, ["张三", ZHANG, "本地", "无", "", "330200"]]


def test_xlsx_id_number_stored_as_a_number_is_marked_numeric(tmp_path):
    # Excel keeps numbers as doubles: an 18-digit number comes back rounded.
    data = xlsx_bytes(tmp_path, [REQUIRED, ["张三", int(ZHANG), "本地", "无", None, 330200]])
    table = read_table(data, "a.xlsx", required=REQUIRED)
    (number, values), = table.rows
    assert number == 2
    assert is_numeric_cell(values["身份证号码"])
    assert plain(values["身份证号码"]) == "330203200001011200"  # the last digits are lost
    assert plain(values["身份证号码"]) != ZHANG
    # a numeric region code or year is harmless: plain() gives the digits
    assert is_numeric_cell(values["参保地"]) and plain(values["参保地"]) == "330200"


def test_xlsx_numbers_are_never_floats_in_the_text(tmp_path):
    data = xlsx_bytes(tmp_path, [["a", "b", "c", "d"], [2025.0, 172.8, 330200.0, 7]])
    grid = read_grid(data, "n.xlsx")
    assert [plain(v) for v in grid[1]] == ["2025", "172.8", "330200", "7"]
    assert all(is_numeric_cell(v) for v in grid[1])


def test_xlsx_dates_and_booleans_become_text(tmp_path):
    data = xlsx_bytes(tmp_path, [["a", "b", "c"], [datetime(2025, 3, 1, 0, 0), date(2024, 12, 31), True]])
    assert read_grid(data, "d.xlsx")[1] == ["2025-03-01", "2024-12-31", "是"]


def test_xlsx_date_time_cells_keep_their_time_of_day(tmp_path):
    data = xlsx_bytes(tmp_path, [["a", "b"], [datetime(2025, 11, 10, 10, 30), datetime(2025, 11, 10, 23, 59, 59)]])
    assert read_grid(data, "t.xlsx")[1] == ["2025-11-10 10:30:00", "2025-11-10 23:59:59"]


def test_date_columns_ignore_a_time_of_day():
    from enrollment.imports.common import parse_date

    assert parse_date("2025-06-30 08:15:00") == parse_date("2025/6/30") == date(2025, 6, 30)
    with pytest.raises(ValueError):
        parse_date("2025-06-30 8")


def test_xlsx_only_the_first_sheet_is_read(tmp_path):
    wb = Workbook()
    wb.active.append(["姓名"])
    wb.active.append(["张三"])
    other = wb.create_sheet("说明")
    other.append(["这一页不读"])
    path = tmp_path / "two.xlsx"
    wb.save(path)
    assert read_grid(path.read_bytes(), "two.xlsx") == [["姓名"], ["张三"]]


# --- the header row is found below titles, merged cells and notes (INTERFACES.md section 4) --

TITLE = "2026年度城乡居民基本医疗保险参保人员名单"
NOTE = "填报单位：海曙区医保分中心　　填报日期：2026年11月1日"


def test_xlsx_header_below_a_merged_title_and_a_note(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws["A1"] = TITLE
    ws.merge_cells("A1:G1")            # the title spans the columns of the table
    ws["A2"] = NOTE
    ws.merge_cells("A2:D2")
    ws["F2"] = "单位：人"
    for c, name in enumerate(["序号", *REQUIRED], start=1):
        ws.cell(row=3, column=c, value=name)
    ws.append([1, "张三", ZHANG, "本地", "无", None, "330200"])            # row 4
    ws.append([None] * 7)                                                 # row 5: blank
    ws.append([2, "李四", LI, "外地", "有", "大学生", "330200"])           # row 6
    path = tmp_path / "titled.xlsx"
    wb.save(path)
    table = read_table(path.read_bytes(), "titled.xlsx", required=REQUIRED, optional=OPTIONAL)
    assert table.headers == REQUIRED
    assert table.rows == [(4, EXPECTED_ROWS[0][1]), (6, EXPECTED_ROWS[1][1])]


def test_gbk_csv_with_two_title_lines():
    text = (
        f"{TITLE}\r\n"                              # a title line without any separator
        f"{NOTE},,,,,\r\n"                          # a note line as Excel saves a merged cell
        "姓名,身份证号码,户籍,居住证,学生类别,参保地\r\n"
        f"张三,{ZHANG},本地,无,,330200\r\n"
        ",,,,,\r\n"
        f"李四,{LI},外地,有,大学生,330200\r\n"
    )
    table = read_table(text.encode("gbk"), "名单.csv", required=REQUIRED, optional=OPTIONAL)
    assert table.headers == REQUIRED
    assert table.rows == [(4, EXPECTED_ROWS[0][1]), (6, EXPECTED_ROWS[1][1])]


def test_tab_separated_csv_with_a_title_line_holding_commas():
    text = ("说明：张三, 李四, 王五 三人为新增\n"
            + "\t".join(REQUIRED) + "\n"
            + "\t".join(["张三", ZHANG, "本地", "无", "", "330200"]) + "\n")
    table = read_table(text.encode("utf-8"), "a.csv", required=REQUIRED)
    assert table.rows == [(3, EXPECTED_ROWS[0][1])]


def test_header_cells_with_line_breaks_and_required_markers(tmp_path):
    header = ["姓名*", "身份证\n号码", "＊户籍", "居住证（必填）", "学生\r\n类别(选填)", "参保地 *（必填）",
              "参保\n年度"]
    data = xlsx_bytes(tmp_path, [
        ["居民参保名单（带*为必填项）"],
        header,
        ["张三", ZHANG, "本地", "无", None, "330200", "2026"],
    ])
    table = read_table(data, "marked.xlsx", required=REQUIRED, optional=OPTIONAL)
    assert table.headers == [*REQUIRED, "参保年度"]
    assert table.rows == [(3, {**EXPECTED_ROWS[0][1], "参保年度": "2026"})]
    # the same header in a CSV, where a line break sits inside a quoted cell
    csv_text = ('"居民参保名单"\n'
                + ",".join(f'"{h}"' for h in header) + "\n"
                + f"张三,{ZHANG},本地,无,,330200,2026\n")
    table = read_table(csv_text.encode("utf-8-sig"), "marked.csv", required=REQUIRED, optional=OPTIONAL)
    assert table.rows == [(3, {**EXPECTED_ROWS[0][1], "参保年度": "2026"})]


def test_a_note_naming_header_words_is_not_the_header(tmp_path):
    data = xlsx_bytes(tmp_path, [
        ["填表说明：身份证号码填写18位，户籍填写本地或外地"],
        ["联系人", "姓名", "王老师", "电话", "0574-88888888"],     # holds the header word 姓名
        [None, "身份证号码", "参保地"],                           # and this one two more
        REQUIRED,
        ["张三", ZHANG, "本地", "无", None, "330200"],
    ])
    table = read_table(data, "notes.xlsx", required=REQUIRED)
    assert table.rows == [(5, EXPECTED_ROWS[0][1])]


def test_the_first_row_holding_every_required_column_is_the_header():
    text = ("姓名,身份证号码,户籍,居住证,学生类别,参保地\n"
            f"张三,{ZHANG},本地,无,,330200\n"
            "姓名,身份证号码,户籍,居住证,学生类别,参保地\n")   # a repeated header is a bad data row
    table = read_table(text.encode(), "a.csv", required=REQUIRED)
    assert [n for n, _ in table.rows] == [2, 3]
    assert table.rows[1][1]["身份证号码"] == "身份证号码"


def test_no_header_in_the_searched_rows_names_the_missing_columns_and_the_rows(tmp_path):
    data = xlsx_bytes(tmp_path, [
        [TITLE],
        ["姓名", "身份证号码", "户籍", "学生类别"],
        ["张三", ZHANG, "本地", None],
    ])
    with pytest.raises(SpreadsheetError) as exc:
        read_table(data, "a.xlsx", required=REQUIRED)
    assert str(exc.value) == ("缺少列：居住证、参保地（已在第 1–3 行中查找表头，第 2 行最接近；"
                              "表头应含：姓名、身份证号码、户籍、居住证、学生类别、参保地）")


def test_only_the_first_twenty_rows_are_searched_for_the_header():
    lines = [f"说明第{i}行" for i in range(1, 21)] + [",".join(REQUIRED), f"张三,{ZHANG},本地,无,,330200"]
    with pytest.raises(SpreadsheetError) as exc:
        read_table("\n".join(lines).encode(), "a.csv", required=REQUIRED)
    assert str(exc.value) == ("缺少列：姓名、身份证号码、户籍、居住证、学生类别、参保地（已在第 1–20 行中查找表头，"
                              "没有一行含有这些列；表头应含：姓名、身份证号码、户籍、居住证、学生类别、参保地）")
    # the header at row 20 is still found
    table = read_table("\n".join(lines[1:]).encode(), "a.csv", required=REQUIRED)
    assert table.rows == [(21, EXPECTED_ROWS[0][1])]


def test_a_duplicate_in_the_found_header_is_refused(tmp_path):
    data = xlsx_bytes(tmp_path, [[TITLE], [*REQUIRED, "姓 名"], ["张三", ZHANG, "本地", "无", None, "330200", "x"]])
    with pytest.raises(SpreadsheetError) as exc:
        read_table(data, "a.xlsx", required=REQUIRED)
    assert str(exc.value) == "表头重复：姓名"


@pytest.mark.django_db
@pytest.mark.usefixtures("policies")
def test_import_reports_spreadsheet_row_numbers_below_a_title(tmp_path):
    from enrollment.imports import import_residents
    from enrollment.models import Resident

    wb = Workbook()
    ws = wb.active
    ws["A1"] = TITLE
    ws.merge_cells("A1:F1")
    ws["A2"] = NOTE
    ws.append(REQUIRED)                                                  # row 3
    ws.append(["张三", ZHANG, "本地", "无", None, "330200"])             # row 4
    ws.append([None] * 6)                                                # row 5
    ws.append(["李四", LI, "外地", "有", "大学生", "999999"])            # row 6
    ws.append(["", ZHANG[:17] + "9", "本地", "无", None, "330200"])      # row 7
    path = tmp_path / "bad.xlsx"
    wb.save(path)
    result = import_residents(path.read_bytes(), "bad.xlsx", actor="tester", today=date(2026, 11, 15))
    assert [str(e) for e in result.errors] == [
        "row 6: 参保地: 未知地区 999999",
        "row 7: 姓名: 不能为空",
        "row 7: 身份证号码: 身份证号码校验位不正确",
    ]
    assert result.rejected and result.total_rows == 3
    assert Resident.objects.count() == 0
