"""The error report as a spreadsheet: rows parsed, formulas neutralised."""

import io

from openpyxl import load_workbook

from config.admin import report_rows, xlsx_response


def test_report_lines_become_rows_and_formulas_stay_text():
    report = "\n".join([
        "row 4: 姓名: 不能为空",
        "row 12: 参保地: 未知地区 =HYPERLINK(\"http://x\")",
        "row 13: 身份证号码: =1+1",
        "… 另有 3 条错误未列出",
    ])
    rows = report_rows(report)
    assert rows == [(4, "姓名", "不能为空"), (12, "参保地", "未知地区 =HYPERLINK(\"http://x\")"),
                    (13, "身份证号码", "=1+1"), ("", "", "… 另有 3 条错误未列出")]
    sheet = load_workbook(io.BytesIO(xlsx_response(rows, "r.xlsx").content)).active
    got = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert got[0] == ["行号", "列", "原因"]
    assert got[3] == [13, "身份证号码", "'=1+1"]  # a formula would run in the caseworker's Excel
    assert got[4] == [None, None, "… 另有 3 条错误未列出"]
