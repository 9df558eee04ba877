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
    assert str(exc.value) == ("缺少列：居住证、参保地（第 1 行应为表头：姓名、身份证号码、户籍、居住证、"
                              "学生类别、参保地）")


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


def test_xlsx_only_the_first_sheet_is_read(tmp_path):
    wb = Workbook()
    wb.active.append(["姓名"])
    wb.active.append(["张三"])
    other = wb.create_sheet("说明")
    other.append(["这一页不读"])
    path = tmp_path / "two.xlsx"
    wb.save(path)
    assert read_grid(path.read_bytes(), "two.xlsx") == [["姓名"], ["张三"]]
